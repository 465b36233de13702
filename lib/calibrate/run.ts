/**
 * Stage 4 of calibrate(): the calibration pass. The native calibrator runs on its own thread, driven by the
 * backend's builder in TensorRT's order: read the cache (a compatible one ends the run), then getBatch until the
 * data is exhausted, then write the cache.
 */
import { parseCache, type CalibrationCache } from '../cache/format';
import { TrtCalibratorError } from '../errors';
import { runCalibration } from '../calibrator/run';
import type { CalibrationJob } from './job';
import type { LoadedJob } from './model';
import type { PreparedRun } from './prepare';

/** A tensor whose data gave no usable threshold (`all-zero`, `not-finite`, `empty`) or a constant one. */
export interface TensorStatus {
  readonly name: string;
  readonly status: string;
}

/** What the pass produced. */
export interface PassResult {
  /** The cache as TensorRT reads it: the one written now, or the existing one. */
  readonly cache: CalibrationCache;
  /** True when the existing cache was used and nothing was calibrated. */
  readonly fromCache: boolean;
  /** Images calibrated and batches run. */
  readonly images: number;
  readonly batches: number;
  /** The builder's tensors without an 'ok' threshold (builtin backend, when it calibrated). */
  readonly statuses?: readonly TensorStatus[];
  /** Milliseconds of the pass and of its parts. */
  readonly timings: { calibrateMs: number; inferenceMs: number; histogramMs: number; thresholdMs: number };
  /** How ONNX Runtime ran (builtin backend, when it calibrated). */
  readonly inference?: 'native' | 'worker';
  /** The serialized engine (TensorRT backend). */
  readonly plan?: Uint8Array;
  /** TensorRT's log lines (TensorRT backend). */
  readonly log: readonly string[];
}

/** Stage 4: runs the pass. Rejects with the pass's error (the factory's, ONNX Runtime's, TensorRT's) or the abort. */
export async function runBackend(job: CalibrationJob, loaded: LoadedJob, prepared: PreparedRun): Promise<PassResult> {
  const { options } = job;
  const { builtin, calibrationModel } = prepared;
  const t0 = performance.now();
  // overwrite: TensorRT's readCalibrationCache must see no cache, but the new one still goes where asked.
  // 'auto' comparing: the pass's own (entropy) cache goes nowhere; the chosen algorithm's is written afterwards.
  const store = job.cache.access;
  const cache = loaded.comparing
    ? { read: async () => null, write: async () => undefined }
    : options.overwrite
      ? { read: async () => null, write: store.write }
      : store;
  const run = await runCalibration({
    factory: prepared.data.calibration.factory,
    networkInputs: calibrationModel.inputs.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype })),
    cache,
    signal: options.signal,
    onProgress: options.onProgress,
    algorithm: job.algorithm === 'minmax' ? 'minmax' : 'entropy2',
    builder: job.backend,
    builtin:
      job.backend === 'builtin'
        ? {
            algorithm: job.algorithm,
            percentile: options.percentile,
            tensorrtVersion: job.tensorrt.raw,
            cacheAlgorithm: job.cache.algorithm,
            maxActivationBytes: options.maxActivationBytes,
            splittable: builtin?.splittable ?? false,
            histogramThreads: builtin?.histogramThreads ?? 1,
          }
        : undefined,
    histograms: job.backend === 'builtin' ? prepared.histograms : undefined,
    // 'native': the builder runs every batch through ONNX Runtime itself; 'worker': through `process`.
    inference: builtin?.session,
    engine: prepared.engine,
    // The builtin backend reads batches on the CPU; TensorRT's builder takes device buffers where a GPU exists.
    memory: job.backend === 'builtin' ? 'host' : 'auto',
    process: builtin?.process,
  });
  const fromCache = run.cache === null;
  const parsed = run.cache ? parseCache(run.cache, { file: job.cache.path }) : loaded.existing;
  if (!parsed) throw new TrtCalibratorError('ERR_INTERNAL', 'The calibration run finished without a cache');
  // The builder's own list of tensors whose threshold is not 'ok' (builtin backend).
  const statuses = run.tensorStatuses?.map((t) => ({ name: t.name, status: t.status }));
  const worker = builtin?.stats() ?? { inferenceMs: 0, histogramMs: 0 };
  return {
    cache: parsed,
    fromCache,
    images: run.images,
    batches: run.batches,
    ...(statuses ? { statuses } : {}),
    timings: {
      calibrateMs: performance.now() - t0,
      inferenceMs: worker.inferenceMs + (run.numbers.inferenceMs ?? 0),
      histogramMs: worker.histogramMs + (run.numbers.histogramMs ?? 0),
      thresholdMs: run.numbers.thresholdMs ?? 0,
    },
    ...(builtin?.mode && !fromCache ? { inference: builtin.mode } : {}),
    ...(run.bytes.plan ? { plan: run.bytes.plan } : {}),
    log: run.log,
  };
}
