"""The main graph of an ONNX file as plain data (nodes, initializers, inputs), read without the
`onnx` package, and its tensors as numpy arrays.

Enough to follow a model's graph from an input and evaluate a few nodes in numpy; it does not
read subgraphs, sparse initializers or external data (edge-rnn models have none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import protobuf as pb

# ONNX field numbers (onnx.proto3)
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP, _NODE_ATTRIBUTE = 1, 2, 4, 5
_ATTR_NAME, _ATTR_F, _ATTR_I, _ATTR_T, _ATTR_INTS = 1, 2, 3, 5, 8
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_FLOATS, _TENSOR_INT32S = 1, 2, 4, 5
_TENSOR_INT64S, _TENSOR_NAME, _TENSOR_RAW, _TENSOR_DOUBLES, _TENSOR_EXTERNAL = 7, 8, 9, 10, 13
# TensorProto.DataType -> numpy type; the small integer types travel in int32_data when not raw
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


@dataclass
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, object] = field(default_factory=dict)  # int, float, list of ints, or a tensor


@dataclass
class Graph:
    nodes: list[Node]
    inputs: list[str]
    initializers: dict[str, np.ndarray]

    def producer(self, name: str) -> Node | None:
        return next((n for n in self.nodes if name in n.outputs), None)

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]


def _signed(value: int) -> int:
    """A varint read as two's complement int64 (how protobuf stores negative int32/int64)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _numbers(data: bytes, f: pb.Field, fmt: str) -> list:
    """The values of a repeated field, packed or not."""
    if f.wire == pb.VARINT:
        return [_signed(f.value)]
    if f.wire == pb.BYTES and fmt == "varint":
        return [_signed(v) for v in pb.packed_varints(data, f.start, f.end)]
    if f.wire == pb.BYTES:
        return np.frombuffer(data[f.start:f.end], fmt).tolist()
    width = 4 if f.wire == pb.FIXED32 else 8  # one unpacked fixed-width value, ending at f.start
    return np.frombuffer(data[f.start - width:f.start], fmt).tolist()


def tensor(data: bytes, start: int, end: int) -> tuple[str, np.ndarray]:
    """(name, array) of the TensorProto in data[start:end]. ValueError for external data or an
    unknown element type."""
    name, dims, dtype, raw, values = "", [], 1, None, []
    for f in pb.fields(data, start, end):
        if f.number == _TENSOR_DIMS:
            dims += _numbers(data, f, "varint")
        elif f.number == _TENSOR_TYPE and f.wire == pb.VARINT:
            dtype = f.value
        elif f.number == _TENSOR_NAME and f.wire == pb.BYTES:
            name = data[f.start:f.end].decode("utf-8", "replace")
        elif f.number == _TENSOR_RAW and f.wire == pb.BYTES:
            raw = data[f.start:f.end]
        elif f.number == _TENSOR_FLOATS:
            values += _numbers(data, f, "<f4")
        elif f.number in (_TENSOR_INT32S, _TENSOR_INT64S):
            values += _numbers(data, f, "varint")
        elif f.number == _TENSOR_DOUBLES:
            values += _numbers(data, f, "<f8")
        elif f.number == _TENSOR_EXTERNAL:
            raise ValueError(f"tensor {name or '?'} keeps its data in another file")
    if dtype not in DTYPES:
        raise ValueError(f"tensor {name or '?'} has element type {dtype}, which this reader does not know")
    kind = np.dtype(DTYPES[dtype]).newbyteorder("<")
    if raw is not None:
        array = np.frombuffer(raw, kind)
    elif dtype == 10:  # float16 values travel as their bit patterns in int32_data
        array = np.array(values, np.uint16).view(np.float16)
    else:
        array = np.array(values).astype(kind)
    count = int(np.prod(dims)) if dims else 1
    if array.size != count:
        raise ValueError(f"tensor {name or '?'} holds {array.size} values for shape {dims}")
    return name, array.astype(DTYPES[dtype]).reshape(dims)


def _attribute(data: bytes, start: int, end: int) -> tuple[str, object]:
    name, value, ints = "", None, []
    for f in pb.fields(data, start, end):
        if f.number == _ATTR_NAME and f.wire == pb.BYTES:
            name = data[f.start:f.end].decode("utf-8", "replace")
        elif f.number == _ATTR_I and f.wire == pb.VARINT:
            value = _signed(f.value)
        elif f.number == _ATTR_F and f.wire == pb.FIXED32:
            value = _numbers(data, f, "<f4")[0]
        elif f.number == _ATTR_T and f.wire == pb.BYTES:
            value = tensor(data, f.start, f.end)[1]
        elif f.number == _ATTR_INTS:
            ints += _numbers(data, f, "varint")
    return name, ints if value is None and ints else value


def _node(data: bytes, start: int, end: int) -> Node:
    node = Node("", [], [])
    for f in pb.fields(data, start, end):
        text = lambda: data[f.start:f.end].decode("utf-8", "replace")  # noqa: E731
        if f.wire != pb.BYTES:
            continue
        if f.number == _NODE_INPUT:
            node.inputs.append(text())
        elif f.number == _NODE_OUTPUT:
            node.outputs.append(text())
        elif f.number == _NODE_OP:
            node.op = text()
        elif f.number == _NODE_ATTRIBUTE:
            key, value = _attribute(data, f.start, f.end)
            node.attrs[key] = value
    return node


def read_graph(data: bytes) -> Graph:
    """The main graph of a serialized ModelProto. ValueError if it does not parse."""
    graphs = list(pb.submessages(data, _MODEL_GRAPH))
    if len(graphs) != 1:
        raise ValueError("a model holds one main graph")
    g = graphs[0]
    graph = Graph([], [], {})
    for f in pb.fields(data, g.start, g.end):
        if f.wire != pb.BYTES:
            continue
        if f.number == _GRAPH_NODE:
            graph.nodes.append(_node(data, f.start, f.end))
        elif f.number == _GRAPH_INITIALIZER:
            name, array = tensor(data, f.start, f.end)
            graph.initializers[name] = array
        elif f.number == _GRAPH_INPUT:
            names = [x for x in pb.fields(data, f.start, f.end) if x.number == 1 and x.wire == pb.BYTES]
            graph.inputs += [data[x.start:x.end].decode("utf-8", "replace") for x in names]
    return graph
