'use strict';
// Pipeline benchmark: N generated 1920x1080 JPEGs -> 3x224x224 RGB ImageNet-normalized NCHW float32, batches
// of 8, parity defaults (INTER_LINEAR, no shrink-on-load). Runs the Python cv2+numpy reference (reference.py)
// and ImageBatchFactory (compiled dist/, run `npx tsc -p tsconfig.build.json` first) on the same files, in the
// same run, and prints images/s of both and the ratio.
// Usage: node bench/pipeline/bench.js [images=240] [--memory=10000]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const sharp = require('sharp');
const { ImageBatchFactory } = require('../../dist/batch/image-factory');

const root = path.join(__dirname, '..', '..');
const work = path.join(root, 'bench', '.work', 'pipeline');
const count = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 240);
const memory = Number((process.argv.find((a) => a.startsWith('--memory=')) ?? '--memory=0').split('=')[1]);
const IMAGENET = {
  shape: [3, 224, 224],
  color: 'rgb',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  batchSize: 8,
};

async function makeImages() {
  fs.mkdirSync(work, { recursive: true });
  const w = 1920;
  const h = 1080;
  for (let k = 0; k < count; k++) {
    const file = path.join(work, `img${String(k).padStart(5, '0')}.jpg`);
    if (fs.existsSync(file)) continue;
    const raw = Buffer.alloc(w * h * 3);
    let s = k + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        const i = (y * w + x) * 3;
        raw[i] = ((x * 255) / w + (s & 31) + k * 7) & 255;
        raw[i + 1] = ((y * 255) / h + ((s >> 5) & 31)) & 255;
        raw[i + 2] = (128 + 100 * Math.sin(x / (17 + k) + y / 53) + ((s >> 10) & 15)) & 255;
      }
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(file);
  }
}

async function runNode(options) {
  const t0 = performance.now();
  const f = new ImageBatchFactory({ images: work, ...IMAGENET, ...options });
  await f.open();
  const buf = new Float32Array(8 * 3 * 224 * 224);
  let tFirst = 0;
  let n = 0;
  for (let b = 0; await f.fill({ input: buf }, b); b++) {
    if (b === 0) tFirst = performance.now();
    n += 8;
  }
  const t1 = performance.now();
  await f.close();
  // Steady state: from the first batch delivered (workers loaded) to the end.
  return {
    images: n,
    seconds: (t1 - t0) / 1000,
    images_per_s: n / ((t1 - t0) / 1000),
    steady_images_per_s: (n - 8) / ((t1 - tFirst) / 1000),
  };
}

async function runMemory(total) {
  const files = fs.readdirSync(work).map((f) => path.join(work, f));
  const list = Array.from({ length: total }, (_, i) => files[i % files.length]);
  const f = new ImageBatchFactory({ images: list, ...IMAGENET });
  const buf = new Float32Array(8 * 3 * 224 * 224);
  const samples = [];
  let n = 0;
  for (let b = 0; await f.fill({ input: buf }, b); b++) {
    n += 8;
    if (n % 1000 === 0) samples.push({ images: n, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) });
  }
  await f.close();
  return samples;
}

(async () => {
  await makeImages();
  const py = spawnSync('python3', [path.join(__dirname, 'reference.py'), work], { encoding: 'utf8' });
  if (py.status !== 0) throw new Error(py.stderr);
  const ref = JSON.parse(py.stdout);
  const node = await runNode({});
  const one = await runNode({ workers: 1 });
  const cpu = os.cpus()[0].model;
  console.log(
    `machine: ${os.availableParallelism()} cores (${cpu}), Node ${process.version}, ${count} images 1920x1080 JPEG q90`,
  );
  console.log(`python cv2 ${ref.threads} threads : ${ref.images_per_s.toFixed(1)} images/s`);
  console.log(
    `node ${os.availableParallelism()} workers       : ${node.images_per_s.toFixed(1)} images/s incl. worker start (${node.steady_images_per_s.toFixed(1)} steady)`,
  );
  console.log(
    `node 1 worker         : ${one.images_per_s.toFixed(1)} images/s incl. worker start (${one.steady_images_per_s.toFixed(1)} steady)`,
  );
  console.log(
    `ratio node/python     : ${(node.images_per_s / ref.images_per_s).toFixed(2)}x (steady ${(node.steady_images_per_s / ref.images_per_s).toFixed(2)}x)`,
  );
  if (memory > 0) {
    for (const s of await runMemory(memory)) console.log(`memory: ${s.images} images, rss ${s.rssMiB} MiB`);
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
