"""Keyword-spotting data: labelled utterances from a folder of WAVs, and synthetic training
streams built from them with noise, gaps and augmentation.

File names follow the Free Spoken Digit Dataset: `{word}_{speaker}_{index}.wav`, where a
digit word may be written as the digit (`7`) or the word (`seven`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.errors import UserError

BACKGROUND, UNKNOWN = "_background_", "_unknown_"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
IGNORE = -100  # frames whose label is ambiguous (the start of a word) carry no loss
_NAME = re.compile(r"^([^_]+)_([^_]+)_(\d+)$")


@dataclass
class Utterance:
    word: str
    speaker: str
    index: int
    audio: np.ndarray  # mono float32 at the model's rate


def word_of(token: str) -> str:
    return DIGITS[int(token)] if token.isdigit() and int(token) < 10 else token.lower()


def load_utterances(folder: str | Path, sample_rate: int, speakers: list[str] | None = None) -> list[Utterance]:
    """Every `{word}_{speaker}_{index}.wav` in `folder`, read at `sample_rate`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder}")
    out = []
    for path in sorted(folder.glob("*.wav")):
        m = _NAME.match(path.stem)
        if not m or (speakers and m.group(2) not in speakers):
            continue
        out.append(Utterance(word_of(m.group(1)), m.group(2), int(m.group(3)), read_wav(path, sample_rate)))
    if not out:
        raise UserError(f"no WAV files named WORD_SPEAKER_INDEX.wav in {folder}"
                        + (f" for speakers {', '.join(speakers)}" if speakers else ""))
    return out


def parse_keywords(text: str) -> list[str]:
    words = [word_of(w.strip()) for w in text.split(",") if w.strip()]
    if not words or len(set(words)) != len(words):
        raise UserError(f"--keywords needs distinct comma-separated words, got {text!r}")
    return words


def make_labels(keywords: list[str]) -> list[str]:
    return [BACKGROUND, UNKNOWN] + list(keywords)


# --- noise -------------------------------------------------------------------------------

def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f^2) or blue (f) by spectral shaping."""
    white = rng.standard_normal(n)
    if colour != "white":
        spec = np.fft.rfft(white)
        f = np.maximum(np.arange(spec.size), 1.0)
        power = {"pink": -1.0, "brown": -2.0, "blue": 1.0}[colour]
        white = np.fft.irfft(spec * f ** (power / 2), n)
    return (white / (np.sqrt(np.mean(white ** 2)) + 1e-12)).astype(np.float32)


def background(n: int, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """About unit RMS: noise of a random colour, a mains hum with noise, or near-silence."""
    kind = rng.choice(["silence", "white", "pink", "brown", "blue", "hum"], p=[0.15, 0.2, 0.25, 0.2, 0.1, 0.1])
    if kind == "silence":
        return (rng.standard_normal(n) * 0.01).astype(np.float32)
    if kind == "hum":
        t = np.arange(n) / rate
        hum = np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t) + 0.3 * np.sin(2 * np.pi * rng.choice([100.0, 120.0]) * t)
        return (hum / 0.74 + 0.3 * coloured_noise(n, "pink", rng)).astype(np.float32)
    return coloured_noise(n, kind, rng)


def background_track(n: int, level: float, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """Background that changes: 1-3 stretches of different noise at levels around `level`, joined
    abruptly, and sometimes a short burst (a knock, a rustle). None of it is speech, so a
    detector must not fire on a change of noise alone."""
    cuts = np.sort(rng.integers(0, n, int(rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2]))))
    bounds = [0, *cuts.tolist(), n]
    out = np.zeros(n, np.float32)
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b > a:
            out[a:b] = background(b - a, rng, rate) * level * 10 ** (rng.uniform(-20, 20) / 20)
    if rng.random() < 0.3:
        size = int(rng.uniform(0.02, 0.3) * rate)
        at = int(rng.integers(0, max(1, n - size)))
        burst = coloured_noise(size, str(rng.choice(["white", "pink", "brown"])), rng)
        out[at : at + size] += burst[: n - at] * np.hanning(size)[: n - at] * level * 10 ** (rng.uniform(0, 25) / 20)
    return out


# --- augmentation ------------------------------------------------------------------------

def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Resample by linear interpolation: factor > 1 is faster and higher."""
    n = max(2, int(round(audio.size / factor)))
    return np.interp(np.linspace(0, audio.size - 1, n), np.arange(audio.size), audio).astype(np.float32)


