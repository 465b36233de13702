/**
 * Stage 1 of calibrate(): resolve the options into a job. Every option is checked here, before any file is read
 * or any worker starts; the decisions that need no I/O are made here too (backend, the pass's algorithm, the
 * TensorRT version of the cache header, where the cache lives).
 */
import * as path from 'node:path';
import { resolveBackend, type Backend } from '../backends/tensorrt/backend';
import { builderSettings, tensorrtCalibrator, type BuilderSettings } from '../backends/tensorrt/flags';
import type { CacheAlgorithm } from '../cache/format';
import { cacheAccess, type CacheAccess } from '../cache/store';
import { formatTensorRTVersion, parseTensorRTVersion, type TensorRTVersion } from '../cache/version';
import { tensorrtCapabilities } from '../capabilities';
import { invalidOption } from '../errors';
import {
  CALIBRATE_OPTIONS,
  PREPROCESS_OPTIONS,
  mention,
  resolveOptions,
  type Algorithm,
  type ResolvedOf,
} from '../options';
import type { CalibrateOptions, CalibrationSource } from './types';

/** TensorRT version written into cache headers when none is given and none is compiled in (JetPack 6's). */
export const DEFAULT_TENSORRT_VERSION = '10.3.0';

/**
 * The options whose defaults are decided later, from the model and the data (image-input.ts): the preprocessing
 * (a preset or the model may set it; the image pipeline applies the static defaults last) and the batch size (a model
 * with a fixed batch dimension sets it).
 */
const DECIDED_LATER = [...Object.keys(PREPROCESS_OPTIONS), 'batchSize'] as Array<
  keyof typeof PREPROCESS_OPTIONS | 'batchSize'
>;
type DecidedLater = (typeof DECIDED_LATER)[number];

/** calibrate()'s options after checking, with their static defaults (but those decided later). */
export type ResolvedCalibrateOptions = Omit<ResolvedOf<typeof CALIBRATE_OPTIONS>, DecidedLater> &
  Partial<Pick<ResolvedOf<typeof CALIBRATE_OPTIONS>, DecidedLater>>;

/** What stage 1 decides: the input of every later stage. */
export interface CalibrationJob {
  /** The ONNX model's path, as given. */
  readonly model: string;
  /** Where the calibration data comes from. */
  readonly source: CalibrationSource;
  /** The checked options. */
  readonly options: ResolvedCalibrateOptions;
  /** The backend that runs. */
  readonly backend: Backend;
  /** True for `algorithm: 'auto'`. */
  readonly autoRequested: boolean;
  /** The algorithm of the calibration pass (entropy for 'auto' until one is chosen). */
  readonly algorithm: Algorithm;
  /** The TensorRT version of the cache header. */
  readonly tensorrt: TensorRTVersion;
  /** The cache: where it is read from and written to, and its header's algorithm. */
  readonly cache: { readonly access: CacheAccess; readonly path?: string; readonly algorithm: CacheAlgorithm };
  /** TensorRT's build settings (TensorRT backend only). */
  readonly build?: BuilderSettings;
  /** Warnings found so far (the result's `warnings` starts with them). */
  readonly warnings: string[];
  /** Decisions made for the user from the model and the data, one line each (the result's `notes`). */
  readonly notes: string[];
}

/** `<model dir>/<model name>.calibration.cache`. */
export function defaultCachePath(modelPath: string): string {
  const parsed = path.parse(path.resolve(modelPath));
  return path.join(parsed.dir, `${parsed.name}.calibration.cache`);
}

/**
 * The cache header's calibrator name for an algorithm. TensorRT only reads a cache whose header names the algorithm
 * of the calibrator it is given: minmax scales go with IInt8MinMaxCalibrator, everything else with
 * IInt8EntropyCalibrator2 (the scales are just scales).
 */
export function cacheAlgorithmFor(algorithm: Algorithm): CacheAlgorithm {
  return algorithm === 'minmax' ? 'MinMaxCalibration' : 'EntropyCalibration2';
}

/** Options that only mean something with another one: refused when that one is absent, before any work. */
function checkCoherent(input: CalibrateOptions, options: ResolvedCalibrateOptions, backend: Backend): void {
  if (options.algorithm !== 'auto') {
    for (const key of ['holdout', 'evaluationSource', 'evaluationLabels'] as const) {
      if (input[key] !== undefined)
        throw invalidOption(
          key,
          `to be used with ${mention('algorithm', { api: "'auto'", cli: 'auto' })}`,
          input[key],
          'range',
        );
    }
  }
  if (backend === 'builtin') {
    for (const key of ['tensorrtBuild', 'inputShapes', 'onLog'] as const) {
      if (input[key] !== undefined)
        throw invalidOption(
          key,
          `to be used with the TensorRT backend (this run uses the builtin one)`,
          input[key],
          'range',
        );
    }
  } else {
    for (const key of ['inference', 'threads', 'maxActivationBytes', 'histograms', 'report'] as const) {
      if (input[key] !== undefined)
        throw invalidOption(
          key,
          `to be used with the builtin backend (TensorRT's builder keeps its own histograms; ${mention('backend', { api: "'builtin'", cli: 'builtin' })} for this)`,
          input[key],
          'range',
        );
    }
  }
}

