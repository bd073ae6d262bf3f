"""Word corpora: read plain or gzipped text, build a capped vocabulary, make training batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.text import EOS, UNK, sentences


class Vocab:
    """Word <-> id mapping; id 0 is <unk>. Travels inside the exported model."""

    def __init__(self, words: Iterable[str]):
        self.words = list(words)
        if UNK not in self.words or EOS not in self.words:
            raise ValueError("a vocabulary needs <unk> and <eos>")
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unk = self.index[UNK]
        self.eos = self.index[EOS]

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk
        return [get(w, unk) for w in words]

    @classmethod
    def build(cls, path: str | Path, max_size: int = 10000) -> "Vocab":
        """Keep the most frequent words (ties broken by first appearance) up to max_size."""
        counts: Counter[str] = Counter()
        for words in sentences(path):
            counts.update(words)
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        keep = [w for w, _ in counts.most_common(max(0, max_size - 2))]
        return cls([UNK, EOS] + keep)


def encode_file(path: str | Path, vocab: Vocab) -> list[int]:
    """The whole file as one token stream (sentences joined, each ending in <eos>)."""
    ids: list[int] = []
    for words in sentences(path):
        ids.extend(vocab.encode(words))
    if not ids:
        raise UserError(f"{path} holds no words")
    return ids
