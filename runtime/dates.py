"""Dates and times in the common spellings, read as wall-clock seconds; and the clock values a
forecaster with time features takes.

A file's dates are read with one layout, chosen from its values (a day-first and a month-first
file are told apart by the dates that only one of them can read). A time is the wall-clock time
as written: a zone or offset after it (`Z`, `+02:00`, `UTC`) is accepted and not applied, so the
hour of day stays the local hour a station wrote. Unix seconds (9 or 10 digits) are UTC.
Times are int seconds since 1970-01-01 00:00 of that wall clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

_TIME = (r"(?:,?(?:T|\s+)(?P<H>\d{1,2}):(?P<Mi>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
         r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?")
_ZONE = r"\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"))}
EPOCH = dt.datetime(1970, 1, 1)
DAY = 86400


@dataclass(frozen=True)
class Layout:
    name: str
    example: str
    pattern: re.Pattern

    def parse(self, text: str) -> int | None:
        """Wall-clock seconds, or None when `text` is not a valid date in this layout."""
        m = self.pattern.fullmatch(text.strip())
        if m is None:
            return None
        g = m.groupdict()
        if g.get("unix"):
            return int(round(float(g["unix"])))
        month = _MONTHS.get((g.get("Mon") or "")[:3].lower()) if g.get("Mon") else int(g["M"])
        hour, minute, second = int(g.get("H") or 0), int(g.get("Mi") or 0), int(g.get("S") or 0)
        if g.get("ampm"):
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if g["ampm"][0] in "pP" else 0)
        extra = 0
        if hour == 24 and minute == second == 0:  # "24:00" closes a day: the next midnight
            hour, extra = 0, DAY
        try:
            when = dt.datetime(int(g["Y"]), month or 0, int(g["D"]), hour, minute, second)
        except (ValueError, TypeError):
            return None
        return (when - EPOCH) // dt.timedelta(seconds=1) + extra


def _layout(name: str, example: str, date: str, time: bool = True) -> Layout:
    return Layout(name, example, re.compile(date + (_TIME + _ZONE if time else ""), re.I))


LAYOUTS = [
    _layout("YYYY-MM-DD", "2010-01-31 13:00", r"(?P<Y>\d{4})(?P<sep>[-/.])(?P<M>\d{1,2})(?P=sep)(?P<D>\d{1,2})"),
    _layout("MM/DD/YYYY", "01/31/2010 1:00 PM", r"(?P<M>\d{1,2})(?P<sep>[/.-])(?P<D>\d{1,2})(?P=sep)(?P<Y>\d{4})"),
    _layout("DD/MM/YYYY", "31/01/2010 13:00", r"(?P<D>\d{1,2})(?P<sep>[/.-])(?P<M>\d{1,2})(?P=sep)(?P<Y>\d{4})"),
    _layout("DD Mon YYYY", "31-Jan-2010 13:00", r"(?P<D>\d{1,2})[ -](?P<Mon>[a-z]{3,9})\.?,?[ -](?P<Y>\d{4})"),
    _layout("Mon DD, YYYY", "Jan 31, 2010 1:00 PM", r"(?P<Mon>[a-z]{3,9})\.?\s+(?P<D>\d{1,2}),?\s+(?P<Y>\d{4})"),
    _layout("YYYYMMDD[HHMM[SS]]", "201001311300",
            r"(?P<Y>\d{4})(?P<M>\d{2})(?P<D>\d{2})(?:T?(?P<H>\d{2})(?P<Mi>\d{2})(?P<S>\d{2})?)?", time=False),
    _layout("unix seconds", "1264942800", r"(?P<unix>\d{9,10}(?:\.\d+)?)", time=False),
]
KNOWN = ", ".join(layout.example for layout in LAYOUTS)
# day-first is the usual reading of dotted and dashed dates, month-first of slashed ones
_DAY_FIRST = re.compile(r"\d{1,2}[.-]\d{1,2}[.-]\d{4}")


def choose_layout(values: list[str]) -> Layout | None:
    """The layout that reads the most of `values` (a file's dates), or None if none reads any of
    the first twenty. Ties keep the usual reading (month-first for 01/02/2010, day-first for
    01.02.2010)."""
    head = [v.strip() for v in values[:20]]
    candidates = [layout for layout in LAYOUTS if any(layout.pattern.fullmatch(v) for v in head)]
    if any(_DAY_FIRST.fullmatch(v.split()[0]) for v in head if v):
        candidates.sort(key=lambda layout: layout.name != "DD/MM/YYYY")
    best, best_count = None, 0
    for layout in candidates:
        count = sum(layout.parse(v) is not None for v in values)
        if count > best_count:
            best, best_count = layout, count
        if count == len(values):
            break
    return best


def parse_time(text: str) -> int:
    """One date or time given on the command line (any known layout) -> wall-clock seconds."""
    layout = choose_layout([text])
    seconds = layout.parse(text) if layout else None
    if seconds is None:
        raise ValueError(f"{text!r} is not a date this reader knows (like {KNOWN})")
    return seconds


def to_seconds(when) -> int:
    """A datetime (its wall-clock time; a zone is not applied), numpy datetime64, or seconds."""
    if isinstance(when, dt.datetime):
        return (when.replace(tzinfo=None) - EPOCH) // dt.timedelta(seconds=1)
    if isinstance(when, np.datetime64):
        return int(when.astype("datetime64[s]").astype(np.int64))
    if isinstance(when, (int, float, np.integer, np.floating)) and np.isfinite(when):
        return int(round(float(when)))
    raise ValueError(f"a time is a datetime, a numpy datetime64 or seconds since 1970, got {when!r}"[:200])


def format_time(seconds: int) -> str:
    """ISO 8601 without a zone: 2010-11-01T13:00:00."""
    return str(np.datetime64(int(seconds), "s"))


def clock_values(seconds: np.ndarray, features: list[str]) -> np.ndarray:
    """(n, len(features)) float32: `hour` = hours since midnight (0 <= hour < 24), `day` = days
    since 1 January 00:00 of that year, with the hour as a fraction (0 <= day < 366)."""
    seconds = np.asarray(seconds, np.int64)
    out = np.zeros((seconds.size, len(features)), np.float32)
    for i, name in enumerate(features):
        if name == "hour":
            out[:, i] = (seconds % DAY) / 3600.0
        else:
            t = seconds.astype("datetime64[s]")
            out[:, i] = (t - t.astype("datetime64[Y]")).astype(np.int64) / float(DAY)
    return out
