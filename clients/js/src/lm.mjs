// Next-word prediction on an edge-rnn language model: the JavaScript twin of runtime/lm.py.

import { UserError } from './errors.mjs';

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
  }

  /** Token ids of words: unknown words map to <unk>; a word known only in lower case maps to that. */
  encode(words) {
    return words.map((w) => this.index.get(w) ?? this.index.get(w.toLowerCase()) ?? this.unk);
  }
}

// The characters Python's str.split() splits on (str.isspace), so a line yields the same words.
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Split text into words as Python's str.split() does. */
export function splitWords(text) {
  return text.split(PY_WHITESPACE).filter((w) => w.length > 0);
}

/** [id, probability] of the k best of `logits` (Float32Array) whose id passes `accept`, best
 * first: softmax in float64 over the whole vocabulary. */
export function topKFromLogits(logits, k, accept = () => true) {
  let max = -Infinity;
  for (const z of logits) if (z > max) max = z;
  let sum = 0;
  for (const z of logits) sum += Math.exp(z - max);
  const logNorm = Math.log(sum);
  // a partial selection: keep the k best seen so far, sorted (k is small next to the vocabulary)
  const best = [];
  logits.forEach((z, i) => {
    if ((best.length === k && z <= logits[best[k - 1]]) || !accept(i)) return;
    let at = best.length;
    while (at > 0 && logits[best[at - 1]] < z) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  });
  return best.map((i) => [i, Math.exp(logits[i] - max - logNorm)]);
}

/**
 * Feed words, ask for the most likely next words. One predictor is one stream; share the Model.
 * A fresh or reset predictor starts as after an end of sentence. When the model ranks the next
 * words inside its graph (metadata top_k) and maxK fits, the graph's next_probs/next_ids are
 * read instead of the vocabulary's logits, as the Python runtime does.
 */
export class NextWordPredictor {
  /** Use `await NextWordPredictor.create(model, {maxK})`: the start needs one model call. */
  constructor(model, { maxK = null } = {}) {
    const c = model.contract;
    if (c.task !== 'lm') throw new UserError(`${model.where} is not a language model`);
    this.model = model;
    this.vocab = new Vocabulary(c.vocab, c.unk, c.eos);
    this.fast = c.topK > 0 && (maxK === null || maxK <= c.topK);
    this.maxK = this.fast ? (maxK ?? c.topK) : (maxK ?? c.vocab.length);
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

  /** Advance over words (a string is split on whitespace); several words run as one chunk. */
  async feed(words) {
    const tokens = this.vocab.encode(typeof words === 'string' ? splitWords(words) : words);
    if (tokens.length) await this._advance(tokens);  // an empty chunk never reaches onnxruntime
  }

  async _advance(tokens) {
    const ids = BigInt64Array.from(tokens, (t) => BigInt(t));
    const x = new this.model.ort.Tensor('int64', ids, [1, tokens.length]);
    const names = this.fast ? ['next_probs', 'next_ids'] : ['logits'];
    const [out, state] = await this.model.run(x, this.state, names);
    this.state = state;
    if (this.fast) {
      this._probs = Float32Array.from(out[0].data);
      this._ids = Array.from(out[1].data, Number);
    } else {
      const vocab = this.vocab.words.length;
      this._logits = out[0].data.slice((tokens.length - 1) * vocab, tokens.length * vocab);
    }
  }

  /** The k most likely next words as [{word, prob}], best first. With `prefix`, only words
   * that start with it (an autocomplete): among the graph's top_k words on the fast path, among
   * the whole vocabulary otherwise. */
  topK(k = 5, prefix = '') {
    if (!(Number.isInteger(k) && k >= 1 && k <= this.maxK))
      throw new RangeError(`k must be between 1 and ${this.maxK} for this predictor (see maxK)`);
    const words = this.vocab.words;
    if (this.fast) {
      const pairs = this._ids.map((id, i) => ({ word: words[id], prob: this._probs[i] }));
      return (prefix ? pairs.filter((p) => p.word.startsWith(prefix)) : pairs).slice(0, k);
    }
    const accept = prefix ? (id) => words[id].startsWith(prefix) : undefined;
    return topKFromLogits(this._logits, k, accept).map(([id, prob]) => ({ word: words[id], prob }));
  }

  /** Everything needed to continue later: copies of the state and the pending prediction. */
  getState() {
    return { state: this.state.map((s) => s.slice()), probs: this._probs?.slice(), ids: this._ids?.slice(), logits: this._logits?.slice() };
  }

  setState(saved) {
    this.state = saved.state.map((s) => s.slice());
    this._probs = saved.probs?.slice();
    this._ids = saved.ids?.slice();
    this._logits = saved.logits?.slice();
  }
}
