"""Onset swaps (--onset-swap WORD:DONOR): a word with the consonant onset of another word by the
same speaker, e.g. a th-stopped "three" made of a "two"'s /t/ burst and a "three"'s vowel."""

from __future__ import annotations

import numpy as np
import pytest

from edge_rnn.kws_data import Utterance, load_utterances
from edge_rnn.onset_swap import onset_swaps, parse_onset_swaps, word_onsets
from edge_rnn.runtime.errors import UserError
from conftest import FSDD, fsdd_subset, needs_fsdd

RATE = 8000


def _word(rng, silence_s, onset_s, voiced_s, f0=140.0) -> np.ndarray:
    """Silence, then a hiss (high-passed noise: a fricative or burst), then a voiced vowel."""
    hiss = np.diff(rng.normal(0, 0.05, int(onset_s * RATE) + 1))
    t = np.arange(int(voiced_s * RATE)) / RATE
    vowel = sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 8))
    silence = rng.normal(0, 1e-4, int(silence_s * RATE))
    return np.concatenate([silence, hiss, vowel]).astype(np.float32)


def test_word_onsets_find_the_consonant_and_the_voicing():
    rng = np.random.default_rng(0)
    start, voiced = word_onsets(_word(rng, 0.10, 0.08, 0.30), RATE)
    assert abs(start - 0.10 * RATE) <= 0.02 * RATE, start
    assert abs(voiced - 0.18 * RATE) <= 0.02 * RATE, voiced
    start, voiced = word_onsets(_word(rng, 0.05, 0.0, 0.30), RATE)  # a word that starts voiced
    assert abs(start - 0.05 * RATE) <= 0.02 * RATE and voiced - start <= 0.02 * RATE


def test_swapped_words_keep_their_vowel_and_take_the_donor_onset():
    rng = np.random.default_rng(1)
    utts = [Utterance("three", "a", i, _word(rng, 0.05, 0.12, 0.3, 120)) for i in range(3)]
    utts += [Utterance("two", "a", i, _word(rng, 0.05, 0.04, 0.3, 120)) for i in range(2)]
    utts += [Utterance("three", "b", 0, _word(rng, 0.05, 0.12, 0.3, 200))]  # b said no "two": passed over
    out = onset_swaps(utts, [("three", "two")], RATE, seed=5)
    assert [(u.word, u.speaker, u.index) for u in out] == [("three", "swap:a:two", i) for i in range(3)]
    for u, src in zip(out, utts[:3]):
        _, voiced = word_onsets(src.audio, RATE)
        tail = src.audio[voiced:]
        assert np.array_equal(u.audio[-tail.size :], tail)  # the three's own vowel, untouched
        onset = u.audio[: u.audio.size - tail.size]
        assert 0.025 * RATE <= onset.size <= 0.06 * RATE  # the two's 40 ms burst, not the three's 120 ms
        assert any(np.array_equal(onset, d.audio[s:v]) for d in utts[3:5] for s, v in [word_onsets(d.audio, RATE)])
    assert [u.index for u in onset_swaps(utts, [("three", "two")], RATE, seed=5)] == [0, 1, 2]
    with pytest.raises(UserError, match="no training speaker said both words"):
        onset_swaps(utts, [("three", "four")], RATE, seed=5)


def test_onset_swap_specs_are_checked():
    assert parse_onset_swaps(["three:two", "3:4"]) == [("three", "two"), ("three", "four")]
    for bad in ["three", "three:", "three:three", "3:three", "a:b:c"]:
        with pytest.raises(UserError, match="WORD:DONOR"):
            parse_onset_swaps([bad])


@needs_fsdd
def test_training_with_onset_swaps_on_real_recordings(tmp_path, capsys):
    from edge_rnn.cli import main

    utts = load_utterances(FSDD, RATE, ["george"])
    threes = [u for u in utts if u.word == "three"]
    out = onset_swaps(utts, [("three", "two")], RATE, seed=0)
    assert len(out) == len(threes) == 50
    onsets = [two.audio[s:v] for two in utts if two.word == "two" for s, v in [word_onsets(two.audio, RATE)]]
    for u, src in zip(out, threes):  # a real "two"'s unvoiced start, then the real "three" from its voicing on
        tail = src.audio[word_onsets(src.audio, RATE)[1] :]
        assert np.array_equal(u.audio[-tail.size :], tail)
        assert any(np.array_equal(u.audio[: u.audio.size - tail.size], o) for o in onsets)
    data = fsdd_subset(tmp_path / "data", digits=(0, 2, 3), indices=range(5, 9))
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,three", "--valid-speaker", "jackson",
            "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "16", "--clip-seconds", "1",
            "--threads", "1", "--out", str(tmp_path / "run"), "--onset-swap", "three:two"]
    assert main(args) == 0
    assert "4 words with a swapped onset (three with the onset of two)" in capsys.readouterr().err
    args[args.index("--out") + 1] = str(tmp_path / "bad")
    assert main(args[:-1] + ["three"]) == 2  # not WORD:DONOR: one line, exit 2
    err = capsys.readouterr().err
    assert "--onset-swap needs WORD:DONOR" in err and err.count("\n") == 1, err
