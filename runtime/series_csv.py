"""Reading a numeric series from CSV: columns found by name in any order, dates in any known
layout (dates.py), and every bad cell refused with its line number, in one line.

A file is UTF-8 text with a header row. The delimiter is the commonest of `,` `;` and tab in
the header; with `;` or tab a decimal comma (`12,5`) is read too. An empty cell (or NA, NaN,
null, -, ?) in a column the model needs is a missing reading and is refused: the reader does not
guess values (gaps between timestamps are another matter: see series_grid.py).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np

from .dates import KNOWN, LAYOUTS, Layout, choose_layout
from .errors import UserError

MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "--", "?"}
TIME_NAMES = ("date", "datetime", "date_time", "time", "timestamp", "time_stamp", "valid", "dt")


@dataclass
class SeriesTable:
    """A file's readings in file order: times (n,) wall-clock seconds, values (n, columns)."""

    times: np.ndarray
    values: np.ndarray
    lines: np.ndarray  # the line of each row in the file, for messages
    columns: list[str]
    time_column: str
    layout: str  # how the dates were read, e.g. "YYYY-MM-DD"


class UnknownColumn(UserError):
    """A needed column is not in the file's header."""


@dataclass
class Header:
    names: list[str]
    time: int  # index of the time column
    wanted: list[int]  # index of each value column, in the order asked for
    delimiter: str

    def column(self, i: int) -> str:
        return self.names[i]


def _lookup(names: list[str], name: str) -> int | None:
    """A column by name: exactly, else ignoring case and surrounding spaces."""
    if name in names:
        return names.index(name)
    folded = [n.strip().lower() for n in names]
    key = name.strip().lower()
    return folded.index(key) if key in folded else None


def find_header(names: list[str], wanted: list[str], time_column: str | None, where: str,
                delimiter: str = ",") -> Header:
    """Where each needed column is; an unknown name is refused with the columns present."""
    present = ", ".join(n or "(unnamed)" for n in names)[:400]
    indices = []
    for name in wanted:
        i = _lookup(names, name)
        if i is None:
            raise UnknownColumn(f"{where} has no column {name!r}; its columns are: {present}")
        indices.append(i)
    if time_column is not None:
        time = _lookup(names, time_column)
        if time is None:
            raise UserError(f"{where} has no column {time_column!r}; its columns are: {present}")
    else:
        folded = [n.strip().lower() for n in names]
        time = next((folded.index(t) for t in TIME_NAMES if t in folded), None)
        if time is None:
            time = next((i for i, n in enumerate(folded) if "date" in n or "time" in n), None)
        if time is None:
            raise UserError(f"{where} has no date or time column (its columns are: {present}); "
                            "name it with --time-column")
    if time in indices:
        raise UserError(f"{where}: column {names[time]!r} cannot be both the time and a reading")
    return Header(names, time, indices, delimiter)


def text_lines(source: str | Path | IO[bytes], where: str) -> Iterator[str]:
    """The decoded lines of a file path or a binary stream, read as they come."""
    stream = open(source, "rb") if isinstance(source, (str, Path)) else source
    try:
        for number, raw in enumerate(iter(stream.readline, b""), 1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{where} line {number} is not UTF-8 text; save the file as UTF-8") from None
    finally:
        if stream is not source:
            stream.close()


def rows(lines: Iterable[str], wanted: list[str], time_column: str | None,
         where: str) -> tuple[Header, Iterator[tuple[int, list[str]]]]:
    """The header, and (line number, fields) of each non-empty row after it."""
    lines = iter(lines)
    first = next(lines, "")
    delimiter = max((",", ";", "\t"), key=first.count)
    names = next(csv.reader([first], delimiter=delimiter), [])
    if not any(n.strip() for n in names):
        raise UserError(f"{where} is empty or has no header row naming its columns")
    header = find_header(names, wanted, time_column, where, delimiter)

    def body() -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for fields in reader:
                if fields and any(f.strip() for f in fields):
                    yield reader.line_num + 1, fields
        except csv.Error as e:
            raise UserError(f"{where} line {reader.line_num + 1}: not CSV ({e})") from None

    return header, body()


def readings(header: Header, fields: list[str], line: int, where: str) -> list[float]:
    """The needed numbers of one row, refusing a short row, a missing or a non-numeric value."""
    if len(fields) <= max(header.wanted + [header.time]):
        raise UserError(f"{where} line {line} has {len(fields)} fields; the header names {len(header.names)}")
    out = []
    for i in header.wanted:
        text = fields[i].strip()
        if text.lower() in MISSING:
            raise UserError(f"{where} line {line}: no value for {header.column(i)!r} (a missing reading); "
                            "fill it in or remove the line")
        try:
            value = float(text if header.delimiter == "," else text.replace(",", "."))
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UserError(f"{where} line {line}: {header.column(i)!r} is {text[:40]!r}, not a number")
        out.append(value)
    return out


def parse_date(header: Header, layout: Layout | None, fields: list[str], line: int, where: str) -> int:
    text = fields[header.time].strip()
    name = header.column(header.time)
    if text.lower() in MISSING:
        raise UserError(f"{where} line {line}: no date in {name!r}; fill it in or remove the line")
    seconds = layout.parse(text) if layout else None
    if seconds is None:
        like = layout.example if layout else KNOWN
        raise UserError(f"{where} line {line}: {text[:40]!r} in {name!r} is not a date (expected like {like})")
    return seconds


def read_series_csv(source: str | Path, wanted: list[str], time_column: str | None = None,
                    where: str | None = None) -> SeriesTable:
    """A whole file: its dates read with the one layout that fits them."""
    where = where or str(source)
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise UserError(f"CSV file not found: {source}")
    header, body = rows(text_lines(source, where), wanted, time_column, where)
    table = [(line, fields, readings(header, fields, line, where)) for line, fields in body]
    if not table:
        raise UserError(f"{where} holds no readings below its header")
    layout = choose_layout([fields[header.time] for _, fields, _ in table])
    times = [parse_date(header, layout, fields, line, where) for line, fields, _ in table]
    return SeriesTable(np.asarray(times, np.int64), np.asarray([v for _, _, v in table], np.float64),
                       np.asarray([line for line, _, _ in table], np.int64),
                       [header.column(i) for i in header.wanted], header.column(header.time),
                       layout.name if layout else "")


def stream_series_csv(source: str | Path | IO[bytes], wanted: list[str], time_column: str | None = None,
                      where: str = "standard input", layout: str = "") -> Iterator[tuple[int, int, list[float]]]:
    """(line, seconds, readings) of each row as it arrives. The dates are read in `layout` (a
    name from dates.LAYOUTS, e.g. what read_series_csv found for the whole file), or else in the
    layout that reads the first row (month-first for an ambiguous 01/02/2010)."""
    header, body = rows(text_lines(source, where), wanted, time_column, where)
    chosen = next((known for known in LAYOUTS if known.name == layout), None)
    for line, fields in body:
        values = readings(header, fields, line, where)
        if chosen is None:
            chosen = choose_layout([fields[header.time]])
        yield line, parse_date(header, chosen, fields, line, where), values
