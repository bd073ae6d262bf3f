"""The text rules travel from training to the model: `train lm --text-rules` prepares both texts
with them and stores them, `export` records them (or, for a checkpoint without any, those given),
and typed text then scores exactly as its corpus form does."""

from __future__ import annotations

import json
import random

import pytest
import torch

from edge_rnn.checkpoint import export_checkpoints, load_checkpoint
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor, evaluate_text
from edge_rnn.runtime.session import Session
from edge_rnn.runtime.textrules import PTB, TextRules

from conftest import OBJECTS, SUBJECTS, VERBS, tiny_lm_checkpoint

NAMES = ["Mr. Smith", "the U.S. company", "Acme Corp."]


def write_texts(folder, name: str, lines: int, seed: int):
    """The same sentences typed (capitals, clitics, numbers, punctuation, up to three a line) and
    in PTB's corpus form (a sentence a line)."""
    rng = random.Random(seed)
    typed, corpus = [], []
    for _ in range(lines):
        line = []
        for _ in range(rng.randint(1, 3)):
            subject, verb, obj = rng.choice(SUBJECTS + NAMES), rng.choice(VERBS), rng.choice(OBJECTS)
            text = f"{subject} {verb} {rng.randint(2, 9999):,} of {obj}'s friends, doesn't it?"
            line.append(text[0].upper() + text[1:])
            corpus.append(f"{subject.lower()} {verb} N of {obj} 's friends does n't it")
        typed.append(" ".join(line))
    (folder / f"{name}.typed.txt").write_text("\n".join(typed) + "\n", encoding="utf-8")
    (folder / f"{name}.corpus.txt").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    return folder / f"{name}.typed.txt", folder / f"{name}.corpus.txt"


def test_training_with_rules_stores_and_exports_them(tmp_path):
    train, _ = write_texts(tmp_path, "train", 300, 1)
    valid, valid_corpus = write_texts(tmp_path, "valid", 40, 2)
    ckpt = tiny_lm_checkpoint(tmp_path / "run", (train, valid), extra=["--text-rules", "ptb"])
    saved = load_checkpoint(ckpt)
    assert TextRules.from_dict(json.loads(saved["text_rules"])) == PTB
    vocab = saved["vocab"]
    assert {"N", "n't", "'s", "mr.", "u.s.", "corp."} <= set(vocab)
    assert not [w for w in vocab if (w != w.lower() and w != "N") or w.endswith((",", "?"))], vocab
    out = tmp_path / "lm.onnx"
    export_checkpoints(ckpt, out)
    session = Session(out)
    assert session.contract.text_rules == PTB
    assert NextWordPredictor(session).feed("Mr. Smith doesn't") == ["mr.", "smith", "does", "n't"]
    typed, corpus = evaluate_text(session, valid), evaluate_text(session, valid_corpus)
    assert typed == corpus and typed["unk_rate"] == 0.0  # the typed text is its corpus form, word for word


def test_export_rules_for_a_checkpoint_without_them(tmp_path, lm_checkpoint):
    old = tmp_path / "old.pt"
    payload = torch.load(lm_checkpoint, weights_only=True)
    payload.pop("text_rules", None)  # as trained before --text-rules existed
    torch.save(payload, old)
    export_checkpoints(old, tmp_path / "plain.onnx")
    assert Session(tmp_path / "plain.onnx").contract.text_rules.is_plain
    export_checkpoints(old, tmp_path / "ptb.onnx", text_rules=PTB)
    assert Session(tmp_path / "ptb.onnx").contract.text_rules == PTB
    with pytest.raises(UserError, match="other text rules"):  # it was trained with none: PTB's would lie
        export_checkpoints(lm_checkpoint, tmp_path / "x.onnx", text_rules=PTB)
