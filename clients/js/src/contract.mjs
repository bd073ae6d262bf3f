// The edge-rnn model contract (docs/model-format.md): what a model says about itself in its
// metadata_props, keys prefixed `edge_rnn.`. Mirrors runtime/contract.py: every value is checked
// for type and range before anything is allocated for it, and each problem is one UserError line.

import { UserError } from './errors.mjs';
import { TextRules } from './textrules.mjs';

export const FORMAT = '1';  // the contract version this client reads; others are refused
export const PREFIX = 'edge_rnn.';
export const TASKS = ['lm', 'kws'];
export const FIRST_KEYWORD = 2;  // labels: 0 background, 1 other speech, then the keywords
export const MAX_STATE = 2 ** 24;  // floats in one state row: far above any recurrent model
export const DETECTOR_DEFAULTS = { smooth_frames: 8, threshold: 0.6, refractory_s: 0.5, decision_s: 0.3 };

const kindOf = (v) => (v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'dict'
  : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : typeof v === 'number' ? 'float' : typeof v);
const show = (v) => JSON.stringify(v)?.slice(0, 60);
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

function jsonField(get, key, kind, where) {
  if (!(key in get)) throw new UserError(`${where} lacks edge_rnn.${key} metadata`);
  let value;
  try {
    value = JSON.parse(get[key]);
  } catch {
    throw new UserError(`${where} has edge_rnn.${key} metadata that is not JSON`);
  }
  if (kindOf(value) !== kind) throw new UserError(`${where}: edge_rnn.${key} must be a JSON ${kind}, got ${kindOf(value)}`);
  return value;
}

function intField(get, key, low, high, where, fallback) {
  const text = key in get ? get[key] : fallback;
  if (text === undefined) throw new UserError(`${where} lacks edge_rnn.${key} metadata`);
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new UserError(`${where}: edge_rnn.${key} must be a whole number, got ${show(text)}`);
  const value = Number(text);
  if (!(value >= low && value <= high)) throw new UserError(`${where}: edge_rnn.${key} is ${text.trim()}, outside ${low}..${high}`);
  return value;
}

function words(value, key, where, least) {
  if (value.length < least || !value.every((w) => typeof w === 'string' && w) || new Set(value).size !== value.length)
    throw new UserError(`${where}: edge_rnn.${key} must be at least ${least} distinct non-empty strings`);
  return value;
}

function parseStates(get, where) {
  const states = jsonField(get, 'states', 'list', where).map((s) => {
    s = kindOf(s) === 'dict' ? s : {};
    const size = Array.isArray(s.shape) && s.shape.length === 2 ? s.shape[1] : null;
    if (typeof s.input !== 'string' || typeof s.output !== 'string' || !Number.isInteger(size) || size < 1 || size > MAX_STATE)
      throw new UserError(`${where}: each edge_rnn.states entry needs input and output names and a shape ["batch", size] with 1 <= size <= ${MAX_STATE}, got ${show(s)}`);
    return { input: s.input, output: s.output, size };
  });
  const once = (key) => new Set(states.map((s) => s[key])).size === states.length;
  if (!states.length || !once('input') || !once('output'))
    throw new UserError(`${where}: edge_rnn.states must name at least one state, each once`);
  return states;
}

/** Refuse detector parameters that cannot run (as DetectorConfig does); returns them. */
export function checkDetector(d, where = 'detector') {
  if (kindOf(d) !== 'dict') throw new UserError(`${where}: a detector must be a JSON object, got ${kindOf(d)}`);
  const unknown = Object.keys(d).filter((k) => !(k in DETECTOR_DEFAULTS)).sort();
  if (unknown.length) throw new UserError(`${where}: unknown detector keys ${show(unknown)}; known: ${Object.keys(DETECTOR_DEFAULTS).sort().join(', ')}`);
  const { threshold: t, smooth_frames: n } = { ...DETECTOR_DEFAULTS, ...d };
  const values = kindOf(t) === 'dict' ? Object.values(t) : [t];
  if (!['int', 'float', 'dict'].includes(kindOf(t)) || !values.every((v) => isNumber(v) && v >= 0 && v <= 1))
    throw new UserError(`${where}: detector threshold must be a number in [0, 1] or {keyword: number}, got ${show(t)}`);
  if (!Number.isInteger(n) || n < 1 || n > 10000)
    throw new UserError(`${where}: detector smooth_frames must be a whole number from 1 to 10000, got ${show(n)}`);
  for (const key of ['refractory_s', 'decision_s']) {
    const v = { ...DETECTOR_DEFAULTS, ...d }[key];
    if (!isNumber(v) || v < 0 || v > 3600)
      throw new UserError(`${where}: detector ${key} must be a number of seconds from 0 to 3600, got ${show(v)}`);
  }
  return d;
}

