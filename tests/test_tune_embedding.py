"""`train kws --tune-embedding N`: the speech embedding's last N blocks train with the head (at a
third of the learning rate); the rest of it stays the pretrained network."""

from __future__ import annotations

import json
import warnings
import re

import numpy as np
import onnx
import pytest
import torch

from conftest import FSDD, chunked_probabilities, fsdd_subset, needs_fsdd, train_embedding_spotter
from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.config import EMBEDDING_BLOCKS, KWSConfig, first_tuned_conv
from edge_rnn.models.embedding import SpeechEmbedding, default_weights
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.labels import keyword_labels
from edge_rnn.training.loop import EMBEDDING_LR_SCALE, TrainOptions, make_optimizer

LABELS = keyword_labels(["zero", "one"])


def config(blocks: int, **kw) -> KWSConfig:
    return KWSConfig(cell="gru", hidden=[8], labels=LABELS, hop=640, front_end="speech-embedding",
                     tune_embedding=blocks, **kw)


def test_blocks_are_counted_from_the_end_and_need_the_embedding():
    assert len(EMBEDDING_BLOCKS) == 4
    assert [first_tuned_conv(n) for n in (1, 2, 3, 4)] == [15, 11, 7, 3]  # of 20 convolutions
    with pytest.raises(ValueError, match="--tune-embedding"):
        KWSConfig(cell="gru", hidden=[8], labels=LABELS, tune_embedding=1)  # log-mel front end
    with pytest.raises(ValueError, match="from 0 to 4"):
        config(5)


def test_only_the_tuned_blocks_learn_and_at_a_third_of_the_rate(tmp_path):
    model = KeywordNet(config(2))
    trainable = [name for name, p in model.embedding.named_parameters() if p.requires_grad]
    assert trainable and all(int(name.split(".")[1]) >= first_tuned_conv(2) for name in trainable)
    assert not any(p.requires_grad for p in KeywordNet(config(0)).embedding.parameters())
    optimizer = make_optimizer(model, TrainOptions(out=tmp_path, optimizer="adam", lr=3e-3))
    lrs = sorted(group["lr"] for group in optimizer.param_groups)
    assert lrs == pytest.approx([3e-3 * EMBEDDING_LR_SCALE, 3e-3])
    # a step moves the tuned blocks and nothing before them
    model.embedding.load_onnx(default_weights())
    before = [c.weight.detach().clone() for c in model.embedding.convs]
    audio = torch.randn(2, 6400) * 0.1
    logits, _ = model(audio, model.init_state(2))
    logits.square().mean().backward()
    optimizer.step()
    moved = [not torch.equal(b, c.weight) for b, c in zip(before, model.embedding.convs)]
    assert moved == [i >= first_tuned_conv(2) for i in range(len(before))]


