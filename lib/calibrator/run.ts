/**
 * The typed wrapper over the native calibrator run: validates options, binds a {@link BatchFactory} and a cache
 * source to the native calibrator (native/bridge/run.cc), maps AbortSignal, progress and errors.
 *
 * The native side runs the builder on its own thread; `getBatch` there calls `factory.fill` on this thread with
 * views over the native host slots (pinned memory where a CUDA device exists). Write every element of the
 * views you are given; never keep them past the fill, and never transfer or detach them.
 */
import {
  loadAddon,
  NativeBuilderKind,
  NativeBuiltinOptions,
  NativeEngineOptions,
  NativeHistogramSet,
  NativeLiveAllocations,
  NativeOrtSession,
  NativeRunResult,
  NativeTestHooks,
} from '../binding';
import { BatchFactory, DTYPE_BYTES, DType, InputSpec } from '../batch/factory';
import { TrtCalibratorError, describeValue, invalidOption, rejectUnknownOptions } from '../errors';
import { errorFromNativeBuild } from '../backends/tensorrt/errors';
import { CacheSource, cacheAccess } from '../cache/store';

/** Calibration algorithms, as TensorRT names them. */
export type CalibrationAlgorithm = 'entropy2' | 'entropy' | 'minmax' | 'legacy';

const ALGORITHM_VALUES: Readonly<Record<CalibrationAlgorithm, number>> = {
  legacy: 0,
  entropy: 1,
  entropy2: 2,
  minmax: 3,
};

/** One progress event: after each batch the builder received. */
export interface CalibrationProgress {
  /** Batches delivered so far. */
  batchesDone: number;
  /** The factory's `totalBatches`, when it knows it. */
  totalBatches?: number;
  /** Images (batch items) per second since the run started. */
  imagesPerSecond: number;
}

/** The JS side of a builder's per-batch model run (the builtin builder): tensor name → activations. */
export type ProcessBatch = (
  buffers: Record<string, ArrayBufferView>,
  batchIndex: number,
) => Record<string, Float32Array> | Promise<Record<string, Float32Array>>;

/** Options of {@link runCalibration}. */
export interface CalibrationRunOptions {
  /** Where batches come from. Required. */
  factory: BatchFactory;
  /**
   * What plays TensorRT's role: 'builtin' (our calibration pass: needs `histograms` and `builtin`) or 'tensorrt'
   * (TensorRT's own builder: needs `engine`; result.bytes.plan is the engine). The test build of the addon also
   * has 'test' (TensorRT's call order, nothing else) and 'sum' (the same plus a `process` call per batch).
   * Required.
   */
  builder: NativeBuilderKind;
  /** A cache file path or a {@link CacheStore}. A usable cache skips calibration. Defaults to none (nothing read or persisted). */
  cache?: CacheSource;
  /** Aborts the run: getBatch returns false at once, no cache is written, the promise rejects with `signal.reason`. Defaults to none. */
  signal?: AbortSignal;
  /** Called after each batch. Defaults to none. */
  onProgress?: (progress: CalibrationProgress) => void;
  /** The network's inputs as the builder sees them; checked against `factory.inputs` by name, shape and dtype. Defaults to `factory.inputs`. */
  networkInputs?: readonly InputSpec[];
  /** Order in which the builder passes input names to getBatch. Defaults to the order of `networkInputs`. */
  bindingOrder?: readonly string[];
  /** Calibration algorithm reported by getAlgorithm(). Defaults to 'entropy2'. */
  algorithm?: CalibrationAlgorithm;
  /** Per-batch model run for builders that need one ('builtin' without `inference`, 'sum'). Defaults to none. */
  process?: ProcessBatch;
  /** 'auto': pinned host slots and device buffers when a CUDA device exists; 'host': host memory only. Defaults to 'auto'. */
  memory?: 'auto' | 'host';
  /** CUDA device index. Defaults to 0. */
  device?: number;
  /** Fill batch k+1 while batch k is uploaded and consumed. Defaults to true. */
  prefetch?: boolean;
  /** Builder 'builtin': the histograms it fills (a lib/histogram HistogramSet). Defaults to none. */
  histograms?: { readonly native: NativeHistogramSet };
  /**
   * Builder 'builtin': it runs each batch through this ONNX Runtime session on its own thread (no `process`
   * calls). Defaults to none.
   */
  inference?: NativeOrtSession;
  /** Builder 'builtin': its options, every field given. Defaults to none. */
  builtin?: NativeBuiltinOptions;
  /** Builder 'tensorrt': TensorRT's build options, every field given. Defaults to none. */
  engine?: NativeEngineOptions;
  /**
   * Test build of the addon only (the release addon refuses them): `copyBuffers` forces the copy fallback used
   * where external buffers are refused, `capture` has the 'test' builder return a host copy of every binding,
   * `injectCudaError` fails the first upload with that CUDA error name. Defaults to none.
   */
  testHooks?: Partial<NativeTestHooks>;
}

