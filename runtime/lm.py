"""Next-word prediction on an edge-rnn language model, and perplexity through the runtime."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import UserError
from .session import Session
from .sampling import Mulberry32, sample
from .stream import Stream
from .text import tokens
from .textrules import sentences_of
from .vocab import Vocabulary


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Along the last axis, in float64 for a stable perplexity."""
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def typed_words(text: str | Iterable[str]) -> list[str | None]:
    """The whitespace-separated words of a string, None at each line break; or the words of a
    list of typed words."""
    if not isinstance(text, str):
        return [w for item in text for w in item.split()]
    if "\n" not in text:
        return text.split()
    words: list[str | None] = []
    for i, line in enumerate(text.split("\n")):
        words += [None] * (i > 0) + line.split()
    return words


class NextWordPredictor:
    """Feed typed text, ask for the most likely next words. One predictor is one stream.

    Text goes through the model's text rules (textrules.py): under the PTB rules
    `feed("It's 5,000 shares.")` feeds `it 's N shares <eos>`. A fresh or reset predictor starts
    as after an end of sentence. The unknown and end-of-sentence words are never suggested
    unless `show_special`; the rest keep their ranking. `max_k` is the most words you mean to ask
    for: when it fits beside the hidden words in the ranking the graph makes (metadata `top_k`),
    a one-word step runs through a preallocated binding and never fetches the vocabulary's
    logits; a longer list or a prefix (completing a word being typed) then runs the last step
    again for them. A larger max_k fetches the logits at every step.
    """

    def __init__(self, model: str | Path | Session, threads: int = 1, max_k: int | None = None,
                 show_special: bool = False):
        self.session = model if isinstance(model, Session) else Session(model, "lm", threads)
        c = self.session.contract
        if c.task != "lm":
            raise UserError(f"{self.session.path} is not a language model")
        self.vocab = Vocabulary(c.vocab, c.unk, c.eos)
        self.rules = c.text_rules
        self.hidden = frozenset() if show_special else frozenset({self.vocab.unk, self.vocab.eos})
        room = c.top_k - len(self.hidden)  # the graph's ranking always holds this many shown words
        self.fast = room > 0 and (max_k is None or max_k <= room)
        self.stream = Stream(self.session)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far; the next word is predicted as a sentence start."""
        self.stream.reset()
        self._advance([self.vocab.eos])

    @property
    def at_sentence_start(self) -> bool:
        return self._last[-1] == self.vocab.eos

    def feed(self, text: str | Iterable[str]) -> list[str]:
        """Advance over typed text: a string (its words and line breaks) or a list of typed words.

        The model's text rules make its words; a sentence end (a line break, or a mark the rules
        name, such as `.`) feeds the end-of-sentence word. Everything runs as one chunk. Returns
        the words fed as the vocabulary spells them (one it lacks went in as the unknown word).
        """
        eos = self.vocab.eos
        words = list(sentences_of(typed_words(text), self.rules, self._last[-1] != eos))
        if words:  # an empty chunk never reaches onnxruntime
            words = [self.vocab.words[eos] if w is None else w for w in words] if None in words else words
            self._advance(self.vocab.encode(words))
        return words

    def end_sentence(self) -> None:
        """End the sentence being typed (as a line break does); nothing when none is open."""
        if not self.at_sentence_start:
            self._advance([self.vocab.eos])

    def _advance(self, tokens: list[int]) -> None:
        self._last, self._logits, self._before, self._log_probs = tokens, None, None, None
        if not self.fast:
            self._logits = self.stream.step(np.asarray(tokens, np.int64)[None, :])[0, -1]
        elif len(tokens) == 1:
            probs, ids = self.stream.step_token(tokens[0])  # views, valid until the next step
            self._probs, self._ids = probs[0], ids[0]
        else:
            probs, ids = self.stream.step_outputs(np.asarray(tokens, np.int64)[None, :], ["next_probs", "next_ids"])
            self._probs, self._ids = probs[0], ids[0]

    def top_k(self, k: int = 5, prefix: str = "") -> list[tuple[str, float]]:
        """The k most likely next words with their probabilities, best first. With `prefix` (the
        start of the word being typed, spelled as typed), only words that start with it, ranked
        over the whole vocabulary; probabilities stay the model's (not renormalised)."""
        if not 1 <= k <= len(self.vocab):
            raise ValueError(f"k must be between 1 and the vocabulary's size, {len(self.vocab)}")
        words = self.vocab.words
        return [(words[i], p) for i, p in self._ranked(k, self.rules.prefix(prefix) if prefix else "", self.hidden)]

    def _ranked(self, k: int, prefix: str, hidden: frozenset[int]) -> list[tuple[int, float]]:
        """(id, probability) of the k best words that start with prefix and are not hidden."""
        if self.fast and not prefix and k + len(hidden) <= self._ids.size:
            ids, probs = self._ids.tolist(), self._probs.tolist()
            return [(i, p) for i, p in zip(ids[: k + len(hidden)], probs) if i not in hidden][:k]
        logp = self._logp()
        ids = self.vocab.starting_with(prefix) if prefix else None
        z = logp if ids is None else logp[ids]
        m = min(k + len(hidden), z.size)
        if m == 0:
            return []
        top = np.argpartition(-z, m - 1)[:m] if m < z.size else np.arange(z.size)
        top = top[np.argsort(-z[top], kind="stable")]
        top = top if ids is None else ids[top]
        return [(i, math.exp(logp[i])) for i in top.tolist() if i not in hidden][:k]

    def _logp(self) -> np.ndarray:
        """Log-probabilities of every next word (vocab,). On the fast path the last step is run
        again from the state before it, for its logits: only when a prefix or a long list asks."""
        if self._log_probs is None:
            if self._logits is None:
                before = self._before if self._before is not None else self.stream.previous_state
                x = np.asarray(self._last, np.int64)[None, :]
                self._logits = self.session.run_outputs(x, before, ["logits"])[0][0, -1]
            self._log_probs = log_softmax(self._logits)
        return self._log_probs

    def complete(self, n: int, temperature: float = 0.0, top_k: int = 5,
                 seed: int | Mulberry32 | None = None) -> tuple[list[tuple[str, float]], bool]:
        """Continue the text by up to n words, stopping at the end of the sentence.

        Each word is the most likely one (temperature 0), or one of the top_k most likely drawn
        with weight p ** (1 / temperature) (sampling.py). `seed` makes the draws reproducible (the
        same as the JavaScript client's); pass one Mulberry32 to continue a sequence over many
        calls. The unknown word is never chosen. Returns the words with their probabilities and
        whether the sentence ended; the predictor stays where it was.
        """
        if n < 0 or temperature < 0 or top_k < 1:
            raise ValueError("complete needs n >= 0, temperature >= 0 and top_k >= 1")
        rng = seed if isinstance(seed, Mulberry32) else Mulberry32(seed)
        hide, saved = frozenset({self.vocab.unk}), self.get_state()
        words: list[tuple[str, float]] = []
        try:
            for _ in range(n):
                ranked = self._ranked(1 if temperature == 0 else top_k, "", hide)
                token, prob = ranked[0] if temperature == 0 else sample(ranked, temperature, rng)
                if token == self.vocab.eos:
                    return words, True
                words.append((self.vocab.words[token], prob))
                self._advance([token])
            return words, False
        finally:
            self.set_state(saved)

    def get_state(self) -> tuple:
        """Everything needed to continue later: the recurrent state and the pending prediction."""
        if self.fast:
            before = self._before if self._before is not None else self.stream.previous_state
            pending = (self._probs.copy(), self._ids.copy(), [s.copy() for s in before])
        else:
            pending = (self._logits.copy(),)
        return self.stream.get_state(), list(self._last), pending

    def set_state(self, saved: tuple) -> None:
        state, last, pending = saved
        self.stream.set_state(state)
        self._last, self._logits, self._log_probs = list(last), None, None
        if self.fast:
            self._probs, self._ids, self._before = pending[0].copy(), pending[1].copy(), pending[2]
        else:
            self._logits = pending[0].copy()


def evaluate_text(session: Session, path: str | Path, chunk: int = 256,
                  on_progress: Callable[[int], None] | None = None) -> dict:
    """Perplexity and top-1/top-5 accuracy over a text file, streamed in chunks with state carried.

    The text is one stream (sentences joined with <eos>), started as after an <eos>, made into
    words by the model's text rules. It is read as it goes, so memory does not grow with the file
    or its lines.
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

    for token in tokens(path, vocab, c.text_rules):
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
