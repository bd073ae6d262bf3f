"""The command line with the plumbing broken: closed or full outputs, closed inputs, damaged
files, impossible options. One line on stderr and exit 2 (a reader that went away: quiet)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import numpy as np

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session

from conftest import FSDD, needs_fsdd
from wavs import write_wav

EXE = [sys.executable, "-m", "edge_rnn.cli"]


def one_line(r: subprocess.CompletedProcess, code: int = 2) -> str:
    err = r.stderr.decode() if isinstance(r.stderr, bytes) else r.stderr
    assert r.returncode == code and err.count("\n") == 1 and "Traceback" not in err, (r.returncode, err)
    return err


def test_closed_standard_streams(lm_onnx):
    closed_in = subprocess.run(EXE + ["stream", "--model", str(lm_onnx)], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120, preexec_fn=lambda: os.close(0))
    assert "standard input is closed" in one_line(closed_in)
    closed_out = subprocess.run(EXE + ["stream", "--model", str(lm_onnx)], input=b"a b\n", stderr=subprocess.PIPE,
                                timeout=120, preexec_fn=lambda: os.close(1))
    assert "standard output is closed" in one_line(closed_out)
    with open("/dev/full", "wb") as full:
        r = subprocess.run(EXE + ["stream", "--model", str(lm_onnx)], input=b"the cat sees\n", stdout=full,
                           stderr=subprocess.PIPE, timeout=120)
    assert "No space left on device" in one_line(r)


def test_a_reader_that_goes_away_ends_the_stream_quietly(lm_onnx):
    cli = " ".join(EXE + ["stream", "--model", str(lm_onnx)])
    r = subprocess.run(["bash", "-c", f"yes 'the cat sees a bird' | head -5000 | {cli} | head -1; "
                        "echo status ${PIPESTATUS[2]}"], capture_output=True, timeout=120)
    assert r.stdout.decode().splitlines()[0].startswith("the") and r.stdout.decode().splitlines()[1] == "status 0"
    assert r.stderr == b"", r.stderr


def test_words_arrive_as_they_are_typed(lm_onnx):
    """A line is answered as soon as it arrives, not when a block of input has filled."""
    proc = subprocess.Popen(EXE + ["stream", "--model", str(lm_onnx), "--json"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    proc.stdin.write(b"the cat\n")
    proc.stdin.flush()
    first = proc.stdout.readline()  # would block for good if input were read in 64 KB blocks
    proc.stdin.close()
    proc.wait(timeout=60)
    assert b'"word": "the"' in first


def test_damaged_or_impossible_inputs(tmp_path, lm_onnx, corpus):
    gz = tmp_path / "text.gz"
    gz.write_bytes(gzip.compress(b"the cat sees a bird\n" * 200)[:-40])  # cut short
    r = subprocess.run(EXE + ["eval", "--model", str(lm_onnx), "--text", str(gz)], capture_output=True, timeout=120)
    assert "a damaged or truncated file" in one_line(r)
    out_file = tmp_path / "taken"
    out_file.write_text("a file")
    r = subprocess.run(EXE + ["train", "lm", "--data", str(corpus[0]), "--out", str(out_file), "--epochs", "1"],
                       capture_output=True, timeout=120)
    assert "is a file" in one_line(r) and out_file.read_text() == "a file"
    short = tmp_path / "short.txt"
    short.write_text("one line\n")
    r = subprocess.run(EXE + ["train", "lm", "--data", str(short), "--out", str(tmp_path / "o"), "--epochs", "1"],
                       capture_output=True, timeout=120)
    assert "too little text" in one_line(r)
    r = subprocess.run(EXE + ["stream", "--model", str(lm_onnx), "--threads", "100000"], input=b"a\n",
                       capture_output=True, timeout=60)
    assert "--threads" in one_line(r)


def test_a_long_line_is_read_as_it_comes(tmp_path, lm_onnx):
    """One 8 MB line: streamed word by word, so the process stays far below the text's size in
    words (a list of its 1.6 million words alone would take over 100 MB)."""
    big = tmp_path / "one-line.txt"
    big.write_bytes(b"the cat sees " * 650_000)
    # VmHWM: this process's own peak (ru_maxrss would count the parent's memory at the fork)
    code = ("import sys; from edge_rnn.cli import main; code = main(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(int(hwm.split()[1]) // 1024, file=sys.stderr); sys.exit(code)")
    r = subprocess.run([sys.executable, "-c", code, "eval", "--model", str(lm_onnx), "--text", str(big), "--json",
                        "--quiet", "--chunk", "4096"], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    peak_mb = int(r.stderr.decode().split()[-1])
    assert peak_mb < 160, peak_mb


def test_resampling_stays_in_range(tmp_path):
    t = np.arange(44100) / 44100
    square = np.sign(np.sin(2 * np.pi * 441 * t)).astype(np.float32)
    audio = read_wav(write_wav(tmp_path / "square.wav", square, 44100), 8000)
    assert np.abs(audio).max() <= 1.0 and audio.size == 8000


@needs_fsdd
def test_non_finite_audio_does_not_poison_the_stream(kws_onnx):
    """NaN is read as silence, infinities and huge values as full scale: the stream goes on as if
    that audio had been fed, and the word after it scores as it would."""
    session = Session(kws_onnx)
    word = np.concatenate([np.zeros(8000, np.float32), read_wav(FSDD / "0_jackson_20.wav", 8000)])
    junk = np.full(800, np.nan, np.float32)
    junk[::3] = np.inf
    spotter, same = KeywordSpotter(session), KeywordSpotter(session)
    spotter.probabilities(junk)
    spotter.probabilities(np.full(800, 1e30, np.float32))
    same.probabilities(np.where(np.isnan(junk), 0, 1).astype(np.float32))
    same.probabilities(np.ones(800, np.float32))
    after = spotter.probabilities(word)
    assert np.isfinite(after).all()
    np.testing.assert_array_equal(after, same.probabilities(word))
