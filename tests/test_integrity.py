"""Nothing wrong passes silently: damaged files, foreign external data and metadata that parses
but is wrong are refused with one clear line, before anything runs or is allocated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest

from edge_rnn.runtime.errors import UserError
from edge_rnn.runtime.model_file import DIGEST_KEY, IntegrityWarning, read_model
from edge_rnn.runtime.session import Session

from conftest import rewrite_metadata

EXE = [sys.executable, "-m", "edge_rnn.cli"]


def test_exports_carry_a_digest_that_verifies(lm_int8):
    assert Session(lm_int8).file.verified
    assert next(p for p in onnx.load(str(lm_int8)).metadata_props).key == DIGEST_KEY  # the first entry


@pytest.mark.parametrize("model", ["lm_int8", "kws_int8"])
def test_every_damaged_copy_is_refused(model, request, tmp_path):
    """Random byte changes anywhere, and the file cut short anywhere: never a model that loads."""
    data = request.getfixturevalue(model).read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "damaged.onnx"
    cases = [("flip", int(p)) for p in rng.integers(0, len(data), 400)]
    cases += [("cut", int(n)) for n in rng.integers(1, len(data), 100)]
    for kind, at in cases:
        if kind == "flip":
            damaged = bytearray(data)
            damaged[at] ^= int(rng.integers(1, 256))
        else:
            damaged = data[:at]
        path.write_bytes(bytes(damaged))
        with warnings.catch_warnings():
            warnings.simplefilter("error", IntegrityWarning)  # loading with a mere warning counts as a miss
            with pytest.raises((UserError, IntegrityWarning)):
                Session(path)


def test_a_file_without_digest_loads_with_a_warning(lm_onnx, tmp_path):
    old = rewrite_metadata(lm_onnx, tmp_path / "old.onnx", {DIGEST_KEY: None}, stamp=False)
    with pytest.warns(IntegrityWarning, match="no integrity digest"):
        session = Session(old)
    assert not session.file.verified and session.contract.task == "lm"
    r = subprocess.run(EXE + ["inspect", str(old), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and json.loads(r.stdout)["integrity"] == "no digest" and "no integrity digest" in r.stderr


def test_metadata_not_utf8_is_one_line(lm_onnx, tmp_path):
    data = lm_onnx.read_bytes()
    key = b"edge_rnn.eos"
    i = data.index(key)
    bad = tmp_path / "latin1.onnx"
    bad.write_bytes(data[:i] + b"edge_rnn.e\xf6s" + data[i + len(key):])
    with pytest.raises(UserError, match="not UTF-8"):
        read_model(bad)


def _external_model(folder, location: str):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "64")):
        w.external_data.add(key=k, value=v)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    folder.mkdir(exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


def test_external_data_is_refused_unless_asked_and_then_only_inside_the_folder(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(16, dtype=np.float32).tobytes())
    inside = tmp_path / "m" / "data.bin"
    model = _external_model(tmp_path / "m", "data.bin")
    inside.write_bytes(np.ones(16, np.float32).tobytes())
    with pytest.raises(UserError, match="keeps tensor data in other files"):
        read_model(model)
    assert read_model(model, allow_external_data=True).external == ["data.bin"]
    inside.unlink()
    os.link(secret, inside)  # a hardlink: the file elsewhere would appear inside the folder
    with pytest.raises(UserError, match="link"):
        read_model(model, allow_external_data=True)
    inside.unlink()
    inside.symlink_to(secret)
    with pytest.raises(UserError, match="not a file inside its folder|link"):
        read_model(model, allow_external_data=True)
    for location in ("../secret.bin", str(secret), "data\0.bin", ""):
        with pytest.raises(UserError):
            read_model(_external_model(tmp_path / "n", location), allow_external_data=True)


BAD_METADATA = [
    ("kws", {"edge_rnn.hop": "0"}, "hop"), ("kws", {"edge_rnn.hop": "-640"}, "hop"),
    ("kws", {"edge_rnn.sample_rate": "0"}, "sample_rate"), ("kws", {"edge_rnn.sample_rate": "fast"}, "sample_rate"),
    ("kws", {"edge_rnn.labels": '"zero"'}, "labels"), ("kws", {"edge_rnn.labels": "[]"}, "labels"),
    ("kws", {"edge_rnn.labels": '["_background_", "_unknown_"]'}, "labels"),
    ("kws", {"edge_rnn.labels": "[not json"}, "not JSON"),
    ("kws", {"edge_rnn.detector": "[0.5]"}, "detector"), ("kws", {"edge_rnn.detector": '{"threshold": "x"}'}, "threshold"),
    ("kws", {"edge_rnn.detector": '{"smooth_frames": -3}'}, "smooth_frames"),
    ("kws", {"edge_rnn.states": "[]"}, "states"),
    ("lm", {"edge_rnn.states": '[{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 0]}]'}, "size"),
    ("lm", {"edge_rnn.states": '[{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", -5]}]'}, "size"),
    ("lm", {"edge_rnn.states": '[{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 1e10]}]'}, "size"),
    ("lm", {"edge_rnn.states": '[{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 10000000000]}]'},
     "size"),
    ("lm", {"edge_rnn.top_k": "100000"}, "top_k"), ("lm", {"edge_rnn.vocab": '["<unk>", "<eos>"]'}, "vocab"),
    ("lm", {"edge_rnn.unk": "<nope>"}, "unk"), ("lm", {"edge_rnn.task": "vision"}, "unknown task"),
    ("lm", {"edge_rnn.text_rules": '["ptb"]'}, "text_rules"), ("lm", {"edge_rnn.text_rules": "{bad"}, "not JSON"),
    ("lm", {"edge_rnn.text_rules": '{"lowercase": "yes"}'}, "text_rules"),
]


@pytest.mark.parametrize("task, changes, message", BAD_METADATA)
def test_wrong_metadata_is_refused_by_every_command(task, changes, message, tmp_path, lm_onnx, kws_onnx):
    bad = rewrite_metadata(lm_onnx if task == "lm" else kws_onnx, tmp_path / "bad.onnx", changes)
    with pytest.raises(UserError, match=message):
        Session(bad)
    for args in (["inspect", str(bad)], ["stream", "--model", str(bad)]):
        r = subprocess.run(EXE + args, input=b"the cat\n", capture_output=True, timeout=120)
        lines = r.stderr.decode().strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and r.stdout == b"", (args, r.stderr)


def test_a_state_size_that_disagrees_with_the_graph_is_refused(lm_onnx, tmp_path):
    states = json.loads({p.key: p.value for p in onnx.load(str(lm_onnx)).metadata_props}["edge_rnn.states"])
    states[0]["shape"][1] = 7
    bad = rewrite_metadata(lm_onnx, tmp_path / "bad.onnx", {"edge_rnn.states": json.dumps(states)})
    with pytest.raises(UserError, match=r"in the graph but \[batch, 7\]"):
        Session(bad)


def test_a_killed_writer_leaves_a_consistent_set_and_no_temporaries(tmp_path):
    """The moments a kill can fall on, replayed: before the journal (the old set stays), after it
    (the next reader completes the new set); temporaries of dead writers are swept."""
    import json as js

    from edge_rnn.runtime.fileio import JOURNAL, recover, write_set

    run = tmp_path / "run"
    write_set(run, {"last.pt": lambda p: p.write_text("1"), "metrics.json": lambda p: p.write_text("[1]")})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    (run / f".best.pt.{pid}.abcdefgh.tmp").write_text("2")  # killed before its journal: an orphan
    (run / f".last.pt.{pid}.abcdefgh.tmp").write_text("2")
    recover(run)
    assert sorted(p.name for p in run.iterdir()) == ["last.pt", "metrics.json"] and (run / "last.pt").read_text() == "1"
    # killed after the journal, before or between the renames: the journal is completed
    (run / f".last.pt.{pid}.ijklmnop.tmp").write_text("2")
    (run / f".metrics.json.{pid}.qrstuvwx.tmp").write_text("[1, 2]")
    (run / JOURNAL).write_text(js.dumps({f".last.pt.{pid}.ijklmnop.tmp": "last.pt",
                                         f".metrics.json.{pid}.qrstuvwx.tmp": "metrics.json"}))
    recover(run)
    assert (run / "last.pt").read_text() == "2" and (run / "metrics.json").read_text() == "[1, 2]"
    assert sorted(p.name for p in run.iterdir()) == ["last.pt", "metrics.json"]


def test_a_killed_export_leaves_nothing_for_long(tmp_path, lm_checkpoint):
    """An export killed with -9 leaves its scratch folder; the next export removes it."""
    import signal
    import tempfile
    import time
    from pathlib import Path

    code = ("import sys; from edge_rnn.checkpoint import export_checkpoints; "
            f"export_checkpoints({str(lm_checkpoint)!r}, {str(tmp_path / 'a.onnx')!r}, 'int8')")
    proc = subprocess.Popen([sys.executable, "-c", code])
    scratch = Path(tempfile.gettempdir())
    deadline = time.monotonic() + 120
    while not list(scratch.glob(f"edge-rnn-export-{proc.pid}-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(scratch.glob(f"edge-rnn-export-{proc.pid}-*")), "the export should have been killed mid-way"
    from edge_rnn.checkpoint import export_checkpoints

    export_checkpoints(lm_checkpoint, tmp_path / "b.onnx")
    assert not list(scratch.glob(f"edge-rnn-export-{proc.pid}-*")) and not (tmp_path / "a.onnx").exists()


@pytest.mark.parametrize("model", ["lm_onnx", "lm_int8"])
def test_pooled_chunked_and_stepped_streams_agree_over_a_long_run(model, request):
    """Streams join and leave a pool at random over 1500 steps; each one's rankings equal those of
    the same stream alone, stepped, and its final state that of its whole text fed as one chunk."""
    from edge_rnn.runtime.pool import StreamPool

    session = Session(request.getfixturevalue(model))
    rng = np.random.default_rng(1)
    vocab = len(session.contract.vocab)
    pool, live, done = StreamPool(session, capacity=6), {}, []
    for _ in range(1500):
        if len(live) < 6 and rng.random() < 0.3:
            slot = pool.join()
            live[slot] = {"tokens": [], "got": []}
        if live and rng.random() < 0.02:
            slot = list(live)[rng.integers(len(live))]
            done.append((live.pop(slot), [s[slot].copy() for s in pool.states]))
            pool.leave(slot)
        for slot, stream in live.items():
            if rng.random() < 0.8:
                token = int(rng.integers(0, vocab))
                stream["tokens"].append(token)
                pool.push(slot, token)
        for slot, (probs, ids) in pool.step().items():
            live[slot]["got"].append((probs.copy(), ids.copy()))
    done += [(stream, [s[slot].copy() for s in pool.states]) for slot, stream in live.items()]
    assert sum(len(s["tokens"]) for s, _ in done) > 3000
    for stream, final in done:
        state = session.zero_state(1)
        for token, (probs, ids) in zip(stream["tokens"], stream["got"]):
            want_probs, want_ids, *state = session.run_outputs(np.array([[token]]), state, ["next_probs", "next_ids"])
            np.testing.assert_allclose(probs, want_probs[0], atol=1e-6)
            assert np.array_equal(ids, want_ids[0])
        if stream["tokens"]:
            _, whole = session.run(np.array([stream["tokens"]]), session.zero_state(1))
            for a, b in zip(whole, final):
                np.testing.assert_allclose(a[0], b, atol=1e-5)
