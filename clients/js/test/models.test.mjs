// The predictor and the spotter on the bundled models, through onnxruntime-node and through
// onnxruntime-web's wasm build (the browser's binding, run here under Node), and on a fake binding.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { REPO_ROOT } from '../src/bundled.mjs';
import { KeywordSpotter } from '../src/kws.mjs';
import { NextWordPredictor } from '../src/lm.mjs';
import { Model } from '../src/model.mjs';
import { parseWav } from '../src/wav.mjs';
import { bundledBytes, fakeOrt, lmMeta, modelProto } from './helpers.mjs';

ortWeb.env.wasm.numThreads = 1;
const lmNode = await Model.load(ortNode, bundledBytes('ptb-lm'), { where: 'ptb-lm' });
const kwsNode = await Model.load(ortNode, bundledBytes('fsdd-kws'), { where: 'fsdd-kws' });
const digits = parseWav(new Uint8Array(readFileSync(join(REPO_ROOT, 'docs', 'digits.wav')))).samples;

const words = (pairs) => pairs.map((p) => p.word);

test('a fresh predictor predicts a sentence start; state carries over; reset forgets', async () => {
  const p = await NextWordPredictor.create(lmNode);
  const start = p.topK(5);
  await p.feed('the company');
  assert.deepEqual(words(p.topK(3)).slice(0, 1), ['said']);
  await p.reset();
  assert.deepEqual(p.topK(5), start);
});

test('unknown words act as <unk>; a capitalised known word as its lower case', async () => {
  const a = await NextWordPredictor.create(lmNode), b = await NextWordPredictor.create(lmNode);
  await a.feed(['Qwxzzy', 'The', 'COMPANY']);
  await b.feed(['<unk>', 'the', 'company']);
  assert.deepEqual(a.topK(5), b.topK(5));
  assert.deepEqual(a.vocab.encode(['Company', 'COMPANY', 'zzqx']), [a.vocab.index.get('company'), a.vocab.index.get('company'), a.vocab.unk]);
});

test('the graph\'s top-k and a softmax over the logits agree', async () => {
  const fast = await NextWordPredictor.create(lmNode, { maxK: 5 });
  const full = await NextWordPredictor.create(lmNode, { maxK: 50 });
  assert.ok(fast.fast && !full.fast);
  for (const p of [fast, full]) for (const w of ['shares', 'of', 'the']) await p.feed([w]);
  const [a, b] = [fast.topK(5), full.topK(5)];
  assert.deepEqual(words(a), words(b));
  a.forEach((x, i) => assert.ok(Math.abs(x.prob - b[i].prob) < 1e-5));
  assert.throws(() => fast.topK(6), /between 1 and 5/);
});

test('onnxruntime-web gives the same next words as onnxruntime-node', async () => {
  const web = await NextWordPredictor.create(await Model.load(ortWeb, bundledBytes('ptb-lm'), { where: 'ptb-lm' }));
  const node = await NextWordPredictor.create(lmNode);
  for (const w of 'the stock market fell sharply in early trading'.split(' ')) {
    await web.feed([w]);
    await node.feed([w]);
    assert.deepEqual(words(web.topK(5)), words(node.topK(5)), w);
    web.topK(5).forEach((x, i) => assert.ok(Math.abs(x.prob - node.topK(5)[i].prob) < 1e-4));
  }
});

async function spot(model, audio, chunk) {
  const spotter = new KeywordSpotter(model), events = [];
  for (let a = 0; a < audio.length; a += chunk) events.push(...await spotter.process(audio.subarray(a, a + chunk)));
  return events;
}

test('the spotter finds the spoken digits and its events do not depend on the chunk size', async () => {
  const events = await spot(kwsNode, digits, 800);
  assert.deepEqual(events.map((e) => e.keyword), ['three', 'one', 'four', 'one', 'five', 'nine', 'two', 'six']);
  for (const chunk of [1, 333, 12345]) {
    assert.deepEqual(await spot(kwsNode, digits, chunk), events, `chunks of ${chunk} samples`);
  }
});

test('onnxruntime-web spots the same events', async () => {
  const kwsWeb = await Model.load(ortWeb, bundledBytes('fsdd-kws'), { where: 'fsdd-kws' });
  assert.deepEqual(await spot(kwsWeb, digits, 800), await spot(kwsNode, digits, 800));
});

test('any binding can be injected: a fake one checks what the predictor feeds', async () => {
  const vocab = ['<unk>', '<eos>', 'a', 'b'];
  const ort = fakeOrt(['tokens', 'state_h0'], (feeds, names, Tensor) => {
    const last = Number(feeds.tokens.data.at(-1));
    const h = feeds.state_h0.data.map((v) => v + feeds.tokens.data.length);  // counts tokens seen
    const logits = new Float32Array(feeds.tokens.data.length * 4);
    logits[logits.length - 4 + ((last + 1) % 4)] = 5;  // the next id is the most likely
    return { logits: new Tensor('float32', logits, [1, feeds.tokens.data.length, 4]), state_h0_out: new Tensor('float32', h, [1, 2]) };
  });
  const model = await Model.load(ort, modelProto(lmMeta(vocab)), { where: 'fake' });
  const p = await NextWordPredictor.create(model);
  assert.equal(p.topK(1)[0].word, 'a');  // after <eos> (id 1): id 2
  await p.feed('b zzz');
  assert.deepEqual(Array.from(ort.calls.at(-1).tokens.data, Number), [3, 0]);
  assert.deepEqual([...ort.calls.at(-1).state_h0.data], [1, 1]);  // the state after <eos> came back in
  assert.equal(p.topK(1)[0].word, '<eos>');
  const prob = p.topK(4).reduce((s, x) => s + x.prob, 0);
  assert.ok(Math.abs(prob - 1) < 1e-12);
  await assert.rejects(Model.load(ort, modelProto(lmMeta(vocab)), { task: 'kws', where: 'fake' }), /is a language model/);
});
