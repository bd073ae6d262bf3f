"""Many language-model streams batched through one session.

Each stream owns a row of the pool's state arrays; streams join and leave at any time; `step()`
advances every stream that has a token waiting, in one onnxruntime call, and returns each one's
next-word ranking. Throughput grows with the batch while each stream stays independent: every
row is computed on its own (an int8 model scales each row's activations separately), so a
stream's numbers do not depend on which others share its step.
"""

from __future__ import annotations

import numpy as np

from .errors import UserError
from .session import Session
from .vocab import Vocabulary


class StreamPool:
    def __init__(self, session: Session, capacity: int = 256):
        c = session.contract
        if c.task != "lm" or not c.top_k:
            raise UserError(f"{session.path}: a stream pool needs a language model with top-k outputs")
        self.session, self.capacity = session, capacity
        self.vocab = Vocabulary(c.vocab, c.unk, c.eos)
        self.states = [np.zeros((capacity, s.size), np.float32) for s in c.states]  # row = stream
        self._free = list(range(capacity - 1, -1, -1))
        self._pending: dict[int, int] = {}
        self._active: set[int] = set()

    def join(self) -> int:
        """A new stream (zero state, as after an end of sentence once its first token is <eos>)."""
        if not self._free:
            raise RuntimeError(f"the pool is full ({self.capacity} streams)")
        slot = self._free.pop()
        for s in self.states:
            s[slot] = 0.0
        self._active.add(slot)
        return slot

    def leave(self, slot: int) -> None:
        """End a stream; its row is free for the next `join()`. A slot that is not in the pool
        (never joined, or left already) is refused: freeing it twice would hand one row to two
        streams."""
        if slot not in self._active:
            raise KeyError(f"stream {slot} is not in the pool (never joined, or left already)")
        self._active.discard(slot)
        self._pending.pop(slot, None)
        self._free.append(slot)

    def push(self, slot: int, token: int) -> None:
        """Queue one token for a stream; it is consumed by the next `step()`."""
        if slot not in self._active:
            raise KeyError(f"stream {slot} has not joined the pool")
        if slot in self._pending:
            raise ValueError(f"stream {slot} already has a token waiting; call step() first")
        self._pending[slot] = token

    def push_word(self, slot: int, word: str) -> None:
        """Queue one word as the vocabulary spells it (typed text needs the model's text rules
        first: `session.contract.text_rules.split(word)`)."""
        self.push(slot, self.vocab.encode([word])[0])

    def step(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Advance every stream with a token waiting. Returns {slot: (next_probs, next_ids)}."""
        if not self._pending:
            return {}
        slots = np.fromiter(self._pending.keys(), np.int64, len(self._pending))
        tokens = np.fromiter(self._pending.values(), np.int64, len(self._pending))[:, None]
        self._pending.clear()
        probs, ids, *new = self.session.run_outputs(tokens, [s[slots] for s in self.states],
                                                    ["next_probs", "next_ids"])
        for s, n in zip(self.states, new):
            s[slots] = n
        return {int(slot): (probs[i], ids[i]) for i, slot in enumerate(slots)}
