/**
 * Stage 2 of calibrate(): what exists before any calibration. The cache is read first, as TensorRT's builder does
 * (a compatible one means no calibration at all); then the ONNX model and its declared inputs.
 */
import { cacheProblems } from '../cache/compat';
import { parseCache, type CalibrationCache } from '../cache/format';
import { loadOnnxModel, modelInputs, type ModelInput, type OnnxModel } from '../onnx/model';
import { checkScalesBelongTo } from '../onnx/qdq';
import { mention, type Algorithm } from '../options';
import type { CalibrationJob } from './job';
import { preflight } from './preflight';

/** What stage 2 found. */
export interface LoadedJob {
  /** A compatible cache already there (then nothing is calibrated), unless `overwrite`. */
  readonly existing?: CalibrationCache;
  /** The algorithm of the run: the job's, or for 'auto' with an existing cache, the cache's. */
  readonly algorithm: Algorithm;
  /** The ONNX model. */
  readonly model: OnnxModel;
  /** Its declared inputs (initializers excluded). */
  readonly inputs: readonly ModelInput[];
  /** True when algorithm 'auto' will compare algorithms (no existing cache). */
  readonly comparing: boolean;
}

/**
 * Stage 2: checks that every input is there and every output writable (preflight.ts), reads the existing cache (refused with ERR_CACHE_VERSION / ERR_CACHE_ALGORITHM when it is for another
 * TensorRT major.minor or algorithm) and loads the model (ERR_IO, ERR_MODEL).
 */
export async function loadJob(job: CalibrationJob): Promise<LoadedJob> {
  await preflight(job);
  let existing: CalibrationCache | undefined;
  let algorithm = job.algorithm;
  if (!job.options.overwrite) {
    const bytes = await job.cache.access.read();
    if (bytes) {
      existing = parseCache(bytes, { file: job.cache.path });
      const [problem] = cacheProblems(
        existing,
        job.tensorrt,
        job.autoRequested ? undefined : job.cache.algorithm,
        `${mention('overwrite', { api: 'true' })} recalibrates and replaces it, or give another ${mention('cache')} path`,
      );
      if (problem) throw problem;
      if (job.autoRequested) {
        algorithm = existing.algorithm === 'MinMaxCalibration' ? 'minmax' : 'entropy';
        job.warnings.push(
          `algorithm "auto" compared nothing: the existing cache (${existing.algorithm}) was used as is; pass ${mention('overwrite', { api: 'true' })} to calibrate and compare`,
        );
      }
    }
  }
  job.options.signal?.throwIfAborted();
  const model = await loadOnnxModel(job.model);
  // A cache of another model would be "compatible" by header alone and used as is: TensorRT would then find the
  // scales of tensors it does not have and none for its own.
  if (existing)
    checkScalesBelongTo(
      model.proto,
      new Map(existing.entries.map((e) => [e.name, e.scale])),
      job.model,
      `Nothing was written; ${mention('overwrite', { api: 'true' })} recalibrates this model and replaces the cache, or give another ${mention('cache')} path.`,
    );
  return {
    ...(existing ? { existing } : {}),
    algorithm,
    model,
    inputs: modelInputs(model.proto),
    comparing: job.autoRequested && !existing,
  };
}
