"""Training a forecaster on a CSV series: windows of the training rows, validation on the rows
after them, scored the way `edge-rnn eval` scores (series_eval.py).

The rows in [since, until) are read, put on the time grid (series_grid.py: sorted, duplicates
averaged, short gaps filled, long gaps a new start) and split by time: the last `valid_fraction`
validates, the rest trains. Each step of a training window learns the target's changes over the
next `horizon` intervals, where the grid has a reading there (filled points are never targets),
by their mean absolute error (the figure `edge-rnn eval` reports first). The weights an int8
export stores as int8 are trained on the int8 grid (int8_grid.py), so int8 costs no accuracy.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from edge_rnn.config import MAX_SEASON, SeriesConfig
from edge_rnn.models.series import SeriesNet
from edge_rnn.progress import Progress, note
from edge_rnn.runtime.dates import DAY, clock_values
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.series_csv import read_series_csv
from edge_rnn.runtime.series_eval import score
from edge_rnn.runtime.series_grid import Grid, describe, infer_interval, regularise, within

from .int8_grid import Int8Grid
from .loop import TrainOptions, descend, fit, seed_everything

COLD_START = 0.05  # the share of training windows whose day's memory starts empty


@dataclass
class SeriesData:
    csv: Path
    target: str
    inputs: list[str] = field(default_factory=list)
    horizon: int = 6
    time_column: str | None = None
    time_features: list[str] = field(default_factory=list)
    since: int | None = None  # wall-clock seconds; rows before are not read
    until: int | None = None  # rows from here on are not read (keep them for `edge-rnn eval`)
    valid_fraction: float = 0.1
    max_gap: int = 6
    interval_s: int = 0  # 0: the file's usual spacing
    day_memory: bool = True  # keep the last day's readings as a state, where a day is 2..1440 readings
    window: int = 96  # steps per training window
    windows_per_epoch: int = 1024
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction < 0.9:
            raise UserError("--valid-fraction must be in [0, 0.9)")
        if self.window < 2 or self.windows_per_epoch < 1 or self.batch_size < 1:
            raise UserError("--window must be >= 2, --windows-per-epoch and --batch-size >= 1")
        if self.target in self.inputs or len(set(self.inputs)) != len(self.inputs):
            raise UserError("--inputs names other columns than --target, each once")


def load_grid(data: SeriesData) -> tuple[Grid, list[str]]:
    """The training rows on the time grid, and the columns' names (target first)."""
    table = read_series_csv(data.csv, [data.target] + data.inputs, data.time_column)
    keep = within(table.times, data.since, data.until)
    if keep.sum() < 2:
        raise UserError(f"{data.csv} has {int(keep.sum())} reading(s) in the range asked for; widen --from/--until")
    interval = data.interval_s or infer_interval(table.times[keep], str(data.csv))
    return regularise(table.times[keep], table.values[keep], interval, data.max_gap), table.columns


def targets(grid: Grid, horizon: int) -> np.ndarray:
    """(n, horizon) the target's reading h intervals after each point (NaN where there is none,
    or only a filled-in value)."""
    steps, out = grid.steps(), np.full((len(grid.times), horizon), np.nan)
    for h in range(1, horizon + 1):
        j = np.clip(np.searchsorted(steps, steps + h), 0, len(steps) - 1)
        found = (steps[j] == steps + h) & grid.observed[j]
        out[found, h - 1] = grid.values[j[found], 0]
    return out


def window_starts(grid: Grid, end: int, window: int) -> np.ndarray:
    """Starts of the windows of `window` points before index `end` that stay in one stream."""
    segment = np.cumsum(grid.starts)
    starts = np.arange(0, max(0, end - window + 1))
    return starts[segment[starts] == segment[starts + window - 1]]


def run_grid(model: SeriesNet, x: torch.Tensor, starts: np.ndarray) -> np.ndarray:
    """(n, horizon) forecasts over the whole grid, the state zeroed at each stream start, as the
    runtime's forecast_grid does."""
    bounds = list(np.flatnonzero(starts)) + [x.shape[0]]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        y, _ = model(x[None, a:b], model.init_state(1))
        out.append(y[0])
    return torch.cat(out).numpy()


