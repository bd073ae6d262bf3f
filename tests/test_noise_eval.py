"""Keyword spotting in noise: noise kinds, rooms, SNR mixing, and `edge-rnn eval --snr` end to end
with the bundled fsdd-kws through the streaming runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import fsdd_subset, needs_fsdd
from edge_rnn.evaluation.noisy import Condition, conditions, score
from edge_rnn.training.noise import coloured, level_for_snr, mains_hum, power, speech_power, stationary
from edge_rnn.training.rooms import reverberate, room_impulse_response
from wavs import write_wav

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng): no babble")
RATE = 8000


def run_cli(*args, env: dict | None = None, hide_torch: bool = True) -> subprocess.CompletedProcess:
    """The CLI in a fresh process; with `hide_torch`, as on a machine without torch."""
    code = ("import sys; sys.modules['torch'] = None; " if hide_torch else "import sys; ") + \
        "from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, timeout=600, env=env)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and err.startswith("edge-rnn: error: "), err
    return err


def spectrum_slope(x: np.ndarray, low: float = 100.0, high: float = 3000.0) -> float:
    """The slope of log power against log frequency, averaged over 1024-sample frames."""
    frames = x[: x.size // 1024 * 1024].reshape(-1, 1024) * np.hanning(1024)
    p = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    hz = np.fft.rfftfreq(1024, 1 / RATE)
    band = (hz >= low) & (hz <= high)
    return float(np.polyfit(np.log(hz[band]), np.log(p[band]), 1)[0])


@pytest.mark.parametrize("kind,slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_colours_have_their_spectral_slope(kind, slope):
    x = stationary(kind, 20 * RATE, np.random.default_rng(1))
    assert abs(power(x) - 1) < 1e-3
    assert abs(spectrum_slope(x) - slope) < 0.15


def test_hum_is_mains_and_its_harmonics():
    x = mains_hum(10 * RATE, np.random.default_rng(2))
    p = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(x.size, 1 / RATE)
    top = sorted(hz[np.argsort(p)[-3:]].round())
    assert top == [50.0, 100.0, 150.0]


def test_noise_at_snr_is_measured_over_the_words():
    rng = np.random.default_rng(3)
    speech = np.zeros(4 * RATE, np.float32)
    spans = [(RATE, 2 * RATE), (3 * RATE, 3 * RATE + 2000)]
    for a, b in spans:
        speech[a:b] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(b - a) / RATE)
    noise = coloured(speech.size, -1.0, rng) * level_for_snr(speech_power(speech, spans), 5.0)
    assert 10 * np.log10(speech_power(speech, spans) / power(noise)) == pytest.approx(5.0, abs=1e-6)
    assert speech_power(speech, spans) > 2 * power(speech)  # the gaps do not dilute the speech power


def schroeder_rt60(h: np.ndarray) -> float:
    """RT60 from the backward-integrated energy's fall from -5 to -25 dB, times 3."""
    energy = np.cumsum(h[::-1] ** 2)[::-1]
    db = 10 * np.log10(energy / energy[0] + 1e-20)
    return 3 * (np.argmax(db < -25) - np.argmax(db < -5)) / RATE


@pytest.mark.parametrize("rt60", [0.3, 0.8])
def test_rooms_reverberate_as_long_as_asked(rt60):
    h = room_impulse_response(np.random.default_rng(4), RATE, rt60=(rt60, rt60), distance=(2.0, 2.0))
    assert h[0] == pytest.approx(1.0, abs=0.05) and np.abs(h[1:]).max() < 1.0  # the direct path first
    assert schroeder_rt60(h) == pytest.approx(rt60, rel=0.35)
    click = np.zeros(RATE, np.float32)
    click[0] = 1
    assert reverberate(click, h).size == RATE and reverberate(click, h, keep_tail=True).size == RATE + h.size - 1


def test_score_tells_hits_wrong_labels_and_other_false():
    truth = [(1.0, 1.5, "one"), (3.0, 3.5, "two"), (6.0, 6.5, "dog")]
    events = [{"time": 1.6, "keyword": "one"}, {"time": 1.7, "keyword": "one"},  # a hit, then a repeat
              {"time": 3.6, "keyword": "three"},  # a wrong label
              {"time": 5.0, "keyword": "two"}, {"time": 6.6, "keyword": "one"}]  # outside, and on no keyword
    s = score(events, truth, {"one", "two", "three"})
    assert (s["keywords"], s["detected"], s["wrong_label"], s["other_false"]) == (2, 1, 1, 3)


