"""`edge-rnn tune-detector`: a keyword spotter's detector chosen over quiet and noisy streams together.

The model's probabilities are computed once per condition of `edge-rnn eval --snr` (the held-out
stream in quiet with its noise-only stream, mixed with each noise kind at each SNR with the noise
alone at the same level, and in rooms); then every detector of a grid is replayed over them.
Chosen: the detector with the highest mean detection over all conditions among those whose false
accepts per hour stay within the budget in every noise-only stream; ties go to fewer false events,
then to the model's own detector. When none keeps the budget, the one with the fewest false
accepts per hour is chosen, and the result says so.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict

import numpy as np

from edge_rnn.runtime.detector import DetectorConfig

THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
SMOOTH_SECONDS = (0.0, 0.08, 0.16, 0.24, 0.32)  # 0: one frame
REFRACTORY_S = (0.3, 0.5, 0.8)
DECISION_S = (0.3, 0.6)


def grid(frame_s: float, current: DetectorConfig) -> list[DetectorConfig]:
    """Every detector tried: the grid (smoothing in whole frames) and the model's own, first."""
    frames = sorted({max(1, round(s / frame_s)) for s in SMOOTH_SECONDS})
    out = [current]
    for th, sm, rf, dec in itertools.product(THRESHOLDS, frames, REFRACTORY_S, DECISION_S):
        config = DetectorConfig(smooth_frames=sm, threshold=th, refractory_s=rf, decision_s=dec)
        if config != current:
            out.append(config)
    return out


def measure(config: DetectorConfig, streams: list, labels: list[str], frame_s: float, keywords: set[str]):
    """Per condition: detection, false events in the stream, false accepts per hour of noise alone."""
    from .noisy import condition_row

    return [condition_row(s, labels, frame_s, config, keywords) for s in streams]


def summary(rows: list[dict]) -> dict:
    worst = max((r.get("noise_false_accepts_per_hour", 0.0) for r in rows), default=0.0)
    return {"mean_detection": round(float(np.mean([r["detection_rate"] for r in rows])), 6),
            "worst_false_accepts_per_hour": worst,
            "false_events": sum(r["wrong_label"] + r["other_false"] + r.get("noise_false_accepts", 0) for r in rows)}


def pick(results: list[tuple], max_fa_per_hour: float) -> tuple[tuple, bool]:
    """The (detector, summary, ...) chosen from `results` and whether it keeps the budget. Among those
    that keep it: the highest mean detection, then the fewest false events; else the fewest false
    accepts per hour, then the highest detection. On a tie the earlier one (the model's own) wins."""
    within = [r for r in results if r[1]["worst_false_accepts_per_hour"] <= max_fa_per_hour]
    if within:
        return max(within, key=lambda r: (r[1]["mean_detection"], -r[1]["false_events"])), True
    return min(results, key=lambda r: (r[1]["worst_false_accepts_per_hour"], -r[1]["mean_detection"],
                                       r[1]["false_events"])), False


def choose(session, utts, opts, max_fa_per_hour: float, quiet: bool = False) -> dict:
    """Probabilities once per condition, then the grid replayed over them (see the module)."""
    from edge_rnn.progress import Progress
    from edge_rnn.runtime.labels import keywords_of

    from .noisy import scored_streams

    c = session.contract
    frame_s = c.hop / c.sample_rate
    current, keywords = DetectorConfig.from_dict(c.detector), set(keywords_of(c.labels))
    streams = list(scored_streams(session, utts, opts, "scoring conditions", quiet))
    configs = grid(frame_s, current)
    results = []  # (detector, summary, rows)
    with Progress(len(configs), "detectors", enabled=not quiet) as bar:
        for config in configs:
            rows = measure(config, streams, c.labels, frame_s, keywords)
            results.append((config, summary(rows), rows))
            bar.update(1)
    best, met = pick(results, max_fa_per_hour)
    as_result = lambda r: {"detector": asdict(r[0]), **r[1], "conditions": r[2]}  # noqa: E731
    return {"max_false_accepts_per_hour": max_fa_per_hour, "budget_met": met, "detectors_tried": len(configs),
            "noise_hours": round(sum(s.alone_hours or 0.0 for s in streams), 4),
            "current": as_result(results[0]), "chosen": as_result(best)}
