"""Real training steps: every cell type learns, checkpoints are safe and resumable."""

from __future__ import annotations

import json

import pytest
import torch

from edge_rnn.checkpoint import load_checkpoint
from edge_rnn.config import ModelConfig
from edge_rnn.data import Vocab, encode_file
from edge_rnn.lm_train import batchify, run_stream
from edge_rnn.models import LanguageModel
from edge_rnn.runtime.errors import UserError

from conftest import tiny_lm_checkpoint


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_each_cell_type_loss_falls(cell, corpus):
    torch.manual_seed(0)
    vocab = Vocab.build(corpus[0], 100)
    data = batchify(encode_file(corpus[0], vocab), 8)
    config = ModelConfig(task="lm", cell=cell, hidden=[24, 16], embedding=16, vocab_size=len(vocab))
    model = LanguageModel(config)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    first, n = run_stream(model, data[:, :60], 10)
    for _ in range(4):
        run_stream(model, data, 10, opt, clip=1.0)
    after, m = run_stream(model, data[:, :60], 10)
    assert after / m < 0.7 * (first / n)


def test_per_layer_sizes_and_state_order():
    config = ModelConfig(task="lm", cell="lstm", hidden=[32, 8, 4], embedding=6, vocab_size=20)
    assert config.state_sizes == [("h0", 32), ("c0", 32), ("h1", 8), ("c1", 8), ("h2", 4), ("c2", 4)]
    model = LanguageModel(config)
    logits, state = model(torch.zeros(2, 3, dtype=torch.long), model.init_state(2))
    assert logits.shape == (2, 3, 20)
    assert [tuple(s.shape) for s in state] == [(2, 32), (2, 32), (2, 8), (2, 8), (2, 4), (2, 4)]


def test_tied_weights_need_matching_sizes():
    with pytest.raises(ValueError, match="tie"):
        ModelConfig(task="lm", hidden=[16, 12], embedding=10, vocab_size=5, tie_weights=True)
    model = LanguageModel(ModelConfig(task="lm", hidden=[16, 10], embedding=10, vocab_size=5, tie_weights=True))
    assert model.decoder.weight is model.embed.weight


def test_vocab_caps_and_maps_unknown(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("a a a b b c\nd a\n", encoding="utf-8")
    vocab = Vocab.build(p, max_size=4)
    assert vocab.words == ["<unk>", "<eos>", "a", "b"]
    assert vocab.encode(["a", "zzz"]) == [2, vocab.unk]


def test_gzip_and_non_utf8(tmp_path):
    import gzip

    gz = tmp_path / "t.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("x y\n")
    assert encode_file(gz, Vocab(["<unk>", "<eos>", "x", "y"])) == [2, 3, 1]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9\n")
    with pytest.raises(UserError, match="not UTF-8"):
        Vocab.build(bad)


def test_checkpoint_has_config_and_resumes(tmp_path, corpus):
    ckpt = tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=1)
    payload = load_checkpoint(ckpt)
    assert isinstance(payload["config"], ModelConfig) and payload["config"].cell == "gru"
    assert payload["vocab"][:2] == ["<unk>", "<eos>"]
    tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=2, extra=["--resume"])
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert (tmp_path / "metrics.csv").read_text().startswith("epoch,")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_checkpoint_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"format": 1, "config": "{}", "x": Evil()}, bad)
    with pytest.raises(UserError, match="not an edge-rnn checkpoint"):
        load_checkpoint(bad)


def test_weight_average_tracks_steps_and_swaps_back():
    from edge_rnn.train import WeightAverage

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    average = WeightAverage(model, decay=0.5)
    optimizer.register_step_post_hook(average.update)
    expected = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        optimizer.step()
        expected = [0.5 * e + 0.5 * p.detach() for e, p in zip(expected, model.parameters())]
    trained = [p.detach().clone() for p in model.parameters()]
    with average.applied():
        for p, e in zip(model.parameters(), expected):
            torch.testing.assert_close(p.detach(), e)
    for p, t in zip(model.parameters(), trained):
        assert torch.equal(p.detach(), t)  # the trained weights are back for the next step
    assert not torch.allclose(expected[0], trained[0])


def test_ema_training_saves_the_average_and_resumes(tmp_path, corpus):
    tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=1, extra=["--ema", "0.9"])
    best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
    names = [n for n, p in best["model"].items() if n.endswith("weight")]
    assert len(last["ema"]) > 0
    assert any(not torch.equal(best["model"][n], last["model"][n]) for n in names)  # best holds the average
    tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=2, extra=["--ema", "0.9", "--resume"])
    assert [row["epoch"] for row in json.loads((tmp_path / "metrics.json").read_text())] == [1, 2]
