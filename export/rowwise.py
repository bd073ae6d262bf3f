"""int8 that keeps every stream on its own: per-row scales, never one scale over a whole call.

onnxruntime's dynamic quantization picks one activation scale per call over the whole input, so
a stream's numbers would depend on which other streams share its batch and on how its tokens
were chunked. Here each row of activations (one stream at one step) gets its own scale, so a
row's result is a function of that row alone: batched, chunked and stepped streams agree.

- `Gather` over an int8 table: the rows picked are dequantized with their own scales (the table
  stays int8 in memory).
- `MatMul` by an int8 weight: each input row is quantized to uint8 with its own scale (zero
  point 128), multiplied in integers (MatMulInteger), and scaled back by its row's scale and the
  weight's per-column scales.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _symmetric(weight: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 values, float32 scale per index of `axis`)."""
    others = tuple(i for i in range(weight.ndim) if i != axis)
    scale = np.maximum(np.abs(weight).max(axis=others), 1e-12) / 127.0
    shape = [1] * weight.ndim
    shape[axis] = -1
    return np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8), scale.astype(np.float32)


def gather_rows(graph: onnx.GraphProto, node: onnx.NodeProto, weight: np.ndarray) -> list[onnx.NodeProto]:
    """Replace Gather(table, ids) by an int8 table whose picked rows are dequantized."""
    name, ids, out = node.input[0], node.input[1], node.output[0]
    q, scale = _symmetric(weight, 0)
    graph.initializer.extend([numpy_helper.from_array(q, name + "_int8"),
                              numpy_helper.from_array(scale, name + "_rowscale"),
                              numpy_helper.from_array(np.array([-1], np.int64), name + "_lastaxis")])
    p = out + "_"
    return [helper.make_node("Gather", [name + "_int8", ids], [p + "q"], axis=0),
            helper.make_node("Cast", [p + "q"], [p + "f"], to=TensorProto.FLOAT),
            helper.make_node("Gather", [name + "_rowscale", ids], [p + "s"], axis=0),
            helper.make_node("Unsqueeze", [p + "s", name + "_lastaxis"], [p + "s1"]),
            helper.make_node("Mul", [p + "f", p + "s1"], [out])]


def matmul_rows(graph: onnx.GraphProto, node: onnx.NodeProto, weight: np.ndarray) -> list[onnx.NodeProto]:
    """Replace MatMul(x, W) (W of shape (in, out)) by per-row dynamic int8: x's rows quantized
    each with its own scale, an integer product, scaled back per row and per column."""
    x, name, out = node.input[0], node.input[1], node.output[0]
    q, col_scale = _symmetric(weight, 1)
    c = name + "_rows_"
    graph.initializer.extend([numpy_helper.from_array(q, c + "int8"),
                              numpy_helper.from_array(col_scale, c + "colscale"),
                              numpy_helper.from_array(np.array(127.0, np.float32), c + "127"),
                              numpy_helper.from_array(np.array(1e-30, np.float32), c + "tiny"),
                              numpy_helper.from_array(np.array(128.0, np.float32), c + "128"),
                              numpy_helper.from_array(np.array(128, np.uint8), c + "zero")])
    p = out + "_"
    return [
        helper.make_node("Abs", [x], [p + "abs"]),
        helper.make_node("ReduceMax", [p + "abs"], [p + "peak"], axes=[-1], keepdims=1),  # (..., 1) (opset 17)
        helper.make_node("Max", [p + "peak", c + "tiny"], [p + "peak1"]),
        helper.make_node("Div", [p + "peak1", c + "127"], [p + "scale"]),
        helper.make_node("Div", [x, p + "scale"], [p + "unit"]),  # within [-127, 127]
        helper.make_node("Round", [p + "unit"], [p + "round"]),
        helper.make_node("Add", [p + "round", c + "128"], [p + "shift"]),
        helper.make_node("Cast", [p + "shift"], [p + "u8"], to=TensorProto.UINT8),
        helper.make_node("MatMulInteger", [p + "u8", c + "int8", c + "zero"], [p + "i32"]),
        helper.make_node("Cast", [p + "i32"], [p + "f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [p + "f", p + "scale"], [p + "rows"]),
        helper.make_node("Mul", [p + "rows", c + "colscale"], [out]),
    ]
