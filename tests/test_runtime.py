"""The runtime: numpy + onnxruntime only, state per stream, bad models and chunks refused."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import onnx
import pytest

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.lm import NextWordPredictor, evaluate_text
from edge_rnn.runtime.session import Session

from conftest import rewrite_metadata


def test_runtime_import_does_not_import_torch():
    code = ("import sys, edge_rnn, edge_rnn.runtime, edge_rnn.runtime.session, edge_rnn.runtime.lm, "
            "edge_rnn.runtime.kws, edge_rnn.runtime.audio, edge_rnn.cli; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_empty_chunk_is_refused_before_onnxruntime(lm_onnx):
    session = Session(lm_onnx)
    with pytest.raises(ValueError, match="time >= 1"):
        session.run(np.zeros((1, 0), np.int64), session.zero_state())
    p = NextWordPredictor(session)
    before = p.top_k(3)
    p.feed("")  # nothing to feed: a no-op, not a zeroed state
    assert p.top_k(3) == before


def test_unknown_words_map_to_unk(lm_onnx, tmp_path):
    a, b = NextWordPredictor(lm_onnx), NextWordPredictor(lm_onnx)
    assert a.feed("the cat qwertyuiop") == ["the", "cat", "qwertyuiop"]
    b.feed(["the", "cat", "<unk>"])
    assert a.top_k(5) == b.top_k(5)
    c = NextWordPredictor(lm_onnx)
    c.feed("The CAT sees")  # a model without text rules: a word is itself, capitals and all
    d = NextWordPredictor(lm_onnx)
    d.feed("<unk> <unk> sees")
    assert c.top_k(5) == d.top_k(5)
    lower = rewrite_metadata(lm_onnx, tmp_path / "lower.onnx", {"edge_rnn.text_rules": '{"lowercase": true}'})
    e = NextWordPredictor(lower)
    assert e.feed("The CAT sees") == ["the", "cat", "sees"]  # its rules lower the case
    f = NextWordPredictor(lm_onnx)
    f.feed("the cat sees")
    assert e.top_k(5) == f.top_k(5)


def test_prefix_chunk_equals_word_by_word(lm_onnx):
    a, b = NextWordPredictor(lm_onnx), NextWordPredictor(lm_onnx)
    a.feed("the cat sees a bird")
    for w in "the cat sees a bird".split():
        b.feed(w)
    for (wa, pa), (wb, pb) in zip(a.top_k(5), b.top_k(5)):
        assert wa == wb and abs(pa - pb) < 1e-5


def test_top_k_is_sorted_probabilities(lm_onnx):
    p = NextWordPredictor(lm_onnx)
    p.feed("the")
    probs = [q for _, q in p.top_k(10)]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6


def test_get_set_state_and_bytes_resume_identically(lm_onnx):
    p = NextWordPredictor(lm_onnx)
    p.feed("my friend likes")
    saved = p.get_state()
    blob = p.stream.state_bytes()
    p.feed("the house")
    expected = p.top_k(5)
    p.reset()
    p.set_state(saved)
    p.feed("the house")
    assert p.top_k(5) == expected
    q = NextWordPredictor(Session(lm_onnx))  # "another process": a new session, state from bytes
    q.stream.load_state_bytes(blob)
    q.feed("the house")
    assert q.top_k(5) == expected
    with pytest.raises(ValueError):
        q.stream.load_state_bytes(blob[:-4])


def test_streams_share_one_session_without_leaking(lm_onnx):
    session = Session(lm_onnx)
    texts = ["the cat sees the ball", "a dog calls my friend", "our neighbour helps a bird"]
    expected = []
    for t in texts:
        p = NextWordPredictor(Session(lm_onnx))
        p.feed(t)
        expected.append(p.top_k(3))
    results = [None] * len(texts)

    def run(i):
        p = NextWordPredictor(session)
        for _ in range(20):
            p.reset()
            for w in texts[i].split():
                p.feed(w)
        results[i] = p.top_k(3)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for got, want in zip(results, expected):
        assert [w for w, _ in got] == [w for w, _ in want]


def test_batch_of_streams_equals_single_streams(lm_onnx):
    session = Session(lm_onnx)
    tokens = np.array([[3, 4, 5], [6, 7, 8], [9, 3, 2]], np.int64)
    batch_out, _ = session.run(tokens, session.zero_state(3))
    for i in range(3):
        single, _ = session.run(tokens[i : i + 1], session.zero_state(1))
        np.testing.assert_allclose(batch_out[i : i + 1], single, atol=1e-5)


def test_unknown_format_and_wrong_task_refused(lm_onnx, tmp_path):
    future = rewrite_metadata(lm_onnx, tmp_path / "future.onnx", {"edge_rnn.format": "99"})
    with pytest.raises(UserError, match="format '99'"):
        Session(future)
    with pytest.raises(UserError, match="is a language model, but this command needs a keyword spotter"):
        Session(lm_onnx, task="kws")


def test_not_a_model_and_missing_file(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 definitely not protobuf" * 10)
    with pytest.raises(UserError):
        Session(junk)
    with pytest.raises(UserError, match="not found"):
        Session(tmp_path / "nope.onnx")


def test_foreign_onnx_without_contract_refused(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(UserError, match="not an edge-rnn model"):
        Session(path)


def test_evaluate_text_perplexity(lm_onnx, corpus):
    r1 = evaluate_text(Session(lm_onnx), corpus[1], chunk=7)
    r2 = evaluate_text(Session(lm_onnx), corpus[1], chunk=300)
    assert r1["tokens"] == r2["tokens"] == sum(len(l.split()) + 1 for l in corpus[1].read_text().splitlines())
    assert abs(r1["perplexity"] - r2["perplexity"]) < 1e-3 * r1["perplexity"]
    assert 1.0 < r1["perplexity"] < 22  # a trained model beats uniform over its vocabulary


def test_fast_token_path_equals_plain_path(lm_int8):
    fast = NextWordPredictor(lm_int8)
    plain = NextWordPredictor(lm_int8, max_k=50)  # more than the graph ranks: logits path
    assert fast.fast and not plain.fast
    for word in "the cat sees a bird . my friend calls the river".split():
        fast.feed(word)
        plain.feed(word)
        got, want = fast.top_k(5), plain.top_k(5)
        assert [w for w, _ in got] == [w for w, _ in want]
        assert np.allclose([p for _, p in got], [p for _, p in want], atol=1e-5)
    chunked = NextWordPredictor(lm_int8)
    chunked.feed("the cat sees a bird . my friend calls the river")
    assert [w for w, _ in chunked.top_k(5)] == [w for w, _ in fast.top_k(5)]
    # int8 activations are quantized per call (their range is measured over the whole chunk),
    # so a chunk and single steps agree to quantization error, not to float rounding
    np.testing.assert_allclose(chunked.stream.state[0], fast.stream.state[0], atol=5e-3)


def test_fast_path_state_save_restore(lm_int8):
    p = NextWordPredictor(lm_int8)
    p.feed("the")
    p.feed("cat")
    blob = p.stream.state_bytes()
    saved = p.get_state()
    p.feed("sees")
    want = p.top_k(5)
    q = NextWordPredictor(lm_int8)
    q.stream.load_state_bytes(blob)
    q.feed("sees")
    assert q.top_k(5) == want
    p.set_state(saved)
    p.feed("sees")
    assert p.top_k(5) == want
    longer = p.top_k(11)  # past the graph's ranking: the last step again, for the logits
    assert [w for w, _ in longer[:5]] == [w for w, _ in want]
    np.testing.assert_allclose([q for _, q in longer[:5]], [q for _, q in want], atol=1e-5)
    for k in (0, len(p.vocab) + 1):
        with pytest.raises(ValueError):
            p.top_k(k)


def test_stream_pool_matches_independent_streams(lm_onnx):
    from edge_rnn.runtime.pool import StreamPool

    session = Session(lm_onnx)
    pool = StreamPool(session, capacity=4)
    texts = {"a": "the cat sees a bird", "b": "my friend calls", "c": "a dog likes the river ."}
    slots, cursor = {}, {}
    # streams join at different times and leave when their text ends
    schedule = {0: ["a"], 1: ["b"], 3: ["c"]}
    last = {}
    for t in range(12):
        for name in schedule.get(t, []):
            slots[name] = pool.join()
            pool.push_word(slots[name], "<eos>")
            cursor[name] = 0
        for name, slot in list(slots.items()):
            if cursor[name] and cursor[name] <= len(texts[name].split()):
                pool.push_word(slot, texts[name].split()[cursor[name] - 1])
        out = pool.step()
        for name, slot in list(slots.items()):
            if slot in out:
                last[name] = out[slot]
                cursor[name] += 1
                if cursor[name] > len(texts[name].split()):
                    pool.leave(slot)
                    del slots[name]
    for name, text in texts.items():
        p = NextWordPredictor(session, show_special=True)  # the pool ranks every word
        p.feed(text)
        probs, ids = last[name]
        assert [p.vocab.words[i] for i in ids[:5]] == [w for w, _ in p.top_k(5)]
        np.testing.assert_allclose(probs[:5], [q for _, q in p.top_k(5)], atol=1e-5)
    assert len(pool._free) == 4  # every stream left


def test_no_bare_export_or_runtime_package_installed(tmp_path):
    code = ("import importlib.util, json; "
            "print(json.dumps([importlib.util.find_spec(n) is not None for n in ('export', 'runtime')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(out.stdout) == [False, False]


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from edge_rnn.runtime.fileio import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644  # not mkstemp's 0600
    assert (tmp_path / "out.txt").read_text() == "x"


def test_stream_pool_misuse_is_refused(lm_onnx, kws_onnx):
    from edge_rnn.runtime.errors import UserError
    from edge_rnn.runtime.pool import StreamPool

    with pytest.raises(UserError, match="needs a language model"):
        StreamPool(Session(kws_onnx))
    pool = StreamPool(Session(lm_onnx), capacity=2)
    a, b = pool.join(), pool.join()
    with pytest.raises(RuntimeError, match="full"):
        pool.join()
    with pytest.raises(KeyError, match="has not joined"):
        pool.push(7, 3)
    pool.push(a, 3)
    with pytest.raises(ValueError, match="already has a token waiting"):
        pool.push(a, 4)
    assert set(pool.step()) == {a}  # only the stream with a token moved
    pool.leave(b)
    with pytest.raises(KeyError):
        pool.push(b, 3)
    with pytest.raises(KeyError, match="left already"):
        pool.leave(b)  # twice would hand its row to two streams
    with pytest.raises(KeyError, match="never joined"):
        pool.leave(1 - a if b == a else 5)
