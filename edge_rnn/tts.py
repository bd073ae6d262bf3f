"""Extra training voices from a speech synthesiser (espeak-ng).

Five recorded speakers are few for a spotter that must work on voices it never heard. espeak-ng
speaks English in several accents (American, British, Scottish, Caribbean, ...) and, through its
voice variants, with many vocal tracts; with random pitch and rate each synthetic "speaker" adds
variety that the recordings lack. The synthetic words are only mixed into training clips, at a
share the caller chooses; validation and evaluation use recordings only.

espeak-ng is a command-line program (`apt install espeak-ng`, `brew install espeak-ng`); it is
needed only when training asks for synthetic voices.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from edge_rnn.kws_data import Utterance
from edge_rnn.progress import Progress
from edge_rnn.runtime.audio import parse_wav, to_mono_at
from edge_rnn.runtime.errors import UserError

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc"]
# human-sounding variants only (no robots, whispers or effects)
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "adam", "Alex", "Andy", "benjamin", "caleb", "david", "ed", "edward", "john",
            "max", "michel", "norbert", "paul", "quincy", "rob", "robert", "travis", "victor", "zac",
            "Alicia", "Annie", "linda", "steph", "aunty", "belinda"]
# everyday words that are not digits and do not sound like one: the synthetic "unknown" speech
FILLERS = ["hello", "yes", "no", "stop", "go", "left", "right", "up", "down", "house", "bird", "happy",
           "marvin", "sheila", "dog", "cat", "bed", "wow", "learn", "backward", "visual", "music", "water",
           "light", "phone", "window", "table", "orange", "paper", "little", "morning", "open", "close",
           "please", "thanks", "maybe", "later", "again", "yellow", "garden", "bottle", "kitchen"]


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise UserError("synthetic voices need the espeak-ng program (apt install espeak-ng); "
                        "it was not found on PATH")
    return path


def trim(audio: np.ndarray, rate: int, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading and trailing silence (frames 40 dB below the loudest), keeping 20 ms each side."""
    hop = rate // 100
    frames = audio[: audio.size // hop * hop].reshape(-1, hop)
    if frames.size == 0:
        return audio
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy > energy.max() + floor_db)
    start, end = max(0, (loud[0] - 2) * hop), min(audio.size, (loud[-1] + 3) * hop)
    return audio[start:end]


def synthesize(word: str, voice: str, pitch: int, speed: int, rate: int, exe: str) -> np.ndarray:
    """One word as float32 at `rate`, silence trimmed."""
    try:
        out = subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", word],
                             capture_output=True, timeout=30, check=True).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        raise UserError(f"espeak-ng failed for voice {voice!r}: {e}") from None
    samples, source_rate = parse_wav(out, f"espeak-ng output ({voice})")
    return trim(to_mono_at(samples, source_rate, rate), rate)


def synthetic_voices(words: list[str], count: int, rate: int, seed: int, quiet: bool = True) -> list[Utterance]:
    """`count` random synthetic speakers (accent, variant, pitch, rate), each saying every word."""
    exe = espeak_path()
    rng = np.random.default_rng(seed)
    out = []
    bar = Progress(count, "synthetic voices", enabled=not quiet)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # one espeak-ng process a word
        for i in range(count):
            voice = f"{ACCENTS[rng.integers(len(ACCENTS))]}+{VARIANTS[rng.integers(len(VARIANTS))]}"
            pitch, speed = int(rng.integers(15, 86)), int(rng.integers(120, 231))
            spoken = pool.map(partial(synthesize, voice=voice, pitch=pitch, speed=speed, rate=rate, exe=exe), words)
            for word, audio in zip(words, spoken):
                out.append(Utterance(word, f"tts-{i}:{voice}:p{pitch}:s{speed}", i, audio.astype(np.float32)))
            bar.update()
    bar.close()
    return out
