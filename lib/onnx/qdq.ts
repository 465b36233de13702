/**
 * Explicit quantization: QuantizeLinear/DequantizeLinear (Q/DQ) pairs in the ONNX model, the only INT8 path in
 * TensorRT 11 (10.1 deprecated calibrators) and the format ONNX Runtime runs with INT8 kernels.
 *
 * Placement follows TensorRT's Q/DQ fusion rules (its "Q/DQ layer placement" recommendations, and what NVIDIA's
 * pytorch-quantization/ModelOpt export): quantize the INPUTS of the compute operators, not every tensor.
 * - Conv, ConvTranspose, Gemm, MatMul: every activation input gets a per-tensor pair with the calibrated scale
 *   (symmetric, zero point int8 0); constant weights (initializers or Constant-node outputs) get a per-output-
 *   channel pair with scale max|w|/127 (axis 0 for Conv and Gemm with transB=1, axis 1 for ConvTranspose and Gemm
 *   with transB=0, the last axis for MatMul's [K,N] weights). Weights stay FP32 followed by Q→DQ, the form
 *   TensorRT 8.0+ constant-folds into INT8 weights. Biases stay FP32 (TensorRT fuses them).
 * - Add (residual, option `quantizeResidualAdd`, default true): the branch NOT produced by a Conv/ConvTranspose is
 *   quantized, so TensorRT can fuse Conv + Add (+ Relu) into one INT8 kernel; an Add of two Conv outputs has its
 *   second input quantized.
 * - Pooling (option `quantizePooling`, default false): MaxPool/AveragePool/GlobalAveragePool inputs. TensorRT
 *   propagates Q/DQ through pooling on its own, so the default leaves them out.
 * - Everything else stays FP32 in the graph and is left to TensorRT's Q/DQ propagation and fusion: activation
 *   functions (Relu/Clip/HardSigmoid/Sigmoid fuse into the producer), BatchNormalization (folded into Conv),
 *   Mul/Div/Sub elementwise, Concat/Reshape/Transpose/Resize (data movement), Softmax, normalizations, reductions.
 * A compute input whose tensor has no (finite, positive) scale stays FP32 and is listed in the result.
 * Per-axis Q/DQ needs opset 13: a lower default opset is upgraded (see opset.ts), or refused naming the node.
 */
import { onnx } from 'onnx-proto';
import { invalidOption, rejectUnknownOptions, TrtCalibratorError } from '../errors';
import { writeFileAtomic } from '../util/fs';
import { encodeOnnxModel, cloneModelProto, floatValues, int64ToNumber, loadOnnxModel } from './model';

export { floatValues };
import { QDQ_OPSET, upgradeOpset, type OpsetUpgrade } from './opset';
import { createCpuSession } from './session';

/** Activation scales by tensor name: `scale = amax / 127`, as in a TensorRT calibration cache. */
export type ScaleMap = Readonly<Record<string, number>> | ReadonlyMap<string, number>;

/** Options of {@link insertQdq} and {@link writeQdqModel}. */
export interface QdqOptions {
  /** Quantize the residual branch of Add nodes fed by a Conv (TensorRT's Conv+Add fusion). Defaults to true. */
  quantizeResidualAdd?: boolean;
  /** Quantize the inputs of MaxPool/AveragePool/GlobalAveragePool. Defaults to false. */
  quantizePooling?: boolean;
}

/** One weight that got per-channel Q/DQ. */
export interface QuantizedWeight {
  /** The weight tensor's name (initializer or Constant-node output). */
  readonly name: string;
  /** The channel axis of the per-channel scales. */
  readonly axis: number;
  /** Number of channels (length of the scale vector). */
  readonly channels: number;
  /** Node (op "name") that consumes it. */
  readonly consumer: string;
}

/** A compute-op input left in FP32, with the reason. */
export interface UnquantizedInput {
  /** Tensor name. */
  readonly tensor: string;
  /** Consuming node, `Op "name"`. */
  readonly consumer: string;
  /** Why, e.g. `no scale in the cache`. */
  readonly reason: string;
}

/** What {@link insertQdq} did. */
export interface QdqResult {
  /** Activation tensors that got a per-tensor Q/DQ pair, with the scale used. */
  readonly activations: ReadonlyArray<{ readonly name: string; readonly scale: number }>;
  /** Weights that got a per-channel Q/DQ pair. */
  readonly weights: readonly QuantizedWeight[];
  /** Compute-op inputs left in FP32. */
  readonly unquantized: readonly UnquantizedInput[];
  /** The opset upgrade applied (from === to when none was needed). */
  readonly opset: OpsetUpgrade;
}

const COMPUTE_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);
const POOL_OPS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool']);

/**
 * Inserts Q/DQ pairs into `proto` in place (see the module comment for placement). `scales` holds activation
 * scales by tensor name (cache entries); weights are scaled from their own values. Throws ERR_MODEL when the
 * opset cannot be upgraded to 13, ERR_INVALID_OPTION for bad options.
 */
