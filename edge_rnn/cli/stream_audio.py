"""`edge-rnn stream` for keyword spotters: a WAV file, or a WAV stream or raw 16-bit PCM on stdin."""

from __future__ import annotations

import json
import sys
from typing import IO, Iterator

import numpy as np

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.audio_stream import pipe_chunks
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session


def wav_chunks(path: str, rate: int, chunk: int) -> Iterator[np.ndarray]:
    audio = read_wav(path, rate)
    for start in range(0, audio.size, chunk):
        yield audio[start : start + chunk]


def stream_audio(session: Session, source: str, chunk_ms: float, as_json: bool,
                 stdin: IO[bytes] | None = None, threshold: float | None = None) -> None:
    spotter = KeywordSpotter(session, threshold=threshold)
    chunk = max(1, int(round(spotter.sample_rate * chunk_ms / 1000.0)))
    if source == "-":
        if stdin is None and sys.stdin is None:
            raise UserError("standard input is closed: pipe audio into `edge-rnn stream --input -`")
        chunks = pipe_chunks(stdin if stdin is not None else sys.stdin.buffer, spotter.sample_rate, chunk)
    else:
        chunks = wav_chunks(source, spotter.sample_rate, chunk)
    count = 0
    for piece in chunks:
        count += _show(spotter.process(piece), as_json)
    count += _show(spotter.finish(), as_json)  # a word in the input's last moments
    if not as_json:
        print(f"{count} event(s)", file=sys.stderr)


def _show(events: list[dict], as_json: bool) -> int:
    for event in events:
        event.pop("frame")
        if as_json:
            print(json.dumps(event))
        else:
            print(f"{event['time']:8.2f}s  {event['keyword']:<10} score {event['score']:.3f}")
        sys.stdout.flush()
    return len(events)
