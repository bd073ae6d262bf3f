"""What the tests of the JavaScript client (clients/js) share: the Node CLI beside the Python CLI,
and `npm ci` when its dependencies are missing."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "clients" / "js"
CLI = JS / "cli.mjs"
PY_CLI = [sys.executable, "-c", "import sys; from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"]
NODE = shutil.which("node")


def unavailable(reason: str) -> None:
    """Skip, saying why; under CI (CI set) fail instead: there `make test` has installed what the
    JavaScript client's tests need, so a missing piece is a broken set-up, not a choice."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run this test (`make test` installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def js_ready() -> Path:
    """clients/js with its node_modules, installed with `npm ci` when missing (`make test` has
    already run it)."""
    if NODE is None:
        unavailable("node is not installed (the JavaScript client needs Node.js 18 or later)")
    if not (JS / "node_modules" / "onnxruntime-node").is_dir() or not (JS / "node_modules" / "onnxruntime-web").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            unavailable("npm is not installed: cannot install clients/js dependencies")
        # onnxruntime-node's post-install would fetch CUDA files from outside the npm registry
        env = {**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip"}
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"npm ci failed: {r.stderr[-2000:]}"
    return JS


def run(cmd: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=600, cwd=ROOT)


def node_cli(binding: str = "node") -> list[str]:
    return [NODE, str(CLI)] + (["--binding", binding] if binding != "node" else [])


def json_lines(cmd: list[str], stdin: bytes = b"") -> list[dict]:
    r = run(cmd, stdin)
    assert r.returncode == 0, f"{cmd[0]} failed: {r.stderr.decode()[-2000:]}"
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


@functools.lru_cache(maxsize=256)
def _python_lines(args: tuple[str, ...], stdin: bytes) -> str:
    return json.dumps(json_lines(PY_CLI + list(args), stdin))


def both(args: list[str], stdin: bytes = b"", binding: str = "node") -> tuple[list[dict], list[dict]]:
    """JSON lines printed by the Python CLI and by the Node CLI (on onnxruntime-node, or on
    onnxruntime-web's wasm build with binding="web") for the same arguments. The Python CLI's
    lines are kept for the next call with the same arguments and input."""
    return json.loads(_python_lines(tuple(args), stdin)), json_lines(node_cli(binding) + args, stdin)


# int8 matrix products differ between onnxruntime builds on one machine: on x86 without VNNI the
# native kernels add u8 x s8 pairs in saturating 16-bit sums, the wasm build does not. The LM's
# probabilities then differ by up to 0.045 after a few words (runtime.md, "int8 on x86 without VNNI")
INT8_TOLERANCE = 0.05


def native_int8_saturates() -> bool:
    """An x86 processor without VNNI: native and wasm int8 results differ (see above)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "vnni" not in flags


def assert_same_ranking(a: list[dict], b: list[dict], tolerance: float = INT8_TOLERANCE, where=None) -> None:
    """The same next words in the same order, probabilities within `tolerance`; two words may trade
    places only where their probabilities are that close (a near tie)."""
    assert len(a) == len(b), where
    for x, y in zip(a, b):
        assert abs(x["prob"] - y["prob"]) <= tolerance, (where, x, y)
        if x["word"] != y["word"]:  # a near tie: each side ranks the other's word within tolerance
            others = {n["word"]: n["prob"] for n in b}  # absent: it fell just past the other's last
            assert abs(others.get(x["word"], b[-1]["prob"]) - x["prob"]) <= 2 * tolerance, (where, x, y)


def assert_same_predictions(py: list[dict], js: list[dict], tolerance: float = INT8_TOLERANCE) -> None:
    """The same words with the same next words (near ties aside, see assert_same_ranking)."""
    assert py, "the Python CLI printed nothing: the comparison would prove nothing"
    assert [p["word"] for p in py] == [j["word"] for j in js]
    for p, j in zip(py, js):
        assert (p["tokens"], p["known"], p["sentence_end"]) == (j["tokens"], j["known"], j["sentence_end"]), p["word"]
        assert_same_ranking(p["next"], j["next"], tolerance, p["word"])
