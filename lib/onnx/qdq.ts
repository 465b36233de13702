/**
 * Explicit quantization: QuantizeLinear/DequantizeLinear (Q/DQ) pairs in the ONNX model, the only INT8 path in
 * TensorRT 11 (10.1 deprecated calibrators) and the format ONNX Runtime runs with INT8 kernels.
 *
 * Where the pairs go is decided in qdq-placement.ts (weighted ops all-or-nothing, residual Adds, Resize after a
 * quantized Conv, pooling next to quantized ops, one scale across a Concat); this file writes them:
 * - activations: one per-tensor pair per tensor, shared by every consumer that reads it quantized, with the
 *   calibrated scale (symmetric, zero point int8 0; the largest scale of its group for Concat groups);
 * - weights (initializers or Constant-node outputs): a pair with scale max|w|/127 per output channel (axis 0 for
 *   Conv and Gemm with transB=1, axis 1 for Gemm with transB=0, the last axis for MatMul's [K,N]); ConvTranspose
 *   weights per tensor (its per-channel axis differs between TensorRT versions). Weights stay FP32 followed by
 *   Q→DQ, the form TensorRT constant-folds into INT8 weights. Biases stay FP32 (TensorRT fuses them).
 * Everything else stays FP32 in the graph and is left to TensorRT's Q/DQ propagation and fusion: activation
 * functions, BatchNormalization (folded into Conv), element-wise Mul/Div/Sub, Concat/Reshape/Transpose (data
 * movement), MaxPool, Softmax, normalizations, reductions.
 * Per-axis Q/DQ needs opset 13: a lower default opset is upgraded (see opset.ts), or refused naming the node.
 */
import { onnx } from 'onnx-proto';
import { invalidOption, TrtCalibratorError } from '../errors';
import { QDQ_EXPORT_OPTIONS, QDQ_PLACEMENT_OPTIONS, resolveOptions, type OptionsOf } from '../options';
import { writeFileAtomic } from '../util/fs';
import { convertToFloat16, type Float16Conversion } from './fp16';
import { encodeOnnxModel, cloneModelProto, floatValues, int64ToNumber, loadOnnxModel, uniqueNamer } from './model';
import { QDQ_OPSET, upgradeOpset, type OpsetUpgrade } from './opset';
import {
  GraphIndex,
  nodeLabel,
  planPlacement,
  type Fp32Node,
  type PoolingMode,
  type ResidualAdd,
  type UnquantizedInput,
} from './qdq-placement';
import { createCpuSession } from './session';

export { floatValues };
export type { Fp32Node, PoolingMode, ResidualAdd, UnquantizedInput, Float16Conversion };

/** Activation scales by tensor name: `scale = amax / 127`, as in a TensorRT calibration cache. */
export type ScaleMap = Readonly<Record<string, number>> | ReadonlyMap<string, number>;

/** Options of {@link insertQdq}: where Q/DQ pairs go. */
/** Where Q/DQ pairs go: options of {@link insertQdq}. */
export interface QdqOptions extends OptionsOf<typeof QDQ_PLACEMENT_OPTIONS> {}

/** Options of {@link buildQdqModel} and {@link writeQdqModel}: placement and the precision of the rest. */
export interface QdqExportOptions extends OptionsOf<typeof QDQ_EXPORT_OPTIONS> {}

/** One weight that got a Q/DQ pair. */
export interface QuantizedWeight {
  /** The weight tensor's name (initializer or Constant-node output). */
  readonly name: string;
  /** 'per-channel' (one scale per index of `axis`) or 'per-tensor' (one scale). */
  readonly granularity: 'per-channel' | 'per-tensor';
  /** The channel axis of the per-channel scales; absent for per-tensor. */
  readonly axis?: number;
  /** Number of scales (channels; 1 for per-tensor). */
  readonly channels: number;
  /** Node (op "name") that consumes it. */
  readonly consumer: string;
}

