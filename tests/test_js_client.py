"""The JavaScript client (clients/js) against the Python runtime on the bundled models.

Its Node CLI must print what `edge-rnn stream --json` prints: the same next words in the same
order with probabilities within 1e-4, and the same keyword events on the same audio whatever
the chunk size. The browser page is checked in headless Chromium when /usr/bin/chromium exists.
Everything skips with its reason where node, npm or the shared data are missing.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from js_helpers import CLI, JS, NODE, PY_CLI, ROOT, assert_same_predictions, assert_same_ranking, both, run, unavailable

FSDD = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
PTB_VALID = ROOT.parent / "shared" / "data" / "ptb" / "ptb.valid.txt.gz"
DIGITS = ROOT / "docs" / "digits.wav"
CHROMIUM = Path("/usr/bin/chromium")


TEXTS = {
    "plain": "the company said it expects to report a loss\nshares fell sharply\n",
    "mixed case and unknown words": "The COMPANY Said Xyzzyqq Frobnicated IBM's stock\nMr. Smith went to Washington\n",
    "empty and blank lines": "\n\n   \n\t\nthe market\n\n\nclosed\n   \n",
    "unicode and odd whitespace": "café naïve \U0001f600 x\tTHE\u0085end\x1cX\u2003Y\u00a0Z\r\n\ufeffbom start\nno newline at the end",
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_next_words_match_python(js_ready, name):
    py, js = both(["stream", "--model", "ptb-lm", "--json"], TEXTS[name].encode())
    assert_same_predictions(py, js)


def test_next_words_match_python_past_the_graphs_top_k(js_ready):
    """k = 20 is more than the graph's top_k: both rank the vocabulary's logits themselves."""
    py, js = both(["stream", "--model", "ptb-lm", "--json", "--top-k", "20"], TEXTS["mixed case and unknown words"].encode())
    assert len(py[0]["next"]) == 20
    assert_same_predictions(py, js)


def test_the_shared_table_of_typed_text_matches_python(js_ready):
    """tests/data/typed_text.jsonl through both CLIs: the same words made of each typed word."""
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "typed_text.jsonl").read_text("utf-8").splitlines()]
    text = "\n".join(row["text"] for row in rows if row["rules"] == "ptb") + "\n"
    for args in (["--top-k", "3"], ["--top-k", "3", "--show-special"]):
        py, js = both(["stream", "--model", "ptb-lm", "--json", *args], text.encode())
        assert any(not p["known"] for p in py) and any(p["sentence_end"] for p in py)
        assert_same_predictions(py, js)


@pytest.mark.parametrize("options", [[], ["--temperature", "0.8", "--seed", "7", "--top-k", "5"],
                                     ["--temperature", "1.5", "--seed", "2", "--top-k", "20"]])
def test_completions_match_python(js_ready, options):
    """Greedy completion, and seeded sampling (one generator, Mulberry32, in both): the same words."""
    text = "the company said it expects to\nShares of Acme Inc. fell 5% to\nThe\nWhy did the\n"
    py, js = both(["stream", "--model", "ptb-lm", "--json", "--complete", "15", *options], text.encode())
    assert len(py) == 4 and [p["text"] for p in py] == [j["text"] for j in js]
    for p, j in zip(py, js):
        assert [w["word"] for w in p["completion"]] == [w["word"] for w in j["completion"]], p["text"]
        assert p["sentence_end"] == j["sentence_end"]
        for a, b in zip(p["completion"], j["completion"]):
            assert abs(a["prob"] - b["prob"]) <= 1e-4


@pytest.mark.skipif(not PTB_VALID.is_file(), reason=f"PTB not found at {PTB_VALID}")
def test_next_words_match_python_on_ptb_text(js_ready):
    import gzip

    with gzip.open(PTB_VALID, "rt", encoding="utf-8") as f:
        text = "".join(line for _, line in zip(range(150), f))
    py, js = both(["stream", "--model", "ptb-lm", "--json"], text.encode())
    assert len(py) > 2000
    assert_same_predictions(py, js)


def wav_bytes(samples: np.ndarray, rate: int, bits: int = 16, floating: bool = False) -> bytes:
    """A WAV file of (frames, channels) float samples in [-1, 1]."""
    x = np.clip(samples.reshape(len(samples), -1), -1, 1)
    channels = x.shape[1]
    if floating:
        data = x.astype("<f4").tobytes()
    elif bits == 24:
        v = np.round(x * (2 ** 23 - 1)).astype(np.int32).reshape(-1)
        data = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
    else:
        data = np.round(x * 32767).astype("<i2").tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 3 if floating else 1, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_pcm16(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM samples of a simple WAV (as FSDD's are), as float."""
    data = path.read_bytes()
    rate = struct.unpack_from("<I", data, 24)[0]
    at = data.index(b"data") + 8
    return np.frombuffer(data[at:at + struct.unpack_from("<I", data, at - 4)[0]], "<i2") / 32768.0, rate


