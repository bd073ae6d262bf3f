"""Measurements of the runtime (numpy + onnxruntime only): step and chunk latency, batched
streams, keyword-spotting real-time factor, load time, peak RSS, and this machine's floor.

`edge-rnn bench` runs these; benchmarks/compare.py adds PyTorch eager and TorchScript beside
them in the same run. Times are medians of many individually timed calls, except a keyword
spotter's real-time factor: the median of a few whole passes over its audio (see stream_rtf).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.pool import StreamPool
from edge_rnn.runtime.session import Session, session_options


def median_seconds(fn: Callable[[], object], repeats: int = 300, warmup: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1e9


# --- the machine's floor ------------------------------------------------------------------

def read_bandwidth(nbytes: int, repeats: int = 50) -> float:
    """Bytes per second for reading a buffer of `nbytes` again and again (a model's weights
    are read every step, so they stay in cache as long as they fit)."""
    buf = np.ones(max(nbytes // 8, 1024), np.float64)
    seconds = median_seconds(lambda: buf.sum(), repeats=repeats, warmup=5)
    return buf.nbytes / seconds


def _graph_session(nodes, inputs, outputs, inits=()) -> ort.InferenceSession:
    """A one-node graph built on the spot, for measuring the machine."""
    from .tiny_onnx import model_bytes

    return ort.InferenceSession(model_bytes(nodes, inputs, outputs, inits), session_options(1),
                                providers=["CPUExecutionProvider"])


def empty_call_seconds() -> float:
    """One onnxruntime call that does nothing (Identity of one float), through the Python API."""
    sess = _graph_session([("Identity", ["x"], ["y"])], [("x", np.float32, [1])], [("y", np.float32, [1])])
    feed = {"x": np.zeros(1, np.float32)}
    return median_seconds(lambda: sess.run(["y"], feed), repeats=2000)


def peak_macs_per_second(kind: str, m: int = 256, k: int = 1024, n: int = 2048) -> float:
    """Multiply-accumulates per second of one big MatMul (fp32) or MatMulInteger (int8)."""
    rng = np.random.default_rng(0)
    if kind == "int8":
        a = rng.integers(0, 255, (m, k), dtype=np.uint8)
        b = rng.integers(-127, 127, (k, n), dtype=np.int8)
        sess = _graph_session([("MatMulInteger", ["a", "b"], ["y"])], [("a", np.uint8, [m, k])],
                              [("y", np.int32, [m, n])], [("b", b)])
    else:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        sess = _graph_session([("MatMul", ["a", "b"], ["y"])], [("a", np.float32, [m, k])],
                              [("y", np.float32, [m, n])], [("b", b)])
    seconds = median_seconds(lambda: sess.run(["y"], {"a": a}), repeats=30, warmup=3)
    return m * k * n / seconds


def weight_bytes_per_step(path: Path) -> int:
    """Bytes of weights one token step reads: every initializer, but of an embedding table
    (a Gather's data) only one row."""
    from edge_rnn.runtime.model_file import initializers

    tensors, gathered = initializers(path.read_bytes())
    return sum(nbytes // max(dims[0], 1) if name in gathered and dims else nbytes
               for name, (nbytes, dims) in tensors.items())


def lm_macs_per_token(config: dict) -> int:
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[config["cell"]]
    sizes = [config["embedding"]] + config["hidden"]
    rnn = sum(gates * h * (i + h) for i, h in zip(sizes[:-1], sizes[1:]))
    return rnn + config["hidden"][-1] * config["vocab_size"]


# --- the runtime ----------------------------------------------------------------------------

def lm_rows(path: Path, threads: int = 1) -> dict:
    """Token step, prefix chunk and batched streams of a language model."""
    session = Session(path, "lm", threads)
    predictor = NextWordPredictor(session)
    vocab = len(session.contract.vocab)
    rng = np.random.default_rng(0)
    words = [session.contract.vocab[i] for i in rng.integers(2, vocab, 4096)]
    it = iter(range(10**9))

    def step():
        predictor.feed([words[next(it) % 4096]])
        return predictor.top_k(5)

    out = {"token_step_s": median_seconds(step, repeats=1000)}
    state = session.zero_state(1)
    tok = np.array([[5]], np.int64)
    out["raw_step_s"] = median_seconds(lambda: session.run(tok, state), repeats=1000)
    chunk = rng.integers(2, vocab, (1, 32)).astype(np.int64)
    out["chunk32_per_token_s"] = median_seconds(lambda: session.run(chunk, state), repeats=200) / 32
    for batch in (1, 8, 64, 256):
        pool = StreamPool(session, capacity=batch)
        slots = [pool.join() for _ in range(batch)]
        tokens = rng.integers(2, vocab, batch).tolist()

        def pool_step():
            for slot, token in zip(slots, tokens):
                pool.push(slot, token)
            return pool.step()

        sec = median_seconds(pool_step, repeats=max(20, 2000 // batch))
        out[f"streams{batch}_tokens_per_s"] = batch / sec
    return out


def stream_rtf(session: Session, chunks: list[np.ndarray], rate: int) -> float:
    """Real-time factor of one spotter fed `chunks` in turn: the wall time of the whole pass over
    the audio's duration. Not a median per call: a model whose hop is longer than a chunk (80 ms
    for the speech-embedding spotters) runs only on some calls and buffers on the rest, so the
    typical call would leave its work out."""
    from edge_rnn.runtime.kws import KeywordSpotter

    spotter = KeywordSpotter(session)
    for chunk in chunks[:5]:  # warm up, then start the stream again
        spotter.process(chunk)
    spotter.reset()
    t = time.perf_counter_ns()
    for chunk in chunks:
        spotter.process(chunk)
    return (time.perf_counter_ns() - t) / 1e9 / (sum(c.size for c in chunks) / rate)


def kws_rows(path: Path, seconds: float = 30.0, passes: int = 3) -> dict:
    """Real-time factor (compute time / audio time) at 10 ms, 100 ms and 1 s chunks: the median
    of `passes` passes over the same noise."""
    session = Session(path, "kws", 1)
    rate = session.contract.sample_rate
    audio = (np.random.default_rng(0).standard_normal(int(seconds * rate)) * 0.05).astype(np.float32)
    out = {}
    for ms in (10, 100, 1000):
        size = rate * ms // 1000
        chunks = [audio[i : i + size] for i in range(0, audio.size - size + 1, size)]
        out[f"rtf_{ms}ms"] = statistics.median(stream_rtf(session, chunks, rate) for _ in range(passes))
    return out


_RSS_CODE = """
import json, resource, sys, time
t = time.perf_counter()
from edge_rnn.runtime.lm import NextWordPredictor
from edge_rnn.runtime.pool import StreamPool
p = NextWordPredictor(sys.argv[1])
load = time.perf_counter() - t
for w in "the company said it expects to report a loss for the third quarter".split() * 20:
    p.feed([w]); p.top_k(5)
def peak_rss_mb():
    # VmHWM is this program's own high-water mark; ru_maxrss would also count the memory of
    # the parent that forked us before exec.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_rss_mb": peak_rss_mb(),
                  "import_and_load_s": load, "torch_imported": "torch" in sys.modules}))
"""


def runtime_process(path: Path) -> dict:
    """Peak RSS of a fresh process that only imports the runtime and streams the model."""
    out = subprocess.run([sys.executable, "-c", _RSS_CODE, str(path)], capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout)


def load_seconds(path: Path) -> float:
    return median_seconds(lambda: Session(path), repeats=7, warmup=1)


def machine() -> dict:
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "onnxruntime": ort.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0],
            "date": time.strftime("%Y-%m-%d", time.gmtime())}


def floor_rows(lm_path: Path) -> dict:
    step_bytes = weight_bytes_per_step(lm_path)
    out = {"weight_bytes_per_step": step_bytes,
           "read_bandwidth_Bps": read_bandwidth(step_bytes),
           "dram_bandwidth_Bps": read_bandwidth(1 << 29, repeats=5),
           "empty_call_s": empty_call_seconds(),
           "peak_int8_macs": peak_macs_per_second("int8"),
           "peak_fp32_macs": peak_macs_per_second("fp32")}
    out["step_floor_s"] = step_bytes / out["read_bandwidth_Bps"] + out["empty_call_s"]
    return out


BENCH_STEPS = 5  # the progress ticks of run_runtime_bench with one keyword spotter


def run_runtime_bench(lm_path: Path, kws_models: dict[str, Path], progress=None) -> dict:
    """Everything the runtime alone can measure, in one run. `kws_models`: name -> keyword spotter."""
    tick = progress or (lambda label: None)
    result = {"machine": machine()}
    tick("floor")
    result["floor"] = floor_rows(lm_path)
    session = Session(lm_path, "lm")
    macs = lm_macs_per_token(session.contract.config)
    result["floor"]["macs_per_token"] = macs
    result["floor"]["batch_floor_tokens_per_s"] = result["floor"]["peak_int8_macs"] / macs
    tick("lm, 1 thread")
    result["lm"] = lm_rows(lm_path, 1)
    tick("lm, 2 threads")
    result["lm_2threads"] = {k: v for k, v in lm_rows(lm_path, 2).items() if k.startswith("streams")}
    result["kws"] = {}
    for name, path in kws_models.items():
        tick(f"keyword spotting ({name})")
        result["kws"][name] = {**kws_rows(path), "bytes": path.stat().st_size}
    tick("runtime process")
    result["process"] = runtime_process(lm_path)
    result["process"]["load_s"] = load_seconds(lm_path)
    result["files"] = {"lm_bytes": lm_path.stat().st_size}
    return result