/** Quantized tensors that share one scale so that TensorRT needs no requantization across a Concat. */
export interface SharedScale {
  /** The tensors (Concat inputs and output) whose pairs use `scale`. */
  readonly tensors: readonly string[];
  /** The shared scale: the largest of the tensors' own scales (no tensor clips more than its own scale would). */
  readonly scale: number;
  /** The Concat nodes, `Concat "name"`. */
  readonly concats: readonly string[];
}

/** What {@link insertQdq} did. */
export interface QdqResult {
  /** Activation tensors that got a per-tensor Q/DQ pair, with the scale used. */
  readonly activations: ReadonlyArray<{
    /** The activation tensor. */
    readonly name: string;
    /** Its scale (amax / 127), as in the cache. */
    readonly scale: number;
  }>;
  /** Weights that got a Q/DQ pair. */
  readonly weights: readonly QuantizedWeight[];
  /** Weighted ops (Conv, ConvTranspose, Gemm, MatMul) left entirely in FP32, with why. */
  readonly fp32Nodes: readonly Fp32Node[];
  /** Inputs that were to be quantized but stayed FP32, with why. */
  readonly unquantized: readonly UnquantizedInput[];
  /** Every Add of two computed tensors: its quantized residual input, or why it has none. */
  readonly residualAdds: readonly ResidualAdd[];
  /** Concat groups whose pairs share one scale. */
  readonly sharedScales: readonly SharedScale[];
  /** The opset upgrade applied (from === to when none was needed). */
  readonly opset: OpsetUpgrade;
}

/**
 * Inserts Q/DQ pairs into `proto` in place (see the module comment and qdq-placement.ts for placement). `scales`
 * holds activation scales by tensor name (cache entries); weights are scaled from their own values. Throws
 * ERR_MODEL when the opset cannot be upgraded to 13, ERR_INVALID_OPTION for bad options.
 */