def fsdd_stream(seed: int, count: int = 12) -> np.ndarray:
    """FSDD recordings in a row with 0.3-1.2 s of silence between them, at 8 kHz."""
    rng = random.Random(seed)
    files = sorted(FSDD.glob("*.wav"))
    parts = [np.zeros(4000)]
    for path in rng.sample(files, count):
        audio, rate = read_pcm16(path)
        assert rate == 8000
        parts += [audio, np.zeros(rng.randint(2400, 9600))]
    return np.concatenate(parts)


def wav_cases(tmp: Path) -> list[Path]:
    cases = [DIGITS, tmp / "ends-on-a-word.wav"]  # the demo cut right after its last word
    cases[-1].write_bytes(wav_bytes(read_pcm16(DIGITS)[0][: int(10.31 * 8000)], 8000))
    if FSDD.is_dir():
        a, b = fsdd_stream(1), fsdd_stream(2)
        cases.append(tmp / "fsdd-mono16.wav")
        cases[-1].write_bytes(wav_bytes(a, 8000))
        # the same audio as other encodings: the WAV readers must agree sample for sample
        cases.append(tmp / "fsdd-stereo-float.wav")
        cases[-1].write_bytes(wav_bytes(np.stack([b, 0.5 * b], axis=1), 8000, 32, floating=True))
        cases.append(tmp / "fsdd-24bit.wav")
        cases[-1].write_bytes(wav_bytes(b, 8000, 24))
    return cases


@pytest.mark.parametrize("chunk_ms", ["7", "37", "100", "1000"])
def test_keyword_events_match_python(js_ready, tmp_path, chunk_ms):
    """Same events (keyword, time, score) at the model's own rate, for odd chunk sizes too."""
    for wav in wav_cases(tmp_path):
        py, js = both(["stream", "--model", "fsdd-kws", "--input", str(wav), "--json", "--chunk-ms", chunk_ms])
        assert len(py) >= 5, f"{wav.name}: too few events for a meaningful comparison: {py}"
        assert js == py, wav.name


def test_keyword_events_with_a_threshold_override(js_ready):
    py, js = both(["stream", "--model", "fsdd-kws", "--input", str(DIGITS), "--json", "--threshold", "0.05"])
    assert py and js == py


def test_raw_pcm_on_stdin(js_ready):
    audio, _ = read_pcm16(DIGITS)
    raw = np.round(audio * 32768).astype("<i2").tobytes() + b"\x01"  # an odd trailing byte
    py, js = both(["stream", "--model", "fsdd-kws", "--input", "-", "--json", "--chunk-ms", "37"], raw)
    assert len(py) >= 5 and js == py


def patched_format(src: Path, dst: Path) -> Path:
    """A copy of a model whose edge_rnn.format is 9, its digest stamped again (so that only the
    format is wrong)."""
    from conftest import rewrite_metadata

    return rewrite_metadata(src, dst, {"edge_rnn.format": "9"})


