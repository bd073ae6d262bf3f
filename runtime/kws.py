"""Keyword spotting on an edge-rnn model: audio chunks of any size in, keyword events out.

`KeywordSpotter.process(chunk)` buffers to a multiple of the model's hop, runs the model
(front end inside), smooths the per-frame probabilities, and fires an event when a keyword's
smoothed score reaches its threshold outside the refractory period after the last event.
The frame grid is fixed from the start of the stream, so events do not depend on chunking.
`finish()` ends a stream that has an end (a file, a closed pipe): a word in its last moments
is still reported, as if silence had followed it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .detector import Detector, DetectorConfig
from .errors import UserError
from .session import Session
from .stream import Stream

# Frames per model call at most: a long chunk is run in pieces (the state carries over exactly),
# so the memory of one call stays bounded whatever length a caller passes.
MAX_CALL_FRAMES = 1000
# After the input ends, how long a word may still take to be recognised (the speech embedding
# looks 0.76 s back); the detector's smoothing and decision time come on top.
FINISH_SECONDS = 1.0

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
        # NaN or infinite samples would poison the state for good, and values far outside [-1, 1]
        # are no audio: both are brought into range (a copy; the caller's buffer is not touched)
        chunk = np.clip(np.nan_to_num(chunk.astype(np.float32, copy=False).ravel(), nan=0.0, posinf=1.0,
                                      neginf=-1.0), -1.0, 1.0)
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

    def finish_samples(self) -> int:
        """How much digital silence `finish()` feeds: the rest of the current hop and enough whole
        hops for a word still being heard to be recognised and decided."""
        config = self.detector.config
        tail = FINISH_SECONDS + config.decision_s + config.smooth_frames * self.hop / self.sample_rate
        return int(math.ceil(tail * self.sample_rate / self.hop)) * self.hop - self._pending.size

    def finish(self) -> list[dict]:
        """The input has ended: follow it with digital silence (`finish_samples()`) and return the
        events that completes, then start a new stream (as `reset()`). An event's time may lie a
        little after the input's end: the frame where the model was surest."""
        events = self.process(np.zeros(self.finish_samples(), np.float32))
        self.reset()
        return events
