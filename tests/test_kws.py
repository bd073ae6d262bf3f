"""Keyword spotting end to end on real recordings with tiny models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edge_rnn.checkpoint import export_checkpoints
from edge_rnn.config import KWSConfig
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.labels import keyword_labels as make_labels
from edge_rnn.runtime.detector import Detector, DetectorConfig
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session

from conftest import FSDD, fsdd_subset, needs_fsdd
from wavs import write_wav


DEMO_WAV = Path(__file__).resolve().parents[1] / "docs" / "digits.wav"


def tiny_config(cell="gru") -> KWSConfig:
    return KWSConfig(cell=cell, hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16)


def test_front_end_is_chunk_invariant():
    torch.manual_seed(0)
    model = KeywordNet(tiny_config())
    audio = torch.rand(2, 80 * 30) - 0.5
    whole, _ = model.frontend(audio, torch.zeros(2, 120))
    ctx, parts = torch.zeros(2, 120), []
    for a, b in [(0, 80), (80, 400), (400, 2400)]:
        f, ctx = model.frontend(audio[:, a:b], ctx)
        parts.append(f)
    torch.testing.assert_close(torch.cat(parts, 1), whole, atol=1e-4, rtol=1e-4)
    assert whole.shape == (2, 30, 16)


def exported_whole_equals_chunked(tmp_path, model, config, cuts: list[int]) -> list[np.ndarray]:
    """Export fp32 and int8 with parity; the fp32 model's scores over noise are the same whole or
    cut at `cuts` (sample offsets, the last one the length). Returns the final state."""
    from edge_rnn.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "c.pt", model, config)
    assert export_checkpoints(tmp_path / "c.pt", tmp_path / "c.onnx", "fp32")["parity_max_abs_diff"] <= 1e-4
    assert export_checkpoints(tmp_path / "c.pt", tmp_path / "q.onnx", "int8")["parity_max_abs_diff"] <= 1e-3
    session = Session(tmp_path / "c.onnx")
    audio = (np.random.default_rng(0).random((1, cuts[-1]), dtype=np.float32) - 0.5) * 0.3
    whole, _ = session.run(audio, session.zero_state())
    state, parts = session.zero_state(), []
    for a, b in zip([0] + cuts[:-1], cuts):
        out, state = session.run(audio[:, a:b], state)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, atol=1e-5)
    return state


def test_exported_scores_do_not_depend_on_chunking(tmp_path):
    torch.manual_seed(0)
    config = tiny_config("lstm")
    state = exported_whole_equals_chunked(tmp_path, KeywordNet(config).eval(), config, [80, 400, 4800])
    assert [s.shape for s in state] == [(1, 120), (1, 12), (1, 12), (1, 8), (1, 8)]


def _save_untrained(tmp_path, cell):
    from edge_rnn.checkpoint import save_checkpoint

    torch.manual_seed(1)
    config = tiny_config(cell)
    path = tmp_path / f"{cell}.pt"
    save_checkpoint(path, KeywordNet(config), config, detector={"threshold": 0.5})
    return path


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_export_parity_and_int8_each_cell(cell, tmp_path):
    ckpt = _save_untrained(tmp_path, cell)
    fp32 = export_checkpoints(ckpt, tmp_path / "f.onnx", "fp32")
    assert fp32["parity_max_abs_diff"] <= 1e-4
    export_checkpoints(ckpt, tmp_path / "q.onnx", "int8")
    model = onnx.load(str(tmp_path / "q.onnx"))
    ops = {n.op_type for n in model.graph.node}
    # every cell's W and R, the classifier and the DFT kernel stored as int8, dequantized in front
    # of the op; no dynamic (per-call) activation quantization, so chunking cannot change a score
    int8 = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and "_int8" in t.name}
    assert len(int8) == 6 and any(n.endswith("frontend.basis_int8") for n in int8)  # W, R x 2, classifier, DFT
    assert not any("Dynamic" in op or "Integer" in op for op in ops), ops
    mel = [t for t in model.graph.initializer if list(t.dims) == [101, 16]]  # the mel filters stay float
    assert len(mel) == 1 and mel[0].data_type == onnx.TensorProto.FLOAT
    audio = (np.random.default_rng(0).random((1, 8000), dtype=np.float32) - 0.5) * 0.3
    a, _ = Session(tmp_path / "f.onnx").run(audio, Session(tmp_path / "f.onnx").zero_state())
    b, _ = Session(tmp_path / "q.onnx").run(audio, Session(tmp_path / "q.onnx").zero_state())
    assert a.shape == (1, 100, 4) and np.abs(a - b).max() < 0.05


def test_detector_smoothing_threshold_refractory():
    labels = make_labels(["zero", "one"])
    first_crossing = dict(smooth_frames=2, threshold=0.5, refractory_s=0.05, decision_s=0.01)
    det = Detector(labels, 0.01, DetectorConfig(**first_crossing))
    probs = np.zeros((20, 4), np.float32)
    probs[:, 0] = 1.0
    probs[3:6] = [0, 0, 1.0, 0]  # "zero" for 3 frames
    probs[12:14] = [0, 0, 0, 1.0]  # "one" for 2 frames
    events = det.update(probs[:8]) + det.update(probs[8:])
    assert [(e["keyword"], e["frame"]) for e in events] == [("zero", 3), ("one", 12)]
    assert events[0]["time"] == 0.04 and events[0]["score"] == 0.5
    per_keyword = dict(first_crossing, threshold={"zero": 0.9, "one": 0.5}, refractory_s=0)
    # smoothed "zero" reaches 0.9 only a frame later; with no refractory period every frame over fires
    assert [e["frame"] for e in Detector(labels, 0.01, DetectorConfig(**per_keyword)).update(probs)] == [4, 5, 12, 13, 14]


def test_decision_window_picks_the_best_keyword():
    labels = make_labels(["six", "seven"])
    probs = np.zeros((60, 4), np.float32)
    probs[:, 0] = 1.0
    probs[10:14] = [0, 0, 0.3, 0.7]  # a passing "seven" crosses first ...
    probs[14:30] = [0, 0, 0.95, 0.05]  # ... but the word is "six"
    config = DetectorConfig(smooth_frames=1, threshold=0.6, refractory_s=0.3, decision_s=0.1)
    whole = Detector(labels, 0.01, config).update(probs)
    assert [(e["keyword"], e["frame"]) for e in whole] == [("six", 14)]
    pieces = Detector(labels, 0.01, config)
    assert [e for cut in np.array_split(probs, 7) for e in pieces.update(cut)] == whole


@needs_fsdd
def test_tiny_model_learns_on_real_recordings(kws_checkpoint):
    history = json.loads((kws_checkpoint.parent / "metrics.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def _digits_wav(tmp_path) -> tuple:
    parts = []
    for name in ["0_jackson_20", "1_jackson_21", "0_jackson_22", "1_jackson_23"]:
        parts += [np.zeros(3000, np.float32), read_wav(FSDD / f"{name}.wav", 8000)]
    audio = np.concatenate(parts + [np.zeros(8000, np.float32)])
    return write_wav(tmp_path / "digits.wav", audio, 8000), audio


@needs_fsdd
@pytest.mark.parametrize("model", ["kws_onnx", "kws_int8"])
def test_events_do_not_depend_on_chunking(tmp_path, model, request):
    _, audio = _digits_wav(tmp_path)
    session = Session(request.getfixturevalue(model))
    results = []
    for chunk in (1, 80, 296, 8000):  # one sample, 10 ms, 37 ms, 1 s
        spotter = KeywordSpotter(session, threshold=0.3, smooth_frames=4)
        events = []
        for start in range(0, audio.size, chunk):
            events += spotter.process(audio[start : start + chunk])
        results.append(events)
    assert results[0], "the tiny model should fire at threshold 0.3"
    for other in results[1:]:
        assert [(e["keyword"], e["time"]) for e in other] == [(e["keyword"], e["time"]) for e in results[0]]
        assert np.allclose([e["score"] for e in other], [e["score"] for e in results[0]], atol=1e-5)


def test_a_word_at_the_very_end_of_the_input_is_reported(tmp_path):
    """The demo recording cut right after its last word ("six"): when the audio stops, the
    detector has not decided it yet. finish() follows the input with silence, reports it and
    starts a new stream; `edge-rnn stream` calls it at the end of a file or a pipe."""
    from edge_rnn.runtime.bundled import bundled_path

    audio = read_wav(DEMO_WAV, 8000)[: int(10.31 * 8000)]
    spotter = KeywordSpotter(bundled_path("fsdd-kws"))
    events = [e for a in range(0, audio.size, 800) for e in spotter.process(audio[a : a + 800])]
    assert [e["keyword"] for e in events] == ["three", "one", "four", "one", "five", "nine", "two"]
    pending, tail = spotter._pending.size, spotter.finish_samples()
    assert (pending + tail) % spotter.hop == 0 and tail >= 1.84 * 8000 - spotter.hop  # 1 s + decision + smoothing
    last = spotter.finish()
    assert [e["keyword"] for e in last] == ["six"] and 10.0 < last[0]["time"] < 11.0
    assert spotter.detector.frame == 0 and spotter._pending.size == 0  # a new stream
    again = [e for a in range(0, audio.size, 800) for e in spotter.process(audio[a : a + 800])]
    assert again == events and spotter.process(np.zeros(tail, np.float32)) == last
    # the command line, from a file and from a pipe
    wav = write_wav(tmp_path / "cut.wav", audio, 8000)
    cmd = [sys.executable, "-m", "edge_rnn.cli", "stream", "--model", "fsdd-kws", "--json", "--input"]
    for r in (subprocess.run(cmd + [str(wav)], capture_output=True, timeout=120),
              subprocess.run(cmd + ["-"], input=wav.read_bytes(), capture_output=True, timeout=120)):
        assert r.returncode == 0, r.stderr
        assert [json.loads(line)["keyword"] for line in r.stdout.decode().splitlines()][-2:] == ["two", "six"]


@needs_fsdd
def test_streams_share_a_session(kws_onnx):
    session = Session(kws_onnx)
    a, b = KeywordSpotter(session), KeywordSpotter(session)
    x = read_wav(FSDD / "0_jackson_20.wav", 8000)
    pa = a.probabilities(x)
    b.probabilities(np.random.default_rng(0).random(4000, dtype=np.float32) - 0.5)
    b.reset()
    np.testing.assert_allclose(b.probabilities(x), pa, atol=1e-6)


@needs_fsdd
def test_stream_cli_wav_and_raw_stdin_agree(tmp_path, kws_onnx):
    wav, audio = _digits_wav(tmp_path)
    cmd = [sys.executable, "-m", "edge_rnn.cli", "stream", "--model", str(kws_onnx), "--json"]
    from_wav = subprocess.run(cmd + ["--input", str(wav), "--chunk-ms", "37"], capture_output=True, timeout=120)
    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    from_pipe = subprocess.run(cmd + ["--input", "-"], input=pcm, capture_output=True, timeout=120)
    assert from_wav.returncode == 0 and from_pipe.returncode == 0, from_wav.stderr + from_pipe.stderr
    ev_wav = [json.loads(l) for l in from_wav.stdout.decode().splitlines()]
    ev_pipe = [json.loads(l) for l in from_pipe.stdout.decode().splitlines()]
    assert all({"keyword", "time", "score"} <= set(e) for e in ev_wav)
    assert [(e["keyword"], e["time"]) for e in ev_wav] == [(e["keyword"], e["time"]) for e in ev_pipe]


@needs_fsdd
def test_eval_cli_reports_and_plots(tmp_path, kws_onnx):
    # jackson was held out of the model's training, george trained it
    data = fsdd_subset(tmp_path / "data", speakers=("jackson", "george"), digits=(0, 1, 5), indices=range(0, 2))
    plot = tmp_path / "det.png"
    r = subprocess.run([sys.executable, "-m", "edge_rnn.cli", "eval", "--model", str(kws_onnx), "--data", str(data),
                        "--noise-hours", "0.02", "--plot", str(plot), "--json"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["utterances"] == 12 and set(out["per_speaker_accuracy"]) == {"jackson", "george"}
    assert set(out["per_class_accuracy"]) == {"zero", "one", "_unknown_"}  # five is no keyword here
    assert out["stream_keyword_utterances"] == 8 and "noise_false_accepts_per_hour" in out
    assert out["speakers_heard_in_training"] == ["george"]
    assert "was trained on george: those figures are not held-out" in r.stderr.decode()
    assert Session(kws_onnx).contract.train_speakers == ["george"]
    assert plot.read_bytes()[:4] == b"\x89PNG" and len(out["det_curve"]) > 5


@needs_fsdd
def test_spotter_runs_long_chunks_in_pieces(kws_onnx, monkeypatch):
    """A long chunk goes to the model in pieces of at most MAX_CALL_FRAMES frames, with the same
    probabilities as short chunks (memory stays bounded whatever a caller passes)."""
    import edge_rnn.runtime.kws as kws

    session = Session(kws_onnx)
    audio = np.concatenate([read_wav(FSDD / f"{d}_jackson_3.wav", 8000) for d in range(4)])
    short = KeywordSpotter(session)
    expected = np.concatenate([short.probabilities(audio[a : a + 800]) for a in range(0, audio.size, 800)])
    monkeypatch.setattr(kws, "MAX_CALL_FRAMES", 7)
    calls = []
    step = kws.Stream.step
    monkeypatch.setattr(kws.Stream, "step", lambda self, x: calls.append(x.shape[1]) or step(self, x))
    np.testing.assert_allclose(KeywordSpotter(session).probabilities(audio), expected, atol=1e-5)
    assert max(calls) == 7 * 80 and sum(calls) == expected.shape[0] * 80


@needs_fsdd
def test_int16_and_float_chunks_give_the_same_scores(kws_onnx):
    session = Session(kws_onnx)
    pcm = np.round(read_wav(FSDD / "0_jackson_20.wav", 8000) * 32767).astype(np.int16)
    as_int = KeywordSpotter(session).probabilities(pcm)
    as_float = KeywordSpotter(session).probabilities(pcm.astype(np.float32) / 32768.0)
    assert as_int.shape[0] == pcm.size // 80
    np.testing.assert_allclose(as_int, as_float, atol=1e-6)


def test_detector_config_refuses_what_it_cannot_use():
    from edge_rnn.runtime.errors import UserError

    assert DetectorConfig.from_dict({}) == DetectorConfig()
    assert DetectorConfig.from_dict({"threshold": {"zero": 0.2, "default": 0.5}}).thresholds(["zero", "one"]).tolist() \
        == pytest.approx([0.2, 0.5])
    for bad in ({"threshold": "high"}, {"threshold": 1.5}, {"threshold": {"zero": None}}, {"smooth_frames": 2.5},
                {"smooth_frames": 0}, {"refractory_s": -1}, {"decision_s": float("nan")}, {"thresh": 0.5}, [0.5]):
        with pytest.raises(UserError):
            DetectorConfig.from_dict(bad)
    with pytest.raises(UserError):
        DetectorConfig.from_dict({}, threshold=-0.1)  # an override is checked too


def test_eval_stream_with_digital_silence_keeps_its_order_and_gaps():
    """`build_stream(..., digital_silence=True)`: the same words, order and gaps as `edge-rnn
    eval`'s stream, with exact zeros in the gaps instead of faint noise."""
    from edge_rnn.evaluation.kws import build_stream
    from edge_rnn.training.utterances import Utterance

    utts = [Utterance(w, "a", i, np.full(800 + 80 * i, 0.1, np.float32)) for i, w in enumerate(["zero", "one"] * 3)]
    noisy, truth = build_stream(utts, 8000, np.random.default_rng(1))
    silent, same = build_stream(utts, 8000, np.random.default_rng(1), digital_silence=True)
    assert same == truth and silent.size == noisy.size
    words = np.zeros(noisy.size, bool)
    for start, end, _ in truth:
        words[round(start * 8000) : round(end * 8000)] = True
    np.testing.assert_array_equal(silent[words], noisy[words])
    assert not silent[~words].any() and noisy[~words].any()
