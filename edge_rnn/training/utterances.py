"""Labelled keyword recordings, checked and ready to use: any layout `datasets.scan` knows.

Every file is checked by its header before anything trains (a few hundred bytes read each), and
every bad entry is reported at once. Audio is decoded when first used, at the model's rate, and
kept when the whole data set fits in `KEEP_BYTES`; a larger one is read again at each use, so
memory does not grow with the data.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from edge_rnn.progress import Progress
from edge_rnn.runtime.audio import probe_wav, read_wav_span
from edge_rnn.runtime.errors import UserError

from .datasets import scan
from .entries import DIGITS, SPLITS, Entry, word_of

__all__ = ["DIGITS", "Utterance", "Recordings", "load_recordings", "load_utterances", "parse_keywords", "word_of"]
KEEP_BYTES = 1 << 30  # decoded audio (float32 at the model's rate) kept in memory up to this
MAX_SHOWN = 30  # bad entries listed in a report; the rest are counted


class Utterance:
    """One labelled spoken word: `audio` is mono float32 at the model's rate."""

    __slots__ = ("word", "speaker", "index", "split", "seconds", "keep", "_audio", "_read")

    def __init__(self, word: str, speaker: str, index: int = 0, audio: np.ndarray | None = None,
                 read=None, split: str | None = None, seconds: float = 0.0):
        self.word, self.speaker, self.index, self.split, self.seconds = word, speaker, index, split, seconds
        self._audio, self._read = audio, read
        self.keep = True  # keep the audio once read (else read it at each use)

    @property
    def audio(self) -> np.ndarray:
        if self._audio is not None:
            return self._audio
        audio = self._read()
        if self.keep:
            self._audio = audio
        return audio

    def __repr__(self) -> str:
        return f"Utterance({self.word!r}, {self.speaker!r}, {self.index})"


@dataclass
class Recordings:
    """A checked data set: its utterances, background recordings (at the model's rate) and summary."""

    kind: str
    rate: int
    utterances: list[Utterance]
    background: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """Recordings per label, speaker and split, and hours (the background's too)."""
        utts = self.utterances
        return {"layout": self.kind, "recordings": len(utts),
                "hours": round(sum(u.seconds for u in utts) / 3600, 4),
                "labels": dict(Counter(u.word for u in utts).most_common()),
                "speakers": dict(sorted(Counter(u.speaker or "(none)" for u in utts).items())),
                "splits": dict(Counter(u.split for u in utts if u.split)),
                "background_recordings": len(self.background),
                "background_hours": round(sum(b.size for b in self.background) / 3600 / self.rate, 4)}


def load_recordings(data: str | Path, rate: int, noise: Path | None = None, speakers: list[str] | None = None,
                    split: str | None = None, quiet: bool = False, background: bool = True) -> Recordings:
    """The recordings of `data` (any layout), of these speakers and split only when given, and
    (with `background`) background recordings: the data's own `_background_noise_/` and every
    WAV under `noise`. Bad entries are one UserError listing each with its line or path."""
    layout = scan(data)
    entries = [e for e in layout.entries if (not speakers or e.speaker in speakers)
               and (split is None or (e.split or "train") == split)]
    if not entries:
        raise UserError(f"no recordings in {data}" + (f" for speakers {', '.join(speakers)}" if speakers else "")
                        + (f" in split {split}" if split else ""))
    background = (layout.background if background else []) + (noise_files(noise) if noise is not None else [])
    paths = sorted({e.path for e in entries} | set(background))
    bar = Progress(len(paths), "checking files", enabled=not quiet)
    try:
        infos = _probe(paths, bar)
        problems = layout.problems + [p for p in (_problem(e, infos) for e in entries) if p]
        problems += [infos[p] for p in background if isinstance(infos[p], str)]
    finally:
        bar.close(finished=not problems)  # a report of bad data is the only thing left on screen
    if problems:
        raise UserError(bad_data_report(data, problems))
    utts = [_utterance(i, e, infos[e.path], rate) for i, e in enumerate(entries)]
    if sum(u.seconds for u in utts) * rate * 4 > KEEP_BYTES:
        for u in utts:
            u.keep = False
    noises = [read_wav_span(p, infos[p], 0, infos[p].frames, rate) for p in background]
    return Recordings(layout.kind, rate, utts, noises, layout.notes)


