"""Reading series from CSV (columns by name, dates in many layouts, bad cells refused on one
line), putting them on a time grid (gaps, repeats, disorder), and scoring against the baselines."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from edge_rnn.runtime.dates import choose_layout, clock_values, parse_time, to_seconds
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.series_csv import read_series_csv
from edge_rnn.runtime.series_eval import score
from edge_rnn.runtime.series_grid import regularise

from series_data import hourly, write_csv

H = 3600
NOON = to_seconds(dt.datetime(2010, 1, 31, 13, 0))


@pytest.mark.parametrize("text", ["2010-01-31 13:00", "2010/01/31 13:00", "2010-01-31T13:00:00Z",
                                  "2010-01-31T13:00:00.000+02:00", "01/31/2010 1:00 PM", "31.01.2010 13:00",
                                  "31-Jan-2010 13:00", "Jan 31, 2010 1:00 pm", "201001311300", "2010-1-31 13:00:00",
                                  "1264942800"])
def test_common_date_layouts_read_as_the_same_wall_clock_time(text):
    assert parse_time(text) == NOON


def test_a_file_of_day_first_dates_is_told_from_month_first_by_its_dates():
    day_first = ["01/02/2010 00:00", "13/02/2010 00:00"]
    assert choose_layout(day_first).name == "DD/MM/YYYY"
    assert choose_layout(["01/02/2010", "02/13/2010"]).name == "MM/DD/YYYY"
    assert parse_time("2010-01-31 24:00") == to_seconds(dt.datetime(2010, 2, 1))  # the end of a day
    with pytest.raises(ValueError):
        parse_time("2010-02-30 10:00")


def test_clock_values_are_hour_of_day_and_day_of_year():
    t = np.array([to_seconds(dt.datetime(2010, 1, 1, 6, 30)), to_seconds(dt.datetime(2012, 12, 31, 18, 0))])
    assert np.allclose(clock_values(t, ["hour", "day"]), [[6.5, 6.5 / 24], [18.0, 365.75]])  # 2012: a leap year


def test_another_column_order_and_date_format_loads_the_same(tmp_path):
    times, temp, humidity = hourly(3)
    plain = read_series_csv(write_csv(tmp_path / "a.csv", times, {"temp": temp, "humidity": humidity}),
                            ["temp", "humidity"])
    other = write_csv(tmp_path / "b.csv", times, {"Humidity": humidity, "station": np.zeros(len(times)), "TEMP": temp},
                      fmt="%d.%m.%Y %H:%M", time_name="Timestamp", order=["Humidity", "station", "TEMP", "Timestamp"],
                      delimiter=";")
    moved = read_series_csv(other, ["temp", "humidity"])
    assert (moved.layout, moved.time_column, moved.columns) == ("DD/MM/YYYY", "Timestamp", ["TEMP", "Humidity"])
    assert np.array_equal(moved.times, plain.times) and np.array_equal(moved.values, plain.values)


BAD_FILES = [
    ("date,temp\n2010-01-01 00:00,40\n2010-01-01 01:00,\n", "line 3: no value for 'temp'"),
    ("date,temp\n2010-01-01 00:00,40\n2010-01-01 01:00,NA\n", "line 3: no value for 'temp'"),
    ("date,temp\n2010-01-01 00:00,40\n2010-13-45 01:00,41\n", "line 3: '2010-13-45 01:00' in 'date' is not a date"),
    ("date,temp\n2010-01-01 00:00,40\nyesterday,41\n", "line 3: 'yesterday' in 'date' is not a date"),
    ("date,temp\n2010-01-01 00:00,40\n2010-01-01 01:00,warm\n", "line 3: 'temp' is 'warm', not a number"),
    ("date,temp\n2010-01-01 00:00,40\n2010-01-01 01:00,inf\n", "line 3: 'temp' is 'inf', not a number"),
    ("date,tmp\n2010-01-01 00:00,40\n", "has no column 'temp'; its columns are: date, tmp"),
    ("when?,temp\n2010-01-01 00:00,40\n", "no date or time column (its columns are: when?, temp)"),
    ("date,temp\n2010-01-01 00:00\n", "line 2 has 1 fields"),
    ("date,temp\n", "holds no readings"),
    ("", "no header row"),
]


@pytest.mark.parametrize("text, message", BAD_FILES)
def test_bad_files_are_one_line_that_names_the_place(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as e:
        read_series_csv(path, ["temp"])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_grid_sorts_averages_repeats_fills_short_gaps_and_restarts_after_long_ones():
    t = np.array([0, 2, 1, 1, 3, 6, 20, 21]) * H  # 1 repeated, 2 before 1, 4-5 missing, 7-19 missing
    v = np.array([[10.0], [12], [11], [13], [13], [16], [30], [31]])
    grid = regularise(t, v, H, max_gap=3)
    assert grid.times.tolist() == [h * H for h in (0, 1, 2, 3, 4, 5, 6, 20, 21)]
    assert grid.values[:, 0].tolist() == [10, 12, 12, 13, 14, 15, 16, 30, 31]  # (11 + 13) / 2; 4, 5 filled
    assert grid.observed.tolist() == [True, True, True, True, False, False, True, True, True]
    assert grid.starts.tolist() == [True] + [False] * 6 + [True, False]
    assert grid.report == {"readings": 8, "out_of_order": 1, "duplicate_times": 1, "off_grid": 0, "gaps_filled": 1,
                           "points_filled": 2, "long_gaps": 1, "points_skipped": 13}


def test_readings_off_the_grid_move_to_the_nearest_grid_time():
    grid = regularise(np.array([0, 3700, 5400, 7000]), np.array([[1.0], [2], [3], [4]]), H, max_gap=2)
    assert grid.times.tolist() == [0, H, 2 * H] and grid.values[:, 0].tolist() == [1, 2, 3.5]
    assert grid.report["off_grid"] == 3 and grid.report["duplicate_times"] == 1


def test_scores_use_targets_by_time_and_the_same_rows_for_every_forecaster():
    hours = np.r_[0:30, 31:60]  # hour 30 is missing: no forecast or seasonal naive uses it
    grid = regularise(hours * H, (100.0 + hours)[:, None], H, max_gap=0)
    forecasts = np.stack([grid.values[:, 0] + 1, grid.values[:, 0] + 2.5], axis=1)  # off by 0 and 0.5
    result = score(grid, forecasts, np.ones(len(hours), bool))
    origins = [h for h in hours if all(h + k in hours and h + k - 24 in hours for k in (1, 2))]
    assert result["rows"] == len(origins) and result["horizons"] == [1, 2]
    assert result["mae"] == [0.0, 0.5] and result["rmse"] == [0.0, 0.5]
    assert result["baselines"]["persistence"] == {"mae": [1.0, 2.0], "rmse": [1.0, 2.0]}
    assert result["baselines"]["seasonal_naive"] == {"mae": [24.0, 24.0], "rmse": [24.0, 24.0]}


def test_seasonal_naive_never_looks_past_the_origin():
    days = np.arange(40)  # daily readings: a day's season is one reading, so seasonal naive is persistence
    grid = regularise(days * 86400, (days * 2.0)[:, None], 86400, max_gap=0)
    result = score(grid, np.zeros((40, 3)), np.ones(40, bool))
    assert result["baselines"]["seasonal_naive"] == result["baselines"]["persistence"]
    assert result["baselines"]["persistence"]["mae"] == [2.0, 4.0, 6.0]
