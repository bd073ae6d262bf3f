"""benchmarks/typed_text.py and benchmarks/keystrokes.py: typed PTB turns back into PTB's words
through the model's rules, and keystroke savings are counted as documented."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.text import sentences
from edge_rnn.runtime.textrules import PTB

from conftest import PTB as PTB_DIR, needs_ptb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from keystrokes import first_shown, measure  # noqa: E402


@needs_ptb
def test_typed_ptb_gives_back_its_words(tmp_path):
    with gzip.open(PTB_DIR / "ptb.valid.txt.gz", "rt", encoding="utf-8") as f:
        corpus = [line for _, line in zip(range(300), f)]
    (tmp_path / "ptb.txt").write_text("".join(corpus), encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "typed_text.py"), str(tmp_path / "ptb.txt"),
                          "--out", str(tmp_path / "typed.txt"), "--vocab-from", str(PTB_DIR / "ptb.train.txt.gz")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    typed = (tmp_path / "typed.txt").read_text(encoding="utf-8")
    assert summary["sentences"] == 300 and typed[0].isupper() and "N" not in typed.split() and "<unk>" not in typed
    want = [w for s in sentences(tmp_path / "ptb.txt", PTB) for w in s]
    got = [w for s in sentences(tmp_path / "typed.txt", PTB) for w in s]
    known = NextWordPredictor("ptb-lm").vocab.index
    as_corpus = ["<unk>" if w not in known else w for w in got]
    words = lambda ws: [w.rstrip(".") for w in ws if w != "<eos>"]  # noqa: E731 (abbreviations keep a period)
    assert words(as_corpus) == words(want)
    assert want.count("<eos>") - got.count("<eos>") <= summary["end_in_an_abbreviation"]


def test_keystrokes_are_counted_as_documented():
    p = NextWordPredictor("ptb-lm", max_k=3)
    p.feed("the company said it expects to")
    top1, top3 = first_shown(p, "report", "report")
    assert top1 == 0 and top3 == 0  # the most likely word: taken before its first letter
    p.reset()
    result = measure(p, ["The company's shares rose 5%."])
    assert result["characters"] == len("The company's shares rose 5%.") + 1 and result["tokens"] == 7
    assert result["takeable"] == 5  # the, company, 's, shares, rose (not N twice)
    assert 0 < result["saved_top1"] <= result["saved_top3"] < result["characters"]
    assert result["keystroke_savings_top3"] == pytest.approx(result["saved_top3"] / result["characters"])
