"""One labelled recording as every data layout describes it (training/datasets.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPLITS = ("train", "valid", "test")
_NUMBER = re.compile(r"(\d+)")


def word_of(token: str) -> str:
    """A label as a word: lower case, and a lone digit as its English name (`7` -> `seven`)."""
    token = token.strip()
    return DIGITS[int(token)] if token.isdigit() and int(token) < 10 else token.lower()


@dataclass(frozen=True)
class Entry:
    """One labelled recording, or a stretch of one (`start`/`end` in seconds)."""

    path: Path
    word: str
    speaker: str  # "" when the layout names none
    where: str  # how a report names it: the file, or the manifest and its line
    start: float | None = None
    end: float | None = None
    split: str | None = None  # train, valid or test; None: the data does not say

    def sort_key(self) -> tuple:
        name = tuple(int(p) if p.isdigit() else p for p in _NUMBER.split(self.path.name))
        return self.word, self.speaker, name, self.start or 0.0, str(self.path)


@dataclass
class Layout:
    """What a data path holds: its entries, background recordings, and problems found so far."""

    kind: str  # "fsdd", "folders" or "manifest"
    root: Path
    entries: list[Entry]
    background: list[Path]
    problems: list[str]
    notes: list[str]
