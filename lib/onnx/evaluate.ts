/**
 * Accuracy check of a Q/DQ (INT8) model against its FP32 original: both run in ONNX Runtime (CPU; the Q/DQ model
 * with ONNX Runtime's INT8 kernels where it fuses them) on the same batches, and every model output is compared.
 * Several Q/DQ models (one per threshold algorithm) can be checked in one pass over the data
 * ({@link evaluateQdqModels}): the FP32 model runs once per batch.
 *
 * Besides the outputs it measures, on the first few batches, which quantized tensors differ most from their FP32
 * values (`worstTensors`), and with labels (one image directory per class) the top-1 accuracy of both models.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { DTYPE_BYTES, elementCount, type BatchFactory, type BatchBuffers, type InputSpec } from '../batch/factory';
import { DEFAULT_IMAGE_EXTENSIONS, ImageBatchFactory } from '../batch/image-factory';
import { invalidOption, rejectUnknownOptions, TrtCalibratorError } from '../errors';
import { cloneModelProto, decodeOnnxModel, encodeOnnxModel, int64ToNumber, loadOnnxModel, modelInputs } from './model';
import { buildQdqModel, type QdqOptions, type QdqResult, type ScaleMap } from './qdq';
import { createQdqSession } from './session';
import { readFileOrThrow } from '../util/fs';

/** Options shared by {@link evaluateQdq} and {@link evaluateQdqModels}. */
export interface EvaluatePassOptions {
  /** Placement options when building from `scales`. Defaults to {}. */
  qdqOptions?: QdqOptions;
  /** Stop after this many batches. Defaults to every batch the factory delivers. */
  maxBatches?: number;
  /** Number of quantized tensors to report in `worstTensors` (0: skip the measurement). Defaults to 10. */
  worstTensors?: number;
  /** Batches on which `worstTensors` is measured (it runs extra sessions that return every quantized tensor). Defaults to 2. */
  worstTensorBatches?: number;
  /**
   * Class index per image file (as the factory lists it), for top-1 accuracy of both models: see
   * {@link labelsFromDirectory}. Needs an {@link ImageBatchFactory} (it says which files each batch holds) and a
   * classifier output. Defaults to none.
   */
  labels?: ReadonlyMap<string, number>;
  /** Aborts between batches; the promise rejects with ERR_ABORTED. Defaults to none. */
  signal?: AbortSignal;
  /** Called after each batch with the number of batches done. Defaults to none. */
  onProgress?: (batchesDone: number) => void;
}

/** Options of {@link evaluateQdq}. Give exactly one of `qdqModel` and `scales`. */
export interface EvaluateOptions extends EvaluatePassOptions {
  /** The Q/DQ model to check: a path or its bytes. Defaults to undefined (then `scales` builds it). */
  qdqModel?: string | Uint8Array;
  /** Activation scales (a cache's entries) to build the Q/DQ model from. Defaults to undefined. */
  scales?: ScaleMap;
}

/** One Q/DQ model of {@link evaluateQdqModels}: give exactly one of `qdqModel` and `scales`. */
export interface QdqCandidate {
  /** A name for messages and results (e.g. the algorithm). */
  label: string;
  /** The Q/DQ model: a path or its bytes. Defaults to undefined (then `scales` builds it). */
  qdqModel?: string | Uint8Array;
  /** Activation scales to build the Q/DQ model from. Defaults to undefined. */
  scales?: ScaleMap;
}

/** FP32-vs-INT8 agreement of one model output. */
export interface OutputAgreement {
  /** Output name. */
  readonly name: string;
  /** Elements compared (all batches). */
  readonly elements: number;
  /** Cosine similarity of the FP32 and INT8 outputs over all elements (1 = same direction). */
  readonly cosine: number;
  /** Largest absolute difference. */
  readonly maxAbsError: number;
  /** Mean absolute difference. */
  readonly meanAbsError: number;
  /** Largest |FP32| seen, to judge the errors against. */
  readonly maxAbsReference: number;
  /**
   * Share of samples whose arg-max over the last axis is the same in both (classifier outputs: rank 2 with at
   * least 2 classes). Undefined for other outputs.
   */
  readonly top1Agreement?: number;
  /** Samples counted for `top1Agreement`. */
  readonly samples?: number;
}

