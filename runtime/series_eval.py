"""Scoring forecasts against what happened, next to two baselines on the same rows.

A row is a forecast origin: a time with a reading. It is scored when, for every horizon step h,
the target has a reading exactly h intervals later (by time on the grid, never by row count, and
never a filled-in value) and the reading seasonal naive uses. Every figure is over the same
rows: the model, persistence (the target's reading at the origin) and seasonal naive (the
target's reading at the same time of day on the latest day it is known at the origin: 24 hours
before the target time for targets up to a day ahead, 48 hours before for the next day, ...).
Seasonal naive needs a whole number of readings a day; at other intervals it is left out (null).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .dates import DAY, format_time
from .errors import UserError
from .series import forecast_grid
from .series_csv import UnknownColumn, read_series_csv
from .series_grid import Grid, describe, regularise, within
from .session import Session


def _at(steps: np.ndarray, observed: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, found) of grid positions `wanted` among `steps` (sorted), found only if observed."""
    j = np.clip(np.searchsorted(steps, wanted), 0, len(steps) - 1)
    return j, (steps[j] == wanted) & observed[j]


def score(grid: Grid, forecasts: np.ndarray, origins: np.ndarray) -> dict:
    """MAE and RMSE per horizon step of `forecasts` (n, horizon) and of both baselines, over the
    `origins` (n,) bool that have every target and seasonal value. The target is column 0."""
    n, horizon = forecasts.shape
    steps, target = grid.steps(), grid.values[:, 0]
    season = DAY // grid.interval if DAY % grid.interval == 0 else None
    ok = origins & grid.observed
    targets, seasonal = [], []
    for h in range(1, horizon + 1):
        j, found = _at(steps, grid.observed, steps + h)
        ok &= found
        targets.append(j)
        if season is not None:
            s, found = _at(steps, grid.observed, steps + h - season * -(-h // season))
            ok &= found
            seasonal.append(s)
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise UserError("no forecast could be scored: each needs readings at the following "
                        f"{horizon} grid times and those seasonal naive uses, inside the range evaluated")
    truth = np.stack([target[j[rows]] for j in targets], axis=1)  # (rows, horizon)

    def errors(predicted: np.ndarray) -> dict:
        e = predicted - truth
        return {"mae": [round(float(v), 6) for v in np.abs(e).mean(axis=0)],
                "rmse": [round(float(v), 6) for v in np.sqrt((e ** 2).mean(axis=0))]}

    model = errors(forecasts[rows].astype(np.float64))
    persistence = errors(np.repeat(target[rows, None], horizon, axis=1))
    naive = errors(np.stack([target[s[rows]] for s in seasonal], axis=1)) if season is not None else None
    return {"rows": int(rows.size), "horizons": list(range(1, horizon + 1)), **model,
            "baselines": {"persistence": persistence, "seasonal_naive": naive},
            "first": format_time(grid.times[rows[0]]), "last": format_time(grid.times[rows[-1]])}


def file_columns(session: Session, target: str | None, inputs: list[str] | None) -> list[str]:
    """The file's names for the model's columns: the model's own, or as given (--target, --inputs)."""
    c = session.contract
    others = c.columns[1:]
    if inputs is not None and len(inputs) != len(others):
        needs = f"{len(others)} ({', '.join(others)})" if others else "none"
        raise UserError(f"--inputs names the file's columns for the model's other inputs: it needs {needs}")
    return [target or c.target] + (others if inputs is None else inputs)


@contextmanager
def naming_hint(session: Session):
    """A column the model's names do not find is refused with how to name the file's own."""
    try:
        yield
    except UnknownColumn as e:
        names = ", ".join(session.contract.columns)
        raise UserError(f"{e} (this model reads {names}: give the file's names with --target and --inputs)") from None


def evaluate_series(session: Session, csv: str | Path, since: int | None = None, until: int | None = None,
                    target: str | None = None, inputs: list[str] | None = None,
                    time_column: str | None = None) -> dict:
    """Forecast every reading of a CSV file in time order and score the origins in
    [since, until) (wall-clock seconds; None: unbounded). Readings before `since` are fed too:
    they are the past the model has seen; readings from `until` on are not read."""
    c = session.contract
    with naming_hint(session):
        table = read_series_csv(csv, file_columns(session, target, inputs), time_column)
    keep = within(table.times, None, until)
    if not keep.any():
        raise UserError(f"{csv} has no readings before --until")
    grid = regularise(table.times[keep], table.values[keep], c.interval_s, c.max_gap)
    forecasts = forecast_grid(session, grid.times, grid.values, grid.starts, c.time_features)
    result = score(grid, forecasts, within(grid.times, since, None))
    return {**result, "model": str(session.path), "precision": c.precision, "target": c.target,
            "interval_s": c.interval_s, "date_layout": table.layout,
            "data": {**grid.report, "summary": describe(grid.report, c.interval_s)}}
