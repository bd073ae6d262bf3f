"""The models shipped inside the package: present, small, self-describing, and as good as the
README says (measured through the streaming runtime, as `edge-rnn eval` does)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.lm import evaluate_text
from edge_rnn.runtime.session import Session

from conftest import PTB, SHARED, needs_ptb

WEATHER = SHARED / "weather" / "seattle-temps.csv"
needs_weather = pytest.mark.skipif(not WEATHER.is_file(), reason=f"Seattle temperatures not found at {WEATHER}")
README = Path(__file__).resolve().parents[1] / "README.md"

DEMO_WAV = Path(__file__).resolve().parents[1] / "docs" / "digits.wav"


def test_bundled_models_are_small_int8_and_self_describing():
    lm, kws = Session(bundled_path("ptb-lm")), Session(bundled_path("fsdd-kws"))
    assert (lm.contract.task, lm.contract.precision) == ("lm", "int8")
    assert (kws.contract.task, kws.contract.precision) == ("kws", "int8")
    assert len(lm.contract.vocab) == 10000 and lm.contract.config["hidden"] == [256, 128]
    assert kws.contract.labels[2:] == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert bundled_path("ptb-lm").stat().st_size < 6_000_000
    assert bundled_path("fsdd-kws").stat().st_size < 1_000_000  # the embedding's int8 convolutions, 330 KB
    assert kws.contract.hop == 640 and [s.input for s in kws.contract.states][:2] == ["state_context", "state_cache"]
    assert Session("ptb-lm").path == bundled_path("ptb-lm")  # the runtime takes bundled names too


@needs_ptb
def test_bundled_lm_meets_the_perplexity_target():
    result = evaluate_text(Session(bundled_path("ptb-lm")), PTB / "ptb.valid.txt.gz")
    assert result["tokens"] == 73760  # every word and <eos> of PTB valid is predicted
    assert result["perplexity"] <= 130


def test_demo_commands_use_the_bundled_models():
    exe = [sys.executable, "-m", "edge_rnn.cli", "stream"]
    text = subprocess.run(exe + ["--json", "--top-k", "3"], input=b"the company said\n", capture_output=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert [json.loads(line)["word"] for line in text.stdout.decode().splitlines()] == ["the", "company", "said"]
    audio = subprocess.run(exe + ["--input", str(DEMO_WAV), "--json"], capture_output=True, timeout=120)
    assert audio.returncode == 0, audio.stderr
    events = [json.loads(line) for line in audio.stdout.decode().splitlines()]
    # the README's demo: "three one four one five nine two six" in a synthetic voice, all found
    assert [e["keyword"] for e in events] == "three one four one five nine two six".split()


def test_bundled_forecaster_is_small_int8_and_self_describing():
    c = Session("seattle-temp").contract
    assert (c.task, c.precision, c.columns, c.horizon, c.interval_s, c.time_features) == \
        ("series", "int8", ["temp"], 6, 3600, [])
    assert [s.input for s in c.states] == ["state_lag", "state_h0", "state_c0"] and c.states[0].size == 48
    assert bundled_path("seattle-temp").stat().st_size < 40_000


@needs_weather
def test_bundled_forecaster_beats_both_baselines_on_the_held_out_months(tmp_path):
    """The README's claim: on November and December 2010 (trained on January to October), the
    1-hour and 6-hour forecasts beat persistence and seasonal naive, by the figures it prints."""
    exe = [sys.executable, "-m", "edge_rnn.cli", "eval", "--csv"]
    r = subprocess.run(exe + [str(WEATHER), "--from", "2010-11-01", "--json"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"].endswith("seattle-temp.int8.onnx") and out["first"] == "2010-11-01T00:00:00"
    assert out["rows"] == 1458 and out["horizons"] == [1, 2, 3, 4, 5, 6]
    base = out["baselines"]
    for i in (0, 5):  # 1 and 6 hours ahead
        for key in ("mae", "rmse"):
            assert out[key][i] < base["persistence"][key][i] and out[key][i] < base["seasonal_naive"][key][i]
    readme = README.read_text(encoding="utf-8")
    assert f"MAE at 1 h **{out['mae'][0]:.3f} °F**" in readme and f"at 6 h **{out['mae'][5]:.3f} °F**" in readme
    # another station's layout: columns in another order, another date format, same numbers
    rows = WEATHER.read_text(encoding="utf-8").splitlines()[1:]
    moved = ["reading_time,station,temp"] + [f"{d[5:7]}/{d[8:10]}/{d[:4]} {d[11:]},SEA,{t}"
                                            for d, t in (row.split(",") for row in rows)]
    (tmp_path / "other.csv").write_text("\n".join(moved) + "\n", encoding="utf-8")
    r = subprocess.run(exe + [str(tmp_path / "other.csv"), "--from", "11/01/2010", "--json"], capture_output=True,
                       timeout=300)
    again = json.loads(r.stdout)
    assert (again["mae"], again["rmse"], again["rows"], again["date_layout"]) == \
        (out["mae"], out["rmse"], out["rows"], "MM/DD/YYYY")
