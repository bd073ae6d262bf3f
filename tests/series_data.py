"""Synthetic sensor series for the forecaster's tests: a daily cycle, a slow drift and noise,
hourly, written as CSV in the layouts stations use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

START = dt.datetime(2010, 3, 1)


def hourly(days: int, seed: int = 0) -> tuple[list[dt.datetime], np.ndarray, np.ndarray]:
    """(times, temperature, humidity) every hour for `days` days."""
    rng = np.random.default_rng(seed)
    n = days * 24
    hours = np.arange(n)
    temp = 50 + 8 * np.sin(2 * np.pi * (hours - 9) / 24) + 4 * np.sin(2 * np.pi * hours / (24 * 9)) \
        + np.cumsum(rng.normal(0, 0.15, n))
    humidity = 70 - 1.5 * (temp - 50) + rng.normal(0, 1.0, n)
    return [START + dt.timedelta(hours=int(h)) for h in hours], temp.round(2), humidity.round(1)


def write_csv(path: Path, times, columns: dict[str, np.ndarray], fmt: str = "%Y-%m-%d %H:%M",
              time_name: str = "date", order: list[str] | None = None, delimiter: str = ",") -> Path:
    """A CSV with a header; `order` names the columns left to right (default: time first)."""
    table = {time_name: [t.strftime(fmt) for t in times], **{k: [f"{x:g}" for x in v] for k, v in columns.items()}}
    order = order or list(table)
    lines = [delimiter.join(order)] + [delimiter.join(str(table[k][i]) for k in order) for i in range(len(times))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
