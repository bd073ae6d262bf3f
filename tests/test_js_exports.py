"""The JavaScript client on models exported by this test run, not only on the bundled files.

Tiny language models (LSTM and GRU) and a tiny keyword spotter, each exported fp32 and int8 (the
int8 scheme: MatMulInteger over per-row uint8 activations with zero point 128, Gather over an
int8 table, DequantizeLinear in front of the recurrent weights), run by the Node CLI on
onnxruntime-node and on onnxruntime-web's wasm build (the browser's binding, here under Node):
the same next words and keyword events as `edge-rnn stream --json`. And the same refusals as the
Python runtime: wrong metadata, damaged files, a file without a digest (a warning).
"""

from __future__ import annotations

import json
import random
import re
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import FSDD, rewrite_metadata, tiny_lm_checkpoint
from js_helpers import PY_CLI, assert_same_predictions, both, native_int8_saturates, node_cli, run
from test_integrity import BAD_METADATA

# lines are sentences: in the language the tiny models learned, with other case, unknown words,
# blank lines and word orders it never saw
TEXT = ("the cat sees a bird .\nmy friend calls the river .\nThe CAT likes OUR neighbour\nthe dog xyzzy finds\n\n"
        "  a letter helps the teacher .\nriver river river the the . . calls\n")


@pytest.fixture(scope="module")
def gru_lm(tmp_path_factory, corpus) -> dict[str, Path]:
    from edge_rnn.checkpoint import export_checkpoints

    d = tmp_path_factory.mktemp("gru_lm")
    ckpt = tiny_lm_checkpoint(d / "run", corpus, cell="gru", hidden="16")
    return {p: Path(export_checkpoints(ckpt, d / f"lm.{p}.onnx", p)["out"]) for p in ("fp32", "int8")}


def lm_model(request, name: str) -> Path:
    if name.startswith("gru"):
        return request.getfixturevalue("gru_lm")[name.split("_")[1]]
    return request.getfixturevalue({"lstm_fp32": "lm_onnx", "lstm_int8": "lm_int8"}[name])


def ops(path: Path) -> dict[str, set]:
    """op type -> the element types of its initializer inputs."""
    model = onnx.load(str(path))
    types = {t.name: t.data_type for t in model.graph.initializer}
    out: dict[str, set] = {}
    for node in model.graph.node:
        out.setdefault(node.op_type, set()).update(types[i] for i in node.input if i in types)
    return out


def test_the_int8_exports_use_the_per_row_scheme(lm_int8, gru_lm):
    for path in (lm_int8, gru_lm["int8"]):
        found = ops(path)
        assert onnx.TensorProto.INT8 in found["MatMulInteger"] and onnx.TensorProto.UINT8 in found["MatMulInteger"]
        assert onnx.TensorProto.INT8 in found["Gather"]  # the embedding table
        assert onnx.TensorProto.INT8 in found["DequantizeLinear"]  # the recurrent weights
        assert not {"DynamicQuantizeLinear", "DynamicQuantizeLSTM"} & set(found)


@pytest.mark.parametrize("binding", ["node", "web"])
@pytest.mark.parametrize("name", ["lstm_fp32", "lstm_int8", "gru_fp32", "gru_int8"])
def test_next_words_of_exports_match_python(js_ready, request, name, binding):
    if binding == "web" and name.endswith("int8") and native_int8_saturates():
        pytest.skip("this x86 processor has no VNNI: onnxruntime's native int8 kernels saturate, its wasm build "
                    "does not (docs/runtime.md), so a tiny int8 model's words differ between them")
    model = str(lm_model(request, name))
    for k in ("3", "15"):  # within the graph's top-k, and past it (a softmax over the logits)
        py, js = both(["stream", "--model", model, "--json", "--top-k", k], TEXT.encode(), binding)
        assert len(py) >= 30
        assert_same_predictions(py, js)


def wav_of(audio: np.ndarray, rate: int = 8000) -> bytes:
    data = np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def held_out_stream(seed: int) -> np.ndarray:
    """Recordings of speakers the tiny spotter never heard (it trained on george and jackson),
    every digit, with 0.2-1 s of silence between them, at 8 kHz."""
    rng = random.Random(seed)
    files = sorted(p for p in FSDD.glob("*.wav") if p.stem.split("_")[1] not in ("george", "jackson"))
    parts = [np.zeros(3000)]
    for path in rng.sample(files, 10):
        data = path.read_bytes()
        at = data.index(b"data") + 8
        parts += [np.frombuffer(data[at:at + struct.unpack_from("<I", data, at - 4)[0]], "<i2") / 32768.0,
                  np.zeros(rng.randint(1600, 8000))]
    return np.concatenate(parts)


