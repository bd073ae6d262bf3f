"""`train kws --noise-share/--snr/--reverb/--babble-voices`: clips in loud noise, babble and rooms."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import fsdd_subset, needs_fsdd
from edge_rnn.training.noise import power, speech_power
from edge_rnn.training.noisemix import NoiseMix, shaped

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng): no synthesised words")
RATE = 8000


def words(count: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(RATE // 2) / RATE
    return [(0.2 * np.sin(2 * np.pi * rng.uniform(200, 800) * t) * np.hanning(t.size)).astype(np.float32)
            for _ in range(count)]


def test_words_go_into_noise_at_the_snr_drawn():
    mix = NoiseMix.build(words(), seed=1, share=1.0, snr=(8.0, 8.0), reverb=0.0)
    speech = np.zeros(3 * RATE, np.float32)
    spans = [(RATE, RATE + RATE // 2)]
    speech[spans[0][0] : spans[0][1]] = words(1)[0]
    rng = np.random.default_rng(2)
    for _ in range(5):
        noise = mix.mix(speech, spans, rng, usual=None) - speech
        assert 10 * np.log10(speech_power(speech, spans) / power(noise)) == pytest.approx(8.0, abs=0.01)


def test_clips_without_words_are_noise_at_a_level_drawn():
    mix = NoiseMix.build(words(), seed=1, share=1.0, reverb=0.0)
    rng = np.random.default_rng(3)
    levels = [10 * np.log10(power(mix.mix(np.zeros(RATE, np.float32), [], rng, usual=None))) for _ in range(30)]
    assert -71 <= min(levels) and max(levels) <= -9 and max(levels) - min(levels) > 20


def test_share_and_reverb_choose_the_recipe():
    mix = NoiseMix.build(words(), seed=1, share=0.0, reverb=1.0)
    assert len(mix.rirs) == 300
    click = np.zeros(RATE, np.float32)
    click[100] = 0.5
    out = mix.mix(click, [(100, 101)], np.random.default_rng(4), usual=lambda s, spans: s)
    assert out[100] == pytest.approx(0.5, rel=0.05) and np.abs(out[200:]).max() > 0  # a room's tail, no noise


def _outside_tones(x: np.ndarray) -> float:
    """The share of power outside 150-1000 Hz."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(x.size, 1 / RATE)
    return float(spectrum[(hz < 150) | (hz > 1000)].sum() / spectrum.sum())


def test_noise_weights_choose_the_kinds_drawn():
    rng = np.random.default_rng(6)
    babble_only = NoiseMix.build(words(), seed=1, share=1.0, reverb=0.0, weights={"babble": 1.0, "shaped": 0.0})
    shaped_only = NoiseMix.build(words(), seed=1, share=1.0, reverb=0.0, weights={"shaped": 1.0})
    assert babble_only.kind_weights() == {"babble": 1.0}
    # the babble here is made of tones of 200-800 Hz; shaped noise covers the whole band
    babble = [_outside_tones(babble_only.noise(RATE, rng)) for _ in range(10)]
    shaped = [_outside_tones(shaped_only.noise(RATE, rng)) for _ in range(10)]
    assert max(babble) < 0.05 < 0.3 < min(shaped), (babble, shaped)


def test_default_noise_weights_draw_as_before():
    from edge_rnn.training.noisemix import KIND_WEIGHTS

    default = NoiseMix.build(words(), seed=1, share=1.0, reverb=0.0)
    explicit = NoiseMix.build(words(), seed=1, share=1.0, reverb=0.0, weights=dict(KIND_WEIGHTS))
    assert default.kind_weights() == KIND_WEIGHTS
    for seed in range(8):
        a = default.noise(RATE, np.random.default_rng(seed))
        assert np.array_equal(a, explicit.noise(RATE, np.random.default_rng(seed)))


def test_shaped_noise_spectra_differ():
    rng = np.random.default_rng(5)
    a, b = shaped(RATE, rng), shaped(RATE, rng)
    pa, pb = (np.abs(np.fft.rfft(x)) ** 2 for x in (a, b))
    assert abs(power(a) - 1) < 1e-3 and np.corrcoef(np.log(pa[50:] + 1e-9), np.log(pb[50:] + 1e-9))[0, 1] < 0.99


