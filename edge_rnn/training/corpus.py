"""Word corpora for language models: a capped vocabulary and the text as one token stream."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.text import sentences
from edge_rnn.runtime.textrules import TextRules
from edge_rnn.runtime.vocab import EOS, UNK, Vocabulary


def build_vocabulary(path: str | Path, max_size: int = 10000, rules: TextRules = TextRules()) -> Vocabulary:
    """<unk>, <eos>, then the most frequent words (ties broken by first appearance) up to max_size,
    counted after the text rules (the same the model applies at run time)."""
    counts: Counter[str] = Counter()
    for words in sentences(path, rules):
        counts.update(words)
    counts.pop(UNK, None)
    counts.pop(EOS, None)
    return Vocabulary([UNK, EOS] + [w for w, _ in counts.most_common(max(0, max_size - 2))])


def encode_file(path: str | Path, vocab: Vocabulary, rules: TextRules = TextRules()) -> list[int]:
    """The whole file as one token stream (sentences joined, each ending in <eos>), after the text rules."""
    ids: list[int] = []
    for words in sentences(path, rules):
        ids.extend(vocab.encode(words))
    if not ids:
        raise UserError(f"{path} holds no words")
    return ids