@pytest.mark.parametrize("binding", ["node", "web"])
@pytest.mark.parametrize("fixture", ["kws_onnx", "kws_int8"])
def test_keyword_events_of_exports_match_python(js_ready, request, tmp_path, fixture, binding):
    model = str(request.getfixturevalue(fixture))
    wav = tmp_path / "held-out.wav"
    wav.write_bytes(wav_of(np.concatenate([held_out_stream(3), held_out_stream(4)])))
    total = 0
    runs = [("7", "0.3"), ("45", "0.5"), ("1000", "0.3"), ("100", None)]
    for chunk_ms, threshold in runs if binding == "node" else runs[::2]:
        args = ["stream", "--model", model, "--input", str(wav), "--json", "--chunk-ms", chunk_ms]
        py, js = both(args + (["--threshold", threshold] if threshold else []), binding=binding)
        total += len(py)
        if binding == "node":
            assert js == py, (chunk_ms, threshold)
        else:  # another build's float sums: the same events, scores within rounding
            assert [(e["keyword"], e["time"]) for e in js] == [(e["keyword"], e["time"]) for e in py]
            assert all(abs(a["score"] - b["score"]) <= 2e-4 for a, b in zip(js, py))
    assert total >= 6, "too few events for the comparison to mean anything"


def one_line_refusal(cmd: list[str], stdin: bytes = b"the cat\n") -> str:
    r = run(cmd, stdin)
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and len(err.splitlines()) == 1 and r.stdout == b"", (cmd[-4:], err)
    return err


@pytest.mark.parametrize("task, changes, message", BAD_METADATA)
def test_wrong_metadata_is_refused_as_python_refuses_it(js_ready, task, changes, message, tmp_path, request):
    src = request.getfixturevalue("lm_onnx" if task == "lm" else "kws_onnx")
    bad = rewrite_metadata(src, tmp_path / "bad.onnx", changes)
    args = ["stream", "--model", str(bad)] + (["--input", "-"] if task == "kws" else [])
    for cmd in (PY_CLI, node_cli()):
        err = one_line_refusal(cmd + args)
        assert re.search(message, err), (cmd[0], err)


def test_a_state_size_that_disagrees_with_the_graph_is_refused(js_ready, lm_onnx, tmp_path):
    meta = {p.key: p.value for p in onnx.load(str(lm_onnx)).metadata_props}
    states = json.loads(meta["edge_rnn.states"])
    states[0]["shape"][1] = 7
    bad = rewrite_metadata(lm_onnx, tmp_path / "bad.onnx", {"edge_rnn.states": json.dumps(states)})
    for binding in ("node", "web"):
        assert r"but [batch, 7] in its metadata" in one_line_refusal(node_cli(binding) + ["stream", "--model", str(bad)])


def test_damaged_files_are_refused(js_ready, lm_int8, tmp_path):
    """Byte changes anywhere, and the file cut short: a one-line refusal, never a model that runs."""
    data = lm_int8.read_bytes()
    rng = np.random.default_rng(5)
    path = tmp_path / "damaged.onnx"
    for case in range(24):
        at = int(rng.integers(1, len(data)))
        if case % 3 == 2:
            damaged = data[:at]
        else:
            damaged = bytearray(data)
            damaged[at] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(damaged))
        err = one_line_refusal(node_cli() + ["stream", "--model", str(path)])
        assert "damaged" in err or "not an onnx model" in err.lower() or "not utf-8" in err.lower(), err


def test_a_file_without_a_digest_runs_with_a_warning(js_ready, lm_onnx, tmp_path):
    from edge_rnn.runtime.model_file import DIGEST_KEY

    old = rewrite_metadata(lm_onnx, tmp_path / "old.onnx", {DIGEST_KEY: None}, stamp=False)
    outputs = []
    for cmd in (PY_CLI, node_cli()):
        r = run(cmd + ["stream", "--model", str(old), "--json"], b"the cat sees\n")
        assert r.returncode == 0 and "carries no integrity digest" in r.stderr.decode(), r.stderr
        assert len(r.stderr.decode().strip().splitlines()) == 1
        outputs.append([json.loads(line) for line in r.stdout.decode().splitlines()])
    assert_same_predictions(*outputs)
