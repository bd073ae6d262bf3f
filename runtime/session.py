"""A stateful streaming session over any edge-rnn ONNX model.

`Session` owns the onnxruntime session and the contract read from the model's metadata; it
holds no stream state, so many streams (threads, users) share one safely. A `Stream`
(stream.py) holds one stream's state and advances it chunk by chunk.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .bundled import resolve_model
from .contract import Contract, parse_metadata
from .errors import UserError
from .model_file import read_model

TASK_NAMES = {"lm": "language model", "kws": "keyword spotter", "series": "forecaster"}
MAX_THREADS = 256


def session_options(threads: int = 1, optimized_path: str | None = None, fold_int8: bool = True) -> ort.SessionOptions:
    """Options for small recurrent models on small devices.

    One intra-op thread by default: a step is far too small to split across threads, and
    the other cores stay free for the app (or for more sessions). Full graph optimisation;
    `optimized_path` saves the optimised graph so a device can skip that work at load.
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads <= 1:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Our int8 GRU/RNN weights are stored as int8 + DequantizeLinear. Left as QDQ, onnxruntime
    # keeps those nodes and dequantizes every call; treated as plain ops they are folded into
    # float weights once at load (same outputs, a cheaper call: BENCHMARKS.md, benchmarks/kws_ab.py).
    opts.add_session_config_entry("session.disable_quant_qdq", "1" if fold_int8 else "0")
    if optimized_path:
        opts.optimized_model_filepath = str(optimized_path)
    opts.log_severity_level = 3
    return opts


class Session:
    """An edge-rnn model loaded into onnxruntime, with its contract.

    model: path to an .onnx file, or a bundled model's name (`ptb-lm`, `fsdd-kws`, `seattle-temp`).
    task: refuse a model of another task ("lm", "kws" or "series"). The file's integrity digest and its
    whole contract are checked before the model runs (see model_file.py and contract.py);
    `allow_external_data` admits tensors kept in files beside the model (edge-rnn's never are).
    """

    def __init__(self, model: str | Path, task: str | None = None, threads: int = 1,
                 optimized_path: str | None = None, allow_external_data: bool = False):
        if not 1 <= threads <= MAX_THREADS:
            raise UserError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
        self.path = resolve_model(model)
        self.file = read_model(self.path, allow_external_data)
        self.contract: Contract = parse_metadata(self.file.metadata, str(self.path))
        if task is not None and self.contract.task != task:
            raise UserError(f"{self.path} is a {TASK_NAMES[self.contract.task]}, "
                            f"but this command needs a {TASK_NAMES[task]}")
        # the bytes just checked are the ones loaded (with external data, onnxruntime needs the path)
        source = str(self.path) if self.file.external else self.file.data
        self.ort = _load(source, session_options(threads, optimized_path), self.path)
        check_graph(self.contract, self.ort, str(self.path))
        c = self.contract
        self.input_names = [c.input] + [s.input for s in c.states]
        self.output_names = [c.output] + [s.output for s in c.states]
        self.input_dtype = np.int64 if c.task == "lm" else np.float32

    def zero_state(self, batch: int = 1) -> list[np.ndarray]:
        """The state at the start of a stream: zeros, float32 (batch, size) per state."""
        return [np.zeros((batch, s.size), np.float32) for s in self.contract.states]

    def run(self, x: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One call: x (batch, time) (a forecaster: (batch, time, inputs)) and the states in;
        (output, new states) out.

        An empty chunk is refused here: onnxruntime may abort or zero the state on time 0.
        """
        out = self.run_outputs(x, state, self.output_names[:1])
        return out[0], out[1:]

    def run_outputs(self, x: np.ndarray, state: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
        """One call returning the named outputs followed by the new states."""
        c = self.contract
        if c.task == "series":
            if x.ndim != 3 or x.shape[2] != c.input_width or x.shape[1] == 0 or x.shape[0] == 0:
                raise ValueError(f"a chunk must be (batch, time, {c.input_width}) with batch, time >= 1, got {x.shape}")
        elif x.ndim != 2 or x.shape[1] == 0 or x.shape[0] == 0:
            raise ValueError(f"a chunk must be (batch, time) with batch, time >= 1, got {x.shape}")
        feeds = dict(zip(self.input_names, [x, *state]))
        return self.ort.run(names + self.output_names[1:], feeds)


def _load(source: str | bytes, options: ort.SessionOptions, path: Path) -> ort.InferenceSession:
    """An onnxruntime session; its own messages (it prints a retry notice on stdout when a model
    fails to load) are kept off stdout, which belongs to the caller's results."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a corrupt or foreign file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} is not a loadable ONNX model: {first[:200]}") from None


def check_graph(c: Contract, session: ort.InferenceSession, where: str) -> None:
    """The graph has the inputs and outputs the contract names, with the sizes it states."""
    inputs = {a.name: a for a in session.get_inputs()}
    outputs = {a.name: a for a in session.get_outputs()}
    wanted = [(inputs, c.input, None), (outputs, c.output, None)]
    wanted += [(side, name, s.size) for s in c.states for side, name in ((inputs, s.input), (outputs, s.output))]
    for side, name, size in wanted:
        if name not in side:
            raise UserError(f"{where} lacks the input or output {name!r} that its metadata names")
        shape = side[name].shape
        if size is not None and (len(shape) != 2 or isinstance(shape[1], int) and shape[1] != size):
            raise UserError(f"{where}: state {name!r} is {shape} in the graph but [batch, {size}] in its metadata")
    last = outputs[c.output].shape[-1]
    if c.task == "series":
        width = inputs[c.input].shape[-1]
        if isinstance(width, int) and width != c.input_width:
            raise UserError(f"{where}: {c.input!r} takes {width} numbers a step but the metadata names {c.input_width}")
        if isinstance(last, int) and last != c.horizon:
            raise UserError(f"{where}: {c.output!r} has {last} steps but edge_rnn.horizon is {c.horizon}")
        return
    classes = len(c.vocab) if c.task == "lm" else len(c.labels)
    if isinstance(last, int) and last != classes:
        raise UserError(f"{where}: {c.output!r} has {last} classes but the metadata lists {classes}")
    if c.top_k and ("next_probs" not in outputs or "next_ids" not in outputs):
        raise UserError(f"{where} sets edge_rnn.top_k but has no next_probs/next_ids outputs")
