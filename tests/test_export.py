"""Real ONNX export: parity for every cell type, metadata contract, int8, checker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.export.parity import ParityError, check_parity
from edge_rnn.models.language import LanguageModel
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.session import Session

from conftest import tiny_lm_checkpoint


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_export_parity_each_cell(cell, tmp_path, corpus):
    ckpt = tiny_lm_checkpoint(tmp_path / "ck", corpus, cell=cell, hidden="10,7,5")
    report = export_checkpoints(ckpt, tmp_path / "m.onnx", "int8")
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


def test_a_late_failure_leaves_the_old_file_and_no_temporaries(tmp_path, lm_checkpoint):
    """Export, parity and quantization run before the perplexity on --valid-text fails (the
    text is not UTF-8): the existing output is untouched and nothing is left behind."""
    import tempfile

    from edge_rnn.runtime.errors import UserError

    out = tmp_path / "keep.onnx"
    out.write_bytes(b"previous model")
    bad = tmp_path / "valid.txt"
    bad.write_bytes(b"the cat \xff sees\n")
    scratch = set(Path(tempfile.gettempdir()).glob("edge-rnn-export-*"))
    with pytest.raises(UserError, match="not UTF-8"):
        export_checkpoints(lm_checkpoint, out, "int8", valid_text=bad)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.onnx", "valid.txt"]
    assert set(Path(tempfile.gettempdir()).glob("edge-rnn-export-*")) == scratch


def test_detector_option_is_stored_and_checked(tmp_path, kws_checkpoint, capsys):
    from edge_rnn.cli import main

    out = tmp_path / "k.onnx"
    assert main(["export", str(kws_checkpoint), "--out", str(out), "--detector",
                 '{"threshold": 0.25, "decision_s": 0.4}', "--json"]) == 0
    stored = Session(out).contract.detector
    assert stored["threshold"] == 0.25 and stored["decision_s"] == 0.4 and stored["smooth_frames"] == 8
    capsys.readouterr()
    for bad, message in [('{"threshold": 2}', "threshold must be a number in [0, 1]"),
                         ('{"thresh": 0.5}', "unknown detector keys"), ("[0.5]", "must be a JSON object"),
                         ('{"smooth_frames": 0}', "smooth_frames")]:
        assert main(["export", str(kws_checkpoint), "--out", str(tmp_path / "x.onnx"), "--detector", bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.onnx").exists()


def test_int8_export_refuses_a_declared_weight_it_cannot_find(tmp_path):
    import torch

    from edge_rnn.config import KWSConfig
    from edge_rnn.export.pipeline import export_model
    from edge_rnn.export.quantize import QuantizeError
    from edge_rnn.models.keyword import KeywordNet
    from edge_rnn.runtime.labels import keyword_labels

    model = KeywordNet(KWSConfig(hidden=[8], labels=keyword_labels(["zero"]), n_mels=16))
    model.int8_weights = lambda: [torch.ones(3, 5)]  # a weight no node uses
    with pytest.raises(QuantizeError, match="not in the exported graph"):
        export_model(model, tmp_path / "k.onnx", "int8", detector={})
    assert not (tmp_path / "k.onnx").exists()