def test_errors_are_one_line_and_exit_2(js_ready, tmp_path):
    model = run([NODE, "-e", "import('./clients/js/src/bundled.mjs').then(m => console.log(m.bundledPath('fsdd-kws')))"])
    future = patched_format(Path(model.stdout.decode().strip()), tmp_path / "future.onnx")
    not_onnx = tmp_path / "text.onnx"
    not_onnx.write_text("hello")
    cases = [
        (["stream", "--model", str(future), "--input", str(DIGITS)], "format"),
        (["stream", "--model", str(not_onnx)], "onnx"),
        (["stream", "--model", str(tmp_path / "missing.onnx")], "not found"),
        (["stream", "--model", "ptb-lm", "--input", str(DIGITS)], "keyword"),
        (["stream", "--model", "fsdd-kws"], "--input"),
        (["stream", "--model", "fsdd-kws", "--input", str(tmp_path / "none.wav")], "not found"),
        (["stream", "--model", "fsdd-kws", "--input", str(not_onnx)], "not a wav"),
        (["stream", "--model", "fsdd-kws", "--input", str(DIGITS), "--chunk-ms", "0.5"], "chunk-ms"),
    ]
    for args, words in cases:
        for cmd in (PY_CLI, [NODE, str(CLI)]):
            r = run(cmd + args)
            err = r.stderr.decode().strip()
            assert r.returncode == 2 and len(err.splitlines()) == 1, (cmd[0], args, err)
            assert words in err.lower(), (cmd[0], args, err)
    r = run([NODE, str(CLI), "stream", "--model", "ptb-lm"], b"fine\n\xff\xfe broken\n")
    assert r.returncode == 2 and "line 2 is not utf-8" in r.stderr.decode().lower()


def test_node_unit_tests(js_ready):
    r = subprocess.run(["npm", "test", "--silent"], cwd=JS, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


@pytest.fixture(scope="module")
def page_url(js_ready):
    """The page served by `edge-rnn demo-web` on a free loopback port."""
    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) for the browser test")
    server = subprocess.Popen(PY_CLI + ["demo-web", "--port", "0", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line, f"demo-web did not start: {server.stderr.read()[-2000:]}"
        yield json.loads(line)["url"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_page_in_chromium_matches_python(page_url, tmp_path):
    """Suggestions after typed text, events from a WAV file (exactly the Python events: the file
    is at the model's rate) and from the microphone (the same file played once by Chromium's fake
    capture device at 44.1 kHz and resampled back by the page: same keywords in the same order,
    times within two frames; scores differ slightly because the audio was resampled twice)."""
    prefix = "The Company said "
    audio_seconds = len(read_pcm16(DIGITS)[0]) / 8000
    r = subprocess.run([NODE, "scripts/browser-check.mjs", page_url, "--text", prefix, "--wav", str(DIGITS),
                        "--mic", str(DIGITS), "--mic-seconds", str(audio_seconds + 1.0),
                        "--screenshot", str(tmp_path / "page.png")],
                       cwd=JS, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    page = json.loads(r.stdout)
    assert page["status"] == "ready" and not page["errors"], page
    py_words, _ = both(["stream", "--model", "ptb-lm", "--json"], prefix.encode())
    want = py_words[-1]["next"]
    assert_same_ranking(page["predictions"], want)
    assert [s["word"] for s in page["suggestions"]] == [p["word"] for p in page["predictions"]]
    py_events, _ = both(["stream", "--model", "fsdd-kws", "--input", str(DIGITS), "--json"])
    assert len(py_events) >= 5 and page["wavEvents"] == py_events
    assert page["micHeard"]["peak"] > 0.1, "the fake microphone delivered silence: Chromium could not play the WAV"
    mic = page["micEvents"]
    assert [e["keyword"] for e in mic] == [e["keyword"] for e in py_events], page["micEvents"]
    for got, exp in zip(mic, py_events):
        assert abs(got["time"] - exp["time"]) <= 0.16, (got, exp)
    assert (tmp_path / "page.png").stat().st_size > 10000
