// Python's number rounding and JSON text, so the CLI prints byte for byte what `edge-rnn
// stream --json` prints and the detector rounds event times and scores as runtime/kws.py does.

/** Python's round(x): to the nearest integer, ties to even (Math.round sends ties up). */
export function roundInt(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's round(x, digits) for 0 <= digits <= 20: the double nearest the decimal that is
 * nearest the exact binary value of x, ties to even. toFixed alone sends exact ties up
 * (1/128 = 0.0078125 to 6 places: Python gives 0.007812, toFixed 0.007813). */
export function roundTo(x, digits) {
  if (!Number.isFinite(x)) return x;
  const fixed = x.toFixed(digits);
  // toFixed(100) is the exact decimal expansion of every double above about 1e-70; an exact
  // tie is a 5 followed by zeros right after the kept digits.
  const exact = Math.abs(x).toFixed(100);
  const tail = exact.slice(exact.indexOf('.') + 1 + digits);
  if (!/^50*$/.test(tail)) return Number(fixed);
  const lastKept = exact[exact.indexOf('.') + digits + (digits === 0 ? -1 : 0)];
  const up = Number(fixed), down = Math.sign(x) * (Math.abs(up) - 10 ** -digits);
  return Number(lastKept) % 2 === 0 ? Number(down.toFixed(digits)) : up;
}

/** repr() of a Python float: shortest round-trip digits (as JavaScript finds them), fixed
 * notation for exponents -4..15 with at least one digit after the point, else 1.5e-05. */
export function floatRepr(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
    return `${sign}${digits[0]}${rest}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1) || '0';
  return `${sign}${whole}.${frac}`;
}

const SHORT_ESCAPES = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string as Python's json.dumps writes it (ensure_ascii): everything outside
 * printable ASCII as \uXXXX (lower-case hex, UTF-16 units, so astral characters as pairs). */
export function stringRepr(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i], code = s.charCodeAt(i);
    if (ch in SHORT_ESCAPES) out += SHORT_ESCAPES[ch];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** json.dumps(value) with its default separators. Numbers that are JavaScript integers are
 * written as Python ints unless listed in `floats` as keys whose values are Python floats. */
export function dumps(value, floats = new Set()) {
  const walk = (v, key) => {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return floats.has(key) || !Number.isInteger(v) ? floatRepr(v) : String(v);
    if (typeof v === 'string') return stringRepr(v);
    if (Array.isArray(v)) return `[${v.map((item) => walk(item, key)).join(', ')}]`;
    return `{${Object.entries(v).map(([k, item]) => `${stringRepr(k)}: ${walk(item, k)}`).join(', ')}}`;
  };
  return walk(value, null);
}
