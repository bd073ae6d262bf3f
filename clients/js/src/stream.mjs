// What `edge-rnn stream` does with a model, line for line: text through a language model,
// audio through a keyword spotter. Output goes through `write(line)`; with `json` the lines are
// the Python CLI's own JSON text (json.dumps of the same values).

import { UserError } from './errors.mjs';
import { splitWords } from './lm.mjs';
import { Mulberry32 } from './sampling.mjs';
import { dumps, roundInt, roundTo } from './pynum.mjs';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Lines (strings) from byte chunks (Uint8Array), split at \n as Python splits a byte stream,
 * refusing a line that is not UTF-8 with its number. */
export async function* utf8Lines(chunks) {
  let carry = new Uint8Array(0), number = 0;
  const decode = (bytes) => {
    number++;
    try {
      return utf8.decode(bytes);
    } catch {
      throw new UserError(`input line ${number} is not UTF-8 text`);
    }
  };
  for await (const chunk of chunks) {
    const data = new Uint8Array(carry.length + chunk.length);
    data.set(carry);
    data.set(chunk, carry.length);
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      yield decode(data.subarray(start, nl + 1));
      start = nl + 1;
    }
    carry = data.slice(start);
  }
  if (carry.length) yield decode(carry);
}

function pyFixed(x, digits) {  // Python's f"{x:.{digits}f}"
  return roundTo(x, digits).toFixed(digits);
}

function formatPredictions(pairs) {
  return pairs.map((p) => `${p.word} ${pyFixed(p.prob, 3)}`).join('  ');
}

/** Feed one typed word: what it became and the next words after it (as stream_text.py's word_record). */
export async function wordRecord(predictor, word, topK) {
  const fed = await predictor.feed(word), eos = predictor.vocab.words[predictor.vocab.eos];
  const ended = fed.length > 0 && fed[fed.length - 1] === eos;
  const tokens = ended ? fed.slice(0, -1) : fed;
  return { word, tokens, known: tokens.every((t) => predictor.vocab.index.has(t)), sentence_end: ended,
    next: await predictor.topK(topK) };
}

function wordLine(record, eos, index) {
  const { word, tokens } = record;
  let label = word;
  const same = tokens.length === 1 && (tokens[0] === word || tokens[0] === word.toLowerCase());
  if (!same || record.sentence_end) {
    const shown = [...tokens.map((t) => (index.has(t) ? t : `${t}?`)), ...(record.sentence_end ? [eos] : [])];
    label = `${word} (${shown.join(' ')})`;
  }
  return `${label.padEnd(16)} -> ${formatPredictions(record.next)}`;
}

/** Each word of each line: feed it, print what it became and the topK next words; a line ends
 * a sentence. With `complete` ({words, temperature, seed}), each line is continued instead. */
export async function streamText(predictor, lines, { topK = 5, json = false, write, complete = null }) {
  if (complete) return completeLines(predictor, lines, { topK, json, write, complete });
  const eos = predictor.vocab.words[predictor.vocab.eos];
  for await (const line of lines) {
    for (const word of splitWords(line)) {
      const record = await wordRecord(predictor, word, topK);
      if (json) {
        record.next = record.next.map(({ word: w, prob }) => ({ word: w, prob: roundTo(prob, 6) }));
        write(dumps(record, new Set(['prob'])));
      } else {
        write(wordLine(record, eos, predictor.vocab.index));
      }
    }
    if (line.endsWith('\n')) await predictor.endSentence();  // a line ends a sentence, as in training
  }
}

/** Each line fed, continued by up to N words (not fed: the next line follows the line itself),
 * then ended as a sentence; one seeded generator for the whole text. */
async function completeLines(predictor, lines, { topK, json, write, complete }) {
  const eos = predictor.vocab.words[predictor.vocab.eos], rng = new Mulberry32(complete.seed ?? null);
  for await (const line of lines) {
    const words = splitWords(line);
    for (const word of words) await predictor.feed(word);
    if (words.length) {
      const { words: more, sentenceEnd } = await predictor.complete(complete.words, { temperature: complete.temperature, topK, rng });
      const text = words.join(' ');
      if (json) {
        const completion = more.map(({ word, prob }) => ({ word, prob: roundTo(prob, 6) }));
        write(dumps({ text, completion, sentence_end: sentenceEnd }, new Set(['prob'])));
      } else {
        write(`${text} -> ${[...more.map((m) => m.word), ...(sentenceEnd ? [eos] : [])].join(' ')}`);
      }
    }
    await predictor.endSentence();
  }
}

/** Samples per chunk for --chunk-ms, as the Python CLI computes it. */
export function chunkSamples(sampleRate, chunkMs) {
  if (!(chunkMs >= 1 && chunkMs <= 60000)) throw new UserError('--chunk-ms must be between 1 and 60000');
  return Math.max(1, roundInt((sampleRate * chunkMs) / 1000));
}

/** Feed audio chunks (Float32Array each) to a spotter; print each event. Returns the count. */
export async function streamAudio(spotter, chunks, { json = false, write }) {
  let count = 0;
  const show = (events) => {
    for (const { keyword, time, score } of events) {
      count++;
      if (json) write(dumps({ keyword, time, score }, new Set(['time', 'score'])));
      else write(`${pyFixed(time, 2).padStart(8)}s  ${keyword.padEnd(10)} score ${pyFixed(score, 3)}`);
    }
  };
  for await (const chunk of chunks) show(await spotter.process(chunk));
  show(await spotter.finish());  // a word in the input's last moments
  return count;
}

/** Fixed-size pieces of a whole signal (the last may be shorter). */
export function* slices(audio, size) {
  for (let start = 0; start < audio.length; start += size) yield audio.subarray(start, start + size);
}

/** Raw 16-bit little-endian mono PCM from byte chunks, in pieces of `size` samples (the last
 * may be shorter; an odd trailing byte is dropped). */
export async function* pcm16Chunks(chunks, size) {
  let carry = new Uint8Array(0);
  const toFloat = (bytes) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Float32Array.from({ length: bytes.length / 2 }, (_, i) => view.getInt16(2 * i, true) / 32768);
  };
  for await (const chunk of chunks) {
    const data = new Uint8Array(carry.length + chunk.length);
    data.set(carry);
    data.set(chunk, carry.length);
    let start = 0;
    for (; start + 2 * size <= data.length; start += 2 * size) yield toFloat(data.subarray(start, start + 2 * size));
    carry = data.slice(start);
  }
  if (carry.length >= 2) yield toFloat(carry.subarray(0, carry.length - (carry.length % 2)));
}
