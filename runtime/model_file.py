"""Reading a model file before onnxruntime sees it, without the `onnx` package: its metadata, its
integrity digest, and where its tensors' bytes live.

Integrity: an exported file carries `edge_rnn.digest` = "crc32:" + 8 hex digits, the CRC-32 (as
zlib, PNG and gzip compute it) of the whole file with those 8 digits written as zeros. A file
damaged anywhere (on a device's flash, in a download, by a bad copy) no longer matches and is
refused. The digest is the first metadata entry, so a file cut short loses the rest of the
contract with it and is refused too. CRC-32 is for damage, not for tampering (anyone who can
change the file can recompute it); it costs about a millisecond for a 4 MB model, where a
cryptographic hash took twenty times that on the same machine.

External data: an ONNX tensor may keep its bytes in a file named by a path inside the model.
edge-rnn's own models never do, so such a file is refused unless the caller asks for it, and even
then every location must be a plain relative path to a file inside the model's folder with one
link only (a hardlink could make a file elsewhere appear inside it).
"""

from __future__ import annotations

import os
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import protobuf as pb
from .errors import UserError

DIGEST_KEY = "edge_rnn.digest"
DIGEST_PREFIX = "crc32:"
PLACEHOLDER = "0" * 8
MAX_BYTES = 2**31 - 1  # protobuf's limit for one message
# ONNX field numbers (onnx.proto3)
_MODEL_GRAPH, _MODEL_METADATA = 7, 14
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE = 1, 5, 15
_NODE_INPUT, _NODE_OP, _NODE_ATTRIBUTE = 1, 4, 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_DIMS, _TENSOR_NAME, _TENSOR_EXTERNAL = 1, 8, 13
_TENSOR_DATA = (4, 5, 7, 9, 10, 11)  # float_data, int32_data, int64_data, raw_data, double_data, uint64_data


class IntegrityWarning(UserWarning):
    """A model file carries no digest, so damage to it cannot be detected."""


@dataclass
class ModelFile:
    path: Path
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    verified: bool = False  # its digest was present and matched
    external: list[str] = field(default_factory=list)  # external-data locations (checked)


def _text(data: bytes, f: pb.Field) -> str:
    return data[f.start:f.end].decode("utf-8")


def metadata_entries(data: bytes) -> list[tuple[str, str, pb.Field]]:
    """(key, value, the value's field) of every metadata_props entry. ValueError if the protobuf
    is malformed, UnicodeDecodeError if a key or value is not UTF-8."""
    out = []
    for entry in pb.submessages(data, _MODEL_METADATA):
        parts = {f.number: f for f in pb.fields(data, entry.start, entry.end) if f.wire == pb.BYTES}
        if 1 in parts:
            value = parts.get(2, pb.Field(2, pb.BYTES, 0, entry.end, entry.end))
            out.append((_text(data, parts[1]), _text(data, value), value))
    return out


def digest_of(data: bytes, value: pb.Field) -> str:
    """The digest of `data` whose digest value (the field `value`) reads as the placeholder."""
    start = value.start + len(DIGEST_PREFIX)
    crc = zlib.crc32(memoryview(data)[:start])
    crc = zlib.crc32(PLACEHOLDER.encode(), crc)
    crc = zlib.crc32(memoryview(data)[start + len(PLACEHOLDER):], crc)
    return f"{DIGEST_PREFIX}{crc:08x}"


def stamp_digest(data: bytes) -> bytes:
    """`data` (a model whose digest entry holds the placeholder) with its digest written in."""
    for key, value, f in metadata_entries(data):
        if key == DIGEST_KEY and value == DIGEST_PREFIX + PLACEHOLDER:
            digest = digest_of(data, f).encode()
            return data[:f.start] + digest + data[f.end:]
    raise ValueError("the model has no digest placeholder to stamp")


def with_metadata(data: bytes, changes: dict[str, str]) -> bytes:
    """A digest-stamped model whose metadata values for the keys in `changes` are replaced, every
    other byte of it kept. Each key must already be there, and so must the digest."""
    keys = {k for k, _, _ in metadata_entries(data)}
    missing = sorted(set(changes) - keys) or ([] if DIGEST_KEY in keys else [DIGEST_KEY])
    if missing:
        raise UserError(f"the model has no metadata entry {missing[0]!r} to change (export it again)")
    changes = {**changes, DIGEST_KEY: DIGEST_PREFIX + PLACEHOLDER}
    out, pos = [], 0
    for f in pb.fields(data):  # the top-level fields lie end to end: each spans [previous end, end)
        if f.number == _MODEL_METADATA and f.wire == pb.BYTES:
            parts = {g.number: g for g in pb.fields(data, f.start, f.end) if g.wire == pb.BYTES}
            key = _text(data, parts[1]) if 1 in parts else None
            if key in changes:
                entry = pb.encode_bytes(1, key.encode()) + pb.encode_bytes(2, changes[key].encode())
                out.append(pb.encode_bytes(_MODEL_METADATA, entry))
                pos = f.end
                continue
        out.append(data[pos:f.end])
        pos = f.end
    return stamp_digest(b"".join(out))


