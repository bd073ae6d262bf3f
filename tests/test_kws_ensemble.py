"""Several keyword spotters exported as one model that averages their probabilities."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edge_rnn.checkpoint import save_checkpoint
from edge_rnn.cli import main
from edge_rnn.config import ModelConfig
from edge_rnn.export.pipeline import export_checkpoint
from edge_rnn.kws_data import make_labels
from edge_rnn.kws_model import KeywordSpotter as TorchSpotter
from edge_rnn.runtime.session import Session


def _member(path, seed, **kw):
    torch.manual_seed(seed)
    base = dict(task="kws", cell="gru", hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16)
    config = ModelConfig(**{**base, **kw})
    save_checkpoint(path, TorchSpotter(config).eval(), config, detector={"threshold": 0.6})
    return path


@pytest.fixture
def members(tmp_path):
    """An MFCC GRU, a CRNN (longer audio context) and a stacked LSTM: different state layouts."""
    return [_member(tmp_path / "mfcc.pt", 1, n_cepstra=10),
            _member(tmp_path / "crnn.pt", 2, conv_channels=4, conv_kernel=[5, 6], conv_stride=2),
            _member(tmp_path / "lstm.pt", 3, cell="lstm", hidden=[10, 6])]


def test_ensemble_averages_its_members_and_carries_every_state(tmp_path, members):
    report = export_checkpoint(members, tmp_path / "ens.onnx", "fp32")
    assert report["parity_max_abs_diff"] <= 1e-4 and report["cell"] == ["gru", "gru", "lstm"]
    ens = Session(tmp_path / "ens.onnx")
    names = [s.input for s in ens.contract.states]
    assert names == ["state_context", "state_m0_h0", "state_m0_h1", "state_m1_h0", "state_m1_h1",
                     "state_m2_h0", "state_m2_c0", "state_m2_h1", "state_m2_c1"]
    assert ens.contract.states[0].size == 120 + 4 * 80  # the longest member context (the CRNN's)
    assert ens.contract.detector == {"threshold": 0.6} and ens.contract.labels == make_labels(["zero", "one"])
    singles = []
    for i, m in enumerate(members):
        export_checkpoint(m, tmp_path / f"{i}.onnx", "fp32")
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
    export_checkpoint(members, tmp_path / "q.onnx", "int8")
    model = onnx.load(str(tmp_path / "q.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == 2 and ops.count("GRU") == 4 and not any("Dynamic" in op for op in ops)
    int8 = [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and "_int8" in t.name]
    assert len([n for n in int8 if "frontend" not in n]) == 3 * 5  # W and R of both layers and the classifier, each
    floats = [t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    assert any("frontend.basis" in n for n in int8) and not any(n.endswith(".basis") for n in floats)  # DFTs int8
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


def test_distillation_loss_mixes_hard_and_soft_targets():
    from edge_rnn.kws_data import IGNORE
    from edge_rnn.kws_train import kws_loss

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 4, generator=gen)
    labels = torch.tensor([[0, 0, IGNORE, 2, 2, 0], [1, IGNORE, 3, 3, 0, 0]])
    teacher = torch.softmax(torch.randn(2, 6, 4, generator=gen), -1)
    hard = torch.nn.functional.cross_entropy(logits.reshape(-1, 4), labels.reshape(-1), ignore_index=IGNORE)
    soft = -(teacher * torch.log_softmax(logits, -1)).sum(-1).mean()
    torch.testing.assert_close(kws_loss(logits, labels, None, 0.5), hard)
    torch.testing.assert_close(kws_loss(logits, labels, teacher, 0.0), hard)
    torch.testing.assert_close(kws_loss(logits, labels, teacher, 0.3), 0.7 * hard + 0.3 * soft)
    # the soft part covers the ignored onset frames too, and is least where the student copies the teacher
    assert kws_loss(logits, torch.full_like(labels, IGNORE), teacher, 1.0) == kws_loss(logits, labels, teacher, 1.0)
    assert kws_loss(teacher.log(), labels, teacher, 1.0) < kws_loss(logits, labels, teacher, 1.0)


def test_distilled_student_is_closer_to_its_teacher(tmp_path, kws_checkpoint):
    """A student trained on the teacher's probabilities ends nearer to them than the same student
    trained on the labels alone (same seed, data and steps)."""
    from conftest import fsdd_subset
    from edge_rnn.checkpoint import load_checkpoint
    from edge_rnn.kws_data import load_utterances
    from edge_rnn.kws_train import load_teacher, make_batch

    data = fsdd_subset(tmp_path / "data")
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "jackson",
            "--hidden", "12", "--epochs", "2", "--clips-per-epoch", "96", "--clip-seconds", "2", "--quiet",
            "--threads", "1", "--seed", "3"]
    for name, extra in (("plain", []), ("student", ["--teacher", str(kws_checkpoint), "--distill", "1"])):
        assert main(args + ["--out", str(tmp_path / name)] + extra) == 0
    teacher = load_teacher((kws_checkpoint,), load_checkpoint(kws_checkpoint)["config"])
    utts = load_utterances(data, 8000)
    x, _ = make_batch(utts, {"zero": 2, "one": 3}, 24, 16000, 80, np.random.default_rng(5))
    with torch.no_grad():
        target = teacher.scores(x, teacher.init_state(24))[0]
        gaps = {}
        for name in ("plain", "student"):
            ckpt = load_checkpoint(tmp_path / name / "best.pt")
            model = TorchSpotter(ckpt["config"])
            model.load_state_dict(ckpt["model"])
            model.eval()
            logp = torch.log_softmax(model(x, model.init_state(24))[0], -1)
            gaps[name] = float((target * (target.clamp_min(1e-9).log() - logp)).sum(-1).mean())  # KL
    assert gaps["student"] < 0.8 * gaps["plain"], gaps


def test_teacher_must_match_the_student(tmp_path, kws_checkpoint, lm_checkpoint, capsys):
    from conftest import fsdd_subset

    data = fsdd_subset(tmp_path / "data")
    base = ["train", "kws", "--data", str(data), "--valid-speaker", "jackson", "--hidden", "8", "--epochs", "1",
            "--clips-per-epoch", "8", "--clip-seconds", "1", "--quiet", "--threads", "1", "--out", str(tmp_path / "o")]
    for keywords, teacher in (("zero,two", kws_checkpoint), ("zero,one", lm_checkpoint)):
        assert main(base + ["--keywords", keywords, "--teacher", str(teacher)]) == 2
        err = capsys.readouterr().err
        assert "same labels" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "best.pt").exists()
