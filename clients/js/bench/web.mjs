// Measure the page in headless Chromium: bytes downloaded, time to the first suggestion (cold:
// a fresh profile, nothing cached), per-word step time and the keyword spotter's real-time
// factor, computed inside the page on onnxruntime-web (wasm, one thread).
//   python3 -m http.server 8000 --bind 127.0.0.1 &   (in clients/js, after npm run web:assets)
//   node bench/web.mjs http://127.0.0.1:8000/web/index.html [WORDS.txt] [AUDIO.wav]

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../src/bundled.mjs';

const [url, wordsFile, wavFile] = process.argv.slice(2);
const words = wordsFile ? readFileSync(wordsFile, 'utf8').split(/\s+/).filter(Boolean).slice(0, 500)
  : 'the company said it expects to report a loss for the third quarter because of higher costs'.split(' ');
const wav = readFileSync(wavFile ?? join(REPO_ROOT, 'docs', 'digits.wav')).toString('base64');

/** Runs inside the page: the median and mean of a word step, and the spotter's real-time factor. */
async function measure({ words, wav }) {
  const base = new URL('../src/', location.href);
  const { NextWordPredictor } = await import(new URL('lm.mjs', base));
  const { KeywordSpotter } = await import(new URL('kws.mjs', base));
  const { parseWav } = await import(new URL('wav.mjs', base));
  const stats = (xs) => ({ median: [...xs].sort((a, b) => a - b)[xs.length >> 1], mean: xs.reduce((s, x) => s + x, 0) / xs.length });
  const out = {};
  for (const [name, maxK] of [['graphTopK', 5], ['logits', 10000]]) {
    const p = await NextWordPredictor.create(window.edgeRnn.models.lm, { maxK });
    const ms = [];
    for (const w of words) {
      const t0 = performance.now();
      await p.feed([w]);
      await p.topK(5);
      ms.push(performance.now() - t0);
    }
    out[`stepMs_${name}`] = stats(ms.slice(10));  // the first steps warm up
  }
  const audio = parseWav(Uint8Array.from(atob(wav), (c) => c.charCodeAt(0))).samples;
  const rtf = [];
  for (let run = 0; run < 5; run++) {
    const spotter = new KeywordSpotter(window.edgeRnn.models.kws), size = spotter.sampleRate / 10;
    const t0 = performance.now();
    for (let a = 0; a < audio.length; a += size) await spotter.process(audio.subarray(a, a + size));
    rtf.push((performance.now() - t0) / 1000 / (audio.length / spotter.sampleRate));
  }
  out.kwsRealTimeFactor = stats(rtf);
  return out;
}

const profile = mkdtempSync(join(tmpdir(), 'edge-rnn-bench-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args });
try {
  const page = await browser.newPage();
  const bytes = {};
  page.on('response', async (r) => {
    const name = r.url().split('/').pop();
    bytes[name] = (await r.body().catch(() => Buffer.alloc(0))).length;
  });
  await page.goto(url);
  await page.evaluate(() => window.edgeRnn.ready);
  const timings = await page.evaluate(() => window.edgeRnn.timings);
  const result = await page.evaluate(measure, { words, wav });
  const total = Object.values(bytes).reduce((s, n) => s + n, 0);
  console.log(JSON.stringify({ chromium: browser.browser()?.version(), bytes, totalBytes: total, ...timings, ...result }, null, 1));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
