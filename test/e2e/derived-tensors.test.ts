/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * Derived tensors (lib/backends/builtin/derived.ts, native/builtin/derived.h): activations the histogram pass computes from another
 * one instead of asking ONNX Runtime for them must histogram exactly like the values ONNX Runtime outputs —
 * compared byte for byte (serialized histograms) against ONNX Runtime's own outputs, on special values (NaN,
 * ±Inf, ±0, overflow) and on the PaddleOCR models with real images.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import { HistogramSet } from '../../lib/histogram';
import { prepareCalibrationModel, type CalibrationModel } from '../../lib/backends/builtin/calibration-model';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import {
  attr,
  buildModel,
  constantNode,
  floatTensor,
  node,
  randomValues,
  saveModel,
  valueInfo,
} from '../helpers/onnx-builder';
import { CLASSIFIER, DETECTOR } from '../helpers/models';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-derived-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `batches` through ONNX Runtime with every calibration tensor as an output (derive: false) and fills two
 * sets: one from ONNX Runtime's outputs of every tensor, one from the fetched tensors only, with the derived ones
 * computed by the plan of `derived`.
 */
async function histogramsBothWays(
  derived: CalibrationModel,
  exposed: CalibrationModel,
  batches: Array<Record<string, ort.Tensor>>,
) {
  const session = await ort.InferenceSession.create(exposed.modelBytes);
  const all = new HistogramSet();
  const planned = new HistogramSet();
  const fetched = derived.fetchPlan.filter((t): t is string => typeof t === 'string');
  try {
    for (const feeds of batches) {
      const out = await session.run(feeds, [...exposed.calibrationTensors]);
      const array = (name: string) => out[name].data as Float32Array;
      all.addAll(exposed.calibrationTensors, exposed.calibrationTensors.map(array));
      planned.addAll(fetched, fetched.map(array), derived.fetchPlan);
    }
  } finally {
    await session.release();
  }
  return { all, planned, names: { all: all.names(), planned: planned.names() } };
}

/** Each tensor's own serialized histogram (so a difference names the tensor). */
function perTensor(set: HistogramSet): Map<string, string> {
  const result = new Map<string, string>();
  for (const name of set.names()) {
    const s = set.stats(name);
    result.set(name, JSON.stringify({ ...s, counts: Array.from(set.counts(name)) }));
  }
  return result;
}

