/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The float16 path for TensorRT 11 (highPrecision: 'fp16'): float16 conversion of everything not quantized, opset
 * 19, float32 graph inputs and outputs, and what ONNX Runtime computes with it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { float16Values, fromFloat16Bits, toFloat16Bits } from '../../lib/onnx/fp16';
import { decodeOnnxModel } from '../../lib/onnx/model';
import { buildQdqModel } from '../../lib/onnx/qdq';
import { createQdqSession } from '../../lib/onnx/session';
import {
  attr,
  buildModel,
  floatTensor,
  int64Tensor,
  node,
  randomValues,
  saveModel,
  valueInfo,
} from '../helpers/onnx-builder';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-fp16-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('float16 bits', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds to infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even
    [3 * 2 ** -26, 0x0001],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
    [0, 0],
    [-0, 0x8000],
    [Infinity, 0x7c00],
  ])('%p → float16 bits %p', (value, bits) => {
    expect(toFloat16Bits(value)).toBe(bits);
  });

  it('round-trips every finite float16', () => {
    for (let bits = 0; bits < 0x7c00; bits++) {
      if (toFloat16Bits(fromFloat16Bits(bits)) !== bits) throw new Error(`0x${bits.toString(16)} does not round-trip`);
    }
  });
});

/**
 * x → Conv(w) → BN → Relu → Resize(×2, scales) → GlobalAveragePool → ReduceMean(axes attr, opset 13 form) …
 * plus a shape path (Shape → Cast(float) → Mul → Cast(int64)) and a ConstantOfShape, so every retyping rule runs.
 */
function model(): onnx.ModelProto {
  const C = 4;
  return buildModel({
    opset: 13,
    inputs: [valueInfo('x', [1, 3, 4, 4])],
    outputs: [valueInfo('y', [1, C, 1, 1]), valueInfo('r', [1, C, 8, 8]), valueInfo('filled', [2, 2])],
    initializers: [
      floatTensor('w', [C, 3, 3, 3], randomValues(C * 27, 1, 0.5)),
      floatTensor('b', [C], [0.1, -0.2, 0.3, 0]),
      floatTensor('big', [], [70000]), // beyond float16: clamped to 65504
      floatTensor('s', [C], [1, 0.5, 2, 1]),
      floatTensor('bb', [C], [0, 0.1, -0.1, 0]),
      floatTensor('m', [C], [0, 0, 0.1, 0]),
      floatTensor('v', [C], [1, 2, 1, 1e6]), // beyond float16: the BatchNormalization stays float32
      floatTensor('scales', [4], [1, 1, 2, 2]),
      floatTensor('half', [], [0.5]),
      int64Tensor('two_by_two', [2], [2, 2]),
    ],
    nodes: [
      node('Conv', ['x', 'w', 'b'], ['c'], [attr.ints('pads', [1, 1, 1, 1])], 'conv'),
      node('BatchNormalization', ['c', 's', 'bb', 'm', 'v'], ['n']),
      node('Relu', ['n'], ['a']),
      node('Resize', ['a', '', 'scales'], ['r'], [], 'resize'),
      node('GlobalAveragePool', ['r'], ['g']),
      node('ReduceMean', ['g'], ['y'], [attr.ints('axes', [2, 3]), attr.int('keepdims', 1)], 'mean'),
      node('Shape', ['x'], ['shape']),
      node('Cast', ['shape'], ['shape_f'], [attr.int('to', 1)], 'to_float'),
      node('Mul', ['shape_f', 'half'], ['halved']),
      node('Clip', ['halved', '', 'big'], ['clipped']),
      node('ConstantOfShape', ['two_by_two'], ['filled'], [], 'fill'),
    ],
  });
}

