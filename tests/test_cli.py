"""The CLI through typer's runner and through a real subprocess; user errors are one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from edge_rnn.cli import app, main
from edge_rnn.runtime.session import Session

EXE = [sys.executable, "-m", "edge_rnn.cli"]


def run_cli(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(EXE + [str(a) for a in args], input=stdin, capture_output=True, timeout=300)


def test_inspect_via_runner(lm_onnx):
    result = CliRunner().invoke(app, ["inspect", str(lm_onnx), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["task"] == "lm" and info["inputs"][0]["name"] == "tokens"
    assert [s["input"] for s in info["states"]] == ["state_h0", "state_c0", "state_h1", "state_c1"]


def test_stream_json_via_subprocess(lm_onnx):
    r = run_cli("stream", "--model", lm_onnx, "--top-k", "3", "--json", stdin=b"the cat sees\na bird\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [row["word"] for row in rows] == ["the", "cat", "sees", "a", "bird"]
    assert all(len(row["next"]) == 3 and {"word", "prob"} <= set(row["next"][0]) for row in rows)


def test_stream_text_readable(lm_onnx):
    r = run_cli("stream", "--model", lm_onnx, stdin=b"the cat\n")
    assert r.returncode == 0 and r.stdout.decode().splitlines()[0].startswith("the")


def test_eval_json(lm_onnx, corpus):
    r = run_cli("eval", "--model", lm_onnx, "--text", corpus[1], "--json", "--chunk", "16")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tokens"] > 100 and out["perplexity"] > 1.0 and 0 <= out["top5_accuracy"] <= 1
    assert b"eval" in r.stderr  # progress


def test_train_export_roundtrip_via_runner(tmp_path, corpus):
    runner = CliRunner()
    res = runner.invoke(app, ["train", "lm", "--data", str(corpus[0]), "--out", str(tmp_path / "run"),
                              "--hidden", "8", "--embedding", "8", "--epochs", "1", "--quiet", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["epoch"] == 1
    res = runner.invoke(app, ["export", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "m.onnx"),
                              "--quantize", "int8", "--valid-text", str(corpus[1]), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["precision"] == "int8" and report["parity_max_abs_diff"] <= 1e-4
    assert report["int8_metrics"]["tokens"] == report["fp32_metrics"]["tokens"]


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-rnn: error:"), lines
    assert b"Traceback" not in r.stderr
    return lines[0]


def test_user_errors_are_one_line_exit_2(tmp_path, lm_onnx, corpus):
    bad_text = tmp_path / "latin1.txt"
    bad_text.write_bytes(b"caf\xe9 au lait\n")
    assert "not found" in one_error_line(run_cli("stream", "--model", tmp_path / "missing.onnx"))
    assert "not UTF-8" in one_error_line(run_cli("eval", "--model", lm_onnx, "--text", bad_text))
    assert "not UTF-8" in one_error_line(run_cli("stream", "--model", lm_onnx, stdin=b"ok\n\xff\xfe\n"))
    assert "not found" in one_error_line(run_cli("export", tmp_path / "none.pt", "--out", tmp_path / "x.onnx"))
    assert "No such option" in one_error_line(run_cli("stream", "--bogus"))
    assert "--input is for keyword" in one_error_line(run_cli("stream", "--model", lm_onnx, "--input", "x.wav"))
    assert "keyword spotter" in one_error_line(run_cli("eval", "--model", lm_onnx, "--data", tmp_path))
    assert "--hidden" in one_error_line(run_cli("train", "lm", "--data", corpus[0], "--out", tmp_path / "o",
                                                "--hidden", "0"))
    assert "cell" in one_error_line(run_cli("train", "lm", "--data", corpus[0], "--out", tmp_path / "o",
                                            "--cell", "transformer"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    one_error_line(run_cli("inspect", junk))


def test_existing_output_survives_a_failed_export(tmp_path, lm_checkpoint):
    """The failure comes after the model was exported and checked (the validation text is not
    UTF-8): the old file stays, and no temporary is left beside it."""
    out = tmp_path / "model.onnx"
    out.write_bytes(b"old")
    bad = tmp_path / "valid.txt"
    bad.write_bytes(b"the \xff cat\n")
    assert "not UTF-8" in one_error_line(run_cli("export", lm_checkpoint, "--out", out, "--valid-text", bad))
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "valid.txt"]
    assert "--quantize must be int8" in one_error_line(run_cli("export", lm_checkpoint, "--out", out,
                                                                 "--quantize", "int4"))


def test_main_returns_2_on_user_error(capsys, tmp_path):
    assert main(["inspect", str(tmp_path / "nope.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err


def test_missing_torch_says_install_extra(tmp_path):
    # A runtime-only install: hide torch from the import system and run `train`.
    code = ("import sys; sys.modules['torch'] = None; from edge_rnn.cli import main; "
            "sys.exit(main(['train', 'lm', '--data', 'x', '--out', 'y']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert "pip install 'edge-rnn[train]'" in one_error_line(r)


def test_interactive_prompt_on_a_terminal(lm_onnx):
    """On a real (pseudo) terminal, predictions follow each word as it is typed."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with its stdin on the terminal
        os.execv(sys.executable, EXE + ["stream", "--model", str(lm_onnx), "--top-k", "2"])
    seen = b""

    def read_until(marker: bytes, count: int, seconds: float = 30.0) -> None:
        nonlocal seen
        end = time.monotonic() + seconds
        while seen.count(marker) < count and time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break

    try:
        read_until(b"next:", 1)
        os.write(fd, b"the cat ")
        read_until(b"next:", 3)
        os.write(fd, b"\x04")  # Ctrl-D quits
        read_until(b"never printed", 1, 10.0)  # until the child closes the terminal
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = seen.decode("utf-8", "replace")
    assert "> the cat" in text and text.count("next:") >= 3  # start, after "the", after "cat"
    assert os.waitstatus_to_exitcode(status) == 0


def test_plot_without_matplotlib_is_one_line_at_once(tmp_path):
    hide = "import sys; sys.modules['matplotlib'] = None; from edge_rnn.cli import main; "
    plot = subprocess.run([sys.executable, "-c", hide + f"sys.exit(main(['eval', '--model', 'fsdd-kws', '--data', "
                           f"'{tmp_path}', '--plot', '{tmp_path / 'det.png'}']))"], capture_output=True, timeout=120)
    assert "pip install 'edge-rnn[plot]'" in one_error_line(plot)


def test_version():
    from edge_rnn import __version__

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.decode().startswith(f"edge-rnn {__version__} (onnxruntime ")


def test_inspect_table_shows_only_the_models_own_config(lm_onnx):
    r = run_cli("inspect", lm_onnx)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert "state_c1_out" in text and '"vocab_size"' in text
    assert '"labels"' not in text and '"hop"' not in text  # a language model's config only


def test_bench_end_to_end(lm_int8, kws_onnx):
    r = run_cli("bench", "--model", lm_int8, "--kws-model", kws_onnx, "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["process"]["torch_imported"] is False
    config = Session(lm_int8).contract.config
    assert result["floor"]["macs_per_token"] == 4 * 16 * (12 + 16) + 4 * 12 * (16 + 12) + 12 * config["vocab_size"]
    assert {f"streams{n}_tokens_per_s" for n in (1, 8, 64, 256)} <= set(result["lm"])
    assert set(result["kws"][str(kws_onnx)]) == {"rtf_10ms", "rtf_100ms", "rtf_1000ms", "bytes"}
    table = run_cli("bench", "--model", lm_int8, "--kws-model", kws_onnx, "--quiet").stdout.decode()
    assert "1 stream batched" in table and "1 streams" not in table
