"""Keyword data listed in a manifest: CSV with a header row, or JSON Lines (one object a line).

Fields: `path` (relative to the manifest's folder, or absolute), `label`, and optionally
`speaker`, `start` and `end` (seconds into the file: the word is that stretch) and `split`
(train, valid or test). A line that cannot be used is reported with its number; the report
lists every such line at once (datasets.py gathers them).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from edge_rnn.runtime.errors import UserError

from .entries import Entry, Layout, word_of

FIELDS = ("path", "label", "speaker", "start", "end", "split")
SPLIT_NAMES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "dev": "valid",
               "test": "test", "testing": "test"}


def read_manifest(path: Path) -> Layout:
    """The manifest's entries (unsorted) and the problems of its lines."""
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _json_rows(path)
    entries, problems = [], []
    for line, row in rows:
        where = f"{path.name} line {line}"
        if isinstance(row, str):  # the line itself could not be read
            problems.append(f"{where}: {row}")
            continue
        entry = _entry(row, path.parent, where)
        if isinstance(entry, str):
            problems.append(f"{where}: {entry}")
        else:
            entries.append(entry)
    if not entries and not problems:
        raise UserError(f"{path} lists no recordings")
    return Layout("manifest", path.parent, entries, [], problems, [])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; convert it with iconv first") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def _csv_rows(path: Path):
    reader = csv.DictReader(_read_text(path).splitlines())
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "path" not in columns or "label" not in columns:
        raise UserError(f"{path} needs a header row with columns path and label (and optionally speaker, "
                        f"start, end, split); found: {', '.join(columns) or 'nothing'}")
    reader.fieldnames = columns
    for row in reader:
        if None in row:  # more cells than the header names
            yield reader.line_num, f"{len(row[None])} cells more than the header's {len(columns)}"
        elif any(v and v.strip() for v in row.values()):
            yield reader.line_num, {k: v for k, v in row.items() if v is not None}


def _json_rows(path: Path):
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            yield number, f"not a JSON object ({e.msg})"
            continue
        yield number, row if isinstance(row, dict) else f"not a JSON object but {type(row).__name__}"


def _entry(row: dict, base: Path, where: str) -> Entry | str:
    """An Entry, or what is wrong with the row."""
    row = {str(k).strip().lower(): v for k, v in row.items()}
    text = {k: "" if row.get(k) is None else str(row[k]).strip() for k in FIELDS}
    if not text["path"]:
        return "no path"
    if not text["label"]:
        return f"empty label for {text['path']}"
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = float(text[key]) if text[key] else None
        except ValueError:
            return f"{key} {text[key]!r} is not a number of seconds"
        if times[key] is not None and not (math.isfinite(times[key]) and times[key] >= 0):
            return f"{key} {text[key]!r} is not a number of seconds >= 0"
    if times["start"] is not None and times["end"] is not None and times["end"] <= times["start"]:
        return f"end {times['end']:g} s is not after start {times['start']:g} s"
    split = SPLIT_NAMES.get(text["split"].lower()) if text["split"] else None
    if text["split"] and split is None:
        return f"split {text['split']!r} is not train, valid or test"
    path = Path(text["path"])
    return Entry(path if path.is_absolute() else base / path, word_of(text["label"]), text["speaker"],
                 f"{where} ({text['path']})", times["start"], times["end"], split)
