// Copy what the web page loads into web/assets/ (git-ignored): onnxruntime-web's wasm build
// from node_modules, and the two bundled models from the Python package as its default models.
// The page makes no request outside the folder it is served from.

import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledPath } from '../src/bundled.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const assets = join(here, '..', 'web', 'assets');
const dist = join(here, '..', 'node_modules', 'onnxruntime-web', 'dist');
mkdirSync(assets, { recursive: true });

// the wasm-only build with its loader bundled in: one module and one .wasm file
const files = ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm'].map((name) => [join(dist, name), name]);
for (const name of ['ptb-lm', 'fsdd-kws']) {
  const path = bundledPath(name);
  if (!path) throw new Error(`bundled model ${name} not found in the repository`);
  files.push([path, `${name}.onnx`]);
}
for (const [src, name] of files) {
  copyFileSync(src, join(assets, name));
  console.log(`web/assets/${name}  ${statSync(src).size} bytes`);
}
