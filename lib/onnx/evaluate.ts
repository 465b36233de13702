/**
 * Accuracy check of a Q/DQ (INT8) model against its FP32 original: both run in ONNX Runtime (CPU, at the level of
 * createQdqSession: Q/DQ pairs computed in float) on the same batches, and every model output is compared.
 * Several Q/DQ models (one per threshold algorithm) can be checked in one pass over the data
 * ({@link evaluateQdqModels}): the FP32 model runs once per batch.
 *
 * Besides the outputs it measures, on the first few batches, which quantized tensors differ most from their FP32
 * values (`worstTensors`), and with labels (one image directory per class) the top-1 accuracy of both models.
 *
 * Memory: every number is a running sum (per output, per quantized tensor) updated after each ONNX Runtime run,
 * whose tensors are dropped at once; nothing outlives its run. Runs are of one sample each (when the batch
 * dimension is dynamic), since the worst-tensor measurement fetches every quantized tensor: 31 MB per image of the
 * PaddleOCR detector at 3×320×320 from the FP32 model, 62 MB from the Q/DQ model with its DQ outputs. ONNX
 * Runtime's arenas, which keep the size of their largest run, stay that small too.
 *
 * Time: each model runs in a worker thread of its own (lib/onnx/evaluate-worker.ts), the models side by side.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { DTYPE_BYTES, elementCount, type BatchFactory, type InputSpec } from '../batch/factory';
import { DEFAULT_IMAGE_EXTENSIONS, ImageBatchFactory } from '../batch/image-factory';
import { RUN_BUSY, RUN_EXITING, RUN_IDLE } from '../backends/builtin/protocol';
import { invalidOption, rejectUnknownOptions, TrtCalibratorError, type ErrorCode } from '../errors';
import { decodeOnnxModel, encodeOnnxModel, int64ToNumber, loadOnnxModel, modelInputs } from './model';
import { buildQdqModel, type QdqOptions, type QdqResult, type ScaleMap } from './qdq';
import { readFileOrThrow } from '../util/fs';
import { formatColumns, type ColumnAlign } from '../util/columns';

export { formatColumns, type ColumnAlign } from '../util/columns';
import { terminateWorker, workerScript } from '../util/worker-script';
import type {
  EvaluateWorkerError,
  EvaluateWorkerInit,
  EvaluateWorkerReply,
  EvaluateWorkerRequest,
  WorkerTensor,
} from './evaluate-worker';

/** Options shared by {@link evaluateQdq} and {@link evaluateQdqModels}. */
export interface EvaluatePassOptions {
  /** Placement options when building from `scales`. Defaults to {}. */
  qdqOptions?: QdqOptions;
  /** Stop after this many batches. Defaults to every batch the factory delivers. */
  maxBatches?: number;
  /** Number of quantized tensors to report in `worstTensors` (0: skip the measurement). Defaults to 10. */
  worstTensors?: number;
  /** Batches on which `worstTensors` is measured (the sessions then also return every quantized tensor). Defaults to 2. */
  worstTensorBatches?: number;
  /**
   * Class index per image file (as the factory lists it), for top-1 accuracy of both models: see
   * {@link labelsFromDirectory}. Needs an {@link ImageBatchFactory} (it says which files each batch holds) and a
   * classifier output. Defaults to none.
   */
  labels?: ReadonlyMap<string, number>;
  /** Aborts between ONNX Runtime runs; the promise rejects with ERR_ABORTED. Defaults to none. */
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
  /** Samples `worstTensors` was measured on (those of the first `worstTensorBatches` batches). */
  readonly worstTensorSamples?: number;
  /** Top-1 accuracy of both models, when `labels` were given. */
  readonly labelAccuracy?: LabelAccuracy;
  /** Wall time in milliseconds (of the whole pass, shared by every model of {@link evaluateQdqModels}). */
  readonly ms: number;
}

/**
 * Running sums of one output over every run: all a metric needs, so no run's values are kept. Sums are float64,
 * each run's in one sequential pass added to the total.
 */
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

/** Running sums for one tensor of the worst-tensor measurement (float64, per run as {@link Accumulator}). */
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

type TypedArray = Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