def masked_loss(pred: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the known targets (NaN: none there)."""
    known = ~torch.isnan(want)
    return ((pred - want.nan_to_num()).abs() * known).sum() / known.sum().clamp(min=1)


def season_of(interval: int) -> int:
    """Readings in one day, when a day's memory is possible at this interval, else 0."""
    per_day = DAY // interval
    return per_day if DAY % interval == 0 and 2 <= per_day <= MAX_SEASON else 0


def fill_config(config: SeriesConfig, data: SeriesData, grid: Grid, columns: list[str], split: int) -> None:
    """What the model learns from the data: its columns, interval, memory and normalisation."""
    observed = grid.observed[:split]
    if observed.sum() < data.horizon + 2:
        raise UserError(f"too few readings to train on ({int(observed.sum())}); give more rows")
    values = grid.values[:split][observed]
    config.columns, config.horizon, config.interval_s = columns, data.horizon, grid.interval
    config.time_features, config.max_gap = list(data.time_features), data.max_gap
    config.season = season_of(grid.interval) if data.day_memory else 0
    config.mean = [float(v) for v in values.mean(axis=0)]
    config.std = [float(v) if v > 1e-6 else 1.0 for v in values.std(axis=0)]


class SeriesRun:
    """One training run's data and model: windows to train on, the validation to score."""

    def __init__(self, config: SeriesConfig, data: SeriesData, opts: TrainOptions):
        self.data, self.opts, self.config = data, opts, config
        self.grid, columns = load_grid(data)
        n = len(self.grid.times)
        self.split = n - int(round(n * data.valid_fraction))  # points from `split` on validate
        self.window = min(data.window, self.split)
        fill_config(config, data, self.grid, columns, self.split)
        g = self.grid
        self.x = torch.tensor(np.concatenate([g.values, clock_values(g.times, config.time_features)], axis=1),
                              dtype=torch.float32)  # (n, readings + clock values)
        y = targets(g, data.horizon)
        if self.split < n:  # validation readings are never training targets
            y[g.times[:, None] + g.interval * np.arange(1, data.horizon + 1) >= g.times[self.split]] = np.nan
        self.change = torch.tensor((y - g.values[:, :1]) / config.std[0], dtype=torch.float32)  # (n, horizon)
        self.starts = window_starts(g, self.split, self.window)
        if self.starts.size == 0:
            raise UserError("no stretch of the training rows without a long gap is as long as --window; lower it")
        self.remembered = torch.tensor((g.values[:, 0] - config.mean[0]) / config.std[0], dtype=torch.float32)
        self.segment = np.cumsum(g.starts)
        self.model = SeriesNet(config)
        self.rng = np.random.default_rng(opts.seed)
        self.int8 = Int8Grid(self.model)
        memory = f", a memory of the last {config.season} readings" if config.season else ""
        note(f"{describe(g.report, g.interval)}; {self.split} points train, {n - self.split} validate "
             f"(interval {g.interval} s{memory})", opts.quiet)

    def first_state(self, picks: np.ndarray) -> list[torch.Tensor]:
        """Zeros, but for the day's memory: the day before each window, as a stream carried
        from there would hold it (most windows; the rest start cold, as after a long gap)."""
        state = self.model.init_state(len(picks))
        season = self.config.season
        if season:
            back = picks[:, None] - season + np.arange(season)  # (batch, season)
            there = (back >= 0) & (self.segment[np.maximum(back, 0)] == self.segment[picks][:, None])
            there &= self.rng.random(len(picks))[:, None] >= COLD_START
            flags = torch.as_tensor(there, dtype=torch.float32)
            state[0] = torch.cat([self.remembered[np.maximum(back, 0)] * flags, flags], dim=1)
        return state

    def train_epoch(self, optimizer, out_of_time, record) -> dict:
        data, model = self.data, self.model
        picks = self.rng.choice(self.starts, data.windows_per_epoch)
        batches = range(0, picks.size, data.batch_size)
        bar = Progress(len(batches), "train", enabled=not self.opts.quiet)
        total, count = 0.0, 0
        for b in batches:
            chosen = picks[b:b + data.batch_size]
            index = torch.as_tensor(chosen[:, None] + np.arange(self.window))  # (batch, window)
            loss = masked_loss(model.changes(self.x[index], self.first_state(chosen))[0], self.change[index])
            value = descend(loss, optimizer, model, self.opts.clip, self.int8)
            record(value)
            total, count = total + value, count + 1
            bar.update(1, f"loss {total / count:.4f}")
            if out_of_time():
                break
        bar.close()
        return {"train_loss": total / max(count, 1)}

    def evaluate(self) -> tuple[float, dict]:
        """Forecast the whole series as one stream; score the validation rows like `edge-rnn eval`."""
        n, horizon = len(self.grid.times), self.data.horizon
        origins = np.arange(n) >= self.split if self.split < n else np.ones(n, bool)
        try:
            result = score(self.grid, run_grid(self.model, self.x, self.grid.starts), origins)
        except UserError:
            raise UserError("the validation rows hold no forecast that can be scored (each needs the next "
                            f"{horizon} readings and the day before): give more rows or a larger "
                            "--valid-fraction") from None
        loss = float(np.mean(result["mae"])) / self.config.std[0]
        base = result["baselines"]
        metrics = {"val_loss": loss, "val_mae_1": result["mae"][0], f"val_mae_{horizon}": result["mae"][-1],
                   "persistence_mae_1": base["persistence"]["mae"][0]}
        if base["seasonal_naive"]:
            metrics["seasonal_naive_mae_1"] = base["seasonal_naive"]["mae"][0]
        return loss, metrics


def train_series(config: SeriesConfig, data: SeriesData, opts: TrainOptions) -> dict:
    """Read and split the series, train, and return the best epoch's metrics."""
    seed_everything(opts.seed, opts.threads)
    run = SeriesRun(config, data, opts)
    settings = {"train": opts.settings(), "data": {k: str(v) if isinstance(v, Path) else v
                                                   for k, v in dataclasses.asdict(data).items()}}
    best = fit(run.model, config, opts, run.train_epoch, run.evaluate,
               {"settings": json.dumps(settings), "data_report": json.dumps(run.grid.report)},
               best_is_last=run.split == len(run.grid.times))
    return {**best, "data": run.grid.report}
