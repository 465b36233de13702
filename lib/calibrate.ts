/**
 * `calibrate(model, images | factory | { input: factory }, options)`: the main job. Runs the calibration pass
 * (builtin backend: ONNX Runtime on the CPU feeding native histograms, driven through the same calibrator
 * contract TensorRT uses) and writes a TensorRT calibration cache; optionally a Q/DQ ONNX model and a report.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchFactory, type InputSpec } from './batch/factory';
import { combineFactories } from './batch/combine';
import { ImageBatchFactory, type PreprocessOptions, type SkippedImage } from './batch/image-factory';
import { InferenceWorker } from './builtin/inference';
import { nativeOnnxRuntime, openOrtSession } from './builtin/native-ort';
import { CACHE_ALGORITHMS, parseCache, type CalibrationCache } from './cache/format';
import { checkCacheCompatibility } from './cache/compat';
import { formatTensorRTVersion, parseTensorRTVersion } from './cache/version';
import { packageVersion, capabilities } from './capabilities';
import { TrtCalibratorError, invalidOption, rejectUnknownOptions } from './errors';
import { AMAX_ALGORITHMS, HistogramSet, type AmaxAlgorithm } from './histogram';
import {
  DEFAULT_HOLDOUT,
  accuracyReport,
  amaxByAlgorithm,
  cacheTextFor,
  compareAlgorithms,
  holdoutSplit,
  listImages,
  type AutoChoice,
} from './auto';
import { loadOnnxModel, modelInputs, type ModelInput } from './onnx/model';
import { prepareCalibrationModel, type CalibrationModel, type OutputTypeProbe } from './onnx/calibration-model';
import { writeQdqModel } from './onnx/qdq';
import {
  REPORT_SCHEMA_VERSION,
  buildTensorReport,
  listTensorsWithoutScale,
  standardWarnings,
  writeReport,
  type CalibrationReport,
  type ReportTensor,
} from './report';
import { runCalibration, type CalibrationProgress } from './run/calibrator';
import { cacheAccess, type CacheStore } from './run/cache';
import { resolveBackend } from './tensorrt/backend';
import { builderSettings, tensorrtCalibrator, type TensorrtBuildOptions } from './tensorrt/flags';
import { resolveInputProfiles, validateCalibrationShapes, type InputShapesOption } from './tensorrt/profile';
import type { NativeEngineOptions, NativeOrtSession } from './binding';
import { writeFileAtomic } from './util/fs';

/** Calibration algorithms: how amax (the clipping threshold, scale = amax / 127) is chosen per tensor. */
export type Algorithm = AmaxAlgorithm;

/** Per-input options: the input's shape (for dynamic dims) and its image preprocessing. */
export interface InputOptions extends Partial<PreprocessOptions> {
  /** Per-image shape `[C, H, W]` (without batch), required where the model's dims are symbolic. */
  shape?: readonly number[];
}