@needs_fsdd
def test_trains_exports_int8_and_streams_chunk_invariantly(tmp_path):
    data = fsdd_subset(tmp_path / "data", digits=(0, 1))
    with warnings.catch_warnings():  # the anchor's pull is reported without torch's scalar warning
        warnings.filterwarnings("error", message=".*requires_grad=True to a scalar")
        tuned = train_embedding_spotter(data, tmp_path / "run", "--tune-embedding", "1", "--embedding-anchor", "0.001",
                                        "--embedding-denoise", "0.3")
    ckpt = load_checkpoint(tuned)
    assert ckpt["config"].tune_embedding == 1
    settings = json.loads(ckpt["settings"])["data"]
    assert settings["embedding_anchor"] == 0.001 and settings["embedding_denoise"] == 0.3
    original = SpeechEmbedding()
    original.load_onnx(default_weights())
    first = first_tuned_conv(1)
    for i, conv in enumerate(original.convs):
        trained = ckpt["model"][f"embedding.convs.{i}.weight"]
        assert torch.equal(trained, conv.weight) == (i < first), i  # the trunk is the pretrained one
    report = export_checkpoints(tuned, tmp_path / "tuned.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    # the licence notice says the embedding's weights were changed
    assert "were changed" in onnx.load(str(tmp_path / "tuned.onnx"), load_external_data=False).doc_string
    audio = np.concatenate([read_wav(FSDD / "1_jackson_5.wav", 8000), np.zeros(3000, np.float32)])
    runs = chunked_probabilities(tmp_path / "tuned.onnx", audio, (640, 8000))
    np.testing.assert_allclose(runs[1], runs[0], atol=1e-5)
    # an ensemble needs one shared embedding: a member on the pretrained one is refused, a head
    # trained on the tuned one (--embedding-from) joins it
    frozen = train_embedding_spotter(data, tmp_path / "frozen", clips=16)
    with pytest.raises(UserError, match="share one embedding"):
        export_checkpoints([tuned, frozen], tmp_path / "e.onnx")
    head = train_embedding_spotter(data, tmp_path / "head", "--embedding-from", str(tuned), clips=16)
    grown = load_checkpoint(head)["model"]
    shared = [name for name in grown if name.startswith("embedding.")]
    assert shared and all(torch.equal(grown[name], ckpt["model"][name]) for name in shared)
    assert not torch.equal(grown["classifier.weight"], ckpt["model"]["classifier.weight"])
    report = export_checkpoints([tuned, head], tmp_path / "pair.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    assert "were changed" in onnx.load(str(tmp_path / "pair.onnx"), load_external_data=False).doc_string
    export_checkpoints(frozen, tmp_path / "frozen.onnx")
    notice = onnx.load(str(tmp_path / "frozen.onnx"), load_external_data=False).doc_string
    assert "speech_embedding" in notice and "changed" not in notice


def test_embedding_from_needs_a_speech_embedding(tmp_path, kws_checkpoint, capsys):
    from edge_rnn.cli import main

    base = ["train", "kws", "--data", str(FSDD), "--out", str(tmp_path / "run"), "--quiet"]
    cases = [(["--front-end", "speech-embedding", "--embedding-from", str(kws_checkpoint)], "log-mel|logmel"),
             (["--embedding-from", str(kws_checkpoint)], "needs --front-end speech-embedding"),
             (["--front-end", "speech-embedding", "--embedding-from", str(tmp_path / "none.pt")], "not found")]
    for options, message in cases:
        assert main(base + options) == 2
        err = capsys.readouterr().err
        assert re.search(message, err) and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_the_anchor_pulls_tuned_blocks_back_to_where_they_started():
    from edge_rnn.training.kws import Anchor

    model = KeywordNet(config(2))
    model.embedding.load_onnx(default_weights())
    assert Anchor(model, 0.0).penalty() == 0.0 and Anchor(KeywordNet(config(0)), 1.0).penalty() == 0.0
    anchor = Anchor(model, 0.5)
    assert float(anchor.penalty().detach()) == 0.0  # at its start
    tuned = model.embedding.convs[first_tuned_conv(2)].weight
    frozen = model.embedding.convs[0].weight
    with torch.no_grad():
        tuned += 0.1
    before = float(anchor.penalty().detach())
    assert before == pytest.approx(0.5 * 0.01 * tuned.numel(), rel=1e-4)
    anchor.penalty().backward()
    assert frozen.grad is None  # only the tuned blocks are held
    torch.optim.SGD([tuned], lr=0.5).step()  # one step on the pull alone: halfway back
    assert float(anchor.penalty().detach()) == pytest.approx(before / 4, rel=1e-3)


def test_embedding_anchor_needs_tuned_blocks(tmp_path, capsys):
    from edge_rnn.cli import main

    code = main(["train", "kws", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet",
                 "--front-end", "speech-embedding", "--embedding-anchor", "0.01"])
    err = capsys.readouterr().err
    assert code == 2 and "needs --tune-embedding" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
