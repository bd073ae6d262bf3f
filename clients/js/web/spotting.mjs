// Keyword spotting on the page: from the microphone (AudioWorklet, resampled to the model's
// rate as it arrives) or from a WAV file, with events listed and the scores plotted.

import { KeywordSpotter } from '../src/kws.mjs';
import { Resampler, resample } from '../src/resample.mjs';
import { parseWav, toMono } from '../src/wav.mjs';
import { ScorePlot } from './plot.mjs';

const FILE_CHUNK_S = 0.1;  // a file is fed in 100 ms chunks, as `edge-rnn stream` does by default

export class SpottingPanel {
  constructor({ events, plot, info }) {
    Object.assign(this, { eventsEl: events, info });
    this.plot = new ScorePlot(plot);
    this.events = [];
    this.onEvent = () => {};
    this.queue = Promise.resolve();  // model calls run one after another, in arrival order
  }

  setModel(model) {
    this.model = model;
    this.spotter = new KeywordSpotter(model);
    this.restart(Math.round(15 / this.spotter.detector.frameSeconds));
  }

  restart(spanFrames) {
    this.spotter.reset();
    this.events = [];
    this.eventsEl.replaceChildren();
    const d = this.spotter.detector;
    this.plot.reset(this.spotter.labels, d.thresholds, d.frameSeconds, spanFrames);
  }

  /** Feed a chunk at the model's rate: probabilities, then the detector, then the display. */
  async feed(chunk) {
    const probs = await this.spotter.probabilities(chunk);
    const events = this.spotter.detector.update(probs);
    this.plot.add(probs, events);
    for (const e of events) {
      this.events.push(e);
      const li = document.createElement('li');
      li.textContent = `${e.time.toFixed(2)} s  ${e.keyword}  score ${e.score.toFixed(3)}`;
      this.eventsEl.append(li);
      this.onEvent(e);
    }
  }

  /** Spot keywords in a whole WAV file (bytes), as fast as the model runs. */
  async runWav(bytes, name) {
    const wav = parseWav(bytes, name);
    const rate = this.spotter.sampleRate;
    const audio = resample(toMono(wav.samples, wav.channels), wav.rate, rate);
    this.restart(Math.ceil((audio.length + this.spotter.finishSamples()) / this.spotter.hop));
    const size = Math.round(rate * FILE_CHUNK_S), t0 = performance.now();
    for (let a = 0; a < audio.length; a += size) await this.feed(audio.subarray(a, a + size));
    await this.feed(new Float32Array(this.spotter.finishSamples()));  // a word in the file's last moments
    const seconds = (performance.now() - t0) / 1000, audioSeconds = audio.length / rate;
    const resampled = wav.rate === rate ? '' : ` (resampled from ${wav.rate} Hz)`;
    this.info.textContent = `${name}: ${audioSeconds.toFixed(2)} s of audio${resampled} in ${(seconds * 1000).toFixed(0)} ms, real-time factor ${(seconds / audioSeconds).toFixed(4)}`;
    return { events: this.events.slice(), seconds, audioSeconds };
  }

  /** Listen to the microphone until `stopMic`. */
  async startMic() {
    const media = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const ctx = new AudioContext();  // the device's rate; resampled here to the model's
    await ctx.audioWorklet.addModule(new URL('./mic-worklet.js', import.meta.url));
    const source = ctx.createMediaStreamSource(media);
    const tap = new AudioWorkletNode(ctx, 'mic-tap');
    const mute = ctx.createGain();
    mute.gain.value = 0;  // the graph must reach the destination to be pulled; stay silent
    source.connect(tap).connect(mute).connect(ctx.destination);
    const resampler = new Resampler(ctx.sampleRate, this.spotter.sampleRate);
    this.restart(Math.round(15 / this.spotter.detector.frameSeconds));  // the last 15 s
    this.heard = { samples: 0, peak: 0 };  // what the microphone delivered, at its own rate
    tap.port.onmessage = ({ data }) => {
      this.heard.samples += data.length;
      for (const x of data) this.heard.peak = Math.max(this.heard.peak, Math.abs(x));
      const chunk = resampler.push(data);
      this.queue = this.queue.then(() => this.feed(chunk));
    };
    this.mic = { media, ctx };
    this.info.textContent = `microphone at ${ctx.sampleRate} Hz, resampled to ${this.spotter.sampleRate} Hz`;
  }

  async stopMic() {
    if (!this.mic) return;
    this.mic.media.getTracks().forEach((t) => t.stop());
    await this.mic.ctx.close();
    await this.queue;
    this.mic = null;
  }
}
