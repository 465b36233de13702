'use strict';
// Byte-identity of the builtin backend's cache across activation limits, inference paths and thread counts: the
// PaddleOCR detector (3×320×320) calibrated on the bench's scenes with each configuration below, for batches of 8
// and of 4; every cache is compared byte for byte with its batch size's whole-batch native cache
// (maxActivationBytes 0). Needs the compiled package (`npx tsc -p tsconfig.build.json && npx cmake-js compile`) and
// the images bench.js makes (bench/.work/calibrate/scenes-100).
//
// Usage: node bench/calibrate/split-identity.js [--images 96] [--batches 8,4]
// Prints one line per run and one per comparison; exits 1 when a cache differs.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const work = path.join(root, 'bench', '.work', 'calibrate');
const scenes = path.join(work, 'scenes-100');
const model = path.join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// Label, then calibrate() options on top of the shared ones. The first is the reference.
const CONFIGS = [
  ['whole, native', { maxActivationBytes: 0, inference: 'native' }],
  ['default limit, native', { inference: 'native' }],
  ['1 byte, native', { maxActivationBytes: 1, inference: 'native' }],
  ['whole, worker', { maxActivationBytes: 0, inference: 'worker' }],
  ['default limit, worker', { inference: 'worker' }],
  ['1 byte, worker', { maxActivationBytes: 1, inference: 'worker' }],
  ['default limit, native, 1 thread, 3 decode workers', { inference: 'native', threads: 1, workers: 3 }],
  ['default limit, worker, 1 thread, 3 decode workers', { inference: 'worker', threads: 1, workers: 3 }],
];

async function main() {
  const { calibrate } = require(path.join(root, 'dist', 'index.js'));
  if (!fs.existsSync(scenes)) throw new Error(`${scenes} is missing: run bench/calibrate/bench.js once first`);
  const out = path.join(work, 'identity');
  fs.mkdirSync(out, { recursive: true });
  const images = Number(arg('images', '96'));
  let differing = 0;
  for (const batchSize of arg('batches', '8,4').split(',').map(Number)) {
    let reference;
    for (const [label, options] of CONFIGS) {
      const cache = path.join(out, `b${batchSize}-${label.replace(/[^a-z0-9]+/gi, '-')}.cache`);
      const t0 = Date.now();
      const r = await calibrate(model, scenes, {
        shape: [3, 320, 320],
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        batchSize,
        limit: images,
        cache,
        overwrite: true,
        tensorrt: '10.3',
        ...options,
      });
      const bytes = fs.readFileSync(cache);
      reference ??= bytes;
      const same = bytes.equals(reference);
      if (!same) differing++;
      const lines = bytes.toString('latin1').split('\n');
      const refLines = reference.toString('latin1').split('\n');
      const changed = lines.filter((l, i) => l !== refLines[i]).length;
      console.log(
        `batch ${batchSize}, ${label}: ${r.inference}, ${r.images.used} images, ${r.cache.entries.length} entries, ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s; ${same ? 'byte-identical to' : `${changed} lines differ from`} ` +
          `"${CONFIGS[0][0]}"`,
      );
    }
  }
  if (differing > 0) {
    console.log(`${differing} cache(s) differ`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
