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

test('an unknown task and broken metadata are refused, each with one line naming the key', () => {
  assert.throws(() => parseContract(lmMeta([], { 'edge_rnn.task': 'tts' })), /unknown task "tts"/);
  const vocab = ['<unk>', '<eos>', 'a'];
  const kws = { 'edge_rnn.format': '1', 'edge_rnn.task': 'kws', 'edge_rnn.labels': '["_background_", "_unknown_", "yes"]',
    'edge_rnn.sample_rate': '8000', 'edge_rnn.hop': '80', 'edge_rnn.detector': '{}',
    'edge_rnn.states': '[{"input": "state_h0", "output": "state_h0_out", "shape": ["batch", 4]}]' };
  assert.equal(parseContract(kws).hop, 80);
  const state = (shape) => JSON.stringify([{ input: 'state_h0', output: 'state_h0_out', shape }]);
  const cases = [
    [lmMeta(vocab, { 'edge_rnn.states': '[{"input": 1}]' }), /edge_rnn.states entry/],
    [lmMeta(vocab, { 'edge_rnn.states': state(['batch', 0]) }), /size/],
    [lmMeta(vocab, { 'edge_rnn.states': state(['batch', 1e10]) }), /size/],
    [lmMeta(vocab, { 'edge_rnn.states': '[]' }), /at least one state/],
    [lmMeta(vocab, { 'edge_rnn.states': '{"a": 1}' }), /states must be a JSON list, got dict/],
    [lmMeta(vocab, { 'edge_rnn.top_k': '100000' }), /top_k is 100000, outside 0..3/],
    [lmMeta(vocab, { 'edge_rnn.top_k': '2.5' }), /top_k must be a whole number/],
    [lmMeta(['<unk>', '<eos>']), /vocab must be at least 3/],
    [lmMeta(['<unk>', '<eos>', 'a', 'a']), /distinct/],
    [lmMeta(vocab, { 'edge_rnn.unk': '<nope>' }), /unk and edge_rnn.eos/],
    [lmMeta(vocab, { 'edge_rnn.vocab': '[not json' }), /not JSON/],
    [{ ...kws, 'edge_rnn.hop': '0' }, /hop is 0, outside 1..80000/],
    [{ ...kws, 'edge_rnn.hop': undefined }, /lacks edge_rnn.hop/],
    [{ ...kws, 'edge_rnn.sample_rate': 'fast' }, /sample_rate must be a whole number/],
    [{ ...kws, 'edge_rnn.labels': '["_background_", "_unknown_"]' }, /labels must be at least 3/],
    [{ ...kws, 'edge_rnn.labels': '"zero"' }, /labels must be a JSON list, got str/],
    [{ ...kws, 'edge_rnn.detector': '[0.5]' }, /detector must be a JSON dict/],
    [{ ...kws, 'edge_rnn.detector': '{"threshold": "x"}' }, /threshold/],
    [{ ...kws, 'edge_rnn.detector': '{"threshold": {"yes": 1.5}}' }, /threshold/],
    [{ ...kws, 'edge_rnn.detector': '{"smooth_frames": -3}' }, /smooth_frames/],
    [{ ...kws, 'edge_rnn.detector': '{"decision_s": 1e9}' }, /decision_s/],
    [{ ...kws, 'edge_rnn.detector': '{"loudness": 3}' }, /unknown detector keys/],
    [{ ...kws, 'edge_rnn.train_speakers': '[1]' }, /train_speakers/],
  ];
  for (const [meta, message] of cases) {
    for (const key of Object.keys(meta)) if (meta[key] === undefined) delete meta[key];
    assert.throws(() => parseContract(meta, 'm.onnx'), (e) => e instanceof UserError && message.test(e.message)
      && !e.message.includes('\n') && e.message.startsWith('m.onnx'), JSON.stringify(meta).slice(0, 200));
  }
});