async function run(bytes: Uint8Array, x: Float32Array): Promise<Record<string, Float32Array>> {
  const session = await createQdqSession(bytes);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [1, 3, 4, 4]) });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe("buildQdqModel with highPrecision: 'fp16'", () => {
  const scales = { x: 0.02, c: 0.05, n: 0.05, a: 0.03, r: 0.03, g: 0.03 };

  it('converts the float part to float16 at opset 19 with float32 inputs and outputs, and ONNX Runtime runs it', async () => {
    const file = saveModel(model(), path.join(dir, 'net.onnx'));
    const fp32 = await buildQdqModel(file, scales);
    const fp16 = await buildQdqModel(file, scales, { highPrecision: 'fp16' });
    expect(fp32.result.float16).toBeUndefined();
    const conv = fp16.result.float16!;
    expect(conv.opset).toEqual({ from: 13, to: 19 });
    expect(conv.rewritten).toEqual(['ReduceMean "mean": axes attribute → input']);
    expect(conv.clampedValues).toBe(1); // the Clip bound
    expect(conv.float32Nodes).toEqual(['BatchNormalization "n"']);
    // Casts: x down, the three float outputs up (y, r, filled), around the BatchNormalization (c up, n down), and
    // none for Resize's constant scales.
    expect(conv.castsAdded).toBe(6);

    const { proto } = await decodeOnnxModel(fp16.bytes);
    expect(Number(proto.opsetImport.find((o) => !o.domain)?.version)).toBe(19);
    expect(Number(proto.irVersion)).toBeGreaterThanOrEqual(9);
    const graph = proto.graph as onnx.GraphProto;
    // Graph inputs and outputs keep float32.
    for (const v of [...graph.input, ...graph.output]) expect(v.type?.tensorType?.elemType).toBe(1);
    const inits = new Map(graph.initializer.map((t) => [t.name, t]));
    // Weights, biases, constants and Q/DQ scales are float16; Resize's scales and the BN island's stay float32.
    for (const name of ['w', 'b', 'half', 'x_scale', 'w_scale']) expect(inits.get(name)?.dataType).toBe(10);
    for (const name of ['scales', 's', 'bb', 'm', 'v']) expect(inits.get(name)?.dataType).toBe(1);
    expect(float16Values(inits.get('big')!)[0]).toBe(65504);
    // Scales rounded up, never down: no extra clipping.
    expect(float16Values(inits.get('x_scale')!)[0]).toBeGreaterThanOrEqual(0.02);
    expect(float16Values(inits.get('x_scale')!)[0]).toBeLessThan(0.02 * (1 + 2 ** -10));
    const wScale16 = float16Values(inits.get('w_scale')!);
    const wScale32 = fp32.result.weights[0];
    expect(wScale16).toHaveLength(wScale32.channels);
    const nodes = graph.node;
    expect(Number(nodes.find((n) => n.name === 'to_float')?.attribute?.[0].i)).toBe(10);
    expect(nodes.find((n) => n.name === 'fill')?.attribute?.[0].t?.dataType).toBe(10);

    const x = randomValues(48, 3, 2);
    const a = await run(fp32.bytes, x);
    const b = await run(fp16.bytes, x);
    expect(Object.keys(b).sort()).toEqual(['filled', 'r', 'y']);
    // float16 rounding on top of INT8 Q/DQ: the outputs stay within a small share of their range.
    for (const name of ['y', 'r']) {
      let range = 0;
      let worst = 0;
      for (let i = 0; i < a[name].length; i++) {
        range = Math.max(range, Math.abs(a[name][i]));
        worst = Math.max(worst, Math.abs(a[name][i] - b[name][i]));
      }
      expect(worst).toBeLessThan(0.01 * range);
      expect(worst).toBeGreaterThan(0); // the float16 model really computes in float16
    }
    expect(Array.from(b.filled)).toEqual([0, 0, 0, 0]);
  });

  it('rejects a bad highPrecision and refuses models with subgraphs', async () => {
    const file = saveModel(model(), path.join(dir, 'net2.onnx'));
    await expect(buildQdqModel(file, scales, { highPrecision: 'fp8' as never })).rejects.toThrow(
      'Expected one of fp32, fp16 for highPrecision but received "fp8" of type string',
    );
    const withIf = model();
    const branch = (v: number): onnx.IGraphProto => ({
      name: `b${v}`,
      node: [node('Constant', [], [`o${v}`], [attr.tensor('value', floatTensor(`o${v}`, [], [v]))])],
      output: [valueInfo(`o${v}`, [])],
    });
    const g = withIf.graph as onnx.GraphProto;
    g.input.push(valueInfo('cond', [], 9));
    g.output.push(valueInfo('chosen', []));
    g.node.push(
      node(
        'If',
        ['cond'],
        ['chosen'],
        [
          { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(1) },
          { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(2) },
        ],
        'choice',
      ),
    );
    const ifFile = saveModel(withIf, path.join(dir, 'if.onnx'));
    await expect(buildQdqModel(ifFile, scales, { highPrecision: 'fp16' })).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringContaining('If "choice" has a subgraph'),
    });
  });
});
