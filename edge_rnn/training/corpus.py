"""Word corpora for language models, read as a stream of lines: memory does not grow with the text.

One pass builds the vocabulary and counts the tokens; training then reads the text again as
token blocks of a set size (`token_blocks`), or keeps it in memory when it is small enough.
"""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.text import open_text, words_of
from edge_rnn.runtime.textrules import TextRules, sentences_of
from edge_rnn.runtime.vocab import EOS, UNK, Vocabulary


PIECE = 4096  # words handled at a time


def word_pieces(path: str | Path, rules: TextRules = TextRules()) -> Iterator[list[str]]:
    """The file's words after the text rules, each sentence (a non-empty line, or where the rules
    end one) ending in <eos>, in lists of up to PIECE words: flat memory however long a line is."""
    piece: list[str] = []
    with open_text(path) as f:
        in_line = False
        for word in sentences_of(words_of(f, str(path)), rules):
            if word is None:
                if in_line:
                    piece.append(EOS)
                in_line = False
            else:
                piece.append(word)
                in_line = True
            if len(piece) >= PIECE:
                yield piece
                piece = []
        if in_line:
            piece.append(EOS)
    if piece:
        yield piece


def count_words(path: str | Path, on_tokens: Callable[[int], None] | None = None,
                rules: TextRules = TextRules()) -> tuple[Counter, int]:
    """(how often each word occurs, tokens in the file: words and one <eos> per line) in one
    pass; `on_tokens(n)` hears of each n tokens read."""
    counts: Counter[str] = Counter()
    tokens = 0
    for piece in word_pieces(path, rules):
        counts.update(piece)
        tokens += len(piece)
        if on_tokens:
            on_tokens(len(piece))
    return counts, tokens


def vocabulary_of(counts: Counter, max_size: int = 10000) -> Vocabulary:
    """<unk>, <eos>, then the most frequent words (ties broken by first appearance) up to max_size."""
    counts = Counter(counts)
    counts.pop(UNK, None)
    counts.pop(EOS, None)
    return Vocabulary([UNK, EOS] + [w for w, _ in counts.most_common(max(0, max_size - 2))])


def build_vocabulary(path: str | Path, max_size: int = 10000, rules: TextRules = TextRules()) -> Vocabulary:
    """The vocabulary of a text, counted after the text rules (those the model applies at run time)."""
    return vocabulary_of(count_words(path, rules=rules)[0], max_size)


def token_blocks(path: str | Path, vocab: Vocabulary, size: int, rules: TextRules = TextRules()) -> Iterator[np.ndarray]:
    """The file's token ids (sentences joined, each ending in <eos>) as int32 arrays of `size`
    tokens (4 bytes a token), the last one shorter; one block is built at a time."""
    buf = array("i")
    for piece in word_pieces(path, rules):
        buf.extend(vocab.encode(piece))
        while len(buf) >= size:
            yield np.frombuffer(buf, np.int32, count=size).copy()  # no local: the reader owns the block
            del buf[:size]
    if buf:
        yield np.frombuffer(buf, np.int32).copy()


def encode_file(path: str | Path, vocab: Vocabulary, rules: TextRules = TextRules()) -> list[int]:
    """The whole file as one token stream (for small texts; training reads `token_blocks`)."""
    ids: list[int] = []
    for piece in word_pieces(path, rules):
        ids.extend(vocab.encode(piece))
    if not ids:
        raise UserError(f"{path} holds no words")
    return ids