export function insertQdq(proto: onnx.ModelProto, scales: ScaleMap, options: QdqOptions = {}): QdqResult {
  const { quantizeResidualAdd, quantizePooling: pooling } = resolveOptions(
    QDQ_PLACEMENT_OPTIONS,
    options,
    'Q/DQ export',
  );
  const scaleOf = toScaleLookup(scales);
  const opset = upgradeOpset(proto, QDQ_OPSET);
  const graph = proto.graph as onnx.GraphProto;
  const index = new GraphIndex(graph);

  const scaleProblem = (tensor: string): string | undefined => {
    const scale = scaleOf(tensor);
    if (scale === undefined) return 'no scale in the cache';
    if (!(Number.isFinite(scale) && scale > 0)) return `scale ${scale} is not a finite positive number`;
    return undefined;
  };
  const plan = planPlacement(index, { residualAdd: quantizeResidualAdd, pooling, scaleProblem });

  const unique = uniqueNamer(graph);

  interface Pending {
    tensor: string;
    dq: string;
    scale: onnx.ITensorProto;
    nodes: onnx.INodeProto[];
  }
  const pendings: Pending[] = [];
  const newInitializers: onnx.ITensorProto[] = [];
  const makePair = (tensor: string, scales: readonly number[], axis: number | undefined): Pending => {
    const perAxis = axis !== undefined;
    const scale = onnx.TensorProto.create({
      name: unique(`${tensor}_scale`),
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: perAxis ? [scales.length] : [],
      floatData: [...scales],
    });
    const zeroPoint = onnx.TensorProto.create({
      name: unique(`${tensor}_zero_point`),
      dataType: onnx.TensorProto.DataType.INT8,
      dims: perAxis ? [scales.length] : [],
      int32Data: new Array<number>(scales.length).fill(0),
    });
    newInitializers.push(scale, zeroPoint);
    const q = unique(`${tensor}_QuantizeLinear_Output`);
    const dq = unique(`${tensor}_DequantizeLinear_Output`);
    const axisAttr = perAxis ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }] : [];
    const nodes = [
      onnx.NodeProto.create({
        opType: 'QuantizeLinear',
        name: unique(`${tensor}_QuantizeLinear`),
        input: [tensor, scale.name ?? '', zeroPoint.name ?? ''],
        output: [q],
        attribute: axisAttr,
      }),
      onnx.NodeProto.create({
        opType: 'DequantizeLinear',
        name: unique(`${tensor}_DequantizeLinear`),
        input: [q, scale.name ?? '', zeroPoint.name ?? ''],
        output: [dq],
        attribute: axisAttr,
      }),
    ];
    const pending = { tensor, dq, scale, nodes };
    pendings.push(pending);
    return pending;
  };

  // Activations, in graph order of their first quantized consumer.
  const activations: { name: string; scale: number }[] = [];
  const activationScale = new Map<string, onnx.ITensorProto>();
  for (const [tensor, uses] of plan.activations) {
    const scale = scaleOf(tensor) as number;
    const pending = makePair(tensor, [scale], undefined);
    activationScale.set(tensor, pending.scale);
    activations.push({ name: tensor, scale: Math.fround(scale) });
    for (const use of uses) (use.node.input as string[])[use.index] = pending.dq;
  }

  // Weights: one pair per weight tensor and axis.
  const weights: QuantizedWeight[] = [];
  const weightPairs = new Map<string, Pending>();
  for (const use of plan.weights) {
    const tensor = (use.node.input ?? [])[use.index];
    const key = `${tensor}@${use.axis ?? 'tensor'}`;
    let pending = weightPairs.get(key);
    if (!pending) {
      const t = index.constantTensor(tensor) as onnx.ITensorProto;
      const dims = (t.dims ?? []).map((d) => int64ToNumber(d));
      const values = floatValues(t);
      const scales =
        use.axis === undefined ? [perTensorScale(values)] : Array.from(perChannelScales(values, dims, use.axis));
      pending = makePair(tensor, scales, use.axis);
      weightPairs.set(key, pending);
      weights.push({
        name: tensor,
        granularity: use.axis === undefined ? 'per-tensor' : 'per-channel',
        ...(use.axis === undefined ? {} : { axis: use.axis }),
        channels: scales.length,
        consumer: nodeLabel(use.node),
      });
    }
    (use.node.input as string[])[use.index] = pending.dq;
  }

  // Concat groups: every member's pair takes the largest scale of the group.
  const sharedScales: SharedScale[] = [];
  for (const group of plan.sharedScaleGroups) {
    let shared = 0;
    for (const t of group.tensors) shared = Math.max(shared, (activationScale.get(t)?.floatData ?? [0])[0]);
    for (const t of group.tensors) (activationScale.get(t) as onnx.ITensorProto).floatData = [shared];
    for (const a of activations) if (group.tensors.includes(a.name)) a.scale = Math.fround(shared);
    sharedScales.push({ tensors: group.tensors, scale: Math.fround(shared), concats: group.concats });
  }

  // Emit the Q/DQ nodes right after the producer of each tensor (graph inputs and initializers first), so the
  // graph stays topologically sorted as the ONNX checker requires.
  const byProducer = new Map<onnx.INodeProto, onnx.INodeProto[]>();
  const atStart: onnx.INodeProto[] = [];
  for (const pending of pendings) {
    const producer = index.producers.get(pending.tensor);
    if (!producer) atStart.push(...pending.nodes);
    else byProducer.set(producer, [...(byProducer.get(producer) ?? []), ...pending.nodes]);
  }
  const ordered: onnx.INodeProto[] = [...atStart];
  for (const node of graph.node) {
    ordered.push(node);
    ordered.push(...(byProducer.get(node) ?? []));
  }
  graph.node = ordered;
  graph.initializer.push(...newInitializers);
  return {
    activations,
    weights,
    fp32Nodes: plan.fp32Nodes,
    unquantized: plan.unquantized,
    residualAdds: plan.residualAdds,
    sharedScales,
    opset,
  };
}

