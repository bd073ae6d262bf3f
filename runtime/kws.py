"""Keyword spotting on an edge-rnn model: audio chunks of any size in, keyword events out.

`KeywordSpotter.process(chunk)` buffers to a multiple of the model's hop, runs the model
(front end inside), smooths the per-frame probabilities, and fires an event when a keyword's
smoothed score reaches its threshold outside the refractory period after the last event.
The frame grid is fixed from the start of the stream, so events do not depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import UserError
from .session import Session
from .stream import Stream


_NO_FRAMES = np.zeros(0, np.int64)
# Frames per model call at most: a long chunk is run in pieces (the state carries over exactly),
# so memory stays bounded whatever a caller passes (a running-mean front end builds a
# frames x frames matrix per call).
MAX_CALL_FRAMES = 1000


@dataclass
class DetectorConfig:
    smooth_frames: int = 8  # moving average of probabilities over this many frames
    threshold: float | dict = 0.6  # one threshold, or {keyword: threshold}
    refractory_s: float = 0.8  # after an event, stay silent this long
    decision_s: float = 0.2  # after a first crossing, the best keyword over this long wins

    def thresholds(self, keywords: list[str]) -> np.ndarray:
        if isinstance(self.threshold, dict):
            default = float(self.threshold.get("default", 0.6))
            return np.array([float(self.threshold.get(k, default)) for k in keywords], np.float32)
        return np.full(len(keywords), float(self.threshold), np.float32)

    @classmethod
    def from_dict(cls, d: dict, **overrides) -> "DetectorConfig":
        merged = {**{k: v for k, v in d.items() if k in cls.__dataclass_fields__},
                  **{k: v for k, v in overrides.items() if v is not None}}
        cfg = cls(**merged)
        if cfg.smooth_frames < 1 or cfg.refractory_s < 0 or cfg.decision_s < 0:
            raise UserError("smoothing needs >= 1 frame, the refractory and decision periods >= 0 s")
        return cfg


class Detector:
    """Smoothing, thresholds and refractory period over per-frame probabilities of one stream.

    labels: the model's labels; index 0 background, 1 unknown, 2.. keywords.
    """

    def __init__(self, labels: list[str], frame_seconds: float, config: DetectorConfig):
        self.keywords = labels[2:]
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
        margin = self.smooth(probs)[:, 2:] - self.thresholds  # >= 0: over the threshold
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


class KeywordSpotter:
    """One audio stream through a keyword-spotting model. Make one per stream; share the Session."""

    def __init__(self, model: str | Path | Session, threads: int = 1, **detector):
        self.session = model if isinstance(model, Session) else Session(model, "kws", threads)
        c = self.session.contract
        if c.task != "kws":
            raise UserError(f"{self.session.path} is not a keyword-spotting model")
        self.labels, self.hop, self.sample_rate = c.labels, c.hop, c.sample_rate
        self.detector = Detector(c.labels, c.hop / c.sample_rate, DetectorConfig.from_dict(c.detector, **detector))
        self.stream = Stream(self.session)
        self._pending = np.zeros(0, np.float32)

    def reset(self) -> None:
        """Start a new stream: zero the model state, the buffer and the detector."""
        self.stream.reset()
        self.detector.reset()
        self._pending = np.zeros(0, np.float32)

    def probabilities(self, chunk: np.ndarray) -> np.ndarray:
        """Advance over `chunk` (any length, float in [-1, 1] or int16) and return the
        (frames, labels) probabilities of the whole hops it completes."""
        chunk = np.asarray(chunk)
        if chunk.dtype == np.int16:
            chunk = chunk.astype(np.float32) / 32768.0
        chunk = chunk.astype(np.float32, copy=False).ravel()
        # the usual case (no remainder waiting) needs no copy
        audio = np.concatenate([self._pending, chunk]) if self._pending.size else chunk
        usable = audio.size - audio.size % self.hop
        self._pending = audio[usable:].copy()  # never a view into the caller's buffer
        if usable == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        piece = MAX_CALL_FRAMES * self.hop
        if usable <= piece:
            return self.stream.step(audio[None, :usable])[0]
        return np.concatenate([self.stream.step(audio[None, a:min(a + piece, usable)])[0]
                               for a in range(0, usable, piece)])

    def process(self, chunk: np.ndarray) -> list[dict]:
        """Feed audio; return events {keyword, time (s from stream start), score}."""
        probs = self.probabilities(chunk)
        return self.detector.update(probs) if probs.shape[0] else []
