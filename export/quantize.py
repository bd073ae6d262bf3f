"""int8 weights for every cell type.

- onnxruntime dynamic quantization: MatMul/Gemm weights (output projection, classifier), the
  embedding Gather and LSTM (DynamicQuantizeLSTM) become int8 with int8 arithmetic.
- GRU and RNN: onnxruntime has no quantized kernel for them, so their W and R weights are
  stored as int8 with per-row scales and a DequantizeLinear in front (weight-only int8: the
  file holds int8 values, arithmetic stays float32).
- The audio front end (DFT conv, mel MatMul) stays float32: the power spectrum spans too many
  decades for 8-bit activations.
- int4: as int8, but MatMul weights (the big output projection) become 4-bit blocks
  (onnxruntime's MatMulNBits, block 32, int8 arithmetic): half the bytes a step reads.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

PRECISIONS = ("fp32", "int8", "int4")
_FRONTEND = "/frontend/"


def quantize(src: Path, dst: Path, precision: str) -> None:
    """Write the int8 or int4 model of `src` to `dst` (metadata is set by the caller)."""
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


def quantize_recurrent_weights(graph: onnx.GraphProto) -> int:
    """Store the W and R weights of GRU/RNN nodes as int8 + DequantizeLinear. Returns how many."""
    inits = {t.name: t for t in graph.initializer}
    new_nodes, count = [], 0
    for node in graph.node:
        if node.op_type in ("GRU", "RNN"):
            for slot in (1, 2):  # W, R: (directions, gates * hidden, in)
                name = node.input[slot]
                if name not in inits:
                    continue
                weight = numpy_helper.to_array(inits[name]).astype(np.float32)
                scale = np.maximum(np.abs(weight).max(axis=(0, 2)), 1e-12) / 127.0  # per row
                q = np.clip(np.round(weight / scale[None, :, None]), -127, 127).astype(np.int8)
                graph.initializer.remove(inits[name])
                graph.initializer.extend([numpy_helper.from_array(q, name + "_int8"),
                                          numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                                          numpy_helper.from_array(np.zeros_like(scale, np.int8), name + "_zero")])
                new_nodes.append(helper.make_node("DequantizeLinear", [name + "_int8", name + "_scale", name + "_zero"],
                                                  [name], name=name + "_dequantize", axis=1))
                count += 1
    if new_nodes:
        nodes = new_nodes + list(graph.node)  # dequantizers first keeps the graph topologically sorted
        del graph.node[:]
        graph.node.extend(nodes)
    return count
