"""A sensor's readings on a regular time grid: sorted, duplicates averaged, short gaps filled,
long gaps marked as a new start. Training, `edge-rnn eval` and the streaming `Forecaster` follow
the same rules (docs/model-format.md, "Gaps"):

- the grid runs every `interval` seconds from the first reading; a reading off the grid counts
  at the nearest grid time (half an interval rounds up);
- readings at the same grid time are averaged (a repeated row, or two readings in one interval);
- a gap of up to `max_gap` missing readings is filled by straight-line interpolation between the
  readings either side; filled points are inputs only, never scored as targets;
- a longer gap ends the stream: the model's state starts from zeros at the next reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError


@dataclass
class Grid:
    times: np.ndarray  # (n,) int64 wall-clock seconds, a whole number of intervals apart
    values: np.ndarray  # (n, columns) float64
    observed: np.ndarray  # (n,) bool: a reading was at this time (False: filled in)
    starts: np.ndarray  # (n,) bool: a stream starts here (the first point, and after each long gap)
    interval: int
    report: dict = field(default_factory=dict)

    def steps(self) -> np.ndarray:
        """(n,) int64: each point's grid position, counted in intervals from the first."""
        return (self.times - self.times[0]) // self.interval


def snap(times: np.ndarray, origin: int, interval: int) -> np.ndarray:
    """Grid positions: the nearest whole number of intervals from `origin` (halves round up)."""
    return (np.asarray(times, np.int64) - origin + interval // 2) // interval


def infer_interval(times: np.ndarray, where: str) -> int:
    """The usual spacing of a file's readings: the median of the steps between distinct times."""
    steps = np.diff(np.unique(times))
    if steps.size == 0:
        raise UserError(f"{where} needs readings at two or more different times")
    return int(np.median(steps))


def regularise(times: np.ndarray, values: np.ndarray, interval: int, max_gap: int) -> Grid:
    """Readings in any order -> points on the grid, with a report of what was done."""
    times, values = np.asarray(times, np.int64), np.asarray(values, np.float64)
    origin = int(times.min())
    positions = snap(times, origin, interval)
    unique, inverse, counts = np.unique(positions, return_inverse=True, return_counts=True)
    means = np.zeros((unique.size, values.shape[1]))
    np.add.at(means, inverse, values)
    means /= counts[:, None]
    missing = np.diff(unique) - 1  # missing readings between neighbours
    long = missing > max_gap
    firsts = np.concatenate([unique[:1], unique[1:][long]])
    lasts = np.concatenate([unique[:-1][long], unique[-1:]])
    grid = np.concatenate([np.arange(a, b + 1) for a, b in zip(firsts, lasts)])
    filled = np.column_stack([np.interp(grid, unique, means[:, c]) for c in range(values.shape[1])])
    report = {"readings": int(times.size), "out_of_order": int(np.sum(np.diff(times) < 0)),
              "duplicate_times": int(times.size - unique.size),
              "off_grid": int(np.sum((times - origin) % interval != 0)),
              "gaps_filled": int(np.sum((missing > 0) & ~long)), "points_filled": int(grid.size - unique.size),
              "long_gaps": int(long.sum()), "points_skipped": int(missing[long].sum())}
    return Grid(origin + grid * interval, filled, np.isin(grid, unique), np.isin(grid, firsts), interval, report)


def describe(report: dict, interval: int) -> str:
    """The report as one line, e.g. for training and evaluation notes."""
    parts = [f"{report['readings']} readings"]
    if report["out_of_order"]:
        parts.append(f"{report['out_of_order']} out of time order (sorted)")
    if report["duplicate_times"]:
        parts.append(f"{report['duplicate_times']} at an already-seen time (averaged)")
    if report["off_grid"]:
        parts.append(f"{report['off_grid']} off the {interval} s grid (moved to the nearest grid time)")
    if report["gaps_filled"]:
        parts.append(f"{report['gaps_filled']} short gap(s), {report['points_filled']} reading(s) interpolated")
    if report["long_gaps"]:
        parts.append(f"{report['long_gaps']} long gap(s) of {report['points_skipped']} reading(s) in all "
                     "(the stream starts anew after each)")
    return "; ".join(parts)


def within(times: np.ndarray, since: int | None, until: int | None) -> np.ndarray:
    """(n,) bool: since <= time < until (either bound may be None)."""
    keep = np.ones(len(times), bool)
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    return keep
