"""Training writes metrics.jsonl as it goes and curves.png at the end; `edge-rnn plot curves`."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from edge_rnn.cli import main
from edge_rnn.evaluation.curves import read_rows

from conftest import tiny_lm_checkpoint

PNG = b"\x89PNG\r\n\x1a\n"


def rows(run, kind):
    return [r for r in read_rows(run / "metrics.jsonl") if r["kind"] == kind]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, corpus):
    run = tmp_path_factory.mktemp("run")
    tiny_lm_checkpoint(run, corpus, epochs=3, extra=["--log-every", "4"])
    return run


def test_training_logs_steps_and_epochs(lm_run):
    history = json.loads((lm_run / "metrics.json").read_text())
    epochs, steps = rows(lm_run, "epoch"), rows(lm_run, "step")
    assert [{k: v for k, v in r.items() if k not in ("kind", "step")} for r in epochs] == history
    per_epoch = epochs[0]["step"]  # optimizer steps in one pass over the training text
    assert per_epoch > 8 and [r["step"] for r in epochs] == [per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert [r["step"] for r in steps] == list(range(4, 3 * per_epoch + 1, 4))
    for r in steps:
        assert set(r) == {"kind", "step", "epoch", "train_loss", "lr"}
        assert (r["epoch"] - 1) * per_epoch < r["step"] <= r["epoch"] * per_epoch
        assert r["lr"] == history[r["epoch"] - 1]["lr"] and 0 < r["train_loss"] < 10
    # the mean of the step rows of an epoch is near that epoch's mean loss (the rows cover most of it)
    first = [r["train_loss"] for r in steps if r["epoch"] == 1]
    assert abs(sum(first) / len(first) - history[0]["train_loss"]) < 0.3
    assert (lm_run / "curves.png").read_bytes()[:8] == PNG  # drawn at the end of training


def test_plot_curves_json_has_the_series(lm_run, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main(["plot", "curves", str(lm_run), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    history = json.loads((lm_run / "metrics.json").read_text())
    assert out.read_bytes()[:8] == PNG and result["out"] == str(out)
    assert result["task"] == "lm" and result["epochs"] == 3 and result["steps"] == rows(lm_run, "epoch")[-1]["step"]
    e, s = result["per_epoch"], result["per_step"]
    assert e["epoch"] == [1, 2, 3] and e["val_ppl"] == [r["val_ppl"] for r in history]
    assert e["lr"] == [r["lr"] for r in history]
    assert s["step"] == [r["step"] for r in rows(lm_run, "step")]
    assert all(math.isclose(p, math.exp(loss)) for p, loss in zip(s["train_ppl"], s["train_loss"]))
    assert all(e - 1 < x <= e for x, e in zip(s["at_epoch"], s["epoch"])) and s["at_epoch"] == sorted(s["at_epoch"])


def test_resume_drops_rows_of_an_unsaved_epoch_and_counts_on(tmp_path, corpus):
    tiny_lm_checkpoint(tmp_path, corpus, epochs=1, extra=["--log-every", "5"])
    end = rows(tmp_path, "epoch")[-1]["step"]
    with open(tmp_path / "metrics.jsonl", "a") as f:  # a run killed during epoch 2, before saving it
        f.write(json.dumps({"kind": "step", "step": end + 5, "epoch": 2, "train_loss": 99.0, "lr": 5.0}) + "\n")
        f.write('{"kind": "step", "st')  # and in the middle of a line
    tiny_lm_checkpoint(tmp_path, corpus, epochs=2, extra=["--log-every", "5", "--resume"])
    steps = [r["step"] for r in rows(tmp_path, "step")]
    assert steps == sorted(set(steps)) and 99.0 not in [r["train_loss"] for r in rows(tmp_path, "step")]
    assert [r["step"] for r in rows(tmp_path, "epoch")] == [end, 2 * end]
    tiny_lm_checkpoint(tmp_path, corpus, epochs=1, extra=["--log-every", "5"])  # a new run starts a new log
    assert [r["step"] for r in rows(tmp_path, "epoch")] == [end]


def test_a_run_without_step_rows_or_jsonl(tmp_path, corpus, capsys):
    tiny_lm_checkpoint(tmp_path, corpus, epochs=2, extra=["--log-every", "0"])
    assert rows(tmp_path, "step") == [] and len(rows(tmp_path, "epoch")) == 2
    (tmp_path / "metrics.jsonl").unlink()  # a run of an earlier edge-rnn: metrics.json only
    capsys.readouterr()
    assert main(["plot", "curves", str(tmp_path), "--out", str(tmp_path / "c.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["per_epoch"]["epoch"] == [1, 2] and result["per_step"]["step"] == []


def test_keyword_spotter_curves_show_frame_accuracy(kws_checkpoint, tmp_path, capsys):
    run = kws_checkpoint.parent
    assert (run / "curves.png").read_bytes()[:8] == PNG
    assert main(["plot", "curves", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    history = json.loads((run / "metrics.json").read_text())
    assert result["task"] == "kws" and result["per_epoch"]["val_frame_acc"] == [r["val_frame_acc"] for r in history]


def one_error_line(r: subprocess.CompletedProcess) -> str:
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and err.startswith("edge-rnn: error: "), err
    return err


def test_mistakes_are_one_line(tmp_path, lm_run):
    run = lambda *a: subprocess.run([sys.executable, "-m", "edge_rnn.cli", "plot", "curves", *map(str, a)],  # noqa: E731
                                    capture_output=True, timeout=120)
    assert "run folder not found" in one_error_line(run(tmp_path / "nope", "--json"))
    assert "holds no metrics.jsonl" in one_error_line(run(tmp_path, "--json"))
    assert "--out must name a .png file" in one_error_line(run(lm_run, "--out", tmp_path / "c.svg"))
    assert "give --out FILE.png" in one_error_line(run(lm_run))


def test_without_matplotlib(tmp_path, corpus, lm_run):
    """`plot curves` is one line; training still succeeds, says why there is no curves.png."""
    hide = "import sys; sys.modules['matplotlib'] = None; from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", hide, "plot", "curves", str(lm_run), "--out", str(tmp_path / "c.png")],
                       capture_output=True, timeout=120)
    assert "pip install 'edge-rnn[plot]'" in one_error_line(r)
    train, valid = corpus
    r = subprocess.run([sys.executable, "-c", hide, "train", "lm", "--data", str(train), "--valid", str(valid),
                        "--out", str(tmp_path / "run"), "--hidden", "8", "--embedding", "8", "--epochs", "1",
                        "--threads", "1", "--json"], capture_output=True, timeout=300)
    assert r.returncode == 0 and "no curves.png" in r.stderr.decode() and "pip install 'edge-rnn[plot]'" in r.stderr.decode()
    assert (tmp_path / "run" / "metrics.jsonl").is_file() and not (tmp_path / "run" / "curves.png").exists()
