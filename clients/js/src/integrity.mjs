// A model file's integrity digest, checked as runtime/model_file.py checks it.
//
// An exported file carries `edge_rnn.digest` = "crc32:" + 8 hex digits: the CRC-32 (zlib's) of
// the whole file with those 8 digits written as zeros. A file damaged anywhere no longer matches
// and is refused; a file without a digest (an earlier export) loads with a warning.

import { UserError } from './errors.mjs';
import { fields } from './protobuf.mjs';

export const DIGEST_KEY = 'edge_rnn.digest';
const PREFIX = 'crc32:';
const HEX = 8;
const MODEL_METADATA_PROPS = 14;
const latin = new TextDecoder('latin1');

/** [{key, value, at}] of every metadata entry: `at` is where its value starts in `bytes`. */
function entries(bytes) {
  const out = [];
  for (const [field, wire, entry] of fields(bytes)) {
    if (field !== MODEL_METADATA_PROPS || wire !== 2) continue;
    const parts = {};
    for (const [f, w, v] of fields(entry)) if (w === 2) parts[f] = v;
    if (!parts[1]) continue;
    const value = parts[2] ?? entry.subarray(entry.length);
    out.push({ key: latin.decode(parts[1]), value: latin.decode(value), at: value.byteOffset - bytes.byteOffset });
  }
  return out;
}

const TABLE = (() => {  // the reflected CRC-32 polynomial 0xEDB88320, one entry per byte value
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib's CRC-32 of `bytes`, as 8 hex digits. */
export function crc32Hex(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

/**
 * Check the digest of model bytes (Uint8Array). Returns 'verified' or 'no digest' (with a warning
 * through `warn`); throws UserError for a file whose content does not match its digest.
 * Malformed protobuf throws a plain Error.
 */
export async function checkDigest(bytes, where = 'model', warn = console.warn) {
  const all = entries(bytes);
  const digests = all.filter((e) => e.key === DIGEST_KEY);
  if (!digests.length) {
    if (all.some((e) => e.key === 'edge_rnn.format'))
      warn(`${where} carries no integrity digest (an export of an earlier edge-rnn): damage to it cannot be detected; export it again to add one`);
    return 'no digest';
  }
  const damaged = () => new UserError(`${where} is damaged: its content does not match the checksum it carries (${DIGEST_KEY}); download or export it again`);
  const [{ value, at }] = digests;
  if (digests.length > 1 || value.length !== PREFIX.length + HEX || !value.startsWith(PREFIX)) throw damaged();
  const zeroed = bytes.slice();
  zeroed.fill(0x30, at + PREFIX.length, at + PREFIX.length + HEX);  // '0' * 8
  if (PREFIX + crc32Hex(zeroed) !== value) throw damaged();
  return 'verified';
}
