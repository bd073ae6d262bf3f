"""A minimal ONNX writer for the one-node graphs the benchmark runs (no `onnx` package needed).

Only what those graphs use: nodes, inputs and outputs with shapes, raw-data initializers.
Field numbers are those of onnx.proto3.
"""

from __future__ import annotations

import numpy as np

from edge_rnn.runtime.protobuf import encode_bytes
from edge_rnn.runtime.protobuf import encode_varint as _varint

_DTYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3,
           np.dtype(np.int32): 6, np.dtype(np.int64): 7}


def _field(number: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else bytes(value)
    return encode_bytes(number, data)


def _value_info(name: str, dtype, shape) -> bytes:
    dims = b"".join(_field(1, _field(1, d)) for d in shape)  # Dimension.dim_value
    tensor_type = _field(1, _DTYPES[np.dtype(dtype)]) + _field(2, dims)
    return _field(1, name) + _field(2, _field(1, tensor_type))


def _tensor(name: str, array: np.ndarray) -> bytes:
    return (b"".join(_field(1, int(d)) for d in array.shape) + _field(2, _DTYPES[array.dtype])
            + _field(8, name) + _field(9, np.ascontiguousarray(array).tobytes()))


def model_bytes(nodes, inputs, outputs, inits=(), opset: int = 17) -> bytes:
    """nodes: (op, [inputs], [outputs]); inputs/outputs: (name, dtype, shape); inits: (name, array)."""
    graph = b"".join(_field(1, b"".join(_field(1, i) for i in ins) + b"".join(_field(2, o) for o in outs)
                            + _field(4, op)) for op, ins, outs in nodes)
    graph += _field(2, "bench") + b"".join(_field(5, _tensor(n, a)) for n, a in inits)
    graph += b"".join(_field(11, _value_info(*i)) for i in inputs)
    graph += b"".join(_field(12, _value_info(*o)) for o in outputs)
    return _field(1, 8) + _field(7, graph) + _field(8, _field(2, opset))
