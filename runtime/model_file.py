"""Checks on a model file before onnxruntime sees it, without the `onnx` package.

An ONNX tensor may keep its bytes in an "external data" file named by a path inside the model.
A model from an untrusted source could point that path anywhere (`../../etc/...`), so we walk
the protobuf and refuse any external-data location that leaves the model's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

# Protobuf field numbers (onnx.proto3) on the way from a model to its tensors' external data.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL = 13
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _all_fields(buf: memoryview):
    """Yield (field number, value): an int for varints, bytes (a memoryview) for
    length-delimited fields; fixed-width fields are skipped."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield field, value
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            yield field, buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _fields(buf: memoryview):
    """Yield (field number, bytes) for the length-delimited fields only."""
    return ((f, v) for f, v in _all_fields(buf) if not isinstance(v, int))


def _tensor_locations(tensor: memoryview):
    for field, entry in _fields(tensor):
        if field == _TENSOR_EXTERNAL:
            kv = dict(_fields(entry))
            if bytes(kv.get(_ENTRY_KEY, b"")) == b"location":
                yield bytes(kv.get(_ENTRY_VALUE, b"")).decode("utf-8", "replace")


def _graph_locations(graph: memoryview):
    for field, value in _fields(graph):
        if field == _GRAPH_INITIALIZER:
            yield from _tensor_locations(value)
        elif field == _GRAPH_SPARSE:
            for f, t in _fields(value):
                if f in (_SPARSE_VALUES, _SPARSE_INDICES):
                    yield from _tensor_locations(t)
        elif field == _GRAPH_NODE:
            for f, attr in _fields(value):
                if f == _NODE_ATTRIBUTE:
                    for af, av in _fields(attr):
                        if af in (_ATTR_T, _ATTR_TENSORS):
                            yield from _tensor_locations(av)
                        elif af in (_ATTR_G, _ATTR_GRAPHS):
                            yield from _graph_locations(av)


def _tensor_size(tensor: memoryview) -> tuple[str, int, list[int]]:
    """(name, bytes of data, dims) of a TensorProto (raw_data or packed typed data)."""
    name, nbytes, dims = "", 0, []
    for field, value in _all_fields(tensor):
        if field == 1:  # dims: one varint, or packed varints
            dims += [value] if isinstance(value, int) else _packed_varints(value)
        elif field == 8 and not isinstance(value, int):
            name = bytes(value).decode("utf-8", "replace")
        elif field in (4, 5, 7, 9, 10, 11) and not isinstance(value, int):  # raw_data and typed data
            nbytes += len(value)
    return name, nbytes, dims


def _packed_varints(packed: memoryview) -> list[int]:
    values, pos = [], 0
    while pos < len(packed):
        value, pos = _varint(packed, pos)
        values.append(value)
    return values


def initializers(data: bytes) -> tuple[dict[str, tuple[int, list[int]]], set[str]]:
    """({name: (bytes, dims)} of the main graph's initializers, names read by a Gather as data)."""
    tensors, gathered = {}, set()
    for field, graph in _fields(memoryview(data)):
        if field != _MODEL_GRAPH:
            continue
        for gfield, value in _fields(graph):
            if gfield == _GRAPH_INITIALIZER:
                name, nbytes, dims = _tensor_size(value)
                tensors[name] = (nbytes, dims)
            elif gfield == _GRAPH_NODE:  # NodeProto: input = 1 (repeated), op_type = 4
                inputs = [bytes(v) for f, v in _fields(value) if f == 1]
                op_type = next((bytes(v) for f, v in _fields(value) if f == 4), b"")
                if op_type == b"Gather" and inputs:
                    gathered.add(inputs[0].decode("utf-8", "replace"))
    return tensors, gathered


def external_data_locations(data: bytes) -> list[str]:
    """Every external-data location named in a serialized ModelProto."""
    buf = memoryview(data)
    return [loc for field, graph in _fields(buf) if field == _MODEL_GRAPH
            for loc in _graph_locations(graph)]


def check_model_file(path: str | Path) -> None:
    """Refuse a missing file, a file that is not a model, or external data outside its folder."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    try:
        locations = external_data_locations(path.read_bytes())
    except (ValueError, IndexError):
        raise UserError(f"{path} is not an ONNX model (it does not parse as one)") from None
    folder = path.resolve().parent
    for loc in locations:
        target = (folder / loc).resolve()
        if os.path.isabs(loc) or not target.is_relative_to(folder):
            raise UserError(f"{path} names external data outside its folder ({loc!r}); refusing it")
