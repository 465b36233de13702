/**
 * @jest-environment ./test/helpers/ort-environment.js
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import { evaluateQdq, evaluateQdqModels } from '../../lib/onnx/evaluate';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { attr, buildModel, floatTensor, node, randomValues, saveModel, valueInfo } from '../helpers/onnx-builder';

/** Random batches of x [4,3,8,8]. */
class RandomBatches extends BatchFactory {
  readonly inputs: InputSpec[];
  constructor(
    private readonly count: number,
    name = 'x',
  ) {
    super();
    this.inputs = [{ name, shape: [4, 3, 8, 8], dtype: 'float32' }];
  }
  fill(buffers: BatchBuffers, index: number): boolean {
    if (index >= this.count) return false;
    (buffers[this.inputs[0].name] as Float32Array).set(randomValues(4 * 3 * 64, 100 + index));
    return true;
  }
}

let dir: string;
let model: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-eval-'));
  // x → Conv → Relu → GlobalAveragePool → Flatten → Gemm → Softmax: a tiny 5-class classifier.
  model = saveModel(
    buildModel({
      inputs: [valueInfo('x', ['N', 3, 8, 8])],
      outputs: [valueInfo('probs', ['N', 5])],
      initializers: [
        floatTensor('w', [8, 3, 3, 3], randomValues(216, 1)),
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
      ],
    }),
    path.join(dir, 'tiny.onnx'),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const scales = { x: 1 / 127, relu: 3 / 127, flat: 1.5 / 127 };

describe('evaluateQdq', () => {
  it('reports perfect agreement when the "Q/DQ" model is the FP32 model itself', async () => {
    const e = await evaluateQdq(model, new RandomBatches(3), { qdqModel: model });
    expect(e.batches).toBe(3);
    expect(e.outputs).toEqual([
      {
        name: 'probs',
        elements: 60,
        cosine: expect.closeTo(1, 6),
        maxAbsError: 0,
        meanAbsError: 0,
        maxAbsReference: expect.any(Number),
        top1Agreement: 1,
        samples: 12,
      },
    ]);
    expect(e.samples).toBe(12);
    expect(e.worstTensors).toEqual([]); // the FP32 model has no Q/DQ pairs
  });

  it('measures the INT8 error of a Q/DQ model built from scales', async () => {
    const progress: number[] = [];
    // Pooling left out (placement is tested in onnx-qdq-placement.test.ts): two quantized tensors, x and flat.
    const e = await evaluateQdq(model, new RandomBatches(4), {
      scales,
      qdqOptions: { quantizePooling: 'none' },
      onProgress: (n) => progress.push(n),
    });
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(e.qdq?.activations.map((a) => a.name)).toEqual(['x', 'flat']);
    const probs = e.outputs[0];
    expect(probs.samples).toBe(16);
    expect(probs.cosine).toBeGreaterThan(0.99);
    expect(probs.cosine).toBeLessThan(1);
    expect(probs.maxAbsError).toBeGreaterThan(0);
    expect(probs.meanAbsError).toBeLessThan(0.05);
    // Both quantized tensors are measured; x is a graph input, so its error is only its own Q/DQ round trip, and
    // x (random values in ±1 at amax 1) is clipped nowhere while flat carries the error of the layers before it.
    const worst = new Map((e.worstTensors ?? []).map((t) => [t.name, t]));
    expect([...worst.keys()].sort()).toEqual(['flat', 'x']);
    expect(worst.get('x')?.error).toBeCloseTo(worst.get('x')?.ownError ?? -1, 12);
    expect(worst.get('x')?.error).toBeGreaterThan(0);
    expect(worst.get('x')?.error).toBeLessThan(0.01);
    expect(worst.get('flat')?.error).toBeGreaterThan(0);
  });

  it('evaluates several Q/DQ models in one pass and counts label accuracy only with an image factory', async () => {
    const coarse = { x: 4 / 127, relu: 3 / 127, flat: 8 / 127 };
    const [fine, rough] = await evaluateQdqModels(
      model,
      new RandomBatches(3),
      [
        { label: 'fine', scales },
        { label: 'rough', scales: coarse },
      ],
      { worstTensors: 1 },
    );
    expect(fine.batches).toBe(3);
    expect(rough.outputs[0].meanAbsError).toBeGreaterThan(fine.outputs[0].meanAbsError);
    expect(fine.worstTensors).toHaveLength(1);
    await expect(
      evaluateQdqModels(model, new RandomBatches(1), [{ label: 'a', scales }], { labels: new Map([['f', 0]]) }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(evaluateQdqModels(model, new RandomBatches(1), [], {})).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  it('names a data input the model does not have, and refuses ambiguous options', async () => {
    await expect(evaluateQdq(model, new RandomBatches(1, 'image'), { scales })).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message: expect.stringContaining('no input "x"'),
    });
    await expect(evaluateQdq(model, new RandomBatches(1), { scales, qdqModel: model })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await expect(evaluateQdq(model, new RandomBatches(0), { qdqModel: model })).rejects.toMatchObject({
      code: 'ERR_NO_DATA',
    });
    const controller = new AbortController();
    controller.abort();
    await expect(
      evaluateQdq(model, new RandomBatches(2), { qdqModel: model, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('trt-calibrator evaluate --cache prints the table for an image folder', async () => {
    const images = path.join(dir, 'images');
    await makeSyntheticImages(images, { count: 6, seed: 3, format: 'png', size: [32, 32] });
    const cache = path.join(dir, 'tiny.json');
    fs.writeFileSync(
      cache,
      JSON.stringify({ tensors: Object.fromEntries(Object.entries(scales).map(([k, v]) => [k, { scale: v }])) }),
    );
    const r = spawnSync(
      process.execPath,
      [
        path.join(__dirname, '../../dist/cli.js'),
        'evaluate',
        model,
        images,
        '--cache',
        cache,
        '--shape',
        '3x8x8',
        '--scale',
        String(1 / 255),
        '--batch',
        '4',
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FP32 vs INT8 \(Q\/DQ\) on 6 samples in 2 batches/);
    expect(r.stdout).toMatch(/top-1 agreement +\d+\.\d\d % \(\d+\/6\)/);
    expect(r.stdout).toMatch(
      /quantized tensors furthest from FP32[^\n]*\n +(x|flat) +\d\.\d{4} +own \d\.\d{4} +clipped/,
    );
    expect(r.stdout).toContain('images: 6 (skipped 0)');
    // Without --shape the model's fixed C,H,W are used; --cache and --qdq together are a usage error.
    const fromModel = spawnSync(
      process.execPath,
      [path.join(__dirname, '../../dist/cli.js'), 'evaluate', model, images, '--cache', cache, '--json'],
      { encoding: 'utf8' },
    );
    expect(fromModel.status).toBe(0);
    expect(JSON.parse(fromModel.stdout)).toMatchObject({
      batches: 1,
      samples: 6,
      images: 6,
      outputs: [{ name: 'probs', samples: 6 }],
    });
    const both = spawnSync(
      process.execPath,
      [path.join(__dirname, '../../dist/cli.js'), 'evaluate', model, images, '--cache', cache, '--qdq', model],
      { encoding: 'utf8' },
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('exactly one of --cache, --qdq and --compare');
  });
});
