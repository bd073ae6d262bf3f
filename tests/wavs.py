"""Writing WAV files of every encoding for the tests (our own writer, so the reader is checked
against something it did not write itself)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def encode(samples: np.ndarray, bits: int, floating: bool = False) -> bytes:
    """samples: (frames, channels) float in [-1, 1]."""
    x = np.clip(samples, -1, 1)
    if floating:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.round(x * 127 + 128).astype(np.uint8).tobytes()
    if bits == 24:
        v = np.round(x * (2 ** 23 - 1)).astype(np.int32).reshape(-1)
        return np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
    return np.round(x * (2 ** (bits - 1) - 1)).astype(f"<i{bits // 8}").tobytes()


def wav_bytes(samples: np.ndarray, rate: int, bits: int = 16, floating: bool = False,
              extensible: bool = False) -> bytes:
    samples = samples.reshape(len(samples), -1)
    channels = samples.shape[1]
    data = encode(samples, bits, floating)
    code = 3 if floating else 1
    block = channels * bits // 8
    if extensible:
        guid = struct.pack("<H", code) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", code, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: Path, samples: np.ndarray, rate: int, **kw) -> Path:
    path.write_bytes(wav_bytes(samples, rate, **kw))
    return path
