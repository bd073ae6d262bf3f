"""`edge-rnn tune-detector`: the grid, the choice, and the model copy that carries the chosen detector
(its metadata rewritten without the `onnx` package, the digest stamped again)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import fsdd_subset, needs_fsdd, rewrite_metadata
from edge_rnn.evaluation.detector_choice import grid, pick
from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.detector import DetectorConfig
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.model_file import DIGEST_KEY, metadata_entries, read_model, with_metadata
from test_noise_eval import one_error_line, run_cli

STRICT = {"smooth_frames": 8, "threshold": 0.97, "refractory_s": 0.8, "decision_s": 0.3}


def strict_copy(tmp_path):
    """fsdd-kws with a detector that misses most keywords."""
    out = tmp_path / "strict.onnx"
    out.write_bytes(with_metadata(read_model(bundled_path("fsdd-kws")).data, {"edge_rnn.detector": json.dumps(STRICT)}))
    return out


def test_with_metadata_changes_one_value_and_keeps_the_model(tmp_path):
    src = read_model(bundled_path("fsdd-kws"))
    out = strict_copy(tmp_path)
    copy = read_model(out)
    assert copy.verified  # the digest was stamped again and matches
    assert list(copy.metadata) == list(src.metadata)  # same keys, same order (the digest first)
    assert metadata_entries(copy.data)[0][0] == DIGEST_KEY
    changed = {k for k in src.metadata if src.metadata[k] != copy.metadata[k]}
    assert changed == {"edge_rnn.detector", DIGEST_KEY}
    assert json.loads(copy.metadata["edge_rnn.detector"]) == STRICT
    audio = np.random.default_rng(3).uniform(-0.2, 0.2, 8000).astype(np.float32)
    a, b = KeywordSpotter(bundled_path("fsdd-kws")), KeywordSpotter(out)
    assert np.array_equal(a.probabilities(audio), b.probabilities(audio))
    assert b.detector.config == DetectorConfig(**STRICT)
    damaged = bytearray(out.read_bytes())
    damaged[len(damaged) // 2] ^= 0x10
    (tmp_path / "bad.onnx").write_bytes(bytes(damaged))
    with pytest.raises(UserError, match="damaged"):
        read_model(tmp_path / "bad.onnx")


def test_with_metadata_refuses_a_key_the_model_lacks():
    with pytest.raises(UserError, match="edge_rnn.detector"):
        with_metadata(read_model(bundled_path("ptb-lm")).data, {"edge_rnn.detector": "{}"})


def test_grid_starts_with_the_models_detector_and_has_no_duplicates():
    current = DetectorConfig(smooth_frames=3, threshold=0.15, refractory_s=0.3, decision_s=0.6)
    configs = grid(0.08, current)
    assert configs[0] == current and configs.count(current) == 1
    assert len({json.dumps(vars(c), sort_keys=True) for c in configs}) == len(configs)
    assert sorted({c.smooth_frames for c in configs}) == [1, 2, 3, 4]  # 0-0.32 s in 80 ms frames
    assert len(grid(0.01, DetectorConfig())) > len(configs)  # 10 ms frames: more smoothing lengths


def summary(detection: float, worst_fa: float, false_events: int) -> dict:
    return {"mean_detection": detection, "worst_false_accepts_per_hour": worst_fa, "false_events": false_events}


def test_pick_keeps_the_budget_then_detection_then_fewer_false_events():
    results = [("own", summary(0.90, 0.0, 5)), ("loud", summary(0.97, 6.0, 9)), ("same", summary(0.90, 0.0, 5)),
               ("fewer", summary(0.93, 0.0, 2)), ("more", summary(0.93, 0.0, 4))]
    assert pick(results, 0.5) == (results[3], True)  # "loud" breaks the budget
    assert pick(results, 10.0) == (results[1], True)
    assert pick(results[:3], 0.5) == (results[0], True)  # a tie keeps the model's own
    over = [("a", summary(0.99, 12.0, 1)), ("b", summary(0.80, 6.0, 3)), ("c", summary(0.85, 6.0, 3))]
    assert pick(over, 0.5) == (over[2], False)  # none keeps it: the fewest false accepts, then detection


@needs_fsdd
def test_tune_detector_end_to_end(tmp_path):
    data = fsdd_subset(tmp_path / "data", speakers=("nicolas",), digits=(0, 1, 2, 3), indices=range(0, 5))
    strict, tuned = strict_copy(tmp_path), tmp_path / "out" / "tuned.onnx"
    common = ["--data", data, "--snr", "10", "--noise-kind", "pink", "--noise-minutes", "0.2"]
    r = run_cli("tune-detector", "--model", strict, *common, "--max-false-accepts", "1000", "--out", tuned, "--json")
    assert r.returncode == 0, r.stderr
    assert b"detectors" in r.stderr  # progress
    result = json.loads(r.stdout)
    assert result["current"]["detector"] == STRICT and result["budget_met"] and result["written"] == str(tuned)
    assert [c["condition"] for c in result["chosen"]["conditions"]] == ["quiet", "pink@10dB"]
    assert result["chosen"]["mean_detection"] > result["current"]["mean_detection"] + 0.2  # the strict one misses
    assert json.loads(read_model(tuned).metadata["edge_rnn.detector"]) == result["chosen"]["detector"]
    # the written model, measured by `edge-rnn eval`, gives the figures reported for the chosen detector
    e = run_cli("eval", "--model", tuned, *common, "--json", "--quiet")
    assert e.returncode == 0, e.stderr
    measured = json.loads(e.stdout)["conditions"]
    keys = ["condition", "detected", "wrong_label", "other_false", "noise_false_accepts"]
    assert [{k: c.get(k) for k in keys} for c in measured] == [{k: c.get(k) for k in keys}
                                                                for c in result["chosen"]["conditions"]]
    table = run_cli("tune-detector", "--model", strict, *common, "--quiet")
    assert table.returncode == 0 and b"chosen" in table.stdout
    assert [p.name for p in tuned.parent.iterdir()] == ["tuned.onnx"]  # no temporary left beside it


@needs_fsdd
def test_tune_detector_user_errors(tmp_path):
    data = fsdd_subset(tmp_path / "data", speakers=("nicolas",), digits=(0,), indices=range(0, 2))
    assert "not a keyword spotter" in one_error_line(run_cli("tune-detector", "--model", "ptb-lm", "--data", data))
    assert "is a folder" in one_error_line(run_cli("tune-detector", "--data", data, "--out", tmp_path))
    assert "unknown noise kind" in one_error_line(run_cli("tune-detector", "--data", data, "--noise-kind", "purple"))
    assert "not found" in one_error_line(run_cli("tune-detector", "--data", tmp_path / "nope"))
    undigested = rewrite_metadata(bundled_path("fsdd-kws"), tmp_path / "old.onnx", {DIGEST_KEY: None}, stamp=False)
    r = run_cli("tune-detector", "--model", undigested, "--data", data, "--out", tmp_path / "t.onnx")
    assert r.returncode == 2 and r.stderr.decode().splitlines()[-1].startswith("edge-rnn: error: ")
    assert b"edge_rnn.digest" in r.stderr and b"scoring" not in r.stderr  # refused before any work
    assert not (tmp_path / "t.onnx").exists()
    assert "--snr applies to noise kinds" in one_error_line(
        run_cli("tune-detector", "--data", data, "--noise-kind", "reverb", "--snr", "10"))


@needs_fsdd
def test_tune_detector_in_rooms_alone_needs_no_snr(tmp_path):
    data = fsdd_subset(tmp_path / "data", speakers=("nicolas",), digits=(0, 1), indices=range(0, 3))
    r = run_cli("tune-detector", "--data", data, "--noise-kind", "reverb", "--noise-minutes", "0.1", "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    conditions = json.loads(r.stdout)["chosen"]["conditions"]
    assert [c["condition"] for c in conditions] == ["quiet", "reverb"]
    assert "noise_false_accepts_per_hour" in conditions[0] and "noise_false_accepts_per_hour" not in conditions[1]
