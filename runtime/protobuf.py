"""A minimal protobuf wire-format reader: enough to walk an ONNX file without the `onnx` package.

Fields come out with their byte offsets, so a caller can check or patch a value in place.
Malformed input raises ValueError (never reads past the buffer).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5


class Field(NamedTuple):
    number: int
    wire: int
    value: int  # the varint (wire 0), else unused
    start: int  # where a length-delimited value starts in the buffer
    end: int  # where it ends (for wire 0/1/5: the end of the field)


def varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it)."""
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


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_bytes(number: int, payload: bytes) -> bytes:
    """A length-delimited field: key, length, payload."""
    return encode_varint(number << 3 | BYTES) + encode_varint(len(payload)) + payload


def fields(buf: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """Every field of the message in buf[start:end], in order."""
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == VARINT:
            value, pos = varint(buf, pos)
            yield Field(number, wire, value, pos, pos)
        elif wire in (FIXED64, FIXED32):
            pos += 8 if wire == FIXED64 else 4
            if pos > end:
                raise ValueError("truncated fixed-width field")
            yield Field(number, wire, 0, pos, pos)
        elif wire == BYTES:
            size, pos = varint(buf, pos)
            if pos + size > end:
                raise ValueError("truncated field")
            yield Field(number, wire, 0, pos, pos + size)
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")


def submessages(buf: bytes | memoryview, number: int, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """The length-delimited fields with this number."""
    return (f for f in fields(buf, start, end) if f.number == number and f.wire == BYTES)


def packed_varints(buf: bytes | memoryview, start: int, end: int) -> list[int]:
    values, pos = [], start
    while pos < end:
        value, pos = varint(buf, pos)
        values.append(value)
    return values