/** Stage 1: checks every option and decides what needs no I/O. Throws ERR_INVALID_OPTION / ERR_TENSORRT_UNAVAILABLE. */
export function resolveJob(model: string, source: CalibrationSource, input: CalibrateOptions): CalibrationJob {
  if (typeof model !== 'string' || model === '') throw invalidOption('model', 'a path to an .onnx file', model);
  const options: ResolvedCalibrateOptions = resolveOptions(CALIBRATE_OPTIONS, input, 'calibrate()', '', DECIDED_LATER);
  const warnings: string[] = [];
  const notes: string[] = [];
  // Only TensorRT's part: capabilities() would also load ONNX Runtime's library here, on the JS thread.
  const caps = { tensorrt: tensorrtCapabilities() };
  // 'auto' picks TensorRT's own builder when the addon has it; asking for TensorRT (or an engine) without it
  // throws ERR_TENSORRT_UNAVAILABLE saying how to install TensorRT or set TENSORRT_ROOT and rebuild.
  // algorithm 'auto' needs the builtin backend's histograms, so backend 'auto' resolves to builtin for it.
  const autoRequested = options.algorithm === 'auto';
  // What only the builtin backend does (algorithm auto, percentile and mse, a report with histograms, continued
  // histograms) makes backend 'auto' the builtin one.
  const needsBuiltin =
    autoRequested ||
    options.algorithm === 'percentile' ||
    options.algorithm === 'mse' ||
    options.report !== undefined ||
    options.histograms !== undefined;
  const backend = resolveBackend(
    needsBuiltin && options.backend === 'auto' && !options.engine ? 'builtin' : options.backend,
    caps.tensorrt,
    { engine: options.engine },
  );
  checkCoherent(input, options, backend);
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
  const build = backend === 'tensorrt' ? builderSettings(options.tensorrtBuild ?? {}) : undefined;
  // TensorRT's calibrators compute entropy or minmax only: anything else is refused before any work.
  if (backend === 'tensorrt') tensorrtCalibrator(options.algorithm);
  // With 'auto' the pass runs with entropy; the chosen algorithm's cache is written after the comparison.
  const algorithm: Algorithm = options.algorithm === 'auto' ? 'entropy' : options.algorithm;
  let versionText = options.tensorrt;
  if (versionText === undefined) {
    versionText = caps.tensorrt.compiled ? caps.tensorrt.version : DEFAULT_TENSORRT_VERSION;
    if (!caps.tensorrt.compiled) {
      warnings.push(
        `The cache header says TensorRT ${DEFAULT_TENSORRT_VERSION} (no TensorRT compiled in and no ${mention('tensorrt')} option): ` +
          `TensorRT only reads caches of its own major.minor, so pass the version you deploy with (e.g. ${mention('tensorrt', { api: '"8.6"', cli: '8.6' })}).`,
      );
    }
  }
  const tensorrt = parseTensorRTVersion(versionText, 'tensorrt');
  // TensorRT 11 removed calibrators: it reads no calibration cache. Q/DQ carries the scales there, so a run for 11
  // writes the Q/DQ model and no cache; without `qdq` it would produce nothing usable.
  const noCache = tensorrt.major >= 11;
  if (noCache && !options.qdq) {
    throw invalidOption(
      'tensorrt',
      `a TensorRT version with a calibrator (8.5-10.x): TensorRT ${formatTensorRTVersion(tensorrt)} reads no calibration cache. For TensorRT 11 write a Q/DQ model instead (${mention('qdq', { api: "'model.qdq.onnx'", cli: 'model.qdq.onnx' })}): it carries the same scales and TensorRT 11 builds it with explicit quantization`,
      versionText,
      'range',
    );
  }
  if (noCache) {
    if (options.cache !== undefined)
      throw invalidOption(
        'cache',
        `no cache with TensorRT ${formatTensorRTVersion(tensorrt)} (it reads none; the Q/DQ model carries the scales)`,
        options.cache,
        'range',
      );
    notes.push(
      `no calibration cache written: TensorRT ${formatTensorRTVersion(tensorrt)} reads none; the Q/DQ model carries the scales`,
    );
  }
  const cacheOption = noCache
    ? { read: async () => null, write: async () => undefined }
    : (options.cache ?? defaultCachePath(model));
  return {
    model,
    source,
    options,
    backend,
    autoRequested,
    algorithm,
    tensorrt,
    cache: {
      // One reader/writer for a path or a store: a missing or empty file is "no cache", writes are atomic.
      access: cacheAccess(cacheOption),
      ...(typeof cacheOption === 'string' ? { path: cacheOption } : {}),
      algorithm: cacheAlgorithmFor(algorithm),
    },
    ...(build ? { build } : {}),
    warnings,
    notes,
  };
}

/** The header version as messages and results show it (`'10.3.0'`). */
export function versionText(job: CalibrationJob): string {
  return formatTensorRTVersion(job.tensorrt);
}
