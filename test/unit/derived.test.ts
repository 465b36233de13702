/**
 * findDerivedTensors (lib/backends/builtin/derived.ts): which activations the calibration pass may compute from another one
 * instead of fetching them from ONNX Runtime. Their exactness against ONNX Runtime is tested in
 * test/e2e/derived-tensors.test.ts.
 */
import { findDerivedTensors } from '../../lib/backends/builtin/derived';
import { attr, buildModel, constantNode, floatTensor, int64Tensor, node, valueInfo } from '../helpers/onnx-builder';

const FLT_MAX = 3.4028234663852886e38;

function derive(
  nodes: ReturnType<typeof node>[],
  options: { opset?: number; initializers?: ReturnType<typeof floatTensor>[]; inputs?: string[] } = {},
) {
  const model = buildModel({
    nodes,
    inputs: (options.inputs ?? ['x']).map((n) => valueInfo(n, [4])),
    outputs: [],
    initializers: options.initializers,
    opset: options.opset,
  });
  const activations = nodes.filter((n) => n.opType !== 'Constant').flatMap((n) => n.output);
  return findDerivedTensors(model, activations);
}

describe('findDerivedTensors', () => {
  it('follows chains of scalar steps back to the same root, in graph order', () => {
    const d = derive([
      node('Conv', ['x', 'w'], ['conv']),
      constantNode('s', floatTensor('s', [], [0.5])),
      constantNode('b', floatTensor('b', [1, 1, 1, 1], [-1.25])),
      node('Mul', ['s', 'conv'], ['m']),
      node('Add', ['m', 'b'], ['a']),
      node('Relu', ['a'], ['r']),
      node('Div', ['r', 's'], ['q']),
      node('Mul', ['a', 'r'], ['ar']),
    ]);
    expect(d).toEqual([
      { name: 'm', root: 'conv', op: 'Mul', inputs: [0.5, 'conv'] },
      { name: 'a', root: 'conv', op: 'Add', inputs: ['m', -1.25] },
      { name: 'r', root: 'conv', op: 'Relu', inputs: ['a'] },
      { name: 'q', root: 'conv', op: 'Div', inputs: ['r', 0.5] },
      { name: 'ar', root: 'conv', op: 'Mul', inputs: ['a', 'r'] },
    ]);
  });

  it('takes float32 scalar initializers and value_float Constants, but not ones a graph input overrides', () => {
    const d = derive(
      [
        node('Conv', ['x', 'w'], ['conv']),
        node('Constant', [], ['k'], [attr.float('value_float', 0.1)]),
        node('Mul', ['conv', 'init'], ['m1']),
        node('Mul', ['conv', 'k'], ['m2']),
        node('Mul', ['conv', 'fed'], ['m3']),
      ],
      { initializers: [floatTensor('init', [1], [2]), floatTensor('fed', [], [3])], inputs: ['x', 'fed'] },
    );
    expect(d).toEqual([
      { name: 'm1', root: 'conv', op: 'Mul', inputs: ['conv', 2] },
      { name: 'm2', root: 'conv', op: 'Mul', inputs: ['conv', Math.fround(0.1)] },
    ]);
  });

  it('leaves alone: tensor constants, two roots, graph inputs as roots, non-float constants, other ops and domains', () => {
    const d = derive(
      [
        node('Conv', ['x', 'w'], ['c1']),
        node('Conv', ['x', 'w'], ['c2']),
        constantNode('vec', floatTensor('vec', [2], [1, 2])),
        constantNode('i', int64Tensor('i', [], [2])),
        constantNode('s', floatTensor('s', [], [2])),
        node('Mul', ['c1', 'vec'], ['perChannel']),
        node('Add', ['c1', 'c2'], ['twoRoots']),
        node('Mul', ['x', 's'], ['fromInput']),
        node('Mul', ['c1', 'i'], ['intConstant']),
        node('Sigmoid', ['c1'], ['sig']),
        node('Mul', ['c1', 's'], ['custom'], [], 'custom', 'com.example'),
        node('Add', ['s', 's'], ['constantsOnly']),
        node('Mul', ['twoRoots', 's'], ['ofTwoRoots']),
      ],
      { inputs: ['x'] },
    );
    // twoRoots is itself a root, so a step from it is derived
    expect(d).toEqual([{ name: 'ofTwoRoots', root: 'twoRoots', op: 'Mul', inputs: ['twoRoots', 2] }]);
  });

  it('reads Clip bounds from inputs (opset 11+) or attributes (before), absent ones as ∓FLT_MAX', () => {
    const clip11 = derive([
      node('Conv', ['x', 'w'], ['conv']),
      constantNode('hi', floatTensor('hi', [], [6])),
      node('Clip', ['conv', '', 'hi'], ['upper']),
      node('Clip', ['conv'], ['none']),
      node('Clip', ['conv', 'conv', 'hi'], ['tensorBound']),
    ]);
    expect(clip11).toEqual([
      { name: 'upper', root: 'conv', op: 'Clip', inputs: ['conv', -FLT_MAX, 6] },
      { name: 'none', root: 'conv', op: 'Clip', inputs: ['conv', -FLT_MAX, FLT_MAX] },
    ]);
    const clip6 = derive(
      [
        node('Conv', ['x', 'w'], ['conv']),
        node('Clip', ['conv'], ['c'], [attr.float('min', 0), attr.float('max', 6)]),
        node('Clip', ['conv'], ['lower'], [attr.float('min', -1)]),
      ],
      { opset: 9 },
    );
    expect(clip6).toEqual([
      { name: 'c', root: 'conv', op: 'Clip', inputs: ['conv', 0, 6] },
      { name: 'lower', root: 'conv', op: 'Clip', inputs: ['conv', -1, FLT_MAX] },
    ]);
  });

  it('needs the activations list: tensors not in it (non-float, skipped) are never roots or derived', () => {
    const model = buildModel({
      nodes: [
        node('Conv', ['x', 'w'], ['conv']),
        constantNode('s', floatTensor('s', [], [2])),
        node('Mul', ['conv', 's'], ['m']),
      ],
      inputs: [valueInfo('x', [4])],
      outputs: [],
    });
    expect(findDerivedTensors(model, ['m'])).toEqual([]);
    expect(findDerivedTensors(model, ['conv'])).toEqual([]);
    expect(findDerivedTensors(model, ['conv', 'm'])).toHaveLength(1);
  });
});
