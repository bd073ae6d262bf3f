// The integrity digest: a bundled model verifies; any damage is refused; a file without a digest
// loads with a warning (as runtime/model_file.py does).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../src/errors.mjs';
import { checkDigest, DIGEST_KEY } from '../src/integrity.mjs';
import { bundledBytes, bytesField, modelProto } from './helpers.mjs';

const kws = bundledBytes('fsdd-kws');

test('the bundled models verify', async () => {
  for (const name of ['ptb-lm', 'fsdd-kws']) assert.equal(await checkDigest(bundledBytes(name), name, assert.fail), 'verified');
});

test('a damaged copy is refused wherever the damage is', async () => {
  let state = 7;
  const random = (n) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 60; i++) {
    const damaged = kws.slice();
    const at = i === 0 ? kws.indexOf(0x73, 0) : random(kws.length);  // first case: inside the header
    damaged[at] ^= 1 + random(255);
    await assert.rejects(checkDigest(damaged, 'kws.onnx', () => {}), (e) => {
      // a flip in the protobuf framing may make it unreadable: also a refusal, never a load
      assert.ok(e instanceof UserError ? /kws.onnx is damaged/.test(e.message) : e instanceof Error, e.message);
      return true;
    }, `byte ${at}`);
  }
});

test('a digest of the wrong length, or twice, is refused', async () => {
  const good = `sha256:${'0'.repeat(64)}`;
  for (const value of ['sha256:abc', `md5:${'0'.repeat(67)}`, `${good}0`]) {
    const meta = { [DIGEST_KEY]: value, 'edge_rnn.format': '1' };
    await assert.rejects(checkDigest(modelProto(meta), 'm'), (e) => e instanceof UserError && /m is damaged/.test(e.message));
  }
  const entry = bytesField(14, [...bytesField(1, DIGEST_KEY), ...bytesField(2, good)]);
  const twice = new Uint8Array([...modelProto({ [DIGEST_KEY]: good }), ...entry]);
  await assert.rejects(checkDigest(twice, 'm'), /damaged/);
});

test('a file without a digest loads with one warning', async () => {
  const warnings = [];
  assert.equal(await checkDigest(modelProto({ 'edge_rnn.format': '1' }), 'old.onnx', (m) => warnings.push(m)), 'no digest');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /old.onnx carries no integrity digest/);
});
