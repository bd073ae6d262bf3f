// The page: load onnxruntime-web and the default models, route a picked model file to its
// panel by the task in its metadata, and expose `window.edgeRnn` for scripted checks.

import * as ort from './assets/ort.wasm.bundle.min.mjs';
import { Model } from '../src/model.mjs';
import { SpottingPanel } from './spotting.mjs';
import { TypingPanel } from './typing.mjs';

const $ = (id) => document.getElementById(id);
const DEFAULT_MODELS = ['assets/ptb-lm.onnx', 'assets/fsdd-kws.onnx'];

// without cross-origin isolation the wasm build runs one thread; say so rather than probe
ort.env.wasm.numThreads = 1;

const typing = new TypingPanel({ text: $('text'), suggestions: $('suggestions'), info: $('lm-info') });
const spotting = new SpottingPanel({ events: $('events'), plot: $('plot'), info: $('kws-info') });
const timings = {};
const api = { ort, typing, spotting, timings, models: {}, bytes: {}, warnings: [] };
window.edgeRnn = api;

function describe(model, name, size) {
  const c = model.contract;
  const what = c.task === 'lm' ? `${c.vocab.length} words` : `${c.labels.length - 2} keywords at ${c.sampleRate} Hz`;
  return `${name}: ${c.precision}, ${what}, ${(size / 1e6).toFixed(2)} MB`;
}

/** Load model bytes and give the model to the panel of its task. */
async function useModel(bytes, name) {
  const model = await Model.load(ort, bytes, { where: name, warn: (message) => api.warnings.push(message) });
  api.models[model.contract.task] = model;
  api.bytes[model.contract.task] = bytes.length;
  $(model.contract.task === 'lm' ? 'lm-name' : 'kws-name').textContent = `(${describe(model, name, bytes.length)})`;
  if (model.contract.task === 'lm') await typing.setModel(model);
  else spotting.setModel(model);
  return model;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadDefaults() {
  let first = true;
  typing.onSuggestions = () => {
    if (first) timings.firstSuggestionMs = performance.now();  // from navigation start
    first = false;
  };
  const results = await Promise.allSettled(DEFAULT_MODELS.map(async (url) => useModel(await fetchBytes(url), url.split('/').pop())));
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  $('status').textContent = failed.length ? `could not load: ${failed.join('; ')} (run \`npm run web:assets\`)`
    : ['ready', ...api.warnings].join('; warning: ');
  timings.readyMs = performance.now();
}

$('model-file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const before = api.warnings.length;
    await useModel(new Uint8Array(await file.arrayBuffer()), file.name);
    $('status').textContent = [`loaded ${file.name}`, ...api.warnings.slice(before)].join('; warning: ');
  } catch (err) {
    $('status').textContent = err.message;
  }
});

async function spotFile(file) {
  if (!spotting.model) return;
  try {
    await spotting.runWav(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (err) {
    $('kws-info').textContent = err.message;
  }
}

$('wav-file').addEventListener('change', (e) => e.target.files[0] && spotFile(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) spotFile(e.dataTransfer.files[0]);
});

$('mic').addEventListener('click', async () => {
  const button = $('mic');
  if (spotting.mic) {
    await spotting.stopMic();
    button.textContent = 'Start microphone';
    return;
  }
  try {
    await spotting.startMic();
    button.textContent = 'Stop microphone';
  } catch (err) {
    $('kws-info').textContent = `microphone: ${err.message}`;
  }
});

api.ready = loadDefaults();
