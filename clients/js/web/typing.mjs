// Next-word suggestions as the user types. The text is fed word by word, one model call per
// word (as `edge-rnn stream` does, so the numbers are the same), through the model's text rules
// (a `.` or a line break ends a sentence); the state after each word is kept, so an edit refeeds
// only from the first changed word. The suggestions complete the word being typed.

import { NextWordPredictor, splitWords } from '../src/lm.mjs';

/** The complete words of a text (null at each line break: a line ends a sentence) and the word
 * still being typed ('' after a space). */
export function wordsOf(text) {
  const lines = text.split('\n'), words = [];
  lines.slice(0, -1).forEach((line) => words.push(...splitWords(line), null));
  const last = lines[lines.length - 1], w = splitWords(last);
  const typing = w.length && !/\s$/.test(last) ? w.pop() : '';
  return { words: [...words, ...w], typing };
}

const CLITIC = /^('|n't$)/;  // a suggestion written onto the word before it: it's, don't

export class TypingPanel {
  constructor({ text, suggestions, info, k = 5 }) {
    Object.assign(this, { text, suggestionsEl: suggestions, info, k });
    this.fed = [];  // words fed so far
    this.saved = [];  // saved[i]: the predictor's state after the first i words
    this.busy = null;
    this.again = false;
    this.onSuggestions = () => {};
    text.addEventListener('input', () => this.update());
  }

  async setModel(model) {
    // the graph's ranking while no word is half-typed; a half-typed one is completed from any word
    this.predictor = await NextWordPredictor.create(model, { maxK: this.k });
    this.fed = [];
    this.saved = [this.predictor.getState()];
    await this.update();
  }

  /** Bring the predictor up to the text and show suggestions; calls made while one runs are
   * merged into one more run after it. */
  async update() {
    if (!this.predictor) return;
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = (async () => {
      do {
        this.again = false;
        await this._sync();
      } while (this.again);
    })();
    try {
      await this.busy;
    } finally {
      this.busy = null;
    }
  }

  async _sync() {
    const { words, typing } = wordsOf(this.text.value);
    let same = 0;
    while (same < words.length && same < this.fed.length && words[same] === this.fed[same]) same++;
    if (same < this.fed.length) {
      this.predictor.setState(this.saved[same]);
      this.fed.length = same;
      this.saved.length = same + 1;
    }
    const t0 = performance.now();
    for (const word of words.slice(same)) {
      if (word === null) await this.predictor.endSentence();
      else await this.predictor.feed(word);
      this.fed.push(word);
      this.saved.push(this.predictor.getState());
    }
    const fedNow = words.length - same, ms = performance.now() - t0;
    const pairs = await this.predictor.topK(this.k, typing);
    this.show(pairs, typing);
    if (fedNow) this.info.textContent = `${fedNow} word(s) in ${ms.toFixed(1)} ms (${(ms / fedNow).toFixed(2)} ms a word)`;
    this.onSuggestions(pairs);
  }

  show(pairs, typing) {
    this.suggestionsEl.replaceChildren(...pairs.map(({ word, prob }) => {
      const b = document.createElement('button');
      b.append(word);
      const p = document.createElement('small');
      p.textContent = prob.toFixed(3);
      b.append(p);
      b.title = word;
      b.addEventListener('click', () => this.accept(word, typing));
      return b;
    }));
  }

  /** Put a suggestion in place of the half-typed word: capitalised at a sentence start or when
   * the typed letters were, written onto the word before for a clitic ('s, n't). */
  accept(word, typing) {
    const t = this.text.value;
    let head = typing ? t.slice(0, t.length - typing.length) : t;
    if (/^\p{Lu}/u.test(typing) || (!typing && this.predictor.atSentenceStart && /^\p{Ll}/u.test(word)))
      word = word[0].toUpperCase() + word.slice(1);
    if (CLITIC.test(word)) head = head.trimEnd();
    const sep = head && !/\s$/.test(head) && !CLITIC.test(word) ? ' ' : '';
    this.text.value = `${head}${sep}${word} `;
    this.text.focus();
    this.update();
  }
}
