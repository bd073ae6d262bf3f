"""Text rules: one table of typed sentences (tests/data/typed_text.jsonl) becomes the same words
in the training loader, the evaluator, the predictor and the CLI (the Node client reads the same
table in clients/js/test/textrules.test.mjs); the rules travel from training to the model."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor, typed_words
from edge_rnn.runtime.session import Session
from edge_rnn.runtime.text import sentences, tokens
from edge_rnn.runtime.textrules import PRESETS, PTB, TextRules, sentences_of

from conftest import PTB as PTB_DIR, needs_ptb, rewrite_metadata

DATA = Path(__file__).resolve().parent / "data"
TABLE = [json.loads(line) for line in (DATA / "typed_text.jsonl").read_text(encoding="utf-8").splitlines()]
REFUSED = [json.loads(line) for line in (DATA / "text_rules_refused.jsonl").read_text(encoding="utf-8").splitlines()]
EXE = [sys.executable, "-c", "import sys; from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"]


def rows(rules: str) -> list[dict]:
    return [row for row in TABLE if row["rules"] == rules]


def test_the_table_covers_both_rule_sets_and_the_issue_sentence():
    assert len(rows("ptb")) >= 15 and rows("none")
    first = rows("ptb")[0]
    assert first["tokens"] == ["the", "company", "said", "it", "'s", "going", "to", "sell", "N", "shares", "<eos>"]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r["text"][:30])
def test_rules_make_the_tables_words(row):
    rules = PRESETS[row["rules"]]
    got = ["<eos>" if w is None else w for w in sentences_of(list(typed_words(row["text"])) + [None], rules)]
    assert got == row["tokens"]


@pytest.mark.parametrize("name", ["ptb", "none"])
def test_training_loader_and_evaluator_make_the_same_words(tmp_path, name):
    text = tmp_path / "typed.txt"
    text.write_text("\n".join(row["text"] for row in rows(name)) + "\n", encoding="utf-8")
    want = [w for row in rows(name) for w in row["tokens"]]
    assert [w for s in sentences(text, PRESETS[name]) for w in s] == want
    vocab = NextWordPredictor("ptb-lm").vocab
    assert list(tokens(text, vocab, PRESETS[name])) == vocab.encode(want)


def test_the_predictor_feeds_the_tables_words():
    p = NextWordPredictor("ptb-lm")
    for row in rows("ptb"):
        assert p.feed(row["text"] + "\n") == row["tokens"]  # the line break ends the last sentence
        assert p.at_sentence_start


def test_the_cli_reports_each_words_tokens():
    text = "\n".join(row["text"] for row in rows("ptb")) + "\n"
    out = subprocess.run(EXE + ["stream", "--json", "--top-k", "3"], input=text.encode(), capture_output=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.decode().splitlines()]
    got, lines = [], iter(text.split("\n"))
    for line in lines:
        words = line.split()
        mine, records = records[: len(words)], records[len(words):]
        for r in mine:
            got += r["tokens"] + (["<eos>"] if r["sentence_end"] else [])
            assert all(n["word"] not in ("<unk>", "<eos>") for n in r["next"])
        if got and got[-1] != "<eos>":
            got.append("<eos>")  # the line end
    assert got == [w for row in rows("ptb") for w in row["tokens"]]


def test_the_issue_sentence_through_the_cli():
    sentence = "The company said it's going to sell 5,000 shares. Xyzzyqq\n"
    out = subprocess.run(EXE + ["stream", "--json"], input=sentence.encode(), capture_output=True, timeout=120)
    records = {r["word"]: r for r in map(json.loads, out.stdout.decode().splitlines())}
    assert records["it's"]["tokens"] == ["it", "'s"] and records["5,000"]["tokens"] == ["N"]
    assert records["shares."]["sentence_end"] and records["shares."]["tokens"] == ["shares"]
    assert records["Xyzzyqq"]["known"] is False and records["The"]["known"] is True
    assert all(n["word"] not in ("<unk>", "<eos>") for r in records.values() for n in r["next"])
    shown = subprocess.run(EXE + ["stream", "--json", "--show-special"], input=b"The\n", capture_output=True,
                           timeout=120)
    assert json.loads(shown.stdout)["next"][0]["word"] == "<unk>"  # PTB's most likely word after "the"


def test_the_bundled_model_carries_the_ptb_rules():
    assert Session(bundled_path("ptb-lm")).contract.text_rules == PTB


@needs_ptb
def test_ptb_rules_leave_the_corpus_form_unchanged():
    for name in ("ptb.valid.txt.gz", "ptb.train.txt.gz"):
        with gzip.open(PTB_DIR / name, "rt", encoding="utf-8") as f:
            for line in f:
                for word in line.split():
                    assert PTB.split(word) == ([word], False), word


@pytest.mark.parametrize("row", REFUSED, ids=lambda r: r["why"])
def test_broken_rules_are_refused(row, lm_onnx, tmp_path):
    with pytest.raises(UserError, match="text_rules"):
        TextRules.from_dict(row["rules"])
    bad = rewrite_metadata(lm_onnx, tmp_path / "bad.onnx", {"edge_rnn.text_rules": json.dumps(row["rules"])})
    r = subprocess.run(EXE + ["stream", "--model", str(bad)], input=b"the cat\n", capture_output=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.decode().strip().splitlines()) == 1 and b"text_rules" in r.stderr


def test_rules_round_trip_through_json():
    assert TextRules.from_dict(json.loads(PTB.to_json())) == PTB
    assert TextRules().is_plain and not PTB.is_plain