/** How far one quantized tensor of the Q/DQ model is from its FP32 value. */
export interface TensorError {
  /** Tensor name (as in the FP32 model and the cache). */
  readonly name: string;
  /**
   * Relative L2 error ‖fp32 − int8‖ / ‖fp32‖ between the tensor in the FP32 model and the dequantized tensor the
   * INT8 consumer reads in the Q/DQ model (so it includes the error coming from earlier layers).
   */
  readonly error: number;
  /** The tensor's own share: relative L2 error of its Q→DQ round trip within the Q/DQ model (rounding + clipping at its scale). */
  readonly ownError: number;
  /** Share of its values (in the Q/DQ model) beyond ±127·scale, clipped by INT8. */
  readonly clipped: number;
}

/** Top-1 accuracy against labels. */
export interface LabelAccuracy {
  /** Share (0–1) of labelled samples the FP32 model classifies correctly. */
  readonly fp32: number;
  /** Same for the Q/DQ (INT8) model. */
  readonly int8: number;
  /** Labelled samples counted. */
  readonly samples: number;
  /** The output the arg-max was taken from. */
  readonly output: string;
}

/** What {@link evaluateQdq} returns. */
export interface Evaluation {
  /** One entry per model output, in graph order. */
  readonly outputs: readonly OutputAgreement[];
  /** Batches evaluated. */
  readonly batches: number;
  /** Samples evaluated (images without the repeats that pad a last partial batch). */
  readonly samples: number;
  /** What the Q/DQ export did, when the model was built from `scales`. */
  readonly qdq?: QdqResult;
  /** The quantized tensors furthest from FP32 (see {@link TensorError}), worst first; measured on the first `worstTensorBatches` batches. */
  readonly worstTensors?: readonly TensorError[];
  /** Top-1 accuracy of both models, when `labels` were given. */
  readonly labelAccuracy?: LabelAccuracy;
  /** Wall time in milliseconds (of the whole pass, shared by every model of {@link evaluateQdqModels}). */
  readonly ms: number;
}

class Accumulator {
  elements = 0;
  dot = 0;
  normA = 0;
  normB = 0;
  sumAbs = 0;
  maxAbs = 0;
  maxRef = 0;
  samples = 0;
  agree = 0;

  // Plain comparisons instead of Math.abs/Math.max: those are slow inside vm contexts (jest).
  add(a: Float32Array, b: Float32Array, dims: readonly number[]): void {
    let dot = 0;
    let na = 0;
    let nb = 0;
    let sum = 0;
    let max = this.maxAbs;
    let ref = this.maxRef;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      dot += x * y;
      na += x * x;
      nb += y * y;
      const d = x > y ? x - y : y - x;
      sum += d;
      if (d > max) max = d;
      const ax = x < 0 ? -x : x;
      if (ax > ref) ref = ax;
    }
    this.dot += dot;
    this.normA += na;
    this.normB += nb;
    this.sumAbs += sum;
    this.maxAbs = max;
    this.maxRef = ref;
    this.elements += a.length;
    if (isClassifier(dims)) {
      const classes = dims[1];
      for (let s = 0; s < dims[0]; s++) {
        this.samples++;
        if (argmax(a, s * classes, classes) === argmax(b, s * classes, classes)) this.agree++;
      }
    }
  }

  result(name: string): OutputAgreement {
    const cosine =
      this.normA === 0 && this.normB === 0
        ? 1
        : this.normA === 0 || this.normB === 0
          ? 0
          : this.dot / Math.sqrt(this.normA * this.normB);
    const base = {
      name,
      elements: this.elements,
      cosine,
      maxAbsError: this.maxAbs,
      meanAbsError: this.elements ? this.sumAbs / this.elements : 0,
      maxAbsReference: this.maxRef,
    };
    return this.samples > 0 ? { ...base, top1Agreement: this.agree / this.samples, samples: this.samples } : base;
  }
}

/** Sums for one tensor of the worst-tensor measurement. */
class TensorAccumulator {
  diff = 0;
  ref = 0;
  own = 0;
  ownRef = 0;
  clipped = 0;
  count = 0;

