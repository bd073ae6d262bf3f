"""Forecasting a sensor's readings as they arrive: raw readings (and their times) in, the next
`horizon` values of the target out, in the target's own unit.

`Forecaster.update(readings, time)` places each reading on the model's time grid and follows the
rules of series_grid.py as it goes: a reading at an already-seen grid time is averaged with the
earlier ones there and the step is run again from the state before it; a gap of up to `max_gap`
readings is filled by interpolation; a longer gap starts the stream anew; a reading older than
the last one is dropped (it cannot be fed into the past). On a file in time order this gives
exactly the forecasts of `edge-rnn eval`, which regularises the whole file first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dates import clock_values, to_seconds
from .errors import UserError
from .session import Session
from .stream import Stream


class Forecaster:
    """One sensor stream through a forecasting model. Make one per stream; share the Session.

    model: a path, a bundled name (`seattle-temp`) or a Session. max_gap: readings a gap may
    miss and still be filled (default: the model's `edge_rnn.max_gap`).
    """

    def __init__(self, model: str | Path | Session, threads: int = 1, max_gap: int | None = None):
        self.session = model if isinstance(model, Session) else Session(model, "series", threads)
        c = self.session.contract
        if c.task != "series":
            raise UserError(f"{self.session.path} is not a forecasting model")
        self.columns, self.target, self.horizon = c.columns, c.target, c.horizon
        self.interval, self.time_features = c.interval_s, c.time_features
        self.max_gap = c.max_gap if max_gap is None else int(max_gap)
        self.stream = Stream(self.session)
        self.reset()

    def reset(self) -> None:
        """Start a new stream: zero state, no grid yet, counts back to zero."""
        self.stream.reset()
        self._origin: int | None = None  # grid time 0 (the first reading's time)
        self._pos = -1  # grid position of the last point fed
        self._prev: tuple[int, np.ndarray] | None = None  # the point before the last chunk
        self._before: list[np.ndarray] = self.stream.get_state()
        self._sum, self._count = np.zeros(len(self.columns)), 0
        self.report = dict.fromkeys(("readings", "out_of_order", "duplicate_times", "off_grid", "gaps_filled",
                                     "points_filled", "long_gaps", "points_skipped"), 0)

    @property
    def time(self) -> int | None:
        """Wall-clock seconds of the last grid point fed (forecasts are for the next ones)."""
        return None if self._origin is None else self._origin + self._pos * self.interval

    def update(self, readings, time=None) -> np.ndarray | None:
        """Feed one reading of every column (a number for a one-column model, a sequence in the
        model's column order, or a dict by column name) taken at `time` (a datetime, numpy
        datetime64 or seconds; needed when the model uses the clock, else optional).

        Returns the forecasts (horizon,) for the next `horizon` grid times after this reading, or
        None for a reading older than the last one (dropped and counted in `report`)."""
        values = self._vector(readings)
        self.report["readings"] += 1
        if time is None:
            if self.time_features:
                raise ValueError("this model uses the time of day or year: give each reading's time")
            return self._run(self._pos + 1, values, None)
        t = to_seconds(time)
        if self._origin is None:
            self._origin = t
        pos = (t - self._origin + self.interval // 2) // self.interval
        self.report["off_grid"] += int((t - self._origin) % self.interval != 0)
        if pos < self._pos:
            self.report["out_of_order"] += 1
            return None
        if pos == self._pos:  # the same grid time again: average, and run that step again
            self.report["duplicate_times"] += 1
            self.stream.set_state(self._before)
            self._sum, self._count = self._sum + values, self._count + 1
            return self._run(pos, self._sum / self._count, self._prev, again=True)
        self._sum, self._count = values.copy(), 1
        missing = pos - self._pos - 1
        prev = None if self._pos < 0 else (self._pos, self._last)
        if missing > self.max_gap:
            self.report["long_gaps"] += 1
            self.report["points_skipped"] += missing
            self.stream.reset()
            prev = None
        elif missing > 0:
            self.report["gaps_filled"] += 1
            self.report["points_filled"] += missing
        return self._run(pos, values, prev)

    def _vector(self, readings) -> np.ndarray:
        if isinstance(readings, dict):
            unknown = set(readings) - set(self.columns)
            if unknown or len(readings) != len(self.columns):
                raise ValueError(f"readings need exactly the columns {self.columns}, got {sorted(readings)}")
            readings = [readings[name] for name in self.columns]
        values = np.asarray(readings, np.float64).reshape(-1)
        if values.size != len(self.columns) or not np.isfinite(values).all():
            raise ValueError(f"readings must be {len(self.columns)} finite number(s) ({', '.join(self.columns)}), "
                             f"got {readings!r}"[:300])
        return values

    def _run(self, pos: int, values: np.ndarray, prev: tuple[int, np.ndarray] | None, again: bool = False):
        """Feed the points after `prev` up to grid position `pos` (interpolated in between, as
        np.interp does) in one chunk; returns the forecasts after the last."""
        if not again:
            self._before, self._prev = self.stream.get_state(), prev
        if prev is None:
            positions, rows = np.array([pos]), values[None, :]
        else:
            start, last = prev
            positions = np.arange(start + 1, pos + 1)
            slope = (values - last) / (pos - start)
            rows = slope * (positions - start)[:, None] + last
            rows[-1] = values
        chunk = rows.astype(np.float32)
        if self.time_features:
            clock = clock_values(self._origin + positions * self.interval, self.time_features)
            chunk = np.concatenate([chunk, clock], axis=1)
        forecast = self.stream.step(chunk[None])
        self._pos, self._last = pos, values
        return forecast[0, -1].copy()


def forecast_grid(session: Session, times: np.ndarray, values: np.ndarray, starts: np.ndarray,
                  time_features: list[str], max_call: int = 1000) -> np.ndarray:
    """(n, horizon) forecasts after each grid point, the state zeroed where `starts` is set and
    carried otherwise; runs in calls of at most `max_call` points."""
    x = values.astype(np.float32)
    if time_features:
        x = np.concatenate([x, clock_values(times, time_features)], axis=1)
    out = np.zeros((len(x), session.contract.horizon), np.float32)
    bounds = list(np.flatnonzero(starts)) + [len(x)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        state = session.zero_state(1)
        for s in range(a, b, max_call):
            e = min(b, s + max_call)
            y, state = session.run(x[None, s:e], state)
            out[s:e] = y[0]
    return out
