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
  const start = await p.topK(5);
  await p.feed('the company');
  assert.deepEqual(words(await p.topK(3)).slice(0, 1), ['said']);
  await p.reset();
  assert.deepEqual(await p.topK(5), start);
});

test('typed words go through the model\'s text rules; unknown words act as <unk>', async () => {
  const a = await NextWordPredictor.create(lmNode), b = await NextWordPredictor.create(lmNode);
  assert.deepEqual(await a.feed(['Qwxzzy', 'The', 'COMPANY', "it's", '5,000']), ['qwxzzy', 'the', 'company', 'it', "'s", 'N']);
  await b.feed(['<unk>', 'the', 'company', 'it', "'s", 'N']);
  assert.deepEqual(await a.topK(5), await b.topK(5));
  assert.deepEqual(a.vocab.encode(['company', 'Company', 'zzqx']), [a.vocab.index.get('company'), a.vocab.unk, a.vocab.unk]);
  assert.deepEqual(await a.feed('shares.'), ['shares', '<eos>']);
  assert.ok(a.atSentenceStart);
});

test('<unk> and <eos> are not suggested unless asked for; the rest keep their order', async () => {
  const hidden = await NextWordPredictor.create(lmNode), shown = await NextWordPredictor.create(lmNode, { showSpecial: true });
  for (const p of [hidden, shown]) await p.feed('The');
  const all = words(await shown.topK(10));
  assert.ok(all.includes('<unk>'));
  assert.deepEqual(words(await hidden.topK(8)), all.filter((w) => w !== '<unk>' && w !== '<eos>').slice(0, 8));
});

test('the graph\'s top-k and a softmax over the logits agree, also past the graph\'s k', async () => {
  const fast = await NextWordPredictor.create(lmNode, { maxK: 5 });
  const full = await NextWordPredictor.create(lmNode, { maxK: 50 });
  assert.ok(fast.fast && !full.fast);
  for (const p of [fast, full]) for (const w of ['shares', 'of', 'the']) await p.feed([w]);
  for (const k of [5, 20]) {
    const [a, b] = [await fast.topK(k), await full.topK(k)];
    assert.deepEqual(words(a), words(b));
    a.forEach((x, i) => assert.ok(Math.abs(x.prob - b[i].prob) < 1e-5));
  }
  await assert.rejects(fast.topK(10001), /between 1 and the vocabulary's size/);
});

test('a prefix completes the word being typed, on either path', async () => {
  const fast = await NextWordPredictor.create(lmNode), full = await NextWordPredictor.create(lmNode, { maxK: 50 });
  for (const p of [fast, full]) await p.feed('the');
  const got = words(await fast.topK(5, 'Compa'));
  assert.deepEqual(got, words(await full.topK(5, 'compa')));
  assert.ok(got.includes('company') && got.includes('companies') && got.every((w) => w.startsWith('compa')), got);
});

test('greedy completion is repeated top-1 steps; a seed makes sampling reproducible', async () => {
  const p = await NextWordPredictor.create(lmNode);
  await p.feed('the company said it expects to');
  const before = await p.topK(5);
  const greedy = await p.complete(8);
  assert.deepEqual(await p.topK(5), before);  // the predictor stays where it was
  const q = await NextWordPredictor.create(lmNode, { showSpecial: true }), steps = [];
  await q.feed('the company said it expects to');
  for (let i = 0; i < 8; i++) {
    const [best] = (await q.topK(2)).filter((x) => x.word !== '<unk>');
    if (best.word === '<eos>') break;
    steps.push(best.word);
    await q.feed([best.word]);
  }
  assert.deepEqual(words(greedy.words), steps);
  const a = await p.complete(8, { temperature: 1, seed: 7 }), b = await p.complete(8, { temperature: 1, seed: 7 });
  assert.deepEqual(a, b);
});

test('onnxruntime-web gives the same next words as onnxruntime-node', async () => {
  const web = await NextWordPredictor.create(await Model.load(ortWeb, bundledBytes('ptb-lm'), { where: 'ptb-lm' }));
  const node = await NextWordPredictor.create(lmNode);
  for (const w of 'the stock market fell sharply in early trading'.split(' ')) {
    await web.feed([w]);
    await node.feed([w]);
    const [a, b] = [await web.topK(5), await node.topK(5)];
    // int8 products differ a little between builds: on x86 without VNNI the native kernels add
    // u8 x s8 pairs in saturating 16-bit sums, the wasm build does not (docs/runtime.md); near ties
    // may trade places
    a.forEach((x, i) => {
      assert.ok(Math.abs(x.prob - b[i].prob) < 0.05, `${w}: ${x.word} ${x.prob} / ${b[i].word} ${b[i].prob}`);
      if (x.word !== b[i].word) {
        const other = b.find((y) => y.word === x.word);
        assert.ok(Math.abs((other ? other.prob : b[b.length - 1].prob) - x.prob) < 0.1, `${w}: ${x.word} is no near tie`);
      }
    });
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

test('finish() reports a word at the very end of the input, then starts a new stream', async () => {
  const cut = digits.subarray(0, Math.floor(10.31 * 8000));  // the demo, cut right after "six"
  const spotter = new KeywordSpotter(kwsNode), events = [];
  for (let a = 0; a < cut.length; a += 800) events.push(...await spotter.process(cut.subarray(a, a + 800)));
  assert.deepEqual(events.map((e) => e.keyword), ['three', 'one', 'four', 'one', 'five', 'nine', 'two']);
  assert.equal((spotter.pending.length + spotter.finishSamples()) % spotter.hop, 0);
  const last = await spotter.finish();
  assert.deepEqual(last.map((e) => e.keyword), ['six']);
  assert.ok(last[0].time > 10 && last[0].time < 11);
  assert.equal(spotter.detector.frame, 0);
  assert.equal(spotter.pending.length, 0);
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
  const p = await NextWordPredictor.create(model, { showSpecial: true });
  assert.equal((await p.topK(1))[0].word, 'a');  // after <eos> (id 1): id 2
  await p.feed('b zzz');
  assert.deepEqual(Array.from(ort.calls.at(-1).tokens.data, Number), [3, 0]);
  assert.deepEqual([...ort.calls.at(-1).state_h0.data], [1, 1]);  // the state after <eos> came back in
  assert.equal((await p.topK(1))[0].word, '<eos>');
  const prob = (await p.topK(4)).reduce((s, x) => s + x.prob, 0);
  assert.ok(Math.abs(prob - 1) < 1e-12);
  await assert.rejects(Model.load(ort, modelProto(lmMeta(vocab)), { task: 'kws', where: 'fake' }), /is a language model/);
});
