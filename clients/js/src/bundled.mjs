// Finding a model given as a path or as the name of a model bundled with the Python package.
// Node only. The bundled files are looked for by file name anywhere under the package folder,
// so the lookup survives the package's folders being rearranged.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.mjs';

export const BUNDLED = {
  'ptb-lm': 'ptb-lm.int8.onnx', 'fsdd-kws': 'fsdd-kws.int8.onnx',
  'fsdd-kws-trio': 'fsdd-kws-trio.int8.onnx', 'fsdd-kws-small': 'fsdd-kws-small.int8.onnx',
};

/** The repository root: two levels above this client (clients/js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function findFile(dir, name, depth) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const e of entries) if (e.isFile() && e.name === name) return join(dir, e.name);
  if (depth === 0) return null;
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name === '__pycache__') continue;
    const found = findFile(join(dir, e.name), name, depth - 1);
    if (found) return found;
  }
  return null;
}

/** The path of a bundled model's file in the repository, or null. */
export function bundledPath(name, root = REPO_ROOT) {
  return BUNDLED[name] ? findFile(join(root, 'edge_rnn'), BUNDLED[name], 3) : null;
}

/** A path to an existing file, or the name of a bundled model (a file of that name wins). */
export function resolveModel(value) {
  if (BUNDLED[value] && !existsSync(value)) {
    const path = bundledPath(value);
    if (!path) throw new UserError(`bundled model ${JSON.stringify(value)} not found under ${join(REPO_ROOT, 'edge_rnn')}`);
    return path;
  }
  if (!existsSync(value) || !statSync(value).isFile())
    throw new UserError(`model not found: ${value} (give a .onnx path or one of: ${Object.keys(BUNDLED).join(', ')})`);
  return value;
}
