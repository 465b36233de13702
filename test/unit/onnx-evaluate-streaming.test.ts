/**
 * @jest-environment ./test/helpers/ort-environment.js
 */
// evaluateQdqModels keeps running sums and runs each model in a worker, one sample per run; these tests hold it to
// the metrics' definitions computed from every value held at once, and check what the pipeline must not change.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import {
  activationQdqPairs,
  evaluateQdq,
  evaluateQdqModels,
  type Evaluation,
  type OutputAgreement,
  type TensorError,
} from '../../lib/onnx/evaluate';
import { cloneModelProto, decodeOnnxModel, encodeOnnxModel, loadOnnxModel } from '../../lib/onnx/model';
import { buildQdqModel } from '../../lib/onnx/qdq';
import { createQdqSession } from '../../lib/onnx/session';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { attr, buildModel, floatTensor, node, randomValues, saveModel, valueInfo } from '../helpers/onnx-builder';

const PRE = { shape: [3, 8, 8], scale: 1 / 255, mean: [0.4, 0.45, 0.5], std: [0.25, 0.25, 0.25] };
const scales = new Map([
  ['x', 2.2 / 127],
  ['relu', 1.1 / 127],
  ['gap', 0.6 / 127],
  ['flat', 0.6 / 127],
]);

/** x → Conv → Relu → (GlobalAveragePool → Flatten → Gemm → Softmax = probs) and (Conv → feat): two outputs. */
function twoHeadModel(batch: number | string): onnx.ModelProto {
  return buildModel({
    inputs: [valueInfo('x', [batch, 3, 8, 8])],
    outputs: [valueInfo('probs', [batch, 5]), valueInfo('feat', [batch, 4, 8, 8])],
    initializers: [
      floatTensor('w', [8, 3, 3, 3], randomValues(216, 1, 0.5)),
      floatTensor('w2', [4, 8, 1, 1], randomValues(32, 3)),
      floatTensor('fc.w', [5, 8], randomValues(40, 2, 2)),
      floatTensor('fc.b', [5], [0, 0.1, 0.2, 0.3, 0.4]),
    ],
    nodes: [
      node('Conv', ['x', 'w'], ['conv'], [attr.ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['conv'], ['relu']),
      node('GlobalAveragePool', ['relu'], ['gap']),
      node('Flatten', ['gap'], ['flat']),
      node('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], [attr.int('transB', 1)]),
      node('Softmax', ['logits'], ['probs'], [attr.int('axis', -1)]),
      node('Conv', ['relu', 'w2'], ['feat']),
    ],
  });
}

let dir: string;
let images: string;
let dynamicModel: string;
let fixedModel: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-eval-stream-'));
  images = path.join(dir, 'images');
  await makeSyntheticImages(images, { count: 11, seed: 5, format: 'png', size: [24, 20] });
  dynamicModel = saveModel(twoHeadModel('N'), path.join(dir, 'dynamic.onnx'));
  fixedModel = saveModel(twoHeadModel(4), path.join(dir, 'fixed.onnx'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const factory = (batchSize: number): ImageBatchFactory =>
  new ImageBatchFactory({ ...PRE, images, name: 'x', batchSize, lastBatch: 'pad', workers: 1 });

/** Every batch the factory delivers, with its count of real samples (the rest pads the last batch). */
async function allBatches(f: ImageBatchFactory): Promise<Array<{ data: Float32Array; real: number }>> {
  const [spec] = f.inputs;
  const out: Array<{ data: Float32Array; real: number }> = [];
  try {
    for (let i = 0; ; i++) {
      const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      const before = f.stats.used;
      if (!(await f.fill({ [spec.name]: data }, i))) break;
      out.push({ data, real: f.stats.used - before });
    }
  } finally {
    await f.close();
  }
  return out;
}

function withOutputs(proto: onnx.ModelProto, names: readonly string[]): Uint8Array {
  const copy = cloneModelProto(proto);
  for (const name of names) (copy.graph as onnx.GraphProto).output.push(onnx.ValueInfoProto.create({ name }));
  return encodeOnnxModel(copy);
}

const concat = (parts: Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/**
 * The reference: the ONNX Runtime runs evaluate makes (one image per run where the batch dimension is dynamic,
 * whole batches where it is fixed, the cores divided between the two models), on this thread, every value of
 * every batch (real rows only) kept, and each metric computed from its definition in one pass over all of them.
 * The runs must be the same: ONNX Runtime's convolutions round the last bits differently with one image per run
 * than with four.
 */
async function reference(
  modelPath: string,
  qdqBytes: Uint8Array,
  batches: Array<{ data: Float32Array; real: number }>,
  worstBatches: number,
): Promise<{ outputs: OutputAgreement[]; worst: TensorError[] }> {
  const fp32Proto = (await loadOnnxModel(modelPath)).proto;
  const qdqProto = (await decodeOnnxModel(qdqBytes)).proto;
  const pairs = activationQdqPairs(qdqProto);
  const computed = [...pairs.keys()].filter((t) => t !== 'x');
  const perImage =
    typeof (fp32Proto.graph as onnx.GraphProto).input[0].type?.tensorType?.shape?.dim?.[0].dimParam === 'string';
  const options = { intraOpNumThreads: Math.max(1, Math.floor(os.availableParallelism() / 2)) };
  const fp32 = await createQdqSession(encodeOnnxModel(fp32Proto), options);
  const int8 = await createQdqSession(qdqBytes, options);
  const fp32Tensors = await createQdqSession(withOutputs(fp32Proto, computed), options);
  const int8Tensors = await createQdqSession(
    withOutputs(qdqProto, [...computed, ...[...pairs.values()].map((p) => p.dq)]),
    options,
  );
  // One run: the model outputs for every batch, the quantized tensors for the first `worstBatches`.
  const run = async (data: Float32Array, rows: number, tensors: boolean) => {
    const feeds = { x: new ort.Tensor('float32', data, [rows, 3, 8, 8]) };
    return {
      ra: await fp32.run(feeds),
      rb: await int8.run(feeds),
      ta: tensors ? await fp32Tensors.run(feeds) : undefined,
      tb: tensors ? await int8Tensors.run(feeds) : undefined,
    };
  };
  const outputNames = ['probs', 'feat'];
  const heldA = new Map<string, Float32Array[]>(outputNames.map((n) => [n, []]));
  const heldB = new Map<string, Float32Array[]>(outputNames.map((n) => [n, []]));
  const heldT = new Map<string, { fp32: Float32Array[]; dq: Float32Array[]; raw: Float32Array[] }>(
    [...pairs.keys()].map((t) => [t, { fp32: [], dq: [], raw: [] }]),
  );
  const rowsOf = (a: Float32Array, rows: number, real: number): Float32Array => a.subarray(0, (a.length / rows) * real);
  try {
    for (let b = 0; b < batches.length; b++) {
      const { data, real } = batches[b];
      const batchRows = data.length / (3 * 64);
      const pieces = perImage
        ? Array.from({ length: real }, (_, s) => ({ data: data.subarray(s * 192, (s + 1) * 192), rows: 1, real: 1 }))
        : [{ data, rows: batchRows, real }];
      for (const piece of pieces) {
        const { ra, rb, ta, tb } = await run(piece.data, piece.rows, b < worstBatches);
        for (const n of outputNames) {
          heldA.get(n)?.push(rowsOf(ra[n].data as Float32Array, piece.rows, piece.real));
          heldB.get(n)?.push(rowsOf(rb[n].data as Float32Array, piece.rows, piece.real));
        }
        if (!ta || !tb) continue;
        for (const [t, { dq }] of pairs) {
          const h = heldT.get(t);
          h?.fp32.push(rowsOf(t === 'x' ? piece.data : (ta[t].data as Float32Array), piece.rows, piece.real));
          h?.raw.push(rowsOf(t === 'x' ? piece.data : (tb[t].data as Float32Array), piece.rows, piece.real));
          h?.dq.push(rowsOf(tb[dq].data as Float32Array, piece.rows, piece.real));
        }
      }
    }
  } finally {
    for (const s of [fp32, int8, fp32Tensors, int8Tensors]) await s.release();
  }
  const outputs = outputNames.map((name): OutputAgreement => {
    const a = concat(heldA.get(name) ?? []);
    const b = concat(heldB.get(name) ?? []);
    let dot = 0;
    let na = 0;
    let nb = 0;
    let sumAbs = 0;
    let maxAbs = 0;
    let maxRef = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
      sumAbs += Math.abs(a[i] - b[i]);
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      maxRef = Math.max(maxRef, Math.abs(a[i]));
    }
    const base = {
      name,
      elements: a.length,
      cosine: dot / Math.sqrt(na * nb),
      maxAbsError: maxAbs,
      meanAbsError: sumAbs / a.length,
      maxAbsReference: maxRef,
    };
    if (name !== 'probs') return base;
    const samples = a.length / 5;
    let agree = 0;
    const argmax = (v: Float32Array, s: number): number => {
      let best = 0;
      for (let k = 1; k < 5; k++) if (v[s * 5 + k] > v[s * 5 + best]) best = k;
      return best;
    };
    for (let s = 0; s < samples; s++) if (argmax(a, s) === argmax(b, s)) agree++;
    return { ...base, top1Agreement: agree / samples, samples };
  });
  const worst = [...heldT]
    .map(([name, h]): TensorError => {
      const fp32v = concat(h.fp32);
      const dq = concat(h.dq);
      const raw = concat(h.raw);
      let diff = 0;
      let ref = 0;
      let own = 0;
      let ownRef = 0;
      let clipped = 0;
      const amax = 127 * (pairs.get(name)?.scale ?? NaN);
      for (let i = 0; i < dq.length; i++) {
        diff += (fp32v[i] - dq[i]) ** 2;
        ref += fp32v[i] ** 2;
        own += (raw[i] - dq[i]) ** 2;
        ownRef += raw[i] ** 2;
        if (Math.abs(raw[i]) > amax) clipped++;
      }
      return { name, error: Math.sqrt(diff / ref), ownError: Math.sqrt(own / ownRef), clipped: clipped / dq.length };
    })
    .sort((x, y) => y.error - x.error);
  return { outputs, worst };
}

/** Equal within float64 rounding: the sums are the same terms added in another grouping. */
function expectSameSum(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(expected), 1e-300));
}

function expectEqualToReference(e: Evaluation, ref: { outputs: OutputAgreement[]; worst: TensorError[] }): void {
  expect(e.outputs.map((o) => o.name)).toEqual(ref.outputs.map((o) => o.name));
  e.outputs.forEach((o, i) => {
    const r = ref.outputs[i];
    // Counts and extremes are exact; sums agree to float64 rounding.
    expect(o.elements).toBe(r.elements);
    expect(o.maxAbsError).toBe(r.maxAbsError);
    expect(o.maxAbsReference).toBe(r.maxAbsReference);
    expect(o.top1Agreement).toBe(r.top1Agreement);
    expect(o.samples).toBe(r.samples);
    expectSameSum(o.cosine, r.cosine);
    expectSameSum(o.meanAbsError, r.meanAbsError);
  });
  expect((e.worstTensors ?? []).map((t) => t.name)).toEqual(ref.worst.map((t) => t.name));
  (e.worstTensors ?? []).forEach((t, i) => {
    const r = ref.worst[i];
    expect(t.clipped).toBe(r.clipped);
    expectSameSum(t.error, r.error);
    expectSameSum(t.ownError, r.ownError);
  });
}

describe('evaluateQdqModels streams', () => {
  it('equals the metrics computed from every value held at once, padding rows left out (dynamic batch: runs of one image)', async () => {
    const { bytes } = await buildQdqModel(dynamicModel, scales);
    // 11 images in batches of 4: the third batch has 3 images and one padding repeat; the worst tensors are
    // measured on all three batches, so the padding rows must be left out there too.
    const ref = await reference(dynamicModel, bytes, await allBatches(factory(4)), 3);
    expect(ref.worst.length).toBeGreaterThanOrEqual(3);
    expect(ref.worst.some((t) => t.clipped > 0)).toBe(true); // the clipped counts are exercised
    const f = factory(4);
    try {
      const e = await evaluateQdq(dynamicModel, f, { qdqModel: bytes, worstTensors: 20, worstTensorBatches: 3 });
      expect(e).toMatchObject({ batches: 3, samples: 11, worstTensorSamples: 11 });
      expectEqualToReference(e, ref);
    } finally {
      await f.close();
    }
  });

  it('equals the reference with a fixed batch dimension too (whole batches, padding rows dropped from every sum)', async () => {
    const { bytes } = await buildQdqModel(fixedModel, scales);
    // The worst tensors on all three batches: the padding repeat of the third must be left out of their sums.
    const ref = await reference(fixedModel, bytes, await allBatches(factory(4)), 3);
    const f = factory(4);
    try {
      const e = await evaluateQdq(fixedModel, f, { qdqModel: bytes, worstTensors: 20, worstTensorBatches: 3 });
      expect(e).toMatchObject({ batches: 3, samples: 11, worstTensorSamples: 11 });
      expectEqualToReference(e, ref);
    } finally {
      await f.close();
    }
  });

  it('gives the same numbers whatever the batch size, and --worst 0 the same outputs as the full report', async () => {
    const run = async (batchSize: number, worstTensors: number): Promise<Evaluation> => {
      const f = factory(batchSize);
      try {
        return await evaluateQdq(dynamicModel, f, { scales, worstTensors, worstTensorBatches: 100 });
      } finally {
        await f.close();
      }
    };
    const [one, four, eleven, noWorst] = [await run(1, 5), await run(4, 5), await run(11, 5), await run(4, 0)];
    expect([one.batches, four.batches, eleven.batches]).toEqual([11, 3, 1]);
    for (const other of [four, eleven, noWorst])
      other.outputs.forEach((o, i) => {
        expect(o.maxAbsError).toBe(one.outputs[i].maxAbsError);
        expect(o.top1Agreement).toBe(one.outputs[i].top1Agreement);
        expectSameSum(o.cosine, one.outputs[i].cosine);
      });
    for (const other of [four, eleven])
      (other.worstTensors ?? []).forEach((t, i) => expectSameSum(t.error, (one.worstTensors ?? [])[i].error));
    expect(noWorst.worstTensors).toBeUndefined();
  });

  it('several Q/DQ models in one pass equal each evaluated alone', async () => {
    const coarse = new Map([...scales].map(([k, v]): [string, number] => [k, v * 3]));
    const f = factory(4);
    let both: Evaluation[];
    try {
      both = await evaluateQdqModels(
        dynamicModel,
        f,
        [
          { label: 'fine', scales },
          { label: 'coarse', scales: coarse },
        ],
        { worstTensors: 3 },
      );
    } finally {
      await f.close();
    }
    const g = factory(4);
    try {
      const alone = await evaluateQdq(dynamicModel, g, { scales: coarse, worstTensors: 3 });
      expect(both[1].outputs).toEqual(alone.outputs);
      expect(both[1].worstTensors).toEqual(alone.worstTensors);
      expect(both[1].outputs[0].meanAbsError).not.toBe(both[0].outputs[0].meanAbsError);
    } finally {
      await g.close();
    }
  });

  it('names the node ONNX Runtime cannot load from its worker, and aborts mid-pass with ERR_ABORTED', async () => {
    const broken = twoHeadModel('N');
    (broken.graph as onnx.GraphProto).node.push(node('NoSuchOp', ['feat'], ['extra'], [], 'the_broken_node'));
    const f = factory(4);
    try {
      await expect(evaluateQdq(dynamicModel, f, { qdqModel: encodeOnnxModel(broken) })).rejects.toMatchObject({
        code: 'ERR_MODEL',
        message: expect.stringContaining('the_broken_node'),
      });
      await f.reset();
      const controller = new AbortController();
      const progress: number[] = [];
      await expect(
        evaluateQdq(dynamicModel, f, {
          scales,
          signal: controller.signal,
          onProgress: (n) => {
            progress.push(n);
            controller.abort();
          },
        }),
      ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      expect(progress[0]).toBe(1);
      expect(progress.length).toBeLessThan(3);
    } finally {
      await f.close();
    }
  });

  it('process.exit() in the middle of an evaluation ends the process cleanly (a worker inside session.run is waited for)', () => {
    // A model heavy enough that an exit lands inside a run: 64 channels at 96×96, eight convolutions.
    const heavy = buildModel({
      inputs: [valueInfo('x', ['N', 3, 96, 96])],
      outputs: [valueInfo('y', ['N', 64, 96, 96])],
      initializers: [
        floatTensor('w0', [64, 3, 3, 3], randomValues(64 * 27, 11, 0.2)),
        ...Array.from({ length: 7 }, (_, i) =>
          floatTensor(`w${i + 1}`, [64, 64, 3, 3], randomValues(64 * 576, 12 + i, 0.05)),
        ),
      ],
      nodes: Array.from({ length: 8 }, (_, i) =>
        node(
          'Conv',
          [i === 0 ? 'x' : `c${i - 1}`, `w${i}`],
          [i === 7 ? 'y' : `c${i}`],
          [attr.ints('pads', [1, 1, 1, 1])],
        ),
      ),
    });
    const file = saveModel(heavy, path.join(dir, 'heavy.onnx'));
    const script = `
      const { evaluateQdq } = require(${JSON.stringify(path.join(__dirname, '../../dist/onnx/evaluate.js'))});
      class Batches {
        constructor() { this.inputs = [{ name: 'x', shape: [4, 3, 96, 96], dtype: 'float32' }]; }
        async fill(b, i) { b.x.fill(0.5); return i < 50; }
      }
      let exited = false;
      evaluateQdq(${JSON.stringify(file)}, new Batches(), {
        scales: new Map([['x', 1 / 127], ['c0', 1 / 127], ['c1', 1 / 127], ['c2', 1 / 127]]),
        onProgress: () => { if (!exited) { exited = true; setTimeout(() => process.exit(7), 5); } },
      }).then(() => process.exit(1), (e) => { console.error(e); process.exit(2); });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect(r.stderr).not.toMatch(/terminate called|Napi::Error|Aborted/);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(7);
  });
});
