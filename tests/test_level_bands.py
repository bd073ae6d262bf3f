"""`train kws --level-bands N`: each 80 ms's mean log-mel in N bands beside the speech embedding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import FSDD, chunked_probabilities, fsdd_subset, needs_fsdd, train_embedding_spotter
from edge_rnn.checkpoint import export_checkpoints, load_checkpoint, save_checkpoint
from edge_rnn.config import KWSConfig, ModelConfig
from edge_rnn.models.embedding import default_weights
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.audio import read_wav
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.labels import keyword_labels
from edge_rnn.runtime.session import Session

LABELS = keyword_labels(["zero", "one"])


def config(bands: int, **kw) -> KWSConfig:
    return KWSConfig(cell="gru", hidden=[8], labels=LABELS, hop=640, front_end="speech-embedding", level_bands=bands, **kw)


def test_bands_need_the_embedding_and_must_divide_its_mels():
    with pytest.raises(ValueError, match="level-bands"):
        KWSConfig(labels=LABELS, level_bands=4)  # the log-mel front end
    with pytest.raises(ValueError, match="divides"):
        config(3)
    assert config(4).n_features == 100 and config(0).n_features == 96


def test_levels_are_each_hops_mean_log_mel_per_band():
    torch.manual_seed(0)
    model = KeywordNet(config(4)).eval()
    model.embedding.load_onnx(default_weights())
    audio = torch.from_numpy(read_wav(FSDD / "0_jackson_5.wav", 8000)[: 640 * 6].copy())[None] if FSDD.is_dir() \
        else torch.randn(1, 640 * 6) * 0.1
    state = model.init_state(1)
    feats, _ = model.front(audio, state[:2])
    logmel, _ = model.frontend(audio, state[0])  # (1, 48, 32)
    assert feats.shape == (1, 6, 100)
    hop3 = logmel[0, 8 * 3 : 8 * 4]  # the fourth hop's 8 log-mel frames
    torch.testing.assert_close(feats[0, 3, 96:], hop3.reshape(8, 4, 8).mean(dim=(0, 2)))
    # 20 dB quieter: log10 power falls by 2 in every band (far above the front end's -90 dBFS dither)
    quiet, _ = model.front(audio * 0.1, state[:2])
    torch.testing.assert_close(feats[0, 2:, 96:] - quiet[0, 2:, 96:], torch.full((4, 4), 2.0), atol=0.05, rtol=0)


def test_checkpoints_without_bands_load(tmp_path):
    ckpt = config(0)
    data = json.loads(ckpt.to_json())
    del data["level_bands"]  # as saved before the option existed
    assert ModelConfig.from_json(json.dumps(data)).level_bands == 0
    model = KeywordNet(ckpt)
    save_checkpoint(tmp_path / "old.pt", model, ckpt)
    payload = torch.load(tmp_path / "old.pt", weights_only=True)
    payload["config"] = json.dumps(data)
    torch.save(payload, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    KeywordNet(loaded["config"]).load_state_dict(loaded["model"])


def test_ensemble_members_must_agree_on_bands(tmp_path):
    for i, bands in enumerate((0, 4)):
        torch.manual_seed(i)
        model = KeywordNet(config(bands))
        model.embedding.load_onnx(default_weights())
        save_checkpoint(tmp_path / f"{i}.pt", model, config(bands))
    with pytest.raises(UserError, match="level_bands"):
        export_checkpoints([tmp_path / "0.pt", tmp_path / "1.pt"], tmp_path / "e.onnx")


@needs_fsdd
def test_trains_exports_int8_and_streams_chunk_invariantly(tmp_path):
    data = fsdd_subset(tmp_path / "data", digits=(0, 1))
    best = train_embedding_spotter(data, tmp_path / "run", "--level-bands", "4")
    assert load_checkpoint(best)["model"]["frontend.mean"].shape == (100,)
    report = export_checkpoints(best, tmp_path / "e.onnx", "int8")
    assert report["parity_max_abs_diff"] <= 1e-4
    session = Session(tmp_path / "e.onnx")
    assert session.contract.config["level_bands"] == 4
    audio = np.concatenate([read_wav(FSDD / "0_jackson_5.wav", 8000), np.zeros(3000, np.float32)])
    runs = chunked_probabilities(session, audio)
    for other in runs[1:]:
        np.testing.assert_allclose(other, runs[0], atol=1e-5)
