"""Training clips for keyword spotting: synthetic voices (espeak-ng), how clips mix them in, onset cuts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_rnn.kws_data import ClipOptions, Utterance, choose_word, make_clip
from edge_rnn.tts import synthetic_voices, trim
from conftest import FSDD, fsdd_subset, needs_fsdd

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@needs_espeak
def test_synthetic_voices_are_seeded_speech():
    a = synthetic_voices(["seven", "hello"], 2, 8000, seed=3)
    b = synthetic_voices(["seven", "hello"], 2, 8000, seed=3)
    assert [u.word for u in a] == ["seven", "hello", "seven", "hello"]
    assert [u.speaker for u in a] == [u.speaker for u in b]
    for u in a:
        assert u.audio.dtype == np.float32
        assert 0.1 < u.audio.size / 8000 < 1.5  # one word, silence trimmed
        assert np.sqrt(np.mean(u.audio**2)) > 0.01


def test_trim_cuts_silence_only():
    rate = 8000
    tone = np.sin(np.arange(rate // 2) * 0.3).astype(np.float32)
    audio = np.concatenate([np.zeros(rate), tone, np.zeros(rate)])
    out = trim(audio, rate)
    assert tone.size <= out.size <= tone.size + 6 * rate // 100
    assert np.array_equal(trim(np.zeros(0, np.float32), rate), np.zeros(0, np.float32))


def _constant(word: str, value: float) -> Utterance:
    return Utterance(word, "s", 0, np.full(2400, value, np.float32))


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_synthetic_words_come_in_at_the_share(share):
    # recordings hold 0.01, synthetic words 0.5: the value tells where each word came from
    real = {"one": [_constant("one", 0.01)], "two": [_constant("two", 0.01)]}
    fake = {"one": [_constant("one", 0.5)], "hello": [_constant("hello", 0.5)]}
    keyword_ids = {"one": 2, "two": 3}
    rng = np.random.default_rng(0)
    picks = [choose_word(real, keyword_ids, real["one"], rng, ClipOptions(fake, share)) for _ in range(2000)]
    from_synthetic = [label for audio, label in picks if audio[0] == 0.5]
    assert 3 not in from_synthetic  # "two" was never synthesised: always the recording
    ones = [audio[0] == 0.5 for audio, label in picks if label == 2]
    assert abs(np.mean(ones) - share) < 0.05
    unknown = [audio for audio, label in picks if label == 1]
    assert abs(len(unknown) / len(picks) - 0.3) < 0.05
    if share == 1.0:  # every unknown word is then a synthetic filler
        assert all(a[0] == 0.5 for a in unknown)
    if share == 0.0:
        assert not from_synthetic


def test_clips_with_synthetic_words_are_labelled():
    real = {"one": [_constant("one", 0.01)], "two": [_constant("two", 0.01)]}
    fake = {"one": [_constant("one", 0.5)], "hello": [_constant("hello", 0.5)]}
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(30):
        audio, labels = make_clip(real, {"one": 2, "two": 3}, real["one"], 24000, 80, rng, ClipOptions(fake, 0.5))
        assert audio.shape == (24000,) and labels.shape == (300,) and np.abs(audio).max() <= 1.0
        seen.update(np.unique(labels).tolist())
    assert seen == {-100, 0, 1, 2, 3}  # ignored onsets, background, unknown and both keywords


def test_onset_cut_shortens_some_words_from_the_start():
    from edge_rnn.kws_data import augment

    rng = np.random.default_rng(5)
    word = np.sin(np.arange(4000) * 0.2).astype(np.float32)
    shortest = int(4000 / 1.25)  # the fastest speed change alone
    plain = [augment(word, rng).size for _ in range(200)]
    cut = [augment(word, rng, onset_cut=0.9).size for _ in range(200)]
    assert min(plain) >= shortest
    assert 0.25 < np.mean([n < shortest for n in cut]) < 0.5  # half are cut, most of those by > 20%


@pytest.mark.parametrize("rate", [0.75, 1.35])
def test_time_stretch_changes_duration_not_pitch(rate):
    from edge_rnn.kws_data import time_stretch

    t = np.arange(4000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, 20 * t)).astype(np.float32)
    out = time_stretch(tone, rate)
    assert out.size == round(4000 / rate)
    assert abs(np.argmax(np.abs(np.fft.rfft(out))) * 8000 / out.size - 440) < 5  # same pitch
    assert abs(np.sqrt(np.mean(out[800:-800] ** 2)) / np.sqrt(np.mean(tone[800:-800] ** 2)) - 1) < 0.15


def test_tempo_spreads_durations_beyond_speed_changes():
    from edge_rnn.kws_data import augment

    rng = np.random.default_rng(6)
    word = np.sin(np.arange(4000) * 0.2).astype(np.float32)
    plain = [augment(word, rng).size for _ in range(300)]
    tempo = [augment(word, rng, tempo=0.35).size for _ in range(300)]
    fastest = 4000 / 1.25  # speed changes alone never go shorter (reverberation only lengthens)
    assert min(plain) >= fastest - 1
    assert sum(n < fastest / 1.15 for n in tempo) >= 3


@needs_fsdd
def test_synthetic_voices_without_espeak_is_one_line_exit_2(tmp_path):
    # a PATH with python but no espeak-ng: training must stop with one clear line
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir)}
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", "train", "kws", "--data", str(FSDD), "--out",
                        str(tmp_path / "out"), "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "4",
                        "--synthetic-voices", "2", "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "espeak-ng" in r.stderr
    assert not (tmp_path / "out" / "best.pt").exists()


@needs_fsdd
def test_extra_words_train_at_any_rate_and_never_the_held_out_voice(tmp_path, capsys):
    from edge_rnn.checkpoint import load_checkpoint
    from edge_rnn.cli import main
    from edge_rnn.kws_data import load_utterances
    from edge_rnn.runtime.audio import to_mono_at
    from edge_rnn.kws_train import load_extra_words
    from wavs import write_wav

    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson"), indices=range(5, 9))
    # lucas's words at 16 kHz under another name: a source the recordings folder does not have
    extra = tmp_path / "extra"
    extra.mkdir()
    lucas = load_utterances(FSDD, 8000, ["lucas"])
    lucas = [u for u in lucas if u.index < 2 and u.word in ("zero", "one", "two")]
    for u in lucas:
        write_wav(extra / f"{u.word}_other_{u.index}.wav", to_mono_at(u.audio, 8000, 16000), 16000)
    got = load_extra_words(extra, 8000, "jackson")
    assert len(got) == len(lucas) == 6 and {u.speaker for u in got} == {"other"}
    assert sorted(u.word for u in got) == sorted(u.word for u in lucas)  # "two": unknown speech, kept
    for a, b in zip(sorted(got, key=lambda u: (u.word, u.index)), sorted(lucas, key=lambda u: (u.word, u.index))):
        assert abs(a.audio.size - b.audio.size) <= 2  # read back at the model's rate
    out = tmp_path / "run"
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "jackson",
            "--hidden", "8", "--epochs", "1", "--clips-per-epoch", "16", "--clip-seconds", "1",
            "--threads", "1", "--out", str(out), "--synthetic-share", "0.5", "--extra-words", str(extra)]
    assert main(args) == 0
    assert "6 words from 1 speaker in" in capsys.readouterr().err
    assert load_checkpoint(out / "best.pt")["config"].task == "kws"
    # the held-out voice among the extra words would leak it into training: one line, exit 2
    (extra / "zero_jackson_99.wav").symlink_to(FSDD / "0_jackson_40.wav")
    args[args.index("--out") + 1] = str(tmp_path / "leak")
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert "held-out speaker 'jackson'" in err and err.count("\n") == 1, err
    assert not (tmp_path / "leak" / "best.pt").exists()


@needs_fsdd
def test_valid_speaker_none_trains_on_every_speaker_and_keeps_the_last_epoch(tmp_path, capsys):
    import json

    import torch

    from edge_rnn.checkpoint import load_checkpoint
    from edge_rnn.cli import main

    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson"), indices=range(5, 8))
    out = tmp_path / "run"
    # patience 1 would stop a run with a held-out voice as soon as it stalls; here every epoch is kept
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "none",
            "--hidden", "8", "--epochs", "3", "--patience", "1", "--clips-per-epoch", "16",
            "--clip-seconds", "1", "--threads", "1", "--out", str(out), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "18 training recordings from every speaker, none held out" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["epoch"] == 3
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert best["valid_speaker"] is None
    assert json.loads(best["train"])["epoch"] == 3
    for name, tensor in best["model"].items():
        assert torch.equal(tensor, last["model"][name]), name
    assert best["train_speakers"] == ["george", "jackson"]
    # the exported model says whom it heard, so eval can flag figures that are not held-out
    from edge_rnn.export.pipeline import export_checkpoint
    from edge_rnn.runtime.session import Session

    export_checkpoint(out / "best.pt", tmp_path / "all.onnx")
    assert Session(tmp_path / "all.onnx").contract.train_speakers == ["george", "jackson"]


def test_band_limit_cuts_the_top_band_only():
    from edge_rnn.kws_data import augment, band_limit

    rate = 8000
    x = np.random.default_rng(0).normal(0, 0.1, rate)
    hz = np.fft.rfftfreq(x.size, 1 / rate)
    power = lambda a: np.abs(np.fft.rfft(a)) ** 2
    for seed in range(20):
        y = band_limit(x, np.random.default_rng(seed), rate)
        ratio = 10 * np.log10(power(y) / power(x))
        cutoff = hz[np.argmax(ratio < -0.01)]  # the first bin it touches
        assert 1600 <= cutoff <= 3400, cutoff
        assert np.all(np.abs(ratio[hz < cutoff]) < 0.01)
        assert np.all(ratio[hz >= cutoff + 200] < -24)  # 25-45 dB down past the slope
    # in augment, only the chosen share of words is cut: the same word and seed, with and without
    word = x[:4000].astype(np.float32)

    def top_share(a):
        p = power(a)
        f = np.fft.rfftfreq(a.size, 1 / rate)
        return p[f > 3400].sum() / p[f < 1600].sum()

    cut = [top_share(augment(word, np.random.default_rng(s), band_limit_share=1.0)) for s in range(10)]
    kept = [top_share(augment(word, np.random.default_rng(s), band_limit_share=0.0)) for s in range(10)]
    assert all(c < k / 100 for c, k in zip(cut, kept))
