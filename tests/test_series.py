"""The forecaster end to end: training on a CSV, export (fp32, int8, parity), the streaming
Forecaster against `eval`, the contract, and every command through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.series import Forecaster, forecast_grid
from edge_rnn.runtime.series_csv import read_series_csv
from edge_rnn.runtime.series_grid import regularise
from edge_rnn.runtime.session import Session

from conftest import rewrite_metadata
from series_data import hourly, write_csv

EXE = [sys.executable, "-m", "edge_rnn.cli"]
TINY = ["--hidden", "8", "--epochs", "2", "--windows-per-epoch", "64", "--window", "48", "--quiet", "--threads", "1"]


def run_cli(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(EXE + [str(a) for a in args], input=stdin, capture_output=True, timeout=300)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-rnn: error:") and b"Traceback" not in r.stderr, lines
    return lines[0]


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    """Twenty days of hourly readings with what sensors do: a repeated row, a short and a long gap."""
    times, temp, humidity = hourly(20)
    keep = np.ones(len(times), bool)
    keep[[100, 101]] = False  # a two-hour gap, filled
    keep[300:320] = False  # a twenty-hour gap: the stream starts anew
    times = [t for t, k in zip(times, keep) if k]
    times.insert(50, times[50])  # the same hour twice
    temp, humidity = np.insert(temp[keep], 50, temp[keep][50] + 0.4), np.insert(humidity[keep], 50, 60.0)
    return write_csv(tmp_path_factory.mktemp("series") / "station.csv", times, {"temp": temp, "humidity": humidity})


@pytest.fixture(scope="module")
def series_run(tmp_path_factory, series_csv):
    from edge_rnn.cli import main

    out = tmp_path_factory.mktemp("series_run")
    args = ["train", "series", "--csv", str(series_csv), "--target", "temp", "--inputs", "humidity", "--horizon", "3",
            "--time-features", "hour,day", "--until", "2010-03-18", "--out", str(out / "run"), "--json"]
    assert main(args + TINY) == 0
    for precision in ("fp32", "int8"):
        quantize = ["--quantize", "int8"] if precision == "int8" else []
        assert main(["export", str(out / "run" / "best.pt"), "--out", str(out / f"{precision}.onnx")] + quantize) == 0
    return out


def test_the_exported_contract(series_run):
    session = Session(series_run / "int8.onnx")
    c = session.contract
    assert (c.task, c.precision, c.columns, c.target, c.horizon) == ("series", "int8", ["temp", "humidity"], "temp", 3)
    assert (c.interval_s, c.time_features, c.max_gap) == (3600, ["hour", "day"], 6)
    assert [s.input for s in c.states] == ["state_lag", "state_h0"] and c.states[0].size == 48  # a day's memory
    inputs = {a.name: a.shape for a in session.ort.get_inputs()}
    assert inputs["readings"][2] == 4 and session.ort.get_outputs()[0].shape[2] == 3
    shown = run_cli("inspect", series_run / "int8.onnx").stdout.decode()
    assert "[batch, time, 4]" in shown and "[batch, 48]" in shown  # shapes are not taken for markup


def test_int8_forecasts_within_2_percent_of_fp32(series_run, series_csv):
    from edge_rnn.runtime.series_eval import evaluate_series

    fp32, int8 = (evaluate_series(Session(series_run / f"{p}.onnx"), series_csv, since=None) for p in ("fp32", "int8"))
    assert fp32["rows"] == int8["rows"] > 100
    for key in ("mae", "rmse"):
        assert np.allclose(int8[key], fp32[key], rtol=0.02), (int8[key], fp32[key])


def test_the_stream_gives_the_forecasts_of_eval(series_run, series_csv):
    """Row by row, with a repeat and gaps, the Forecaster runs what eval runs on the regular grid."""
    session = Session(series_run / "int8.onnx")
    table = read_series_csv(series_csv, ["temp", "humidity"])
    forecaster = Forecaster(session)
    streamed = {}
    for t, values in zip(table.times, table.values):
        streamed[forecaster.time] = forecaster.update(values, int(t))
    grid = regularise(table.times, table.values, 3600, 6)
    batch = forecast_grid(session, grid.times, grid.values, grid.starts, ["hour", "day"])
    at = {int(t): i for i, t in enumerate(grid.times)}
    assert all(np.allclose(f, batch[at[t]], atol=1e-4) for t, f in streamed.items())
    assert forecaster.report == grid.report


def test_the_forecaster_keeps_streams_apart_and_refuses_what_it_cannot_place(series_run):
    session = Session(series_run / "fp32.onnx")
    a, b = Forecaster(session), Forecaster(session)
    first = a.update({"temp": 50.0, "humidity": 70.0}, np.datetime64("2010-03-01T00:00"))
    b.update([60.0, 40.0], 1267401600 + 7200)
    assert np.array_equal(Forecaster(session).update([50.0, 70.0], 1267401600), first)
    a.update([51.0, 69.0], 1267401600 + 3600)
    assert a.update([49.0, 71.0], 1267401600) is None and a.report["out_of_order"] == 1  # the past is dropped
    with pytest.raises(ValueError, match="time of day"):
        a.update([1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        a.update([float("nan"), 2.0], 1267401600 + 7200)


BAD_METADATA = [("edge_rnn.columns", '"temp"', "columns"), ("edge_rnn.columns", "[]", "columns"),
                ("edge_rnn.target", "humidity", "target"), ("edge_rnn.horizon", "0", "horizon"),
                ("edge_rnn.horizon", "three", "horizon"), ("edge_rnn.interval_s", "-3600", "interval_s"),
                ("edge_rnn.time_features", '["minute"]', "time_features"), ("edge_rnn.max_gap", "-1", "max_gap"),
                ("edge_rnn.time_features", '["hour"]', "takes 4 numbers"), ("edge_rnn.horizon", "5", "3 steps")]


@pytest.mark.parametrize("key, value, message", BAD_METADATA)
def test_wrong_forecaster_metadata_is_refused(series_run, tmp_path, key, value, message):
    bad = rewrite_metadata(series_run / "int8.onnx", tmp_path / "bad.onnx", {key: value})
    with pytest.raises(UserError, match=message):
        Session(bad)
    one_error_line(run_cli("eval", "--model", bad, "--csv", tmp_path / "none.csv"))


def test_eval_json_reports_every_horizon_beside_both_baselines(series_run, series_csv):
    r = run_cli("eval", "--model", series_run / "int8.onnx", "--csv", series_csv, "--from", "2010-03-18", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["horizons"] == [1, 2, 3] and out["rows"] > 24 and out["first"] >= "2010-03-18"
    for block in (out, out["baselines"]["persistence"], out["baselines"]["seasonal_naive"]):
        assert len(block["mae"]) == len(block["rmse"]) == 3 and all(0 <= m <= r for m, r in zip(block["mae"], block["rmse"]))
    assert out["data"]["duplicate_times"] == 1 and out["data"]["long_gaps"] == 1 and out["data"]["points_filled"] == 2
    table = run_cli("eval", "--model", series_run / "int8.onnx", "--csv", series_csv, "--from", "2010-03-18")
    assert table.returncode == 0 and b"seasonal naive" in table.stdout


def test_another_column_order_and_date_format_scores_the_same(series_run, series_csv, tmp_path):
    table = read_series_csv(series_csv, ["temp", "humidity"])
    times = [np.datetime64(int(t), "s").astype(object) for t in table.times]
    other = write_csv(tmp_path / "other.csv", times, {"HUMIDITY": table.values[:, 1], "Temp": table.values[:, 0]},
                      fmt="%m/%d/%Y %I:%M %p", time_name="Time", order=["HUMIDITY", "Time", "Temp"])
    runs = [run_cli("eval", "--model", series_run / "int8.onnx", "--csv", path, "--json") for path in (series_csv, other)]
    a, b = (json.loads(r.stdout) for r in runs)
    assert (a["mae"], a["rmse"], a["rows"]) == (b["mae"], b["rmse"], b["rows"]) and b["date_layout"] == "MM/DD/YYYY"


def test_stream_prints_a_forecast_per_row_from_a_file_or_stdin(series_run, series_csv):
    lines = series_csv.read_bytes().splitlines()[:30]
    piped = run_cli("stream", "--model", series_run / "int8.onnx", "--input", "-", "--json", stdin=b"\n".join(lines))
    assert piped.returncode == 0, piped.stderr
    rows = [json.loads(line) for line in piped.stdout.decode().splitlines()]
    date, temp, humidity = lines[1].decode().split(",")
    assert len(rows) == 29 and len(rows[0]["forecast"]) == 3
    assert rows[0]["readings"] == {"temp": float(temp), "humidity": float(humidity)} and date == "2010-03-01 00:00"
    assert rows[0]["forecast_times"][0] == "2010-03-01T01:00:00"
    whole = run_cli("stream", "--model", series_run / "int8.onnx", "--input", series_csv, "--json")
    assert [json.loads(line) for line in whole.stdout.decode().splitlines()[:29]] == rows
    text = run_cli("stream", "--model", series_run / "int8.onnx", "--input", series_csv)
    assert text.returncode == 0 and text.stdout.decode().splitlines()[0].startswith(f"{date}  temp {temp}  ->")


BAD_ROWS = [("2010-03-01 02:00,,70\n", "line 4: no value for 'temp'"),
            ("2010-03-01 02:00,4O.1,70\n", "line 4: 'temp' is '4O.1', not a number"),
            ("2010-03-41 02:00,40.1,70\n", "line 4: '2010-03-41 02:00' in 'date' is not a date")]


@pytest.mark.parametrize("row, message", BAD_ROWS)
def test_a_bad_row_is_one_line_and_exit_2_in_every_command(series_run, tmp_path, row, message):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,temp,humidity\n2010-03-01 00:00,40,70\n2010-03-01 01:00,41,70\n" + row, encoding="utf-8")
    model = series_run / "int8.onnx"
    assert message in one_error_line(run_cli("eval", "--model", model, "--csv", bad))
    assert message in one_error_line(run_cli("stream", "--model", model, "--input", bad))
    piped = run_cli("stream", "--model", model, "--input", "-", "--json", stdin=bad.read_bytes())
    assert message in one_error_line(piped) and len(piped.stdout.splitlines()) == 2  # the good rows came first
    assert message in one_error_line(run_cli("train", "series", "--csv", bad, "--target", "temp", "--horizon", "1",
                                             "--out", tmp_path / "run", *TINY))


def test_unknown_columns_list_the_columns_present(series_run, series_csv, tmp_path):
    model = series_run / "int8.onnx"
    line = one_error_line(run_cli("eval", "--model", model, "--csv", series_csv, "--target", "temperature"))
    assert "no column 'temperature'; its columns are: date, temp, humidity (this model reads temp, humidity" in line
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(series_csv.read_text(encoding="utf-8").replace("temp,", "t_out,", 1), encoding="utf-8")
    assert "--target and --inputs" in one_error_line(run_cli("stream", "--model", model, "--input", renamed))
    named = run_cli("eval", "--model", model, "--csv", renamed, "--target", "t_out", "--json")
    assert named.returncode == 0 and json.loads(named.stdout)["rows"] > 100
    assert "needs 1 (humidity)" in one_error_line(run_cli("eval", "--model", model, "--csv", series_csv, "--inputs",
                                                          "humidity,temp"))
    assert "no column 'wind'" in one_error_line(run_cli("train", "series", "--csv", series_csv, "--target", "temp",
                                                        "--inputs", "wind", "--horizon", "2", "--out", tmp_path / "r"))
    assert "forecaster" in one_error_line(run_cli("eval", "--model", model, "--text", series_csv))
    assert "--csv applies to forecasters" in one_error_line(run_cli("eval", "--model", "ptb-lm", "--csv", series_csv))
    assert "--time-features" in one_error_line(run_cli("train", "series", "--csv", series_csv, "--target", "temp",
                                                       "--horizon", "2", "--time-features", "minute", "--out", tmp_path))


@pytest.mark.parametrize("cell, hidden", [("rnn", "6"), ("lstm", "6,4")])
def test_every_cell_exports_with_parity_and_on_the_int8_grid(tmp_path, series_csv, cell, hidden):
    from edge_rnn.cli import main

    args = ["train", "series", "--csv", str(series_csv), "--target", "temp", "--horizon", "2", "--out",
            str(tmp_path / "run"), "--cell", cell, "--no-day-memory", "--valid-fraction", "0.3"]
    assert main(args + TINY[:1] + [hidden] + TINY[2:]) == 0
    r = run_cli("export", tmp_path / "run" / "best.pt", "--out", tmp_path / "m.onnx", "--quantize", "int8", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["parity_max_abs_diff"] <= 1e-4
    stored = [t.name for t in onnx.load(str(tmp_path / "m.onnx")).graph.initializer
              if t.data_type == onnx.TensorProto.INT8 and t.name.endswith("_int8")]
    assert len(stored) == 2 * len(hidden.split(","))  # W and R of each layer
    assert "state_lag" not in [s.input for s in Session(tmp_path / "m.onnx").contract.states]
