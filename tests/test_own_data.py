"""Keyword spotters trained on one's own data: the same recordings in every layout train the same
model; any words present can be keywords; the exported model streams; bad data is one report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.cli import main
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session

from conftest import FSDD, fsdd_subset, needs_fsdd
from layouts import csv_manifest, fsdd_files, jsonl_manifest, speech_commands, wav16

SPEAKERS, DIGITS_USED, INDICES = ("george", "jackson"), (0, 1, 2), range(5, 11)
TINY = ["--keywords", "zero,one", "--hidden", "8", "--epochs", "2", "--clips-per-epoch", "24", "--batch-size", "8",
        "--clip-seconds", "1", "--threads", "1", "--quiet"]


def _train(data, out, extra=()) -> dict:
    assert main(["train", "kws", "--data", str(data), "--out", str(out), *TINY, *extra]) == 0
    return load_checkpoint(out / "last.pt")


@needs_fsdd
def test_every_layout_trains_the_same_model(tmp_path):
    files = fsdd_files(SPEAKERS, DIGITS_USED, INDICES)
    layouts = {"fsdd": (fsdd_subset(tmp_path / "fsdd", SPEAKERS, DIGITS_USED, INDICES), ["--valid-speaker", "jackson"]),
               # validation_list.txt holds jackson's recordings: --valid-speaker auto takes it
               "speech commands": (speech_commands(tmp_path / "sc", files, valid=("jackson",)), []),
               "csv": (csv_manifest(tmp_path / "csv", files), ["--valid-speaker", "jackson"]),
               "jsonl, start/end": (jsonl_manifest(tmp_path / "jsonl", files), ["--valid-speaker", "jackson"])}
    runs = {name: _train(data, tmp_path / f"run-{i}", extra) for i, (name, (data, extra)) in enumerate(layouts.items())}
    reference = runs.pop("fsdd")
    metrics = lambda run: [{k: v for k, v in row.items() if k not in ("seconds", "clips_per_s")}
                           for row in json.loads(run["train"])["history"]]
    assert metrics(reference)[-1]["train_loss"] < metrics(reference)[0]["train_loss"] + 0.5  # it trained
    for name, run in runs.items():
        for key, tensor in reference["model"].items():
            assert torch.equal(tensor, run["model"][key]), (name, key)
        assert metrics(run) == metrics(reference), name
        assert run["train_speakers"] == ["george"] and run["valid_speakers"] == ["jackson"], name


@needs_fsdd
def test_own_keywords_with_the_speech_embedding_export_and_stream(tmp_path):
    names = {"zero": "yes", "one": "no", "two": "stop"}
    files = fsdd_files(SPEAKERS, DIGITS_USED, range(5, 9))
    data = speech_commands(tmp_path / "sc", files, valid=("jackson",), names=names)
    (tmp_path / "sc" / "_background_noise_").mkdir()
    wav16(tmp_path / "sc" / "_background_noise_" / "hum.wav",
          (np.sin(np.arange(16000) * 0.3) * 3000).astype("<i2").tobytes(), 16000)  # another rate: resampled
    out = tmp_path / "run"
    args = ["train", "kws", "--data", str(data), "--out", str(out), "--keywords", "no,yes", "--front-end",
            "speech-embedding", "--hidden", "16", "--epochs", "1", "--clips-per-epoch", "16", "--batch-size", "8",
            "--clip-seconds", "2", "--threads", "1"]
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "per label: no 8, stop 8, yes 8" in r.stderr and "2 speakers: george 12, jackson 12" in r.stderr
    assert "background: 1 recordings" in r.stderr and "(the data's validation list, 1 speaker)" in r.stderr
    report = export_checkpoints(out / "best.pt", tmp_path / "k.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    contract = Session(tmp_path / "k.onnx").contract
    assert contract.labels == ["_background_", "_unknown_", "no", "yes"] and contract.train_speakers == ["george"]
    assert 0 < contract.detector["threshold"] < 1
    audio = np.concatenate([read_wav(FSDD / f"{d}_jackson_3.wav", 8000) for d in (0, 1, 2)])
    spotter = KeywordSpotter(Session(tmp_path / "k.onnx"))
    whole = spotter.probabilities(audio)
    spotter.reset()
    pieces = np.concatenate([spotter.probabilities(audio[a : a + 333]) for a in range(0, audio.size, 333)])
    assert whole.shape == (audio.size // 640, 4)
    np.testing.assert_allclose(pieces[: whole.shape[0]], whole, atol=1e-5)
    # eval reads the same layout, and its validation split
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", "eval", "--model", str(tmp_path / "k.onnx"), "--data",
                        str(data), "--split", "valid", "--noise-hours", "0.01", "--json", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["utterances"] == 12 and set(result["per_speaker_accuracy"]) == {"jackson"}
    assert set(result["per_class_accuracy"]) == {"yes", "no", "_unknown_"} and result["stream_keyword_utterances"] == 8


def _bad_manifest(tmp_path):
    (tmp_path / "not.wav").write_text("hello", encoding="utf-8")
    good = fsdd_subset(tmp_path / "ok", ("george",), (0,), range(5, 7))
    lines = [{"path": "ok/0_george_5.wav", "label": "zero", "speaker": "george"},
             {"path": "missing.wav", "label": "zero"},
             {"path": "not.wav", "label": "one"},
             {"path": "ok/0_george_6.wav", "label": " "},
             {"path": "ok/0_george_6.wav", "label": "zero", "start": 9.0},
             {"path": "ok/0_george_6.wav", "label": "zero", "start": 0.2, "end": 0.1},
             {"path": "ok/0_george_6.wav", "label": "zero", "split": "later"}]
    text = "".join(json.dumps(line) + "\n" for line in lines) + "{not json\n"
    (tmp_path / "m.jsonl").write_text(text, encoding="utf-8")
    return tmp_path / "m.jsonl", good


@needs_fsdd
def test_bad_data_is_one_report_exit_2_and_nothing_written(tmp_path):
    manifest, _ = _bad_manifest(tmp_path)
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", "train", "kws", "--data", str(manifest),
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"edge-rnn: error: 7 bad entries in {manifest}; fix or remove them and run again:"
    for expected in ["m.jsonl line 2 (missing.wav): audio file not found", "m.jsonl line 3 (not.wav):",
                     "not a WAV file", "m.jsonl line 4: empty label", "m.jsonl line 5 (ok/0_george_6.wav): start 9 s "
                     "is past the end", "m.jsonl line 6: end 0.1 s is not after start 0.2 s",
                     "m.jsonl line 7: split 'later' is not train, valid or test", "m.jsonl line 8: not a JSON object"]:
        assert expected in r.stderr, expected
    assert not out.exists()


@needs_fsdd
def test_speech_commands_folder_with_a_broken_file_and_unknown_keywords(tmp_path, capsys):
    files = fsdd_files(("george",), (0, 1), range(5, 7))
    data = speech_commands(tmp_path / "sc", files)
    (data / "one" / "lucas_nohash_0.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    out = tmp_path / "run"
    assert main(["train", "kws", "--data", str(data), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1 bad entry in" in err and "lucas_nohash_0.wav has no format chunk" in err
    (data / "one" / "lucas_nohash_0.wav").unlink()
    assert main(["train", "kws", "--data", str(data), "--out", str(out), "--keywords", "yes", "--quiet"]) == 2
    assert f"no recordings of keyword(s) yes in {data}; its labels: one, zero" in capsys.readouterr().err
    assert main(["train", "kws", "--data", str(data), "--out", str(out), "--keywords", "zero", "--quiet"]) == 2
    assert "holding out george for validation leaves no one" in capsys.readouterr().err  # auto: the only speaker
    assert not out.exists()


def test_layout_detection_refuses_what_it_cannot_read(tmp_path):
    from edge_rnn.training.datasets import detect, scan

    with pytest.raises(UserError, match="no recordings in"):
        detect(tmp_path)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="not a manifest"):
        detect(tmp_path / "notes.txt")
    (tmp_path / "yes").mkdir()
    wav16(tmp_path / "yes" / "a_nohash_0.wav", b"\x00\x01" * 100)
    assert detect(tmp_path) == "folders"
    wav16(tmp_path / "0_a_1.wav", b"\x00\x01" * 100)
    with pytest.raises(UserError, match="both WAV files and word folders"):
        detect(tmp_path)
    (tmp_path / "m.csv").write_text("file,word\nx.wav,yes\n", encoding="utf-8")
    with pytest.raises(UserError, match="columns path and label"):
        scan(tmp_path / "m.csv")
    (tmp_path / "n.csv").write_text("Path,Label,Speaker\n0_a_1.wav,7,a\n", encoding="utf-8")
    entry = scan(tmp_path / "n.csv").entries[0]
    assert (entry.word, entry.speaker, entry.path) == ("seven", "a", tmp_path / "0_a_1.wav")


def test_noise_folder_becomes_background_of_training_clips(tmp_path):
    from edge_rnn.training.noise import background_track
    from edge_rnn.training.utterances import load_recordings

    data = tmp_path / "data"
    data.mkdir()
    wav16(data / "yes_a_0.wav", (np.sin(np.arange(4000) * 0.5) * 8000).astype("<i2").tobytes())
    noise = tmp_path / "noise" / "kitchen"
    noise.mkdir(parents=True)
    t = np.arange(22050 * 2) / 22050
    wav16(noise / "fridge.wav", (np.sin(2 * np.pi * 1000 * t) * 10000).astype("<i2").tobytes(), 22050)
    recs = load_recordings(data, 8000, noise=tmp_path / "noise", quiet=True)
    assert len(recs.background) == 1 and abs(recs.background[0].size - 16000) <= 2  # resampled to 8 kHz
    assert recs.summary()["background_hours"] == pytest.approx(2 / 3600, abs=1e-4)
    spectrum = lambda x: np.abs(np.fft.rfft(x))
    tonal = 0
    for seed in range(20):
        with_noise = background_track(8000, 0.1, np.random.default_rng(seed), 8000, recs.background)
        plain = background_track(8000, 0.1, np.random.default_rng(seed), 8000)
        s = spectrum(with_noise)
        tonal += s[1000] > 20 * np.median(s)  # 1 kHz at 1 Hz a bin: the fridge is in it
        assert np.isfinite(with_noise).all() and plain.shape == with_noise.shape
    assert 5 <= tonal <= 19  # about half the stretches come from the recording
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no WAV files in the --noise folder"):
        load_recordings(data, 8000, noise=tmp_path / "empty", quiet=True)


@needs_fsdd
def test_a_data_set_too_large_to_keep_is_read_at_each_use(tmp_path, monkeypatch):
    import edge_rnn.training.utterances as utterances

    data = fsdd_subset(tmp_path / "d", ("george",), (0, 3), range(5, 8))
    kept = utterances.load_recordings(data, 16000, quiet=True).utterances
    monkeypatch.setattr(utterances, "KEEP_BYTES", 0)
    read = utterances.load_recordings(data, 16000, quiet=True).utterances
    assert all(u.keep for u in kept) and not any(u.keep for u in read)
    files = [f"{d}_george_{i}.wav" for d in (3, 0) for i in (5, 6, 7)]  # sorted: three, then zero
    for a, b, name in zip(kept, read, files, strict=True):
        assert (a.word, a.speaker) == (b.word, b.speaker) == ({"3": "three", "0": "zero"}[name[0]], "george")
        np.testing.assert_array_equal(a.audio, read_wav(FSDD / name, 16000))
        np.testing.assert_array_equal(b.audio, a.audio)
        assert b.seconds == pytest.approx(b.audio.size / 16000, abs=1e-3)