/** Options of {@link calibrate}. */
export interface CalibrateOptions extends Partial<PreprocessOptions> {
  /** Per-input shape and preprocessing, by input name (multi-input models). Defaults to {}. */
  inputs?: Readonly<Record<string, InputOptions>>;
  /** Images per batch (the batch dimension of every input). Defaults to 8. */
  batchSize?: number;
  /** Use at most this many images. Defaults to all. */
  limit?: number;
  /**
   * Threshold algorithm, or 'auto': calibrate once, hold out images (`holdout`), evaluate every algorithm's Q/DQ
   * model against FP32 on them in ONNX Runtime and keep the best (builtin backend; rule in lib/auto.ts, reasons
   * in `result.auto`). Defaults to 'entropy' (TensorRT's EntropyCalibration2).
   */
  algorithm?: Algorithm | 'auto';
  /**
   * `algorithm: 'auto'` with an image directory: the share of the sorted file list (its LAST images) held out for
   * the comparison and not calibrated on, in (0, 1). Defaults to 0.2.
   */
  holdout?: number;
  /**
   * `algorithm: 'auto'`: the images (directory, preprocessed like the calibration images) or the BatchFactory to
   * compare the algorithms on instead of a held-out share; required when the source is a BatchFactory. Defaults to none.
   */
  evaluationSource?: string | BatchFactory;
  /** `algorithm: 'auto'`: class index per evaluation image file, for top-1 accuracy in the comparison. Defaults to none. */
  evaluationLabels?: ReadonlyMap<string, number>;
  /** Percentile for `algorithm: 'percentile'`, in (0, 100]. Defaults to 99.99. */
  percentile?: number;
  /**
   * TensorRT version the cache is for (`'10.3'`, `'8.6.1'`): it goes into the header, and TensorRT only reads a
   * cache of its own major.minor. Defaults to the TensorRT compiled into the addon, else {@link DEFAULT_TENSORRT_VERSION}
   * (with a warning in the result).
   */
  tensorrt?: string;
  /**
   * Where the cache is read from and written to: a file path or a store `{ read, write }`. Defaults to
   * `<model dir>/<model name>.calibration.cache`.
   */
  cache?: string | CacheStore;
  /** Recalibrate even when a compatible cache exists (it is then replaced). Defaults to false. */
  overwrite?: boolean;
  /** 'auto' (TensorRT when compiled in, else builtin), 'builtin' or 'tensorrt'. Defaults to 'auto'. */
  backend?: 'auto' | 'builtin' | 'tensorrt';
  /** Build an INT8 engine with TensorRT's own builder and write the plan here (needs TensorRT 8.6–10.x compiled in). Defaults to none. */
  engine?: string;
  /** TensorRT build settings for `engine` (FP16 fallback, workspace, DLA core, log verbosity). Defaults to TensorRT's. */
  tensorrtBuild?: TensorrtBuildOptions;
  /**
   * TensorRT profile shapes by input name (`[N,C,H,W]` or `{ min, opt, max }`); calibration runs at OPT, which
   * must equal the calibration batch shape. Defaults to the batch shapes for MIN = OPT = MAX.
   */
  inputShapes?: InputShapesOption;
  /** Called with each line of TensorRT's log (TensorRT backend). Defaults to none. */
  onLog?: (line: string) => void;
  /**
   * Histograms to start from (builtin backend): the new batches are added to them and the cache covers both.
   * Calibrate a large data set in shards: save each run's `result.histograms`, load and merge them
   * (HistogramSet.loadAll), or pass one run's set to the next. Defaults to a new, empty set.
   */
  histograms?: HistogramSet;
  /** Write a Q/DQ ONNX model (explicit quantization, TensorRT 10/11) to this path. Defaults to none. */
  qdq?: string;
  /** Write report.json and report.html into this directory. Defaults to none. */
  report?: string;
  /** Cancels the run: nothing is written, the promise rejects with `signal.reason`. Defaults to none. */
  signal?: AbortSignal;
  /** Progress after each batch. Defaults to none. */
  onProgress?: (progress: CalibrationProgress) => void;
  /** Called for every image that could not be used. Defaults to none. */
  onSkip?: (skipped: SkippedImage) => void;
  /** Image decode/preprocess worker threads. Defaults to one per 4 cores, 1 to {@link DEFAULT_MAX_DECODE_WORKERS}. */
  workers?: number;
  /** Skipped images allowed before failing (count or '1%'). Defaults to '1%' for directories. */
  maxSkipped?: number | string;
  /** List image subdirectories too. Defaults to false. */
  recursive?: boolean;
  /**
   * ONNX Runtime threads for the calibration pass. Defaults to half the cores with inference 'native' (the
   * other half histograms the previous run's activations meanwhile), ONNX Runtime's choice (all cores) with
   * 'worker'.
   */
  threads?: number;
  /**
   * Builtin backend: the most activation bytes one ONNX Runtime run may produce. A batch whose activations are
   * bigger runs as sub-batches (models with a dynamic batch dimension), which bounds memory: the PaddleOCR
   * detector at 3×320×320 makes 173 MB of activations per image. Derived activations (computed while
   * histogramming, never held) count as if ONNX Runtime output them, so the split does not depend on them.
   * Histograms are then updated per sub-batch. 0 never splits. Defaults to {@link DEFAULT_MAX_ACTIVATION_BYTES}
   * (256 MiB).
   */
  maxActivationBytes?: number;
  /**
   * Builtin backend: how the calibration pass runs ONNX Runtime. 'native': the addon calls ONNX Runtime's C API
   * (the library inside onnxruntime-node) on the run's own thread and histograms every activation in place;
   * 'worker': onnxruntime-node's JavaScript API in a worker thread (copies every activation once). 'auto' takes
   * 'native' when that library loads, else 'worker'. Both give the same cache. Defaults to 'auto'.
   */
  inference?: 'auto' | 'native' | 'worker';
}

/** One tensor's result. */
export interface TensorScale {
  /** Scale written to the cache (float32): amax / 127. */
  scale: number;
  /** Dynamic range: the clipping threshold. */
  amax: number;
}

/** What {@link calibrate} resolves with. */
export interface CalibrationResult {
  /** The cache file written or reused (undefined with a custom store). */
  cachePath?: string;
  /** The cache (parsed), as TensorRT will read it. */
  cache: CalibrationCache;
  /** True when an existing compatible cache was used and nothing was calibrated. */
  fromCache: boolean;
  /** Scale and amax per tensor, in cache order. */
  tensors: Record<string, TensorScale>;
  /** Algorithm used. */
  algorithm: Algorithm;
  /** Backend that ran. */
  backend: 'builtin' | 'tensorrt';
  /** TensorRT version of the cache header, e.g. '10.3.0'. */
  tensorrtVersion: string;
  /** Images calibrated (batches × batch size) and images skipped with reasons. */
  images: { used: number; skipped: SkippedImage[] };
  /** Batches run and their size. */
  batches: number;
  batchSize: number;
  /** Tensors with no usable data (all zero, only NaN/Inf): no cache entry, named here and in `warnings`. */
  degenerateTensors: Array<{ name: string; status: string }>;
  /** Things worth a look (default TensorRT version, degenerate tensors, skipped images…). */
  warnings: string[];
  /** How the builtin backend ran ONNX Runtime (see {@link CalibrateOptions.inference}); absent otherwise. */
  inference?: 'native' | 'worker';
  /** Milliseconds: total, model preparation, calibration pass, ORT inference, histograms, thresholds. */
  timings: {
    totalMs: number;
    prepareMs: number;
    calibrateMs: number;
    inferenceMs: number;
    histogramMs: number;
    thresholdMs: number;
  };
  /** The per-tensor histograms of this run (builtin backend; absent when the cache was reused): save them with `.save(file)` to merge shards later. */
  histograms?: HistogramSet;
  /** The INT8 engine plan written (TensorRT backend with `engine`). */
  engine?: { path: string; bytes: number };
  /** TensorRT's log lines (TensorRT backend). */
  log?: string[];
  /** The Q/DQ model written, when `qdq` was given. */
  qdq?: { path: string; activations: number; weights: number };
  /** The report files, when `report` was given. */
  report?: { json: string; html: string };
  /** With `algorithm: 'auto'`: the algorithm kept, why, and the comparison table. */
  auto?: AutoChoice;
}

