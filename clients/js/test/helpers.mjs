// Shared by the tests: a protobuf writer (the reader is checked against bytes it did not
// write), the bundled models, and a fake onnxruntime binding.

import { readFileSync } from 'node:fs';
import { bundledPath } from '../src/bundled.mjs';

export function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** A length-delimited field. */
export function bytesField(field, payload) {
  const body = typeof payload === 'string' ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...varint(field * 8 + 2), ...varint(body.length), ...body];
}

/** ModelProto bytes with an ir_version, a dummy graph and the given metadata_props. */
export function modelProto(meta) {
  const out = [...varint(1 * 8), ...varint(8), ...bytesField(7, [1, 2, 3, 4])];
  for (const [k, v] of Object.entries(meta)) out.push(...bytesField(14, [...bytesField(1, k), ...bytesField(2, v)]));
  return Uint8Array.from(out);
}

export function bundledBytes(name) {
  const path = bundledPath(name);
  if (!path) throw new Error(`bundled model ${name} not found in the repository`);
  return new Uint8Array(readFileSync(path));
}

/** Metadata of a small language model with the given vocabulary, for fake sessions. */
export function lmMeta(vocab, extra = {}) {
  return {
    'edge_rnn.format': '1', 'edge_rnn.task': 'lm', 'edge_rnn.vocab': JSON.stringify(vocab),
    'edge_rnn.unk': '<unk>', 'edge_rnn.eos': '<eos>',
    'edge_rnn.states': JSON.stringify([{ input: 'state_h0', output: 'state_h0_out', shape: ['batch', 2] }]),
    ...extra,
  };
}

/** A fake binding: `run(feeds)` computes outputs from the feeds with a plain function, so the
 * client's code is checked without onnxruntime (and shows the binding is injectable). */
export function fakeOrt(inputNames, compute, outputNames = ['logits', 'state_h0_out']) {
  class Tensor {
    constructor(type, data, dims) {
      Object.assign(this, { type, data, dims });
    }
  }
  const calls = [];
  const session = { inputNames, outputNames, run: async (feeds, names) => (calls.push(feeds), compute(feeds, names, Tensor)), release: async () => {} };
  return { Tensor, calls, InferenceSession: { create: async () => session } };
}