function toScaleLookup(scales: ScaleMap): (name: string) => number | undefined {
  if (scales instanceof Map) return (name) => scales.get(name);
  if (scales === null || typeof scales !== 'object' || Array.isArray(scales))
    throw invalidOption('scales', 'an object or Map of tensor name to scale', scales);
  const record = scales as Readonly<Record<string, number>>;
  return (name) => (Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined);
}

/**
 * Symmetric per-channel INT8 scales: max|w| / 127 over every element of each index along `axis`. An all-zero
 * channel gets scale 1 (any positive scale quantizes zeros exactly; 0 would divide by zero).
 */
export function perChannelScales(values: Float32Array, dims: readonly number[], axis: number): Float32Array {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const amax = new Float32Array(channels);
  // Plain comparisons, not Math.abs/Math.max: those are far slower inside vm contexts (jest) than in Node.
  for (let i = 0, c = 0, k = 0; i < values.length; i++) {
    const v = values[i] < 0 ? -values[i] : values[i];
    if (v > amax[c]) amax[c] = v;
    if (++k === inner) {
      k = 0;
      if (++c === channels) c = 0;
    }
  }
  return amax.map((a) => (a > 0 ? a / 127 : 1));
}

/** Symmetric per-tensor INT8 scale of a weight: max|w| / 127, or 1 for an all-zero weight. */
export function perTensorScale(values: Float32Array): number {
  let amax = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] < 0 ? -values[i] : values[i];
    if (v > amax) amax = v;
  }
  return amax > 0 ? Math.fround(amax / 127) : 1;
}

/** What {@link buildQdqModel} returns besides the bytes. */
export interface QdqBuild extends QdqResult {
  /** What the float16 conversion did; absent with `highPrecision: 'fp32'`. */
  readonly float16?: Float16Conversion;
}

/** What {@link writeQdqModel} returns. */
export interface QdqExport extends QdqBuild {
  /** Where the Q/DQ model was written. */
  readonly path: string;
  /** Size of the written model in bytes. */
  readonly bytes: number;
}

/**
 * Loads `modelPath`, inserts Q/DQ pairs with `scales` (see {@link insertQdq}), converts the float part to float16
 * with `highPrecision: 'fp16'`, checks that ONNX Runtime can load the result, and writes it atomically to
 * `outPath`. Throws ERR_IO, ERR_MODEL (naming node and op when ONNX Runtime refuses the result), ERR_NO_DATA when
 * no compute-op input could be quantized, ERR_INVALID_OPTION for bad options.
 */
export async function writeQdqModel(
  modelPath: string,
  scales: ScaleMap,
  outPath: string,
  options: QdqExportOptions = {},
): Promise<QdqExport> {
  const { bytes: data, result } = await buildQdqModel(modelPath, scales, options);
  await writeFileAtomic(outPath, data);
  return { ...result, path: outPath, bytes: data.length };
}

/**
 * Like {@link writeQdqModel} but returns the Q/DQ model bytes instead of writing them (for evaluation in memory).
 */
export async function buildQdqModel(
  modelPath: string,
  scales: ScaleMap,
  options: QdqExportOptions = {},
): Promise<QdqModel> {
  const { highPrecision, ...placement } = resolveOptions(QDQ_EXPORT_OPTIONS, options, 'Q/DQ export');
  const model = await loadOnnxModel(modelPath);
  checkScalesBelongTo(model.proto, scales, modelPath);
  const proto = cloneModelProto(model.proto);
  const result = insertQdq(proto, scales, placement);
  if (result.activations.length === 0) {
    const sample = result.unquantized
      .slice(0, 5)
      .map((u) => `"${u.tensor}"`)
      .join(', ');
    throw new TrtCalibratorError(
      'ERR_NO_DATA',
      `No compute-op input of ${modelPath} has a scale (first inputs looked up: ${sample}); is the cache for this model?`,
      {
        details: { unquantized: result.unquantized.length },
      },
    );
  }
  if (!proto.producerName) proto.producerName = 'trt-calibrator';
  let float16: Float16Conversion | undefined;
  if (highPrecision === 'fp16') float16 = convertToFloat16(proto, await nodeOutputTypes(proto, modelPath));
  const bytes = encodeOnnxModel(proto);
  // A load check. The float16 model is checked unoptimized: ONNX Runtime's CPU fusions have no float16 kernels
  // to fold with and would only warn.
  const session = await createCpuSession(bytes, {
    proto,
    source: `the Q/DQ model of ${modelPath}`,
    ...(float16 ? { graphOptimizationLevel: 'disabled' as const } : {}),
  });
  await session.release();
  return { bytes, result: float16 ? { ...result, float16 } : result };
}