/** Most decode workers `calibrate()` starts by default (each holds an opencv-js heap of about 85 MB). */
export const DEFAULT_MAX_DECODE_WORKERS = 4;

/** Default of {@link CalibrateOptions.maxActivationBytes}: 256 MiB of activations per ONNX Runtime run. */
export const DEFAULT_MAX_ACTIVATION_BYTES = 256 * 2 ** 20;

/** TensorRT version written into cache headers when none is given and none is compiled in (JetPack 6's). */
export const DEFAULT_TENSORRT_VERSION = '10.3.0';

const KNOWN_OPTIONS = [
  'shape',
  'color',
  'scale',
  'mean',
  'std',
  'resize',
  'interp',
  'layout',
  'dtype',
  'padValue',
  'resizeShorter',
  'inputs',
  'batchSize',
  'limit',
  'algorithm',
  'percentile',
  'tensorrt',
  'cache',
  'overwrite',
  'backend',
  'qdq',
  'report',
  'signal',
  'onProgress',
  'onSkip',
  'workers',
  'maxSkipped',
  'recursive',
  'threads',
  'engine',
  'tensorrtBuild',
  'inputShapes',
  'onLog',
  'histograms',
  'maxActivationBytes',
  'holdout',
  'evaluationSource',
  'evaluationLabels',
  'inference',
] as const;
const PREPROCESS_KEYS = [
  'shape',
  'color',
  'scale',
  'mean',
  'std',
  'resize',
  'interp',
  'layout',
  'dtype',
  'padValue',
  'resizeShorter',
] as const;

/** The source of calibration data: an image directory, one factory, or factories by input name. */
export type CalibrationSource = string | BatchFactory | Readonly<Record<string, BatchFactory>>;

function checkOptions(options: CalibrateOptions): void {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('calibrate()', options, KNOWN_OPTIONS);
  const { batchSize, limit, percentile, algorithm } = options;
  if (batchSize !== undefined && (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1))
    throw invalidOption('batchSize', 'a positive integer', batchSize, typeof batchSize === 'number' ? 'range' : 'type');
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1))
    throw invalidOption('limit', 'a positive integer', limit, typeof limit === 'number' ? 'range' : 'type');
  if (algorithm !== undefined && algorithm !== 'auto' && !AMAX_ALGORITHMS.includes(algorithm))
    throw invalidOption(
      'algorithm',
      `one of ${AMAX_ALGORITHMS.join(', ')}, auto`,
      algorithm,
      typeof algorithm === 'string' ? 'range' : 'type',
    );
  if (
    options.holdout !== undefined &&
    (typeof options.holdout !== 'number' || !(options.holdout > 0 && options.holdout < 1))
  )
    throw invalidOption(
      'holdout',
      'a share in (0, 1)',
      options.holdout,
      typeof options.holdout === 'number' ? 'range' : 'type',
    );
  const evalSource = options.evaluationSource;
  if (
    evalSource !== undefined &&
    !(typeof evalSource === 'string' && evalSource !== '') &&
    !(evalSource instanceof BatchFactory)
  )
    throw invalidOption('evaluationSource', 'an image directory or a BatchFactory', evalSource);
  if (options.evaluationLabels !== undefined && !(options.evaluationLabels instanceof Map))
    throw invalidOption('evaluationLabels', 'a Map of image file to class index', options.evaluationLabels);
  if (percentile !== undefined && (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)))
    throw invalidOption(
      'percentile',
      'a number in (0, 100]',
      percentile,
      typeof percentile === 'number' ? 'range' : 'type',
    );
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw invalidOption('signal', 'an AbortSignal', options.signal);
  for (const key of ['onProgress', 'onSkip'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function')
      throw invalidOption(key, 'a function', options[key]);
  }
  for (const key of ['qdq', 'report'] as const) {
    if (options[key] !== undefined && (typeof options[key] !== 'string' || options[key] === ''))
      throw invalidOption(key, 'a file path', options[key]);
  }
  if (options.inputs !== undefined && (options.inputs === null || typeof options.inputs !== 'object'))
    throw invalidOption('inputs', 'an object keyed by input name', options.inputs);
  if (options.inference !== undefined && !['auto', 'native', 'worker'].includes(options.inference))
    throw invalidOption(
      'inference',
      "'auto', 'native' or 'worker'",
      options.inference,
      typeof options.inference === 'string' ? 'range' : 'type',
    );
}

function floatInputs(inputs: readonly ModelInput[]): ModelInput[] {
  return inputs.filter((i) => i.elemType === 'float');
}

function inputNamesText(inputs: readonly ModelInput[]): string {
  return inputs.map((i) => `${i.name} (${i.elemType} ${JSON.stringify(i.dims ?? [])})`).join(', ');
}

/** Per-image [C, H, W] for an image input: from options, else from the model's fixed dims. */
function imageShape(input: ModelInput, options: CalibrateOptions, source: string): number[] {
  const given = options.inputs?.[input.name]?.shape ?? options.shape;
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length !== 3 || !given.every((d) => Number.isInteger(d) && d > 0))
      throw invalidOption(
        'shape',
        'a per-image shape [C, H, W] of positive integers',
        given,
        Array.isArray(given) ? 'range' : 'type',
      );
    return [...given];
  }
  const dims = input.dims ?? [];
  const chw = dims.slice(1);
  if (dims.length !== 4 || !chw.every((d) => typeof d === 'number' && d > 0)) {
    throw new TrtCalibratorError(
      'ERR_INPUT_SHAPE',
      `Input "${input.name}" of ${source} has dynamic dims ${JSON.stringify(dims)}; give its per-image shape, e.g. { shape: [3, 320, 320] } (CLI: --shape 3x320x320)`,
      { details: { input: input.name, dims } },
    );
  }
  return chw as number[];
}