def read_model(path: str | Path, allow_external_data: bool = False) -> ModelFile:
    """The file's bytes and metadata, its digest checked; refuses a damaged or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    if path.stat().st_size > MAX_BYTES:
        raise UserError(f"{path} is larger than any ONNX model can be (2 GiB)")
    data = path.read_bytes()
    try:
        entries = metadata_entries(data)
        external = external_data_locations(data)
    except UnicodeDecodeError:  # (a ValueError too)
        raise UserError(f"{path} has metadata that is not UTF-8 text (a damaged file?)") from None
    except (ValueError, IndexError):
        raise UserError(f"{path} is not an ONNX model (it does not parse as one; damaged or another kind of file)") from None
    model = ModelFile(path, data, {k: v for k, v, _ in entries}, external=external)
    digests = [(v, f) for k, v, f in entries if k == DIGEST_KEY]
    if digests:
        value, f = digests[0]
        if len(digests) > 1 or len(value) != len(DIGEST_PREFIX + PLACEHOLDER) or digest_of(data, f) != value:
            raise UserError(f"{path} is damaged: its content does not match the checksum it carries "
                            f"({DIGEST_KEY}); download or export it again")
        model.verified = True
    elif "edge_rnn.format" in model.metadata:
        warnings.warn(f"{path} carries no integrity digest (an export of an earlier edge-rnn): damage to it "
                      "cannot be detected; export it again to add one", IntegrityWarning, stacklevel=3)
    if external:
        check_external_data(path, external, allow_external_data)
    return model


def check_external_data(path: Path, locations: list[str], allowed: bool) -> None:
    """Refuse external data unless allowed; then refuse any location that is not a plain relative
    path to a single-link regular file inside the model's folder."""
    if not allowed:
        raise UserError(f"{path} keeps tensor data in other files ({locations[0]!r}); edge-rnn models never do, "
                        "so it is refused (load it with allow_external_data=True if you trust it)")
    folder = path.resolve().parent
    for loc in locations:
        bad = "\0" in loc or "\ufffd" in loc or os.path.isabs(loc) or not loc
        target = None if bad else (folder / loc).resolve()
        if bad or not target.is_relative_to(folder) or not target.is_file():
            raise UserError(f"{path} names external data {loc!r} that is not a file inside its folder; refusing it")
        if os.lstat(folder / loc).st_nlink > 1 or (folder / loc).is_symlink():
            raise UserError(f"{path} names external data {loc!r} that is a link to another file; refusing it")


def _tensor_locations(data: bytes, tensor: pb.Field):
    for f in pb.submessages(data, _TENSOR_EXTERNAL, tensor.start, tensor.end):
        kv = {g.number: g for g in pb.fields(data, f.start, f.end) if g.wire == pb.BYTES}
        if 1 in kv and data[kv[1].start:kv[1].end] == b"location":
            value = kv.get(2)
            yield data[value.start:value.end].decode("utf-8", "replace") if value else ""


def _graph_locations(data: bytes, graph: pb.Field):
    for f in pb.fields(data, graph.start, graph.end):
        if f.wire != pb.BYTES:
            continue
        if f.number == _GRAPH_INITIALIZER:
            yield from _tensor_locations(data, f)
        elif f.number == _GRAPH_SPARSE:
            for t in pb.fields(data, f.start, f.end):
                if t.number in (_SPARSE_VALUES, _SPARSE_INDICES) and t.wire == pb.BYTES:
                    yield from _tensor_locations(data, t)
        elif f.number == _GRAPH_NODE:
            for attr in pb.submessages(data, _NODE_ATTRIBUTE, f.start, f.end):
                for a in pb.fields(data, attr.start, attr.end):
                    if a.wire == pb.BYTES and a.number in (_ATTR_T, _ATTR_TENSORS):
                        yield from _tensor_locations(data, a)
                    elif a.wire == pb.BYTES and a.number in (_ATTR_G, _ATTR_GRAPHS):
                        yield from _graph_locations(data, a)


def external_data_locations(data: bytes) -> list[str]:
    """Every external-data location named in a serialized ModelProto."""
    if b"\n\x08location" not in data:  # no entry can name one (key field 1, 8 bytes): skip the graph
        return []
    return [loc for graph in pb.submessages(data, _MODEL_GRAPH) for loc in _graph_locations(data, graph)]


def initializers(data: bytes) -> tuple[dict[str, tuple[int, list[int]]], set[str]]:
    """({name: (bytes, dims)} of the main graph's initializers, names read by a Gather as data)."""
    tensors, gathered = {}, set()
    for graph in pb.submessages(data, _MODEL_GRAPH):
        for f in pb.fields(data, graph.start, graph.end):
            if f.number == _GRAPH_INITIALIZER and f.wire == pb.BYTES:
                name, nbytes, dims = "", 0, []
                for t in pb.fields(data, f.start, f.end):
                    if t.number == _TENSOR_DIMS:
                        dims += [t.value] if t.wire == pb.VARINT else pb.packed_varints(data, t.start, t.end)
                    elif t.number == _TENSOR_NAME and t.wire == pb.BYTES:
                        name = data[t.start:t.end].decode("utf-8", "replace")
                    elif t.number in _TENSOR_DATA and t.wire == pb.BYTES:
                        nbytes += t.end - t.start
                tensors[name] = (nbytes, dims)
            elif f.number == _GRAPH_NODE and f.wire == pb.BYTES:
                node = list(pb.fields(data, f.start, f.end))
                op = next((data[n.start:n.end] for n in node if n.number == _NODE_OP and n.wire == pb.BYTES), b"")
                inputs = [data[n.start:n.end] for n in node if n.number == _NODE_INPUT and n.wire == pb.BYTES]
                if op == b"Gather" and inputs:
                    gathered.add(inputs[0].decode("utf-8", "replace"))
    return tensors, gathered
