// Drive the web page in headless Chromium and print what it shows as one JSON object:
// suggestions after typed text, keyword events from a WAV file and from the (fake) microphone,
// timings; optionally a screenshot. Used by tests/test_js_client.py and bench/web.mjs.
//   node scripts/browser-check.mjs URL --text "the company said " [--wav F.wav]
//        [--mic F.wav --mic-seconds S (of microphone audio)] [--screenshot out.png] [--chromium /usr/bin/chromium]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    text: { type: 'string', default: 'the company said ' }, wav: { type: 'string' }, mic: { type: 'string' },
    'mic-seconds': { type: 'string', default: '12' }, screenshot: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' }, 'bench-steps': { type: 'string', default: '0' },
  },
});

/** Chromium with no network of its own, and a WAV file as the microphone when given. */
async function launch(profile) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'];
  if (values.mic) {
    // Chromium plays the file from the moment the page opens the microphone, once (%noloop), at
    // the fake device's rate (any WAV rate works). A relative path gives silence: resolve it.
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${resolve(values.mic)}%noloop`);
  }
  // a persistent context on a fresh profile folder: Chromium's --user-data-dir
  return chromium.launchPersistentContext(profile, {
    executablePath: values.chromium, headless: true, args, viewport: { width: 900, height: 1000 },
  });
}

async function typeAndRead(page, text) {
  await page.click('#text');
  await page.keyboard.type(text, { delay: 20 });
  await page.evaluate(() => window.edgeRnn.typing.update());
  return page.$$eval('#suggestions button', (bs) => bs.map((b) => ({ word: b.title, prob: Number(b.querySelector('small').textContent) })));
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'edge-rnn-chromium-'));
  const browser = await launch(profile);
  try {
    const page = await browser.newPage();
    const bytes = { wasm: 0, models: 0, other: 0 };
    page.on('response', async (r) => {
      const size = (await r.body().catch(() => Buffer.alloc(0))).length;
      const kind = r.url().endsWith('.wasm') ? 'wasm' : r.url().endsWith('.onnx') ? 'models' : 'other';
      bytes[kind] += size;
    });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(positionals[0]);
    await page.evaluate(() => window.edgeRnn.ready);
    const result = { status: await page.textContent('#status'), errors };
    result.timings = await page.evaluate(() => window.edgeRnn.timings);
    result.suggestions = await typeAndRead(page, values.text);
    result.predictions = await page.evaluate((k) => window.edgeRnn.typing.predictor.topK(k), 5);
    if (values.wav) {
      await page.setInputFiles('#wav-file', values.wav);
      await page.waitForFunction(() => /real-time factor/.test(document.querySelector('#kws-info').textContent));
      result.wavEvents = await page.evaluate(() => window.edgeRnn.spotting.events.map(({ keyword, time, score }) => ({ keyword, time, score })));
      result.wavInfo = await page.textContent('#kws-info');
    }
    if (values.mic) {
      await page.click('#mic');
      // until the device has delivered --mic-seconds of audio (not of wall time: a busy machine
      // may deliver it late), then stop: that waits for the chunks still queued
      const seconds = Number(values['mic-seconds']);
      await page.waitForFunction((s) => {
        const sp = window.edgeRnn.spotting;
        return sp.mic && sp.heard.samples >= s * sp.mic.ctx.sampleRate;
      }, seconds, { timeout: (3 * seconds + 30) * 1000, polling: 100 });
      await page.click('#mic');
      await page.waitForFunction(() => !window.edgeRnn.spotting.mic);
      result.micInfo = await page.textContent('#kws-info');
      result.micHeard = await page.evaluate(() => window.edgeRnn.spotting.heard);
      result.micEvents = await page.evaluate(() => window.edgeRnn.spotting.events.map(({ keyword, time, score }) => ({ keyword, time, score })));
    }
    if (values.screenshot) await page.screenshot({ path: values.screenshot, fullPage: true });
    result.bytes = bytes;
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
