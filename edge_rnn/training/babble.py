"""Speech babble: many overlapping talkers saying words that are no keyword.

The words are spoken by espeak-ng (a program: `apt-get install espeak-ng`) in random voices.
Evaluation and training use disjoint word lists and seeds, so no synthesised word or voice of the
evaluation is heard in training. None of the words is a digit or rhymes with one.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from edge_rnn.runtime.errors import UserError

from .noise import unit_rms

EVAL_WORDS = ["hello", "yes", "no", "stop", "go", "left", "right", "up", "down", "house", "bird", "happy",
              "marvin", "sheila", "dog", "cat", "bed", "wow", "learn", "backward", "visual", "music", "water",
              "light", "phone", "window", "table", "orange", "paper", "little", "morning", "open", "close",
              "please", "thanks", "maybe", "later", "again", "yellow", "garden", "bottle", "kitchen", "weather",
              "market", "people", "children", "answer", "coffee", "station", "pocket", "summer", "blanket",
              "problem", "doctor", "number", "really", "about", "because", "should", "picture"]
TRAIN_WORDS = ["apple", "banana", "river", "mountain", "silver", "pencil", "rabbit", "tiger", "bread", "cheese",
               "chair", "carpet", "flower", "glass", "honey", "island", "jacket", "ladder", "lemon", "mirror",
               "needle", "ocean", "pepper", "pillow", "rocket", "saddle", "shadow", "spider", "sugar", "thunder",
               "tunnel", "velvet", "wagon", "whistle", "yogurt", "zebra", "basket", "candle", "dinner", "engine",
               "forest", "guitar", "hammer", "kettle", "magnet", "napkin", "parrot", "puzzle", "salad", "turtle",
               "valley", "wallet", "button", "camera", "purple", "monkey", "castle", "bucket", "cookie", "danger",
               "hurry", "listen", "come here", "thank you", "good luck", "all right", "how are you", "over there",
               "look at this", "just a moment", "be careful", "let me see", "not today", "of course", "why not"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3",
            "adam", "Alex", "Andy", "benjamin", "caleb", "david", "ed", "edward", "john", "max", "michel",
            "norbert", "paul", "quincy", "rob", "robert", "travis", "victor", "zac", "Alicia", "Annie", "linda",
            "steph", "aunty", "belinda"]
ESPEAK_MISSING = "babble is spoken by espeak-ng, which is not installed: apt-get install espeak-ng"


def espeak() -> str:
    """The espeak-ng program, or a UserError saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserError(ESPEAK_MISSING)
    return exe


def trim(audio: np.ndarray, rate: int, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing 10 ms frames more than 40 dB below the loudest, keeping 20 ms."""
    hop = rate // 100
    frames = audio[: audio.size // hop * hop].reshape(-1, hop)
    if frames.size == 0:
        return audio
    energy = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy > energy.max() + floor_db)
    return audio[max(0, (loud[0] - 2) * hop) : min(audio.size, (loud[-1] + 3) * hop)]


def speak(text: str, voice: str, pitch: int, speed: int, rate: int, exe: str) -> np.ndarray:
    """espeak-ng saying `text`: float32 at `rate`, silence trimmed."""
    from edge_rnn.runtime.audio import parse_wav, to_mono_at

    out = subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", text],
                         capture_output=True, timeout=30, check=True).stdout
    samples, source_rate = parse_wav(out, f"espeak-ng output ({voice})")
    return trim(to_mono_at(samples, source_rate, rate), rate).astype(np.float32)


def spoken_words(words: list[str], rate: int, voices: int, words_per_voice: int,
                 seed: int | list[int]) -> list[np.ndarray]:
    """`voices` random espeak-ng voices (accent, variant, pitch 20-79, 130-219 words a minute),
    each saying `words_per_voice` of `words` (a random choice)."""
    return [audio for _, audio in spoken(words, rate, voices, words_per_voice, seed)]


def spoken(words: list[str], rate: int, voices: int, words_per_voice: int,
           seed: int | list[int]) -> list[tuple[str, np.ndarray]]:
    """(word, audio) of spoken_words: each word with what was said."""
    exe = espeak()
    rng = np.random.default_rng(seed)
    jobs = []
    for _ in range(voices):
        voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{VARIANTS[rng.integers(len(VARIANTS))]}"
        pitch, speed = int(rng.integers(20, 80)), int(rng.integers(130, 220))
        jobs += [(str(w), voice, pitch, speed) for w in rng.choice(words, min(words_per_voice, len(words)), replace=False)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        out = list(pool.map(lambda job: speak(*job, rate=rate, exe=exe), jobs))
    return [(job[0], w) for job, w in zip(jobs, out) if w.size > rate // 20]


def babble(n: int, words: list[np.ndarray], rng: np.random.Generator, talkers: tuple[int, int] = (4, 8),
           speed: tuple[float, float] = (0.9, 1.12), gap_s: tuple[float, float] = (0.03, 0.35),
           rate: int = 8000) -> np.ndarray:
    """Many people talking at once: `talkers` (inclusive range) tracks, each a random sequence of
    `words` (each at unit RMS, played `speed` times faster, `gap_s` apart), at levels within +-3 dB
    of each other; unit RMS over the whole."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(talkers[0], talkers[1] + 1))):
        track = np.zeros(n)
        pos = -int(rng.integers(0, rate // 2))  # the first word may have started before
        while pos < n:
            w = words[int(rng.integers(len(words)))]
            m = max(2, int(round(w.size / rng.uniform(*speed))))
            w = unit_rms(np.interp(np.linspace(0, w.size - 1, m), np.arange(w.size), w))
            a, b = max(0, pos), min(n, pos + m)
            if b > a:
                track[a:b] += w[a - pos : b - pos]
            pos += m + int(rng.uniform(*gap_s) * rate)
        out += track * 10 ** (rng.uniform(-3, 3) / 20)
    return unit_rms(out)
