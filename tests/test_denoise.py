"""`train kws --embedding-denoise W`: clean twins of the training clips, and the pull of the tuned
embedding on noisy clips toward the pretrained embedding of their clean twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_rnn.config import KWSConfig, first_tuned_conv
from edge_rnn.models.embedding import default_weights, quiet_room_audio
from edge_rnn.models.keyword import KeywordNet
from edge_rnn.runtime.labels import keyword_labels
from edge_rnn.training.clips import ClipOptions, make_clip
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
        audio, labels, words_only = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80,
                                              np.random.default_rng(seed), ClipOptions(3.0), mix=mix, clean=True)
        assert np.array_equal(plain[0], audio) and np.array_equal(plain[1], labels)  # the same draws
        assert words_only.shape == audio.shape and words_only.dtype == np.float32
        silent = np.abs(words_only) < 1e-6
        assert silent.mean() > 0.2  # between the words: nothing
        if (labels > 0).any():  # a clip with words: they are in the twin, without the noise
            assert not silent.all() and np.abs(audio[silent]).max() > 1e-3


def test_the_quiet_room_is_one_draw_at_minus_60_dbfs():
    room = quiet_room_audio(80000)
    assert room.dtype == np.float32 and 0.99e-3 < np.sqrt(np.mean(room.astype(np.float64) ** 2)) < 1.01e-3
    assert np.array_equal(quiet_room_audio(24000), room[:24000])  # any length starts the same room


def _model() -> KeywordNet:
    model = KeywordNet(KWSConfig(cell="gru", hidden=[8], labels=LABELS, hop=640, front_end="speech-embedding",
                                 tune_embedding=2))
    model.embedding.load_onnx(default_weights())
    return model


def test_the_pull_is_nothing_on_the_clean_twin_and_moves_only_the_tuned_blocks():
    torch.manual_seed(0)
    model = _model()
    pull = Denoise(model, 0.5)
    words = torch.sin(torch.arange(12800) / 3.0).repeat(2, 1) * 0.1
    clean = words + torch.from_numpy(quiet_room_audio(12800))  # what the pull hears the words in
    noisy = words + torch.randn(2, 12800) * 0.05
    model(clean, model.init_state(2))
    assert float(pull.penalty(words).detach()) == pytest.approx(0.0, abs=1e-8)  # an untuned embedding equals the teacher
    model(words, model.init_state(2))
    assert float(pull.penalty(words).detach()) > 1e-6  # the room is in the target: words in digital silence differ
    model(noisy, model.init_state(2))
    before = pull.penalty(words)
    assert float(before.detach()) > 0.01
    before.backward()
    grads = [c.weight.grad is not None for c in model.embedding.convs]
    assert grads == [i >= first_tuned_conv(2) for i in range(len(grads))]
    assert all(p.grad is None for p in pull.teacher.parameters())
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-6).step()
    model(noisy, model.init_state(2))
    assert float(pull.penalty(words).detach()) < float(before.detach())  # a step on the pull brings the noisy embedding nearer


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
