"""The benchmark harness runs end to end on tiny models (it measures; it asserts no speed)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from edge_rnn.bench.table import runtime_table
from edge_rnn.bench.measure import (empty_call_seconds, kws_rows, lm_macs_per_token, lm_rows, peak_macs_per_second,
                                runtime_process, weight_bytes_per_step)
from edge_rnn.runtime.session import Session


def test_lm_rows_and_process(lm_int8):
    rows = lm_rows(lm_int8)
    assert set(rows) >= {"token_step_s", "raw_step_s", "chunk32_per_token_s", "streams256_tokens_per_s"}
    assert all(v > 0 for v in rows.values())
    proc = runtime_process(lm_int8)
    assert proc["torch_imported"] is False and proc["peak_rss_mb"] > 10


def test_floor_pieces(lm_int8):
    config = Session(lm_int8).contract.config
    assert lm_macs_per_token(config) == 4 * 16 * (12 + 16) + 4 * 12 * (16 + 12) + 12 * config["vocab_size"]
    assert 0 < weight_bytes_per_step(lm_int8) < lm_int8.stat().st_size
    assert empty_call_seconds() > 0 and peak_macs_per_second("int8", 64, 64, 64) > 0


def test_weight_bytes_agree_with_onnx(lm_int8):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(lm_int8))
    gathered = {n.input[0] for n in model.graph.node if n.op_type == "Gather"}
    expected = 0
    for t in model.graph.initializer:
        nbytes = numpy_helper.to_array(t).nbytes
        expected += nbytes // t.dims[0] if t.name in gathered else nbytes
    assert abs(weight_bytes_per_step(lm_int8) - expected) <= 16  # scalars may be stored as varints


def test_benchmark_needs_no_onnx_package():
    code = ("import sys; sys.modules['onnx'] = None; from edge_rnn.bench.measure import empty_call_seconds, "
            "peak_macs_per_second; print(empty_call_seconds() > 0 and peak_macs_per_second('int8', 32, 32, 32) > 0)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr


def test_kws_rows(kws_onnx):
    rows = kws_rows(kws_onnx, seconds=3)
    assert set(rows) == {"rtf_10ms", "rtf_100ms", "rtf_1000ms"} and all(v > 0 for v in rows.values())


def test_table_renders(lm_int8):
    result = {"floor": {"step_floor_s": 1e-4, "batch_floor_tokens_per_s": 1e5, "weight_bytes_per_step": 1000,
                        "read_bandwidth_Bps": 1e10, "dram_bandwidth_Bps": 5e9, "empty_call_s": 5e-6,
                        "peak_int8_macs": 1e11, "peak_fp32_macs": 1e10, "macs_per_token": 1e6},
              "lm": lm_rows(lm_int8), "process": {"peak_rss_mb": 50.0, "torch_imported": False, "load_s": 0.01},
              "files": {"lm_bytes": 1000, "lm_fp32_bytes": 4000}}
    table = runtime_table(result, {"PyTorch eager": 1e-3}, result["lm"])
    assert "PyTorch eager" in table and "0.250x fp32" in table


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed: no babble")
def test_stream_edges_counts_false_accepts_at_stream_starts(capsys):
    """benchmarks/stream_edges.py on the bundled spotter: 120 fresh streams of noise alone, each
    event counted (the bundle fires only in some babble starts), as JSON."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import stream_edges
    finally:
        sys.path.pop(0)
    assert stream_edges.main(["--model", "fsdd-kws", "--json"]) == 0
    starts = json.loads(capsys.readouterr().out)["starts"]
    assert starts["streams"] == 120 and set(starts["false_accepts_per_kind"]) == set(stream_edges.KINDS)
    assert starts["false_accepts"] == sum(starts["false_accepts_per_kind"].values()) <= 20  # 9 on 2026-12-01
    assert stream_edges.main(["--model", "no-such-model.onnx"]) == 2
