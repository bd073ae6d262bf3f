"""Keyword recordings in the layouts people have, told apart by what `--data` is.

- a manifest file (`.csv`, or `.jsonl` of one object a line): `path`, `label`, optional
  `speaker`, `start` and `end` (seconds) and `split` (train, valid or test); paths relative to
  the manifest (training/manifest.py);
- a folder with one sub-folder per word (the Speech Commands layout): `WORD/SPEAKER_nohash_N.wav`,
  the speaker from the file name, `_background_noise_/` as background recordings, and
  `validation_list.txt` / `testing_list.txt` (paths relative to the folder) naming the
  validation and test files;
- a folder of `WORD_SPEAKER_INDEX.wav` files (the Free Spoken Digit Dataset's naming).

Every layout yields the same `Entry` list, sorted the same way, so the same recordings train the
same model whatever their layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edge_rnn.runtime.errors import UserError

from .entries import Entry, Layout, word_of
from .manifest import read_manifest

BACKGROUND_FOLDER = "_background_noise_"
SPLIT_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson")
FSDD_NAME = re.compile(r"^([^_]+)_([^_]+)_(\d+)$")


def detect(data: str | Path) -> str:
    """The layout of `data`: "manifest", "folders" or "fsdd"."""
    data = Path(data)
    if data.is_file():
        if data.suffix.lower() not in MANIFEST_SUFFIXES:
            raise UserError(f"{data} is a file but not a manifest: give a .csv or .jsonl manifest, or a folder")
        return "manifest"
    if not data.is_dir():
        raise UserError(f"data not found: {data}")
    top = [p for p in data.iterdir() if _is_wav(p)]
    words = [d for d in _word_folders(data) if any(_is_wav(p) for p in d.iterdir())]
    if top and words:
        raise UserError(f"{data} holds both WAV files and word folders ({words[0].name}/); "
                        "keep one layout in a folder, or list the files in a manifest")
    if words:
        return "folders"
    if top:
        return "fsdd"
    raise UserError(f"no recordings in {data}: expected WORD/*.wav sub-folders, WORD_SPEAKER_INDEX.wav files, "
                    "or a manifest file (.csv or .jsonl)")


def scan(data: str | Path) -> Layout:
    """The entries of `data` in canonical order (word, speaker, file name in natural order)."""
    data = Path(data)
    kind = detect(data)
    if kind == "manifest":
        layout = read_manifest(data)
    elif kind == "folders":
        layout = _scan_folders(data)
    else:
        layout = _scan_fsdd(data)
    layout.entries.sort(key=Entry.sort_key)
    return layout


def speaker_of(stem: str) -> str:
    """The speaker in a file name: before `_nohash_` (Speech Commands), the middle of
    WORD_SPEAKER_INDEX, else before the first `_`; "" for a name without one."""
    if "_nohash_" in stem:
        return stem.split("_nohash_")[0]
    m = FSDD_NAME.match(stem)
    if m:
        return m.group(2)
    return stem.split("_")[0] if "_" in stem else ""


def _is_wav(path: Path) -> bool:
    return path.suffix.lower() == ".wav" and path.is_file()


def _word_folders(root: Path) -> list[Path]:
    """Sub-folders named for a word: not hidden, not `_`-prefixed (like `_background_noise_`)."""
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))


def _scan_fsdd(root: Path) -> Layout:
    entries, skipped = [], 0
    for path in sorted(p for p in root.iterdir() if _is_wav(p)):
        m = FSDD_NAME.match(path.stem)
        if m:
            entries.append(Entry(path, word_of(m.group(1)), m.group(2), str(path)))
        else:
            skipped += 1
    notes = [f"{skipped} WAV files not named WORD_SPEAKER_INDEX.wav were left out"] if skipped else []
    if not entries:
        raise UserError(f"no WAV files named WORD_SPEAKER_INDEX.wav in {root}")
    return Layout("fsdd", root, entries, [], [], notes)


def _scan_folders(root: Path) -> Layout:
    entries = [Entry(p, word_of(d.name), speaker_of(p.stem), str(p))
               for d in _word_folders(root) for p in sorted(d.iterdir()) if _is_wav(p)]
    noise = root / BACKGROUND_FOLDER
    background = sorted(p for p in noise.rglob("*") if _is_wav(p)) if noise.is_dir() else []
    layout = Layout("folders", root, entries, background, [], [])
    _apply_lists(layout)
    return layout


def _normal(path: Path) -> Path:
    """An absolute path with `..` and `.` resolved by name (symlinks are not followed: two links
    to one recording stay two entries)."""
    return Path(os.path.normpath(os.path.abspath(path)))


def _apply_lists(layout: Layout) -> None:
    """Mark the files that validation_list.txt and testing_list.txt name; the rest train."""
    marks: dict[Path, str] = {}
    for split, name in SPLIT_LISTS.items():
        listing = layout.root / name
        if not listing.is_file():
            continue
        missing = 0
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                path = _normal(layout.root / line.strip())
                missing += not path.is_file()
                marks[path] = split
        if missing:  # lists of a full data set, with word folders left out: not a mistake
            layout.notes.append(f"{missing} files named in {name} are not here (left out)")
    if marks:
        layout.entries = [Entry(e.path, e.word, e.speaker, e.where, split=marks.get(_normal(e.path), "train"))
                          for e in layout.entries]