function allocate(spec: InputSpec): TypedArray {
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

/** Runs sent to the workers before the oldest one's values are added up. */
const RUNS_IN_FLIGHT = 2;

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

/** What the worst-tensor measurement reads from each model (all empty when it is off). */
interface TensorPlan {
  /** Per candidate: its quantized activations that the FP32 model has too → their DQ output and scale. */
  pairs: Array<Map<string, { dq: string; scale: number }>>;
  /** Computed tensors fetched from the FP32 model (graph inputs come from the feeds). */
  fp32: string[];
  /** Per candidate: tensors fetched from its Q/DQ model: each computed quantized tensor and every DQ output. */
  int8: string[][];
}

/**
 * The quantized tensors to measure: the per-tensor pairs of each Q/DQ model whose tensor the FP32 model also has
 * (a graph input, or a node output; a tensor renamed by another tool has no FP32 value to compare with).
 */
function planTensors(fp32: onnx.ModelProto, prepared: readonly Prepared[], inputs: ReadonlySet<string>): TensorPlan {
  const computed = new Set((fp32.graph?.node ?? []).flatMap((n) => n.output ?? []));
  const pairs = prepared.map(
    (p) => new Map([...activationQdqPairs(p.proto)].filter(([t]) => inputs.has(t) || computed.has(t))),
  );
  return {
    pairs,
    fp32: [...new Set(pairs.flatMap((m) => [...m.keys()]))].filter((t) => !inputs.has(t)),
    int8: pairs.map((m) => [...m].flatMap(([t, { dq }]) => (inputs.has(t) ? [dq] : [t, dq]))),
  };
}

/** One tensor of a run's results on this thread. */
interface RunTensor {
  type: string;
  dims: number[];
  /** Float32 values; absent for other element types. */
  data?: Float32Array;
}

/** `state` words of the workers whose process-exit wait is armed (one 'exit' listener serves them all). */
const liveWorkers = new Set<Int32Array>();

/**
 * process.exit() (here or in a worker_threads parent) terminates the workers. If that happens while
 * `session.run` executes in one, onnxruntime-node 1.30 aborts the process; so on exit wait (synchronously, as
 * 'exit' handlers must) until each current run is over and keep new ones from starting. Bounded at 60 s.
 */
function waitForRunsOnExit(): void {
  const deadline = Date.now() + 60000;
  for (const state of liveWorkers) {
    while (Atomics.compareExchange(state, 0, RUN_IDLE, RUN_EXITING) === RUN_BUSY && Date.now() < deadline)
      Atomics.wait(state, 0, RUN_BUSY, 1000);
  }
}

function workerError(err: EvaluateWorkerError, what: string): TrtCalibratorError {
  const code = (err.code?.startsWith('ERR_') ? err.code : 'ERR_MODEL') as ErrorCode;
  const message = err.code ? err.message : `ONNX Runtime failed to run ${what}: ${err.message}`;
  return new TrtCalibratorError(code, message, { details: err.details });
}

/**
 * One ONNX Runtime session in its own worker thread (lib/onnx/evaluate-worker.ts).
 *
 * Threading / lifetime: {@link SessionWorker.start} starts the worker and resolves once its session exists, or
 * rejects with the worker's error (ERR_MODEL naming node and operator) after ending it. {@link SessionWorker.close}
 * ends it; evaluateQdqModels always calls it, success or not. Requests are answered in order; a worker that
 * crashes or exits rejects every pending request. A worker is never terminated inside `session.run`
 * (onnxruntime-node 1.30 then aborts the process): close() waits for the runs in flight, and process exit waits
 * for them through {@link waitForRunsOnExit}.
 */
class SessionWorker {
  private readonly pending = new Map<
    number,
    { resolve: (r: EvaluateWorkerReply) => void; reject: (e: Error) => void }
  >();
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;
  private failed: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly state: Int32Array,
    /** The model's output names, as ONNX Runtime reports them. */
    readonly outputNames: readonly string[],
    private readonly source: string,
  ) {
    worker.on('message', (msg: EvaluateWorkerReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(workerError(msg.error, source));
      else p.resolve(msg);
    });
    const failAll = (err: Error): void => {
      this.failed ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) =>
      failAll(
        new TrtCalibratorError('ERR_MODEL', `The ONNX Runtime worker of ${source} crashed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    worker.on('exit', (code) =>
      failAll(new TrtCalibratorError('ERR_INTERNAL', `The ONNX Runtime worker of ${source} exited (code ${code})`)),
    );
  }

  /**
   * Starts a worker holding a session of `model.bytes`, with `model.extra` as added graph outputs, on `threads`
   * ONNX Runtime threads.
   */
  static async start(
    model: { bytes: Uint8Array; source: string; extra: readonly string[] },
    threads: number,
  ): Promise<SessionWorker> {
    const source = model.source;
    const init: EvaluateWorkerInit = {
      bytes: model.bytes,
      extraOutputs: [...model.extra],
      source,
      threads,
      state: new SharedArrayBuffer(4),
    };
    const state = new Int32Array(init.state);
    if (liveWorkers.size === 0) process.on('exit', waitForRunsOnExit);
    liveWorkers.add(state);
    const worker = new Worker(workerScript('onnx/evaluate-worker'), { workerData: init });
    const forget = (): void => {
      liveWorkers.delete(state);
      if (liveWorkers.size === 0) process.off('exit', waitForRunsOnExit);
    };
    let ready: EvaluateWorkerReply & { type: 'ready' };
    try {
      ready = await new Promise((resolve, reject) => {
        const cleanup = (): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        const onMessage = (msg: EvaluateWorkerReply): void => {
          if (msg.type !== 'ready') return;
          cleanup();
          resolve(msg);
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(
            new TrtCalibratorError(
              'ERR_MODEL',
              `The ONNX Runtime worker of ${source} failed to start: ${err.message}`,
              {
                cause: err,
              },
            ),
          );
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(
            new TrtCalibratorError(
              'ERR_INTERNAL',
              `The ONNX Runtime worker of ${source} exited during start (code ${code})`,
            ),
          );
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (err) {
      forget();
      await terminateWorker(worker);
      throw err;
    }
    if (ready.error) {
      forget();
      await terminateWorker(worker);
      throw workerError(ready.error, source);
    }
    return new SessionWorker(worker, state, ready.outputNames, source);
  }

  private request(message: EvaluateWorkerRequest, transfer: ArrayBuffer[] = []): Promise<EvaluateWorkerReply> {
    if (this.failed) return Promise.reject(this.failed);
    const reply = new Promise<EvaluateWorkerReply>((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message, transfer);
    });
    const settled: Promise<unknown> = reply.then(
      () => this.inFlight.delete(settled),
      () => this.inFlight.delete(settled),
    );
    this.inFlight.add(settled);
    return reply;
  }

  /** Runs the session on `feeds` (their buffers are transferred: the caller gives up its copies). */
  async run(feeds: WorkerTensor[], fetch: readonly string[]): Promise<Map<string, RunTensor>> {
    const transfer = feeds.flatMap((f) => (f.data ? [f.data] : []));
    const reply = await this.request({ type: 'run', id: this.nextId++, feeds, fetch: [...fetch] }, transfer);
    if (reply.type !== 'result')
      throw new TrtCalibratorError('ERR_INTERNAL', `Unexpected ${reply.type} reply from the worker of ${this.source}`);
    return new Map(
      reply.outputs.map((o) => [
        o.name,
        { type: o.type, dims: o.dims, ...(o.data ? { data: new Float32Array(o.data) } : {}) },
      ]),
    );
  }

  /** Releases the session and ends the worker once the runs in flight are over. Safe to call twice. */
  async close(): Promise<void> {
    if (!liveWorkers.has(this.state)) return;
    await Promise.allSettled([...this.inFlight]);
    if (!this.failed) await this.request({ type: 'close', id: this.nextId++ }).catch(() => undefined);
    this.failed ??= new TrtCalibratorError('ERR_INTERNAL', `The worker of ${this.source} is closed`);
    liveWorkers.delete(this.state);
    if (liveWorkers.size === 0) process.off('exit', waitForRunsOnExit);
    await terminateWorker(this.worker);
  }
}

/** The sessions of one evaluation: the FP32 model's and one per Q/DQ model, each in its worker. */
interface Sessions {
  fp32: SessionWorker;
  int8: SessionWorker[];
  /** The FP32 model's outputs every Q/DQ model also has, in graph order. */
  outputs: string[];
}

/**
 * Starts one worker per model, at once (the sessions are created in parallel). Both kinds of model run at the
 * level of createQdqSession (Q/DQ pairs computed in float, no int8 kernels) so that the differences measured are
 * quantization's alone, not fusions' rounding. With tensors to measure, each model's graph also outputs them;
 * ordinary runs fetch only the model outputs from the same session (an extra graph output can at most keep a
 * node from being fused with the next one; on the PaddleOCR models every output is bit-identical either way).
 * ONNX Runtime gets the cores divided among the models, at least one thread each: one each on 2 cores, where
 * the models then run side by side. Every worker started is pushed onto `started` (the caller closes them).
 */
async function startSessions(
  modelPath: string,
  model: onnx.ModelProto,
  prepared: readonly Prepared[],
  plan: TensorPlan,
  started: SessionWorker[],
): Promise<Sessions> {
  const threads = Math.max(1, Math.floor(os.availableParallelism() / (1 + prepared.length)));
  const models: Array<{ bytes: Uint8Array; source: string; extra: string[] }> = [
    {
      bytes: encodeOnnxModel(model),
      source: plan.fp32.length > 0 ? `${modelPath} (with activations as outputs)` : modelPath,
      extra: plan.fp32,
    },
    ...prepared.map((p, c) => ({
      bytes: p.bytes,
      source: `the Q/DQ model (${p.label})${plan.int8[c].length > 0 ? ' with activations as outputs' : ''}`,
      extra: plan.int8[c],
    })),
  ];
  const settled = await Promise.allSettled(models.map((m) => SessionWorker.start(m, threads)));
  for (const s of settled) if (s.status === 'fulfilled') started.push(s.value);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  const [fp32, ...int8] = started;
  const outputs = (model.graph?.output ?? [])
    .map((o) => o.name ?? '')
    .filter((n) => int8.every((s) => s.outputNames.includes(n)));
  if (outputs.length === 0)
    throw new TrtCalibratorError(
      'ERR_MODEL',
      'The Q/DQ model has none of the FP32 model outputs; is it the same model?',
    );
  return { fp32, int8, outputs };
}

/** Running sums of one candidate. */
interface CandidateSums {
  outputs: Map<string, Accumulator>;
  tensors: Map<string, TensorAccumulator>;
  labels: { fp32: number; int8: number; samples: number };
}

/** One ONNX Runtime run of every model: which rows of which batch, and its results once they are in. */
interface Run {
  /** Batch index. */
  batch: number;
  /** Whether this run ends its batch (progress is reported then). */
  last: boolean;
  /** Rows run. */
  count: number;
  /** Of them, the samples (the rest pads a last partial batch). */
  real: number;
  withTensors: boolean;
  /** The image file of each real row, for labels. */
  files: string[];
  /** The fed inputs, kept on this thread when a quantized tensor is a graph input. */
  feeds: Map<string, RunTensor>;
  /** FP32 results, then one per Q/DQ model. */
  results: Promise<Array<Map<string, RunTensor>>>;
}

/** Copies rows [start, start + count) of an input into a buffer of its own (to be transferred to a worker). */
function copyRows(spec: InputSpec, data: TypedArray, start: number, count: number): WorkerTensor {
  const perRow = data.length / spec.shape[0];
  const rows = data.slice(start * perRow, (start + count) * perRow);
  return {
    name: spec.name,
    type: ORT_TYPES[spec.dtype],
    dims: [count, ...spec.shape.slice(1)],
    data: rows.buffer as ArrayBuffer,
  };
}

/** The first `keep` rows of a tensor whose leading dimension is `rows` (padding repeats dropped); else all of it. */
function leadingRows(data: Float32Array, dims: readonly number[], rows: number, keep: number): Float32Array {
  if (keep >= rows || dims.length === 0 || dims[0] !== rows) return data;
  return data.subarray(0, keep * (data.length / rows));
}

/**
 * {@link evaluateQdq} for several Q/DQ models of the same FP32 model in one pass over `factory` (the FP32 model
 * runs once per sample). Returns one {@link Evaluation} per candidate, in order.
 *
 * Each model runs in a worker thread of its own, the models side by side. When every input's batch dimension is
 * dynamic, each ONNX Runtime run is one sample: memory stays that of one sample whatever the batch size (the
 * worst-tensor measurement fetches every quantized tensor, 93 MB per image of the PaddleOCR detector at 3×320×320),
 * and the numbers do not depend on the batch size (ONNX Runtime's convolutions can round differently with
 * several images per run). A fixed batch dimension runs whole batches. Two runs are in flight at a time, so the
 * next run computes while this thread adds up the last one's values.
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
  // Image decoding starts now, beside the model work below; a failure to list the images surfaces at the first fill.
  images?.open().catch(() => undefined);
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
  const inputSet = new Set(declared);
  const plan: TensorPlan =
    worstBatches > 0
      ? planTensors(model.proto, prepared, inputSet)
      : { pairs: prepared.map(() => new Map()), fp32: [], int8: prepared.map(() => []) };
  const measuring = plan.pairs.some((m) => m.size > 0);
  const inputPairs = plan.pairs.some((m) => [...m.keys()].some((t) => inputSet.has(t)));

  const fed = factory.inputs.filter((s) => inputSet.has(s.name));
  const batchRows = factory.inputs[0]?.shape[0] ?? 1;
  // Runs of one sample need a batch dimension the model leaves open (symbolic or unknown) on every input.
  const perSample =
    batchRows > 1 &&
    fed.every((s) => s.shape[0] === batchRows) &&
    declaredInputs.every((i) => i.dims === undefined || typeof i.dims[0] !== 'number' || i.dims[0] <= 0);

  const workers: SessionWorker[] = [];
  try {
    const { fp32, int8, outputs } = await startSessions(modelPath, model.proto, prepared, plan, workers);
    const sums: CandidateSums[] = prepared.map((_, c) => ({
      outputs: new Map(outputs.map((n) => [n, new Accumulator()])),
      tensors: new Map([...plan.pairs[c].keys()].map((t) => [t, new TensorAccumulator()])),
      labels: { fp32: 0, int8: 0, samples: 0 },
    }));
    let labelOutput: string | undefined;
    const buffers: Record<string, TypedArray> = Object.fromEntries(factory.inputs.map((s) => [s.name, allocate(s)]));

    /** Sends rows [start, start + count) of the batch in `buffers` to every model; the copies leave at once. */
    const dispatch = (batch: number, start: number, count: number, real: number, last: boolean): Run => {
      const withTensors = measuring && batch < worstBatches;
      const feeds = new Map<string, RunTensor>();
      if (withTensors && inputPairs)
        for (const spec of fed) {
          const t = copyRows(spec, buffers[spec.name], start, count);
          if (t.type === 'float32')
            feeds.set(spec.name, { type: t.type, dims: t.dims, data: new Float32Array(t.data as ArrayBuffer) });
        }
      const runs = [fp32, ...int8].map((worker, i) => {
        const fetch =
          i === 0
            ? withTensors
              ? [...new Set([...outputs, ...plan.fp32])]
              : outputs
            : withTensors
              ? [...new Set([...outputs, ...plan.int8[i - 1]])]
              : outputs;
        return worker.run(
          fed.map((spec) => copyRows(spec, buffers[spec.name], start, count)),
          fetch,
        );
      });
      const results = Promise.all(runs);
      // Rejections are seen when the run is awaited; until then they are not unhandled.
      results.catch(() => undefined);
      return {
        batch,
        last,
        count,
        real,
        withTensors,
        files: images ? images.lastBatchMeta.slice(start, start + real).map((m) => m.file) : [],
        feeds,
        results,
      };
    };

    /** Adds one run's values to the sums; they are dropped afterwards. */
    const accumulate = (run: Run, results: Array<Map<string, RunTensor>>): void => {
      const [ra, ...rbs] = results;
      for (let c = 0; c < prepared.length; c++) {
        const sum = sums[c];
        const rb = rbs[c];
        for (const name of outputs) {
          const a = ra.get(name);
          const b = rb.get(name);
          if (!a?.data || !b?.data) continue;
          const [fa, fb, dims] = realRows(a.data, b.data, a.dims, run.count, run.real);
          (sum.outputs.get(name) as Accumulator).add(fa, fb, dims);
          if (options.labels && labelOutput === undefined && isClassifier(dims)) labelOutput = name;
          if (options.labels && name === labelOutput) {
            const classes = dims[1];
            for (let s = 0; s < dims[0]; s++) {
              const label = options.labels.get(run.files[s]);
              if (label === undefined) continue;
              sum.labels.samples++;
              if (argmax(fa, s * classes, classes) === label) sum.labels.fp32++;
              if (argmax(fb, s * classes, classes) === label) sum.labels.int8++;
            }
          }
        }
        if (!run.withTensors) continue;
        for (const [t, { dq, scale }] of plan.pairs[c]) {
          const ref = inputSet.has(t) ? run.feeds.get(t) : ra.get(t);
          const raw = inputSet.has(t) ? run.feeds.get(t) : rb.get(t);
          const deq = rb.get(dq);
          if (!ref?.data || !raw?.data || !deq?.data) continue;
          (sum.tensors.get(t) as TensorAccumulator).add(
            leadingRows(ref.data, ref.dims, run.count, run.real),
            leadingRows(deq.data, deq.dims, run.count, run.real),
            leadingRows(raw.data, raw.dims, run.count, run.real),
            127 * scale,
          );
        }
      }
    };

    const inFlight: Run[] = [];
    const finishOldest = async (): Promise<void> => {
      const run = inFlight.shift() as Run;
      accumulate(run, await run.results);
      if (run.last) options.onProgress?.(run.batch + 1);
    };
    let batches = 0;
    let samples = 0;
    let tensorSamples = 0;
    const checkAbort = (): void => {
      if (options.signal?.aborted)
        throw new TrtCalibratorError('ERR_ABORTED', 'Evaluation aborted', { cause: options.signal.reason });
    };
    try {
      for (;;) {
        checkAbort();
        if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
        const usedBefore = images?.stats.used ?? 0;
        const more = await factory.fill(buffers, batches);
        if (!more) break;
        // Rows that are real samples: an image factory pads a last partial batch with repeats, which are neither
        // counted nor, in runs of one sample, run.
        const real = images ? images.stats.used - usedBefore : batchRows;
        const slices: Array<[number, number]> = perSample
          ? Array.from({ length: real }, (_, s): [number, number] => [s, 1])
          : [[0, batchRows]];
        for (let i = 0; i < slices.length; i++) {
          const [start, count] = slices[i];
          if (i > 0) checkAbort();
          inFlight.push(dispatch(batches, start, count, perSample ? count : real, i === slices.length - 1));
          while (inFlight.length >= RUNS_IN_FLIGHT) await finishOldest();
        }
        if (measuring && batches < worstBatches) tensorSamples += real;
        batches++;
        samples += real;
      }
      while (inFlight.length > 0) await finishOldest();
    } finally {
      // Runs still in flight after an error or abort end before the workers do (close() waits for them).
      for (const run of inFlight) await run.results.catch(() => undefined);
    }
    if (batches === 0) throw new TrtCalibratorError('ERR_NO_DATA', 'The data source delivered no batch to evaluate');
    const ms = Date.now() - started;
    return prepared.map((p, c) => {
      const sum = sums[c];
      const results = outputs
        .filter((n) => (sum.outputs.get(n) as Accumulator).elements > 0)
        .map((n) => (sum.outputs.get(n) as Accumulator).result(n));
      const worst = [...sum.tensors.entries()]
        .filter(([, a]) => a.count > 0)
        .map(([t, a]) => a.result(t))
        .sort((x, y) => y.error - x.error)
        .slice(0, worstCount);
      const l = sum.labels;
      return {
        outputs: results,
        batches,
        samples,
        ...(p.qdq ? { qdq: p.qdq } : {}),
        ...(worstBatches > 0 ? { worstTensors: worst, worstTensorSamples: tensorSamples } : {}),
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
    for (const w of workers) await w.close();
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

/**
 * The worst-tensor table of {@link formatEvaluation} (tensor, error, own, clipped), one line per tensor after a
 * header line, prefixed with `indent`.
 */
export function formatTensorErrors(tensors: readonly TensorError[], indent = '  '): string[] {
  return formatColumns(
    [
      ['tensor', 'error', 'own', 'clipped'],
      ...tensors.map((t) => [t.name, t.error.toFixed(4), t.ownError.toFixed(4), pct(t.clipped)]),
    ],
    ['left', 'right', 'right', 'right'],
    indent,
  );
}

/** What {@link evaluationGuide} covers. */
export interface EvaluationGuideOptions {
  /** Explain top-1 agreement (there is a classifier output). Defaults to true. */
  top1?: boolean;
  /** Explain the worst-tensor columns. Defaults to true. */
  tensors?: boolean;
  /** Say how to compare the algorithms (not needed under a comparison). Defaults to true. */
  compare?: boolean;
}

/**
 * A few lines on reading an evaluation: what cosine, top-1 agreement and max error mean, rough thresholds for
 * "fine" and "look closer", and when to try another threshold algorithm. Rules of thumb, not guarantees: the
 * task's own metric on its own data decides.
 */
export function evaluationGuide(options: EvaluationGuideOptions = {}): string[] {
  const lines = [
    'reading it (rules of thumb; the task metric on real data decides):',
    '  cosine           all output values as one vector, 1 = same: >= 0.99 fine, 0.95-0.99 look closer, < 0.95 poor',
  ];
  if (options.top1 !== false)
    lines.push(
      '  top-1 agreement  samples whose highest class is the same in both: >= 99 % fine, 95-99 % look closer',
      '                   (one sample of n moves it by 100/n %)',
    );
  lines.push(
    '  max abs error    the single largest difference; read it against max |FP32| and the mean: a large max with a',
    '                   small mean is a few values flipping (usual at sigmoid/softmax edges), a large mean a shift',
  );
  if (options.tensors !== false)
    lines.push(
      '  tensors          error builds up layer by layer; own = its own Q/DQ rounding: clipped > 1 % means amax is',
      '                   too low, a high own error with nothing clipped means amax is too high for most values',
    );
  if (options.compare !== false)
    lines.push(
      'to look closer or if not fine: compare the algorithms (trt-calibrator evaluate <model> <images> --compare),',
      'or let calibrate pick one on held-out images (calibrate --algorithm auto)',
    );
  return lines;
}

/**
 * Options of {@link formatEvaluation}.
 * @inline
 */
export interface FormatEvaluationOptions {
  /**
   * Append the guide to reading the numbers, as the CLI prints it: rules of thumb for cosine, top-1 agreement, max
   * error and the per-tensor errors, and what to try when the result is not fine. Defaults to true.
   */
  guide?: boolean;
}

/**
 * Formats an {@link Evaluation} as the CLI prints it: a table of the outputs (columns aligned whatever the names
 * and values), top-1 accuracy with labels, the worst-tensor table, and the guide to reading them.
 */
export function formatEvaluation(e: Evaluation, options: FormatEvaluationOptions = {}): string {
  const lines = [
    `FP32 vs INT8 (Q/DQ) on ${e.samples} samples in ${e.batches} batches, ONNX Runtime CPU, ${(e.ms / 1000).toFixed(1)} s`,
  ];
  const top1 = e.outputs.some((o) => o.top1Agreement !== undefined);
  const head = ['output', ...(top1 ? ['top-1 agreement'] : []), 'cosine', 'max abs err', 'max |FP32|', 'mean abs err'];
  const rows = e.outputs.map((o) => [
    o.name,
    ...(top1
      ? [
          o.top1Agreement === undefined
            ? '-'
            : `${pct(o.top1Agreement)} (${Math.round(o.top1Agreement * (o.samples ?? 0))}/${o.samples})`,
        ]
      : []),
    o.cosine.toFixed(6),
    o.maxAbsError.toPrecision(4),
    o.maxAbsReference.toPrecision(4),
    o.meanAbsError.toPrecision(4),
  ]);
  lines.push(...formatColumns([head, ...rows], ['left', ...head.slice(1).map((): ColumnAlign => 'right')], '  '));
  if (e.labelAccuracy) {
    const l = e.labelAccuracy;
    lines.push(
      `  top-1 accuracy on ${l.samples} labelled samples (${l.output}): FP32 ${pct(l.fp32)}, INT8 ${pct(l.int8)}`,
    );
  }
  const tensors = e.worstTensors !== undefined && e.worstTensors.length > 0;
  if (tensors) {
    lines.push(
      `  quantized tensors furthest from FP32 on the first ${e.worstTensorSamples ?? e.samples} samples (error = relative L2 error of the tensor the INT8 layer reads; own = its Q/DQ round trip; clipped = share beyond ±amax)`,
    );
    lines.push(...formatTensorErrors(e.worstTensors ?? [], '    '));
  }
  if (options.guide !== false) lines.push(...evaluationGuide({ top1, tensors }).map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}
