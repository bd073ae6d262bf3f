"""`edge-rnn eval` for keyword spotters: per-utterance accuracy, and detection on long streams.

Streams are built here from the labelled utterances: each utterance follows a gap of silence
or noise (0.5-1.5 s). A detection with the utterance's label within [start, end + 1 s] is a
hit; any other event is a false accept. A separate noise-only stream measures false accepts
per hour where nobody speaks. Everything runs through the streaming runtime in 100 ms chunks.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from edge_rnn.progress import Progress
from edge_rnn.runtime.labels import FIRST_KEYWORD, UNKNOWN, keywords_of
from edge_rnn.runtime.detector import Detector, DetectorConfig
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session
from edge_rnn.training.noise import background
from edge_rnn.training.utterances import DIGITS, load_recordings

HIT_WINDOW_S = 1.0
DET_THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]  # 0.05 ... 0.95, and the model's own


def run_probabilities(session: Session, audio: np.ndarray, chunk: int, bar: Progress | None = None) -> np.ndarray:
    """(frames, labels) probabilities of a whole stream, fed in `chunk`-sample pieces."""
    spotter = KeywordSpotter(session)
    out = []
    for start in range(0, audio.size, chunk):
        out.append(spotter.probabilities(audio[start : start + chunk]))
        if bar:
            bar.update(1)
    return np.concatenate(out)


def build_stream(utts, rate: int, rng: np.random.Generator, digital_silence: bool = False):
    """Utterances in shuffled order, each after a 0.5-1.5 s gap of faint noise (-65 to -40 dBFS),
    or of exact zeros with `digital_silence` (the same draws: the same order and gaps).
    Returns (audio, [(start s, end s, word)])."""
    pieces, truth, pos = [], [], 0
    for i in rng.permutation(len(utts)):
        gap = int(rng.uniform(0.5, 1.5) * rate)
        level = 10 ** (rng.uniform(-65, -40) / 20)  # drawn either way: the same order and gaps
        pieces += [background(gap, rng, rate) * (0.0 if digital_silence else level), utts[i].audio]
        start = pos + gap
        pos = start + utts[i].audio.size
        truth.append((start / rate, pos / rate, utts[i].word))
    pieces.append(np.zeros(int(1.5 * rate), np.float32))
    return np.concatenate(pieces).astype(np.float32), truth


def noise_stream(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise of changing colour and level (-70 to -20 dBFS RMS) in 10 s segments."""
    seg = 10 * rate
    parts = [background(seg, rng, rate) * 10 ** (rng.uniform(-70, -20) / 20) for _ in range(int(math.ceil(seconds / 10)))]
    return np.clip(np.concatenate(parts)[: int(seconds * rate)], -1, 1).astype(np.float32)


def score_events(events: list[dict], truth: list[tuple[float, float, str]], keywords: set[str]) -> dict:
    """Match events to keyword utterances: hits, misses, wrong labels, false accepts."""
    starts = np.array([t[0] for t in truth])
    hit = [False] * len(truth)
    false = 0
    for e in events:
        i = int(np.searchsorted(starts, e["time"], side="right")) - 1  # the utterance it follows
        if i >= 0 and e["time"] <= truth[i][1] + HIT_WINDOW_S and truth[i][2] == e["keyword"] and not hit[i]:
            hit[i] = True
        else:
            false += 1
    targets = [i for i, t in enumerate(truth) if t[2] in keywords]
    hits = sum(hit[i] for i in targets)
    return {"keyword_utterances": len(targets), "detected": hits,
            "detection_rate": hits / max(1, len(targets)), "false_rejects": len(targets) - hits,
            "false_accepts": false}


def events_at(probs: np.ndarray, labels: list[str], frame_s: float, config: DetectorConfig) -> list[dict]:
    return Detector(labels, frame_s, config).update(probs)


def per_utterance(session: Session, utts, base: DetectorConfig, quiet: bool) -> dict:
    """Each utterance alone, as `edge-rnn stream --input` hears a one-word file: from a fresh
    stream, followed by the silence `KeywordSpotter.finish()` adds. The keyword whose smoothed
    score peaks highest, if it reaches its threshold (what the detector would say), else
    "unknown". Accuracy overall, per word and speaker."""
    c = session.contract
    frame_s, keywords = c.hop / c.sample_rate, set(keywords_of(c.labels))
    per_class, per_speaker = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    thresholds = base.thresholds(keywords_of(c.labels))
    spotter, chunk = KeywordSpotter(session), c.sample_rate // 10
    with Progress(len(utts), "utterances", enabled=not quiet) as bar:
        for u in utts:
            spotter.reset()  # 100 ms chunks, then the silence in one call, as `stream --input` does
            heard = [spotter.probabilities(u.audio[a : a + chunk]) for a in range(0, u.audio.size, chunk)]
            probs = np.concatenate(heard + [spotter.probabilities(np.zeros(spotter.finish_samples(), np.float32))])
            peak = Detector(c.labels, frame_s, base).smooth(probs)[:, FIRST_KEYWORD:].max(axis=0)
            best = int(peak.argmax())
            guess = c.labels[FIRST_KEYWORD + best] if peak[best] >= thresholds[best] else UNKNOWN
            truth = u.word if u.word in keywords else UNKNOWN
            for table, key in ((per_class, truth), (per_speaker, u.speaker)):
                table[key][0] += guess == truth
                table[key][1] += 1
            bar.update()
    return {"utterances": len(utts), "utterance_accuracy": sum(v[0] for v in per_class.values()) / len(utts),
            "per_class_accuracy": {k: round(v[0] / v[1], 4) for k, v in sorted(per_class.items(), key=_digit_order)},
            "per_speaker_accuracy": {k: round(v[0] / v[1], 4) for k, v in sorted(per_speaker.items())}}


