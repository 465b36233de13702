/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * Q/DQ placement rules (lib/onnx/qdq-placement.ts), each on a small graph built here: residual Adds found through
 * the Conv's epilogue, squeeze-excitation Adds left alone, weighted ops all-or-nothing, pooling next to quantized
 * ops, ConvTranspose weights per tensor, one scale across a Concat, Resize after a quantized Conv.
 */
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { encodeOnnxModel } from '../../lib/onnx/model';
import { insertQdq, perTensorScale, type QdqOptions, type QdqResult } from '../../lib/onnx/qdq';
import { createQdqSession } from '../../lib/onnx/session';
import { attr, buildModel, floatTensor, node, randomValues, valueInfo } from '../helpers/onnx-builder';

/** Scale 0.01 for every name: enough for placement, which only asks whether a usable scale exists. */
function allScales(proto: onnx.ModelProto, except: readonly string[] = []): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of proto.graph!.input!) m.set(i.name!, 0.01);
  for (const n of proto.graph!.node!) for (const o of n.output ?? []) m.set(o, 0.01);
  for (const e of except) m.delete(e);
  return m;
}

function nodeNamed(proto: onnx.IModelProto, name: string): onnx.INodeProto {
  const n = proto.graph!.node!.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

/** The tensor a node input reads before Q/DQ, or undefined when it is not read through a DequantizeLinear. */
function dequantizedFrom(proto: onnx.IModelProto, tensor: string): string | undefined {
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of proto.graph!.node!) for (const o of n.output ?? []) producers.set(o, n);
  const dq = producers.get(tensor);
  if (!dq || dq.opType !== 'DequantizeLinear') return undefined;
  const q = producers.get(dq.input![0]);
  return q?.opType === 'QuantizeLinear' ? q.input![0] : undefined;
}

function count(proto: onnx.IModelProto, op: string): number {
  return proto.graph!.node!.filter((n) => n.opType === op).length;
}

