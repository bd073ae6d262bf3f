"""Reading text for language models: plain or gzipped UTF-8, one sentence a line, read as a
stream of words, so memory stays flat however long a line or a file is."""

from __future__ import annotations

import codecs
import gzip
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .errors import UserError
from .textrules import TextRules, sentences_of
from .vocab import EOS, Vocabulary

BLOCK = 1 << 16  # bytes read at a time
MAX_WORD = 1 << 12  # characters; a longer run without spaces is cut into words this long


def words_of(stream: IO[bytes], where: str) -> Iterator[str | None]:
    """Each whitespace-separated word of a UTF-8 byte stream, and None at the end of each line
    (a sentence end). A byte-order mark at the start is dropped; text that is not UTF-8 is a
    UserError naming its line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    read = getattr(stream, "read1", stream.read)  # what has arrived: a pipe's words as they come
    line, partial = 1, ""
    while True:
        block = read(BLOCK)
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as e:
            line += block[: e.start].count(b"\n")
            raise UserError(f"{where}: line {line} is not UTF-8 text; convert it with iconv first") from None
        pieces = (partial + text).split("\n")
        partial = pieces.pop() if block else ""
        if not block and pieces == [""]:
            pieces = []
        for piece in pieces:
            yield from _words(piece)
            yield None
            line += 1
        if not block:
            yield from _words(partial)
            return
        if len(partial) > MAX_WORD * 4:  # one very long line: emit its complete words now
            cut = partial.rfind(" ", 0, len(partial) - MAX_WORD)
            cut = cut if cut > 0 else len(partial) - MAX_WORD
            yield from _words(partial[:cut])
            partial = partial[cut:]


def _words(text: str) -> Iterator[str]:
    for word in text.split():
        yield from (word[i : i + MAX_WORD] for i in range(0, len(word), MAX_WORD))


@contextmanager
def open_text(path: str | Path) -> Iterator[IO[bytes]]:
    """A text file as bytes, gunzipped when it ends in .gz; read errors become UserErrors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"text file not found: {path}")
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            yield f
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"cannot read {path}: {e} (a damaged or truncated file?)") from None


def sentences(path: str | Path, rules: TextRules = TextRules()) -> Iterator[list[str]]:
    """Each sentence's words, the text rules applied, with <eos> appended: a sentence ends at a
    line end and wherever the rules find one (a final `.` under the PTB rules)."""
    with open_text(path) as f:
        words: list[str] = []
        for word in sentences_of(words_of(f, str(path)), rules):
            if word is not None:
                words.append(word)
            else:
                yield words + [EOS]
                words = []
        if words:
            yield words + [EOS]


def tokens(path: str | Path, vocab: Vocabulary, rules: TextRules = TextRules()) -> Iterator[int]:
    """The file as one stream of token ids, the text rules applied, each sentence ending in
    <eos>. Flat memory on lines of any length."""
    get, unk, in_sentence = vocab.index.get, vocab.unk, False
    with open_text(path) as f:
        for word in sentences_of(words_of(f, str(path)), rules):
            in_sentence = word is not None
            yield vocab.eos if word is None else get(word, unk)
        if in_sentence:
            yield vocab.eos
