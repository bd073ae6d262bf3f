"""Training clips for keyword spotting: how words are chosen, changed, labelled and mixed in noise."""

from __future__ import annotations

import numpy as np

from edge_rnn.training.clips import IGNORE, ClipOptions, augment, choose_word, frame_labels_for, make_clip
from edge_rnn.training.utterances import Utterance
from conftest import fsdd_subset, needs_fsdd


def _constant(word: str, value: float) -> Utterance:
    return Utterance(word, "s", 0, np.full(2400, value, np.float32))


def test_words_are_keywords_seven_times_in_ten():
    words = {"one": [_constant("one", 0.01)], "two": [_constant("two", 0.02)], "hello": [_constant("hello", 0.03)]}
    rng = np.random.default_rng(0)
    picks = [choose_word(words, {"one": 2, "two": 3}, words["one"], rng)[1] for _ in range(4000)]
    assert abs(np.mean([p >= 2 for p in picks]) - 0.7) < 0.03
    assert set(picks) == {1, 2, 3}  # other speech is label 1


def test_clips_are_labelled_and_bounded():
    words = {"one": [_constant("one", 0.3)], "two": [_constant("two", 0.3)]}
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(30):
        audio, labels = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80, rng, ClipOptions(3.0))
        assert audio.shape == (24000,) and labels.shape == (300,) and np.abs(audio).max() <= 1.0
        seen.update(np.unique(labels).tolist())
    assert seen == {IGNORE, 0, 1, 2, 3}  # ignored onsets, background, unknown and both keywords


def test_digital_silence_leaves_only_the_words():
    """--digital-silence: that share of clips has no background at all (exact zeros between the
    words, as in a padded file); the others keep theirs everywhere."""
    words = {"one": [_constant("one", 0.3)], "two": [_constant("two", 0.3)]}
    rng = np.random.default_rng(2)
    silent = [0, 0]
    for share in (0.0, 1.0, 0.5):
        for _ in range(40):
            audio, labels = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80, rng,
                                      ClipOptions(3.0, digital_silence=share))
            zeros = float(np.mean(audio == 0))
            if share == 0.0:
                assert zeros < 0.01
            elif share == 1.0:
                assert zeros > 0.3 and (labels != 0).any() == (zeros < 1.0)  # words sound, the rest is zeros
            else:
                silent[zeros > 0.3] += 1
    assert min(silent) >= 10  # about half and half


def test_word_at_start_begins_that_share_of_clips_with_a_word():
    """--word-at-start: that share of clips begins with a word at its first sample (a one-word
    file heard from a fresh stream); otherwise the first word starts 0-0.75 s in."""
    words = {"one": [_constant("one", 0.3)], "two": [_constant("two", 0.3)]}

    def first_word_frames(share: float) -> list[int]:
        rng, frames = np.random.default_rng(3), []
        for _ in range(60):
            _, labels = make_clip(words, {"one": 2, "two": 3}, words["one"], 24000, 80, rng,
                                  ClipOptions(3.0, word_at_start=share))
            if (labels != 0).any():
                frames.append(int(np.argmax(labels != 0)))
        return frames

    assert set(first_word_frames(1.0)) == {0}
    never = first_word_frames(0.0)
    assert sum(f == 0 for f in never) <= 2 and max(never) > 30  # up to 75 frames of 10 ms in
    half = first_word_frames(0.5)
    assert 0.25 < np.mean([f == 0 for f in half]) < 0.75


def test_frame_labels_ignore_the_onset_and_carry_a_tail():
    labels = frame_labels_for(30, 80, [(800, 1600, 2)], tail=3)  # a word over frames 10-19
    assert list(labels[:10]) == [0] * 10
    assert list(labels[10:17]) == [IGNORE] * 7  # its first three quarters: too early to tell
    assert list(labels[17:23]) == [2] * 6  # its last quarter and 3 frames after
    assert list(labels[23:]) == [0] * 7


def test_speed_range_bounds_word_lengths():
    rng = np.random.default_rng(5)
    word = np.sin(np.arange(4000) * 0.2).astype(np.float32)
    sizes = [augment(word, rng, ClipOptions(speed=(0.9, 1.1))).size for _ in range(200)]
    assert min(sizes) >= int(4000 / 1.1) - 1  # reverberation only lengthens
    assert max(sizes) < int(4000 / 0.9) + 0.41 * 8000 / 2 + 2
    peaks = [np.abs(augment(word, rng, ClipOptions())).max() for _ in range(50)]
    assert 10 ** (-30 / 20) - 1e-4 <= min(peaks) and max(peaks) <= 10 ** (-1 / 20) + 1e-4


@needs_fsdd
def test_valid_speaker_none_trains_on_every_speaker_and_keeps_the_last_epoch(tmp_path, capsys):
    import json

    import torch

    from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
    from edge_rnn.cli import main
    from edge_rnn.runtime.session import Session

    data = fsdd_subset(tmp_path / "data", speakers=("george", "jackson"), indices=range(5, 8))
    out = tmp_path / "run"
    # patience 1 would stop a run with a held-out voice as soon as it stalls; here every epoch is kept
    args = ["train", "kws", "--data", str(data), "--keywords", "zero,one", "--valid-speaker", "none",
            "--hidden", "8", "--epochs", "3", "--patience", "1", "--clips-per-epoch", "16",
            "--clip-seconds", "1", "--threads", "1", "--out", str(out), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "18 training and 18 validation recordings (none held out" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["epoch"] == 3
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert best["valid_speaker"] is None and json.loads(best["train"])["epoch"] == 3
    for name, tensor in best["model"].items():
        assert torch.equal(tensor, last["model"][name]), name
    assert best["train_speakers"] == ["george", "jackson"]
    settings = json.loads(best["settings"])
    assert settings["train"]["epochs"] == 3 and settings["data"]["valid_speaker"] == "none"
    # the exported model says whom it heard, so eval can flag figures that are not held-out
    export_checkpoints(out / "best.pt", tmp_path / "all.onnx")
    assert Session(tmp_path / "all.onnx").contract.train_speakers == ["george", "jackson"]
