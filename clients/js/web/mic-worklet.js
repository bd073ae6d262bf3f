// Microphone samples from the audio thread to the page: mono, in blocks of about 43 ms at
// 48 kHz (fewer messages than one per 128-frame render quantum).
class MicTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(2048);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length) {
      const frames = channels[0].length;
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (const ch of channels) sum += ch[i];
        this.block[this.filled++] = sum / channels.length;
        if (this.filled === this.block.length) {
          this.port.postMessage(this.block.slice());
          this.filled = 0;
        }
      }
    }
    return true;  // keep running while the page listens
  }
}

registerProcessor('mic-tap', MicTap);