/** What {@link runCalibration} resolves with. */
export interface CalibrationRunResult extends NativeRunResult {
  /** Images calibrated (batches × batch size). */
  images: number;
  /** The cache bytes written in this run, or null (cache hit, or nothing written). */
  cache: Uint8Array | null;
  /** Wall time of the run in seconds. */
  seconds: number;
}

const KNOWN_OPTIONS = [
  'factory',
  'builder',
  'cache',
  'signal',
  'onProgress',
  'networkInputs',
  'bindingOrder',
  'algorithm',
  'process',
  'memory',
  'device',
  'prefetch',
  'histograms',
  'inference',
  'builtin',
  'engine',
  'testHooks',
] as const;

const BUILDERS: readonly NativeBuilderKind[] = ['builtin', 'tensorrt', 'test', 'sum'];
const TEST_HOOKS = ['copyBuffers', 'capture', 'injectCudaError'] as const;

/** The test hooks with every field given, or undefined when none were asked for (the release addon has none). */
function testHooksOf(hooks: unknown): NativeTestHooks | undefined {
  if (hooks === undefined) return undefined;
  if (typeof hooks !== 'object' || hooks === null) throw invalidOption('testHooks', 'an object', hooks);
  rejectUnknownOptions('runCalibration() testHooks', hooks, TEST_HOOKS);
  const { copyBuffers = false, capture = false, injectCudaError } = hooks as Partial<NativeTestHooks>;
  if (typeof copyBuffers !== 'boolean') throw invalidOption('testHooks.copyBuffers', 'a boolean', copyBuffers);
  if (typeof capture !== 'boolean') throw invalidOption('testHooks.capture', 'a boolean', capture);
  if (injectCudaError !== undefined && typeof injectCudaError !== 'string')
    throw invalidOption('testHooks.injectCudaError', 'a CUDA error name', injectCudaError);
  return { copyBuffers, capture, ...(injectCudaError === undefined ? {} : { injectCudaError }) };
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function specText(spec: InputSpec): string {
  return `"${spec.name}" ${shapeText(spec.shape)} ${spec.dtype}`;
}

function validateSpecs(specs: unknown, option: string): InputSpec[] {
  if (!Array.isArray(specs) || specs.length === 0)
    throw invalidOption(option, 'a non-empty array of input specs', specs);
  const seen = new Set<string>();
  return specs.map((spec: unknown, i: number) => {
    const s = spec as Partial<InputSpec> | null;
    if (typeof s !== 'object' || s === null)
      throw invalidOption(`${option}[${i}]`, 'an object { name, shape, dtype }', spec);
    if (typeof s.name !== 'string' || s.name.length === 0)
      throw invalidOption(`${option}[${i}].name`, 'a non-empty string', s.name);
    if (seen.has(s.name))
      throw invalidOption(`${option}[${i}].name`, 'a name not used by another input', s.name, 'range');
    seen.add(s.name);
    if (!Array.isArray(s.shape) || s.shape.length === 0)
      throw invalidOption(`${option}[${i}].shape`, 'a non-empty array of dimensions', s.shape);
    for (const d of s.shape) {
      if (!Number.isInteger(d) || d < 1)
        throw invalidOption(`${option}[${i}].shape`, 'positive integer dimensions (no dynamic -1)', s.shape, 'range');
    }
    if (typeof s.dtype !== 'string' || !(s.dtype in DTYPE_BYTES)) {
      throw invalidOption(
        `${option}[${i}].dtype`,
        `one of ${Object.keys(DTYPE_BYTES).join(', ')}`,
        s.dtype,
        typeof s.dtype === 'string' ? 'range' : 'type',
      );
    }
    return { name: s.name, shape: [...s.shape], dtype: s.dtype as DType };
  });
}

/** Checks the factory's inputs against the network's by name, then shape, then dtype; throws ERR_INPUT_*. */
function matchInputs(factoryInputs: InputSpec[], networkInputs: InputSpec[]): void {
  const byName = new Map(factoryInputs.map((s) => [s.name, s]));
  const fills = factoryInputs.map(specText).join(', ');
  for (const net of networkInputs) {
    const given = byName.get(net.name);
    if (!given) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The network input ${specText(net)} is not filled by the batch factory; it fills ${fills}`,
        {
          details: {
            input: net.name,
            expectedShape: net.shape,
            expectedDtype: net.dtype,
            given: factoryInputs.map((s) => s.name),
          },
        },
      );
    }
    // Shape first, then dtype: both errors carry the same details.
    const details = {
      input: net.name,
      expectedShape: net.shape,
      expectedDtype: net.dtype,
      givenShape: given.shape,
      givenDtype: given.dtype,
    };
    if (given.shape.length !== net.shape.length || given.shape.some((d, i) => d !== net.shape[i])) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input "${net.name}": the network expects ${shapeText(net.shape)} ${net.dtype} but the batch factory declares ${shapeText(given.shape)} ${given.dtype}`,
        { details },
      );
    }
    if (given.dtype !== net.dtype) {
      throw new TrtCalibratorError(
        'ERR_INPUT_DTYPE',
        `Input "${net.name}": the network expects ${shapeText(net.shape)} ${net.dtype} but the batch factory declares ${given.dtype}`,
        { details },
      );
    }
  }
  const networkNames = new Set(networkInputs.map((s) => s.name));
  const extra = factoryInputs.find((s) => !networkNames.has(s.name));
  if (extra) {
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      `The batch factory fills ${specText(extra)}, which is not a network input; the network's inputs are ${networkInputs.map(specText).join(', ')}`,
      { details: { input: extra.name, given: extra.shape, expected: networkInputs.map((s) => s.name) } },
    );
  }
}

