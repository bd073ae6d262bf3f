"""Real training steps: every cell type learns, checkpoints are safe and resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edge_rnn.checkpoint import load_checkpoint
from edge_rnn.config import LMConfig, ModelConfig
from edge_rnn.models.language import LanguageModel
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.vocab import Vocabulary
from edge_rnn.training.corpus import build_vocabulary, encode_file
from edge_rnn.training.lm import batchify, run_stream

from conftest import tiny_lm_checkpoint


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_each_cell_type_loss_falls(cell, corpus):
    torch.manual_seed(0)
    vocab = build_vocabulary(corpus[0], 100)
    data = batchify(encode_file(corpus[0], vocab), 8)
    config = LMConfig(cell=cell, hidden=[24, 16], embedding=16, vocab_size=len(vocab))
    model = LanguageModel(config)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    first, n = run_stream(model, data[:, :60], 10)
    for _ in range(4):
        run_stream(model, data, 10, opt, clip=1.0)
    after, m = run_stream(model, data[:, :60], 10)
    assert after / m < 0.7 * (first / n)


def test_per_layer_sizes_and_state_order():
    config = LMConfig(cell="lstm", hidden=[32, 8, 4], embedding=6, vocab_size=20)
    assert config.state_sizes == [("h0", 32), ("c0", 32), ("h1", 8), ("c1", 8), ("h2", 4), ("c2", 4)]
    model = LanguageModel(config)
    logits, state = model(torch.zeros(2, 3, dtype=torch.long), model.init_state(2))
    assert logits.shape == (2, 3, 20)
    assert [tuple(s.shape) for s in state] == [(2, 32), (2, 32), (2, 8), (2, 8), (2, 4), (2, 4)]


def test_vocab_caps_and_maps_unknown(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("a a a b b c\nd a\n", encoding="utf-8")
    vocab = build_vocabulary(p, max_size=4)
    assert vocab.words == ["<unk>", "<eos>", "a", "b"]
    assert vocab.encode(["a", "zzz", "A"]) == [2, vocab.unk, vocab.unk]  # case is the text rules' business


def test_gzip_and_non_utf8(tmp_path):
    import gzip

    gz = tmp_path / "t.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("x y\n")
    assert encode_file(gz, Vocabulary(["<unk>", "<eos>", "x", "y"])) == [2, 3, 1]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9\n")
    with pytest.raises(UserError, match="not UTF-8"):
        build_vocabulary(bad)


def test_checkpoint_has_config_and_resumes(tmp_path, corpus):
    ckpt = tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=1)
    payload = load_checkpoint(ckpt)
    assert isinstance(payload["config"], LMConfig) and payload["config"].cell == "gru"
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


def test_resume_refuses_another_config(tmp_path, corpus, capsys):
    from edge_rnn.cli import main

    tiny_lm_checkpoint(tmp_path, corpus, cell="gru", epochs=1)
    before = (tmp_path / "last.pt").read_bytes()
    train, valid = corpus
    code = main(["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(tmp_path), "--cell", "gru",
                 "--hidden", "16,8", "--embedding", "12", "--epochs", "2", "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "another model config" in err and err.count("\n") == 1
    assert (tmp_path / "last.pt").read_bytes() == before  # nothing of the old run was touched


def test_resume_refuses_other_text_rules(tmp_path, capsys):
    from edge_rnn.cli import main

    text = tmp_path / "plain.txt"  # words the PTB rules leave alone: the same vocabulary either way
    text.write_text("the cat sees a bird\nmy friend calls the dog\n" * 40, encoding="utf-8")
    run = tmp_path / "run"
    tiny_lm_checkpoint(run, (text, text), epochs=1)
    code = main(["train", "lm", "--data", str(text), "--valid", str(text), "--out", str(run), "--hidden", "16,12",
                 "--embedding", "12", "--epochs", "2", "--batch-size", "8", "--bptt", "10", "--lr", "5",
                 "--resume", "--quiet", "--threads", "1", "--text-rules", "ptb"])
    err = capsys.readouterr().err
    assert code == 2 and "other --text-rules" in err and err.count("\n") == 1


def test_configs_of_other_releases_load_and_retired_features_are_refused():
    old = ('{"task": "lm", "cell": "lstm", "hidden": [8], "vocab_size": 5, "embedding": 4, "labels": [], '
           '"n_cepstra": 0, "conv_pool": 1, "tie_weights": false}')
    config = ModelConfig.from_json(old)
    assert isinstance(config, LMConfig) and config.vocab_size == 5 and "labels" not in config.to_json()
    with pytest.raises(ValueError, match="no longer has"):
        ModelConfig.from_json(old.replace('"tie_weights": false', '"tie_weights": true'))
    with pytest.raises(ValueError, match="unknown task"):
        ModelConfig.from_json('{"task": "vision"}')


def test_max_minutes_says_it_stopped_training(tmp_path, corpus, capsys):
    from edge_rnn.cli import main

    train, valid = corpus
    code = main(["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(tmp_path), "--hidden", "8",
                 "--embedding", "4", "--epochs", "50", "--max-minutes", "0.0001", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "stopped by --max-minutes 0.0001 after 1 of 50 epochs (the last one cut short)" in captured.err
    result = json.loads(captured.out)
    assert result["stopped_by"] == "time" and result["epochs_run"] == 1
    assert "epoch epoch" not in captured.err and "epoch 1/50:" in captured.err


def test_text_in_parts_and_in_shares(corpus, tmp_path):
    """A text longer than --memory-tokens is read again in parts at each pass; N processes hold
    the rows one process with N times the batch holds."""
    import math

    from edge_rnn.cli import main
    from edge_rnn.training.corpus import count_words, token_blocks, vocabulary_of
    from edge_rnn.training.distributed import Cluster
    from edge_rnn.training.lm import TokenRows

    counts, tokens = count_words(corpus[0])
    vocab = vocabulary_of(counts, 100)
    ids = encode_file(corpus[0], vocab)
    assert tokens == len(ids) and torch.equal(torch.from_numpy(np.concatenate(list(token_blocks(corpus[0], vocab, 999)))),
                                              torch.tensor(ids, dtype=torch.int32))
    whole = batchify(ids, 8)
    for rank in (0, 1):
        mine = list(TokenRows(corpus[0], vocab, tokens, 4, Cluster(rank, 2), 10**9))
        assert len(mine) == 1 and torch.equal(mine[0].long(), whole[rank * 4 : (rank + 1) * 4])
    parts = TokenRows(corpus[0], vocab, tokens, 4, Cluster(), 1000)
    first, again = [p.clone() for p in parts], list(parts)
    size = math.ceil(tokens / 3)
    assert len(first) == 3 and all(torch.equal(a, b) for a, b in zip(first, again))
    for i, part in enumerate(first):
        assert torch.equal(part.long(), batchify(ids[i * size : (i + 1) * size], 4))
    assert parts.batches(10) == sum(math.ceil((p.size(1) - 1) / 10) for p in first)
    train, valid = corpus
    args = ["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(tmp_path), "--hidden", "16",
            "--embedding", "8", "--epochs", "2", "--batch-size", "4", "--bptt", "10", "--lr", "5",
            "--memory-tokens", "1000", "--threads", "1", "--quiet"]
    assert main(args) == 0
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert history[-1]["val_loss"] < history[0]["val_loss"] and history[-1]["tokens_per_s"] > 0
