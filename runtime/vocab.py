"""The word list of a language model: one class for training, export and the runtime."""

from __future__ import annotations

from typing import Iterable

from .errors import UserError

UNK = "<unk>"
EOS = "<eos>"


class Vocabulary:
    """Words and their token ids (a word's index). Travels inside the exported model.

    `encode` maps a word the vocabulary lacks to its lower-case form when that is known, else to
    the unknown word, the same way in training and at run time.
    """

    def __init__(self, words: Iterable[str], unk: str = UNK, eos: str = EOS):
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if unk not in self.index or eos not in self.index:
            raise UserError(f"a vocabulary needs its unknown word {unk!r} and end-of-sentence word {eos!r}")
        self.unk, self.eos = self.index[unk], self.index[eos]

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk
        return [get(w, get(w.lower(), unk)) for w in words]
