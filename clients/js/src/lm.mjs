// Next-word prediction on an edge-rnn language model: the JavaScript twin of runtime/lm.py.

import { UserError } from './errors.mjs';
import { Mulberry32, sample } from './sampling.mjs';
import { sentencesOf } from './textrules.mjs';

/** The word list carried in the model's metadata. */
export class Vocabulary {
  constructor(words, unk, eos) {
    this.words = words;
    this.index = new Map();
    words.forEach((w, i) => this.index.set(w, i));  // a repeated word: the last id, as in Python
    if (!this.index.has(unk) || !this.index.has(eos))
      throw new UserError("the model's vocabulary lacks its own <unk> or <eos> word");
    this.unk = this.index.get(unk);
    this.eos = this.index.get(eos);
    this.bySpelling = null;  // ids in alphabetical order, made on the first prefix
  }

  /** Token ids of words as the vocabulary spells them (the text rules make them); others -> <unk>. */
  encode(words) {
    return words.map((w) => this.index.get(w) ?? this.unk);
  }

  /** Ids of the words that start with `prefix`. */
  startingWith(prefix) {
    if (!this.bySpelling) this.bySpelling = this.words.map((_, i) => i).sort((a, b) => (this.words[a] < this.words[b] ? -1 : this.words[a] > this.words[b] ? 1 : a - b));
    const order = this.bySpelling, words = this.words;
    let lo = 0, hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (words[order[mid]] < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out = [];
    for (let i = lo; i < order.length && words[order[i]].startsWith(prefix); i++) out.push(order[i]);
    return out;
  }
}

// The characters Python's str.split() splits on (str.isspace), so a line yields the same words.
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Split text into words as Python's str.split() does. */
export function splitWords(text) {
  return text.split(PY_WHITESPACE).filter((w) => w.length > 0);
}

/** Log-probabilities of `logits` (Float32Array), in float64: a softmax over the whole vocabulary. */
export function logSoftmax(logits) {
  let max = -Infinity;
  for (const z of logits) if (z > max) max = z;
  let sum = 0;
  for (const z of logits) sum += Math.exp(z - max);
  const logNorm = Math.log(sum), out = new Float64Array(logits.length);
  logits.forEach((z, i) => { out[i] = z - max - logNorm; });
  return out;
}

/** The words of typed text: a string's words with null at each line break, or the words of an
 * array of typed words. */
export function* typedWords(text) {
  if (typeof text !== 'string') {
    for (const item of text) yield* splitWords(item);
    return;
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (i) yield null;
    yield* splitWords(lines[i]);
  }
}

/**
 * Feed typed text, ask for the most likely next words. One predictor is one stream; share the
 * Model. Text goes through the model's text rules (textrules.mjs), a fresh or reset predictor
 * starts as after an end of sentence, and <unk> and <eos> are never suggested unless
 * `showSpecial`, as in runtime/lm.py. When the model ranks the next words in its graph
 * (metadata top_k) and maxK fits beside the hidden words, steps read the graph's
 * next_probs/next_ids; a longer list or a prefix runs the last step again for the logits.
 */
export class NextWordPredictor {
  /** Use `await NextWordPredictor.create(model, {maxK, showSpecial})`: the start needs one model call. */
  constructor(model, { maxK = null, showSpecial = false } = {}) {
    const c = model.contract;
    if (c.task !== 'lm') throw new UserError(`${model.where} is not a language model`);
    this.model = model;
    this.vocab = new Vocabulary(c.vocab, c.unk, c.eos);
    this.rules = c.textRules;
    this.hidden = new Set(showSpecial ? [] : [this.vocab.unk, this.vocab.eos]);
    const room = c.topK - this.hidden.size;  // the graph's ranking always holds this many shown words
    this.fast = room > 0 && (maxK === null || maxK <= room);
    this.state = model.zeroState(1);
  }

  static async create(model, options = {}) {
    const predictor = new NextWordPredictor(model, options);
    await predictor.reset();
    return predictor;
  }

  /** Forget everything fed so far; the next word is predicted as a sentence start. */
  async reset() {
    this.state = this.model.zeroState(1);
    await this._advance([this.vocab.eos]);
  }

  get atSentenceStart() {
    return this._last[this._last.length - 1] === this.vocab.eos;
  }

  /** Advance over typed text (a string: its words and line breaks; or an array of typed words):
   * the rules make the model's words, a sentence end feeds <eos>, all in one chunk. Returns the
   * words fed as the vocabulary spells them. */
  async feed(text) {
    const eos = this.vocab.words[this.vocab.eos];
    const words = [...sentencesOf(typedWords(text), this.rules, !this.atSentenceStart)].map((w) => w ?? eos);
    if (words.length) await this._advance(this.vocab.encode(words));  // an empty chunk never reaches onnxruntime
    return words;
  }