function textRules(get, where) {
  if (!('text_rules' in get)) return new TextRules();
  const value = jsonField(get, 'text_rules', 'dict', where);
  try {
    return TextRules.fromJSON(value);
  } catch (e) {
    throw new UserError(`${where}: ${e.message}`);
  }
}

function parseTaskFields(c, get, where) {
  if (c.task === 'lm') {
    c.vocab = words(jsonField(get, 'vocab', 'list', where), 'vocab', where, 3);
    c.unk = get.unk ?? '';
    c.eos = get.eos ?? '';
    if (!c.vocab.includes(c.unk) || !c.vocab.includes(c.eos) || c.unk === c.eos)
      throw new UserError(`${where}: edge_rnn.unk and edge_rnn.eos must be two different words of the vocabulary`);
    c.topK = intField(get, 'top_k', 0, c.vocab.length, where, '0');
    c.textRules = textRules(get, where);
  } else {
    c.labels = words(jsonField(get, 'labels', 'list', where), 'labels', where, FIRST_KEYWORD + 1);
    c.sampleRate = intField(get, 'sample_rate', 1000, 768000, where);
    c.hop = intField(get, 'hop', 1, 10 * c.sampleRate, where);
    c.detector = 'detector' in get ? checkDetector(jsonField(get, 'detector', 'dict', where), where) : {};
    if ('train_speakers' in get) c.trainSpeakers = words(jsonField(get, 'train_speakers', 'list', where), 'train_speakers', where, 0);
  }
}

/**
 * Build the contract from a model's metadata map (key -> string), refusing what this
 * version cannot run with one UserError line. `where` names the model in error messages.
 * Returns {task, precision, config, states: [{input, output, size}], input, output, and
 * vocab/unk/eos/topK/textRules (lm) or labels/sampleRate/hop/detector/trainSpeakers (kws)}.
 */
export function parseContract(meta, where = 'model') {
  const get = {};
  for (const [k, v] of Object.entries(meta)) if (k.startsWith(PREFIX)) get[k.slice(PREFIX.length)] = v;
  if (!('format' in get))
    throw new UserError(`${where} is not an edge-rnn model (no edge_rnn.format metadata); export it with \`edge-rnn export\``);
  if (get.format !== FORMAT)
    throw new UserError(`${where} uses edge-rnn model format ${show(get.format.slice(0, 20))}; this client reads format ${FORMAT}: upgrade the client or re-export the model`);
  const task = get.task ?? '';
  if (!TASKS.includes(task)) throw new UserError(`${where} has unknown task ${show(task.slice(0, 20))}; this client runs ${TASKS.join(', ')}`);
  const contract = {
    task, precision: (get.precision ?? 'fp32').slice(0, 20),
    config: 'config' in get ? jsonField(get, 'config', 'dict', where) : {},
    states: parseStates(get, where),
    input: task === 'lm' ? 'tokens' : 'audio', output: task === 'lm' ? 'logits' : 'scores',
  };
  parseTaskFields(contract, get, where);
  return contract;
}

/**
 * The loaded graph has the inputs and outputs the contract names, with the sizes it states
 * (names from `session.inputNames`/`outputNames`, sizes from `inputMetadata`/`outputMetadata`
 * where the binding has them, as onnxruntime-node and -web 1.30 do).
 */
export function checkGraph(c, session, where) {
  const side = (names, metadata) => names && new Map(names.map((n, i) => [n, metadata?.[i]?.shape]));
  const inputs = side(session.inputNames, session.inputMetadata), outputs = side(session.outputNames, session.outputMetadata);
  if (!inputs || !outputs) return;  // a binding that does not list them (checked at the first run)
  const wanted = [[inputs, c.input, null], [outputs, c.output, null]];
  for (const s of c.states) wanted.push([inputs, s.input, s.size], [outputs, s.output, s.size]);
  for (const [graph, name, size] of wanted) {
    if (!graph.has(name)) throw new UserError(`${where} lacks the input or output ${show(name)} that its metadata names`);
    const shape = graph.get(name);
    if (size !== null && shape && (shape.length !== 2 || (typeof shape[1] === 'number' && shape[1] !== size)))
      throw new UserError(`${where}: state ${show(name)} is [${shape}] in the graph but [batch, ${size}] in its metadata`);
  }
  const last = outputs.get(c.output)?.at?.(-1), classes = c.task === 'lm' ? c.vocab.length : c.labels.length;
  if (typeof last === 'number' && last !== classes)
    throw new UserError(`${where}: ${show(c.output)} has ${last} classes but the metadata lists ${classes}`);
  if (c.topK && !(outputs.has('next_probs') && outputs.has('next_ids')))
    throw new UserError(`${where} sets edge_rnn.top_k but has no next_probs/next_ids outputs`);
}
