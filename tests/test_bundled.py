"""The models shipped inside the package: present, small, self-describing, and as good as the
README says (measured through the streaming runtime, as `edge-rnn eval` does)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge_rnn.runtime.bundled import bundled_path
from edge_rnn.runtime.lm import evaluate_text
from edge_rnn.runtime.session import Session

from conftest import PTB, needs_ptb

DEMO_WAV = Path(__file__).resolve().parents[1] / "docs" / "digits.wav"


def test_bundled_models_are_small_int8_and_self_describing():
    lm, kws = Session(bundled_path("ptb-lm")), Session(bundled_path("fsdd-kws"))
    assert (lm.contract.task, lm.contract.precision) == ("lm", "int8")
    assert (kws.contract.task, kws.contract.precision) == ("kws", "int8")
    assert len(lm.contract.vocab) == 10000 and lm.contract.config["hidden"] == [256, 128]
    assert kws.contract.labels[2:] == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert bundled_path("ptb-lm").stat().st_size < 6_000_000
    assert bundled_path("fsdd-kws").stat().st_size < 1_000_000  # the embedding's int8 convolutions, 330 KB
    assert kws.contract.hop == 640 and [s.input for s in kws.contract.states][:2] == ["state_context", "state_cache"]
    assert Session("ptb-lm").path == bundled_path("ptb-lm")  # the runtime takes bundled names too


@needs_ptb
def test_bundled_lm_meets_the_perplexity_target():
    result = evaluate_text(Session(bundled_path("ptb-lm")), PTB / "ptb.valid.txt.gz")
    assert result["tokens"] == 73760  # every word and <eos> of PTB valid is predicted
    assert result["perplexity"] <= 130


def test_demo_commands_use_the_bundled_models():
    exe = [sys.executable, "-m", "edge_rnn.cli", "stream"]
    text = subprocess.run(exe + ["--json", "--top-k", "3"], input=b"the company said\n", capture_output=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert [json.loads(line)["word"] for line in text.stdout.decode().splitlines()] == ["the", "company", "said"]
    audio = subprocess.run(exe + ["--input", str(DEMO_WAV), "--json"], capture_output=True, timeout=120)
    assert audio.returncode == 0, audio.stderr
    events = [json.loads(line) for line in audio.stdout.decode().splitlines()]
    # the README's demo: "three one four one five nine two six" in a synthetic voice, all found
    assert [e["keyword"] for e in events] == "three one four one five nine two six".split()
