"""Keyword-spotting training clips: recorded words, changed in speed and colour, placed in
changing background noise, with per-frame labels. All augmentation happens here, on audio;
the network only ever sees what an app would feed it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_rnn.runtime.labels import FIRST_KEYWORD

from .noise import background_track
from .utterances import Utterance

IGNORE = -100  # frames whose label is ambiguous (the start of a word) carry no loss
UNKNOWN_ID = FIRST_KEYWORD - 1  # the label index of other speech


@dataclass
class ClipOptions:
    """How training clips are made."""

    seconds: float = 4.0
    speed: tuple[float, float] = (0.8, 1.25)  # words played this many times faster (pitch and formants too)
    noise_share: float = 0.0  # of clips put into loud noise at `snr` (noisemix.py; 0: none)
    snr: tuple[float, float] = (-3.0, 27.0)  # dB, speech power over noise power, of those clips
    reverb: float = 0.0  # of clips heard in a simulated room
    babble_voices: int = 0  # espeak-ng voices saying words that are no keyword (babble, unknown speech)
    synthetic_keywords: int = 0  # espeak-ng voices (others) saying each keyword, added to the training words
    digital_silence: float = 0.0  # of the clips in their usual background: none, exact zeros between the words
    word_at_start: float = 0.0  # of the clips: the first word starts at the first sample (else 0-0.75 s in)
    noise_weights: dict[str, float] | None = None  # how often each loud-noise kind is drawn (None: noisemix's)
    negative_words: tuple[str, ...] = ()  # words near the keywords, said by --babble-voices voices as unknown speech


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Resample by linear interpolation: factor > 1 is faster and higher."""
    n = max(2, int(round(audio.size / factor)))
    return np.interp(np.linspace(0, audio.size - 1, n), np.arange(audio.size), audio).astype(np.float32)


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


def augment(audio: np.ndarray, rng: np.random.Generator, options: ClipOptions, rate: int = 8000) -> np.ndarray:
    """A word at another speed (and so pitch and formants), through another microphone and room,
    at a random level (peak -30 to -1 dBFS)."""
    audio = random_colouring(change_speed(audio, rng.uniform(*options.speed)), rng, rate)
    peak = np.max(np.abs(audio)) + 1e-9
    return (audio / peak * 10 ** (rng.uniform(-30, -1) / 20)).astype(np.float32)


def unknown_speech(utts: list[Utterance], rng: np.random.Generator) -> np.ndarray:
    """Speech that is no keyword: a reversed word, or the opening of a word cut short.

    Word endings are never used here: from three quarters on, a real keyword is labelled as itself,
    so an ending labelled "unknown" would contradict it.
    """
    a = utts[rng.integers(len(utts))].audio
    if rng.random() < 0.6:
        return a[::-1].copy()
    return a[: int(a.size * rng.uniform(0.25, 0.45))].copy()


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


def choose_word(words: dict[str, list[Utterance]], keyword_ids: dict[str, int], pool: list[Utterance],
                rng: np.random.Generator, mix=None) -> tuple[np.ndarray, int]:
    """One spoken word for a training clip and its label: a keyword 70% of the time, else other
    speech (a recorded or synthesised word that is no keyword, or a reversed or cut-short word)."""
    if rng.random() < 0.7:
        word = list(keyword_ids)[rng.integers(len(keyword_ids))]
        return _pick(words, [word], rng), keyword_ids[word]
    other = mix.unknown_word(rng) if mix is not None else None
    if other is not None:
        return other, UNKNOWN_ID
    others = [w for w in words if w not in keyword_ids]
    if others and rng.random() < 0.5:
        return _pick(words, others, rng), UNKNOWN_ID
    return unknown_speech(pool, rng), UNKNOWN_ID


def make_clip(words: dict[str, list[Utterance]], keyword_ids: dict[str, int], pool: list[Utterance],
              samples: int, hop: int, rng: np.random.Generator, options: ClipOptions | None = None,
              rate: int = 8000, noise: list[np.ndarray] | None = None, mix=None, clean: bool = False):
    """A clip of `samples` audio at `rate` with 0-3 words in noise (some of it from the recorded
    background `noise`, when given; with `mix`, a noisemix.NoiseMix, sometimes in a room or loud
    noise), and its per-frame labels: (audio, labels). With `clean`, also the same words alone,
    without room or noise: (audio, labels, words); the same draws either way."""
    options = options or ClipOptions()
    speech = np.zeros(samples, np.float32)
    segments = []
    # no extra draw without word_at_start, so that older recipes make the same clips
    at_start = bool(options.word_at_start) and rng.random() < options.word_at_start
    pos = 0 if at_start else int(rng.integers(0, samples // 4))
    for _ in range(int(rng.choice([0, 1, 2, 3], p=[0.1, 0.4, 0.35, 0.15]))):
        utt, label = choose_word(words, keyword_ids, pool, rng, mix)
        utt = augment(utt, rng, options, rate)
        if pos + utt.size > samples:
            break
        speech[pos : pos + utt.size] += utt
        segments.append((pos, pos + utt.size, label))
        pos += utt.size + int(rng.integers(int(0.3 * rate), int(1.2 * rate)))

    def usual(speech: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        if options.digital_silence and rng.random() < options.digital_silence:
            return np.clip(speech, -1.0, 1.0)  # a padded file, a muted input: only the words' own sound
        if spans:
            active = np.concatenate([speech[a:b] for a, b in spans])
            level = np.sqrt(np.mean(active ** 2)) / 10 ** (rng.uniform(5, 40) / 20)  # SNR 5-40 dB
        else:
            level = 10 ** (rng.uniform(-75, -20) / 20)
        return np.clip(speech + background_track(samples, level, rng, rate, noise), -1.0, 1.0)

    spans = [(a, b) for a, b, _ in segments]
    audio = mix.mix(speech, spans, rng, usual, rate) if mix is not None else usual(speech, spans)
    tail = max(1, round(0.2 * rate / hop))  # label 0.2 s after each word (20 frames of 10 ms)
    labels = frame_labels_for(samples // hop, hop, segments, tail)
    if clean:
        return audio.astype(np.float32), labels, speech
    return audio.astype(np.float32), labels
