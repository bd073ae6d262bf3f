// Keyword spotting on an edge-rnn model: audio chunks of any size in, keyword events out.
// The JavaScript twin of runtime/kws.py, down to float32 arithmetic and Python's rounding, so
// that both give the same events on the same audio. The frame grid is fixed from the start of
// the stream, so events do not depend on chunking.

import { checkDetector, DETECTOR_DEFAULTS } from './contract.mjs';
import { UserError } from './errors.mjs';
import { roundInt, roundTo } from './pynum.mjs';

// Frames per model call at most: a longer chunk runs in pieces (state carries over exactly).
// The same as the Python runtime, because int8 models quantize activations per call: the same
// calls give the same numbers.
export const MAX_CALL_FRAMES = 1000;
// After the input ends, how long a word may still take to be recognised (runtime/kws.py's
// FINISH_SECONDS); the detector's smoothing and decision time come on top.
export const FINISH_SECONDS = 1.0;

/**
 * Detection parameters: the model's `edge_rnn.detector` JSON with overrides on top (null or
 * undefined overrides are ignored), checked as the Python runtime's DetectorConfig checks them;
 * missing keys take the same defaults. threshold: a number, or {keyword: number, default: number}.
 */
export function detectorConfig(fromModel = {}, overrides = {}) {
  const cfg = { ...DETECTOR_DEFAULTS, ...fromModel };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined && value !== null) cfg[key] = value;
  return checkDetector(cfg);
}

/** Per-keyword thresholds as float32, as DetectorConfig.thresholds does. */
export function thresholdsFor(cfg, keywords) {
  const t = cfg.threshold;
  if (t !== null && typeof t === 'object') {
    const fallback = Number(t.default ?? DETECTOR_DEFAULTS.threshold);
    return Float32Array.from(keywords, (k) => Number(k in t ? t[k] : fallback));
  }
  return new Float32Array(keywords.length).fill(Number(t));
}

/**
 * Smoothing, thresholds, decision window and refractory period over per-frame probabilities
 * of one stream. labels: the model's labels; index 0 background, 1 unknown, 2.. keywords.
 */
export class Detector {
  constructor(labels, frameSeconds, config) {
    this.labels = labels.length;
    this.keywords = labels.slice(2);
    this.frameSeconds = frameSeconds;
    this.config = config;
    this.thresholds = thresholdsFor(config, this.keywords);
    this.refractory = roundInt(config.refractory_s / frameSeconds);
    this.decision = Math.max(1, roundInt(config.decision_s / frameSeconds));
    this.reset();
  }

  reset() {
    this.history = new Float32Array((this.config.smooth_frames - 1) * this.labels);  // (n - 1, labels)
    this.frame = 0;  // index of the next frame
    this.quietUntil = 0;  // no new decision window opens before this frame
    this.windowEnd = -1;  // an open decision window ends before this frame (-1: none open)
    this.best = [-Infinity, 0, 0];  // [margin over threshold, frame, keyword] so far in the window
  }

  /** Keyword margins over their thresholds (frames * keywords, float32) from probabilities
   * (frames * labels): moving averages summed in order in float32, as numpy's mean does. */
  margins(probs, frames) {
    const L = this.labels, n = this.config.smooth_frames, K = this.keywords.length;
    const buf = new Float32Array(this.history.length + probs.length);
    buf.set(this.history);
    buf.set(probs, this.history.length);
    this.history = buf.slice(buf.length - this.history.length);
    const margin = new Float32Array(frames * K);
    for (let f = 0; f < frames; f++) {
      for (let k = 0; k < K; k++) {
        let sum = 0;
        for (let j = 0; j < n; j++) sum = Math.fround(sum + buf[(f + j) * L + 2 + k]);
        margin[f * K + k] = Math.fround(Math.fround(sum / n) - this.thresholds[k]);
      }
    }
    return margin;
  }

