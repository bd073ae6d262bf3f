"""ORT format (`edge-rnn export --ort`, `edge-rnn convert`): the .ort file runs in onnxruntime and
gives the .onnx file's numbers over several chunks with the state carried; it keeps the whole
contract in its metadata; its sidecar (SHA-256, metadata) and required-operators config are right."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.session import session_options

from conftest import rewrite_metadata

EXE = [sys.executable, "-m", "edge_rnn.cli"]
DIGITS = Path(__file__).resolve().parents[1] / "docs" / "digits.wav"


def cli(args: list[str]) -> dict:
    r = subprocess.run(EXE + args + ["--json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def stream_outputs(session: ort.InferenceSession, chunks: list[np.ndarray]) -> list[np.ndarray]:
    """Every output of every call, feeding `chunks` in a row with the states carried."""
    meta = session.get_modelmeta().custom_metadata_map
    states = json.loads(meta["edge_rnn.states"])
    main = "tokens" if meta["edge_rnn.task"] == "lm" else "audio"
    names = [o.name for o in session.get_outputs()]
    state = {s["input"]: np.zeros((chunks[0].shape[0], s["shape"][1]), np.float32) for s in states}
    got = []
    for x in chunks:
        out = dict(zip(names, session.run(names, {main: x, **state})))
        state = {s["input"]: out[s["output"]] for s in states}
        got += [out[n] for n in names]
    return got


def assert_same_run(onnx_path: Path, ort_path: Path, chunks: list[np.ndarray]) -> None:
    # int8 weights stay int8 + DequantizeLinear in the .ort: compared with the .onnx run the same way
    # (not folded into float at load, the Python runtime's default, which moves numbers by ~1e-3)
    a = ort.InferenceSession(str(onnx_path), session_options(fold_int8=False), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(ort_path), providers=["CPUExecutionProvider"])  # onnxruntime's defaults
    assert [o.name for o in a.get_outputs()] == [o.name for o in b.get_outputs()]
    assert a.get_modelmeta().custom_metadata_map == b.get_modelmeta().custom_metadata_map  # the contract travels
    for x, y in zip(stream_outputs(a, chunks), stream_outputs(b, chunks)):
        if x.dtype == np.int64:  # next_ids: the same ranking
            assert np.array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, atol=2e-5)


def check_sidecars(report: dict, operators: set[str]) -> None:
    data = Path(report["ort"]).read_bytes()
    assert data[4:8] == b"ORTM"  # the ORT format's flatbuffer identifier
    assert report["ort_bytes"] == len(data)
    sidecar = json.loads(Path(report["sidecar"]).read_text(encoding="utf-8"))
    assert sidecar["file"] == Path(report["ort"]).name and report["sidecar"] == report["ort"] + ".json"
    assert sidecar["sha256"] == hashlib.sha256(data).hexdigest() == report["ort_sha256"]
    # the same contract as the one onnxruntime reads from the .ort itself
    session = ort.InferenceSession(report["ort"], providers=["CPUExecutionProvider"])
    assert sidecar["metadata"] == session.get_modelmeta().custom_metadata_map
    config = Path(report["required_operators"]).read_text()
    for op in operators:
        assert op in config, (op, config)


@pytest.mark.parametrize("quantize", ["fp32", "int8"])
def test_export_ort_runs_as_the_onnx_does(lm_checkpoint, tmp_path, quantize):
    out = tmp_path / f"lm.{quantize}.onnx"
    report = cli(["export", str(lm_checkpoint), "--out", str(out), "--ort"] + (["--quantize", "int8"] * (quantize == "int8")))
    assert report["ort"] == str(tmp_path / f"lm.{quantize}.ort")
    check_sidecars(report, {"LSTM"} | ({"MatMulInteger", "DequantizeLinear"} if quantize == "int8" else set()))
    rng = np.random.default_rng(0)
    vocab = len(json.loads(ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map["edge_rnn.vocab"]))
    chunks = [rng.integers(0, vocab, (3, n)).astype(np.int64) for n in (1, 7, 1, 4)]  # 3 streams at once
    assert_same_run(out, Path(report["ort"]), chunks)


def test_convert_a_bundled_keyword_spotter(tmp_path):
    report = cli(["convert", "fsdd-kws", "--out", str(tmp_path / "kws.ort")])
    check_sidecars(report, {"GRU", "Conv"})
    audio = read_wav(DIGITS, 8000)[None, :640 * 60]
    chunks = [audio[:, a:a + 640 * n] for a, n in zip((0, 640, 640 * 6, 640 * 46), (1, 5, 40, 14))]
    assert_same_run(bundled_path("fsdd-kws"), Path(report["ort"]), chunks)


def test_convert_refuses_a_damaged_model_and_a_wrong_name(lm_onnx, tmp_path):
    damaged = rewrite_metadata(lm_onnx, tmp_path / "damaged.onnx", {"edge_rnn.eos": "."}, stamp=False)
    for args, words in ((["convert", str(damaged)], "damaged"),
                        (["convert", str(lm_onnx), "--out", str(tmp_path / "lm.onnx")], "must end in .ort")):
        r = subprocess.run(EXE + args, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    assert not list(tmp_path.glob("*.ort"))
