// Seeded sampling for text completion: the same numbers as runtime/sampling.py.

/** A small 32-bit generator of floats in [0, 1) (Mulberry32): with one seed, JavaScript and
 * Python draw the same sequence. No seed: a random one. */
export class Mulberry32 {
  constructor(seed = null) {
    this.state = seed === null ? crypto.getRandomValues(new Uint32Array(1))[0] : Number(BigInt.asUintN(32, BigInt(seed)));
  }

  random() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** One of [id, probability] pairs, drawn with weight (p / pMax) ** (1 / temperature). */
export function sample(ranked, temperature, rng) {
  const top = Math.max(...ranked.map(([, p]) => p));
  const weights = ranked.map(([, p]) => (top > 0 ? (p / top) ** (1 / temperature) : 1));
  const u = rng.random() * weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < ranked.length; i++) {
    acc += weights[i];
    if (u < acc) return ranked[i];
  }
  return ranked[ranked.length - 1];
}
