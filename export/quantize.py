"""int8 weights for every cell type.

Language models:
- onnxruntime dynamic quantization: MatMul/Gemm weights (output projection), the embedding
  Gather and LSTM (DynamicQuantizeLSTM) become int8 with int8 arithmetic.
- GRU and RNN: onnxruntime has no quantized kernel for them, so their W and R weights are
  stored as int8 with per-row scales and a DequantizeLinear in front (weight-only int8: the
  file holds int8 values, arithmetic stays float32).
- int4: as int8, but MatMul weights (the big output projection) become 4-bit blocks
  (onnxruntime's MatMulNBits, block 32, int8 arithmetic): half the bytes a step reads.

Keyword spotters (`weight_only=True`): every recurrent (GRU, RNN and LSTM) and MatMul weight is
weight-only int8, and so are the convolutions of a pretrained speech embedding and the front
end's windowed-DFT kernel (per output channel). Dynamic quantization picks each call's activation
scale from the chunk it is given, so a spotter's scores would depend (slightly) on how the audio
was chunked; weight-only int8 keeps them identical for any chunking, and these models are small
enough that float arithmetic costs little.

Both: the audio front end computes in float32 (the power spectrum spans too many decades for 8-bit
activations), and its mel MatMul stays float. A spotter's DFT kernel is stored as int8 all the
same: it is the largest constant of a small model (264 KB of the first embedding spotter's 931 KB),
and, rounded as weights only, it moved stream detection on the held-out voices by at most 3 of
500 utterances, either way (docs/bundled-models.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

PRECISIONS = ("fp32", "int8", "int4")
_FRONTEND = "/frontend/"
_EMBEDDING = "/embedding/"  # a pretrained speech embedding's convolutions (--front-end speech-embedding)


def quantize(src: Path, dst: Path, precision: str, weight_only: bool = False) -> None:
    """Write the int8 or int4 model of `src` to `dst` (metadata is set by the caller)."""
    if weight_only and precision == "int8":
        model = onnx.load(str(src))
        quantize_recurrent_weights(model.graph, ("GRU", "RNN", "LSTM"))
        quantize_matmul_weights(model.graph)
        quantize_conv_weights(model.graph, _EMBEDDING)
        quantize_conv_weights(model.graph, _FRONTEND)
        onnx.save(model, str(dst))
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if precision == "int4":
        from onnxruntime.quantization import matmul_nbits_quantizer  # noqa: F401 (sets up logging on import)

    exclude = [n.name for n in onnx.load(str(src)).graph.node if _FRONTEND in n.name]
    ops = ["MatMul", "Gemm", "Gather", "LSTM"]
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:  # the quantizers log advice and progress we do not want on a user's screen
        lg.setLevel(logging.ERROR)
    try:
        if precision == "int4":
            _matmul_4bit(src, dst, exclude)
            src, ops = dst, ["Gather", "LSTM"]
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False,
                         op_types_to_quantize=ops, nodes_to_exclude=exclude,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    model = onnx.load(str(dst))
    if quantize_recurrent_weights(model.graph):
        onnx.save(model, str(dst))


def _matmul_4bit(src: Path, dst: Path, exclude: list[str]) -> None:
    from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                  MatMulNBitsQuantizer)

    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=4)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), nodes_to_exclude=exclude, algo_config=config)
    quantizer.process()
    onnx.save(quantizer.model.model, str(dst))


def quantize_recurrent_weights(graph: onnx.GraphProto, ops: tuple[str, ...] = ("GRU", "RNN")) -> int:
    """Store the W and R weights of `ops` nodes as int8 + DequantizeLinear. Returns how many."""
    slots = [(node, slot, 1) for node in graph.node if node.op_type in ops
             for slot in (1, 2)]  # W, R: (directions, gates * hidden, in): one scale per row
    return _store_int8(graph, slots)


def quantize_matmul_weights(graph: onnx.GraphProto) -> int:
    """Store the constant (in, out) weight of every MatMul outside the front end as int8 +
    DequantizeLinear, one scale per output column. Returns how many."""
    slots = [(node, 1, 1) for node in graph.node if node.op_type == "MatMul" and _FRONTEND not in node.name]
    return _store_int8(graph, slots)


def quantize_conv_weights(graph: onnx.GraphProto, scope: str) -> int:
    """Store the weight of every Conv whose name contains `scope` as int8 + DequantizeLinear, one
    scale per output channel. Returns how many."""
    slots = [(node, 1, 0) for node in graph.node if node.op_type == "Conv" and scope in node.name]
    return _store_int8(graph, slots)


def _store_int8(graph: onnx.GraphProto, slots: list[tuple[onnx.NodeProto, int, int]]) -> int:
    """Replace each (node, input slot, channel axis) initializer by symmetric int8 values with a
    scale per index of that axis, dequantized in the graph (folded at load by our Session)."""
    inits = {t.name: t for t in graph.initializer}
    # the torch exporter stores equal constants once and hands them on through Identity nodes
    # (members of an ensemble with the same DFT, say): follow those to the stored tensor
    aliases = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    new_nodes, done = [], set()
    for node, slot, axis in slots:
        name = node.input[slot] if slot < len(node.input) else ""
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