def noise_files(folder: Path) -> list[Path]:
    """Every WAV under `folder` (background recordings for `--noise`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--noise needs a folder of WAV recordings; not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not files:
        raise UserError(f"no WAV files in the --noise folder {folder}")
    return files


def _probe(paths: list[Path], bar: Progress) -> dict:
    """path -> WavInfo, or the problem as text."""
    out = {}
    for path in paths:
        try:
            out[path] = probe_wav(path)
        except UserError as e:
            out[path] = str(e)
        except OSError as e:
            out[path] = f"cannot read {path}: {e.strerror or e}"
        bar.update(1)
    return out


def _problem(entry: Entry, infos: dict) -> str | None:
    info = infos[entry.path]
    if isinstance(info, str):
        return info if entry.where == str(entry.path) else f"{entry.where}: {info}"
    if entry.start is not None and entry.start >= info.seconds:
        return f"{entry.where}: start {entry.start:g} s is past the end of the recording ({info.seconds:.3f} s)"
    if entry.end is not None and entry.end > info.seconds + 1.0 / info.rate:
        return f"{entry.where}: end {entry.end:g} s is past the end of the recording ({info.seconds:.3f} s)"
    return None


def _span(entry: Entry, info) -> tuple[int, int]:
    """The entry's frames [start, end) in its file."""
    start = 0 if entry.start is None else int(round(entry.start * info.rate))
    end = info.frames if entry.end is None else min(info.frames, int(round(entry.end * info.rate)))
    return start, end


def _utterance(index: int, entry: Entry, info, rate: int) -> Utterance:
    start, end = _span(entry, info)
    read = partial(read_wav_span, entry.path, info, start, end, rate)
    return Utterance(entry.word, entry.speaker, index, read=read, split=entry.split,
                     seconds=(end - start) / info.rate)


def bad_data_report(data, problems: list[str]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:MAX_SHOWN])
    more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    noun = "entry" if len(problems) == 1 else "entries"
    return f"{len(problems)} bad {noun} in {data}; fix or remove them and run again:\n{shown}{more}"


def describe(summary: dict) -> list[str]:
    """The summary as a few lines for the log."""
    labels = ", ".join(f"{k} {v}" for k, v in summary["labels"].items())
    speakers = summary["speakers"]
    counts = list(speakers.values())
    who = (", ".join(f"{k} {v}" for k, v in speakers.items()) if len(speakers) <= 12 else
           f"{min(counts)} to {max(counts)} recordings each, median {statistics.median(counts):g}")
    lines = [f"data ({summary['layout']} layout): {summary['recordings']} recordings, {summary['hours']:.3g} hours",
             f"  per label: {labels}", f"  {len(speakers)} speakers: {who}"]
    if summary["splits"]:
        lines.append("  splits: " + ", ".join(f"{s} {summary['splits'][s]}" for s in SPLITS if s in summary["splits"]))
    if summary["background_recordings"]:
        lines.append(f"  background: {summary['background_recordings']} recordings, "
                     f"{summary['background_hours']:.3g} hours")
    return lines


def load_utterances(folder: str | Path, sample_rate: int, speakers: list[str] | None = None) -> list[Utterance]:
    """The recordings of `folder` (any layout) at `sample_rate`."""
    return load_recordings(folder, sample_rate, speakers=speakers, quiet=True).utterances


def parse_keywords(text: str) -> list[str]:
    words = [word_of(w) for w in text.split(",") if w.strip()]
    if not words or len(set(words)) != len(words):
        raise UserError(f"--keywords needs distinct comma-separated words, got {text!r}")
    return words