  add(fp32: Float32Array, dq: Float32Array, raw: Float32Array, amax: number): void {
    let diff = 0;
    let ref = 0;
    let own = 0;
    let ownRef = 0;
    let clipped = 0;
    const n = fp32.length < dq.length ? fp32.length : dq.length;
    for (let i = 0; i < n; i++) {
      const a = fp32[i];
      const d = a - dq[i];
      diff += d * d;
      ref += a * a;
      const r = raw[i];
      const o = r - dq[i];
      own += o * o;
      ownRef += r * r;
      if (r > amax || r < -amax) clipped++;
    }
    this.diff += diff;
    this.ref += ref;
    this.own += own;
    this.ownRef += ownRef;
    this.clipped += clipped;
    this.count += n;
  }

  result(name: string): TensorError {
    const rel = (num: number, den: number): number => (den > 0 ? Math.sqrt(num / den) : num > 0 ? 1 : 0);
    return {
      name,
      error: rel(this.diff, this.ref),
      ownError: rel(this.own, this.ownRef),
      clipped: this.count ? this.clipped / this.count : 0,
    };
  }
}

function isClassifier(dims: readonly number[]): boolean {
  return dims.length === 2 && dims[1] >= 2;
}

function argmax(a: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[offset + i] > a[offset + best]) best = i;
  return best;
}

function allocate(spec: InputSpec): ArrayBufferView {
  const n = elementCount(spec.shape);
  switch (spec.dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'float16':
      return new Uint16Array(n);
  }
  return new Uint8Array(n * DTYPE_BYTES[spec.dtype]);
}

const ORT_TYPES: Record<string, ort.Tensor.Type> = {
  float32: 'float32',
  float16: 'float16',
  int32: 'int32',
  int64: 'int64',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** The per-tensor Q/DQ pairs of a Q/DQ model: activation tensor → the DQ output its consumers read, with its scale. */
export function activationQdqPairs(proto: onnx.ModelProto): Map<string, { dq: string; scale: number }> {
  const graph = proto.graph as onnx.GraphProto;
  const init = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of graph.node) for (const o of n.output ?? []) producers.set(o, n);
  const out = new Map<string, { dq: string; scale: number }>();
  for (const n of graph.node) {
    if (n.opType !== 'DequantizeLinear') continue;
    const q = producers.get((n.input ?? [])[0] ?? '');
    if (!q || q.opType !== 'QuantizeLinear') continue;
    const tensor = (q.input ?? [])[0] ?? '';
    const producer = producers.get(tensor);
    if (!tensor || init.has(tensor) || producer?.opType === 'Constant') continue; // weights
    const s = init.get((q.input ?? [])[1] ?? '');
    if (!s || (s.dims ?? []).reduce<number>((a, d) => a * int64ToNumber(d), 1) !== 1) continue; // per-channel
    const scale =
      s.floatData && s.floatData.length > 0
        ? s.floatData[0]
        : s.rawData && s.rawData.length >= 4
          ? new DataView(s.rawData.buffer, s.rawData.byteOffset, 4).getFloat32(0, true)
          : NaN;
    if (!out.has(tensor)) out.set(tensor, { dq: (n.output ?? [])[0] ?? '', scale });
  }
  return out;
}

/** A copy of `proto` whose graph also outputs `names` (ONNX Runtime infers their types). */
function withOutputs(proto: onnx.ModelProto, names: readonly string[]): Uint8Array {
  const copy = cloneModelProto(proto);
  const graph = copy.graph as onnx.GraphProto;
  const have = new Set(graph.output.map((o) => o.name ?? ''));
  for (const name of names) if (!have.has(name)) graph.output.push(onnx.ValueInfoProto.create({ name }));
  return encodeOnnxModel(copy);
}

interface Prepared {
  label: string;
  bytes: Uint8Array;
  proto: onnx.ModelProto;
  qdq?: QdqResult;
}

