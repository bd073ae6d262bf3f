"""The pretrained speech-embedding front end: the same numbers as the ONNX file it is read from,
and a spotter built on it that trains, exports to int8 with parity, and streams chunk-invariantly."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from edge_rnn.cli import main
from edge_rnn.config import EMBEDDING_CACHE
from edge_rnn.checkpoint import export_checkpoints
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.kws import KeywordSpotter
from edge_rnn.runtime.session import Session
from edge_rnn.models.embedding import N_MELS, SpeechEmbedding, default_weights, mel_matrix

from conftest import FSDD, fsdd_subset, needs_fsdd


def test_embedding_equals_the_onnx_file_on_every_window():
    """One pass over a long stretch of frames gives each 76-frame window's embedding, 8 frames apart."""
    net = SpeechEmbedding()
    net.load_onnx(default_weights())
    frames = np.random.default_rng(0).normal(1.0, 1.5, (2, 76 + 8 * 6, N_MELS)).astype(np.float32)
    windows = np.stack([frames[:, 8 * i : 8 * i + 76] for i in range(7)], axis=1)  # (2, 7, 76, 32)
    ref = ort.InferenceSession(str(default_weights()), providers=["CPUExecutionProvider"])
    want = ref.run(None, {"input_1": windows.reshape(14, 76, N_MELS, 1)})[0].reshape(2, 7, 96)
    with torch.no_grad():
        got = net(torch.from_numpy(frames)).numpy()
    assert got.shape == (2, 7, 96)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_streaming_from_the_zero_state_equals_one_pass_after_a_quiet_room():
    """Called hop by hop with its cache, the network gives what one pass over all the frames gives
    when each time convolution's input is preceded by two steps of its `rest`: the zero state is
    a quiet room (the mean of each cached input over white noise at -60 dBFS), not silence."""
    from edge_rnn.models.embedding import QUIET_ROOM_DBFS, quiet_room_logmel

    net = SpeechEmbedding()
    net.load_onnx(default_weights())
    seen = []  # the (channels, mels) that really reach each convolution over time
    net._layers(torch.zeros(1, 1, 76, N_MELS), lambda k, x: seen.append(tuple(x.shape[i] for i in (1, 3))) or x)
    assert seen == net.cached and sum(2 * c * m for c, m in seen) == net.cache_size == EMBEDDING_CACHE
    # the room's frames: white noise at -60 dBFS reads about 5.5 in every band, far above the floor
    room = quiet_room_logmel()[0].numpy()
    assert QUIET_ROOM_DBFS == -60 and 4.5 < room.mean() < 6.5 and room.std() > 0.2
    rests = torch.split(net.rest, [c * m for c, m in net.cached])

    def after_rest(k, x):
        c, m = net.cached[k]
        return torch.cat([rests[k].reshape(1, c, 1, m).expand(x.size(0), c, 2, m), x], dim=2)

    frames = torch.from_numpy(np.random.default_rng(1).normal(1.0, 1.5, (2, 8 * 9, N_MELS)).astype(np.float32))
    with torch.no_grad():
        whole = net._layers(frames.unsqueeze(1), after_rest)
        cache, parts = torch.zeros(2, net.cache_size), []
        for a, b in [(0, 8), (8, 24), (24, 32), (32, 72)]:  # 1, 2, 1 and 5 hops
            out, cache = net.stream(frames[:, a:b], cache)
            parts.append(out)
    assert whole.shape == (2, 9, 96)
    np.testing.assert_allclose(torch.cat(parts, dim=1).numpy(), whole.numpy(), atol=1e-4)


def test_mel_filters_cover_60_to_3800_hz_with_unit_area():
    mel = mel_matrix().numpy()  # (129, 32) on 31.25 Hz bins
    hz = np.arange(129) * 31.25
    used = hz[mel.sum(axis=1) > 0]
    assert mel.shape == (129, 32) and used.min() >= 60 and used.max() <= 3800
    assert np.all(np.diff(mel.argmax(axis=0)) > 0)  # centres rise band by band
    area = mel.sum(axis=0) * 31.25  # Slaney normalisation: each triangle's area is 1 (in Hz), roughly
    assert np.all((area > 0.6) & (area < 1.4))


