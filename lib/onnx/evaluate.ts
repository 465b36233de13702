/**
 * Accuracy check of a Q/DQ (INT8) model against its FP32 original: both run in ONNX Runtime (CPU; the Q/DQ model
 * with ONNX Runtime's INT8 kernels where it fuses them) on the same batches, and every model output is compared.
 */
import * as ort from 'onnxruntime-node';
import { DTYPE_BYTES, elementCount, type BatchFactory, type BatchBuffers, type InputSpec } from '../batch/factory';
import { invalidOption, rejectUnknownOptions, TrtCalibratorError } from '../errors';
import { encodeOnnxModel, loadOnnxModel, modelInputs } from './model';
import { buildQdqModel, type QdqOptions, type QdqResult, type ScaleMap } from './qdq';
import { createCpuSession } from './session';
import { readFileOrThrow } from '../util/fs';

/** Options of {@link evaluateQdq}. Give exactly one of `qdqModel` and `scales`. */
export interface EvaluateOptions {
  /** The Q/DQ model to check: a path or its bytes. Defaults to undefined (then `scales` builds it). */
  qdqModel?: string | Uint8Array;
  /** Activation scales (a cache's entries) to build the Q/DQ model from. Defaults to undefined. */
  scales?: ScaleMap;
  /** Placement options when building from `scales`. Defaults to {}. */
  qdqOptions?: QdqOptions;
  /** Stop after this many batches. Defaults to every batch the factory delivers. */
  maxBatches?: number;
  /** Aborts between batches; the promise rejects with ERR_ABORTED. Defaults to none. */
  signal?: AbortSignal;
  /** Called after each batch with the number of batches done. Defaults to none. */
  onProgress?: (batchesDone: number) => void;
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

/** What {@link evaluateQdq} returns. */
export interface Evaluation {
  /** One entry per model output, in graph order. */
  readonly outputs: readonly OutputAgreement[];
  /** Batches evaluated. */
  readonly batches: number;
  /** What the Q/DQ export did, when the model was built from `scales`. */
  readonly qdq?: QdqResult;
  /** Wall time in milliseconds. */
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
    if (dims.length === 2 && dims[1] >= 2) {
      const classes = dims[1];
      for (let s = 0; s < dims[0]; s++) {
        this.samples++;
        if (argmax(a, s * classes, classes) === argmax(b, s * classes, classes)) this.agree++;
      }
    }
  }

