// The edge-rnn model contract (docs/model-format.md): what a model says about itself in its
// metadata_props, keys prefixed `edge_rnn.`. Mirrors runtime/contract.py.

import { UserError } from './errors.mjs';
import { TextRules } from './textrules.mjs';

export const FORMAT = '1';  // the contract version this client reads; others are refused
export const PREFIX = 'edge_rnn.';
export const TASKS = ['lm', 'kws'];

function jsonField(get, key) {
  if (!(key in get)) throw new Error(`missing edge_rnn.${key}`);
  return JSON.parse(get[key]);
}

function intField(get, key, fallback) {
  const text = key in get ? get[key] : fallback;
  if (text === undefined) throw new Error(`missing edge_rnn.${key}`);
  const value = Number(text);
  if (!Number.isInteger(value)) throw new Error(`edge_rnn.${key} is not an integer: ${text}`);
  return value;
}

function parseStates(get) {
  const states = jsonField(get, 'states');
  if (!Array.isArray(states)) throw new Error('edge_rnn.states is not a list');
  return states.map((s) => {
    const size = Number(s.shape[1]);
    if (typeof s.input !== 'string' || typeof s.output !== 'string' || !Number.isInteger(size))
      throw new Error(`bad state entry ${JSON.stringify(s)}`);
    return { input: s.input, output: s.output, size };
  });
}

function parseTaskFields(contract, get) {
  if (contract.task === 'lm') {
    contract.vocab = jsonField(get, 'vocab');
    if (!('unk' in get) || !('eos' in get)) throw new Error('missing edge_rnn.unk or edge_rnn.eos');
    contract.unk = get.unk;
    contract.eos = get.eos;
    contract.topK = intField(get, 'top_k', '0');
    contract.textRules = 'text_rules' in get ? TextRules.fromJSON(JSON.parse(get.text_rules)) : new TextRules();
  } else {
    contract.labels = jsonField(get, 'labels');
    contract.sampleRate = intField(get, 'sample_rate');
    contract.hop = intField(get, 'hop');
    contract.detector = 'detector' in get ? JSON.parse(get.detector) : {};
    if (contract.sampleRate <= 0 || contract.hop <= 0) throw new Error('sample_rate and hop must be positive');
  }
}

/**
 * Build the contract from a model's metadata map (key -> string), refusing what this
 * version cannot run. `where` names the model in error messages.
 * Returns {task, precision, config, states: [{input, output, size}], input, output, and
 * vocab/unk/eos/topK/textRules (lm) or labels/sampleRate/hop/detector (kws)}.
 */
export function parseContract(meta, where = 'model') {
  const get = {};
  for (const [k, v] of Object.entries(meta)) if (k.startsWith(PREFIX)) get[k.slice(PREFIX.length)] = v;
  if (!('format' in get))
    throw new UserError(`${where} is not an edge-rnn model (no edge_rnn.format metadata); export it with \`edge-rnn export\``);
  if (get.format !== FORMAT)
    throw new UserError(`${where} uses edge-rnn model format ${JSON.stringify(get.format)}; this client reads format ${FORMAT}: upgrade the client or re-export the model`);
  const task = get.task ?? '';
  if (!TASKS.includes(task)) throw new UserError(`${where} has unknown task ${JSON.stringify(task)} (expected lm or kws)`);
  try {
    const contract = {
      task, precision: get.precision ?? 'fp32', config: JSON.parse(get.config ?? '{}'),
      states: parseStates(get),
      input: task === 'lm' ? 'tokens' : 'audio', output: task === 'lm' ? 'logits' : 'scores',
    };
    parseTaskFields(contract, get);
    return contract;
  } catch (e) {
    throw new UserError(`${where} has broken edge-rnn metadata (${e.message})`);
  }
}