/** Builds the factory for a directory of images feeding the model's single float input. */
function directoryFactory(
  dir: string | string[],
  declared: readonly ModelInput[],
  options: CalibrateOptions,
  source: string,
  lastBatch?: 'pad',
): ImageBatchFactory {
  const candidates = floatInputs(declared);
  if (declared.length !== 1 || candidates.length !== 1) {
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      `${source} has ${declared.length} inputs (${inputNamesText(declared)}); an image directory feeds exactly one float input. ` +
        'Pass factories by input name instead: calibrate(model, { image: new ImageBatchFactory(...), other: factory })',
      { details: { inputs: declared.map((i) => i.name) } },
    );
  }
  const input = candidates[0];
  const perInput = options.inputs?.[input.name] ?? {};
  for (const key of Object.keys(options.inputs ?? {})) {
    if (key !== input.name) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `Unknown input "${key}" in options.inputs; ${source} has inputs: ${inputNamesText(declared)}`,
        {
          details: { input: key, inputs: declared.map((i) => i.name) },
        },
      );
    }
  }
  const preprocess: Record<string, unknown> = {};
  for (const key of PREPROCESS_KEYS) {
    const value = (perInput as Record<string, unknown>)[key] ?? (options as Record<string, unknown>)[key];
    if (value !== undefined) preprocess[key] = value;
  }
  preprocess.shape = imageShape(input, options, source);
  return new ImageBatchFactory({
    ...(preprocess as unknown as PreprocessOptions),
    images: dir,
    name: input.name,
    batchSize: options.batchSize ?? 8,
    limit: options.limit,
    // Each decode worker holds its own opencv-js heap (about 85 MB) and costs 0.3 CPU-s to start, and one decodes
    // far faster than a calibration consumes images: one per 4 cores, 1 to 4 (2 cores: 1 was as fast as 2 for
    // the detector and 10 % faster for the classifier; 16 cores: 4 as fast as 16 with half the memory).
    workers:
      options.workers ?? Math.min(DEFAULT_MAX_DECODE_WORKERS, Math.max(1, Math.floor(os.availableParallelism() / 4))),
    maxSkipped: options.maxSkipped ?? (Array.isArray(dir) ? '1%' : undefined), // a split directory keeps the directory default
    ...(lastBatch ? { lastBatch } : {}),
    recursive: options.recursive,
    onSkip: options.onSkip,
  });
}

function sourceFactory(
  src: CalibrationSource,
  declared: readonly ModelInput[],
  options: CalibrateOptions,
  modelPath: string,
): { factory: BatchFactory; owned: boolean } {
  if (typeof src === 'string') return { factory: directoryFactory(src, declared, options, modelPath), owned: true };
  if (src instanceof BatchFactory) return { factory: src, owned: false };
  if (src === null || typeof src !== 'object')
    throw invalidOption('source', 'an image directory, a BatchFactory, or { [input]: BatchFactory }', src);
  const entries = Object.entries(src);
  if (entries.length === 0 || !entries.every(([, f]) => f instanceof BatchFactory))
    throw invalidOption('source', 'an image directory, a BatchFactory, or { [input]: BatchFactory }', src);
  const unique = [...new Set(entries.map(([, f]) => f))];
  const combined = unique.length === 1 ? unique[0] : combineFactories(unique);
  for (const [name] of entries) {
    if (!combined.inputs.some((i) => i.name === name)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The factory given for "${name}" does not declare an input named "${name}" (it declares: ${combined.inputs.map((i) => i.name).join(', ')})`,
        {
          details: { input: name },
        },
      );
    }
  }
  return { factory: combined, owned: unique.length > 1 };
}

/** Checks the factory's inputs against the model's, by name: missing or unknown inputs name both lists. */
function checkFactoryInputs(factory: BatchFactory, declared: readonly ModelInput[], modelPath: string): void {
  const names = new Set(declared.map((i) => i.name));
  for (const spec of factory.inputs) {
    if (!names.has(spec.name)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The batch factory feeds "${spec.name}", which is not an input of ${modelPath}; its inputs are: ${inputNamesText(declared)}`,
        {
          details: { input: spec.name, inputs: [...names] },
        },
      );
    }
  }
  const fed = new Set(factory.inputs.map((i) => i.name));
  const missing = declared.filter((i) => !fed.has(i.name));
  if (missing.length > 0) {
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      `No data for input(s) ${missing.map((i) => `"${i.name}"`).join(', ')} of ${modelPath}; the batch factory feeds: ${[...fed].join(', ')}`,
      {
        details: { missing: missing.map((i) => i.name) },
      },
    );
  }
}

function defaultCachePath(modelPath: string): string {
  const parsed = path.parse(path.resolve(modelPath));
  return path.join(parsed.dir, `${parsed.name}.calibration.cache`);
}

function cacheAlgorithmFor(algorithm: Algorithm): (typeof CACHE_ALGORITHMS)[number] {
  // TensorRT only reads a cache whose header names the algorithm of the calibrator it is given: minmax scales
  // go with IInt8MinMaxCalibrator, everything else with IInt8EntropyCalibrator2 (the scales are just scales).
  return algorithm === 'minmax' ? 'MinMaxCalibration' : 'EntropyCalibration2';
}

