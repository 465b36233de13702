/**
 * Upgrading the default-domain opset of a model to 13, the first opset with per-axis QuantizeLinear/
 * DequantizeLinear (needed for per-channel weight scales).
 *
 * The upgrade rewrites the operators whose signature or meaning changed between the source opset and 13
 * (attributes that became inputs; Softmax's axis semantics) and refuses, naming the node, operators it cannot
 * rewrite safely (Upsample, Resize-10, Scatter, anything not on the list of operators known to be unchanged).
 * Source opsets below 7 are refused.
 */
import { onnx } from 'onnx-proto';
import { TrtCalibratorError } from '../errors';
import { defaultOpsetVersion, int64ToNumber } from './model';

/** The opset that per-axis Q/DQ needs. */
export const QDQ_OPSET = 13;

/** Operators whose behaviour is the same from opset 7 up to 13 (later versions only added types or attributes with compatible defaults). */
const UNCHANGED = new Set([
  'Abs',
  'Acos',
  'Acosh',
  'Add',
  'And',
  'ArgMax',
  'ArgMin',
  'Asin',
  'Asinh',
  'Atan',
  'Atanh',
  'AveragePool',
  'BatchNormalization',
  'BitShift',
  'Cast',
  'Ceil',
  'Celu',
  'Compress',
  'Concat',
  'Constant',
  'ConstantOfShape',
  'Conv',
  'ConvInteger',
  'ConvTranspose',
  'Cos',
  'Cosh',
  'CumSum',
  'DepthToSpace',
  'DequantizeLinear',
  'Det',
  'Div',
  'Einsum',
  'Elu',
  'Equal',
  'Erf',
  'Exp',
  'Expand',
  'EyeLike',
  'Flatten',
  'Floor',
  'GRU',
  'Gather',
  'GatherElements',
  'GatherND',
  'Gemm',
  'GlobalAveragePool',
  'GlobalLpPool',
  'GlobalMaxPool',
  'Greater',
  'GreaterOrEqual',
  'HardSigmoid',
  'Identity',
  'If',
  'InstanceNormalization',
  'IsInf',
  'IsNaN',
  'LRN',
  'LSTM',
  'LeakyRelu',
  'Less',
  'LessOrEqual',
  'Log',
  'Loop',
  'LpNormalization',
  'LpPool',
  'MatMul',
  'MatMulInteger',
  'Max',
  'MaxPool',
  'MaxRoiPool',
  'MaxUnpool',
  'Mean',
  'MeanVarianceNormalization',
  'Min',
  'Mod',
  'Mul',
  'Multinomial',
  'Neg',
  'NonMaxSuppression',
  'NonZero',
  'Not',
  'OneHot',
  'Or',
  'PRelu',
  'Pow',
  'QLinearConv',
  'QLinearMatMul',
  'QuantizeLinear',
  'RNN',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Range',
  'Reciprocal',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
  'Relu',
  'Reshape',
  'Resize',
  'ReverseSequence',
  'RoiAlign',
  'Round',
  'Scan',
  'ScatterElements',
  'ScatterND',
  'Selu',
  'Shape',
  'Shrink',
  'Sigmoid',
  'Sign',
  'Sin',
  'Sinh',
  'Size',
  'Softplus',
  'Softsign',
  'SpaceToDepth',
  'Sqrt',
  'Sub',
  'Sum',
  'Tan',
  'Tanh',
  'ThresholdedRelu',
  'Tile',
  'Transpose',
  'Unique',
  'Where',
  'Xor',
]);

/** Operators that are unchanged only from a given opset on (older versions had another signature). */
const UNCHANGED_FROM: Readonly<Record<string, number>> = {
  Resize: 11,
  ArgMax: 11,
  ArgMin: 11,
  Mod: 10,
  NonMaxSuppression: 10,
  Range: 11,
  Einsum: 12,
};

/** What {@link upgradeOpset} did. */
export interface OpsetUpgrade {
  /** The default-domain opset before. */
  readonly from: number;
  /** The default-domain opset after. */
  readonly to: number;
  /** One line per rewritten node, e.g. `Clip "p2o.Clip.1": min/max attributes → inputs`. */
  readonly rewritten: readonly string[];
}

/**
 * Raises the model's default-domain opset to `target` (13) in place, rewriting changed operators. A model already
 * at or above the target is left alone. Throws ERR_MODEL naming the node for operators it cannot rewrite.
 */