export function insertQdq(proto: onnx.ModelProto, scales: ScaleMap, options: QdqOptions = {}): QdqResult {
  rejectUnknownOptions('Q/DQ export', options, ['quantizeResidualAdd', 'quantizePooling']);
  for (const key of ['quantizeResidualAdd', 'quantizePooling'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean')
      throw invalidOption(key, 'a boolean', options[key]);
  }
  const scaleOf = toScaleLookup(scales);
  const opset = upgradeOpset(proto, QDQ_OPSET);
  const graph = proto.graph as onnx.GraphProto;

  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t as onnx.ITensorProto]));
  const producers = new Map<string, onnx.INodeProto>();
  for (const node of graph.node) for (const out of node.output ?? []) if (out) producers.set(out, node);
  const constantTensor = (name: string): onnx.ITensorProto | undefined => {
    const init = initializers.get(name);
    if (init) return init;
    const producer = producers.get(name);
    if (producer && producer.opType === 'Constant' && (!producer.domain || producer.domain === 'ai.onnx')) {
      return (producer.attribute ?? []).find((a) => a.name === 'value')?.t ?? undefined;
    }
    return undefined;
  };
  const isConstant = (name: string): boolean => {
    if (initializers.has(name)) return true;
    const p = producers.get(name);
    return p !== undefined && p.opType === 'Constant';
  };

  const names = new Set<string>();
  for (const t of graph.initializer) names.add(t.name ?? '');
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name ?? '');
  for (const n of graph.node) for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) names.add(v);
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };

  // Decide what to quantize: per tensor, the DQ output that replaces it in the chosen consumers.
  interface Pending {
    tensor: string;
    dq: string;
    nodes: onnx.INodeProto[];
  }
  const pendingByTensor = new Map<string, Pending>(); // key: tensor or tensor@axis for weights
  const activations: { name: string; scale: number }[] = [];
  const weights: QuantizedWeight[] = [];
  const unquantized: UnquantizedInput[] = [];
  const newInitializers: onnx.ITensorProto[] = [];

  const makePair = (
    tensor: string,
    scale: onnx.ITensorProto,
    zeroPoint: onnx.ITensorProto,
    axis: number | undefined,
  ): Pending => {
    const q = unique(`${tensor}_QuantizeLinear_Output`);
    const dq = unique(`${tensor}_DequantizeLinear_Output`);
    newInitializers.push(scale, zeroPoint);
    const axisAttr = axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }];
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
    return { tensor, dq, nodes };
  };

  const quantizeActivation = (node: onnx.INodeProto, index: number): void => {
    const tensor = (node.input ?? [])[index];
    if (!tensor) return;
    const consumer = `${node.opType} "${node.name || (node.output ?? [])[0]}"`;
    let pending = pendingByTensor.get(tensor);
    if (!pending) {
      const scale = scaleOf(tensor);
      if (scale === undefined) {
        unquantized.push({ tensor, consumer, reason: 'no scale in the cache' });
        return;
      }
      if (!(Number.isFinite(scale) && scale > 0)) {
        unquantized.push({ tensor, consumer, reason: `scale ${scale} is not a finite positive number` });
        return;
      }
      const s = onnx.TensorProto.create({
        name: unique(`${tensor}_scale`),
        dataType: onnx.TensorProto.DataType.FLOAT,
        dims: [],
        floatData: [scale],
      });
      const z = onnx.TensorProto.create({
        name: unique(`${tensor}_zero_point`),
        dataType: onnx.TensorProto.DataType.INT8,
        dims: [],
        int32Data: [0],
      });
      pending = makePair(tensor, s, z, undefined);
      pendingByTensor.set(tensor, pending);
      activations.push({ name: tensor, scale: Math.fround(scale) });
    }
    (node.input as string[])[index] = pending.dq;
  };

  const quantizeWeight = (node: onnx.INodeProto, index: number, axisFor: (rank: number) => number): void => {
    const tensor = (node.input ?? [])[index];
    if (!tensor) return;
    const consumer = `${node.opType} "${node.name || (node.output ?? [])[0]}"`;
    const t = constantTensor(tensor);
    if (!t) {
      unquantized.push({ tensor, consumer, reason: 'weight is computed, not a constant' });
      return;
    }
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
      unquantized.push({ tensor, consumer, reason: `weight is not float32 (ONNX type ${t.dataType})` });
      return;
    }
    const dims = (t.dims ?? []).map((d) => int64ToNumber(d));
    if (dims.length === 0) {
      unquantized.push({ tensor, consumer, reason: 'weight is a scalar' });
      return;
    }
    const axis = axisFor(dims.length);
    const key = `${tensor}@${axis}`;
    let pending = pendingByTensor.get(key);
    if (!pending) {
      const scales = perChannelScales(floatValues(t), dims, axis);
      const s = onnx.TensorProto.create({
        name: unique(`${tensor}_scale`),
        dataType: onnx.TensorProto.DataType.FLOAT,
        dims: [scales.length],
        floatData: Array.from(scales),
      });
      const z = onnx.TensorProto.create({
        name: unique(`${tensor}_zero_point`),
        dataType: onnx.TensorProto.DataType.INT8,
        dims: [scales.length],
        int32Data: new Array<number>(scales.length).fill(0),
      });
      pending = makePair(tensor, s, z, axis);
      pendingByTensor.set(key, pending);
      weights.push({ name: tensor, axis, channels: scales.length, consumer });
    }
    (node.input as string[])[index] = pending.dq;
  };

  const residual = options.quantizeResidualAdd ?? true;
  const pooling = options.quantizePooling ?? false;
  for (const node of graph.node) {
    if (node.domain && node.domain !== 'ai.onnx') continue;
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if (COMPUTE_OPS.has(op)) {
      if (op === 'Conv' || op === 'ConvTranspose') {
        if (inputs[0] && !isConstant(inputs[0])) quantizeActivation(node, 0);
        quantizeWeight(node, 1, () => (op === 'Conv' ? 0 : 1));
      } else if (op === 'Gemm') {
        const transB = int64ToNumber((node.attribute ?? []).find((a) => a.name === 'transB')?.i) === 1;
        for (const i of [0, 1]) if (inputs[i] && !isConstant(inputs[i])) quantizeActivation(node, i);
        if (inputs[1] && isConstant(inputs[1])) quantizeWeight(node, 1, () => (transB ? 0 : 1));
      } else {
        for (const i of [0, 1]) if (inputs[i] && !isConstant(inputs[i])) quantizeActivation(node, i);
        if (inputs[1] && isConstant(inputs[1])) quantizeWeight(node, 1, (rank) => rank - 1);
      }
    } else if (op === 'Add' && residual && inputs.length === 2 && inputs.every((i) => i && !isConstant(i))) {
      const fromConv = inputs.map((i) => ['Conv', 'ConvTranspose'].includes(producers.get(i)?.opType ?? ''));
      if (fromConv[0] || fromConv[1]) quantizeActivation(node, fromConv[0] ? 1 : 0);
    } else if (pooling && POOL_OPS.has(op) && inputs[0] && !isConstant(inputs[0])) {
      quantizeActivation(node, 0);
    }
  }

  // Emit the Q/DQ nodes right after the producer of each tensor (graph inputs and initializers first), so the
  // graph stays topologically sorted as the ONNX checker requires.
  const byProducer = new Map<string, onnx.INodeProto[]>();
  const atStart: onnx.INodeProto[] = [];
  for (const pending of pendingByTensor.values()) {
    const producer = producers.get(pending.tensor);
    if (!producer) atStart.push(...pending.nodes);
    else {
      const key = producerKey(producer);
      byProducer.set(key, [...(byProducer.get(key) ?? []), ...pending.nodes]);
    }
  }
  const ordered: onnx.INodeProto[] = [...atStart];
  for (const node of graph.node) {
    ordered.push(node);
    ordered.push(...(byProducer.get(producerKey(node)) ?? []));
  }
  graph.node = ordered;
  graph.initializer.push(...newInitializers);
  return { activations, weights, unquantized, opset };
}

