"""The same FSDD recordings in the other layouts `train kws` reads, made at test time (links and
re-wrapped bytes, never copies of ../shared in the repo)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

from edge_rnn.training.entries import DIGITS

from conftest import FSDD


def fsdd_files(speakers, digits, indices) -> list[tuple[Path, str, str, int]]:
    """(path, word, speaker, index) of the FSDD recordings that exist."""
    out = []
    for s in speakers:
        for d in digits:
            for i in indices:
                path = FSDD / f"{d}_{s}_{i}.wav"
                if path.exists():
                    out.append((path, DIGITS[d], s, i))
    return out


def speech_commands(folder: Path, files, valid=(), test=(), names: dict[str, str] | None = None) -> Path:
    """WORD/SPEAKER_nohash_N.wav links, and validation_list.txt / testing_list.txt naming the
    recordings of the `valid` and `test` speakers. `names` renames words (zero -> yes)."""
    lists = {"validation_list.txt": [], "testing_list.txt": []}
    for path, word, speaker, index in files:
        word = (names or {}).get(word, word)
        rel = f"{word}/{speaker}_nohash_{index}.wav"
        (folder / word).mkdir(parents=True, exist_ok=True)
        (folder / rel).symlink_to(path)
        if speaker in valid:
            lists["validation_list.txt"].append(rel)
        if speaker in test:
            lists["testing_list.txt"].append(rel)
    for name, lines in lists.items():
        if lines:
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def csv_manifest(folder: Path, files, names: dict[str, str] | None = None) -> Path:
    """manifest.csv beside takes/take_N.wav links (names that say nothing: the manifest does)."""
    (folder / "takes").mkdir(parents=True)
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        for n, (path, word, speaker, _) in enumerate(files):
            (folder / "takes" / f"take_{n}.wav").symlink_to(path)
            writer.writerow([f"takes/take_{n}.wav", (names or {}).get(word, word), speaker])
    return folder / "manifest.csv"


def _pcm16(path: Path) -> bytes:
    data = path.read_bytes()
    at = data.index(b"data")
    return data[at + 8 : at + 8 + struct.unpack_from("<I", data, at + 4)[0]]


def wav16(path: Path, pcm: bytes, rate: int = 8000) -> Path:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def jsonl_manifest(folder: Path, files) -> Path:
    """One long recording per speaker (their words one after another, the same samples) and a
    JSONL manifest giving each word's start and end in it."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, long = [], {}
    for path, word, speaker, _ in files:
        pcm = _pcm16(path)
        start = sum(len(p) for p in long.setdefault(speaker, [])) // 2
        long[speaker].append(pcm)
        rows.append({"path": f"{speaker}.wav", "label": word, "speaker": speaker,
                     "start": start / 8000, "end": (start + len(pcm) // 2) / 8000})
    for speaker, pieces in long.items():
        wav16(folder / f"{speaker}.wav", b"".join(pieces))
    (folder / "words.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder / "words.jsonl"
