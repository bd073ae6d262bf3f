// The text rules on the table of typed sentences that the Python tests read too
// (tests/data/typed_text.jsonl): the same words, word for word; and the same rules refused.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../src/bundled.mjs';
import { parseContract } from '../src/contract.mjs';
import { typedWords } from '../src/lm.mjs';
import { readMetadata } from '../src/protobuf.mjs';
import { sentencesOf, TextRules } from '../src/textrules.mjs';
import { bundledBytes, lmMeta } from './helpers.mjs';

const lines = (name) => readFileSync(join(REPO_ROOT, 'tests', 'data', name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const TABLE = lines('typed_text.jsonl'), REFUSED = lines('text_rules_refused.jsonl');
// the PTB rules as the bundled model carries them; "none" is no rules at all
const RULES = { ptb: parseContract(readMetadata(bundledBytes('ptb-lm'))).textRules, none: new TextRules() };

test('the table holds both rule sets', () => {
  assert.ok(TABLE.filter((r) => r.rules === 'ptb').length >= 15 && TABLE.some((r) => r.rules === 'none'));
});

for (const row of TABLE) {
  test(`${row.rules}: ${JSON.stringify(row.text.slice(0, 40))}`, () => {
    const got = [...sentencesOf([...typedWords(row.text), null], RULES[row.rules])].map((w) => w ?? '<eos>');
    assert.deepEqual(got, row.tokens);
  });
}

for (const row of REFUSED) {
  test(`refused: ${row.why}`, () => {
    assert.throws(() => TextRules.fromJSON(row.rules), /text_rules/);
    assert.throws(() => parseContract(lmMeta(['<unk>', '<eos>', 'a'], { 'edge_rnn.text_rules': JSON.stringify(row.rules) })),
      /model: edge_rnn.text_rules/);
  });
}

test('a prefix is spelled as the vocabulary spells words', () => {
  assert.equal(RULES.ptb.prefix('“Compa'), 'compa');
  assert.equal(RULES.ptb.prefix('Don’'), "don'");
  assert.equal(RULES.none.prefix('Compa'), 'Compa');
});
