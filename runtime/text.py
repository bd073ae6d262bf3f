"""Reading text for language models: plain or gzipped UTF-8, one sentence a line."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

from .errors import UserError
from .vocab import EOS


def read_lines(path: str | Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file, gzipped (.gz) or plain."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"text file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            yield from f
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.start}): convert it with iconv first") from None
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"cannot read {path}: {e}") from None


def sentences(path: str | Path) -> Iterator[list[str]]:
    """Yield each non-empty line as words with <eos> appended."""
    for line in read_lines(path):
        words = line.split()
        if words:
            yield words + [EOS]