const nodeKeys = new WeakMap<object, string>();
let nodeKeyCounter = 0;
function producerKey(node: onnx.INodeProto): string {
  let key = nodeKeys.get(node);
  if (!key) {
    key = String(nodeKeyCounter++);
    nodeKeys.set(node, key);
  }
  return key;
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

/** What {@link writeQdqModel} returns. */
export interface QdqExport extends QdqResult {
  /** Where the Q/DQ model was written. */
  readonly path: string;
  /** Size of the written model in bytes. */
  readonly bytes: number;
}

/**
 * Loads `modelPath`, inserts Q/DQ pairs with `scales` (see {@link insertQdq}), checks that ONNX Runtime can load
 * the result, and writes it atomically to `outPath`. Throws ERR_IO, ERR_MODEL (naming node and op when ONNX
 * Runtime refuses the result), ERR_NO_DATA when no compute-op input could be quantized.
 */
export async function writeQdqModel(
  modelPath: string,
  scales: ScaleMap,
  outPath: string,
  options: QdqOptions = {},
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
  options: QdqOptions = {},
): Promise<{ bytes: Uint8Array; result: QdqResult }> {
  const model = await loadOnnxModel(modelPath);
  const proto = cloneModelProto(model.proto);
  const result = insertQdq(proto, scales, options);
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
  const bytes = encodeOnnxModel(proto);
  const session = await createCpuSession(bytes, { proto, source: `the Q/DQ model of ${modelPath}` });
  await session.release();
  return { bytes, result };
}
