"""Reading WAVs: every common encoding, stereo, resampling; bad files are one clear error."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

from edge_rnn.runtime.audio import parse_wav, pcm16_to_float, read_wav
from edge_rnn.runtime.errors import UserError

from wavs import wav_bytes, write_wav

TONE = (0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)


@pytest.mark.parametrize("bits,floating,tol", [(8, False, 1e-2), (16, False, 1e-4), (24, False, 1e-6),
                                               (32, False, 1e-8), (32, True, 0), (64, True, 0)])
def test_encodings_decode_to_the_same_signal(bits, floating, tol):
    x, rate = parse_wav(wav_bytes(TONE, 8000, bits, floating))
    assert rate == 8000 and x.shape == (8000, 1) and x.dtype == np.float32
    assert np.max(np.abs(x[:, 0] - TONE)) <= tol + 1e-7


def test_extensible_format_and_stereo_mixdown(tmp_path):
    stereo = np.stack([TONE, -TONE * 0 + TONE], axis=1)
    path = write_wav(tmp_path / "s.wav", stereo, 8000, bits=16, extensible=True)
    mono = read_wav(path, 8000)
    np.testing.assert_allclose(mono, TONE, atol=1e-4)


def test_resampling_keeps_pitch_and_duration(tmp_path):
    tone16k = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    mono = read_wav(write_wav(tmp_path / "t.wav", tone16k, 16000), 8000)
    assert abs(mono.size - 8000) <= 2
    peak_hz = np.argmax(np.abs(np.fft.rfft(mono))) * 8000 / mono.size
    assert abs(peak_hz - 440) < 2


def test_raw_pcm():
    raw = np.array([0, 16384, -32768, 32767], "<i2").tobytes() + b"\x01"  # odd byte dropped
    np.testing.assert_allclose(pcm16_to_float(raw), [0, 0.5, -1.0, 32767 / 32768])


def _header(channels=1, rate=8000, bits=16, code=1, data=b"\x00\x00" * 10, declared=None):
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * block, block, bits)
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("data,message", [
    (b"", "not a WAV"),
    (b"RIFF\x00\x00\x00\x00WAVE", "no format chunk"),
    (_header()[:30], "truncated format chunk"),
    (_header(data=b""), "no audio samples"),
    (_header(rate=0), "sample rate of 0"),
    (_header(rate=2_000_000_000), "sample rate"),
    (_header(channels=0), "0 channels"),
    (_header(channels=5000), "5000 channels"),
    (_header(bits=12), "unsupported WAV encoding"),
    (b"ID3\x03" + b"\x00" * 100, "not a WAV"),
])
def test_bad_wavs_are_one_clear_error(data, message):
    with pytest.raises(UserError, match=message):
        parse_wav(data, "x.wav")


def test_truncated_data_keeps_whole_frames():
    x, _ = parse_wav(_header(data=b"\x00\x40" * 5 + b"\x01", declared=1000))
    assert x.shape == (5, 1) and np.allclose(x, 0.5)


def test_huge_declared_sizes_do_not_hang():
    data = _header(declared=0xFFFFFFF0) + b"JUNK" + struct.pack("<I", 0xFFFFFFFF)
    x, _ = parse_wav(data)
    assert x.shape[0] > 0


def test_cli_bad_wav_exit_2(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(_header(rate=0))
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", "stream", "--model", "fsdd-kws",
                        "--input", str(bad)], capture_output=True, timeout=120)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "sample rate of 0" in lines[0]
