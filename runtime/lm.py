"""Next-word prediction on an edge-rnn language model, and perplexity through the runtime."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
from .session import Session
from .stream import Stream
from .text import tokens
from .vocab import Vocabulary


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Along the last axis, in float64 for a stable perplexity."""
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class NextWordPredictor:
    """Feed words, ask for the most likely next words. One predictor is one stream.

    A fresh or reset predictor starts as after an end of sentence. When the model ranks the
    next words inside its graph (metadata `top_k`) and `max_k` fits, a one-word step runs
    through a preallocated binding and never fetches the vocabulary's logits.
    """

    def __init__(self, model: str | Path | Session, threads: int = 1, max_k: int | None = None):
        self.session = model if isinstance(model, Session) else Session(model, "lm", threads)
        c = self.session.contract
        if c.task != "lm":
            raise UserError(f"{self.session.path} is not a language model")
        self.vocab = Vocabulary(c.vocab, c.unk, c.eos)
        self.fast = c.top_k > 0 and (max_k is None or max_k <= c.top_k)
        self.max_k = (max_k or c.top_k) if self.fast else (max_k or len(c.vocab))
        self.stream = Stream(self.session)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far; the next word is predicted as a sentence start."""
        self.stream.reset()
        self._advance([self.vocab.eos])

    def feed(self, words: str | Iterable[str]) -> None:
        """Advance over words (a string is split on whitespace). A prefix runs as one chunk."""
        tokens = self.vocab.encode(words.split() if isinstance(words, str) else words)
        if tokens:  # an empty chunk never reaches onnxruntime
            self._advance(tokens)

    def _advance(self, tokens: list[int]) -> None:
        if not self.fast:
            self._logits = self.stream.step(np.asarray(tokens, np.int64)[None, :])[0, -1]
        elif len(tokens) == 1:
            probs, ids = self.stream.step_token(tokens[0])  # views, valid until the next step
            self._probs, self._ids = probs[0], ids[0]
        else:
            probs, ids = self.stream.step_outputs(np.asarray(tokens, np.int64)[None, :], ["next_probs", "next_ids"])
            self._probs, self._ids = probs[0], ids[0]

    def top_k(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most likely next words with their probabilities, best first."""
        if not 1 <= k <= self.max_k:
            raise ValueError(f"k must be between 1 and {self.max_k} for this predictor (see max_k)")
        words = self.vocab.words
        if self.fast:
            return [(words[i], float(p)) for i, p in zip(self._ids[:k].tolist(), self._probs[:k].tolist())]
        idx = np.argpartition(-self._logits, k - 1)[:k]
        idx = idx[np.argsort(-self._logits[idx])]
        probs = np.exp(log_softmax(self._logits)[idx])
        return [(words[i], float(p)) for i, p in zip(idx, probs)]

    def get_state(self) -> tuple:
        """Everything needed to continue later: the recurrent state and the pending prediction."""
        pending = (self._probs.copy(), self._ids.copy()) if self.fast else (self._logits.copy(),)
        return self.stream.get_state(), pending

    def set_state(self, saved: tuple) -> None:
        state, pending = saved
        self.stream.set_state(state)
        if self.fast:
            self._probs, self._ids = pending[0].copy(), pending[1].copy()
        else:
            self._logits = pending[0].copy()


def evaluate_text(session: Session, path: str | Path, chunk: int = 256,
                  on_progress: Callable[[int], None] | None = None) -> dict:
    """Perplexity and top-1/top-5 accuracy over a text file, streamed in chunks with state carried.

    The text is one stream (sentences joined with <eos>), started as after an <eos>. It is read
    as it goes, so memory does not grow with the file or its lines.
    """
    if chunk < 1:
        raise UserError("--chunk must be at least 1")
    c = session.contract
    vocab = Vocabulary(c.vocab, c.unk, c.eos)
    totals = {"nll": 0.0, "top1": 0, "top5": 0, "unk": 0, "n": 0}
    state, pending = session.zero_state(1), [vocab.eos]  # pending[0] is the next input

    def score(ids: list[int]) -> None:  # ids[:-1] are fed, ids[1:] are the targets
        nonlocal state
        x, y = np.asarray(ids[:-1], np.int64), np.asarray(ids[1:], np.int64)
        logits, state = session.run(x[None, :], state)
        z = logits[0]  # (time, vocab)
        peak = z.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(z - peak).sum(axis=-1, dtype=np.float64)) + peak[:, 0]
        target = z[np.arange(y.size), y]
        higher = (z > target[:, None]).sum(axis=-1)  # how many words score above the target
        totals["nll"] += float((log_norm - target).sum())
        totals["top1"] += int((higher == 0).sum())
        totals["top5"] += int((higher < 5).sum())
        totals["unk"] += int((y == vocab.unk).sum())
        totals["n"] += y.size
        if on_progress:
            on_progress(y.size)

    for token in tokens(path, vocab.encode):
        pending.append(token)
        if len(pending) > chunk:
            score(pending)
            pending = pending[-1:]
    if len(pending) > 1:
        score(pending)
    n = totals["n"]
    if n == 0:
        raise UserError(f"{path} holds no words")
    return {"tokens": n, "perplexity": math.exp(totals["nll"] / n), "top1_accuracy": totals["top1"] / n,
            "top5_accuracy": totals["top5"] / n, "unk_rate": totals["unk"] / n,
            "precision": c.precision, "chunk": chunk}
