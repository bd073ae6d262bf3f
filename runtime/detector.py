"""The keyword detector: smoothing, thresholds, a decision window and a refractory period over a
stream's per-frame probabilities. Its parameters travel in the model (`edge_rnn.detector`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .labels import FIRST_KEYWORD, keywords_of
from .errors import UserError

_NO_FRAMES = np.zeros(0, np.int64)
SMOOTH_SECONDS = 0.08  # the default smoothing window, whatever a model's frame length


@dataclass
class DetectorConfig:
    """Detection parameters. The defaults are what a newly trained model stores."""

    smooth_frames: int = 8  # moving average of probabilities over this many frames
    threshold: float | dict = 0.6  # one threshold, or {keyword: threshold, "default": threshold}
    refractory_s: float = 0.5  # after an event, stay silent this long
    decision_s: float = 0.3  # after a first crossing, the best keyword over this long wins

    def __post_init__(self) -> None:
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        values = self.threshold.values() if isinstance(self.threshold, dict) else [self.threshold]
        if not isinstance(self.threshold, (int, float, dict)) or not all(number(v) and 0 <= v <= 1 for v in values):
            raise UserError(f"detector threshold must be a number in [0, 1] or {{keyword: number}}, "
                            f"got {self.threshold!r}")
        if not (isinstance(self.smooth_frames, int) and not isinstance(self.smooth_frames, bool)
                and 1 <= self.smooth_frames <= 10_000):
            raise UserError(f"detector smooth_frames must be a whole number from 1 to 10000, got {self.smooth_frames!r}")
        for name in ("refractory_s", "decision_s"):
            value = getattr(self, name)
            if not number(value) or not 0 <= value <= 3600:
                raise UserError(f"detector {name} must be a number of seconds from 0 to 3600, got {value!r}")

    def thresholds(self, keywords: list[str]) -> np.ndarray:
        if isinstance(self.threshold, dict):
            default = float(self.threshold.get("default", DetectorConfig.threshold))
            return np.array([float(self.threshold.get(k, default)) for k in keywords], np.float32)
        return np.full(len(keywords), float(self.threshold), np.float32)

    @classmethod
    def from_dict(cls, d: dict, **overrides) -> "DetectorConfig":
        """From a model's `edge_rnn.detector` (missing keys take the defaults) and overrides
        (None: keep). Unknown keys or values of the wrong kind are a UserError."""
        if not isinstance(d, dict):
            raise UserError(f"a detector must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        if set(d) - known:
            raise UserError(f"unknown detector keys {sorted(set(d) - known)}; known: {sorted(known)}")
        return cls(**{**d, **{k: v for k, v in overrides.items() if v is not None}})


def default_detector(frame_seconds: float) -> dict:
    """The detector a new model stores: the defaults, smoothing over SMOOTH_SECONDS of frames."""
    config = DetectorConfig(smooth_frames=max(1, round(SMOOTH_SECONDS / frame_seconds)))
    return {f.name: getattr(config, f.name) for f in fields(config)}


class Detector:
    """Smoothing, thresholds and refractory period over per-frame probabilities of one stream.

    labels: the model's labels; index 0 background, 1 unknown, 2.. keywords.
    """

    def __init__(self, labels: list[str], frame_seconds: float, config: DetectorConfig):
        self.keywords = keywords_of(labels)
        self.frame_seconds = frame_seconds
        self.config = config
        self.thresholds = config.thresholds(self.keywords)
        self.refractory = int(round(config.refractory_s / frame_seconds))
        self.decision = max(1, int(round(config.decision_s / frame_seconds)))
        self.reset()

    def reset(self) -> None:
        n = self.config.smooth_frames
        self.history = np.zeros((n - 1, len(self.keywords) + 2), np.float32)
        self.frame = 0  # index of the next frame
        self.quiet_until = 0  # no new decision window opens before this frame
        self.window_end = -1  # an open decision window ends before this frame (-1: none open)
        self.best = (-np.inf, 0, 0)  # (margin over threshold, frame, keyword) so far in the window

    def smooth(self, probs: np.ndarray) -> np.ndarray:
        """(frames, labels) -> moving averages (frames, labels), each over the same window
        whatever the chunking (the window is summed in one order, so results are identical)."""
        if probs.shape[0] == 0:
            return probs
        buf = np.concatenate([self.history, probs])
        self.history = buf[buf.shape[0] - self.history.shape[0]:]
        windows = sliding_window_view(buf, self.config.smooth_frames, axis=0)  # (frames, labels, n)
        return windows.mean(axis=-1, dtype=np.float32)

    def update(self, probs: np.ndarray) -> list[dict]:
        """Feed (frames, labels) probabilities; return the events they complete.

        A keyword's smoothed score reaching its threshold opens a decision window; when it
        closes, the keyword with the largest margin over its threshold inside it is the event
        (so an early, passing confusion does not win). Frames are handled in order and ties go
        to the earliest frame, so the events do not depend on how the frames were chunked.
        """
        margin = self.smooth(probs)[:, FIRST_KEYWORD:] - self.thresholds  # >= 0: over the threshold
        events, i, n = [], 0, probs.shape[0]
        while i < n:
            if self.window_end < 0:  # look for the next crossing outside the refractory period
                start = max(i, self.quiet_until - self.frame)
                over = np.nonzero((margin[start:] >= 0).any(axis=1))[0] if start < n else _NO_FRAMES
                if not over.size:
                    break
                i = start + int(over[0])
                self.window_end, self.best = self.frame + i + self.decision, (-np.inf, 0, 0)
            stop = min(n, self.window_end - self.frame)
            seg = margin[i:stop]
            f, k = np.unravel_index(int(seg.argmax()), seg.shape)
            if seg[f, k] > self.best[0]:
                self.best = (float(seg[f, k]), self.frame + i + int(f), int(k))
            i = stop
            if self.frame + i == self.window_end:  # the window closes: one event
                score, frame, k = self.best
                events.append({"keyword": self.keywords[k], "time": round((frame + 1) * self.frame_seconds, 3),
                               "score": round(score + float(self.thresholds[k]), 4), "frame": frame})
                self.quiet_until, self.window_end = self.window_end + self.refractory, -1
        self.frame += n
        return events
