"""`edge-rnn stream` and `edge-rnn eval` for forecasters: CSV readings in, forecasts or scores out."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from edge_rnn.runtime.dates import format_time, parse_time
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.series import Forecaster
from edge_rnn.runtime.series_csv import read_series_csv, stream_series_csv
from edge_rnn.runtime.series_eval import evaluate_series, file_columns, naming_hint
from edge_rnn.runtime.series_grid import describe
from edge_rnn.runtime.session import Session


@dataclass
class Columns:
    """The file's names for a model's columns (None: the model's own names; the time: found)."""

    target: str | None = None
    inputs: str | None = None
    time: str | None = None

    def input_names(self) -> list[str] | None:
        return None if self.inputs is None else [n.strip() for n in self.inputs.split(",") if n.strip()]

    def names(self, session: Session) -> list[str]:
        return file_columns(session, self.target, self.input_names())


def _seconds(text: str | None, option: str) -> int | None:
    try:
        return None if text is None else parse_time(text)
    except ValueError as e:
        raise UserError(f"{option}: {e}") from None


def stream_series(session: Session, source: str, columns: Columns, as_json: bool) -> None:
    """A forecast per row as the rows arrive (`-`: standard input, read line by line)."""
    forecaster = Forecaster(session)
    wanted = columns.names(session)
    with naming_hint(session):
        for line, seconds, values in _rows(source, wanted, columns.time):
            _forecast_row(forecaster, line, seconds, values, as_json)
    print(describe(forecaster.report, forecaster.interval), file=sys.stderr)


def _rows(source: str, wanted: list[str], time_column: str | None):
    if source == "-":
        if sys.stdin is None:
            raise UserError("standard input is closed: pipe CSV rows into `edge-rnn stream --input -`")
        return stream_series_csv(sys.stdin.buffer, wanted, time_column)
    if not Path(source).is_file():
        raise UserError(f"CSV file not found: {source}")
    layout = read_series_csv(source, wanted, time_column).layout  # the dates' layout, from all of them
    return stream_series_csv(source, wanted, time_column, source, layout)


def _forecast_row(forecaster: Forecaster, line: int, seconds: int, values: list[float], as_json: bool) -> None:
    """Feed one row; print its forecast, or on stderr why it has none."""
    before = dict(forecaster.report)
    forecast = forecaster.update(values, seconds)
    if forecast is None:
        print(f"line {line}: {format_time(seconds)} is older than the last reading; dropped", file=sys.stderr)
        return
    steps = [format_time(forecaster.time + k * forecaster.interval) for k in range(1, forecaster.horizon + 1)]
    event = {"line": line, "time": format_time(forecaster.time), "readings": dict(zip(forecaster.columns, values)),
             "forecast": [round(float(v), 4) for v in forecast], "forecast_times": steps}
    for key, name in (("points_filled", "filled"), ("long_gaps", "restart"), ("duplicate_times", "repeat")):
        if forecaster.report[key] > before[key]:
            event[name] = forecaster.report[key] - before[key] if key == "points_filled" else True
    if as_json:
        print(json.dumps(event))
    else:
        notes = "".join(f"  ({k}{'' if v is True else ' ' + str(v)})" for k, v in event.items()
                        if k in ("filled", "restart", "repeat"))
        ahead = "  ".join(f"+{k} {v:.2f}" for k, v in enumerate(event["forecast"], 1))
        print(f"{event['time'].replace('T', ' ')[:16]}  {forecaster.target} {values[0]:g}  ->  {ahead}{notes}")
    sys.stdout.flush()


def eval_series(session: Session, csv: Path, since: str | None, until: str | None, columns: Columns,
                as_json: bool) -> None:
    """MAE and RMSE per horizon step beside persistence and seasonal naive, on the same rows."""
    result = evaluate_series(session, csv, _seconds(since, "--from"), _seconds(until, "--until"),
                             columns.target, columns.input_names(), columns.time)
    if as_json:
        print(json.dumps(result))
        return
    from .show import key_values, rows

    key_values({"model": result["model"], "precision": result["precision"], "target": result["target"],
                "scored": f"{result['rows']} forecast origins, {result['first']} to {result['last']}",
                "data": result["data"]["summary"]})
    naive = result["baselines"]["seasonal_naive"]
    persistence = result["baselines"]["persistence"]
    body = [[h, result["mae"][i], result["rmse"][i], persistence["mae"][i], persistence["rmse"][i]]
            + ([naive["mae"][i], naive["rmse"][i]] if naive else ["-", "-"]) for i, h in enumerate(result["horizons"])]
    rows(f"error per horizon step ({session.contract.interval_s} s each), in the unit of {result['target']}",
         ["h", "model MAE", "RMSE", "persistence MAE", "RMSE", "seasonal naive MAE", "RMSE"], body,
         set(range(7)))