export function upgradeOpset(proto: onnx.ModelProto, target = QDQ_OPSET): OpsetUpgrade {
  const from = defaultOpsetVersion(proto);
  if (from === undefined) throw new TrtCalibratorError('ERR_MODEL', 'The model imports no default ONNX operator set');
  if (from >= target) return { from, to: from, rewritten: [] };
  if (from < 7) {
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `The model uses ONNX opset ${from}; Q/DQ export needs opset ${target} and upgrades only from opset 7 on. Convert it first (python -m onnx.version_converter or re-export).`,
    );
  }
  const ctx = new UpgradeContext(proto, from);
  upgradeGraph(proto.graph as onnx.GraphProto, ctx);
  for (const entry of proto.opsetImport) if (!entry.domain || entry.domain === 'ai.onnx') entry.version = target;
  // Opset 13 needs IR version 7 or later.
  if (int64ToNumber(proto.irVersion) < 7) proto.irVersion = 7;
  return { from, to: target, rewritten: ctx.rewritten };
}

class UpgradeContext {
  readonly rewritten: string[] = [];
  private readonly names = new Set<string>();
  constructor(
    proto: onnx.ModelProto,
    readonly from: number,
  ) {
    collectNames(proto.graph as onnx.IGraphProto, this.names);
  }
  /** A value name not used anywhere in the model yet. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }
}

function collectNames(graph: onnx.IGraphProto, names: Set<string>): void {
  for (const t of graph.initializer ?? []) names.add(t.name ?? '');
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    names.add(v.name ?? '');
  for (const n of graph.node ?? []) {
    for (const v of [...(n.input ?? []), ...(n.output ?? [])]) names.add(v);
    if (n.name) names.add(n.name);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, names);
      for (const g of a.graphs ?? []) collectNames(g, names);
    }
  }
}

function label(node: onnx.INodeProto): string {
  return `${node.opType} "${node.name || (node.output ?? [])[0] || '?'}"`;
}

function takeAttr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  const attrs = node.attribute ?? [];
  const index = attrs.findIndex((a) => a.name === name);
  if (index < 0) return undefined;
  const [attr] = attrs.splice(index, 1);
  return attr;
}

function ints(attr: onnx.IAttributeProto | undefined): number[] | undefined {
  return attr ? (attr.ints ?? []).map((v) => int64ToNumber(v)) : undefined;
}

function upgradeGraph(graph: onnx.GraphProto, ctx: UpgradeContext): void {
  const added: onnx.TensorProto[] = [];
  const int64Input = (base: string, values: number[]): string => {
    const name = ctx.unique(base);
    added.push(
      onnx.TensorProto.create({
        name,
        dataType: onnx.TensorProto.DataType.INT64,
        dims: [values.length],
        int64Data: values,
      }),
    );
    return name;
  };
  const floatScalar = (base: string, value: number): string => {
    const name = ctx.unique(base);
    added.push(
      onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims: [], floatData: [value] }),
    );
    return name;
  };
  const ranks = declaredRanks(graph);
  const nodes: onnx.INodeProto[] = [];
  for (const node of graph.node) {
    for (const a of node.attribute ?? []) {
      if (a.g) upgradeGraph(a.g as onnx.GraphProto, ctx);
      for (const g of a.graphs ?? []) upgradeGraph(g as onnx.GraphProto, ctx);
    }
    if (node.domain && node.domain !== 'ai.onnx') {
      nodes.push(node);
      continue;
    }
    const op = node.opType ?? '';
    const out0 = (node.output ?? [])[0] ?? 'node';
    const inputs = node.input ?? (node.input = []);
    switch (op) {
      case 'Clip':
        if (ctx.from < 11) {
          const min = takeAttr(node, 'min');
          const max = takeAttr(node, 'max');
          inputs.length = 1;
          inputs.push(min ? floatScalar(`${out0}_min`, min.f ?? 0) : '');
          if (max) inputs.push(floatScalar(`${out0}_max`, max.f ?? 0));
          if (!max && !min) inputs.length = 1;
          ctx.rewritten.push(`${label(node)}: min/max attributes → inputs`);
        }
        break;
      case 'Slice':
        if (ctx.from < 10) {
          const starts = ints(takeAttr(node, 'starts')) ?? [];
          const ends = ints(takeAttr(node, 'ends')) ?? [];
          const axes = ints(takeAttr(node, 'axes'));
          inputs.push(int64Input(`${out0}_starts`, starts), int64Input(`${out0}_ends`, ends));
          if (axes) inputs.push(int64Input(`${out0}_axes`, axes));
          ctx.rewritten.push(`${label(node)}: starts/ends/axes attributes → inputs`);
        }
        break;
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum': {
        const axes = ints(takeAttr(node, 'axes'));
        if (axes) {
          inputs.length = 1;
          inputs.push(int64Input(`${out0}_axes`, axes));
          ctx.rewritten.push(`${label(node)}: axes attribute → input`);
        }
        break;
      }
      case 'Split': {
        const split = ints(takeAttr(node, 'split'));
        if (split) {
          inputs.length = 1;
          inputs.push(int64Input(`${out0}_split`, split));
          ctx.rewritten.push(`${label(node)}: split attribute → input`);
        }
        break;
      }
      case 'Pad':
        if (ctx.from < 11) {
          const pads = ints(takeAttr(node, 'pads')) ?? [];
          const value = takeAttr(node, 'value');
          inputs.length = 1;
          inputs.push(int64Input(`${out0}_pads`, pads));
          if (value) inputs.push(floatScalar(`${out0}_value`, value.f ?? 0));
          ctx.rewritten.push(`${label(node)}: pads/value attributes → inputs`);
        }
        break;
      case 'TopK':
        if (ctx.from < 10) {
          const k = takeAttr(node, 'k');
          inputs.push(int64Input(`${out0}_k`, [int64ToNumber(k?.i)]));
          ctx.rewritten.push(`${label(node)}: k attribute → input`);
        }
        break;
      case 'Dropout': {
        // Inference only: Dropout is the identity (TensorRT drops it too). Its mask output must be unused.
        const mask = (node.output ?? [])[1];
        if (mask && graph.node.some((n) => (n.input ?? []).includes(mask))) {
          throw cannot(node, ctx.from, 'its mask output is used');
        }
        node.opType = 'Identity';
        node.attribute = [];
        node.input = [inputs[0]];
        node.output = [out0];
        ctx.rewritten.push(`${label(node)}: Dropout (inference) → Identity`);
        break;
      }
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax': {
        // Before opset 13 these flattened the input to 2-D at `axis` (default 1); from 13 on they work along one axis.
        const axisAttr = takeAttr(node, 'axis');
        const axis = axisAttr ? int64ToNumber(axisAttr.i) : 1;
        const rank = ranks.get(inputs[0]) ?? ranks.get(out0);
        if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis === -1))) {
          node.attribute = [
            ...(node.attribute ?? []),
            { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 },
          ];
          ctx.rewritten.push(`${label(node)}: axis ${axis} is the last axis → axis -1`);
        } else {
          const flat = ctx.unique(`${out0}_flat`);
          const shape = ctx.unique(`${out0}_shape`);
          const soft = ctx.unique(`${out0}_2d`);
          nodes.push(
            onnx.NodeProto.create({
              opType: 'Shape',
              input: [inputs[0]],
              output: [shape],
              name: ctx.unique(`${out0}_Shape`),
            }),
            onnx.NodeProto.create({
              opType: 'Flatten',
              input: [inputs[0]],
              output: [flat],
              name: ctx.unique(`${out0}_Flatten`),
              attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
            }),
          );
          node.input = [flat];
          node.output = [soft];
          node.attribute = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }];
          nodes.push(
            node,
            onnx.NodeProto.create({
              opType: 'Reshape',
              input: [soft, shape],
              output: [out0],
              name: ctx.unique(`${out0}_Reshape`),
            }),
          );
          ctx.rewritten.push(
            `${label(node)}: opset<13 semantics kept with Flatten/${op}/Reshape (axis ${axis}, rank ${rank ?? 'unknown'})`,
          );
          continue;
        }
        break;
      }
      case 'BatchNormalization':
        if (ctx.from < 9) {
          const spatial = takeAttr(node, 'spatial');
          if (spatial && int64ToNumber(spatial.i) !== 1)
            throw cannot(node, ctx.from, 'spatial=0 has no opset 13 equivalent');
        }
        break;
      default:
        if (!UNCHANGED.has(op) || ctx.from < (UNCHANGED_FROM[op] ?? 0)) {
          throw cannot(
            node,
            ctx.from,
            op === 'Upsample'
              ? 'Upsample was removed; it needs a rewrite to Resize'
              : 'its definition changed and no automatic rewrite is known',
          );
        }
    }
    nodes.push(node);
  }
  graph.node = nodes;
  graph.initializer.push(...added);
}

function cannot(node: onnx.INodeProto, from: number, why: string): TrtCalibratorError {
  return new TrtCalibratorError(
    'ERR_MODEL',
    `Cannot upgrade the model from opset ${from} to ${QDQ_OPSET} (needed for per-channel Q/DQ): node ${label(node)}: ${why}. Convert the model first (python -m onnx.version_converter) or re-export it with opset ≥ 13.`,
    { details: { nodeName: node.name ?? '', opType: node.opType ?? '', opset: from } },
  );
}

function declaredRanks(graph: onnx.IGraphProto): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const shape = v.type?.tensorType?.shape;
    if (shape && v.name) ranks.set(v.name, (shape.dim ?? []).length);
  }
  return ranks;
}
