// A model file's integrity digest, checked as runtime/model_file.py checks it.
//
// An exported file carries `edge_rnn.digest` = "sha256:" + 64 hex digits: the SHA-256 of the
// whole file with those 64 digits written as zeros. A file damaged anywhere no longer matches and
// is refused; a file without a digest (an earlier export) loads with a warning. SHA-256 comes
// from WebCrypto (`crypto.subtle`): global in browsers' secure contexts (https, localhost) and in
// Node 19+, `node:crypto`'s webcrypto in Node 18.

import { UserError } from './errors.mjs';
import { fields } from './protobuf.mjs';

export const DIGEST_KEY = 'edge_rnn.digest';
const PREFIX = 'sha256:';
const HEX = 64;
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

async function subtle() {
  if (globalThis.crypto?.subtle) return globalThis.crypto.subtle;
  if (globalThis.process?.versions?.node) return (await import('node:crypto')).webcrypto.subtle;
  return null;  // a browser page served over plain http from another host: not a secure context
}

async function sha256Hex(bytes) {
  const crypto = await subtle();
  if (!crypto) return null;
  const hash = new Uint8Array(await crypto.digest('SHA-256', bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Check the digest of model bytes (Uint8Array). Returns 'verified', 'no digest' (with a warning
 * through `warn`) or 'not checked' (no WebCrypto here, also warned); throws UserError for a file
 * whose content does not match its digest. Malformed protobuf throws a plain Error.
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
  zeroed.fill(0x30, at + PREFIX.length, at + PREFIX.length + HEX);  // '0' * 64
  const hex = await sha256Hex(zeroed);
  if (hex === null) {
    warn(`${where}: its integrity digest cannot be checked here (no WebCrypto: serve the page from localhost or https)`);
    return 'not checked';
  }
  if (PREFIX + hex !== value) throw damaged();
  return 'verified';
}
