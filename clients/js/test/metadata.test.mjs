import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from '../src/contract.mjs';
import { UserError } from '../src/errors.mjs';
import { readMetadata, readVarint } from '../src/protobuf.mjs';
import { bundledBytes, lmMeta, modelProto, varint } from './helpers.mjs';

test('varints round-trip, including past 32 bits', () => {
  for (const n of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 40 + 5]) assert.deepEqual(readVarint(Uint8Array.from(varint(n)), 0), [n, varint(n).length]);
});

test('metadata_props are read, other fields skipped', () => {
  const meta = { 'edge_rnn.format': '1', 'a key': 'ünïcode ✓', empty: '' };
  assert.deepEqual(readMetadata(modelProto(meta)), meta);
});

test('a truncated model is an error, not a partial map', () => {
  const bytes = modelProto({ 'edge_rnn.format': '1' });
  assert.throws(() => readMetadata(bytes.subarray(0, bytes.length - 3)), /truncated/);
});

test('the bundled models describe themselves', () => {
  const lm = parseContract(readMetadata(bundledBytes('ptb-lm')));
  assert.equal(lm.task, 'lm');
  assert.equal(lm.vocab.length, 10000);
  assert.ok(lm.vocab.includes(lm.unk) && lm.vocab.includes(lm.eos));
  assert.ok(lm.topK >= 5);
  const kws = parseContract(readMetadata(bundledBytes('fsdd-kws')));
  assert.equal(kws.task, 'kws');
  assert.equal(kws.labels[0], '_background_');
  assert.ok(kws.hop > 0 && kws.sampleRate > 0 && kws.states.length > 0);
  assert.ok(typeof kws.detector.smooth_frames === 'number');
});

test('an unknown format version is refused with a clear message', () => {
  assert.throws(() => parseContract(lmMeta(['<unk>', '<eos>'], { 'edge_rnn.format': '2' }), 'm.onnx'),
    (e) => e instanceof UserError && /format "2"/.test(e.message) && /reads format 1/.test(e.message));
  assert.throws(() => parseContract({}, 'm.onnx'), /not an edge-rnn model/);
});

test('an unknown task and broken metadata are refused', () => {
  assert.throws(() => parseContract(lmMeta([], { 'edge_rnn.task': 'tts' })), /unknown task "tts"/);
  assert.throws(() => parseContract(lmMeta([], { 'edge_rnn.states': '[{"input": 1}]' })), /broken edge-rnn metadata/);
  const kws = { 'edge_rnn.format': '1', 'edge_rnn.task': 'kws', 'edge_rnn.states': '[]', 'edge_rnn.labels': '["a"]', 'edge_rnn.sample_rate': '8000' };
  assert.throws(() => parseContract(kws), /edge_rnn.hop/);
});
