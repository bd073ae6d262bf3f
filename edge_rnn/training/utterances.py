"""Labelled keyword recordings: utterances read from a folder of WAVs.

File names follow the Free Spoken Digit Dataset: `{word}_{speaker}_{index}.wav`, where a
digit word may be written as the digit (`7`) or the word (`seven`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.errors import UserError

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_NAME = re.compile(r"^([^_]+)_([^_]+)_(\d+)$")


@dataclass
class Utterance:
    word: str
    speaker: str
    index: int
    audio: np.ndarray  # mono float32 at the model's rate


def word_of(token: str) -> str:
    return DIGITS[int(token)] if token.isdigit() and int(token) < 10 else token.lower()


def load_utterances(folder: str | Path, sample_rate: int, speakers: list[str] | None = None) -> list[Utterance]:
    """Every `{word}_{speaker}_{index}.wav` in `folder`, read at `sample_rate`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data folder not found: {folder}")
    out = []
    for path in sorted(folder.glob("*.wav")):
        m = _NAME.match(path.stem)
        if not m or (speakers and m.group(2) not in speakers):
            continue
        out.append(Utterance(word_of(m.group(1)), m.group(2), int(m.group(3)), read_wav(path, sample_rate)))
    if not out:
        raise UserError(f"no WAV files named WORD_SPEAKER_INDEX.wav in {folder}"
                        + (f" for speakers {', '.join(speakers)}" if speakers else ""))
    return out


def parse_keywords(text: str) -> list[str]:
    words = [word_of(w.strip()) for w in text.split(",") if w.strip()]
    if not words or len(set(words)) != len(words):
        raise UserError(f"--keywords needs distinct comma-separated words, got {text!r}")
    return words