/** Every weighted op has either all its data and weight inputs dequantized or none of them. */
function expectAllOrNothing(proto: onnx.IModelProto): void {
  for (const n of proto.graph!.node!) {
    if (!['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(n.opType!)) continue;
    const dq = n.input!.slice(0, 2).map((i) => dequantizedFrom(proto, i) !== undefined);
    expect({ node: n.name, dq }).toEqual({ node: n.name, dq: [dq[0], dq[0]] });
  }
}

async function runs(
  proto: onnx.ModelProto,
  feeds: Record<string, ort.Tensor>,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await createQdqSession(encodeOnnxModel(proto));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

const C = 4;
const convW = (name: string, seed: number, cin = C, cout = C): onnx.TensorProto =>
  floatTensor(name, [cout, cin, 1, 1], randomValues(cout * cin, seed, 0.5));
const bnParams = (p: string): onnx.TensorProto[] => [
  floatTensor(`${p}.s`, [C], [1, 0.5, 2, 1.5]),
  floatTensor(`${p}.b`, [C], [0.1, -0.1, 0, 0.2]),
  floatTensor(`${p}.m`, [C], [0, 0.1, -0.1, 0]),
  floatTensor(`${p}.v`, [C], [1, 1, 2, 0.5]),
];
const bn = (input: string, output: string, p: string): onnx.NodeProto =>
  node('BatchNormalization', [input, `${p}.s`, `${p}.b`, `${p}.m`, `${p}.v`], [output]);

/**
 * y = Add(epilogue(Conv(x)), skip) with skip = Sigmoid(x): skip feeds only the Add, so its pair is the Add's own.
 * `epilogue` gets the Conv output name and returns its nodes, the name of its output and extra initializers.
 */
function residualModel(
  epilogue: (c: string) => { nodes: onnx.NodeProto[]; out: string; inits?: onnx.TensorProto[] },
  opset = 13,
): onnx.ModelProto {
  const e = epilogue('conv');
  return buildModel({
    opset,
    inputs: [valueInfo('x', [1, C, 4, 4])],
    outputs: [valueInfo('y', [1, C, e.out === 'pool' ? 2 : 4, e.out === 'pool' ? 2 : 4])],
    initializers: [convW('w', 1), ...bnParams('bn'), ...(e.inits ?? [])],
    nodes: [
      node('Sigmoid', ['x'], ['skip']),
      node('Conv', ['x', 'w'], ['conv'], [], 'conv'),
      ...e.nodes,
      ...(e.out === 'pool'
        ? [node('MaxPool', ['skip'], ['skip_pool'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])])]
        : []),
      node('Add', [e.out, e.out === 'pool' ? 'skip_pool' : 'skip'], ['y'], [], 'add'),
    ],
  });
}

const EPILOGUES: [
  string,
  (c: string) => { nodes: onnx.NodeProto[]; out: string; inits?: onnx.TensorProto[] },
  number?,
][] = [
  ['BatchNormalization', (c) => ({ nodes: [bn(c, 'bn', 'bn')], out: 'bn' })],
  [
    'bias Add and Relu',
    (c) => ({
      nodes: [node('Add', [c, 'bias'], ['biased']), node('Relu', ['biased'], ['act'])],
      out: 'act',
      inits: [floatTensor('bias', [1, C, 1, 1], [0.1, 0.2, -0.1, 0])],
    }),
  ],
  [
    'constant Mul and Clip (Relu6)',
    (c) => ({
      nodes: [node('Mul', ['k', c], ['scaled']), node('Clip', ['scaled', 'lo', 'hi'], ['act'])],
      out: 'act',
      inits: [floatTensor('k', [], [0.5]), floatTensor('lo', [], [0]), floatTensor('hi', [], [6])],
    }),
  ],
  [
    'BatchNormalization and SiLU (Sigmoid·x)',
    (c) => ({
      nodes: [bn(c, 'bn', 'bn'), node('Sigmoid', ['bn'], ['sig']), node('Mul', ['bn', 'sig'], ['act'])],
      out: 'act',
    }),
  ],
  [
    'BatchNormalization and hard swish (x·HardSigmoid)',
    (c) => ({
      nodes: [bn(c, 'bn', 'bn'), node('HardSigmoid', ['bn'], ['hs']), node('Mul', ['hs', 'bn'], ['act'])],
      out: 'act',
    }),
  ],
  ['HardSwish (opset 14)', (c) => ({ nodes: [bn(c, 'bn', 'bn'), node('HardSwish', ['bn'], ['act'])], out: 'act' }), 14],
  [
    'BatchNormalization, Relu and MaxPool',
    (c) => ({
      nodes: [
        bn(c, 'bn', 'bn'),
        node('Relu', ['bn'], ['act']),
        node('MaxPool', ['act'], ['pool'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
      ],
      out: 'pool',
    }),
  ],
];

describe('residual Add', () => {
  it.each(EPILOGUES.map(([n, e, o]) => [n, e, o ?? 13] as const))(
    'quantizes the skip input when the other input is Conv → %s',
    async (_name, epilogue, opset) => {
      const proto = residualModel(epilogue, opset);
      const result = insertQdq(proto, allScales(proto));
      const add = nodeNamed(proto, 'add');
      const skip = epilogue('conv').out === 'pool' ? 'skip_pool' : 'skip';
      expect(result.residualAdds).toEqual([{ node: 'Add "add"', residual: skip, backbone: 'Conv "conv"' }]);
      expect(dequantizedFrom(proto, add.input![1])).toBe(skip);
      expect(dequantizedFrom(proto, add.input![0])).toBeUndefined();
      // The skip tensor feeds only the Add: its pair is there because of this rule (Conv input + weight + skip).
      expect(count(proto, 'QuantizeLinear')).toBe(3);
      const x = new ort.Tensor('float32', randomValues(C * 16, 5), [1, C, 4, 4]);
      expect((await runs(proto, { x })).y.dims).toEqual(
        proto.graph!.output![0].type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue)),
      );
    },
  );

  it.each([
    ['Sigmoid alone (no fusible activation)', (c: string) => ({ nodes: [node('Sigmoid', [c], ['act'])], out: 'act' })],
    [
      'Relu before BatchNormalization (out of order)',
      (c: string) => ({ nodes: [node('Relu', [c], ['r']), bn('r', 'act', 'bn')], out: 'act' }),
    ],
  ])('leaves an Add alone when the other input is Conv → %s', (_name, epilogue) => {
    const proto = residualModel(epilogue);
    const result = insertQdq(proto, allScales(proto));
    expect(result.residualAdds).toEqual([
      { node: 'Add "add"', skipped: 'neither input is the output of a Conv (through BN/bias/activation)' },
    ]);
    expect(nodeNamed(proto, 'add').input).toEqual(['act', 'skip']);
  });

  /** ResNet block: s = Relu(BN(Conv0(x))); u = BN2(Conv2(Relu(BN1(Conv1(s))))); Add(s, u) or Add(u, s). */
  function resnetBlock(order: 'skip-first' | 'skip-second', downsample = false): onnx.ModelProto {
    const skip = downsample ? 'down_bn' : 's';
    return buildModel({
      inputs: [valueInfo('x', [1, C, 4, 4])],
      outputs: [valueInfo('y', [1, C, 4, 4])],
      initializers: [
        convW('w0', 1),
        convW('w1', 2),
        convW('w2', 3),
        convW('wd', 4),
        ...['bn0', 'bn1', 'bn2', 'bnd'].flatMap(bnParams),
      ],
      nodes: [
        node('Conv', ['x', 'w0'], ['c0'], [], 'conv0'),
        bn('c0', 'b0', 'bn0'),
        node('Relu', ['b0'], ['s']),
        node('Conv', ['s', 'w1'], ['c1'], [], 'conv1'),
        bn('c1', 'b1', 'bn1'),
        node('Relu', ['b1'], ['r1']),
        node('Conv', ['r1', 'w2'], ['c2'], [], 'conv2'),
        bn('c2', 'u', 'bn2'),
        ...(downsample ? [node('Conv', ['s', 'wd'], ['cd'], [], 'convd'), bn('cd', 'down_bn', 'bnd')] : []),
        node('Add', order === 'skip-first' ? [skip, 'u'] : ['u', skip], ['y'], [], 'add'),
      ],
    });
  }

  it.each(['skip-first', 'skip-second'] as const)(
    'of two Conv branches quantizes the one nearer the common ancestor (%s)',
    (order) => {
      const proto = resnetBlock(order);
      const result = insertQdq(proto, allScales(proto));
      expect(result.residualAdds).toEqual([{ node: 'Add "add"', residual: 's', backbone: 'Conv "conv2"' }]);
      const add = nodeNamed(proto, 'add');
      expect(add.input!.map((i) => dequantizedFrom(proto, i) ?? i)).toEqual(
        order === 'skip-first' ? ['s', 'u'] : ['u', 's'],
      );
      expect(dequantizedFrom(proto, add.input![order === 'skip-first' ? 1 : 0])).toBeUndefined();
    },
  );

  it('quantizes the downsample branch of a ResNet block (the shorter path), not the main branch', () => {
    const proto = resnetBlock('skip-first', true);
    const result = insertQdq(proto, allScales(proto));
    expect(result.residualAdds).toEqual([{ node: 'Add "add"', residual: 'down_bn', backbone: 'Conv "conv2"' }]);
  });

  it('leaves a squeeze-excitation Add(conv, conv·gate) alone: both inputs come from the same Conv', () => {
    // c = Conv(x); g = HardSigmoid(Conv(Relu(Conv(GAP(c))))); y = Add(c, Mul(c, g))
    const proto = buildModel({
      inputs: [valueInfo('x', [1, C, 4, 4])],
      outputs: [valueInfo('y', [1, C, 4, 4])],
      initializers: [convW('w', 1), convW('se1', 2), convW('se2', 3)],
      nodes: [
        node('Conv', ['x', 'w'], ['c'], [], 'conv'),
        node('GlobalAveragePool', ['c'], ['gap'], [], 'gap'),
        node('Conv', ['gap', 'se1'], ['s1'], [], 'se1'),
        node('Relu', ['s1'], ['r']),
        node('Conv', ['r', 'se2'], ['s2'], [], 'se2'),
        node('HardSigmoid', ['s2'], ['g']),
        node('Mul', ['c', 'g'], ['m']),
        node('Add', ['c', 'm'], ['y'], [], 'add'),
      ],
    });
    const result = insertQdq(proto, allScales(proto));
    expect(result.residualAdds).toEqual([
      { node: 'Add "add"', skipped: 'both inputs come from Conv "conv" (its output is also used elsewhere)' },
    ]);
    expect(nodeNamed(proto, 'add').input).toEqual(['c', 'm']);
  });

  it('quantizes nothing when the fused branch Conv runs in FP32, and nothing with quantizeResidualAdd: false', () => {
    let proto = residualModel((c) => ({ nodes: [bn(c, 'bn', 'bn')], out: 'bn' }));
    let result = insertQdq(proto, allScales(proto, ['x']));
    expect(result.residualAdds).toEqual([
      { node: 'Add "add"', backbone: 'Conv "conv"', skipped: 'Conv "conv" runs in FP32' },
    ]);
    expect(count(proto, 'QuantizeLinear')).toBe(0);

    proto = residualModel((c) => ({ nodes: [bn(c, 'bn', 'bn')], out: 'bn' }));
    result = insertQdq(proto, allScales(proto), { quantizeResidualAdd: false });
    expect(result.residualAdds).toEqual([{ node: 'Add "add"', skipped: 'residual Add quantization is off' }]);
    expect(nodeNamed(proto, 'add').input).toEqual(['bn', 'skip']);
  });
});

describe('weighted ops are all-or-nothing', () => {
  /** x → Conv(w) → a; a → Gemm-like MatMul(b) with b = Relu(x2) (two activations) → y; plus a Conv on a constant. */
  function model(): onnx.ModelProto {
    return buildModel({
      inputs: [valueInfo('x', [1, C, 2, 2]), valueInfo('x2', [1, C, 2, 2])],
      outputs: [valueInfo('y', [1, C, 2, 2]), valueInfo('k', [1, C, 2, 2]), valueInfo('d', [1, C, 2, 2])],
      initializers: [convW('w', 1), floatTensor('const_in', [1, C, 2, 2], randomValues(16, 2)), convW('wk', 3)],
      nodes: [
        node('Conv', ['x', 'w'], ['a'], [], 'conv'),
        node('Relu', ['x2'], ['b']),
        node('MatMul', ['a', 'b'], ['y'], [], 'matmul'),
        node('Conv', ['const_in', 'wk'], ['k'], [], 'conv_on_constant'),
        node('Conv', ['x2', 'a'], ['d'], [], 'conv_computed_weight'),
      ],
    });
  }

  it('puts no Q/DQ on the weight of a Conv whose input has no scale and lists the Conv as FP32', () => {
    const proto = model();
    const result = insertQdq(proto, allScales(proto, ['x']));
    expect(dequantizedFrom(proto, nodeNamed(proto, 'conv').input![1])).toBeUndefined();
    expect(nodeNamed(proto, 'conv').input).toEqual(['x', 'w']);
    expect(result.fp32Nodes).toEqual([
      { node: 'Conv "conv"', op: 'Conv', reasons: ['input "x": no scale in the cache'] },
      { node: 'Conv "conv_on_constant"', op: 'Conv', reasons: ['input "const_in": the data input is a constant'] },
      {
        node: 'Conv "conv_computed_weight"',
        op: 'Conv',
        reasons: ['input "a": the weight is computed, not a constant'],
      },
    ]);
    expect(result.weights).toEqual([]);
    // The MatMul of two activations is quantized on both inputs (a and b have scales).
    expect(nodeNamed(proto, 'matmul').input!.map((i) => dequantizedFrom(proto, i))).toEqual(['a', 'b']);
    expectAllOrNothing(proto);
  });

  it('leaves a MatMul of two activations in FP32 when one of them has no scale', () => {
    const proto = model();
    const result = insertQdq(proto, allScales(proto, ['b']));
    expect(nodeNamed(proto, 'matmul').input).toEqual(['a', 'b']);
    expect(result.fp32Nodes.map((n) => n.node)).toContain('MatMul "matmul"');
    expect(result.unquantized).toContainEqual({
      tensor: 'b',
      consumer: 'MatMul "matmul"',
      reason: 'no scale in the cache',
    });
    // The first Conv is complete: input and weight.
    expect(nodeNamed(proto, 'conv').input!.map((i) => dequantizedFrom(proto, i))).toEqual(['x', 'w']);
    expectAllOrNothing(proto);
  });
});

describe('pooling', () => {
  /**
   * c = Conv(x); p1 = GAP(c) (producer quantized); p2 = AveragePool(Sigmoid(x)) → Flatten → Gemm (consumer
   * quantized through a copy op); p3 = GAP(Sigmoid(x)) → Sigmoid (no quantized neighbour); m = MaxPool(c).
   */
  function model(): onnx.ModelProto {
    return buildModel({
      inputs: [valueInfo('x', [1, C, 4, 4])],
      outputs: [
        valueInfo('p1', [1, C, 1, 1]),
        valueInfo('g', [1, 2]),
        valueInfo('z', [1, C, 1, 1]),
        valueInfo('m', [1, C, 2, 2]),
      ],
      initializers: [convW('w', 1), floatTensor('gw', [2, C * 4], randomValues(2 * C * 4, 2))],
      nodes: [
        node('Conv', ['x', 'w'], ['c'], [], 'conv'),
        node('GlobalAveragePool', ['c'], ['p1'], [], 'gap_after_conv'),
        node('Sigmoid', ['x'], ['sx']),
        node(
          'AveragePool',
          ['sx'],
          ['p2'],
          [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])],
          'avg_before_gemm',
        ),
        node('Flatten', ['p2'], ['f']),
        node('Gemm', ['f', 'gw'], ['g'], [attr.int('transB', 1)], 'gemm'),
        node('GlobalAveragePool', ['sx'], ['p3'], [], 'gap_alone'),
        node('Sigmoid', ['p3'], ['z']),
        node('MaxPool', ['c'], ['m'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 'maxpool'),
      ],
    });
  }
  const pooled = (proto: onnx.IModelProto): string[] =>
    ['gap_after_conv', 'avg_before_gemm', 'gap_alone', 'maxpool'].filter(
      (n) => dequantizedFrom(proto, nodeNamed(proto, n).input![0]) !== undefined,
    );

  it.each<[QdqOptions['quantizePooling'], string[]]>([
    [undefined, ['gap_after_conv', 'avg_before_gemm']],
    ['neighbors', ['gap_after_conv', 'avg_before_gemm']],
    ['all', ['gap_after_conv', 'avg_before_gemm', 'gap_alone', 'maxpool']],
    [true, ['gap_after_conv', 'avg_before_gemm', 'gap_alone', 'maxpool']],
    ['none', []],
    [false, []],
  ])('quantizePooling %p quantizes the inputs of %p', (mode, expected) => {
    const proto = model();
    insertQdq(proto, allScales(proto), mode === undefined ? {} : { quantizePooling: mode });
    expect(pooled(proto)).toEqual(expected);
  });

  it('does not count an FP32 Conv as a quantized neighbour', () => {
    const proto = model();
    insertQdq(proto, allScales(proto, ['x']));
    expect(pooled(proto)).toEqual(['avg_before_gemm']);
  });

  it('rejects an unknown pooling mode', () => {
    expect(() => insertQdq(model(), new Map(), { quantizePooling: 'some' as never })).toThrow(
      'Expected one of neighbors, all, none or a boolean for quantizePooling but received "some" of type string',
    );
  });
});

