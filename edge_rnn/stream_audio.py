"""`edge-rnn stream` for keyword spotters: a WAV file, or raw 16-bit PCM on stdin."""

from __future__ import annotations

import json
import sys
from typing import IO, Iterator

import numpy as np

from edge_rnn.runtime.audio import pcm16_to_float, read_wav
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session


def wav_chunks(path: str, rate: int, chunk: int) -> Iterator[np.ndarray]:
    audio = read_wav(path, rate)
    for start in range(0, audio.size, chunk):
        yield audio[start : start + chunk]


def pcm_chunks(stream: IO[bytes], chunk: int) -> Iterator[np.ndarray]:
    """Raw s16le mono from a pipe, as it arrives (an odd trailing byte is dropped)."""
    carry = b""
    while True:
        data = stream.read(chunk * 2)
        if not data:
            break
        data = carry + data
        usable = len(data) // 2 * 2
        carry = data[usable:]
        if usable:
            yield pcm16_to_float(data[:usable])


def stream_audio(session: Session, source: str, chunk_ms: float, as_json: bool,
                 stdin: IO[bytes] | None = None, threshold: float | None = None) -> None:
    spotter = KeywordSpotter(session, threshold=threshold)
    if not 1.0 <= chunk_ms <= 60000.0:
        raise UserError("--chunk-ms must be between 1 and 60000")
    chunk = max(1, int(round(spotter.sample_rate * chunk_ms / 1000.0)))
    if source == "-":
        chunks = pcm_chunks(stdin if stdin is not None else sys.stdin.buffer, chunk)
    else:
        chunks = wav_chunks(source, spotter.sample_rate, chunk)
    count = 0
    for piece in chunks:
        for event in spotter.process(piece):
            count += 1
            event.pop("frame")
            if as_json:
                print(json.dumps(event))
            else:
                print(f"{event['time']:8.2f}s  {event['keyword']:<10} score {event['score']:.3f}")
            sys.stdout.flush()
    if not as_json:
        print(f"{count} event(s)", file=sys.stderr)
