// A streaming windowed-sinc resampler (Kaiser window, polyphase) for any pair of rates.
//
// Good enough for keyword spotting (about 90 dB stop band with the defaults), but not the
// Python runtime's soxr "HQ": audio resampled here gives slightly different model scores.
// Output sample n sits at input position n * inRate / outRate, with the filter centred on it,
// so a whole file comes out aligned (no delay) and a stream comes out the same, only later.

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

function besselI0(x) {
  let sum = 1, term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

export class Resampler {
  /** zeros: sinc zero crossings on each side (at the lower rate); rolloff: the pass band's edge
   * as a fraction of the lower rate's Nyquist frequency; beta: the Kaiser window's shape. */
  constructor(inRate, outRate, { zeros = 24, rolloff = 0.94, beta = 9 } = {}) {
    const g = gcd(inRate, outRate);
    this.up = outRate / g;  // output samples per `down` input samples
    this.down = inRate / g;
    this.cutoff = rolloff * Math.min(1, this.up / this.down);  // in cycles per 2 input samples
    this.halfWidth = zeros / this.cutoff;  // in input samples
    this.taps = Math.ceil(this.halfWidth);
    this.beta = beta;
    this.norm = besselI0(beta);
    this.table = this.up <= 4096 ? Array.from({ length: this.up }, (_, p) => this._kernel(p)) : null;
    this.buffer = new Float32Array(0);  // input samples from index `start` on
    this.start = 0;
    this.received = 0;  // input samples pushed so far
    this.next = 0;  // index of the next output sample
  }

  /** Filter weights for phase p: the input samples base - taps + 1 .. base + taps of output
   * position base + p / up. */
  _kernel(p) {
    const w = new Float64Array(2 * this.taps);
    for (let j = 0; j < w.length; j++) {
      const x = p / this.up - (j - this.taps + 1);  // distance from the output position
      const r = x / this.halfWidth;
      if (Math.abs(r) >= 1) continue;
      const arg = Math.PI * this.cutoff * x;
      const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
      w[j] = this.cutoff * sinc * besselI0(this.beta * Math.sqrt(1 - r * r)) / this.norm;
    }
    return w;
  }

  /** Feed input samples; returns the output samples that are now complete. */
  push(chunk) {
    const merged = new Float32Array(this.buffer.length + chunk.length);
    merged.set(this.buffer);
    merged.set(chunk, this.buffer.length);
    this.buffer = merged;
    this.received += chunk.length;
    return this._emit(this.received);
  }

  /** The end of the stream: the outputs still due, reading zeros past the last input. */
  flush() {
    return this._emit(Infinity, Math.ceil((this.received * this.up) / this.down));
  }

  _emit(available, limit = Infinity) {
    const out = [];
    for (;;) {
      const pos = this.next * this.down;
      const base = Math.floor(pos / this.up), phase = pos % this.up;
      if (this.next >= limit || base + this.taps >= available) break;
      const w = this.table ? this.table[phase] : this._kernel(phase);
      let sum = 0;
      for (let j = 0, i = base - this.taps + 1 - this.start; j < w.length; j++, i++)
        if (i >= 0 && i < this.buffer.length) sum += w[j] * this.buffer[i];
      out.push(sum);
      this.next++;
    }
    // keep only what later outputs can still reach
    const keepFrom = Math.floor((this.next * this.down) / this.up) - this.taps + 1;
    if (keepFrom > this.start) {
      this.buffer = this.buffer.slice(Math.min(this.buffer.length, keepFrom - this.start));
      this.start = keepFrom;
    }
    return Float32Array.from(out);
  }
}

/** Resample a whole signal (Float32Array) from inRate to outRate. */
export function resample(samples, inRate, outRate) {
  if (inRate === outRate) return samples;
  const r = new Resampler(inRate, outRate);
  const head = r.push(samples), tail = r.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