describe('ConvTranspose, Concat and Resize', () => {
  it('quantizes ConvTranspose weights per tensor with max|w|/127, and ONNX Runtime runs it', async () => {
    const w = randomValues(C * 2 * 2 * 2, 7, 0.8);
    const proto = buildModel({
      inputs: [valueInfo('x', [1, C, 2, 2])],
      outputs: [valueInfo('y', [1, 2, 4, 4])],
      initializers: [floatTensor('w', [C, 2, 2, 2], w)],
      nodes: [node('ConvTranspose', ['x', 'w'], ['y'], [attr.ints('strides', [2, 2])], 'deconv')],
    });
    const result = insertQdq(proto, allScales(proto));
    expect(result.weights).toEqual([
      { name: 'w', granularity: 'per-tensor', channels: 1, consumer: 'ConvTranspose "deconv"' },
    ]);
    const q = proto.graph!.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === 'w')!;
    expect(q.attribute).toEqual([]);
    const scale = proto.graph!.initializer!.find((t) => t.name === q.input![1])!;
    expect(scale.dims).toEqual([]);
    expect(scale.floatData).toEqual([perTensorScale(w)]);
    let amax = 0;
    for (const v of w) amax = v < 0 ? (-v > amax ? -v : amax) : v > amax ? v : amax;
    expect(perTensorScale(w)).toBe(Math.fround(amax / 127));
    const y = await runs(proto, { x: new ort.Tensor('float32', randomValues(C * 4, 8), [1, C, 2, 2]) });
    expect(y.y.dims).toEqual([1, 2, 4, 4]);
  });

  /** a = Relu(x1) → Conv; b = Relu(x2) → Conv; cat = Concat(a, b, c) → Conv, with c = Sigmoid(x1) only in the Concat. */
  function concatModel(): onnx.ModelProto {
    return buildModel({
      inputs: [valueInfo('x1', [1, C, 2, 2]), valueInfo('x2', [1, C, 2, 2])],
      outputs: [valueInfo('ya', [1, C, 2, 2]), valueInfo('yb', [1, C, 2, 2]), valueInfo('y', [1, C, 2, 2])],
      initializers: [convW('wa', 1), convW('wb', 2), convW('wc', 3, 3 * C, C)],
      nodes: [
        node('Relu', ['x1'], ['a']),
        node('Relu', ['x2'], ['b']),
        node('Sigmoid', ['x1'], ['c']),
        node('Conv', ['a', 'wa'], ['ya'], [], 'conv_a'),
        node('Conv', ['b', 'wb'], ['yb'], [], 'conv_b'),
        node('Concat', ['a', 'b', 'c'], ['cat'], [attr.int('axis', 1)], 'concat'),
        node('Conv', ['cat', 'wc'], ['y'], [], 'conv_cat'),
      ],
    });
  }

  it('gives the quantized inputs and output of a Concat one scale, the largest of theirs', async () => {
    const proto = concatModel();
    const scales = new Map([
      ['x1', 0.01],
      ['x2', 0.01],
      ['a', 0.02],
      ['b', 0.05],
      ['c', 0.01],
      ['cat', 0.03],
    ]);
    const result = insertQdq(proto, scales);
    expect(result.sharedScales).toEqual([
      { tensors: ['cat', 'a', 'b'], scale: Math.fround(0.05), concats: ['Concat "concat"'] },
    ]);
    const scaleOf = (tensor: string): number => {
      const q = proto.graph!.node!.find((n) => n.opType === 'QuantizeLinear' && n.input![0] === tensor)!;
      return proto.graph!.initializer!.find((t) => t.name === q.input![1])!.floatData![0];
    };
    expect(['a', 'b', 'cat'].map((t) => Math.fround(scaleOf(t)))).toEqual([0.05, 0.05, 0.05].map(Math.fround));
    expect(result.activations.filter((a) => ['a', 'b', 'cat'].includes(a.name)).map((a) => a.scale)).toEqual(
      [0.05, 0.05, 0.05].map(Math.fround),
    );
    // c has no pair (only the Concat reads it), so it is not in the group.
    expect(proto.graph!.node!.some((n) => n.opType === 'QuantizeLinear' && n.input![0] === 'c')).toBe(false);
    const feeds = {
      x1: new ort.Tensor('float32', randomValues(C * 4, 3), [1, C, 2, 2]),
      x2: new ort.Tensor('float32', randomValues(C * 4, 4), [1, C, 2, 2]),
    };
    expect((await runs(proto, feeds)).y.dims).toEqual([1, C, 2, 2]);
  });

  it('quantizes the data input of a Resize after a quantized Conv (through its epilogue), and no other', () => {
    const resize = (input: string, out: string, name: string): onnx.NodeProto =>
      node('Resize', [input, '', 'scales'], [out], [], name);
    const proto = buildModel({
      inputs: [valueInfo('x', [1, C, 2, 2])],
      outputs: [valueInfo('r1', [1, C, 4, 4]), valueInfo('r2', [1, C, 4, 4]), valueInfo('r3', [1, C, 4, 4])],
      initializers: [convW('w', 1), convW('w2', 2), floatTensor('scales', [4], [1, 1, 2, 2]), ...bnParams('bn')],
      nodes: [
        node('Conv', ['x', 'w'], ['c'], [], 'conv'),
        bn('c', 'b', 'bn'),
        node('Relu', ['b'], ['act']),
        resize('act', 'r1', 'after_conv'),
        node('Sigmoid', ['x'], ['s']),
        resize('s', 'r2', 'after_sigmoid'),
        node('Conv', ['s', 'w2'], ['c2'], [], 'fp32_conv'),
        resize('c2', 'r3', 'after_fp32_conv'),
      ],
    });
    insertQdq(proto, allScales(proto, ['s']));
    expect(
      ['after_conv', 'after_sigmoid', 'after_fp32_conv'].map((n) =>
        dequantizedFrom(proto, nodeNamed(proto, n).input![0]),
      ),
    ).toEqual(['act', undefined, undefined]);
  });
});

describe('result', () => {
  it('lists every Add of two computed tensors and only those', () => {
    const proto = buildModel({
      inputs: [valueInfo('x', [1, C, 2, 2])],
      outputs: [valueInfo('y', [1, C, 2, 2])],
      initializers: [floatTensor('one', [], [1])],
      nodes: [node('Add', ['x', 'one'], ['a'], [], 'bias'), node('Add', ['a', 'x'], ['y'], [], 'sum')],
    });
    const result: QdqResult = insertQdq(proto, allScales(proto));
    expect(result.residualAdds.map((a) => a.node)).toEqual(['Add "sum"']);
  });
});