def test_wrong_weights_file_is_a_user_error(tmp_path, capsys):
    from edge_rnn.runtime.errors import UserError

    bad = tmp_path / "not_it.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(bad))
    with pytest.raises(UserError, match="not the speech embedding"):
        SpeechEmbedding().load_onnx(bad)
    data = tmp_path / "data"
    data.mkdir()
    args = ["train", "kws", "--data", str(data), "--out", str(tmp_path / "run"), "--front-end", "speech-embedding"]
    assert main(args + ["--speed", "1.2,0.9"]) == 2
    assert "--speed needs" in capsys.readouterr().err
    assert main(args + ["--front-end", "mfcc"]) == 2
    assert "unknown front end 'mfcc'" in capsys.readouterr().err


@needs_fsdd
def test_embedding_spotter_trains_exports_int8_and_streams_chunk_invariantly(tmp_path):
    data = fsdd_subset(tmp_path / "data", digits=(0, 1))
    args = ["train", "kws", "--data", str(data), "--out", str(tmp_path / "run"), "--keywords", "zero,one",
            "--valid-speaker", "jackson", "--front-end", "speech-embedding", "--hidden", "16",
            "--epochs", "1", "--clips-per-epoch", "32", "--clip-seconds", "2", "--quiet", "--threads", "1"]
    assert main(args) == 0
    report = export_checkpoints(tmp_path / "run" / "best.pt", tmp_path / "e.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    model = onnx.load(str(tmp_path / "e.onnx"))
    convs = [t for t in model.graph.initializer if t.name.endswith("_int8") and "embedding" in t.name]
    assert len(convs) == 20  # every convolution of the embedding is stored as int8
    assert any(t.name.endswith("frontend.basis_int8") for t in model.graph.initializer)  # and the DFT kernel
    assert "Apache License 2.0" in model.doc_string  # the embedding's licence travels with the file
    assert report["int8_bytes"] < 0.45 * report["fp32_bytes"]
    session = Session(tmp_path / "e.onnx")
    assert session.contract.detector["smooth_frames"] == 1  # 80 ms of smoothing, as with 8 frames of 10 ms
    assert session.contract.hop == 640 and [s.input for s in session.contract.states][:2] == ["state_context", "state_cache"]
    audio = np.concatenate([read_wav(FSDD / "0_jackson_5.wav", 8000), np.zeros(3000, np.float32),
                            read_wav(FSDD / "1_george_6.wav", 8000), np.zeros(5000, np.float32)])
    runs = []
    for chunk in (1, 80, 296, 8000):  # one sample, 10 ms, 37 ms, 1 s
        spotter = KeywordSpotter(session)
        runs.append(np.concatenate([spotter.probabilities(audio[i : i + chunk]) for i in range(0, audio.size, chunk)]))
    assert runs[0].shape == (audio.size // 640, 4)
    for other in runs[1:]:  # the same windows; only the convolutions' float summation order may differ
        np.testing.assert_allclose(other, runs[0], atol=1e-5)


def _embedding_checkpoint(path, seed, weights=True):
    from edge_rnn.checkpoint import save_checkpoint
    from edge_rnn.config import KWSConfig
    from edge_rnn.models.keyword import KeywordNet
    from edge_rnn.runtime.labels import keyword_labels

    torch.manual_seed(seed)
    config = KWSConfig(cell="gru", hidden=[8], labels=keyword_labels(["zero", "one"]), hop=640,
                       front_end="speech-embedding")
    model = KeywordNet(config)
    if weights:
        model.embedding.load_onnx(default_weights())
    save_checkpoint(path, model, config)
    return path


def test_embedding_heads_export_as_one_ensemble_sharing_the_embedding(tmp_path):
    a, b = _embedding_checkpoint(tmp_path / "a.pt", 1), _embedding_checkpoint(tmp_path / "b.pt", 2)
    report = export_checkpoints([a, b], tmp_path / "ab.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    session = Session(tmp_path / "ab.onnx")
    assert [s.input for s in session.contract.states] == ["state_context", "state_cache", "state_m0_h0",
                                                          "state_m1_h0"]
    model = onnx.load(str(tmp_path / "ab.onnx"))
    assert sum(n.op_type == "Conv" and "embedding" in n.name for n in model.graph.node) == 20  # computed once
    other = _embedding_checkpoint(tmp_path / "c.pt", 3, weights=False)  # another (random) embedding
    with pytest.raises(Exception, match="share one embedding"):
        export_checkpoints([a, other], tmp_path / "ac.onnx", "int8")


def test_digital_silence_reads_as_faint_noise_and_the_floor_stays_under_recorded_sound():
    """Exact zeros get the front end's dither (white noise at -90 dBFS, the same 640 samples every
    hop): log-mels with a quiet microphone's level and frame-to-frame texture, not one constant
    frame. The power floor (log-mel 1.5: white noise at -105 dBFS) stays under recorded sound."""
    from edge_rnn.models.embedding import DITHER_DBFS, POWER_FLOOR, EmbeddingFrontEnd

    front = EmbeddingFrontEnd()
    rng = np.random.default_rng(3)

    def logmel(audio):
        out, _ = front(torch.tensor(audio, dtype=torch.float32)[None], torch.zeros(1, front.context_size))
        return out[0, 3:].numpy()  # past the frames that still hold the zero context

    assert DITHER_DBFS == -90 and np.log10(POWER_FLOOR) + 2 == pytest.approx(1.5)
    silent = logmel(np.zeros(4 * 640))
    assert 2.5 < silent.mean() < 3.5 and silent.std(axis=0).min() > 0.1 and silent.min() > 1.5
    np.testing.assert_array_equal(silent[5:13], silent[13:21])  # one hop's pattern, repeated
    lsb = 1 / 32768
    assert (logmel(rng.integers(-1, 2, 16000 // 640 * 640) * lsb) <= 1.5).mean() < 0.01
    assert logmel(rng.standard_normal(25 * 640) * 10 ** (-90 / 20)).min() > 1.5


@needs_fsdd
def test_the_bundled_spotter_finds_a_word_alone_and_after_digital_silence():
    """Each of a held-out speaker's words alone from a fresh stream, as `edge-rnn stream --input`
    hears a one-word file (`edge-rnn eval`'s per-utterance figure), and the same after 0.3 s of
    exact zeros: neither a word at the very start nor digital silence may blind the spotter."""
    from edge_rnn.evaluation.kws import per_utterance
    from edge_rnn.runtime.bundled import bundled_path
    from edge_rnn.runtime.detector import DetectorConfig
    from edge_rnn.training.utterances import Utterance, load_recordings

    session = Session(bundled_path("fsdd-kws"))
    utts = load_recordings(FSDD, 8000, speakers=["nicolas"], quiet=True, background=False).utterances
    detector = DetectorConfig.from_dict(session.contract.detector)
    alone = per_utterance(session, utts, detector, quiet=True)
    assert alone["utterances"] == 500
    assert alone["utterance_accuracy"] >= 0.93  # 0.956 on 2026-12-01; 0.866 for the bundle before
    zeros = np.zeros(2400, np.float32)
    padded = [Utterance(u.word, u.speaker, u.index, np.concatenate([zeros, u.audio])) for u in utts]
    after = per_utterance(session, padded, detector, quiet=True)
    assert after["utterance_accuracy"] >= 0.9  # 0.946 on 2026-12-01; 0.894 for the bundle before
