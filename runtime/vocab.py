"""The word list of a language model: one class for training, export and the runtime."""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterable

import numpy as np

from .errors import UserError

UNK = "<unk>"
EOS = "<eos>"


class Vocabulary:
    """Words and their token ids (a word's index). Travels inside the exported model.

    `encode` takes words as the vocabulary spells them (the model's text rules make them from
    typed text, see textrules.py); a word the vocabulary lacks becomes the unknown word.
    """

    def __init__(self, words: Iterable[str], unk: str = UNK, eos: str = EOS):
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if unk not in self.index or eos not in self.index:
            raise UserError(f"a vocabulary needs its unknown word {unk!r} and end-of-sentence word {eos!r}")
        self.unk, self.eos = self.index[unk], self.index[eos]
        self._by_spelling: tuple[list[str], np.ndarray] | None = None  # built on the first prefix

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk
        return [get(w, unk) for w in words]

    def starting_with(self, prefix: str) -> np.ndarray:
        """Token ids of the words that start with `prefix`, in alphabetical order."""
        if self._by_spelling is None:
            order = sorted(range(len(self.words)), key=self.words.__getitem__)
            self._by_spelling = ([self.words[i] for i in order], np.asarray(order, np.int64))
        spelled, ids = self._by_spelling
        lo = bisect_left(spelled, prefix)
        return ids[lo : bisect_left(spelled, prefix + "\U0010ffff", lo)]