/** A Q/DQ model built in memory by {@link buildQdqModel}. */
export interface QdqModel {
  /** The encoded model. */
  bytes: Uint8Array;
  /** What was quantized and how. */
  result: QdqBuild;
}

/** Least share of a cache's entries that must name a tensor of the model for the cache to be taken as the model's. */
export const MIN_CACHE_MODEL_COVERAGE = 0.5;

/**
 * Refuses scales that were calibrated on another model: fewer than {@link MIN_CACHE_MODEL_COVERAGE} of the entries
 * name a tensor of `proto` (a graph input or a node output). A cache TensorRT wrote has a few entries of its own
 * (`(Unnamed Layer* 4) [Constant]_output`, `ONNXTRT_Broadcast_12_output`) that the ONNX graph lacks; another
 * model's cache matches only by accident. Throws ERR_CACHE_MODEL_MISMATCH with the coverage and unmatched names,
 * ending with `advice` (what the caller can do).
 */
export function checkScalesBelongTo(
  proto: onnx.IModelProto,
  scales: ScaleMap,
  modelPath: string,
  advice = 'Nothing was written; calibrate this model, or pass the cache of the model it came from.',
): void {
  const names = scales instanceof Map ? [...scales.keys()] : Object.keys(scales ?? {});
  if (names.length === 0) return;
  const graph = proto.graph as onnx.IGraphProto;
  const tensors = new Set<string>((graph.input ?? []).map((i) => i.name ?? ''));
  for (const n of graph.node ?? []) for (const o of n.output ?? []) tensors.add(o);
  const unmatched = names.filter((n) => !tensors.has(n));
  const matched = names.length - unmatched.length;
  if (matched / names.length >= MIN_CACHE_MODEL_COVERAGE) return;
  throw new TrtCalibratorError(
    'ERR_CACHE_MODEL_MISMATCH',
    `The cache does not belong to ${modelPath}: only ${matched} of its ${names.length} entries name a tensor of the model ` +
      `(${((100 * matched) / names.length).toFixed(0)} %; e.g. ${unmatched
        .slice(0, 4)
        .map((n) => `"${n}"`)
        .join(', ')} are not in it). ${advice}`,
    { details: { entries: names.length, matched, unmatched: unmatched.slice(0, 20) } },
  );
}

/** The element type ONNX Runtime infers for every node output of `proto` ('float32', 'int64', …). */
async function nodeOutputTypes(proto: onnx.ModelProto, modelPath: string): Promise<Map<string, string>> {
  const probe = cloneModelProto(proto);
  const graph = probe.graph as onnx.GraphProto;
  const have = new Set(graph.output.map((o) => o.name ?? ''));
  for (const node of graph.node)
    for (const out of node.output ?? []) {
      if (out && !have.has(out)) {
        graph.output.push(onnx.ValueInfoProto.create({ name: out }));
        have.add(out);
      }
    }
  const session = await createCpuSession(encodeOnnxModel(probe), {
    proto: probe,
    source: `the Q/DQ model of ${modelPath}`,
    graphOptimizationLevel: 'disabled',
  });
  try {
    const types = new Map<string, string>();
    for (const meta of session.outputMetadata) types.set(meta.name, meta.isTensor ? meta.type : 'non-tensor');
    return types;
  } finally {
    await session.release();
  }
}
