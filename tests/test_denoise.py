"""`train kws --embedding-denoise W`: clean twins of the training clips, and the pull of the tuned
embedding on noisy clips toward the pretrained embedding of their clean twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_rnn.config import KWSConfig, first_tuned_conv
from edge_rnn.models.embedding import default_weights
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.labels import keyword_labels
from edge_rnn.training.clips import ClipOptions, make_clip, quiet_room
from edge_rnn.training.denoise import Denoise
from edge_rnn.training.noisemix import NoiseMix
from edge_rnn.training.utterances import Utterance

LABELS = keyword_labels(["zero", "one"])


def _word(word: str, seed: int) -> Utterance:
    t = np.arange(3200) / 8000
    audio = np.sin(2 * np.pi * (300 + 100 * seed) * t) * np.hanning(t.size) * 0.3
    return Utterance(word, "s", seed, audio.astype(np.float32))


def test_a_clean_twin_draws_the_same_clip_and_holds_only_its_words():
    words = {"one": [_word("one", 1)], "two": [_word("two", 2)]}
    mix = NoiseMix.build([w.audio for g in words.values() for w in g], seed=5, share=1.0, reverb=0.5)
    for seed in range(6):
        plain = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80, np.random.default_rng(seed),
                          ClipOptions(3.0), mix=mix)
        audio, labels, clean = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80,
                                         np.random.default_rng(seed), ClipOptions(3.0), mix=mix, clean=True)
        assert np.array_equal(plain[0], audio) and np.array_equal(plain[1], labels)  # the same draws
        words_only = clean - quiet_room(24000)
        assert clean.shape == audio.shape and clean.dtype == np.float32
        silent = np.abs(words_only) < 1e-6
        assert silent.mean() > 0.2  # between the words: the quiet room alone
        if (labels > 0).any():  # a clip with words: they are in the twin, without the noise
            assert not silent.all() and np.abs(audio[silent] - clean[silent]).max() > 1e-3
    assert 0.9e-3 < np.sqrt(np.mean(quiet_room(80000) ** 2)) < 1.1e-3  # -60 dBFS


def _model() -> KeywordNet:
    model = KeywordNet(KWSConfig(cell="gru", hidden=[8], labels=LABELS, hop=640, front_end="speech-embedding",
                                 tune_embedding=2))
    model.embedding.load_onnx(default_weights())
    return model


def test_the_pull_is_nothing_on_the_clean_twin_and_moves_only_the_tuned_blocks():
    torch.manual_seed(0)
    model = _model()
    pull = Denoise(model, 0.5)
    clean = torch.sin(torch.arange(12800) / 3.0).repeat(2, 1) * 0.1 + torch.randn(2, 12800) * 1e-3
    noisy = clean + torch.randn(2, 12800) * 0.05
    model(clean, model.init_state(2))
    assert float(pull.penalty(clean).detach()) == pytest.approx(0.0, abs=1e-8)  # an untuned embedding equals the teacher
    model(noisy, model.init_state(2))
    before = pull.penalty(clean)
    assert float(before.detach()) > 0.01
    before.backward()
    grads = [c.weight.grad is not None for c in model.embedding.convs]
    assert grads == [i >= first_tuned_conv(2) for i in range(len(grads))]
    assert all(p.grad is None for p in pull.teacher.parameters())
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6).step()
    model(noisy, model.init_state(2))
    assert float(pull.penalty(clean).detach()) < float(before.detach())  # a step on the pull brings the noisy embedding nearer


def test_the_pull_needs_a_tuned_embedding(tmp_path, capsys):
    from edge_rnn.cli import main

    frozen = KeywordNet(KWSConfig(cell="gru", hidden=[8], labels=LABELS, hop=640, front_end="speech-embedding"))
    with pytest.raises(ValueError, match="tuned"):
        Denoise(frozen, 1.0)
    code = main(["train", "kws", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet",
                 "--front-end", "speech-embedding", "--embedding-denoise", "0.3"])
    err = capsys.readouterr().err
    assert code == 2 and "--embedding-denoise needs --tune-embedding" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
