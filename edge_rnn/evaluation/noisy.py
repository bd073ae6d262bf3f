"""`edge-rnn eval --snr`: keyword spotting in noise, through the streaming runtime.

For each condition the held-out stream of `edge-rnn eval` (the same order, gaps and seed) is
mixed with noise at the SNR asked for: speech power, measured over the samples of the words, over
noise power. The noise covers the whole stream, gaps included; the sum is clipped to [-1, 1].
Counted per condition: keywords detected, events with a wrong keyword inside a word's window
([start, end + 1 s]), other false events, and false accepts per hour in noise alone at the level
that gave that SNR. "quiet" is the stream as `edge-rnn eval` builds it, with its noise-only
stream; "reverb" is every word heard in one of 100 simulated rooms (RT60 0.3-0.9 s, talker
0.5-3 m away), without added noise. Babble is 4-8 talkers of espeak-ng words that are no keyword,
none of them words or voices that training uses; every noise has its own seed.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from edge_rnn.runtime.errors import UserError
from edge_rnn.training.noise import STATIONARY, from_recordings, level_for_snr, speech_power, stationary

HIT_WINDOW_S = 1.0
EVAL_SEED = 90210  # noise, babble voices and rooms of the evaluation (training uses its --seed)
KINDS = (*STATIONARY, "babble", "reverb", "recorded")
SNR_RANGE = (-20.0, 60.0)


def parse_snrs(text: str) -> list[float]:
    """'20,10,5' -> [20.0, 10.0, 5.0]; a UserError for anything else."""
    try:
        snrs = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        snrs = []
    if not snrs or any(not SNR_RANGE[0] <= s <= SNR_RANGE[1] for s in snrs):
        raise UserError(f"--snr needs comma-separated dB values between {SNR_RANGE[0]:g} and {SNR_RANGE[1]:g} "
                        f"like 20,10,5, got {text!r}")
    return list(dict.fromkeys(snrs))


def parse_kinds(text: str | None, recorded: bool) -> list[str]:
    """The noise kinds asked for (default: pink, or `recorded` with --noise)."""
    if text is None:
        return ["recorded"] if recorded else ["pink"]
    kinds = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UserError(f"unknown noise kind {', '.join(unknown) or repr(text)}; choose from {', '.join(KINDS)}")
    if "recorded" in kinds and not recorded:
        raise UserError("--noise-kind recorded needs --noise DIR, a folder of your noise recordings (WAV)")
    return kinds


@dataclass
class Condition:
    kind: str | None  # None: no added noise
    snr: float | None = None

    @property
    def name(self) -> str:
        if self.kind is None:
            return "quiet"
        return self.kind if self.snr is None else f"{self.kind}@{self.snr:g}dB"


def conditions(kinds: list[str], snrs: list[float]) -> list[Condition]:
    out = [Condition(None)]
    out += [Condition(k, s) for k in kinds if k != "reverb" for s in snrs]
    return out + ([Condition("reverb")] if "reverb" in kinds else [])


def seed_of(*parts) -> int:
    return zlib.crc32(repr(parts).encode()) ^ EVAL_SEED


class NoiseSource:
    """Unit-RMS noise of each kind: babble from its words, `recorded` from the user's files."""

    def __init__(self, kinds: list[str], rate: int, recordings: list[np.ndarray] | None = None):
        self.rate, self.recordings, self.words = rate, recordings, None
        if "babble" in kinds:
            from edge_rnn.training.babble import EVAL_WORDS, spoken_words

            self.words = spoken_words(EVAL_WORDS, rate, voices=40, words_per_voice=15, seed=EVAL_SEED)

    def make(self, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
        if kind == "babble":
            from edge_rnn.training.babble import babble

            return babble(n, self.words, rng, rate=self.rate)
        if kind == "recorded":
            return from_recordings(n, self.recordings, rng)
        return stationary(kind, n, rng, self.rate)

    def long(self, kind: str, samples: int, seed: int, piece_s: float = 60.0, fade_s: float = 0.1) -> np.ndarray:
        """`samples` of one kind at unit RMS, made in pieces of `piece_s` cross-faded over `fade_s`."""
        rng = np.random.default_rng(seed)
        piece, fade = int(piece_s * self.rate), int(fade_s * self.rate)
        out = np.zeros(samples + piece + fade, np.float32)
        ramp = np.linspace(0, 1, fade, dtype=np.float32)
        for pos in range(0, max(samples, 1), piece):
            x = self.make(kind, piece + fade, rng)
            if pos:
                x[:fade] *= ramp
            x[piece:] *= ramp[::-1]
            out[pos : pos + piece + fade] += x
        return out[:samples]


def reverberant(utts, rate: int) -> list:
    """The utterances, each heard (with its tail) in one of 100 simulated rooms."""
    from edge_rnn.training.rooms import reverberate, rooms
    from edge_rnn.training.utterances import Utterance

    rirs = rooms(100, seed_of("rooms"), rate, rt60=(0.3, 0.9), distance=(0.5, 3.0))
    rng = np.random.default_rng(seed_of("room of each word"))
    return [Utterance(u.word, u.speaker, u.index, reverberate(u.audio, rirs[int(rng.integers(len(rirs)))], True))
            for u in utts]


def mix(audio: np.ndarray, truth, cond: Condition, source: NoiseSource) -> tuple[np.ndarray, float]:
    """(the stream with the condition's noise added, clipped; the noise's RMS)."""
    rate = source.rate
    spans = [(int(a * rate), int(b * rate)) for a, b, _ in truth]
    level = level_for_snr(speech_power(audio, spans), cond.snr)
    noise = source.long(cond.kind, audio.size, seed_of("stream", cond.name))
    return np.clip(audio + noise * level, -1, 1).astype(np.float32), level


def score(events: list[dict], truth, keywords: set[str]) -> dict:
    """Keywords detected, events with a wrong keyword inside a keyword's window, other false events."""
    starts = np.array([t[0] for t in truth])
    hit = [False] * len(truth)
    wrong = other = 0
    for e in events:
        i = int(np.searchsorted(starts, e["time"], side="right")) - 1  # the word it follows
        inside = i >= 0 and e["time"] <= truth[i][1] + HIT_WINDOW_S
        if inside and truth[i][2] == e["keyword"] and not hit[i]:
            hit[i] = True
        elif inside and truth[i][2] in keywords and e["keyword"] != truth[i][2]:
            wrong += 1
        else:
            other += 1
    targets = [i for i, t in enumerate(truth) if t[2] in keywords]
    hits = sum(hit[i] for i in targets)
    return {"keywords": len(targets), "detected": hits, "detection_rate": round(hits / max(1, len(targets)), 6),
            "wrong_label": wrong, "other_false": other}


def dbfs(level: float) -> float:
    return round(20 * math.log10(level + 1e-12), 1)


@dataclass
class NoiseOptions:
    """What `edge-rnn eval --snr` measures."""

    snrs: list[float]
    kinds: list[str]
    noise_minutes: float = 10.0  # noise alone per condition (0: none)
    recordings: list[np.ndarray] | None = None  # --noise DIR, at the model's rate


def _quiet_stream(utts, rate: int):
    """(the quiet stream, its truth, the generator that drew it), as edge-rnn eval builds them:
    the same order and gaps."""
    from .kws import build_stream

    rng = np.random.default_rng(2024)
    return (*build_stream(utts, rate, rng), rng)


def _streams(quiet_stream, wet, opts: NoiseOptions, rate: int):
    """(condition, speech stream, truth, noise-only stream or None, noise RMS or None) of each
    condition in turn; `quiet_stream` from _quiet_stream, `wet` the utterances in rooms (for "reverb")."""
    from .kws import build_stream, noise_stream

    source = NoiseSource(opts.kinds, rate, opts.recordings)
    quiet, truth, rng = quiet_stream
    minutes = int(opts.noise_minutes * 60 * rate)
    for cond in conditions(opts.kinds, opts.snrs):
        if cond.kind is None:  # edge-rnn eval's own noise-only stream, its generator carried on
            yield cond, quiet, truth, noise_stream(opts.noise_minutes * 60, rate, rng) if minutes else None, None
        elif cond.kind == "reverb":
            yield (cond, *build_stream(wet, rate, np.random.default_rng(2024)), None, None)
        else:
            audio, level = mix(quiet, truth, cond, source)
            alone = source.long(cond.kind, minutes, seed_of("alone", cond.name)) * level if minutes else None
            yield cond, audio, truth, None if alone is None else np.clip(alone, -1, 1), level


def _chunks(utts, wet, size: int, opts: NoiseOptions, rate: int, chunk: int) -> int:
    """How many chunks the runtime will be fed over every condition (for the progress bar); `size`
    the quiet stream's samples."""
    noise = math.ceil(int(opts.noise_minutes * 60 * rate) / chunk)
    total = 0
    for cond in conditions(opts.kinds, opts.snrs):
        if cond.kind == "reverb":
            total += math.ceil((size + sum(w.audio.size - u.audio.size for u, w in zip(utts, wet))) / chunk)
        else:
            total += math.ceil(size / chunk) + noise
    return total


@dataclass
class Scored:
    """One condition's stream run through the model: its probabilities, and those of its noise alone."""

    condition: Condition
    truth: list
    probs: np.ndarray
    alone: np.ndarray | None  # the noise-only stream's probabilities
    level: float | None  # the noise's RMS
    hours: float
    alone_hours: float | None


def scored_streams(session, utts, opts: NoiseOptions, label: str, quiet: bool = False):
    """Each condition's Scored, the runtime run once over its stream and its noise alone."""
    from edge_rnn.progress import Progress

    from .kws import run_probabilities

    c = session.contract
    rate, chunk = c.sample_rate, int(0.1 * c.sample_rate)
    wet = reverberant(utts, rate) if "reverb" in opts.kinds else None
    quiet_stream = _quiet_stream(utts, rate)
    with Progress(_chunks(utts, wet, quiet_stream[0].size, opts, rate, chunk), label, enabled=not quiet) as bar:
        for cond, audio, truth, alone, level in _streams(quiet_stream, wet, opts, rate):
            bar.update(0, cond.name)
            probs = run_probabilities(session, audio, chunk, bar)
            alone_probs = None if alone is None else run_probabilities(session, alone, chunk, bar)
            yield Scored(cond, truth, probs, alone_probs, level, audio.size / rate / 3600,
                         None if alone is None else alone.size / rate / 3600)


def condition_row(s: Scored, labels: list[str], frame_s: float, detector, keywords: set[str]) -> dict:
    """A condition's figures under one detector (events replayed over the saved probabilities)."""
    from .kws import events_at

    row = {"condition": s.condition.name, "kind": s.condition.kind, "snr_db": s.condition.snr,
           **score(events_at(s.probs, labels, frame_s, detector), s.truth, keywords),
           "stream_hours": round(s.hours, 4)}
    if s.level is not None:
        row["noise_dbfs"] = dbfs(s.level)
    if s.alone is not None:
        fa = len(events_at(s.alone, labels, frame_s, detector))
        row.update(noise_hours=round(s.alone_hours, 4), noise_false_accepts=fa,
                   noise_false_accepts_per_hour=round(fa / s.alone_hours, 2))
    return row


def evaluate_noise(session, utts, opts: NoiseOptions, quiet: bool = False) -> dict:
    """Detection, wrong labels and noise-only false accepts per condition (see the module)."""
    from edge_rnn.runtime.detector import DetectorConfig
    from edge_rnn.runtime.labels import keywords_of

    c = session.contract
    base, keywords = DetectorConfig.from_dict(c.detector), set(keywords_of(c.labels))
    rows = [condition_row(s, c.labels, c.hop / c.sample_rate, base, keywords)
            for s in scored_streams(session, utts, opts, "noise conditions", quiet)]
    return {"snrs": opts.snrs, "kinds": opts.kinds, "conditions": rows,
            "detector": dict(vars(base)), "precision": c.precision}