describe('derived tensors histogram exactly like ONNX Runtime outputs', () => {
  it('every op and operand kind, on NaN, ±Inf, ±0, denormals and overflow', async () => {
    const n = 96;
    const model = buildModel({
      inputs: [valueInfo('x', [n])],
      outputs: [valueInfo('big', [n])],
      initializers: [floatTensor('s', [], [0.75]), floatTensor('vec', [n], randomValues(n, 3))],
      nodes: [
        node('Identity', ['x'], ['r']),
        constantNode('b', floatTensor('b', [1], [-0.5])),
        constantNode('two5', floatTensor('two5', [], [2.5])),
        constantNode('one', floatTensor('one', [], [1])),
        constantNode('lo', floatTensor('lo', [], [0])),
        constantNode('hi', floatTensor('hi', [], [6])),
        node('Constant', [], ['huge'], [attr.float('value_float', 1e30)]),
        node('Mul', ['r', 's'], ['m']),
        node('Add', ['m', 'b'], ['a']),
        node('Sub', ['two5', 'a'], ['sub']),
        node('Div', ['one', 'r'], ['d']),
        node('Clip', ['a', 'lo', 'hi'], ['c']),
        node('Clip', ['r', '', 'hi'], ['c1']),
        node('Clip', ['r'], ['c2']),
        node('Relu', ['sub'], ['relu']),
        node('Mul', ['r', 'c'], ['hs']),
        node('Mul', ['r', 'huge'], ['big']),
        node('Mul', ['r', 'vec'], ['nd']), // a per-element constant: fetched, not derived
        node('Add', ['nd', 'relu'], ['mixed']), // two roots: fetched
      ],
    });
    const file = saveModel(model, path.join(dir, 'special.onnx'));
    const derived = await prepareCalibrationModel(file);
    const exposed = await prepareCalibrationModel(file, { derive: false });
    expect(derived.derivedTensors.map((d) => d.name)).toEqual([
      'm',
      'a',
      'sub',
      'd',
      'c',
      'c1',
      'c2',
      'relu',
      'hs',
      'big',
    ]);
    expect(derived.fetchPlan.filter((t) => typeof t === 'string')).toEqual(['r', 'nd', 'mixed']);
    expect(derived.derivedTensors.find((d) => d.name === 'c2')?.inputs).toEqual([
      'r',
      -3.4028234663852886e38,
      3.4028234663852886e38,
    ]);

    const special = [
      NaN,
      -NaN,
      Infinity,
      -Infinity,
      0,
      -0,
      1e-45,
      -1e-45,
      1e-40,
      3e38,
      -3e38,
      3.4028234663852886e38,
      -1,
      1,
      6,
      -6,
      5.999,
      2.5,
      -2.5,
      0.5,
    ];
    const batch = (seed: number) => {
      const x = randomValues(n, seed, 8);
      special.forEach((v, i) => (x[(i * 7 + seed) % n] = v));
      return { x: new ort.Tensor('float32', x, [n]) };
    };
    const { all, planned, names } = await histogramsBothWays(derived, exposed, [
      batch(1),
      batch(2),
      { x: new ort.Tensor('float32', randomValues(n, 9, 100), [n]) },
    ]);
    expect(names.planned).toEqual(names.all); // created in graph order
    expect(perTensor(planned)).toEqual(perTensor(all));
    expect(Buffer.from(planned.serialize())).toEqual(Buffer.from(all.serialize()));
    // the special values reached the derived tensors
    expect(all.stats('d').posInfCount + all.stats('d').negInfCount).toBeGreaterThan(0);
    expect(all.stats('big').posInfCount).toBeGreaterThan(0);
    expect(all.stats('relu').nanCount).toBeGreaterThan(0);
    expect(all.stats('c2').posInfCount).toBe(0); // Clip without bounds clamps ±Inf to ±FLT_MAX
  });

  it.each([
    ['classifier', CLASSIFIER, [3, 48, 192], 'text-crops'],
    ['detector', DETECTOR, [3, 96, 128], 'scenes'],
  ] as const)(
    'the PaddleOCR %s on real images',
    async (label, modelPath, shape, kind) => {
      const images = path.join(dir, `${label}-images`);
      await makeSyntheticImages(images, { kind, count: 4, seed: 5 });
      const shapes = { x: [2, ...shape] };
      const derived = await prepareCalibrationModel(modelPath, { shapes });
      const exposed = await prepareCalibrationModel(modelPath, { shapes, derive: false });
      expect(derived.derivedTensors.length).toBeGreaterThan(label === 'detector' ? 200 : 80);
      const factory = new ImageBatchFactory({
        images,
        name: 'x',
        shape: [...shape],
        batchSize: 2,
        workers: 0,
        scale: 1 / 255,
        mean: 0.5,
        std: 0.5,
      });
      const batches: Array<Record<string, ort.Tensor>> = [];
      try {
        for (let i = 0; ; i++) {
          const data = new Float32Array(2 * shape[0] * shape[1] * shape[2]);
          if (!(await factory.fill({ x: data }, i))) break;
          batches.push({ x: new ort.Tensor('float32', data, [2, ...shape]) });
        }
      } finally {
        await factory.close();
      }
      expect(batches).toHaveLength(2);
      const { all, planned, names } = await histogramsBothWays(derived, exposed, batches);
      expect(names.planned).toEqual(names.all);
      expect(perTensor(planned)).toEqual(perTensor(all));
      expect(Buffer.from(planned.serialize()).equals(Buffer.from(all.serialize()))).toBe(true);
    },
    60000,
  );
});