def test_mistakes_are_one_line(tmp_path, capsys):
    from edge_rnn.cli import main

    base = ["train", "kws", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(base + ["--noise-share", "0.5", "--snr", "5"]) == 2
    assert main(base + ["--noise-share", "0.5", "--snr", "-40,10"]) == 2
    assert main(base + ["--babble-voices", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("--snr needs") == 2 and "give --noise-share too" in err
    for weights in ("babble=x", "fan=1", "babble=-1", "babble=1,babble=2", "babble=0", "babble=1,mixture=1"):
        assert main(base + ["--noise-share", "0.5", "--noise-weights", weights]) == 2
    assert main(base + ["--noise-share", "0.5", "--noise-weights", "recorded=1"]) == 2
    assert main(base + ["--noise-weights", "babble=1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 8 and all(line.startswith("edge-rnn: error: --noise-weights") for line in lines), lines
    assert main(base + ["--negative-words", "fine"]) == 2  # said by the babble voices: none
    assert main(base + ["--noise-share", "0.5", "--babble-voices", "2", "--negative-words", " , "]) == 2
    assert main(base + ["--noise-share", "0.5", "--babble-voices", "2", "--negative-words", "fine,Nine"]) == 2
    err = capsys.readouterr().err
    assert "give --babble-voices too" in err and "needs comma-separated words" in err
    assert "must not be keywords: Nine" in err


@needs_fsdd
@needs_espeak
def test_train_tiny_model_in_noise(tmp_path, capsys):
    from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
    from edge_rnn.cli import main
    from edge_rnn.runtime.kws import KeywordSpotter
    from edge_rnn.runtime.session import Session

    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson"), indices=range(5, 8))
    out = tmp_path / "run"
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "jackson",
            "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "16", "--clip-seconds", "1", "--threads", "1",
            "--noise-share", "0.6", "--snr", "0,10", "--reverb", "0.25", "--babble-voices", "2", "--synthetic-keywords", "2",
            "--noise-weights", "babble=2,shaped=1,mixture=0.5", "--negative-words", "hero,fun,hero",
            "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "60% of clips in loud noise at SNR 0 to 10 dB, 25% in simulated rooms" in err
    assert "espeak-ng words that are no keyword, from 2 voices" in err
    assert "4 keywords said by 2 espeak-ng voices join the training words" in err
    assert "loud noise drawn as babble 2, shaped 1, mixture 0.5" in err
    assert "4 espeak-ng words near the keywords (2 of them, 2 a voice) are unknown speech" in err
    clips = json.loads(load_checkpoint(out / "best.pt")["settings"])["data"]["clips"]
    assert (clips["noise_share"], clips["snr"], clips["reverb"], clips["babble_voices"], clips["synthetic_keywords"]) \
        == (0.6, [0.0, 10.0], 0.25, 2, 2)
    assert clips["noise_weights"] == {"babble": 2.0, "shaped": 1.0, "mixture": 0.5}
    assert clips["negative_words"] == ["hero", "fun"]
    export_checkpoints(out / "best.pt", tmp_path / "m.onnx")
    probs = KeywordSpotter(Session(tmp_path / "m.onnx")).probabilities(np.zeros(RATE, np.float32))
    assert probs.shape[1] == 4 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


@needs_espeak
def test_synthetic_keywords_are_each_keyword_in_each_voice():
    from edge_rnn.training.kws import synthetic_keywords

    said = synthetic_keywords(["zero", "seven"], RATE, 3, seed=4, quiet=True)
    assert sorted(u.word for u in said) == ["seven"] * 3 + ["zero"] * 3
    assert {u.speaker for u in said} == {"espeak-ng"} and all(u.audio.size > RATE // 20 for u in said)
    again = synthetic_keywords(["zero", "seven"], RATE, 3, seed=4, quiet=True)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(said, again))  # the seed decides the voices
    other = synthetic_keywords(["zero", "seven"], RATE, 3, seed=5, quiet=True)
    assert not all(a.audio.size == b.audio.size and np.array_equal(a.audio, b.audio) for a, b in zip(said, other))
