"""Suggestions a person can use: <unk> and <eos> hidden without changing the ranking of the rest,
completion of the word being typed, and sentence completion (greedy = repeated top-1 steps,
sampling reproducible from a seed), on the fast path and the logits path alike."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.sampling import Mulberry32
from edge_rnn.runtime.session import Session

EXE = [sys.executable, "-c", "import sys; from edge_rnn.cli import main; sys.exit(main(sys.argv[1:]))"]
TEXT = "The company said it expects to"


@pytest.fixture(scope="module")
def ptb() -> Session:
    return Session("ptb-lm")


def test_hidden_words_leave_the_ranking_of_the_rest(ptb):
    hidden, shown = NextWordPredictor(ptb), NextWordPredictor(ptb, show_special=True)
    assert hidden.fast and shown.fast
    for context in ["The", "the company said", "shares fell."]:
        hidden.reset(), shown.reset()
        hidden.feed(context), shown.feed(context)
        everything = shown.top_k(10)
        assert any(w in ("<unk>", "<eos>") for w, _ in everything), context  # the test must hide something
        rest = [(w, p) for w, p in everything if w not in ("<unk>", "<eos>")]
        assert hidden.top_k(8) == rest[:8]  # the graph's 10 best always hold 8 shown words
        longer = hidden.top_k(30)  # past them: the last step again, for the logits
        assert [w for w, _ in longer[: len(rest)]] == [w for w, _ in rest]
        np.testing.assert_allclose([q for _, q in longer[: len(rest)]], [q for _, q in rest], atol=1e-5)


def test_prefix_completion_is_the_same_on_both_paths_and_after_a_restore(ptb):
    fast, full = NextWordPredictor(ptb), NextWordPredictor(ptb, max_k=50)
    assert fast.fast and not full.fast
    for p in (fast, full):
        p.feed("the")
    got = fast.top_k(5, "Compa")
    assert [w for w, _ in got] == [w for w, _ in full.top_k(5, "compa")]
    assert {"company", "companies"} <= {w for w, _ in got} and all(w.startswith("compa") for w, _ in got)
    np.testing.assert_allclose([q for _, q in got], [q for _, q in full.top_k(5, "compa")], atol=1e-5)
    saved = fast.get_state()  # a restored fast predictor can still complete a word
    fast.feed("company said")
    fast.set_state(saved)
    assert fast.top_k(5, "compa") == got
    assert fast.top_k(3, "zzzzq") == []


def test_greedy_completion_is_repeated_top_1_steps_with_carried_state(ptb):
    for max_k in (None, 50):  # the graph's ranking, and the logits
        p = NextWordPredictor(ptb, max_k=max_k)
        p.feed(TEXT)
        before = p.top_k(5)
        words, ended = p.complete(12)
        assert p.top_k(5) == before  # the predictor stays where it was
        q, steps = NextWordPredictor(ptb, show_special=True), []
        q.feed(TEXT)
        for _ in range(12):
            best = next((w, pr) for w, pr in q.top_k(2) if w != "<unk>")
            if best[0] == "<eos>":
                break
            steps.append(best)
            q.feed([best[0]])
        assert [w for w, _ in words] == [w for w, _ in steps]
        np.testing.assert_allclose([x for _, x in words], [x for _, x in steps], atol=1e-4)  # int8 kernels
        assert ended == (len(steps) < 12)


def test_completion_stops_at_the_end_of_a_sentence(ptb):
    p = NextWordPredictor(ptb)
    p.feed("Mr. Smith said")
    words, ended = p.complete(200)
    assert ended and 0 < len(words) < 200 and "<eos>" not in [w for w, _ in words]


def test_a_seed_makes_sampling_reproducible(ptb):
    p = NextWordPredictor(ptb)
    p.feed(TEXT)
    draws = [p.complete(15, temperature=1.0, top_k=8, seed=seed) for seed in (3, 3, 4)]
    assert draws[0] == draws[1] and draws[0] != draws[2]
    rng = Mulberry32(3)  # one generator continues across calls
    first, second = p.complete(15, 1.0, 8, rng), p.complete(15, 1.0, 8, rng)
    assert first == draws[0] and second != first
    words = {w for w, _ in p.complete(50, temperature=5.0, top_k=20, seed=1)[0]}
    assert "<unk>" not in words


def test_cli_completion_and_its_options():
    out = subprocess.run(EXE + ["stream", "--complete", "6"], input=b"the company said it expects to\n",
                         capture_output=True, timeout=120)
    assert out.returncode == 0 and out.stdout.decode().startswith("the company said it expects to -> report a")
    twice = [subprocess.run(EXE + ["stream", "--complete", "8", "--temperature", "1", "--seed", "9", "--json"],
                            input=b"The\nshares fell\n", capture_output=True, timeout=120).stdout for _ in range(2)]
    assert twice[0] == twice[1] and twice[0].count(b"\n") == 2
    bad = subprocess.run(EXE + ["stream", "--temperature", "1"], input=b"the\n", capture_output=True, timeout=120)
    assert bad.returncode == 2 and b"--complete" in bad.stderr
