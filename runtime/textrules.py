"""Text rules: how typed text becomes the words a language model was trained on.

A corpus has conventions (Penn Treebank: lower case, clitics split as in `it 's`, numbers as
`N`, no punctuation, one sentence a line). The rules that produce them travel in the model
(`edge_rnn.text_rules`, docs/model-format.md) and this one implementation applies them to
training text (training/corpus.py) and to text at run time (lm.py, text.py), so a model sees
typed text the way it saw its training text. clients/js/src/textrules.mjs implements the same
spec; tests/data/typed_text.jsonl holds typed sentences and the words both must make of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .errors import UserError

NUMBER = re.compile(r"[0-9]+(?:[.,:/][0-9]+)*|\.[0-9]+")  # 5 5,000 3.5 1/2 9:30 .5 (ASCII digits)
INITIALS = re.compile(r"(?:[a-z]\.)+")  # u.s. p.m. j.
MAX_INITIALS = 24  # characters: longer runs of letters and periods are not initials
LIMITS = {"strip": 256, "apostrophes": 16, "entries": 4096, "entry": 64}
KEYS = ("lowercase", "apostrophes", "strip", "sentence_end", "keep_period", "initials", "symbols", "clitics",
        "number")


@dataclass(frozen=True)
class TextRules:
    """What is done to each whitespace-separated word, in this order (docs/model-format.md):
    apostrophes read as `'`; `strip` characters dropped from both ends (a `sentence_end` one
    among those at the end ends the sentence; a final `.` stays when the word is in `keep_period`
    or, with `initials`, is letters each followed by a period); lower case; a `symbols`
    character next to a digit split off and renamed; a `clitics` suffix split off; a number
    renamed `number`. The default rules do nothing: a word is itself."""

    lowercase: bool = False
    apostrophes: str = ""
    strip: str = ""
    sentence_end: str = ""
    keep_period: frozenset[str] = frozenset()
    initials: bool = False
    symbols: dict[str, str] = field(default_factory=dict)
    clitics: tuple[str, ...] = ()
    number: str = ""

    def __post_init__(self) -> None:
        # a word with none of these characters and no clitic's ending is only lowered (the common
        # case, kept cheap)
        special = set(self.apostrophes) | set(self.strip) | set(self.symbols)
        if self.number:
            special |= set("0123456789")
        object.__setattr__(self, "_special", frozenset(special))
        object.__setattr__(self, "_apostrophes", {ord(a): "'" for a in self.apostrophes})

    @property
    def is_plain(self) -> bool:
        """True when a word is always itself (no rules recorded)."""
        return self == TextRules()

    def to_dict(self) -> dict:
        return {"lowercase": self.lowercase, "apostrophes": self.apostrophes, "strip": self.strip,
                "sentence_end": self.sentence_end, "keep_period": sorted(self.keep_period),
                "initials": self.initials, "symbols": dict(sorted(self.symbols.items())),
                "clitics": list(self.clitics), "number": self.number}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @staticmethod
    def from_dict(value: object, where: str = "text rules") -> "TextRules":
        """Rules from their JSON object, every value checked for type and size; a key this
        version does not know is refused (text must never be prepared differently from training)."""
        return TextRules(**_checked(value, where))

    def split(self, word: str) -> tuple[list[str], bool]:
        """One whitespace-free typed word -> (the model's words for it, whether it ends a sentence)."""
        lowered = word.lower() if self.lowercase and word != self.number else word
        if self._special.isdisjoint(word) and self._special.isdisjoint(lowered) and not lowered.endswith(self.clitics):
            return [lowered], False
        if self.apostrophes:
            word = word.translate(self._apostrophes)
        start, end, ends = 0, len(word), False
        while start < end and word[start] in self.strip:
            start += 1
        while end > start and word[end - 1] in self.strip:
            if word[end - 1] == "." and self._keeps_period(word[start:end]):
                break
            ends = ends or word[end - 1] in self.sentence_end
            end -= 1
        core = word[start:end]
        if not core:
            return [], ends
        if core == self.number:  # already in the corpus's form
            return [core], ends
        if self.lowercase:
            core = core.lower()
        head, tail = [], []
        if len(core) > 1 and core[0] in self.symbols and core[1] in "0123456789.":
            head, core = [self.symbols[core[0]]], core[1:]
        if len(core) > 1 and core[-1] in self.symbols and core[-2] in "0123456789":
            tail, core = [self.symbols[core[-1]]], core[:-1]
        if core in self.symbols:
            return head + [self.symbols[core]] + tail, ends
        clitic = ""
        for c in self.clitics:
            if len(core) > len(c) and core.endswith(c):
                clitic = c
                break
        stem = core[: len(core) - len(clitic)]
        if self.number and NUMBER.fullmatch(stem):
            stem = self.number
        return head + [stem] + ([clitic] if clitic else []) + tail, ends

    def _keeps_period(self, word: str) -> bool:
        if self.lowercase:
            word = word.lower()
        if word in self.keep_period:
            return True
        return self.initials and len(word) <= MAX_INITIALS and INITIALS.fullmatch(word) is not None

    def prefix(self, typed: str) -> str:
        """The start of a word being typed, as the vocabulary spells it (for completion)."""
        if self.apostrophes:
            typed = typed.translate(self._apostrophes)
        typed = typed.lstrip(self.strip) if self.strip else typed
        return typed.lower() if self.lowercase else typed


def sentences_of(words: Iterable[str | None], rules: TextRules, open_: bool = False) -> Iterator[str | None]:
    """Typed words (None at each line end) -> the model's words, None at each sentence end (a
    line end, or a `sentence_end` mark): never two Nones in a row, never one before any word.
    `open_`: a sentence was already begun before these words."""
    for word in words:
        tokens, ends = ([], True) if word is None else rules.split(word)
        for token in tokens:
            yield token
            open_ = True
        if ends and open_:
            yield None
            open_ = False


def _checked(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise UserError(f"{where}: edge_rnn.text_rules must be a JSON object")
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise UserError(f"{where}: edge_rnn.text_rules has a rule this edge-rnn does not know "
                        f"({str(unknown[0])[:40]!r}): upgrade edge-rnn")
    out = {}
    for key in ("lowercase", "initials"):
        out[key] = _typed(value, key, bool, False, where)
    for key in ("apostrophes", "strip", "sentence_end", "number"):
        out[key] = _typed(value, key, str, "", where)
        if len(out[key]) > LIMITS.get(key, LIMITS["entry"]):
            raise UserError(f"{where}: edge_rnn.text_rules {key} is longer than {LIMITS.get(key, LIMITS['entry'])}")
    if not set(out["sentence_end"]) <= set(out["strip"]):
        raise UserError(f"{where}: edge_rnn.text_rules sentence_end characters must also be in strip")
    out["keep_period"] = frozenset(_entries(value, "keep_period", where))
    out["clitics"] = tuple(_entries(value, "clitics", where))
    symbols = _typed(value, "symbols", dict, {}, where)
    _entries({"symbols": list(symbols.values())}, "symbols", where)
    if len(symbols) > LIMITS["entries"] or not all(isinstance(k, str) and len(k) == 1 for k in symbols):
        raise UserError(f"{where}: edge_rnn.text_rules symbols must map single characters to words")
    out["symbols"] = dict(symbols)
    return out


JSON_NAMES = {bool: "boolean", str: "string", list: "list", dict: "object"}


def _typed(value: dict, key: str, kind: type, default, where: str):
    got = value.get(key, default)
    if not isinstance(got, kind):
        raise UserError(f"{where}: edge_rnn.text_rules {key} must be a JSON {JSON_NAMES[kind]}")
    return got


def _entries(value: dict, key: str, where: str) -> list[str]:
    got = _typed(value, key, list, [], where)
    if len(got) > LIMITS["entries"] or not all(isinstance(w, str) and 0 < len(w) <= LIMITS["entry"] for w in got):
        raise UserError(f"{where}: edge_rnn.text_rules {key} must be at most {LIMITS['entries']} non-empty "
                        f"strings of at most {LIMITS['entry']} characters")
    return got


# Penn Treebank (Mikolov's language-modelling version); its corpus form passes through unchanged.
# keep_period is every word of its vocabulary that ends in a period but initials, so "no." and
# "ill." keep theirs as in the corpus (there a line end still ends the sentence).
PTB = TextRules(
    lowercase=True, apostrophes="\u2019\u02bc", strip=".,;:!?\"()[]{}-\u2018\u201c\u201d\u00ab\u00bb\u2013\u2014\u2026`",
    sentence_end=".!?\u2026",
    keep_period=frozenset(
        "adm. ala. ariz. aug. bros. calif. cie. co. col. colo. conn. corp. cos. dec. del. dr. etc. feb. fla. ga. "
        "gen. gov. ill. inc. ind. jan. jr. kan. ky. ltd. mass. md. messrs. mich. minn. mo. mr. mrs. ms. neb. "
        "nev. no. non-u.s. nov. oct. okla. ore. pa. prof. rep. rev. sen. sens. sept. sr. st. tenn. va. vs. "
        "wash. wis.".split()),
    initials=True, symbols={"$": "$", "#": "#", "%": "N"},
    clitics=("n't", "'s", "'re", "'ve", "'m", "'ll", "'d", "'"), number="N")
PRESETS = {"none": TextRules(), "ptb": PTB}


def rules_option(value: str) -> TextRules:
    """`--text-rules`: a preset's name (ptb, none) or a JSON file of rules."""
    if value in PRESETS:
        return PRESETS[value]
    path = Path(value)
    if not path.is_file():
        raise UserError(f"--text-rules must be one of {', '.join(PRESETS)} or a JSON file of rules, got {value!r}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not a JSON file of text rules: {e}") from None
    return TextRules.from_dict(data, str(path))
