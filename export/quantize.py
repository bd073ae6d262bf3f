"""int8 weights for every cell type, with every stream's numbers its own.

onnxruntime's dynamic quantization picks one activation scale per call over the whole input, so
a stream's outputs would depend on its batch-mates and on how its input was chunked. Nothing here
does that:
- Recurrent weights (GRU, RNN, LSTM: W and R) are stored as int8 with a scale per row and a
  DequantizeLinear in front; the runtime folds them into float once at load (weight-only int8).
- Every other weight a model declares with `int8_weights()` is found in the graph by its values
  (so a renamed module cannot silently stay float) and stored as int8. A language model's
  embedding table and output projection use per-row activations (rowwise.py): the projection,
  the bulk of a step, runs in integers with each stream's own scale. A keyword spotter's DFT
  kernel, embedding convolutions and classifier are weight-only; a forecaster declares none.
- What a model does not declare stays float32 (a spotter's mel filters: the power spectrum spans
  too many decades for 8 bits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

PRECISIONS = ("fp32", "int8")
RECURRENT_OPS = ("GRU", "RNN", "LSTM")


class QuantizeError(RuntimeError):
    """A weight the model declares for int8 is not in the graph, or is used in a way we cannot store as int8."""


def quantize(src: Path, dst: Path, task: str, declared: list[np.ndarray] = ()) -> None:
    """Write the int8 model of `src` to `dst` (metadata is set by the caller). `declared`: the
    weights the model stores as int8 besides the recurrent ones (see the module docstring)."""
    model = onnx.load(str(src))
    quantize_recurrent_weights(model.graph, RECURRENT_OPS)
    quantize_declared_weights(model.graph, declared, rowwise=task == "lm")
    onnx.save(model, str(dst))


def quantize_recurrent_weights(graph: onnx.GraphProto, ops: tuple[str, ...] = ("GRU", "RNN")) -> int:
    """Store the W and R weights of `ops` nodes as int8 + DequantizeLinear. Returns how many."""
    slots = [(node.input[slot], 1) for node in graph.node if node.op_type in ops
             for slot in (1, 2)]  # W, R: (directions, gates * hidden, in): one scale per row
    return _store_int8(graph, slots)


def _aliases(graph: onnx.GraphProto) -> dict[str, str]:
    """Identity outputs -> their input: the torch exporter stores equal constants once and hands
    them on through Identity nodes (members of an ensemble with the same DFT, say)."""
    return {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}


def _channel_axis(node: onnx.NodeProto, slot: int) -> int:
    """The axis of one scale per output channel, for a weight used as input `slot` of `node`."""
    if node.op_type == "Conv" and slot == 1:
        return 0  # (out channels, in channels, ...)
    if node.op_type == "MatMul" and slot == 1:
        return 1  # (in, out)
    if node.op_type == "Gemm" and slot == 1:
        trans = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans else 1
    if node.op_type == "Gather" and slot == 0:
        return 0  # one scale per row of the table
    raise QuantizeError(f"a declared int8 weight feeds {node.op_type} (input {slot}), which int8 export cannot store")


def quantize_declared_weights(graph: onnx.GraphProto, declared: list[np.ndarray], rowwise: bool = False) -> int:
    """Store as int8 every initializer equal to a declared weight (or to its transpose, as the
    exporter folds a Linear's weight for MatMul). Refuses a declared weight it cannot find.
    rowwise: a Gather's table and a MatMul's weight go int8 with per-row activations
    (rowwise.py) instead of weight-only."""
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    aliases = _aliases(graph)
    root = lambda name: root(aliases[name]) if name in aliases and name not in inits else name  # noqa: E731
    slots, seen = [], set()
    for weight in declared:
        weight = np.asarray(weight, np.float32)
        names = [n for n, a in inits.items() if a.dtype == np.float32 and (
            (a.shape == weight.shape and np.array_equal(a, weight))
            or (a.ndim == 2 and a.shape == weight.T.shape and np.array_equal(a, weight.T)))]
        if not names:
            raise QuantizeError(f"a weight of shape {tuple(weight.shape)} that the model declares for int8 is "
                                "not in the exported graph")
        for name in names:
            uses = [(node, i) for node in graph.node for i, inp in enumerate(node.input)
                    if node.op_type != "Identity" and inp and root(inp) == name]
            axes = {_channel_axis(node, i) for node, i in uses}
            if len(axes) != 1:
                raise QuantizeError(f"initializer {name} is used {len(uses)} times with different channel axes")
            if name in seen:
                continue
            seen.add(name)
            if rowwise and all(node.op_type in ("Gather", "MatMul") for node, _ in uses):
                _rewrite_rowwise(graph, name, inits[name], [node for node, _ in uses])
            else:
                slots.append((name, axes.pop()))
    return _store_int8(graph, slots) + len(seen) - len(slots)


def _rewrite_rowwise(graph: onnx.GraphProto, name: str, weight: np.ndarray, users: list[onnx.NodeProto]) -> None:
    """Each Gather or MatMul reading `name` becomes its per-row int8 form; the float weight goes."""
    from .rowwise import gather_rows, matmul_rows

    for node in users:
        if node.input[0 if node.op_type == "Gather" else 1] != name:
            raise QuantizeError(f"{name} reaches a {node.op_type} through another name; cannot rewrite it")
        new = (gather_rows if node.op_type == "Gather" else matmul_rows)(graph, node, weight)
        nodes = list(graph.node)
        at = nodes.index(node)
        del graph.node[:]
        graph.node.extend(nodes[:at] + new + nodes[at + 1:])
    graph.initializer.remove(next(t for t in graph.initializer if t.name == name))


def _store_int8(graph: onnx.GraphProto, slots: list[tuple[str, int]]) -> int:
    """Replace each (initializer name, channel axis) by symmetric int8 values with a scale per
    index of that axis, dequantized in the graph (folded into float at load by our Session)."""
    inits = {t.name: t for t in graph.initializer}
    aliases = _aliases(graph)
    new_nodes, done = [], set()
    for name, axis in slots:
        while name not in inits and name in aliases:
            name = aliases[name]
        if name not in inits or name in done:
            continue
        weight = numpy_helper.to_array(inits[name]).astype(np.float32)
        others = tuple(i for i in range(weight.ndim) if i != axis)
        scale = np.maximum(np.abs(weight).max(axis=others), 1e-12) / 127.0
        shape = [1] * weight.ndim
        shape[axis] = -1
        q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        graph.initializer.extend([numpy_helper.from_array(q, name + "_int8"),
                                  numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                                  numpy_helper.from_array(np.zeros_like(scale, np.int8), name + "_zero")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_int8", name + "_scale", name + "_zero"],
                                          [name], name=name + "_dequantize", axis=axis))
        done.add(name)
    if new_nodes:
        nodes = new_nodes + list(graph.node)  # dequantizers first keeps the graph topologically sorted
        del graph.node[:]
        graph.node.extend(nodes)
    return len(done)
