"""How a keyword spotter's labels are laid out: background, other speech, then the keywords."""

from __future__ import annotations

BACKGROUND, UNKNOWN = "_background_", "_unknown_"
FIRST_KEYWORD = 2


def keyword_labels(keywords: list[str]) -> list[str]:
    """The label list of a spotter for these keywords."""
    return [BACKGROUND, UNKNOWN, *keywords]


def keywords_of(labels: list[str]) -> list[str]:
    """The keywords among a spotter's labels."""
    return list(labels[FIRST_KEYWORD:])