async function prepareCandidate(modelPath: string, c: QdqCandidate, qdqOptions: QdqOptions): Promise<Prepared> {
  if (c === null || typeof c !== 'object')
    throw invalidOption('candidate', 'an object { label, qdqModel | scales }', c);
  if ((c.qdqModel === undefined) === (c.scales === undefined))
    throw invalidOption('qdqModel/scales', 'exactly one of qdqModel and scales', c.qdqModel ?? c.scales);
  let bytes: Uint8Array;
  let qdq: QdqResult | undefined;
  if (c.scales !== undefined) {
    const built = await buildQdqModel(modelPath, c.scales, qdqOptions);
    bytes = built.bytes;
    qdq = built.result;
  } else if (typeof c.qdqModel === 'string') {
    bytes = await readFileOrThrow(c.qdqModel, 'Q/DQ model');
  } else if (c.qdqModel instanceof Uint8Array) {
    bytes = c.qdqModel;
  } else {
    throw invalidOption('qdqModel', 'a path or a Uint8Array', c.qdqModel);
  }
  const { proto } = await decodeOnnxModel(bytes, typeof c.qdqModel === 'string' ? { path: c.qdqModel } : {});
  return { label: c.label, bytes, proto, ...(qdq ? { qdq } : {}) };
}

function positive(option: string, value: unknown, min = 1): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)) {
    throw invalidOption(
      option,
      min === 0 ? 'a non-negative integer' : 'a positive integer',
      value,
      typeof value === 'number' ? 'range' : 'type',
    );
  }
}

const PASS_KEYS = [
  'qdqOptions',
  'maxBatches',
  'worstTensors',
  'worstTensorBatches',
  'labels',
  'signal',
  'onProgress',
] as const;

/**
 * Runs the FP32 model at `modelPath` and its Q/DQ version on every batch of `factory` and compares each output:
 * cosine similarity, max/mean absolute error, and top-1 agreement for classifier outputs; plus the quantized
 * tensors furthest from FP32 and, with `labels`, top-1 accuracy. The factory is not closed (the caller owns it).
 * Errors: ERR_INPUT_NAME when the factory's inputs do not match the model's, ERR_NO_DATA when the factory
 * delivers no batch, ERR_MODEL, ERR_ABORTED, ERR_INVALID_OPTION.
 */
export async function evaluateQdq(
  modelPath: string,
  factory: BatchFactory,
  options: EvaluateOptions,
): Promise<Evaluation> {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('evaluateQdq', options, ['qdqModel', 'scales', ...PASS_KEYS]);
  const { qdqModel, scales, ...pass } = options;
  if ((qdqModel === undefined) === (scales === undefined))
    throw invalidOption('qdqModel/scales', 'exactly one of qdqModel and scales', qdqModel ?? scales);
  const [result] = await evaluateQdqModels(
    modelPath,
    factory,
    [{ label: 'int8', ...(qdqModel !== undefined ? { qdqModel } : { scales: scales as ScaleMap }) }],
    pass,
  );
  return result;
}

/**
 * {@link evaluateQdq} for several Q/DQ models of the same FP32 model in one pass over `factory` (the FP32 model
 * runs once per batch). Returns one {@link Evaluation} per candidate, in order.
 */
