// Text rules: how typed text becomes the words a language model was trained on. The JavaScript
// twin of runtime/textrules.py; the spec is `edge_rnn.text_rules` in docs/model-format.md, and
// tests/data/typed_text.jsonl holds typed sentences and the words both must make of them.
// Strings are handled by code point, as Python handles them.

const KEYS = ['lowercase', 'apostrophes', 'strip', 'sentence_end', 'keep_period', 'initials', 'symbols', 'clitics', 'number'];
const NUMBER = /^(?:[0-9]+(?:[.,:/][0-9]+)*|\.[0-9]+)$/;  // 5 5,000 3.5 1/2 9:30 .5 (ASCII digits)
const INITIALS = /^(?:[a-z]\.)+$/;  // u.s. p.m. j.
const MAX_INITIALS = 24;
const LIMITS = { strip: 256, apostrophes: 16, entries: 4096, entry: 64 };
const DIGITS = '0123456789';

function typed(value, key, kind, fallback) {
  const got = key in value ? value[key] : fallback;
  const ok = kind === 'list' ? Array.isArray(got)
    : kind === 'object' ? got !== null && typeof got === 'object' && !Array.isArray(got) : typeof got === kind;
  if (!ok) throw new Error(`edge_rnn.text_rules ${key} must be a JSON ${kind}`);
  return got;
}

function entries(list, key) {
  if (list.length > LIMITS.entries || !list.every((w) => typeof w === 'string' && w.length > 0 && [...w].length <= LIMITS.entry))
    throw new Error(`edge_rnn.text_rules ${key} must be at most ${LIMITS.entries} non-empty strings of at most ${LIMITS.entry} characters`);
  return list;
}

/** The rules of a model (see runtime/textrules.py for what each does); `new TextRules()` does
 * nothing: a word is itself. */
export class TextRules {
  constructor({ lowercase = false, apostrophes = '', strip = '', sentence_end = '', keep_period = [], initials = false,
    symbols = {}, clitics = [], number = '' } = {}) {
    Object.assign(this, { lowercase, initials, number, clitics: [...clitics] });
    this.apostrophes = new Set(apostrophes);
    this.strip = new Set(strip);
    this.sentenceEnd = new Set(sentence_end);
    this.keepPeriod = new Set(keep_period);
    this.symbols = new Map(Object.entries(symbols));
  }

  /** Rules from their JSON object, checked as runtime/textrules.py checks them (throws Error). */
  static fromJSON(value) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('edge_rnn.text_rules must be a JSON object');
    const unknown = Object.keys(value).filter((k) => !KEYS.includes(k)).sort();
    if (unknown.length) throw new Error(`edge_rnn.text_rules has a rule this client does not know (${JSON.stringify(unknown[0].slice(0, 40))}): upgrade the client`);
    const out = {};
    for (const key of ['lowercase', 'initials']) out[key] = typed(value, key, 'boolean', false);
    for (const key of ['apostrophes', 'strip', 'sentence_end', 'number']) {
      out[key] = typed(value, key, 'string', '');
      if ([...out[key]].length > (LIMITS[key] ?? LIMITS.entry)) throw new Error(`edge_rnn.text_rules ${key} is longer than ${LIMITS[key] ?? LIMITS.entry}`);
    }
    if (![...out.sentence_end].every((c) => out.strip.includes(c)))
      throw new Error('edge_rnn.text_rules sentence_end characters must also be in strip');
    out.keep_period = entries(typed(value, 'keep_period', 'list', []), 'keep_period');
    out.clitics = entries(typed(value, 'clitics', 'list', []), 'clitics');
    out.symbols = typed(value, 'symbols', 'object', {});
    entries(Object.values(out.symbols), 'symbols');
    if (Object.keys(out.symbols).length > LIMITS.entries || !Object.keys(out.symbols).every((k) => [...k].length === 1))
      throw new Error('edge_rnn.text_rules symbols must map single characters to words');
    return new TextRules(out);
  }

  /** One whitespace-free typed word -> {tokens: the model's words for it, end: whether it ends a sentence}. */
  split(word) {
    let chars = [...word];
    if (this.apostrophes.size) chars = chars.map((c) => (this.apostrophes.has(c) ? "'" : c));
    let start = 0, stop = chars.length, end = false;
    while (start < stop && this.strip.has(chars[start])) start++;
    while (stop > start && this.strip.has(chars[stop - 1])) {
      if (chars[stop - 1] === '.' && this._keepsPeriod(chars.slice(start, stop).join(''))) break;
      end = end || this.sentenceEnd.has(chars[stop - 1]);
      stop--;
    }
    let core = chars.slice(start, stop);
    if (!core.length) return { tokens: [], end };
    if (core.join('') === this.number) return { tokens: [this.number], end };  // already in the corpus's form
    if (this.lowercase) core = [...core.join('').toLowerCase()];
    const head = [], tail = [];
    if (core.length > 1 && this.symbols.has(core[0]) && (DIGITS + '.').includes(core[1])) head.push(this.symbols.get(core.shift()));
    if (core.length > 1 && this.symbols.has(core[core.length - 1]) && DIGITS.includes(core[core.length - 2])) tail.push(this.symbols.get(core.pop()));
    const text = core.join('');
    if (this.symbols.has(text)) return { tokens: [...head, this.symbols.get(text), ...tail], end };
    const clitic = this.clitics.find((c) => text.length > c.length && text.endsWith(c)) ?? '';
    let stem = text.slice(0, text.length - clitic.length);
    if (this.number && NUMBER.test(stem)) stem = this.number;
    return { tokens: [...head, stem, ...(clitic ? [clitic] : []), ...tail], end };
  }

  _keepsPeriod(word) {
    const w = this.lowercase ? word.toLowerCase() : word;
    return this.keepPeriod.has(w) || (this.initials && [...w].length <= MAX_INITIALS && INITIALS.test(w));
  }

  /** The start of a word being typed, as the vocabulary spells it (for completion). */
  prefix(text) {
    let chars = [...text].map((c) => (this.apostrophes.has(c) ? "'" : c));
    let start = 0;
    while (start < chars.length && this.strip.has(chars[start])) start++;
    const out = chars.slice(start).join('');
    return this.lowercase ? out.toLowerCase() : out;
  }
}

/** Typed words (null at each line end) -> the model's words, null at each sentence end (a line
 * end, or a sentence_end mark): never two nulls in a row, never one before any word. `open`: a
 * sentence was already begun before these words. As runtime/textrules.py sentences_of. */
export function* sentencesOf(words, rules, open = false) {
  for (const word of words) {
    const { tokens, end } = word === null ? { tokens: [], end: true } : rules.split(word);
    for (const token of tokens) {
      yield token;
      open = true;
    }
    if (end && open) {
      yield null;
      open = false;
    }
  }
}
