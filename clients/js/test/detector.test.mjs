import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Detector, detectorConfig } from '../src/kws.mjs';

const LABELS = ['_background_', '_unknown_', 'yes', 'no'];

/** Probabilities (frames * labels) that are background except for [start, end, keyword, p] bursts. */
function probs(frames, bursts) {
  const out = new Float32Array(frames * LABELS.length);
  for (let f = 0; f < frames; f++) out[f * 4] = 1;
  for (const [start, end, keyword, p] of bursts) {
    for (let f = start; f < end; f++) {
      out[f * 4] = 1 - p;
      out[f * 4 + LABELS.indexOf(keyword)] = p;
    }
  }
  return out;
}

function detector(cfg) {
  return new Detector(LABELS, 0.1, detectorConfig({ smooth_frames: 1, threshold: 0.5, refractory_s: 0.5, decision_s: 0.3 }, cfg));
}

test('a crossing opens a window; the best margin in it wins; time is the frame after it', () => {
  const d = detector({});
  const events = d.update(probs(30, [[10, 12, 'no', 0.6], [11, 13, 'yes', 0.9]]));
  assert.deepEqual(events, [{ keyword: 'yes', time: 1.2, score: 0.9, frame: 11 }]);
});

test('the refractory period after a window swallows a second crossing', () => {
  // window 10..12 closes at 13, refractory 5 frames: quiet until 18
  const events = detector({}).update(probs(40, [[10, 11, 'yes', 0.9], [16, 17, 'no', 0.9], [25, 26, 'no', 0.8]]));
  assert.deepEqual(events.map((e) => [e.keyword, e.frame]), [['yes', 10], ['no', 25]]);
});

test('per-keyword thresholds with a default', () => {
  const p = probs(30, [[5, 6, 'yes', 0.7], [15, 16, 'no', 0.7]]);
  const events = detector({ threshold: { no: 0.8, default: 0.6 } }).update(p);
  assert.deepEqual(events.map((e) => e.keyword), ['yes']);
});

test('smoothing averages the last frames, so a one-frame spike stays under', () => {
  const p = probs(30, [[5, 6, 'yes', 0.9], [15, 19, 'no', 0.9]]);
  assert.deepEqual(detector({ smooth_frames: 3 }).update(p).map((e) => e.keyword), ['no']);
});

test('events do not depend on how the frames are chunked', () => {
  const p = probs(200, [[10, 14, 'yes', 0.7], [12, 15, 'no', 0.75], [40, 41, 'no', 0.95], [44, 60, 'yes', 0.55], [150, 199, 'no', 0.9]]);
  const whole = detector({ smooth_frames: 3 }).update(p);
  assert.ok(whole.length >= 3);
  for (const size of [1, 2, 7, 13]) {
    const d = detector({ smooth_frames: 3 }), events = [];
    for (let f = 0; f < 200; f += size) events.push(...d.update(p.subarray(f * 4, Math.min(200, f + size) * 4)));
    assert.deepEqual(events, whole, `chunks of ${size} frames`);
  }
});

test('impossible parameters are refused', () => {
  assert.throws(() => detectorConfig({}, { smooth_frames: 0 }), /smooth_frames must be a whole number/);
  assert.deepEqual(detectorConfig({}), { smooth_frames: 8, threshold: 0.6, refractory_s: 0.5, decision_s: 0.3 });  // DetectorConfig's defaults
  assert.throws(() => detectorConfig({ refractory_s: -1 }), /refractory/);
});