function factoryError(err: unknown, batchIndex: number): unknown {
  // Errors that already carry a specific code (e.g. ERR_IMAGE_DECODE from the image pipeline) pass through.
  if (err instanceof TrtCalibratorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TrtCalibratorError('ERR_BATCH_FACTORY', `BatchFactory.fill failed on batch ${batchIndex}: ${message}`, {
    cause: err,
    details: { batchIndex },
  });
}

function checkFillResult(value: unknown, batchIndex: number): boolean {
  if (typeof value !== 'boolean') {
    throw new TrtCalibratorError(
      'ERR_BATCH_FACTORY',
      `BatchFactory.fill must return a boolean or a Promise of one, but returned ${describeValue(value)} for batch ${batchIndex}`,
      { details: { batchIndex } },
    );
  }
  return value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A native run error (an Error whose `code` the addon set) as a TrtCalibratorError with that code. */
function nativeError(err: unknown): unknown {
  if (err instanceof TrtCalibratorError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('ERR_') && code !== 'ERR_INVALID_OPTION') {
    // TensorRT's build errors carry the ONNX parser's errors, one per line: details.parserErrors.
    if (code === 'ERR_TENSORRT_BUILD') return errorFromNativeBuild(err);
    return new TrtCalibratorError(code as TrtCalibratorError['code'], err.message);
  }
  return err;
}

/**
 * Runs the native calibrator once: read cache → (miss) getBatch until the factory is exhausted → write cache,
 * driven by the chosen native builder on its own thread. Resolves with what happened; rejects with the
 * factory's error (ERR_BATCH_FACTORY, `cause` = what it threw), ERR_INPUT_NAME / ERR_INPUT_SHAPE /
 * ERR_INPUT_DTYPE, ERR_CUDA, ERR_IO, the builder's own codes (ERR_MODEL, ERR_TENSORRT_BUILD, …; each native
 * error carries its `code`), or `signal.reason` after an abort (no cache is written then).
 */
export async function runCalibration(options: CalibrationRunOptions): Promise<CalibrationRunResult> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('runCalibration()', options, KNOWN_OPTIONS);
  const { factory, builder } = options;
  if (typeof factory !== 'object' || factory === null || typeof (factory as BatchFactory).fill !== 'function') {
    throw invalidOption('factory', 'a BatchFactory (an object with inputs and fill())', factory);
  }
  if (!BUILDERS.includes(builder)) {
    throw invalidOption(
      'builder',
      `one of ${BUILDERS.map((b) => `'${b}'`).join(', ')}`,
      builder,
      typeof builder === 'string' ? 'range' : 'type',
    );
  }
  const factoryInputs = validateSpecs(factory.inputs, 'factory.inputs');
  const networkInputs =
    options.networkInputs === undefined ? factoryInputs : validateSpecs(options.networkInputs, 'networkInputs');
  const bindingOrder = options.bindingOrder ?? networkInputs.map((s) => s.name);
  if (!Array.isArray(bindingOrder) || bindingOrder.some((n) => typeof n !== 'string')) {
    throw invalidOption('bindingOrder', 'an array of input names', bindingOrder);
  }
  const algorithm = options.algorithm ?? 'entropy2';
  if (!(algorithm in ALGORITHM_VALUES))
    throw invalidOption('algorithm', `one of ${Object.keys(ALGORITHM_VALUES).join(', ')}`, algorithm, 'range');
  const memory = options.memory ?? 'auto';
  if (memory !== 'auto' && memory !== 'host') throw invalidOption('memory', '"auto" or "host"', memory, 'range');
  const device = options.device ?? 0;
  if (!Number.isInteger(device) || device < 0)
    throw invalidOption('device', 'a non-negative integer', device, typeof device === 'number' ? 'range' : 'type');
  if (options.prefetch !== undefined && typeof options.prefetch !== 'boolean')
    throw invalidOption('prefetch', 'a boolean', options.prefetch);
  for (const name of ['onProgress', 'process'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw invalidOption(name, 'a function', options[name]);
  }
  if (
    options.engine !== undefined &&
    (typeof options.engine !== 'object' || options.engine === null || typeof options.engine.onnxPath !== 'string')
  ) {
    throw invalidOption('engine', 'an object with onnxPath', options.engine);
  }
  const testHooks = testHooksOf(options.testHooks);
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', signal);
  const cache = cacheAccess(options.cache);
  const batchSize = factoryInputs[0].shape[0];
  for (const spec of factoryInputs) {
    if (spec.shape[0] !== batchSize) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input ${specText(spec)} has batch dimension ${spec.shape[0]} but ${specText(factoryInputs[0])} has ${batchSize}`,
        {
          details: { input: spec.name, expectedShape: [batchSize, ...spec.shape.slice(1)], givenShape: spec.shape },
        },
      );
    }
  }
  matchInputs(factoryInputs, networkInputs);

  signal?.throwIfAborted();
  const addon = loadAddon();
  const started = performance.now();
  let written: Uint8Array | null = null;
  const totalBatches = factory.totalBatches;
  const userProcess = options.process;
  const onProgress = options.onProgress;

  const handle = addon.startCalibration(
    {
      inputs: factoryInputs,
      batchSize,
      algorithm: ALGORITHM_VALUES[algorithm],
      memory,
      deviceIndex: device,
      prefetch: options.prefetch ?? true,
      builder,
      bindingNames: bindingOrder,
      histograms: options.histograms?.native,
      inference: options.inference,
      builtin: options.builtin,
      engine: options.engine,
      testHooks,
    },
    {
      fill(buffers, batchIndex) {
        let result: boolean | Promise<boolean>;
        try {
          result = factory.fill(buffers, batchIndex);
        } catch (err) {
          throw factoryError(err, batchIndex);
        }
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            (value) => checkFillResult(value, batchIndex),
            (err: unknown) => {
              throw factoryError(err, batchIndex);
            },
          );
        }
        return checkFillResult(result, batchIndex);
      },
      readCache: () => cache.read(),
      async writeCache(bytes) {
        if (signal?.aborted) throw signal.reason;
        const copy = new Uint8Array(bytes);
        await cache.write(copy);
        written = copy;
      },
      progress: onProgress
        ? (batchesDone) => {
            const seconds = Math.max((performance.now() - started) / 1000, 1e-6);
            onProgress({ batchesDone, totalBatches, imagesPerSecond: (batchesDone * batchSize) / seconds });
          }
        : undefined,
      process: userProcess,
    },
  );
  const onAbort = () => handle.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await handle.promise;
    return {
      ...result,
      images: result.batches * batchSize,
      cache: written,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw nativeError(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Live native batch memory and runs of this process (all zero when no run is active). */
export function liveNativeAllocations(): NativeLiveAllocations {
  return loadAddon().liveAllocations();
}
