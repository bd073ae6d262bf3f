"""Training in two real processes (torchrun, gloo on the CPU): a step of two processes on a batch
each equals one process's step on both batches; rank 0 alone writes; resume works; the
checkpoint exports and streams."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import torch

from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.cli import main
from edge_rnn.config import LMConfig
from edge_rnn.models.language import LanguageModel
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.training.loop import seed_everything

from conftest import fsdd_subset, needs_fsdd, write_corpus

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            "-m", "edge_rnn.cli"]
# 12 lines of 7 tokens: 84 tokens make 8 rows of 10 steps, one step of truncated BPTT (10) per epoch
LM = ["--hidden", "12", "--embedding", "8", "--bptt", "10", "--dropout", "0", "--lr", "5", "--threads", "1",
      "--quiet", "--json"]


# gloo's worker threads can abort a process at interpreter exit, after training has finished and
# the process group was destroyed (pytorch/pytorch#190489, #179291): a run that ends with this
# alone is run once more; any other failure, or this one twice, fails the test.
GLOO_EXIT_ABORT = "terminate called without an active exception"


def _torchrun(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    for attempt in (1, 2):
        r = subprocess.run(TORCHRUN + args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        if r.returncode == 0 or GLOO_EXIT_ABORT not in r.stderr or "Traceback" in r.stderr:
            break
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _max_diff(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_two_processes_step_like_one_process_on_both_batches(tmp_path):
    train, valid = write_corpus(tmp_path / "train.txt", 12, 1), write_corpus(tmp_path / "valid.txt", 12, 2)
    text = ["train", "lm", "--data", str(train), "--valid", str(valid), *LM]
    r = _torchrun(text + ["--batch-size", "4", "--epochs", "1", "--out", str(tmp_path / "two")], tmp_path)
    assert len(r.stdout.strip().splitlines()) == 1  # rank 0 alone reports
    assert main(text + ["--batch-size", "8", "--epochs", "1", "--out", str(tmp_path / "one")]) == 0
    two, one = load_checkpoint(tmp_path / "two" / "last.pt"), load_checkpoint(tmp_path / "one" / "last.pt")
    assert [row["epoch"] for row in json.loads(two["train"])["history"]] == [1]
    seed_everything(1111)
    start = LanguageModel(LMConfig(cell="lstm", hidden=[12], embedding=8, vocab_size=len(one["vocab"]))).state_dict()
    assert _max_diff(start, one["model"]) > 1e-3  # a real step was taken ...
    assert _max_diff(two["model"], one["model"]) <= 1e-5  # ... and two processes took the same one
    names = sorted(p.name for p in (tmp_path / "two").iterdir())  # (curves.png with matplotlib)
    assert [n for n in names if n != "curves.png"] == ["best.pt", "last.pt", "metrics.csv", "metrics.json",
                                                       "metrics.jsonl"]
    # --resume continues both runs to a second step, still together
    _torchrun(text + ["--batch-size", "4", "--epochs", "2", "--resume", "--out", str(tmp_path / "two")], tmp_path)
    assert main(text + ["--batch-size", "8", "--epochs", "2", "--resume", "--out", str(tmp_path / "one")]) == 0
    two, one = load_checkpoint(tmp_path / "two" / "last.pt"), load_checkpoint(tmp_path / "one" / "last.pt")
    assert [row["epoch"] for row in json.loads(two["train"])["history"]] == [1, 2]
    assert _max_diff(two["model"], one["model"]) <= 1e-5
    rows = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert len(rows) == 2 and rows[-1]["tokens_per_s"] > 0
    # the checkpoint of two processes exports and streams like any other
    export_checkpoints(tmp_path / "two" / "best.pt", tmp_path / "two.onnx", "int8")
    export_checkpoints(tmp_path / "one" / "best.pt", tmp_path / "one.onnx", "int8")
    a, b = NextWordPredictor(tmp_path / "two.onnx"), NextWordPredictor(tmp_path / "one.onnx")
    for predictor in (a, b):
        predictor.feed("the cat sees")
    assert [w for w, _ in a.top_k(3)] == [w for w, _ in b.top_k(3)]
    np.testing.assert_allclose([p for _, p in a.top_k(3)], [p for _, p in b.top_k(3)], atol=1e-3)


@needs_fsdd
def test_keyword_spotter_trains_in_two_processes(tmp_path):
    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson"), digits=(0, 1), indices=range(5, 9))
    r = _torchrun(["train", "kws", "--data", str(data), "--out", str(tmp_path / "run"), "--keywords", "zero,one",
                   "--valid-speaker", "jackson", "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "16",
                   "--batch-size", "4", "--clip-seconds", "1", "--threads", "1", "--json"], tmp_path)
    result = json.loads(r.stdout)
    assert result["epochs_run"] == 1 and result["clips_per_s"] > 0
    assert r.stderr.count("data (fsdd layout)") == 1  # rank 0 alone prints
    train = json.loads(load_checkpoint(tmp_path / "run" / "last.pt")["settings"])["train"]
    assert train["device"] == "auto"
    export_checkpoints(tmp_path / "run" / "best.pt", tmp_path / "k.onnx")


def test_device_option_is_checked(tmp_path, capsys):
    train = write_corpus(tmp_path / "t.txt", 40, 1)
    assert main(["train", "lm", "--data", str(train), "--out", str(tmp_path / "r"), "--device", "tpu"]) == 2
    assert "--device must be auto, cpu or cuda" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "lm", "--data", str(train), "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
        assert "PyTorch sees no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