  /** Feed probabilities (Float32Array, frames * labels); returns the events they complete,
   * [{keyword, time, score, frame}]. Frames are handled in order and ties go to the earliest
   * frame (then the first keyword), so events do not depend on how frames were chunked. */
  update(probs) {
    const frames = probs.length / this.labels, K = this.keywords.length;
    if (!frames) return [];
    const margin = this.margins(probs, frames);
    const events = [];
    let i = 0;
    while (i < frames) {
      if (this.windowEnd < 0) {  // look for the next crossing outside the refractory period
        let f = Math.max(i, this.quietUntil - this.frame);
        while (f < frames && !margin.subarray(f * K, (f + 1) * K).some((m) => m >= 0)) f++;
        if (f >= frames) break;
        i = f;
        this.windowEnd = this.frame + i + this.decision;
        this.best = [-Infinity, 0, 0];
      }
      const stop = Math.min(frames, this.windowEnd - this.frame);
      let top = i * K;  // the first largest margin in the segment, in frame-major order
      for (let j = i * K; j < stop * K; j++) if (margin[j] > margin[top]) top = j;
      if (margin[top] > this.best[0]) this.best = [margin[top], this.frame + Math.floor(top / K), top % K];
      i = stop;
      if (this.frame + i === this.windowEnd) events.push(this._close());
    }
    this.frame += frames;
    return events;
  }

  _close() {  // the decision window closes: one event, then the refractory period
    const [score, frame, k] = this.best;
    this.quietUntil = this.windowEnd + this.refractory;
    this.windowEnd = -1;
    return {
      keyword: this.keywords[k], time: roundTo((frame + 1) * this.frameSeconds, 3),
      score: roundTo(score + this.thresholds[k], 4), frame,
    };
  }
}

/** One audio stream through a keyword-spotting model. Make one per stream; share the Model. */
export class KeywordSpotter {
  /** detector: overrides of the model's detector parameters (e.g. {threshold: 0.5}). */
  constructor(model, detector = {}) {
    const c = model.contract;
    if (c.task !== 'kws') throw new UserError(`${model.where} is not a keyword-spotting model`);
    this.model = model;
    this.labels = c.labels;
    this.hop = c.hop;
    this.sampleRate = c.sampleRate;
    this.detector = new Detector(c.labels, c.hop / c.sampleRate, detectorConfig(c.detector, detector));
    this.reset();
  }

  /** Start a new stream: zero the model state, the buffer and the detector. */
  reset() {
    this.state = this.model.zeroState(1);
    this.detector.reset();
    this.pending = new Float32Array(0);
  }

  /** Advance over `chunk` (Float32Array in [-1, 1], any length) and return the probabilities
   * (Float32Array, frames * labels) of the whole hops it completes; the rest waits. */
  async probabilities(chunk) {
    const audio = new Float32Array(this.pending.length + chunk.length);
    audio.set(this.pending);
    audio.set(chunk, this.pending.length);
    const usable = audio.length - (audio.length % this.hop);
    this.pending = audio.slice(usable);
    const parts = [];
    const piece = MAX_CALL_FRAMES * this.hop;
    for (let a = 0; a < usable; a += piece) {
      const x = audio.subarray(a, Math.min(a + piece, usable));
      const tensor = new this.model.ort.Tensor('float32', x.slice(), [1, x.length]);
      const [[scores], state] = await this.model.run(tensor, this.state, ['scores']);
      this.state = state;
      parts.push(scores.data);
    }
    if (parts.length === 1) return parts[0];
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  }

  /** Feed audio; returns events [{keyword, time (s from stream start), score, frame}]. */
  async process(chunk) {
    return this.detector.update(await this.probabilities(chunk));
  }

  /** How much digital silence `finish()` feeds: the rest of the current hop and enough whole
   * hops for a word still being heard to be recognised and decided. */
  finishSamples() {
    const c = this.detector.config;
    const tail = FINISH_SECONDS + c.decision_s + c.smooth_frames * this.hop / this.sampleRate;
    return Math.ceil(tail * this.sampleRate / this.hop) * this.hop - this.pending.length;
  }

  /** The input has ended (a file, a closed pipe): follow it with digital silence and return the
   * events that completes, then start a new stream (as `reset()`). */
  async finish() {
    const events = await this.process(new Float32Array(this.finishSamples()));
    this.reset();
    return events;
  }
}
