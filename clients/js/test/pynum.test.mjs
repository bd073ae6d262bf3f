import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dumps, floatRepr, roundInt, roundTo } from '../src/pynum.mjs';

test('round() ties go to even, on the exact binary value', () => {
  assert.equal(roundInt(7.5), 8);
  assert.equal(roundInt(6.5), 6);
  assert.equal(roundInt(-2.5), -2);
  assert.equal(roundTo(0.0078125, 6), 0.007812);  // an exact tie: 1/128
  assert.equal(roundTo(0.0234375, 6), 0.023438);  // 3/128: the even neighbour is up
  assert.equal(roundTo(2.675, 2), 2.67);  // not a tie: 2.675 is stored just below
  assert.equal(roundTo(0.1 * 3, 3), 0.3);
});

test('floats print as Python repr', () => {
  const cases = [[1e-5, '1e-05'], [1.5e-5, '1.5e-05'], [0.0001, '0.0001'], [1, '1.0'], [0, '0.0'],
    [12.5, '12.5'], [1e16, '1e+16'], [123456789.25, '123456789.25'], [0.1, '0.1']];
  for (const [x, text] of cases) assert.equal(floatRepr(x), text);
});

test('dumps writes what json.dumps writes', () => {
  const text = dumps({ word: 'café "x"\n\u007f\u{1f600}', next: [{ word: 'a', prob: 1 }], n: 3 }, new Set(['prob']));
  assert.equal(text, '{"word": "caf\\u00e9 \\"x\\"\\n\\u007f\\ud83d\\ude00", "next": [{"word": "a", "prob": 1.0}], "n": 3}');
});
