"""The code in the docs runs exactly as written: the README's quick start, and the model-format
client with onnxruntime alone, which agrees with our runtime."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.series import Forecaster

from series_data import hourly, write_csv

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "model-format.md"


def client_code(marker: str = "client-example", language: str = "python") -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", text, re.S)
    assert match, f"the {marker} is missing from docs/model-format.md"
    return match.group(1)


@pytest.mark.parametrize("marker, lines", [("client-example", 20), ("series-client-example", 22)])
def test_client_examples_are_short_and_standalone(marker, lines):
    code = client_code(marker)
    assert len(code.strip().splitlines()) <= lines
    assert "edge_rnn" not in code.replace('"edge_rnn.', "")


def test_client_example_runs_and_matches_runtime(tmp_path, lm_onnx):
    script = tmp_path / "client.py"
    script.write_text(client_code(), encoding="utf-8")
    words = ["the", "cat", "sees"]
    # -I: isolated mode, so the client cannot pick up edge_rnn from the working tree
    out = subprocess.run([sys.executable, "-I", str(script), str(lm_onnx), *words],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    predictor = NextWordPredictor(lm_onnx, show_special=True)  # the client ranks every word
    predictor.feed(words)
    assert out.stdout.split() == [w for w, _ in predictor.top_k(5)]


@pytest.mark.parametrize("model", ["lm_onnx", "lm_int8"])
def test_javascript_client_example_runs_and_matches_runtime(js_ready, request, model):
    """Run from a folder inside clients/js/node_modules, so that Node finds onnxruntime-node."""
    path = request.getfixturevalue(model)
    folder = js_ready / "node_modules" / f".doc-client-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    try:
        (folder / "client.mjs").write_text(client_code("js-client-example", "js"), encoding="utf-8")
        words = ["the", "Cat", "sees", "xyzzy"]
        out = subprocess.run([shutil.which("node"), str(folder / "client.mjs"), str(path), *words],
                             capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(folder)
    assert out.returncode == 0, out.stderr
    predictor = NextWordPredictor(path, show_special=True)  # the example ranks every word
    predictor.feed(["the", "<unk>", "sees", "<unk>"])  # and looks words up as they are
    assert out.stdout.split() == [w for w, _ in predictor.top_k(5)]


def test_series_client_example_runs_and_matches_runtime(tmp_path):
    """The forecasting client on the bundled seattle-temp, fed a day and a half of readings."""
    times, temp, _ = hourly(2)
    csv = write_csv(tmp_path / "readings.csv", times[:36], {"temp": temp[:36]}, fmt="%Y-%m-%dT%H:%M:%S")
    script = tmp_path / "client.py"
    script.write_text(client_code("series-client-example"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-I", str(script), str(bundled_path("seattle-temp")), str(csv)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    forecaster = Forecaster("seattle-temp")
    for t, value in zip(times[:36], temp[:36]):
        forecast = forecaster.update(value, t)
    assert [float(v) for v in out.stdout.split()] == pytest.approx(np.round(forecast, 3).tolist(), abs=1.5e-3)


def test_readme_quick_start_runs_as_written():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- quick-start -->\s*```python\n(.*?)```", text, re.S)
    assert match, "the quick start is missing from README.md"
    out = subprocess.run([sys.executable, "-c", match.group(1)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("[('report', 0.1")  # what the comment in the README says
    assert [line.split()[0] for line in lines[1:]] == "three one four one five nine two six".split()
    assert lines[1:4] == ["three 0.48", "one 1.84", "four 3.28"]