def time_stretch(audio: np.ndarray, rate: float, n_fft: int = 256, hop: int = 64) -> np.ndarray:
    """Phase vocoder: the same word `rate` times faster (duration / rate) at the same pitch and
    formants. Magnitudes are interpolated between analysis frames; each bin's phase advances by
    its measured instantaneous frequency, so partials stay continuous."""
    window = np.hanning(n_fft + 1)[:-1]
    padded = np.concatenate([np.zeros(n_fft // 2), audio.astype(np.float64), np.zeros(n_fft)])
    n = 1 + (padded.size - n_fft) // hop
    spec = np.fft.rfft(padded[np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]] * window, axis=1)
    steps = np.arange(0, n - 1, rate)
    steps = steps[steps < n - 1]  # float steps can overshoot the last frame pair
    i, frac = steps.astype(int), (steps - steps.astype(int))[:, None]
    magnitude = (1 - frac) * np.abs(spec[i]) + frac * np.abs(spec[i + 1])
    expected = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    deviation = np.angle(spec[i + 1]) - np.angle(spec[i]) - expected
    deviation -= 2 * np.pi * np.round(deviation / (2 * np.pi))
    advance = np.cumsum(expected + deviation, axis=0)
    phase = np.angle(spec[0]) + np.concatenate([np.zeros((1, spec.shape[1])), advance[:-1]])
    frames = np.fft.irfft(magnitude * np.exp(1j * phase), n_fft, axis=1) * window
    out = np.zeros(hop * (len(steps) - 1) + n_fft)
    norm = np.zeros_like(out)
    for t, frame in enumerate(frames):
        out[t * hop : t * hop + n_fft] += frame
        norm[t * hop : t * hop + n_fft] += window ** 2
    out /= np.maximum(norm, 1e-3)
    return out[n_fft // 2 : n_fft // 2 + int(round(audio.size / rate))].astype(np.float32)


def random_colouring(audio: np.ndarray, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """Another microphone and room: a random spectral tilt, a short random FIR colouring, and
    sometimes a synthetic reverberation tail (exponentially decaying noise, RT60 0.1-0.4 s)."""
    tilt = rng.uniform(-0.5, 0.9)
    audio = audio - tilt * np.concatenate([[0.0], audio[:-1]])
    fir = np.zeros(9)
    fir[0] = 1.0
    fir[1:] = rng.normal(0, 0.15, 8)
    audio = np.convolve(audio, fir)[: audio.size]
    if rng.random() < 0.3:
        rt60 = rng.uniform(0.1, 0.4)
        n = int(rt60 * rate)
        tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
        rir = np.concatenate([[1.0], tail * rng.uniform(0.05, 0.3) / np.sqrt(n)])
        size = audio.size + rir.size - 1
        wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(rir, size), size)
        audio = wet[: audio.size + n // 2]
    return audio


def band_limit(audio: np.ndarray, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    """The word with everything above a random cutoff (40-85% of the Nyquist frequency: 1.6-3.4 kHz
    at 8 kHz) taken down by 25-45 dB, over a 200 Hz slope. Mixed into noise afterwards, its top
    band is then mostly noise: a voice that is weak up there, a narrow microphone or a codec."""
    nyquist = rate / 2
    cutoff = rng.uniform(0.4, 0.85) * nyquist
    floor = 10 ** (-rng.uniform(25, 45) / 20)
    spectrum = np.fft.rfft(audio)
    hz = np.fft.rfftfreq(audio.size, 1.0 / rate)
    slope = np.clip((hz - cutoff) / 200.0, 0.0, 1.0)
    gain = np.exp(np.log(floor) * slope)  # 1 below the cutoff, floor 200 Hz above it
    return np.fft.irfft(spectrum * gain, audio.size)


def augment(audio: np.ndarray, rng: np.random.Generator, onset_cut: float = 0.0, rate: int = 8000,
            tempo: float = 0.0, band_limit_share: float = 0.0,
            speed: tuple[float, float] = (0.8, 1.25), offset_cut: float = 0.0) -> np.ndarray:
    """Speed (and so pitch and formants, by a factor drawn from `speed`), microphone and room
    colouring, a random level.

    tempo > 0: half the time, also make the word up to (1 + tempo) times faster or slower at the
    same pitch. Speakers differ in how long they hold a word; with speed alone a long word always
    comes with a low voice, and a model learns "long" as a cue (a slow "two" taken for "zero").

    onset_cut > 0: half the time, drop up to that fraction of the word's start. Tightly trimmed
    recordings, or noise over a soft first consonant, lose the "th" of "three" or the "f" of
    "four"; the model must then decide on the rest of the word.

    offset_cut > 0: likewise drop up to that fraction of the word's end, half the time: a recording
    cut off while the word still sounds ends abruptly, which must not read as a final /t/.

    band_limit_share > 0: that share of the words lose their top band (see band_limit()), so
    that the model learns to tell words apart from what lies below 1.6 kHz too.
    """
    if onset_cut > 0 and rng.random() < 0.5:
        audio = audio[int(audio.size * rng.uniform(0, onset_cut)) :]
    if offset_cut > 0 and rng.random() < 0.5:
        audio = audio[: max(1, audio.size - int(audio.size * rng.uniform(0, offset_cut)))]
    if tempo > 0 and rng.random() < 0.5:
        audio = time_stretch(audio, float(np.exp(rng.uniform(-1, 1) * np.log1p(tempo))))
    audio = random_colouring(change_speed(audio, rng.uniform(*speed)), rng, rate)
    if band_limit_share > 0 and rng.random() < band_limit_share:
        audio = band_limit(audio, rng, rate)
    peak = np.max(np.abs(audio)) + 1e-9
    return (audio / peak * 10 ** (rng.uniform(-30, -1) / 20)).astype(np.float32)  # peak in dBFS


def unknown_speech(utts: list[Utterance], rng: np.random.Generator) -> np.ndarray:
    """Speech that is no keyword: a reversed word, or the opening of a word cut short.

    Word endings are never used here: from three quarters on, a real keyword is labelled as itself,
    so an ending labelled "unknown" would contradict it.
    """
    a = utts[rng.integers(len(utts))].audio
    if rng.random() < 0.6:
        return a[::-1].copy()
    return a[: int(a.size * rng.uniform(0.25, 0.45))].copy()


# --- training clips ----------------------------------------------------------------------

def frame_labels_for(n_frames: int, hop: int, segments: list[tuple[int, int, int]], tail: int = 20,
                     onset: float = 0.75) -> np.ndarray:
    """Per-frame targets. segments: (start sample, end sample, label id).

    A frame is labelled by the sample it ends on. The first `onset` of a word is IGNORE (too
    early to tell "six" from "seven"); from there to `tail` frames after its end the frames carry
    the word's label; elsewhere background. Deciding late costs ~100 ms and buys accuracy.
    """
    labels = np.zeros(n_frames, np.int64)
    ends = (np.arange(n_frames) + 1) * hop
    for start, end, label in segments:
        half = start + int((end - start) * onset)
        labels[(ends > start) & (ends <= half)] = IGNORE
        labels[(ends > half) & (ends <= end + tail * hop)] = label
    return labels


def _pick(words: dict[str, list[Utterance]], names: list[str], rng: np.random.Generator) -> np.ndarray:
    group = words[names[rng.integers(len(names))]]
    return group[rng.integers(len(group))].audio


@dataclass
class ClipOptions:
    """How training clips are made beyond the fixed recipe."""

    synthetic: dict[str, list[Utterance]] | None = None  # word -> synthesised utterances
    synthetic_share: float = 0.0  # share of the words taken from `synthetic`
    onset_cut: float = 0.0  # see augment()
    tempo: float = 0.0  # see augment()
    band_limit: float = 0.0  # share of the words band-limited, see augment()
    speed: tuple[float, float] = (0.8, 1.25)  # range of the speed factor, see augment()
    offset_cut: float = 0.0  # see augment()


def choose_word(words: dict[str, list[Utterance]], keyword_ids: dict[str, int], pool: list[Utterance],
                rng: np.random.Generator, options: ClipOptions) -> tuple[np.ndarray, int]:
    """One spoken word for a training clip and its label: a keyword 70% of the time, else unknown.

    `options.synthetic` stands in for the recordings `options.synthetic_share` of the time; its
    words that are no keyword then serve as unknown speech.
    """
    synthetic = options.synthetic or {}
    use_synthetic = rng.random() < options.synthetic_share
    if rng.random() < 0.7:
        word = list(keyword_ids)[rng.integers(len(keyword_ids))]
        source = synthetic if use_synthetic and word in synthetic else words
        return _pick(source, [word], rng), keyword_ids[word]
    others = [w for w in words if w not in keyword_ids]
    fillers = [w for w in synthetic if w not in keyword_ids]
    if use_synthetic and fillers:
        return _pick(synthetic, fillers, rng), 1
    if others and rng.random() < 0.5:  # a whole word that is no keyword
        return _pick(words, others, rng), 1
    return unknown_speech(pool, rng), 1


def make_clip(words: dict[str, list[Utterance]], keyword_ids: dict[str, int], pool: list[Utterance],
              samples: int, hop: int, rng: np.random.Generator,
              options: ClipOptions | None = None, rate: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    """A clip of `samples` audio at `rate` with 0-3 words in noise, and its per-frame labels."""
    options = options or ClipOptions()
    speech = np.zeros(samples, np.float32)
    segments = []
    pos = int(rng.integers(0, samples // 4))
    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.1, 0.4, 0.35, 0.15]))):
        utt, label = choose_word(words, keyword_ids, pool, rng, options)
        utt = augment(utt, rng, options.onset_cut, rate, options.tempo, options.band_limit, options.speed,
                      options.offset_cut)
        if pos + utt.size > samples:
            break
        speech[pos : pos + utt.size] += utt
        segments.append((pos, pos + utt.size, label))
        pos += utt.size + int(rng.integers(int(0.3 * rate), int(1.2 * rate)))
    if segments:
        active = np.concatenate([speech[a:b] for a, b, _ in segments])
        level = np.sqrt(np.mean(active ** 2)) / 10 ** (rng.uniform(5, 40) / 20)  # SNR 5-40 dB
    else:
        level = 10 ** (rng.uniform(-75, -20) / 20)
    audio = np.clip(speech + background_track(samples, level, rng, rate), -1.0, 1.0)
    tail = max(1, round(0.2 * rate / hop))  # label 0.2 s after each word (20 frames of 10 ms)
    return audio.astype(np.float32), frame_labels_for(samples // hop, hop, segments, tail)
