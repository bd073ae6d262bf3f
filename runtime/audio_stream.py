"""Audio from a pipe, as it arrives: a WAV stream (header, then samples) or raw 16-bit PCM.

`cat file.wav | ...` and `arecord -f S16_LE -r 8000 | ...` (which writes a WAV header) both
start with RIFF; anything else is read as raw 16-bit signed little-endian mono PCM at the
model's rate. Either way the chunks come out as mono float32 at the rate asked for.
"""

from __future__ import annotations

import struct
from typing import IO, Iterator

import numpy as np

from .audio import _EXTENSIBLE, _decode, pcm16_to_float
from .errors import UserError


def _read(stream: IO[bytes], n: int) -> bytes:
    """Up to n bytes (fewer only at the end of the stream)."""
    parts, got = [], 0
    while got < n:
        data = stream.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def pipe_chunks(stream: IO[bytes], rate: int, chunk: int) -> Iterator[np.ndarray]:
    """Mono float32 chunks of about `chunk` samples at `rate` from a WAV or raw PCM pipe."""
    head = _read(stream, 12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        yield from _wav_chunks(stream, rate, chunk)
    else:
        yield from _raw_chunks(stream, head, chunk)


def _raw_chunks(stream: IO[bytes], head: bytes, chunk: int) -> Iterator[np.ndarray]:
    carry = head
    while True:
        data = carry + _read(stream, chunk * 2)
        usable = len(data) // 2 * 2
        carry = data[usable:]
        if usable:
            yield pcm16_to_float(data[:usable])
        if usable < chunk * 2:  # the stream ended (an odd trailing byte is dropped)
            return


def _wav_header(stream: IO[bytes]) -> tuple[tuple, int]:
    """(format fields, declared data bytes) read up to the start of the samples."""
    fmt = None
    while True:
        header = _read(stream, 8)
        if len(header) < 8:
            raise UserError("the WAV stream on stdin ends before its audio data")
        cid, size = struct.unpack("<4sI", header)
        if cid == b"data":
            if fmt is None:
                raise UserError("the WAV stream on stdin has audio data before its format chunk")
            return fmt, size
        body = _read(stream, size + (size & 1))
        if cid == b"fmt ":
            if len(body) < 16:
                raise UserError("the WAV stream on stdin has a truncated format chunk")
            fmt = struct.unpack_from("<HHIIHH", body)
            if fmt[0] == _EXTENSIBLE and len(body) >= 26:
                fmt = (struct.unpack_from("<H", body, 24)[0],) + fmt[1:]


def _wav_chunks(stream: IO[bytes], rate: int, chunk: int) -> Iterator[np.ndarray]:
    fmt, left = _wav_header(stream)
    in_rate, width = fmt[2], max(1, fmt[5] // 8) * max(1, fmt[1])
    _decode(b"\0" * width, fmt, "the WAV stream on stdin")  # refuse a bad format before any audio
    resampler = None
    if in_rate != rate:
        import soxr

        resampler = soxr.ResampleStream(in_rate, rate, 1, dtype="float32", quality="HQ")
    want = max(1, chunk * in_rate // rate) * width
    carry = b""
    while True:
        data = _read(stream, min(want, left)) if left > 0 else b""
        left -= len(data)
        ended = len(data) < want or left <= 0  # the stream, or the declared data, is over
        data = carry + data
        usable = len(data) // width * width
        carry = data[usable:]
        mono = np.zeros(0, np.float32)
        if usable:
            mono = _decode(data[:usable], fmt, "the WAV stream on stdin")[0].mean(axis=1, dtype=np.float32)
        out = resampler.resample_chunk(mono, last=ended) if resampler else mono
        if out.size:
            yield np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
        if ended:
            return
