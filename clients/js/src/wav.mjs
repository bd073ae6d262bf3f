// Reading WAV files for keyword spotting: PCM 8/16/24/32-bit or float 32/64, any channel count.
// Decodes to float32 exactly as runtime/audio.py does, so a file at the model's rate gives the
// Python runtime's samples bit for bit.

import { UserError } from './errors.mjs';

const PCM = 1, FLOAT = 3, EXTENSIBLE = 0xfffe;
const MAX_CHANNELS = 64;
const RATE_RANGE = [1000, 768000];

function fourcc(bytes, pos) {
  return String.fromCharCode(bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]);
}

/** Parse WAV bytes (Uint8Array). Returns {samples: Float32Array of frames * channels
 * interleaved, channels, rate}. A bad file is a UserError naming `where`. */
export function parseWav(bytes, where = 'WAV') {
  if (bytes.length < 12 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE')
    throw new UserError(`${where} is not a WAV file (no RIFF/WAVE header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt = null;
  // chunks after the 12-byte header; one cut short (a recorder killed mid-write) keeps what is there
  for (let pos = 12; pos + 8 <= bytes.length;) {
    const id = fourcc(bytes, pos), size = view.getUint32(pos + 4, true);
    const body = bytes.subarray(pos + 8, Math.min(bytes.length, pos + 8 + size));
    if (id === 'fmt ') {
      if (body.length < 16) throw new UserError(`${where} has a truncated format chunk`);
      const b = new DataView(body.buffer, body.byteOffset, body.byteLength);
      fmt = { code: b.getUint16(0, true), channels: b.getUint16(2, true), rate: b.getUint32(4, true), bits: b.getUint16(14, true) };
      if (fmt.code === EXTENSIBLE && body.length >= 26) fmt.code = b.getUint16(24, true);
    } else if (id === 'data') {
      if (!fmt) throw new UserError(`${where} has audio data before its format chunk`);
      return decode(body, fmt, where);
    }
    pos += 8 + size + (size & 1);
  }
  throw new UserError(`${where} has no ${fmt ? 'audio data' : 'format'} chunk (empty or truncated)`);
}

const DECODERS = {
  [`${PCM}/8`]: (v, i) => (v.getUint8(i) - 128) / 128,
  [`${PCM}/16`]: (v, i) => v.getInt16(i, true) / 32768,
  [`${PCM}/24`]: (v, i) => ((v.getUint8(i) | (v.getUint8(i + 1) << 8) | (v.getInt8(i + 2) << 16)) / 8388608),
  [`${PCM}/32`]: (v, i) => Math.fround(v.getInt32(i, true)) / 2147483648,
  [`${FLOAT}/32`]: (v, i) => clipFloat(v.getFloat32(i, true)),
  [`${FLOAT}/64`]: (v, i) => clipFloat(Math.fround(v.getFloat64(i, true))),
};

function clipFloat(x) {  // NaN -> 0, beyond [-1, 1] (infinities too) -> the bound
  return Number.isNaN(x) ? 0 : Math.min(1, Math.max(-1, x));
}

function decode(body, { code, channels, rate, bits }, where) {
  if (!(channels >= 1 && channels <= MAX_CHANNELS))
    throw new UserError(`${where} declares ${channels} channels; expected 1 to ${MAX_CHANNELS}`);
  if (!(rate >= RATE_RANGE[0] && rate <= RATE_RANGE[1]))
    throw new UserError(`${where} declares a sample rate of ${rate} Hz; expected ${RATE_RANGE[0]} to ${RATE_RANGE[1]}`);
  const read = DECODERS[`${code}/${bits}`];
  if (!read)
    throw new UserError(`${where}: unsupported WAV encoding (format ${code}, ${bits} bits); use PCM 8/16/24/32-bit or float 32/64-bit`);
  const width = bits / 8;
  const count = Math.floor(body.length / (width * channels)) * channels;
  if (count === 0) throw new UserError(`${where} holds no audio samples`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const samples = new Float32Array(count);
  for (let i = 0; i < count; i++) samples[i] = read(view, i * width);
  return { samples, channels, rate };
}

/** Mix interleaved frames * channels down to mono (the mean, summed in float32 as numpy does). */
export function toMono(samples, channels) {
  if (channels === 1) return samples;
  const frames = samples.length / channels, mono = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum = Math.fround(sum + samples[f * channels + c]);
    mono[f] = sum / channels;
  }
  return mono;
}
