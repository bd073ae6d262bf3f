"""Shared fixtures: tiny real models (real torch training, real ONNX export) and data paths."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from js_helpers import js_ready  # noqa: F401  (the JavaScript client's tests use this fixture)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FSDD = SHARED / "fsdd" / "recordings"
PTB = SHARED / "ptb"

needs_fsdd = pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD recordings not found at {FSDD}")
needs_ptb = pytest.mark.skipif(not (PTB / "ptb.valid.txt.gz").is_file(), reason=f"PTB not found at {PTB}")

SUBJECTS = ["the cat", "a dog", "my friend", "the teacher", "our neighbour"]
VERBS = ["sees", "likes", "finds", "helps", "calls"]
OBJECTS = ["the ball", "a bird", "the house", "a letter", "the river"]


def write_corpus(path: Path, lines: int, seed: int) -> Path:
    """A small regular language: easy to learn, so a falling loss is a real signal."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(lines):
            f.write(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} .\n")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("corpus")
    return write_corpus(d / "train.txt", 400, 1), write_corpus(d / "valid.txt", 60, 2)


def tiny_lm_checkpoint(out: Path, corpus, cell: str = "lstm", hidden: str = "16,12",
                       epochs: int = 1, extra: list[str] | None = None) -> Path:
    from edge_rnn.cli import main

    train, valid = corpus
    args = ["train", "lm", "--data", str(train), "--valid", str(valid), "--out", str(out),
            "--cell", cell, "--hidden", hidden, "--embedding", "12", "--epochs", str(epochs),
            "--batch-size", "8", "--bptt", "10", "--lr", "5", "--quiet", "--threads", "1"]
    assert main(args + (extra or [])) == 0
    return out / "best.pt"


@pytest.fixture(scope="session")
def lm_checkpoint(tmp_path_factory, corpus) -> Path:
    return tiny_lm_checkpoint(tmp_path_factory.mktemp("lm"), corpus, epochs=2)


@pytest.fixture(scope="session")
def lm_onnx(tmp_path_factory, lm_checkpoint) -> Path:
    from edge_rnn.checkpoint import export_checkpoints

    out = tmp_path_factory.mktemp("lm_onnx") / "lm.onnx"
    export_checkpoints(lm_checkpoint, out, "fp32")
    return out


@pytest.fixture(scope="session")
def lm_int8(tmp_path_factory, lm_checkpoint) -> Path:
    from edge_rnn.checkpoint import export_checkpoints

    out = tmp_path_factory.mktemp("lm_int8") / "lm.int8.onnx"
    export_checkpoints(lm_checkpoint, out, "int8")
    return out


def fsdd_subset(folder: Path, speakers=("george", "jackson"), digits=(0, 1, 2), indices=range(5, 17)) -> Path:
    """A handful of real recordings, linked (not copied) from ../shared."""
    folder.mkdir(parents=True, exist_ok=True)
    for s in speakers:
        for d in digits:
            for i in indices:
                src = FSDD / f"{d}_{s}_{i}.wav"
                if src.exists():
                    (folder / src.name).symlink_to(src)
    return folder


def train_embedding_spotter(data: Path, out: Path, *options: str, clips: int = 32) -> Path:
    """One epoch of a tiny speech-embedding spotter for "zero" and "one" (jackson held out); its best.pt."""
    from edge_rnn.cli import main

    args = ["train", "kws", "--data", str(data), "--out", str(out), "--keywords", "zero,one",
            "--valid-speaker", "jackson", "--front-end", "speech-embedding", *options, "--hidden", "16",
            "--epochs", "1", "--clips-per-epoch", str(clips), "--clip-seconds", "2", "--quiet", "--threads", "1"]
    assert main(args) == 0
    return out / "best.pt"


def chunked_probabilities(model, audio, chunks=(80, 640, 8000)) -> list:
    """The model's probabilities over `audio` fed in each chunk size, one stream each."""
    import numpy as np

    from edge_rnn.runtime.kws import KeywordSpotter

    runs = []
    for chunk in chunks:
        spotter = KeywordSpotter(model)
        runs.append(np.concatenate([spotter.probabilities(audio[i : i + chunk]) for i in range(0, audio.size, chunk)]))
    return runs


@pytest.fixture(scope="session")
def kws_checkpoint(tmp_path_factory) -> Path:
    if not FSDD.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    from edge_rnn.cli import main

    root = tmp_path_factory.mktemp("kws")
    data = fsdd_subset(root / "data")
    args = ["train", "kws", "--data", str(data), "--out", str(root / "run"), "--keywords", "zero,one",
            "--valid-speaker", "jackson", "--hidden", "24", "--epochs", "3", "--clips-per-epoch", "96",
            "--clip-seconds", "2", "--quiet", "--threads", "1"]
    assert main(args) == 0
    return root / "run" / "best.pt"


@pytest.fixture(scope="session")
def kws_onnx(tmp_path_factory, kws_checkpoint) -> Path:
    from edge_rnn.checkpoint import export_checkpoints

    out = tmp_path_factory.mktemp("kws_onnx") / "kws.onnx"
    export_checkpoints(kws_checkpoint, out, "fp32")
    return out


@pytest.fixture(scope="session")
def kws_int8(tmp_path_factory, kws_checkpoint) -> Path:
    from edge_rnn.checkpoint import export_checkpoints

    out = tmp_path_factory.mktemp("kws_int8") / "kws.int8.onnx"
    export_checkpoints(kws_checkpoint, out, "int8")
    return out


def rewrite_metadata(src: Path, dst: Path, changes: dict[str, str | None], stamp: bool = True) -> Path:
    """A copy of an exported model with metadata values changed (None: removed), its digest
    recomputed unless `stamp` is False (then the file no longer matches its digest)."""
    import onnx

    from edge_rnn.runtime.model_file import DIGEST_KEY, DIGEST_PREFIX, PLACEHOLDER, stamp_digest

    model = onnx.load(str(src))
    props = [(p.key, changes.get(p.key, p.value)) for p in model.metadata_props if changes.get(p.key, 1) is not None]
    props += [(k, v) for k, v in changes.items() if v is not None and k not in {p.key for p in model.metadata_props}]
    del model.metadata_props[:]
    for key, value in props:
        model.metadata_props.add(key=key, value=DIGEST_PREFIX + PLACEHOLDER if key == DIGEST_KEY and stamp else value)
    data = model.SerializeToString()
    dst.write_bytes(stamp_digest(data) if stamp else data)
    return dst
