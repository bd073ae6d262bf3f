"""The documented client runs exactly as written, with onnxruntime alone, and agrees with ours."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from edge_rnn.runtime.lm import NextWordPredictor

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-format.md"


def client_code() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- client-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "the client example is missing from docs/model-format.md"
    return match.group(1)


def test_client_example_is_short_and_standalone():
    code = client_code()
    assert len(code.strip().splitlines()) <= 20
    assert "edge_rnn" not in code.replace('"edge_rnn.', "")


def test_client_example_runs_and_matches_runtime(tmp_path, lm_onnx):
    script = tmp_path / "client.py"
    script.write_text(client_code(), encoding="utf-8")
    words = ["the", "cat", "sees"]
    # -I: isolated mode, so the client cannot pick up edge_rnn from the working tree
    out = subprocess.run([sys.executable, "-I", str(script), str(lm_onnx), *words],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    predictor = NextWordPredictor(lm_onnx)
    predictor.feed(words)
    assert out.stdout.split() == [w for w, _ in predictor.top_k(5)]
