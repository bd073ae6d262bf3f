"""Real ONNX export: parity for every cell type, metadata contract, int8, checker."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from edge_rnn.checkpoint import load_checkpoint
from edge_rnn.export.parity import ParityError, check_parity
from edge_rnn.export.pipeline import export_checkpoint
from edge_rnn.models import LanguageModel
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.session import Session

from conftest import tiny_lm_checkpoint


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_export_parity_each_cell(cell, tmp_path, corpus):
    ckpt = tiny_lm_checkpoint(tmp_path / "ck", corpus, cell=cell, hidden="10,7,5")
    report = export_checkpoint(ckpt, tmp_path / "m.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    session = Session(tmp_path / "m.onnx", "lm")
    per_layer = 2 if cell == "lstm" else 1
    assert len(session.contract.states) == 3 * per_layer
    assert session.contract.precision == "int8"
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")))


def test_contract_in_metadata(lm_onnx):
    model = onnx.load(str(lm_onnx))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["edge_rnn.format"] == "1" and meta["edge_rnn.task"] == "lm"
    assert meta["edge_rnn.precision"] == "fp32"
    states = json.loads(meta["edge_rnn.states"])
    assert states[0] == {"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 16]}
    assert json.loads(meta["edge_rnn.vocab"])[:2] == ["<unk>", "<eos>"]
    assert json.loads(meta["edge_rnn.config"])["hidden"] == [16, 12]
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    inputs = {i.name: dims(i) for i in model.graph.input}
    outputs = {o.name: dims(o) for o in model.graph.output}
    assert inputs["tokens"] == ["batch", "time"] and inputs["state_c1"] == ["batch", 12]
    assert outputs["logits"][:2] == ["batch", "time"]


def test_stepping_equals_one_chunk(lm_onnx):
    session = Session(lm_onnx)
    tokens = np.array([[3, 5, 7, 2, 9, 4, 1]], np.int64)
    whole, whole_state = session.run(tokens, session.zero_state())
    state, steps = session.zero_state(), []
    for t in range(tokens.shape[1]):
        out, state = session.run(tokens[:, t : t + 1], state)
        steps.append(out)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole, atol=1e-5)
    for a, b in zip(state, whole_state):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_parity_check_catches_a_wrong_model(lm_checkpoint, lm_onnx):
    ckpt = load_checkpoint(lm_checkpoint)
    other = LanguageModel(ckpt["config"])  # fresh weights: not what was exported
    with pytest.raises(ParityError):
        check_parity(other, ckpt["config"], lm_onnx)
    model = LanguageModel(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    assert check_parity(model, ckpt["config"], lm_onnx) <= 1e-4


def test_int8_agrees_with_fp32(lm_onnx, lm_int8, corpus):
    a, b = NextWordPredictor(lm_onnx), NextWordPredictor(lm_int8)
    words = corpus[1].read_text().split()[:150]
    agree = 0
    for w in words:
        a.feed(w), b.feed(w)
        agree += a.top_k(1)[0][0] == b.top_k(1)[0][0]
    assert agree / len(words) >= 0.9
    assert Session(lm_int8).contract.precision == "int8"
    assert lm_int8.stat().st_size < lm_onnx.stat().st_size


def test_tied_weights_stored_once(tmp_path, corpus):
    ckpt = tiny_lm_checkpoint(tmp_path / "ck", corpus, hidden="16,12", extra=["--tie-weights"])
    export_checkpoint(ckpt, tmp_path / "tied.onnx")
    model = onnx.load(str(tmp_path / "tied.onnx"))
    vocab = len(load_checkpoint(ckpt)["vocab"])
    big = [t for t in model.graph.initializer if np.prod(t.dims) == vocab * 12]
    assert len(big) == 1, [(t.name, list(t.dims)) for t in big]


def test_export_never_leaves_half_a_file(tmp_path, lm_checkpoint):
    out = tmp_path / "keep.onnx"
    out.write_bytes(b"previous model")
    with pytest.raises(Exception):
        export_checkpoint(lm_checkpoint, out, "int3")
    assert out.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.onnx"]


def test_int4_output_projection(tmp_path, lm_checkpoint, lm_onnx):
    report = export_checkpoint(lm_checkpoint, tmp_path / "m4.onnx", "int4")
    model = onnx.load(str(tmp_path / "m4.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert "MatMulNBits" in ops and "DynamicQuantizeLSTM" in ops
    assert Session(tmp_path / "m4.onnx").contract.precision == "int4"
    a, b = NextWordPredictor(lm_onnx), NextWordPredictor(tmp_path / "m4.onnx")
    a.feed("the cat sees")
    b.feed("the cat sees")
    assert a.top_k(1)[0][0] == b.top_k(1)[0][0]
    assert report["size_ratio"] < 1
