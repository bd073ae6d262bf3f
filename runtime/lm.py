"""Next-word prediction on an edge-rnn language model, and perplexity through the runtime."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
from .session import Session
from .stream import Stream
from .text import sentences
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

    The text is one stream (sentences joined with <eos>), started as after an <eos>.
    """
    if chunk < 1:
        raise UserError("--chunk must be at least 1")
    c = session.contract
    vocab = Vocabulary(c.vocab, c.unk, c.eos)
    ids = [vocab.eos]
    for words in sentences(path):
        ids.extend(vocab.encode(words))
    if len(ids) < 2:
        raise UserError(f"{path} holds no words")
    ids_arr = np.asarray(ids, np.int64)
    state = session.zero_state(1)
    nll, top1, top5, unk_targets = 0.0, 0, 0, 0
    for start in range(0, len(ids) - 1, chunk):
        x = ids_arr[start : min(start + chunk, len(ids) - 1)]
        y = ids_arr[start + 1 : start + 1 + x.size]
        logits, state = session.run(x[None, :], state)
        z = logits[0]  # (time, vocab)
        peak = z.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(z - peak).sum(axis=-1, dtype=np.float64)) + peak[:, 0]
        target = z[np.arange(y.size), y]
        nll += float((log_norm - target).sum())
        # rank of the target: how many words score higher (top-1: none, top-5: at most 4)
        higher = (z > target[:, None]).sum(axis=-1)
        top1 += int((higher == 0).sum())
        top5 += int((higher < 5).sum())
        unk_targets += int((y == vocab.unk).sum())
        if on_progress:
            on_progress(x.size)
    n = len(ids) - 1
    return {"tokens": n, "perplexity": math.exp(nll / n), "top1_accuracy": top1 / n,
            "top5_accuracy": top5 / n, "unk_rate": unk_targets / n,
            "precision": c.precision, "chunk": chunk}