function scalesOf(cache: CalibrationCache): Record<string, TensorScale> {
  const out: Record<string, TensorScale> = {};
  for (const e of cache.entries) out[e.name] = { scale: e.scale, amax: e.scale * 127 };
  return out;
}

/**
 * Calibrates `model` (an ONNX file) with `source` and writes a TensorRT calibration cache.
 *
 * `source` is a directory of images (for a model with one float input; preprocess with the options), a
 * {@link BatchFactory}, or factories by input name for multi-input models. An existing compatible cache is
 * used without recalibrating, as TensorRT does (`overwrite: true` recalibrates); a cache for another TensorRT
 * major.minor or algorithm is refused (ERR_CACHE_VERSION / ERR_CACHE_ALGORITHM).
 *
 * Never blocks the event loop for long: decoding runs in worker threads, ONNX Runtime in its own worker, the
 * calibrator and histograms on a native thread. A failed or aborted run writes nothing.
 */
export async function calibrate(
  model: string,
  source: CalibrationSource,
  options: CalibrateOptions = {},
): Promise<CalibrationResult> {
  const stack = new Error().stack; // the caller's stack, attached to native errors below
  const t0 = performance.now();
  if (typeof model !== 'string' || model === '') throw invalidOption('model', 'a path to an .onnx file', model);
  checkOptions(options);
  options.signal?.throwIfAborted();
  const warnings: string[] = [];
  const caps = capabilities();
  // 'auto' picks TensorRT's own builder when the addon has it; asking for TensorRT (or an engine) without it
  // throws ERR_TENSORRT_UNAVAILABLE saying how to install TensorRT or set TENSORRT_ROOT and rebuild.
  // algorithm 'auto' needs the builtin backend's histograms, so backend 'auto' resolves to builtin for it.
  const autoRequested = options.algorithm === 'auto';
  const backendOption = options.backend ?? 'auto';
  const backend = resolveBackend(
    autoRequested && backendOption === 'auto' && !options.engine ? 'builtin' : backendOption,
    caps.tensorrt,
    { engine: options.engine },
  );
  if (autoRequested && backend !== 'builtin')
    throw invalidOption(
      'algorithm',
      "an algorithm other than 'auto' with the TensorRT backend ('auto' compares algorithms on the builtin backend's histograms)",
      options.algorithm,
      'range',
    );
  if (autoRequested && typeof source !== 'string' && options.evaluationSource === undefined) {
    throw invalidOption(
      'evaluationSource',
      'an image directory or BatchFactory to compare the algorithms on (algorithm "auto" with a BatchFactory source holds out nothing by itself)',
      undefined,
    );
  }
  const buildSettings = backend === 'tensorrt' ? builderSettings(options.tensorrtBuild ?? {}) : undefined;
  // TensorRT's calibrators compute entropy or minmax only: anything else is refused before any work.
  if (backend === 'tensorrt') tensorrtCalibrator(options.algorithm);
  // With 'auto' the pass runs with entropy into a throwaway store; the chosen algorithm's cache is written after.
  let algorithm: Algorithm =
    options.algorithm === undefined || options.algorithm === 'auto' ? 'entropy' : options.algorithm;
  let versionText = options.tensorrt;
  if (versionText === undefined) {
    versionText = caps.tensorrt.compiled ? caps.tensorrt.version : DEFAULT_TENSORRT_VERSION;
    if (!caps.tensorrt.compiled) {
      warnings.push(
        `The cache header says TensorRT ${DEFAULT_TENSORRT_VERSION} (no TensorRT compiled in and no "tensorrt" option): ` +
          'TensorRT only reads caches of its own major.minor, so pass the version you deploy with (e.g. tensorrt: "8.6").',
      );
    }
  }
  const version = parseTensorRTVersion(versionText, 'tensorrt');
  const versionString = formatTensorRTVersion(version);
  const headerVersion = version.raw;

  // Existing cache: used as TensorRT would (read first, no calibration), unless it is for another TensorRT or algorithm.
  const cacheOption = options.cache ?? defaultCachePath(model);
  const cachePath = typeof cacheOption === 'string' ? cacheOption : undefined;
  // One reader/writer for a path or a store: a missing or empty file is "no cache", writes are atomic.
  const cacheStore = cacheAccess(cacheOption);
  const cacheAlgorithm = cacheAlgorithmFor(algorithm);
  let existing: CalibrationCache | undefined;
  if (!options.overwrite) {
    const bytes = await cacheStore.read();
    if (bytes) {
      existing = parseCache(bytes, { file: cachePath });
      checkCacheCompatibility(existing, {
        tensorrt: versionString,
        ...(autoRequested ? {} : { algorithm: cacheAlgorithm }),
      });
      if (autoRequested) {
        algorithm = existing.algorithm === 'MinMaxCalibration' ? 'minmax' : 'entropy';
        warnings.push(
          `algorithm "auto" compared nothing: the existing cache (${existing.algorithm}) was used as is; pass overwrite: true to calibrate and compare`,
        );
      }
    }
  }

  // The model: inputs, float activations, the calibration model with those as outputs.
  const tPrepare = performance.now();
  const loaded = await loadOnnxModel(model);
  const declared = modelInputs(loaded.proto);
  // algorithm 'auto': histograms from the calibration images, the comparison on held-out ones (the LAST
  // `holdout` share of the sorted list) or on `evaluationSource`.
  const autoMode = autoRequested && !existing;
  let evaluation: { factory: BatchFactory; owned: boolean } | undefined;
  let split: { calibration: string[]; holdout: string[] } | undefined;
  if (autoMode && options.evaluationSource !== undefined) {
    const e = options.evaluationSource;
    evaluation =
      typeof e === 'string'
        ? { factory: directoryFactory(e, declared, { ...options, limit: undefined }, model, 'pad'), owned: true }
        : { factory: e, owned: false };
  } else if (autoMode && typeof source === 'string') {
    split = holdoutSplit(
      await listImages(source, { recursive: options.recursive, limit: options.limit }),
      options.holdout ?? DEFAULT_HOLDOUT,
    );
    evaluation = {
      factory: directoryFactory(split.holdout, declared, { ...options, limit: undefined }, model, 'pad'),
      owned: true,
    };
  }
  const { factory, owned } = split
    ? { factory: directoryFactory(split.calibration, declared, { ...options, limit: undefined }, model), owned: true }
    : sourceFactory(source, declared, options, model);
  // Image workers start (opencv-js loads, the first batches decode) while the model is prepared. A failure
  // here (no images) surfaces at the first fill, after the model's own errors.
  if (factory instanceof ImageBatchFactory) factory.open().catch(() => undefined);
  let worker: InferenceWorker | undefined;
  let session: NativeOrtSession | undefined;
  try {
    checkFactoryInputs(factory, declared, model);
    const shapes: Record<string, number[]> = {};
    for (const spec of factory.inputs) shapes[spec.name] = [...spec.shape];
    // The calibration pass's ONNX Runtime: 'native' when the C API loads (unless 'worker' is asked for). The
    // native session that tells the activations' types is the one the pass runs (one session, created off the
    // JS thread); the worker creates its own.
    const calibrating = !existing && backend === 'builtin';
    const mode = options.inference ?? 'auto';
    const native = calibrating && mode !== 'worker' ? nativeOnnxRuntime() : undefined;
    if (calibrating && mode === 'native' && !native?.available) {
      throw new TrtCalibratorError(
        'ERR_ADDON_LOAD',
        `inference: 'native' needs ONNX Runtime's library from onnxruntime-node: ${native?.available === false ? native.reason : 'unavailable'}`,
      );
    }
    // The native pass histograms one run's activations while ONNX Runtime computes the next: the cores are
    // shared between the two (ONNX Runtime gets `threads` when given, else half).
    const cores = os.availableParallelism();
    const ortThreads = options.threads ?? Math.max(1, Math.floor(cores / 2));
    // The histograms get the cores ONNX Runtime leaves, at least half (16 cores, threads: 16 → 8: a single histogram
    // thread made the detector 2.5× slower there). On 2 cores that is one each: two histogram threads beside ONNX
    // Runtime's one were 5 % slower end to end (detector, 5 alternating runs each).
    const threadSplit = { inference: ortThreads, histograms: Math.max(1, cores - ortThreads, Math.floor(cores / 2)) };
    const probe: OutputTypeProbe | undefined = native?.available
      ? async (bytes, proto) => {
          session = await openOrtSession(bytes, { fetch: [], threads: threadSplit.inference, source: model, proto });
          return new Map(session.outputs.map((o) => [o.name, o.type]));
        }
      : undefined;
    const prepared: CalibrationModel = await prepareCalibrationModel(model, { shapes, loaded, probe });
    const prepareMs = performance.now() - tPrepare;
    options.signal?.throwIfAborted();

    if (options.histograms !== undefined && !(options.histograms instanceof HistogramSet))
      throw invalidOption('histograms', 'a HistogramSet', options.histograms);
    const histograms = options.histograms ?? new HistogramSet();
    const batchSize = factory.inputs[0]?.shape[0] ?? 1;
    let inferenceMs = 0;
    let workerHistogramMs = 0;
    const tCalibrate = performance.now();
    const specs = new Map<string, InputSpec>(prepared.inputs.map((i) => [i.name, i]));
    // Sub-batches need a batch dimension the model leaves open (symbolic or unknown).
    const splittable = prepared.inputs.every(
      (i) => i.dims === undefined || typeof i.dims[0] !== 'number' || i.dims[0] <= 0,
    );
    const maxActivationBytes = options.maxActivationBytes ?? DEFAULT_MAX_ACTIVATION_BYTES;
    let inferenceMode: 'native' | 'worker' | undefined;
    if (calibrating) {
      if (session) {
        inferenceMode = 'native';
        session.setFetch(prepared.fetchPlan);
      } else {
        inferenceMode = 'worker';
        worker = await InferenceWorker.start({
          modelBytes: prepared.modelBytes,
          outputNames: prepared.fetchPlan.filter((t): t is string => typeof t === 'string'),
          fetchPlan: prepared.fetchPlan,
          intraOpNumThreads: options.threads,
          source: model,
          maxActivationBytes,
          splittable,
          // Continued histograms (options.histograms): the worker bins new activations at their widths.
          binWidths: Object.fromEntries(
            histograms
              .names()
              .filter((name) => !specs.has(name))
              .map((name) => [name, histograms.stats(name).binWidth] as const)
              .filter(([, width]) => width > 0),
          ),
        });
      }
    }
    const active = worker;
    let engineOptions: NativeEngineOptions | undefined;
    if (backend === 'tensorrt' && buildSettings) {
      const profiles = resolveInputProfiles(
        prepared.inputs.map((i) => ({ name: i.name, dims: i.dims })),
        options.inputShapes ?? Object.fromEntries(prepared.inputs.map((i) => [i.name, [...i.shape]])),
      );
      validateCalibrationShapes(profiles, prepared.inputs);
      engineOptions = {
        onnxPath: path.resolve(model),
        inputShapes: profiles.map((p) => ({ name: p.name, min: p.min, opt: p.opt, max: p.max })),
        fp16: buildSettings.fp16,
        workspaceBytes: buildSettings.workspaceBytes,
        dlaCore: buildSettings.dlaCore,
        allowGpuFallback: buildSettings.gpuFallback,
        verbosity: buildSettings.verbosity,
      };
    }
    const run = await runCalibration({
      factory,
      networkInputs: prepared.inputs.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype })),
      // overwrite: TensorRT's readCalibrationCache must see no cache, but the new one still goes where asked.
      // auto: the pass's own (entropy) cache goes nowhere; the chosen algorithm's is written below.
      cache: autoMode
        ? { read: async () => null, write: async () => undefined }
        : options.overwrite
          ? { read: async () => null, write: cacheStore.write }
          : cacheOption,
      signal: options.signal,
      onProgress: options.onProgress,
      algorithm: algorithm === 'minmax' ? 'minmax' : 'entropy2',
      builder: backend,
      builtin:
        backend === 'builtin'
          ? {
              algorithm,
              percentile: options.percentile ?? 99.99,
              tensorrtVersion: String(headerVersion),
              cacheAlgorithm,
              maxActivationBytes,
              splittable,
              histogramThreads: threadSplit.histograms,
            }
          : undefined,
      histograms: backend === 'builtin' ? histograms : undefined,
      // 'native': the builder runs every batch through ONNX Runtime itself (sub-batches as the worker's below).
      inference: session,
      engine: engineOptions,
      // The builtin backend reads batches on the CPU; TensorRT's builder takes device buffers where a GPU exists.
      memory: backend === 'builtin' ? 'host' : 'auto',
      // The activations are histogrammed in the ONNX Runtime worker (bounded memory, see ort-worker.ts); at the end
      // of the data (batchIndex -1) its histograms join the run's set before the native builder picks amax.
      process:
        backend === 'tensorrt' || session
          ? undefined
          : async (buffers, batchIndex) => {
              if (!active) throw new TrtCalibratorError('ERR_INTERNAL', 'process called without an inference worker');
              if (batchIndex < 0) {
                histograms.merge(new HistogramSet(await active.histograms()));
                return {};
              }
              const inputs = Object.entries(buffers).map(([name, view]) => ({
                name,
                dtype: specs.get(name)?.dtype ?? 'float32',
                dims: [...(specs.get(name)?.shape ?? [])],
                view,
              }));
              const stats = await active.run(inputs);
              inferenceMs += stats.ms;
              workerHistogramMs += stats.histogramMs;
              return {};
            },
    });
    const calibrateMs = performance.now() - tCalibrate;
    let cache = run.cache ? parseCache(run.cache, { file: cachePath }) : existing;
    if (!cache) throw new TrtCalibratorError('ERR_INTERNAL', 'The calibration run finished without a cache');
    const fromCache = run.cache === null;
    const numbers = run.numbers;
    let auto: AutoChoice | undefined;
    // Every algorithm's thresholds, computed once (off the JS thread) and shared by auto, the degenerate-tensor
    // list and the report.
    const percentile = options.percentile ?? 99.99;
    let thresholds: ThresholdsByAlgorithm | undefined;
    if (autoMode && !fromCache && evaluation) {
      // Every algorithm's Q/DQ model against FP32 on the held-out images; the winner's cache is written as the
      // builtin builder would have written it (same header, set order, usable thresholds only).
      const compared = await compareAlgorithms(model, histograms, evaluation.factory, {
        percentile: options.percentile ?? 99.99,
        labels: options.evaluationLabels,
        signal: options.signal,
      });
      auto = compared.choice;
      thresholds = compared.amax;
      algorithm = auto.chosen;
      const bytes = Buffer.from(
        cacheTextFor(compared.amax[algorithm], String(headerVersion), cacheAlgorithmFor(algorithm)),
        'utf8',
      );
      options.signal?.throwIfAborted();
      await cacheStore.write(bytes);
      cache = parseCache(bytes, { file: cachePath });
    }

    const skipped = factory instanceof ImageBatchFactory ? factory.stats.skipped : [];
    const degenerateTensors: Array<{ name: string; status: string }> = [];
    if (!fromCache) {
      if (!thresholds && options.report && backend === 'builtin')
        thresholds = await amaxByAlgorithm(histograms, percentile);
      // The builder lists the tensors whose threshold status is not "ok" (result.tensorStatuses); with 'auto' the
      // chosen algorithm's thresholds say it.
      const statuses = run.tensorStatuses;
      if (thresholds) {
        for (const r of thresholds[algorithm])
          if (r.status !== 'ok') degenerateTensors.push({ name: r.name, status: r.status });
      } else if (statuses) {
        for (const s of statuses) degenerateTensors.push({ name: s.name, status: s.status });
      } else {
        for (const r of await histograms.computeAll(algorithm, { percentile }))
          if (r.status !== 'ok') degenerateTensors.push({ name: r.name, status: r.status });
      }
      for (const d of degenerateTensors) {
        warnings.push(
          d.status === 'constant'
            ? `Tensor "${d.name}" is constant over the calibration data (amax = |value|)`
            : `Tensor "${d.name}" has no usable calibration data (${d.status}): it gets no scale and TensorRT will run it in higher precision`,
        );
      }
    }
    if (skipped.length > 0)
      warnings.push(`${skipped.length} image(s) skipped (first: ${skipped[0].file}: ${skipped[0].reason})`);

    const result: CalibrationResult = {
      cachePath,
      cache,
      fromCache,
      tensors: scalesOf(cache),
      algorithm,
      ...(auto ? { auto } : {}),
      backend,
      ...(inferenceMode && !fromCache ? { inference: inferenceMode } : {}),
      tensorrtVersion: versionString,
      images: { used: run.images, skipped },
      batches: run.batches,
      batchSize,
      degenerateTensors,
      warnings,
      timings: {
        totalMs: 0,
        prepareMs,
        calibrateMs,
        inferenceMs: inferenceMs + (numbers.inferenceMs ?? 0),
        histogramMs: (numbers.histogramMs ?? 0) + workerHistogramMs,
        thresholdMs: numbers.thresholdMs ?? 0,
      },
    };
    if (backend === 'builtin' && !fromCache) result.histograms = histograms;
    if (backend === 'tensorrt') {
      result.log = run.log;
      for (const line of run.log) options.onLog?.(line);
      const plan = run.bytes.plan;
      if (options.engine) {
        if (!plan) throw new TrtCalibratorError('ERR_TENSORRT_BUILD', `TensorRT returned no engine for ${model}`);
        await writeFileAtomic(options.engine, plan);
        result.engine = { path: options.engine, bytes: plan.byteLength };
      }
    }
    if (options.qdq) {
      const scales: Record<string, number> = {};
      for (const e of cache.entries) scales[e.name] = e.scale;
      const q = await writeQdqModel(model, scales, options.qdq);
      result.qdq = { path: options.qdq, activations: q.activations.length, weights: q.weights.length };
    }
    if (options.report) {
      if (backend === 'tensorrt') {
        warnings.push(
          'No report histograms with the TensorRT backend (TensorRT keeps its own); use backend: "builtin" for a report',
        );
      } else if (fromCache) {
        warnings.push(
          'No report histograms: the cache was reused without calibrating (pass overwrite: true to recalibrate)',
        );
      } else {
        const written = await writeReport(
          options.report,
          await buildReport(
            model,
            prepared,
            histograms,
            result,
            thresholds ?? (await amaxByAlgorithm(histograms, percentile)),
            percentile,
          ),
        );
        result.report = { json: written.json, html: written.html };
      }
    }
    result.timings.totalMs = performance.now() - t0;
    return result;
  } catch (err) {
    if (err instanceof Error && stack && !err.stack?.includes('\n    at calibrate'))
      err.stack = `${err.stack}\n    --- calibrate() called from ---${stack.slice(stack.indexOf('\n'))}`;
    throw err;
  } finally {
    await worker?.close();
    session?.close();
    if (owned) await factory.close();
    if (evaluation?.owned) await evaluation.factory.close();
  }
}

