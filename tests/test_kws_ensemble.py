"""Several keyword spotters exported as one model that averages their probabilities."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edge_rnn.checkpoint import export_checkpoints, save_checkpoint
from edge_rnn.cli import main
from edge_rnn.config import KWSConfig
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.labels import keyword_labels as make_labels
from edge_rnn.runtime.session import Session


def _member(path, seed, **kw):
    torch.manual_seed(seed)
    config = KWSConfig(**{**dict(cell="gru", hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16), **kw})
    model = KeywordNet(config).eval()
    with torch.no_grad():  # each member its own normalisation, as trained members have
        model.frontend.mean.uniform_(-1, 1)
        model.frontend.std.uniform_(0.5, 2)
    save_checkpoint(path, model, config, detector={"threshold": 0.6})
    return path


@pytest.fixture
def members(tmp_path):
    """A GRU, one with a longer analysis window (longer audio context) and a stacked LSTM: different
    state layouts."""
    return [_member(tmp_path / "gru.pt", 1),
            _member(tmp_path / "wide.pt", 2, win=400, n_mels=20),
            _member(tmp_path / "lstm.pt", 3, cell="lstm", hidden=[10, 6])]


def test_ensemble_averages_its_members_and_carries_every_state(tmp_path, members):
    report = export_checkpoints(members, tmp_path / "ens.onnx", "fp32")
    assert report["parity_max_abs_diff"] <= 1e-4 and report["cell"] == ["gru", "gru", "lstm"]
    ens = Session(tmp_path / "ens.onnx")
    names = [s.input for s in ens.contract.states]
    assert names == ["state_context", "state_m0_h0", "state_m0_h1", "state_m1_h0", "state_m1_h1",
                     "state_m2_h0", "state_m2_c0", "state_m2_h1", "state_m2_c1"]
    assert ens.contract.states[0].size == 400 - 80  # the longest member context (the wide window's)
    assert ens.contract.detector["threshold"] == 0.6 and ens.contract.labels == make_labels(["zero", "one"])
    singles = []
    for i, m in enumerate(members):
        export_checkpoints(m, tmp_path / f"{i}.onnx", "fp32")
        singles.append(Session(tmp_path / f"{i}.onnx"))
    audio = (np.random.default_rng(0).random((2, 80 * 60), dtype=np.float32) - 0.5) * 0.3
    # fed in uneven chunks, states carried: the ensemble equals the mean of its members
    e_state, s_states = ens.zero_state(2), [s.zero_state(2) for s in singles]
    got, want = [], []
    for a, b in [(0, 80), (80, 880), (880, 4800)]:
        out, e_state = ens.run(audio[:, a:b], e_state)
        got.append(out)
        outs = []
        for k, s in enumerate(singles):
            o, s_states[k] = s.run(audio[:, a:b], s_states[k])
            outs.append(o)
        want.append(np.mean(outs, axis=0))
    np.testing.assert_allclose(np.concatenate(got, 1), np.concatenate(want, 1), atol=1e-5)
    whole, _ = ens.run(audio, ens.zero_state(2))
    np.testing.assert_allclose(whole, np.concatenate(got, 1), atol=1e-5)


def test_ensemble_int8_quantizes_every_member(tmp_path, members):
    export_checkpoints(members, tmp_path / "q.onnx", "int8")
    model = onnx.load(str(tmp_path / "q.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == 2 and ops.count("GRU") == 4 and not any("Dynamic" in op for op in ops)
    int8 = [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and "_int8" in t.name]
    basis = [n for n in int8 if "basis" in n]
    assert len(int8) - len(basis) == 3 * 5  # W and R of both layers and the classifier, each
    assert len(basis) == 2  # the two window lengths' DFT kernels (the equal ones stored once)
    floats = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    assert not any(len(t.dims) == 3 for t in floats)  # no float DFT kernel left
    session = Session(tmp_path / "q.onnx")
    out, _ = session.run(np.zeros((1, 800), np.float32), session.zero_state())
    assert out.shape == (1, 10, 4) and np.allclose(out.sum(-1), 1, atol=1e-4)


def test_ensemble_refuses_what_cannot_be_averaged(tmp_path, members, lm_checkpoint, capsys):
    other = _member(tmp_path / "other.pt", 4, labels=make_labels(["zero", "two"]))
    out = tmp_path / "e.onnx"
    cases = [([members[0], other], "labels"), ([members[0], lm_checkpoint], "only keyword spotters"),
             ([members[0], tmp_path / "missing.pt"], "not found")]
    for paths, message in cases:
        code = main(["export", *map(str, paths), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not out.exists()
    text = tmp_path / "valid.txt"
    text.write_text("the cat sees a dog\n", encoding="utf-8")
    assert main(["export", str(members[0]), "--out", str(out), "--valid-text", str(text)]) == 2
    err = capsys.readouterr().err
    assert "--valid-text applies to language models" in err and err.count("\n") == 1 and not out.exists()