def det_curve(speech_probs, noise_probs, truth, labels, frame_s: float, base: DetectorConfig, hours: float) -> list:
    """The detector replayed at many thresholds (and the model's own) over the same probabilities."""
    keywords = set(keywords_of(labels))
    own = round(float(base.threshold), 4) if not isinstance(base.threshold, dict) else None
    curve = []
    for t in sorted(set(DET_THRESHOLDS) | ({own} if own is not None else set())):
        cfg = dataclasses.replace(base, threshold=t)
        s = score_events(events_at(speech_probs, labels, frame_s, cfg), truth, keywords)
        fa = s["false_accepts"] + (len(events_at(noise_probs, labels, frame_s, cfg)) if noise_probs is not None else 0)
        curve.append({"threshold": t, "false_reject_rate": round(1 - s["detection_rate"], 6),
                      "false_accepts_per_hour": round(fa / hours, 6), "model": t == own})
    return curve


def evaluate_kws(session: Session, data: Path, speakers: str | None, noise_hours: float,
                 plot: Path | None, quiet: bool, split: str | None = None) -> dict:
    """Per-utterance accuracy, detection in one long stream of every utterance, false accepts in
    noise alone, and the DET curve, all through the streaming runtime. `data` is any layout
    `train kws` reads; `speakers` and `split` keep only those recordings."""
    c = session.contract
    rate, frame_s = c.sample_rate, c.hop / c.sample_rate
    who = [s.strip() for s in speakers.split(",") if s.strip()] if speakers else None
    utts = load_recordings(data, rate, speakers=who, split=split, quiet=quiet, background=False).utterances
    base = DetectorConfig.from_dict(c.detector)
    result = per_utterance(session, utts, base, quiet)
    rng = np.random.default_rng(2024)
    audio, truth = build_stream(utts, rate, rng)
    noise = noise_stream(noise_hours * 3600, rate, rng) if noise_hours > 0 else np.zeros(0, np.float32)
    chunk = int(0.1 * rate)
    with Progress(math.ceil(audio.size / chunk) + math.ceil(noise.size / chunk), "streams", enabled=not quiet) as bar:
        speech_probs = run_probabilities(session, audio, chunk, bar)
        noise_probs = run_probabilities(session, noise, chunk, bar) if noise.size else None
    speech_hours = audio.size / rate / 3600
    stream = score_events(events_at(speech_probs, c.labels, frame_s, base), truth, set(keywords_of(c.labels)))
    result.update({"speakers_heard_in_training": heard_in_training(c, result["per_speaker_accuracy"]),
                   **{f"stream_{k}": v for k, v in stream.items()}, "stream_hours": round(speech_hours, 4),
                   "stream_false_accepts_per_hour": stream["false_accepts"] / speech_hours,
                   "detector": dataclasses.asdict(base), "precision": c.precision})
    if noise_probs is not None:
        fa = len(events_at(noise_probs, c.labels, frame_s, base))
        result.update(noise_hours=noise_hours, noise_false_accepts=fa, noise_false_accepts_per_hour=fa / noise_hours)
    hours = speech_hours + (noise_hours if noise_probs is not None else 0)
    result["det_curve"] = det_curve(speech_probs, noise_probs, truth, c.labels, frame_s, base, hours)
    if plot is not None:
        from .plots import plot_det

        plot_det(result["det_curve"], plot, title=f"{session.path.name} ({len(utts)} utterances)")
        result["plot"] = str(plot)
    return result


def heard_in_training(contract, speakers) -> list[str] | None:
    """The evaluated speakers that the model was trained on (their figures are not held-out);
    None when the model does not record its training speakers."""
    if contract.train_speakers is None:
        return None
    return sorted(set(speakers) & set(contract.train_speakers))


def _digit_order(item):
    word = item[0]
    return (DIGITS.index(word) if word in DIGITS else 99, word)