def test_conditions_in_order():
    names = [c.name for c in conditions(["pink", "reverb", "babble"], [20.0, 5.0])]
    assert names == ["quiet", "pink@20dB", "pink@5dB", "babble@20dB", "babble@5dB", "reverb"]
    assert Condition("hum", -3.0).name == "hum@-3dB"


@needs_espeak
def test_babble_is_overlapping_synthesised_words():
    from edge_rnn.training.babble import EVAL_WORDS, TRAIN_WORDS, babble, spoken_words

    assert not set(EVAL_WORDS) & set(TRAIN_WORDS)
    words = spoken_words(EVAL_WORDS, RATE, voices=3, words_per_voice=4, seed=1)
    assert len(words) == 12 and all(0.1 * RATE < w.size < 2 * RATE for w in words)
    x = babble(5 * RATE, words, np.random.default_rng(5))
    frames = np.sqrt(np.mean(x[: x.size // 400 * 400].reshape(-1, 400) ** 2, axis=1))
    assert abs(power(x) - 1) < 1e-3 and (frames > 0.05).mean() > 0.9  # several talkers leave few pauses


def test_mistakes_are_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    base = ["eval", "--model", "fsdd-kws", "--data", data]
    assert "--snr needs" in one_error_line(run_cli(*base, "--snr", "20,loud"))
    assert "--snr needs" in one_error_line(run_cli(*base, "--snr", "100"))
    assert "unknown noise kind purple" in one_error_line(run_cli(*base, "--snr", "10", "--noise-kind", "pink,purple"))
    assert "needs --snr" in one_error_line(run_cli(*base, "--noise-kind", "pink"))
    assert "needs --noise DIR" in one_error_line(run_cli(*base, "--snr", "10", "--noise-kind", "recorded"))
    assert "not found" in one_error_line(run_cli(*base, "--snr", "10", "--noise", tmp_path / "nope"))
    assert ".png" in one_error_line(run_cli(*base, "--snr", "10", "--plot", tmp_path / "x.jpg"))
    no_espeak = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    err = one_error_line(run_cli(*base, "--snr", "10", "--noise-kind", "babble", env=no_espeak))
    assert "espeak-ng" in err and "apt-get install espeak-ng" in err


@needs_fsdd
def test_eval_in_noise_end_to_end(tmp_path):
    data = fsdd_subset(tmp_path / "data", speakers=("nicolas",), digits=(0, 1, 2, 3), indices=range(0, 5))
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    write_wav(noise_dir / "fan.wav", 0.1 * coloured(3 * RATE, -0.5, np.random.default_rng(6)), RATE)
    plot = tmp_path / "snr.png"
    r = run_cli("eval", "--model", "fsdd-kws", "--data", data, "--snr", "30,-10",
                "--noise-kind", "white,recorded,reverb", "--noise", noise_dir, "--noise-minutes", "0.2",
                "--plot", plot, "--json")
    assert r.returncode == 0, r.stderr
    assert b"noise conditions" in r.stderr  # progress
    result = json.loads(r.stdout)
    rows = {row["condition"]: row for row in result["conditions"]}
    assert list(rows) == ["quiet", "white@30dB", "white@-10dB", "recorded@30dB", "recorded@-10dB", "reverb"]
    assert all(row["keywords"] == 20 for row in rows.values())
    assert rows["quiet"]["detection_rate"] >= 0.8
    for kind in ("white", "recorded"):
        assert rows[f"{kind}@-10dB"]["detection_rate"] < rows[f"{kind}@30dB"]["detection_rate"]
        assert rows[f"{kind}@-10dB"]["noise_dbfs"] == pytest.approx(rows[f"{kind}@30dB"]["noise_dbfs"] + 40, abs=0.2)
        assert rows[f"{kind}@30dB"]["noise_hours"] == pytest.approx(0.2 / 60, abs=1e-4)
    assert "noise_false_accepts_per_hour" not in rows["reverb"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    quiet = run_cli("eval", "--model", "fsdd-kws", "--data", data, "--noise-hours", "0", "--json", "--quiet")
    assert json.loads(quiet.stdout)["stream_detected"] == rows["quiet"]["detected"]  # the same stream as eval's
