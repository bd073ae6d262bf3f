#!/usr/bin/env node
// `node cli.mjs stream`: the JavaScript twin of `edge-rnn stream`, on onnxruntime-node.
//   stream [--model M] [--top-k K] [--show-special] [--json]   text lines on stdin -> next words
//   stream [--model M] --complete N [--temperature T] [--seed S] [--top-k K] [--json]   -> each line continued
//   stream [--model M] --input F.wav|- [--chunk-ms N] [--threshold T] [--json]   -> keyword events
// Errors are one line on stderr and exit code 2.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveModel } from './src/bundled.mjs';
import { UserError } from './src/errors.mjs';
import { KeywordSpotter } from './src/kws.mjs';
import { NextWordPredictor } from './src/lm.mjs';
import { Model } from './src/model.mjs';
import { resample } from './src/resample.mjs';
import { chunkSamples, pcm16Chunks, slices, streamAudio, streamText, utf8Lines } from './src/stream.mjs';
import { parseWav, toMono } from './src/wav.mjs';

const USAGE = 'usage: node cli.mjs stream [--model M] [--input F.wav|-] [--json] [--top-k K] [--show-special] [--complete N] [--temperature T] [--seed S] [--chunk-ms N] [--threshold T] [--threads N] [--binding node|web]';

const OPTIONS = {
  model: { type: 'string' }, input: { type: 'string' }, json: { type: 'boolean', default: false },
  'top-k': { type: 'string', default: '5' }, 'chunk-ms': { type: 'string', default: '100' },
  'show-special': { type: 'boolean', default: false }, complete: { type: 'string', default: '0' },
  temperature: { type: 'string', default: '0' }, seed: { type: 'string' },
  threshold: { type: 'string' }, threads: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' },
  binding: { type: 'string', default: 'node' },
};

function number(values, name, min, max, integer = false) {
  const text = values[name], x = Number(text);
  if (text === undefined) return undefined;
  if (text.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
    throw new UserError(`--${name} needs ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
  if (x < min || x > max) throw new UserError(`--${name} must be between ${min} and ${max}, got ${text}`);
  return x;
}

function writeLine(line) {
  process.stdout.write(`${line}\n`);
}

/** The audio of a WAV file, mono at the model's rate (resampled here when the file's differs). */
function readAudio(path, rate) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UserError(`audio file not found: ${path}`);
  }
  const wav = parseWav(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), path);
  return resample(toMono(wav.samples, wav.channels), wav.rate, rate);
}

/** onnxruntime-node, or onnxruntime-web's wasm build (the browser's binding) run under Node. */
async function binding(name, threads) {
  if (name === 'node') return import('onnxruntime-node');
  if (name !== 'web') throw new UserError(`--binding must be node or web, got ${JSON.stringify(name)}`);
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  return ort;
}

async function stream(values) {
  const threads = number(values, 'threads', 1, 256, true);
  const ort = await binding(values.binding, threads);
  const path = resolveModel(values.model ?? (values.input !== undefined ? 'fsdd-kws' : 'ptb-lm'));
  const bytes = new Uint8Array(readFileSync(path));
  const warn = (message) => process.stderr.write(`edge-rnn-js: warning: ${message}\n`);
  const model = await Model.load(ort, bytes, { threads, where: path, warn });
  if (model.contract.task === 'lm') {
    if (values.input !== undefined)
      throw new UserError('--input is for keyword-spotting models; a language model reads text on stdin');
    const topK = number(values, 'top-k', 1, 100, true);
    const words = number(values, 'complete', 0, 1000, true), temperature = number(values, 'temperature', 0, 100);
    const seed = number(values, 'seed', 0, 2 ** 32 - 1, true) ?? null;
    if (!words && (temperature || seed !== null)) throw new UserError('--temperature and --seed apply to --complete N');
    const predictor = await NextWordPredictor.create(model, { maxK: topK, showSpecial: values['show-special'] });
    const complete = words ? { words, temperature, seed } : null;
    await streamText(predictor, utf8Lines(process.stdin), { topK, json: values.json, write: writeLine, complete });
    return;
  }
  if (values.input === undefined)
    throw new UserError('a keyword spotter needs --input FILE.wav (or --input - for raw PCM on stdin)');
  const spotter = new KeywordSpotter(model, { threshold: number(values, 'threshold', 0, 1) });
  const size = chunkSamples(spotter.sampleRate, number(values, 'chunk-ms', -Infinity, Infinity));
  const chunks = values.input === '-' ? pcm16Chunks(process.stdin, size)
    : slices(readAudio(values.input, spotter.sampleRate), size);
  const count = await streamAudio(spotter, chunks, { json: values.json, write: writeLine });
  if (!values.json) process.stderr.write(`${count} event(s)\n`);
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    throw new UserError(`${e.message.split('\n')[0]} (${USAGE})`);
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help) return writeLine(USAGE);
  if (command !== 'stream' || rest.length) throw new UserError(`unknown command ${JSON.stringify(parsed.positionals.join(' '))} (${USAGE})`);
  await stream(parsed.values);
}

// a reader that stops early (| head) ends the output, as the Python CLI does on BrokenPipeError
process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));

try {
  await main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UserError)) throw e;
  process.stderr.write(`edge-rnn-js: error: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exitCode = 2;
}
