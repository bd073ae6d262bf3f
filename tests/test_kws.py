"""Keyword spotting end to end on real recordings with tiny models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from edge_rnn.config import ModelConfig
from edge_rnn.export.pipeline import export_checkpoint
from edge_rnn.kws_data import make_labels
from edge_rnn.kws_model import KeywordSpotter as TorchSpotter
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.kws import Detector, DetectorConfig, KeywordSpotter
from edge_rnn.runtime.session import Session

from conftest import FSDD, fsdd_subset, needs_fsdd
from wavs import write_wav


def tiny_config(cell="gru", cepstra=0) -> ModelConfig:
    return ModelConfig(task="kws", cell=cell, hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16,
                       n_cepstra=cepstra)


@pytest.mark.parametrize("cepstra", [0, 10])
def test_front_end_is_chunk_invariant(cepstra):
    torch.manual_seed(0)
    model = TorchSpotter(tiny_config(cepstra=cepstra))
    audio = torch.rand(2, 80 * 30) - 0.5
    whole, _ = model.frontend(audio, torch.zeros(2, 120))
    ctx, parts = torch.zeros(2, 120), []
    for a, b in [(0, 80), (80, 400), (400, 2400)]:
        f, ctx = model.frontend(audio[:, a:b], ctx)
        parts.append(f)
    torch.testing.assert_close(torch.cat(parts, 1), whole, atol=1e-4, rtol=1e-4)
    assert whole.shape == (2, 30, cepstra or 16)


def exported_whole_equals_chunked(tmp_path, model, config, cuts: list[int]) -> list[np.ndarray]:
    """Export fp32 and int8 with parity; the fp32 model's scores over noise are the same whole or
    cut at `cuts` (sample offsets, the last one the length). Returns the final state."""
    from edge_rnn.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "c.pt", model, config)
    assert export_checkpoint(tmp_path / "c.pt", tmp_path / "c.onnx", "fp32")["parity_max_abs_diff"] <= 1e-4
    assert export_checkpoint(tmp_path / "c.pt", tmp_path / "q.onnx", "int8")["parity_max_abs_diff"] <= 1e-3
    session = Session(tmp_path / "c.onnx")
    audio = (np.random.default_rng(0).random((1, cuts[-1]), dtype=np.float32) - 0.5) * 0.3
    whole, _ = session.run(audio, session.zero_state())
    state, parts = session.zero_state(), []
    for a, b in zip([0] + cuts[:-1], cuts):
        out, state = session.run(audio[:, a:b], state)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, atol=1e-5)
    return state


def test_crnn_convolution_sees_earlier_frames_through_the_context(tmp_path):
    """The convolution looks 4 frames back; those frames' audio rides in the context state, so the
    exported model gives the same scores whole or in chunks, and a click still shows 4 frames on."""
    from edge_rnn.checkpoint import save_checkpoint

    torch.manual_seed(0)
    config = ModelConfig(task="kws", cell="gru", hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16,
                         conv_channels=4, conv_kernel=[5, 6], conv_stride=2)
    assert config.state_sizes[0] == ("context", 120 + 4 * 80) and config.n_features == 4 * 6
    model = TorchSpotter(config).eval()
    save_checkpoint(tmp_path / "c.pt", model, config)
    assert export_checkpoint(tmp_path / "c.pt", tmp_path / "q.onnx", "int8")["parity_max_abs_diff"] <= 1e-4
    assert export_checkpoint(tmp_path / "c.pt", tmp_path / "c.onnx", "fp32")["parity_max_abs_diff"] <= 1e-4
    for name in ("q.onnx", "c.onnx"):  # the context output's size is written out, not left symbolic
        outputs = {o.name: o for o in onnx.load(str(tmp_path / name)).graph.output}
        assert outputs["state_context_out"].type.tensor_type.shape.dim[1].dim_value == 440
    session = Session(tmp_path / "c.onnx")  # fp32: int8 quantizes activations per call, so chunks differ slightly
    audio = (np.random.default_rng(0).random((1, 80 * 50), dtype=np.float32) - 0.5) * 0.3
    whole, _ = session.run(audio, session.zero_state())
    state, parts = session.zero_state(), []
    for a, b in [(0, 80), (80, 320), (320, 4000)]:
        out, state = session.run(audio[:, a:b], state)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, atol=1e-5)
    with torch.no_grad():
        silent = torch.zeros(1, 80 * 20)
        click = silent.clone()
        click[0, 440] = 1.0  # in the windows of frames 5 and 6
        a = model.conv(model.frontend(silent, torch.zeros(1, 440))[0])
        b = model.conv(model.frontend(click, torch.zeros(1, 440))[0])
    changed = ((a - b).abs().amax(-1)[0] > 1e-6).nonzero().flatten().tolist()
    assert changed == [5, 6, 7, 8, 9, 10]  # frames 5-6 and the 4 frames whose kernel still reaches them


def test_crnn_needs_log_mel_features():
    with pytest.raises(ValueError, match="--cepstra 0"):
        ModelConfig(task="kws", labels=make_labels(["zero"]), n_mels=16, n_cepstra=10, conv_channels=4)
    with pytest.raises(ValueError, match="--conv-kernel"):
        ModelConfig(task="kws", labels=make_labels(["zero"]), n_mels=16, conv_channels=4, conv_kernel=[5, 20])
    with pytest.raises(ValueError, match="--conv-pool must be between 1 and the convolution's 6 bands"):
        ModelConfig(task="kws", labels=make_labels(["zero"]), n_mels=16, conv_channels=4, conv_kernel=[5, 6],
                    conv_stride=2, conv_pool=7)
    with pytest.raises(ValueError, match="needs --conv-channels"):
        ModelConfig(task="kws", labels=make_labels(["zero"]), n_mels=16, n_cepstra=10, conv_pool=2)


def test_band_pooling_tolerates_a_small_shift_and_exports(tmp_path):
    """--conv-pool 2 keeps the larger of each two neighbouring bands: a pattern moved by one band
    (here: the features rolled by the stride along the mel axis) gives mostly the same pooled output,
    where the unpooled features change; the model exports with parity and is chunk-invariant."""
    torch.manual_seed(0)
    config = ModelConfig(task="kws", cell="gru", hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16,
                         conv_channels=4, conv_kernel=[5, 6], conv_stride=2, conv_pool=2)
    assert config.conv_bands == 6 and config.n_features == 4 * 5
    model = TorchSpotter(config).eval()
    feats = torch.zeros(1, 14, 16)
    feats[0, :, 6:9] = 3.0  # one formant-like ridge
    shifted = torch.roll(feats, 2, dims=2)
    with torch.no_grad():
        pooled, moved = model.conv(feats), model.conv(shifted)
        model.conv.pool = 1
        plain, plain_moved = model.conv(feats), model.conv(shifted)
        model.conv.pool = 2
    change = lambda a, b: ((a - b).abs().sum() / a.abs().sum()).item()  # noqa: E731
    assert change(pooled, moved) < 0.7 * change(plain, plain_moved)
    exported_whole_equals_chunked(tmp_path, model, config, [80, 400, 4800])


def test_mfcc_model_exports_with_parity(tmp_path):
    from edge_rnn.checkpoint import save_checkpoint

    config = tiny_config(cepstra=10)
    save_checkpoint(tmp_path / "c.pt", TorchSpotter(config), config)
    report = export_checkpoint(tmp_path / "c.pt", tmp_path / "c.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4


def _save_untrained(tmp_path, cell):
    from edge_rnn.checkpoint import save_checkpoint

    torch.manual_seed(1)
    config = tiny_config(cell)
    path = tmp_path / f"{cell}.pt"
    save_checkpoint(path, TorchSpotter(config), config, detector={"threshold": 0.5})
    return path


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_export_parity_and_int8_each_cell(cell, tmp_path):
    ckpt = _save_untrained(tmp_path, cell)
    fp32 = export_checkpoint(ckpt, tmp_path / "f.onnx", "fp32")
    assert fp32["parity_max_abs_diff"] <= 1e-4
    export_checkpoint(ckpt, tmp_path / "q.onnx", "int8")
    model = onnx.load(str(tmp_path / "q.onnx"))
    ops = {n.op_type for n in model.graph.node}
    # every cell's W and R, the classifier and the DFT kernel stored as int8, dequantized in front
    # of the op; no dynamic (per-call) activation quantization, so chunking cannot change a score
    int8 = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and "_int8" in t.name}
    assert len(int8) == 6 and any(n.endswith("frontend.basis_int8") for n in int8)  # W, R x 2, classifier, DFT
    assert not any("Dynamic" in op or "Integer" in op for op in ops), ops
    front = [n for n in model.graph.node if "/frontend/" in n.name]
    assert front and not any("Integer" in n.op_type for n in front)  # the front end computes in float
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


def test_random_eq_is_a_bounded_smooth_curve_per_example():
    from edge_rnn.kws_model import random_eq

    torch.manual_seed(0)
    feats = torch.randn(64, 5, 40)
    shift = random_eq(feats, 6.0) - feats
    db = shift * 10 / np.log(10)  # natural log of power -> dB
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-5)  # the same curve on every frame
    assert db.abs().max() <= 6.0 + 1e-4 and db.abs().amax(dim=(1, 2)).median() > 1.0
    assert (db[:, 0, 1:] - db[:, 0, :-1]).abs().max() < 1.5  # smooth across neighbouring mels
    assert not torch.allclose(shift[0], shift[1])  # each example its own microphone


def test_spec_augment_masks_bands_and_stretches_of_time():
    from edge_rnn.kws_model import spec_augment

    torch.manual_seed(0)
    feats = torch.randn(64, 300, 40)
    fill = torch.tensor(99.0)
    bands_only = spec_augment(feats, fill, width=8) == 99.0
    assert not bands_only.all(dim=2).any()  # no whole frame masked without time masking
    per_clip = bands_only.all(dim=1).sum(dim=1)  # masked channels of each clip
    assert per_clip.max() <= 16 and per_clip.float().mean() > 3
    masked = spec_augment(feats, fill, width=0, frames=10) == 99.0
    frames = masked.all(dim=2)
    assert torch.equal(masked, frames[:, :, None].expand_as(masked))  # whole frames, every channel
    assert frames.sum(dim=1).max() <= 30 and frames.sum(dim=1).float().mean() > 5  # 3 s: up to 3 x 10 frames
    assert not torch.equal(frames[0], frames[1])  # each clip its own stretches


@pytest.mark.parametrize("conv", [0, 4])
def test_running_norm_is_a_state_and_chunk_invariant_after_export(tmp_path, conv):
    """--norm-seconds adds a `norm` state (zeros at the start) after the audio context; the exported
    model gives the same scores whole or in chunks, also with a CRNN (whose first frames each call
    are the previous call's last ones again)."""
    torch.manual_seed(0)
    config = ModelConfig(task="kws", cell="lstm", hidden=[12, 8], labels=make_labels(["zero", "one"]), n_mels=16,
                         n_cepstra=0 if conv else 10, conv_channels=conv, conv_kernel=[5, 6], conv_stride=2,
                         norm_seconds=0.5)
    assert [n for n, _ in config.state_sizes] == ["context", "norm", "h0", "c0", "h1", "c1"]
    assert config.state_sizes[1][1] == (16 if conv else 10)
    model = TorchSpotter(config).eval()
    state = exported_whole_equals_chunked(tmp_path, model, config, [80, 160, 3200, 24000])
    assert np.abs(state[1]).max() > 0  # the running mean moved


def test_running_norm_cancels_a_fixed_gain_after_a_few_time_constants():
    """A microphone 12 dB louder adds a constant to every log-mel channel; after a few time constants
    the normalised features no longer show it (without the running mean they always would)."""
    torch.manual_seed(0)
    config = tiny_config(cepstra=10)
    config.norm_seconds = 0.3
    model = TorchSpotter(config).eval()
    audio = (torch.rand(1, 8000 * 3) - 0.5) * 0.1
    with torch.no_grad():
        quiet, _ = model.frontend(audio, torch.zeros(1, 120))
        loud, _ = model.frontend(audio * 4, torch.zeros(1, 120))
        nq, _ = model.norm(quiet, torch.zeros(1, 10))
        nl, _ = model.norm(loud, torch.zeros(1, 10))
    raw_gap, norm_gap = (loud - quiet).abs().amax(-1)[0], (nl - nq).abs().amax(-1)[0]
    assert raw_gap[-100:].min() > 0.5  # log(16) over the std, on the first coefficient
    assert norm_gap[0] > 0.5 and norm_gap[-20:].max() < 0.01 * norm_gap[0]  # e^-9 after 2.8 s


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