  result(name: string): OutputAgreement {
    const cosine = this.normA === 0 && this.normB === 0 ? 1 : this.normA === 0 || this.normB === 0 ? 0 : this.dot / Math.sqrt(this.normA * this.normB);
    const base = { name, elements: this.elements, cosine, maxAbsError: this.maxAbs, meanAbsError: this.elements ? this.sumAbs / this.elements : 0, maxAbsReference: this.maxRef };
    return this.samples > 0 ? { ...base, top1Agreement: this.agree / this.samples, samples: this.samples } : base;
  }
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

const ORT_TYPES: Record<string, ort.Tensor.Type> = { float32: 'float32', float16: 'float16', int32: 'int32', int64: 'int64', int8: 'int8', uint8: 'uint8', bool: 'bool' };

/**
 * Runs the FP32 model at `modelPath` and its Q/DQ version on every batch of `factory` and compares each output:
 * cosine similarity, max/mean absolute error, and top-1 agreement for classifier outputs. The factory is not
 * closed (the caller owns it). Errors: ERR_INPUT_NAME when the factory's inputs do not match the model's,
 * ERR_NO_DATA when the factory delivers no batch, ERR_MODEL, ERR_ABORTED, ERR_INVALID_OPTION.
 */
export async function evaluateQdq(modelPath: string, factory: BatchFactory, options: EvaluateOptions): Promise<Evaluation> {
  rejectUnknownOptions('evaluateQdq', options, ['qdqModel', 'scales', 'qdqOptions', 'maxBatches', 'signal', 'onProgress']);
  if ((options.qdqModel === undefined) === (options.scales === undefined)) throw invalidOption('qdqModel/scales', 'exactly one of qdqModel and scales', options.qdqModel ?? options.scales);
  if (options.maxBatches !== undefined && (!Number.isSafeInteger(options.maxBatches) || options.maxBatches < 1)) throw invalidOption('maxBatches', 'a positive integer', options.maxBatches, 'range');
  const started = Date.now();
  const model = await loadOnnxModel(modelPath);
  const declared = modelInputs(model.proto).map((i) => i.name);
  const given = factory.inputs.map((i) => i.name);
  for (const name of declared) {
    if (!given.includes(name)) {
      throw new TrtCalibratorError('ERR_INPUT_NAME', `The data has no input "${name}" of ${modelPath}; it gives ${given.map((g) => `"${g}"`).join(', ')} and the model's inputs are ${declared.map((d) => `"${d}"`).join(', ')}`, {
        details: { input: name, inputs: declared, given },
      });
    }
  }

  let qdq: QdqResult | undefined;
  let qdqBytes: Uint8Array;
  if (options.scales !== undefined) {
    const built = await buildQdqModel(modelPath, options.scales, options.qdqOptions ?? {});
    qdqBytes = built.bytes;
    qdq = built.result;
  } else if (typeof options.qdqModel === 'string') {
    qdqBytes = await readFileOrThrow(options.qdqModel, 'Q/DQ model');
  } else if (options.qdqModel instanceof Uint8Array) {
    qdqBytes = options.qdqModel;
  } else {
    throw invalidOption('qdqModel', 'a path or a Uint8Array', options.qdqModel);
  }

  const fp32 = await createCpuSession(encodeOnnxModel(model.proto), { proto: model.proto, source: modelPath });
  const int8 = await createCpuSession(qdqBytes, { source: 'the Q/DQ model' });
  try {
    const outputs = fp32.outputNames.filter((n) => int8.outputNames.includes(n));
    if (outputs.length === 0) throw new TrtCalibratorError('ERR_MODEL', 'The Q/DQ model has none of the FP32 model outputs; is it the same model?');
    const acc = new Map(outputs.map((n) => [n, new Accumulator()]));
    const buffers: BatchBuffers = Object.fromEntries(factory.inputs.map((s) => [s.name, allocate(s)]));
    let batches = 0;
    for (;;) {
      if (options.signal?.aborted) throw new TrtCalibratorError('ERR_ABORTED', 'Evaluation aborted', { cause: options.signal.reason });
      if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
      const more = await factory.fill(buffers, batches);
      if (!more) break;
      const feeds: Record<string, ort.Tensor> = {};
      for (const spec of factory.inputs) {
        if (declared.includes(spec.name)) feeds[spec.name] = new ort.Tensor(ORT_TYPES[spec.dtype], buffers[spec.name] as never, [...spec.shape]);
      }
      const [ra, rb] = [await fp32.run(feeds, outputs), await int8.run(feeds, outputs)];
      for (const name of outputs) {
        const a = ra[name];
        const b = rb[name];
        if (a.type !== 'float32' || b.type !== 'float32') continue;
        (acc.get(name) as Accumulator).add(a.data as Float32Array, b.data as Float32Array, a.dims);
      }
      batches++;
      options.onProgress?.(batches);
      // Let timers and I/O run between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (batches === 0) throw new TrtCalibratorError('ERR_NO_DATA', 'The data source delivered no batch to evaluate');
    const results = outputs.filter((n) => (acc.get(n) as Accumulator).elements > 0).map((n) => (acc.get(n) as Accumulator).result(n));
    return { outputs: results, batches, ...(qdq ? { qdq } : {}), ms: Date.now() - started };
  } finally {
    await fp32.release();
    await int8.release();
  }
}

/** Formats an {@link Evaluation} as the table the CLI prints. */
export function formatEvaluation(e: Evaluation): string {
  const lines = [`FP32 vs INT8 (Q/DQ) on ${e.batches} batches, ONNX Runtime CPU, ${(e.ms / 1000).toFixed(1)} s`];
  for (const o of e.outputs) {
    lines.push(`  ${o.name}`);
    if (o.top1Agreement !== undefined) lines.push(`    top-1 agreement   ${(o.top1Agreement * 100).toFixed(2)} % (${Math.round(o.top1Agreement * (o.samples ?? 0))}/${o.samples})`);
    lines.push(`    cosine similarity ${o.cosine.toFixed(6)}`);
    lines.push(`    max abs error     ${o.maxAbsError.toPrecision(4)} (max |FP32| ${o.maxAbsReference.toPrecision(4)})`);
    lines.push(`    mean abs error    ${o.meanAbsError.toPrecision(4)}`);
  }
  return `${lines.join('\n')}\n`;
}