type ThresholdsByAlgorithm = Awaited<ReturnType<typeof amaxByAlgorithm>>;

async function buildReport(
  model: string,
  prepared: CalibrationModel,
  histograms: HistogramSet,
  result: CalibrationResult,
  thresholds: ThresholdsByAlgorithm,
  percentile: number,
): Promise<CalibrationReport> {
  const all: Record<AmaxAlgorithm, Map<string, number>> = {
    entropy: new Map(),
    minmax: new Map(),
    percentile: new Map(),
    mse: new Map(),
  };
  for (const algo of AMAX_ALGORITHMS) {
    for (const r of thresholds[algo]) all[algo].set(r.name, r.amax);
  }
  const inputNames = new Set(prepared.inputs.map((i) => i.name));
  const tensors: ReportTensor[] = histograms.names().map((name) => {
    const s = histograms.stats(name);
    return buildTensorReport(
      {
        name,
        kind: inputNames.has(name) ? 'input' : 'activation',
        counts: histograms.counts(name),
        binWidth: s.binWidth,
        min: s.min,
        max: s.max,
        count: s.count,
        nanCount: s.nanCount,
        infCount: s.posInfCount + s.negInfCount,
        thresholds: {
          entropy: all.entropy.get(name) ?? 0,
          minmax: all.minmax.get(name) ?? 0,
          percentile: all.percentile.get(name) ?? 0,
          mse: all.mse.get(name) ?? 0,
        },
        amax: result.tensors[name]?.amax,
      },
      result.algorithm,
    );
  });
  const report: CalibrationReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'trt-calibrator', version: packageVersion },
    createdAt: new Date().toISOString(),
    model: { path: model, inputs: prepared.inputs.map((i) => ({ name: i.name, shape: [...i.shape], dtype: i.dtype })) },
    backend: result.backend,
    algorithm: result.algorithm,
    requestedAlgorithm: result.auto ? 'auto' : result.algorithm,
    percentile,
    tensorrtVersion: result.tensorrtVersion.split('.').slice(0, 2).join('.'),
    batchSize: result.batchSize,
    batches: result.batches,
    imagesUsed: result.images.used,
    skippedImages: result.images.skipped.map((s) => ({ file: s.file, reason: s.reason })),
    timings: {
      totalMs: result.timings.prepareMs + result.timings.calibrateMs,
      inferenceMs: result.timings.inferenceMs,
      histogramMs: result.timings.histogramMs,
      thresholdsMs: result.timings.thresholdMs,
    },
    tensors,
    tensorsWithoutScale: [],
    warnings: [],
    ...(result.auto ? { accuracy: accuracyReport(result.auto) } : {}),
  };
  report.tensorsWithoutScale = listTensorsWithoutScale(
    tensors,
    prepared.skippedTensors.map((t) => ({ name: t.name, reason: t.reason })),
  );
  report.warnings = [...standardWarnings(report), ...result.warnings];
  return report;
}
