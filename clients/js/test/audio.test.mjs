import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resampler, resample } from '../src/resample.mjs';
import { parseWav, toMono } from '../src/wav.mjs';

/** A WAV file from raw sample bytes. */
function wav(code, channels, rate, bits, data, extensible = false) {
  const fmt = new DataView(new ArrayBuffer(extensible ? 40 : 16));
  fmt.setUint16(0, extensible ? 0xfffe : code, true);
  fmt.setUint16(2, channels, true);
  fmt.setUint32(4, rate, true);
  fmt.setUint16(14, bits, true);
  if (extensible) fmt.setUint16(24, code, true);
  const chunk = (id, body) => [...new TextEncoder().encode(id), body.length & 255, (body.length >> 8) & 255, 0, 0, ...body];
  const body = [...new TextEncoder().encode('WAVE'), ...chunk('fmt ', new Uint8Array(fmt.buffer)), ...chunk('data', data)];
  return Uint8Array.from([...new TextEncoder().encode('RIFF'), 0, 0, 0, 0, ...body]);
}

test('every PCM and float encoding decodes to the same float32 as the Python reader', () => {
  const le = (n, width) => Array.from({ length: width }, (_, i) => (n >> (8 * i)) & 255);
  const f32 = (xs) => [...new Uint8Array(Float32Array.from(xs).buffer)];
  const cases = [
    [1, 8, [0, 128, 255], [-1, 0, 127 / 128]],
    [1, 16, [...le(-32768, 2), ...le(16384, 2)], [-1, 0.5]],
    [1, 24, [...le(-8388608, 3), ...le(4194304, 3)], [-1, 0.5]],
    [1, 32, [...le(-2147483648, 4), ...le(1073741824, 4)], [-1, 0.5]],
    [3, 32, f32([0.25, 2, NaN]), [0.25, 1, 0]],
    [3, 64, [...new Uint8Array(Float64Array.from([-0.125, -Infinity]).buffer)], [-0.125, -1]],
  ];
  for (const [code, bits, data, want] of cases) {
    const { samples, rate } = parseWav(wav(code, 1, 8000, bits, data), 'x.wav');
    assert.equal(rate, 8000);
    assert.deepEqual([...samples], want, `format ${code}, ${bits} bits`);
  }
  assert.deepEqual([...parseWav(wav(1, 1, 8000, 16, [0, 64], true), 'x').samples], [0.5]);
});

test('stereo is mixed to mono; extensible headers and truncated data are read', () => {
  const { samples, channels } = parseWav(wav(1, 2, 16000, 16, [0, 64, 0, 32, 0, 0, 0], true), 'x.wav');
  assert.equal(channels, 2);
  assert.deepEqual([...toMono(samples, channels)], [0.375]);  // the odd trailing bytes are dropped
});

test('bad files are refused with the file name', () => {
  assert.throws(() => parseWav(new TextEncoder().encode('hello'), 'a.wav'), /a.wav is not a WAV file/);
  assert.throws(() => parseWav(wav(1, 1, 8000, 12, [1, 2]), 'b.wav'), /unsupported WAV encoding/);
  assert.throws(() => parseWav(wav(1, 0, 8000, 16, [1, 2]), 'c.wav'), /0 channels/);
  assert.throws(() => parseWav(wav(1, 1, 8000, 16, []), 'd.wav'), /no audio samples/);
});

function tone(freq, rate, seconds) {
  return Float32Array.from({ length: rate * seconds }, (_, i) => 0.5 * Math.sin((2 * Math.PI * freq * i) / rate));
}

function rmsError(y, want, from, to) {
  let e = 0;
  for (let i = from; i < to; i++) e += (y[i] - want(i)) ** 2;
  return Math.sqrt(e / (to - from));
}

test('resampling keeps the pass band, removes what would alias, and streams exactly', () => {
  for (const [rin, rout] of [[48000, 8000], [44100, 8000], [8000, 16000]]) {
    const y = resample(tone(1000, rin, 1), rin, rout);
    assert.equal(y.length, rout);
    assert.ok(rmsError(y, (i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rout), 800, rout - 800) < 1e-3, `${rin} -> ${rout}`);
    if (rin > rout) assert.ok(rmsError(resample(tone(5000, rin, 1), rin, rout), () => 0, 800, rout - 800) < 1e-3);
    const r = new Resampler(rin, rout), x = tone(1000, rin, 1), parts = [];
    for (let a = 0; a < x.length; a += 1237) parts.push(...r.push(x.subarray(a, a + 1237)));
    parts.push(...r.flush());
    assert.deepEqual(Float32Array.from(parts), y);
  }
});