export async function evaluateQdqModels(
  modelPath: string,
  factory: BatchFactory,
  candidates: readonly QdqCandidate[],
  options: EvaluatePassOptions = {},
): Promise<Evaluation[]> {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('evaluateQdqModels', options, PASS_KEYS);
  if (!Array.isArray(candidates) || candidates.length === 0)
    throw invalidOption('candidates', 'a non-empty array of { label, qdqModel | scales }', candidates);
  positive('maxBatches', options.maxBatches);
  positive('worstTensors', options.worstTensors, 0);
  positive('worstTensorBatches', options.worstTensorBatches);
  if (options.labels !== undefined && !(options.labels instanceof Map))
    throw invalidOption('labels', 'a Map of image file to class index', options.labels);
  const images = factory instanceof ImageBatchFactory ? factory : undefined;
  if (options.labels !== undefined && !images)
    throw invalidOption(
      'labels',
      'to be used with an ImageBatchFactory (it tells which file each sample is)',
      'another BatchFactory',
      'range',
    );
  const worstCount = options.worstTensors ?? 10;
  const worstBatches = worstCount > 0 ? (options.worstTensorBatches ?? 2) : 0;
  const started = Date.now();
  const model = await loadOnnxModel(modelPath);
  const declaredInputs = modelInputs(model.proto);
  const declared = declaredInputs.map((i) => i.name);
  const given = factory.inputs.map((i) => i.name);
  for (const name of declared) {
    if (!given.includes(name)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The data has no input "${name}" of ${modelPath}; it gives ${given.map((g) => `"${g}"`).join(', ')} and the model's inputs are ${declared.map((d) => `"${d}"`).join(', ')}`,
        {
          details: { input: name, inputs: declared, given },
        },
      );
    }
  }

  const prepared: Prepared[] = [];
  for (const c of candidates) prepared.push(await prepareCandidate(modelPath, c, options.qdqOptions ?? {}));
  // Worst tensors: the quantized activations of each candidate, read from extra outputs of extra sessions (extra
  // outputs stop ONNX Runtime from fusing those Q/DQ pairs, so the main sessions stay unchanged).
  const pairs = prepared.map((p) =>
    worstBatches > 0 ? activationQdqPairs(p.proto) : new Map<string, { dq: string; scale: number }>(),
  );
  const inputSet = new Set(declared);
  const fp32Extra = [...new Set(pairs.flatMap((m) => [...m.keys()]))].filter((t) => !inputSet.has(t));

  const sessions: ort.InferenceSession[] = [];
  // FP32 and Q/DQ models run at the same optimization level (createQdqSession's: Q/DQ pairs computed in float,
  // no int8 kernels), so that the differences measured are quantization's alone, not fusions' rounding.
  const open = async (bytes: Uint8Array, source: string, proto?: onnx.ModelProto): Promise<ort.InferenceSession> => {
    const s = await createQdqSession(bytes, { source, ...(proto ? { proto } : {}) });
    sessions.push(s);
    return s;
  };
  try {
    const fp32 = await open(encodeOnnxModel(model.proto), modelPath, model.proto);
    const fp32Diag =
      fp32Extra.length > 0
        ? await open(withOutputs(model.proto, fp32Extra), `${modelPath} (with activations as outputs)`)
        : undefined;
    const int8: ort.InferenceSession[] = [];
    const int8Diag: Array<ort.InferenceSession | undefined> = [];
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i];
      int8.push(await open(p.bytes, `the Q/DQ model (${p.label})`, p.proto));
      const extra = [...pairs[i].entries()].flatMap(([t, { dq }]) => (inputSet.has(t) ? [dq] : [t, dq]));
      int8Diag.push(
        extra.length > 0
          ? await open(withOutputs(p.proto, extra), `the Q/DQ model (${p.label}) with activations as outputs`)
          : undefined,
      );
    }
    const outputs = fp32.outputNames.filter((n) => int8.every((s) => s.outputNames.includes(n)));
    if (outputs.length === 0)
      throw new TrtCalibratorError(
        'ERR_MODEL',
        'The Q/DQ model has none of the FP32 model outputs; is it the same model?',
      );
    const acc = prepared.map(() => new Map(outputs.map((n) => [n, new Accumulator()])));
    const tensorAcc = prepared.map((_, i) => new Map([...pairs[i].keys()].map((t) => [t, new TensorAccumulator()])));
    const labelAcc = prepared.map(() => ({ fp32: 0, int8: 0, samples: 0 }));
    let labelOutput: string | undefined;
    const buffers: BatchBuffers = Object.fromEntries(factory.inputs.map((s) => [s.name, allocate(s)]));
    const batchRows = factory.inputs[0]?.shape[0] ?? 1;
    let batches = 0;
    let samples = 0;
    for (;;) {
      if (options.signal?.aborted)
        throw new TrtCalibratorError('ERR_ABORTED', 'Evaluation aborted', { cause: options.signal.reason });
      if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
      const usedBefore = images?.stats.used ?? 0;
      const more = await factory.fill(buffers, batches);
      if (!more) break;
      // Rows that are real samples: an image factory pads a last partial batch with repeats, which are not counted.
      const real = images ? images.stats.used - usedBefore : batchRows;
      const feeds: Record<string, ort.Tensor> = {};
      for (const spec of factory.inputs) {
        if (inputSet.has(spec.name))
          feeds[spec.name] = new ort.Tensor(ORT_TYPES[spec.dtype], buffers[spec.name] as never, [...spec.shape]);
      }
      const diag = batches < worstBatches;
      const ra =
        diag && fp32Diag ? await fp32Diag.run(feeds, [...outputs, ...fp32Extra]) : await fp32.run(feeds, outputs);
      const files = images ? images.lastBatchMeta.map((m) => m.file) : [];
      for (let c = 0; c < prepared.length; c++) {
        const rb = await int8[c].run(feeds, outputs);
        for (const name of outputs) {
          const a = ra[name];
          const b = rb[name];
          if (a.type !== 'float32' || b.type !== 'float32') continue;
          const [fa, fb, dims] = realRows(a.data as Float32Array, b.data as Float32Array, a.dims, batchRows, real);
          (acc[c].get(name) as Accumulator).add(fa, fb, dims);
          if (options.labels && labelOutput === undefined && isClassifier(dims)) labelOutput = name;
          if (options.labels && name === labelOutput) {
            const classes = dims[1];
            for (let s = 0; s < dims[0]; s++) {
              const label = options.labels.get(files[s]);
              if (label === undefined) continue;
              labelAcc[c].samples++;
              if (argmax(fa, s * classes, classes) === label) labelAcc[c].fp32++;
              if (argmax(fb, s * classes, classes) === label) labelAcc[c].int8++;
            }
          }
        }
        const d = int8Diag[c];
        if (diag && d) {
          const names = [...pairs[c].entries()].flatMap(([t, { dq }]) => (inputSet.has(t) ? [dq] : [t, dq]));
          const rd = await d.run(feeds, names);
          for (const [t, { dq, scale }] of pairs[c]) {
            const ref = inputSet.has(t) ? feeds[t] : ra[t];
            const raw = inputSet.has(t) ? feeds[t] : rd[t];
            if (!ref || !raw || ref.type !== 'float32' || raw.type !== 'float32' || rd[dq]?.type !== 'float32')
              continue;
            (tensorAcc[c].get(t) as TensorAccumulator).add(
              ref.data as Float32Array,
              rd[dq].data as Float32Array,
              raw.data as Float32Array,
              127 * scale,
            );
          }
        }
      }
      batches++;
      samples += real;
      options.onProgress?.(batches);
      // Let timers and I/O run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (batches === 0) throw new TrtCalibratorError('ERR_NO_DATA', 'The data source delivered no batch to evaluate');
    const ms = Date.now() - started;
    return prepared.map((p, c) => {
      const results = outputs
        .filter((n) => (acc[c].get(n) as Accumulator).elements > 0)
        .map((n) => (acc[c].get(n) as Accumulator).result(n));
      const worst = [...tensorAcc[c].entries()]
        .filter(([, a]) => a.count > 0)
        .map(([t, a]) => a.result(t))
        .sort((x, y) => y.error - x.error)
        .slice(0, worstCount);
      const l = labelAcc[c];
      return {
        outputs: results,
        batches,
        samples,
        ...(p.qdq ? { qdq: p.qdq } : {}),
        ...(worstBatches > 0 ? { worstTensors: worst } : {}),
        ...(options.labels && labelOutput && l.samples > 0
          ? {
              labelAccuracy: {
                fp32: l.fp32 / l.samples,
                int8: l.int8 / l.samples,
                samples: l.samples,
                output: labelOutput,
              },
            }
          : {}),
        ms,
      };
    });
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** The first `real` rows of outputs whose leading dimension is the batch (padding repeats dropped). */
function realRows(
  a: Float32Array,
  b: Float32Array,
  dims: readonly number[],
  batchRows: number,
  real: number,
): [Float32Array, Float32Array, number[]] {
  if (real >= batchRows || dims.length === 0 || dims[0] !== batchRows || a.length !== b.length)
    return [a, b, [...dims]];
  const per = a.length / batchRows;
  return [a.subarray(0, real * per), b.subarray(0, real * per), [real, ...dims.slice(1)]];
}

/** Images sorted into one subdirectory per class. */
export interface LabelledImages {
  /** Every image file, in class order then byte order. */
  files: string[];
  /** Class index by file. */
  labels: Map<string, number>;
  /** The class names (subdirectory names), index = class. */
  classes: string[];
}

/**
 * Labels from an image directory holding one subdirectory per class: class index = position of the
 * subdirectory in byte-sorted order (as torchvision's ImageFolder; name them `0_cat`, `1_dog`… to fix the
 * order). Returns the image files (for an {@link ImageBatchFactory}'s `images`), the labels by file, and the
 * class names. Throws ERR_NO_DATA when there are no class subdirectories or no images in them.
 * @param extensions Defaults to {@link DEFAULT_IMAGE_EXTENSIONS}.
 */
export async function labelsFromDirectory(
  dir: string,
  extensions: readonly string[] = DEFAULT_IMAGE_EXTENSIONS,
): Promise<LabelledImages> {
  if (typeof dir !== 'string' || dir === '') throw invalidOption('dir', 'a directory path', dir);
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new TrtCalibratorError(
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_NO_DATA' : 'ERR_IO',
      `Cannot read the labelled image directory ${dir}: ${(err as Error).message}`,
      { cause: err, details: { path: dir } },
    );
  }
  const classes = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (classes.length === 0)
    throw new TrtCalibratorError(
      'ERR_NO_DATA',
      `${dir} has no class subdirectories; with labels, put the images of class k in the k-th subdirectory (sorted by name)`,
      { details: { path: dir } },
    );
  const exts = extensions.map((e) => e.toLowerCase());
  const files: string[] = [];
  const labels = new Map<string, number>();
  for (let k = 0; k < classes.length; k++) {
    const sub = path.join(dir, classes[k]);
    for (const e of await fsp.readdir(sub, { withFileTypes: true })) {
      if (!e.isFile() || !exts.includes(path.extname(e.name).toLowerCase())) continue;
      const file = path.join(sub, e.name);
      files.push(file);
      labels.set(file, k);
    }
  }
  if (files.length === 0)
    throw new TrtCalibratorError(
      'ERR_NO_DATA',
      `No images in the class subdirectories of ${dir} (${classes.join(', ')})`,
      { details: { path: dir } },
    );
  return { files, labels, classes };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;

/** Formats an {@link Evaluation} as the table the CLI prints. */
export function formatEvaluation(e: Evaluation): string {
  const lines = [
    `FP32 vs INT8 (Q/DQ) on ${e.samples} samples in ${e.batches} batches, ONNX Runtime CPU, ${(e.ms / 1000).toFixed(1)} s`,
  ];
  for (const o of e.outputs) {
    lines.push(`  ${o.name}`);
    if (o.top1Agreement !== undefined)
      lines.push(
        `    top-1 agreement   ${pct(o.top1Agreement)} (${Math.round(o.top1Agreement * (o.samples ?? 0))}/${o.samples})`,
      );
    lines.push(`    cosine similarity ${o.cosine.toFixed(6)}`);
    lines.push(
      `    max abs error     ${o.maxAbsError.toPrecision(4)} (max |FP32| ${o.maxAbsReference.toPrecision(4)})`,
    );
    lines.push(`    mean abs error    ${o.meanAbsError.toPrecision(4)}`);
  }
  if (e.labelAccuracy) {
    const l = e.labelAccuracy;
    lines.push(
      `  top-1 accuracy on ${l.samples} labelled samples (${l.output}): FP32 ${pct(l.fp32)}, INT8 ${pct(l.int8)}`,
    );
  }
  if (e.worstTensors && e.worstTensors.length > 0) {
    lines.push(
      '  quantized tensors furthest from FP32 (relative L2 error; own = its Q/DQ round trip; clipped = share beyond ±amax)',
    );
    const width = Math.min(48, Math.max(...e.worstTensors.map((t) => t.name.length)));
    for (const t of e.worstTensors)
      lines.push(
        `    ${t.name.padEnd(width)}  ${t.error.toFixed(4)}  own ${t.ownError.toFixed(4)}  clipped ${pct(t.clipped)}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
