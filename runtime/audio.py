"""Reading audio for keyword spotting: WAV (PCM 8/16/24/32-bit, float 32/64) or raw PCM.

Everything comes out as mono float32 in [-1, 1] at the rate the model wants. A bad file
(truncated, empty, a zero or absurd rate or channel count) is a UserError, never a crash.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import UserError

MAX_CHANNELS = 64
RATE_RANGE = (1000, 768000)
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def _chunks(data: bytes):
    """Yield (id, payload) of the RIFF chunks after the 12-byte header.

    A chunk cut short (a recorder killed mid-write) yields what is there; the decoder
    keeps whole frames of it.
    """
    pos = 12
    while pos + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, pos)
        yield cid, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)


def parse_wav(data: bytes, where: str = "WAV") -> tuple[np.ndarray, int]:
    """(samples (frames, channels) float32 in [-1, 1], sample rate) from WAV bytes."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise UserError(f"{where} is not a WAV file (no RIFF/WAVE header)")
    fmt = None
    for cid, body in _chunks(data):
        if cid == b"fmt ":
            fmt = _fmt_of(body, where)
        elif cid == b"data":
            if fmt is None:
                raise UserError(f"{where} has audio data before its format chunk")
            return _decode(body, fmt, where)
    raise UserError(f"{where} has no {'format' if fmt is None else 'audio data'} chunk (empty or truncated)")


def _sample_kind(fmt: tuple, where: str) -> tuple[str, int]:
    """(numpy kind, bytes per frame) of a format chunk; a format we cannot read is a UserError."""
    code, channels, rate, _, _, bits = fmt
    if not 1 <= channels <= MAX_CHANNELS:
        raise UserError(f"{where} declares {channels} channels; expected 1 to {MAX_CHANNELS}")
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise UserError(f"{where} declares a sample rate of {rate} Hz; expected {RATE_RANGE[0]} to {RATE_RANGE[1]}")
    kinds = {(_PCM, 8): "u1", (_PCM, 16): "<i2", (_PCM, 24): "i24", (_PCM, 32): "<i4",
             (_FLOAT, 32): "<f4", (_FLOAT, 64): "<f8"}
    kind = kinds.get((code, bits))
    if kind is None:
        raise UserError(f"{where}: unsupported WAV encoding (format {code}, {bits} bits); "
                        "use PCM 8/16/24/32-bit or float 32/64-bit")
    return kind, bits // 8 * channels


def _fmt_of(body: bytes, where: str) -> tuple:
    """The fields of a format chunk (the sub-format's code for WAVE_FORMAT_EXTENSIBLE)."""
    if len(body) < 16:
        raise UserError(f"{where} has a truncated format chunk")
    fmt = struct.unpack_from("<HHIIHH", body)
    if fmt[0] == _EXTENSIBLE and len(body) >= 26:
        fmt = (struct.unpack_from("<H", body, 24)[0],) + fmt[1:]
    return fmt


def _decode(body: bytes, fmt: tuple, where: str) -> tuple[np.ndarray, int]:
    code, channels, rate, _, _, bits = fmt
    kind, width = _sample_kind(fmt, where)
    usable = len(body) // width * width
    if usable == 0:
        raise UserError(f"{where} holds no audio samples")
    raw = body[:usable]
    if kind == "u1":
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif kind == "i24":
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    elif kind.startswith("<i"):
        x = np.frombuffer(raw, kind).astype(np.float32) / float(2 ** (bits - 1))
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32's range: inf, then 1
            x = np.nan_to_num(np.frombuffer(raw, kind).astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        x = np.clip(x, -1.0, 1.0)
    return x.reshape(-1, channels), rate


def to_mono_at(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Mix (frames, channels) down to mono and resample to `target_rate` (soxr, high quality)."""
    mono = samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples.astype(np.float32)
    if rate != target_rate:
        import soxr

        # resampling rings past full scale (a full-scale square wave peaks near 1.4)
        mono = np.clip(soxr.resample(mono, rate, target_rate, quality="HQ"), -1.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(mono)


def read_wav(path: str | Path, target_rate: int) -> np.ndarray:
    """A WAV file as mono float32 at `target_rate`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"audio file not found: {path}")
    samples, rate = parse_wav(path.read_bytes(), str(path))
    return to_mono_at(samples, rate, target_rate)


class WavInfo(NamedTuple):
    """What a WAV file's header says: enough to check it and to read a stretch of it."""

    rate: int
    frames: int  # whole frames of audio present (a data chunk cut short counts what is there)
    offset: int  # byte offset of the first frame
    fmt: tuple  # the format chunk's fields

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def probe_wav(path: str | Path) -> WavInfo:
    """Check a WAV file by its chunk headers alone (a few hundred bytes read, the audio not
    decoded): the same refusals as `read_wav`, as a UserError naming the file."""
    path, where = Path(path), str(path)
    if not path.is_file():
        raise UserError(f"audio file not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise UserError(f"{where} is not a WAV file (no RIFF/WAVE header)")
        fmt, pos = None, 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, length = struct.unpack("<4sI", f.read(8))
            if cid == b"fmt ":
                fmt = _fmt_of(f.read(length), where)
            elif cid == b"data":
                if fmt is None:
                    raise UserError(f"{where} has audio data before its format chunk")
                _, width = _sample_kind(fmt, where)
                frames = min(length, size - pos - 8) // width
                if frames == 0:
                    raise UserError(f"{where} holds no audio samples")
                return WavInfo(fmt[2], frames, pos + 8, fmt)
            pos += 8 + length + (length & 1)
    raise UserError(f"{where} has no {'format' if fmt is None else 'audio data'} chunk (empty or truncated)")


def read_wav_span(path: str | Path, info: WavInfo, start: int, end: int, target_rate: int) -> np.ndarray:
    """Frames [start, end) of a probed WAV file as mono float32 at `target_rate`; only those
    frames are read."""
    _, width = _sample_kind(info.fmt, str(path))
    start, end = max(0, start), min(info.frames, end)
    with open(path, "rb") as f:
        f.seek(info.offset + start * width)
        body = f.read(max(0, end - start) * width)
    samples, rate = _decode(body, info.fmt, str(path))
    return to_mono_at(samples, rate, target_rate)


def pcm16_to_float(raw: bytes) -> np.ndarray:
    """Raw 16-bit little-endian mono PCM (e.g. from `arecord -f S16_LE`) to float32."""
    usable = len(raw) // 2 * 2
    return np.frombuffer(raw[:usable], "<i2").astype(np.float32) / 32768.0
