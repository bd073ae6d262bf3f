// The custom metadata map of an ONNX file, read from its protobuf bytes.
//
// onnxruntime-node and onnxruntime-web do not expose a model's metadata_props (onnxruntime
// issue #16547), so we walk the ModelProto ourselves: field 14 is a repeated
// StringStringEntryProto { key = 1, value = 2 }. Only the top level of the model is walked; the
// graph (field 7, most of the bytes) is skipped by its length without being decoded.

const MODEL_METADATA_PROPS = 14;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
const WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_FIXED32 = 5;

/** Read a base-128 varint at `pos`; returns [value, next position]. Numbers past 2^53 lose
 * precision, which is fine for lengths and field keys. */
export function readVarint(buf, pos) {
  let value = 0, scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (!(b & 0x80)) return [value, pos];
    scale *= 128;
  }
  throw new Error('varint longer than 10 bytes');
}

/** Yield [field number, wire type, value] over one message: a number for varints, a
 * subarray (no copy) for length-delimited fields; fixed-width fields yield null. */
export function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8), wire = key & 7;
    if (wire === WIRE_VARINT) {
      let value;
      [value, pos] = readVarint(buf, pos);
      yield [field, wire, value];
    } else if (wire === WIRE_BYTES) {
      let size;
      [size, pos] = readVarint(buf, pos);
      if (pos + size > buf.length) throw new Error('truncated length-delimited field');
      yield [field, wire, buf.subarray(pos, pos + size)];
      pos += size;
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      pos += wire === WIRE_FIXED64 ? 8 : 4;
      if (pos > buf.length) throw new Error('truncated fixed-width field');
      yield [field, wire, null];
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The metadata_props of ONNX model bytes (Uint8Array) as a plain object of strings.
 * Throws a plain Error when the bytes are not a protobuf message. */
export function readMetadata(bytes) {
  const meta = {};
  for (const [field, wire, value] of fields(bytes)) {
    if (field !== MODEL_METADATA_PROPS || wire !== WIRE_BYTES) continue;
    let key = '', text = '';
    for (const [f, w, v] of fields(value)) {
      if (w !== WIRE_BYTES) continue;
      if (f === ENTRY_KEY) key = utf8.decode(v);
      else if (f === ENTRY_VALUE) text = utf8.decode(v);
    }
    meta[key] = text;  // a repeated key: the last one wins, as in protobuf maps
  }
  return meta;
}
