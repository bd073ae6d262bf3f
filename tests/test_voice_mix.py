"""Voices blended between two recorded speakers (WORLD vocoder), on real recordings."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import FSDD, needs_fsdd

if importlib.util.find_spec("pyworld") is None:  # imported through voice_mix, which mends its import
    pytest.skip("pyworld (pip install 'edge-rnn[voices]') is needed to blend voices", allow_module_level=True)

from edge_rnn.kws_data import load_utterances  # noqa: E402
from edge_rnn.voice_mix import align, analyse, blend, mixed_voices  # noqa: E402


def test_alignment_is_a_monotone_path_from_start_to_end():
    a = np.array([[0.0], [1.0], [2.0], [3.0]])
    b = np.array([[0.0], [0.0], [1.0], [1.0], [2.0], [3.0], [3.0]])
    path = align(a, b)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (3, 6)
    steps = np.diff(path, axis=0)
    assert (steps >= 0).all() and (steps.sum(axis=1) >= 1).all()
    assert all(a[i, 0] == b[j, 0] for i, j in path)  # equal values are matched


@needs_fsdd
def test_a_blend_lies_between_the_two_speakers():
    utts = load_utterances(FSDD, 8000, ["george", "jackson"])
    george = next(u for u in utts if u.word == "seven" and u.speaker == "george")
    jackson = next(u for u in utts if u.word == "seven" and u.speaker == "jackson")
    ga, ja = analyse(george.audio, 8000), analyse(jackson.audio, 8000)
    mixed = blend(ga, ja, 0.5, 8000)
    assert np.isfinite(mixed).all() and np.abs(mixed).max() > 0.01
    lengths = sorted([george.audio.size, jackson.audio.size])
    assert lengths[0] * 0.9 <= mixed.size <= lengths[1] * 1.1
    pitch = lambda f0: np.median(f0[f0 > 0])
    mid = pitch(analyse(mixed, 8000)[0])
    low, high = sorted([pitch(ga[0]), pitch(ja[0])])
    assert low * 0.95 <= mid <= high * 1.05  # the pitch sits between theirs


@needs_fsdd
def test_mixed_voices_blend_two_different_speakers_per_word():
    utts = [u for u in load_utterances(FSDD, 8000, ["george", "jackson", "lucas"]) if u.index < 3]
    out = mixed_voices(utts, 2, 8000, seed=1)
    assert len(out) == 2 * len({u.word for u in utts})
    for u in out:
        a, b = u.speaker.split(":")[1].split("+")
        assert a != b and u.audio.dtype == np.float32 and u.audio.size > 800
    assert [u.audio.size for u in mixed_voices(utts, 2, 8000, seed=1)] == [u.audio.size for u in out]


@needs_fsdd
def test_training_with_mixed_voices_and_time_masks(tmp_path, capsys):
    from conftest import fsdd_subset
    from edge_rnn.checkpoint import load_checkpoint
    from edge_rnn.cli import main

    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson", "lucas"), indices=range(5, 9))
    out = tmp_path / "run"
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "jackson",
            "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "16", "--clip-seconds", "1", "--quiet",
            "--threads", "1", "--out", str(out), "--mixed-voices", "2", "--synthetic-share", "0.5",
            "--time-mask", "5", "--freq-mask", "6"]
    assert main(args) == 0
    assert load_checkpoint(out / "best.pt")["config"].task == "kws"
    # one training speaker left: nobody to blend with, one line and exit 2
    alone = fsdd_subset(tmp_path / "alone", speakers=("george", "jackson"), indices=range(5, 9))
    assert main(args[:2] + ["--data", str(alone)] + args[4:-10] + ["--out", str(tmp_path / "o"),
                                                                   "--mixed-voices", "2"]) == 2
    err = capsys.readouterr().err
    assert "at least two speakers" in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "best.pt").exists()