  /** End the sentence being typed (as a line break does); nothing when none is open. */
  async endSentence() {
    if (!this.atSentenceStart) await this._advance([this.vocab.eos]);
  }

  async _advance(tokens) {
    const names = this.fast ? ['next_probs', 'next_ids'] : ['logits'];
    const [out, state] = await this.model.run(this._tokens(tokens), this.state, names);
    Object.assign(this, { _last: tokens, _before: this.state, state, _logits: null, _logp: null });
    if (this.fast) {
      this._probs = Float32Array.from(out[0].data);
      this._ids = Array.from(out[1].data, Number);
    } else {
      this._logits = this._lastRow(out[0].data, tokens.length);
    }
  }

  _tokens(tokens) {
    return new this.model.ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [1, tokens.length]);
  }

  _lastRow(logits, time) {
    const vocab = this.vocab.words.length;
    return logits.slice((time - 1) * vocab, time * vocab);
  }

  /** The k most likely next words as [{word, prob}], best first. With `prefix` (the start of the
   * word being typed), only words that start with it, ranked over the whole vocabulary. */
  async topK(k = 5, prefix = '') {
    const size = this.vocab.words.length;
    if (!(Number.isInteger(k) && k >= 1 && k <= size)) throw new RangeError(`k must be between 1 and the vocabulary's size, ${size}`);
    const ranked = await this._ranked(k, prefix ? this.rules.prefix(prefix) : '', this.hidden);
    return ranked.map(([id, prob]) => ({ word: this.vocab.words[id], prob }));
  }

  /** [id, probability] of the k best words that start with prefix and are not hidden. */
  async _ranked(k, prefix, hidden) {
    if (this.fast && !prefix && k + hidden.size <= this._ids.length)
      return this._ids.map((id, i) => [id, this._probs[i]]).filter(([id]) => !hidden.has(id)).slice(0, k);
    const logp = await this._logProbs(), m = k + hidden.size, best = [];
    const consider = (i) => {  // keep the m best seen so far, best first
      const z = logp[i];
      if (best.length === m && z <= logp[best[m - 1]]) return;
      let at = best.length;
      while (at > 0 && logp[best[at - 1]] < z) at--;
      best.splice(at, 0, i);
      if (best.length > m) best.pop();
    };
    if (prefix) this.vocab.startingWith(prefix).forEach(consider);
    else for (let i = 0; i < logp.length; i++) consider(i);
    return best.filter((i) => !hidden.has(i)).slice(0, k).map((i) => [i, Math.exp(logp[i])]);
  }

  /** Log-probabilities of every next word; on the fast path the last step runs again for its logits. */
  async _logProbs() {
    if (!this._logp) {
      if (!this._logits) {
        const [out] = await this.model.run(this._tokens(this._last), this._before, ['logits']);
        this._logits = this._lastRow(out[0].data, this._last.length);
      }
      this._logp = logSoftmax(this._logits);
    }
    return this._logp;
  }

  /** Continue the text by up to n words, stopping at the end of the sentence: the most likely
   * word each time (temperature 0), or one of the topK most likely drawn with weight
   * p ** (1 / temperature), seeded by `seed` (or continuing `rng`, a Mulberry32): the same draws
   * as runtime/lm.py's. Never <unk>. Returns {words: [{word, prob}], sentenceEnd}; the
   * predictor stays where it was. */
  async complete(n, { temperature = 0, topK = 5, seed = null, rng = null } = {}) {
    if (!(n >= 0 && temperature >= 0 && topK >= 1)) throw new RangeError('complete needs n >= 0, temperature >= 0 and topK >= 1');
    const draw = rng ?? new Mulberry32(seed), hide = new Set([this.vocab.unk]), saved = this.getState(), words = [];
    try {
      for (let i = 0; i < n; i++) {
        const ranked = await this._ranked(temperature === 0 ? 1 : topK, '', hide);
        const [id, prob] = temperature === 0 ? ranked[0] : sample(ranked, temperature, draw);
        if (id === this.vocab.eos) return { words, sentenceEnd: true };
        words.push({ word: this.vocab.words[id], prob });
        await this._advance([id]);
      }
      return { words, sentenceEnd: false };
    } finally {
      this.setState(saved);
    }
  }

  /** Everything needed to continue later: the state and the pending prediction. A step never
   * changes these arrays in place (it makes new ones), so they are kept as they are. */
  getState() {
    const { state, _last, _before, _probs, _ids, _logits } = this;
    return { state, last: _last, before: _before, probs: _probs, ids: _ids, logits: _logits };
  }

  setState(saved) {
    Object.assign(this, { state: saved.state, _last: saved.last, _before: saved.before, _probs: saved.probs,
      _ids: saved.ids, _logits: saved.logits, _logp: null });
  }
}
