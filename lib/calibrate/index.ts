/**
 * `calibrate(model, images | factory | { input: factory }, options)`: the main job, as five named stages —
 *   1. resolveJob    (job.ts)      every option checked, the decisions that need no I/O;
 *   2. loadJob       (model.ts)    the existing cache (TensorRT reads it first), the ONNX model;
 *   3. prepareRun    (prepare.ts)  the data, the calibration model and its ONNX Runtime, or TensorRT's build;
 *   4. runBackend    (run.ts)      the calibration pass through the native calibrator;
 *   5. writeOutputs  (outputs.ts)  auto's choice, the result, the engine, the Q/DQ model, the report.
 */
import { loadJob } from './model';
import { resolveJob } from './job';
import { prepareRun } from './prepare';
import { runBackend } from './run';
import { writeOutputs } from './outputs';
import type { CalibrateOptions, CalibrationResult, CalibrationSource } from './types';

export type {
  Algorithm,
  CalibrateOptions,
  CalibrationResult,
  CalibrationSource,
  InputOptions,
  TensorScale,
} from './types';
export { DEFAULT_TENSORRT_VERSION } from './job';
export { DEFAULT_MAX_DECODE_WORKERS } from './data';
export { DEFAULT_MAX_ACTIVATION_BYTES } from '../options';

/**
 * Calibrates `model` (an ONNX file) with `source` and writes a TensorRT calibration cache.
 *
 * `source` is a directory of images (for a model with one float input; preprocess with the options), a
 * {@link BatchFactory}, or factories by input name for multi-input models. An existing compatible cache is used
 * without recalibrating, as TensorRT does (`overwrite: true` recalibrates); a cache for another TensorRT
 * major.minor or algorithm is refused (ERR_CACHE_VERSION / ERR_CACHE_ALGORITHM). Every option is checked before any
 * work starts (ERR_INVALID_OPTION).
 *
 * Never blocks the event loop for long: decoding runs in worker threads, ONNX Runtime and the histograms on native
 * threads (or a worker). A failed or aborted run writes nothing.
 */
export async function calibrate(
  model: string,
  source: CalibrationSource,
  options: CalibrateOptions = {},
): Promise<CalibrationResult> {
  const stack = new Error().stack; // the caller's stack, attached to errors that surface from other threads
  const t0 = performance.now();
  try {
    const job = resolveJob(model, source, options);
    job.options.signal?.throwIfAborted();
    const tLoad = performance.now();
    const loaded = await loadJob(job);
    const prepared = await prepareRun(job, loaded, tLoad);
    try {
      const pass = await runBackend(job, loaded, prepared);
      const result = await writeOutputs(job, loaded, prepared, pass);
      result.timings.totalMs = performance.now() - t0;
      return result;
    } finally {
      await prepared.close();
    }
  } catch (err) {
    if (err instanceof Error && stack && !err.stack?.includes('\n    at calibrate'))
      err.stack = `${err.stack}\n    --- calibrate() called from ---${stack.slice(stack.indexOf('\n'))}`;
    throw err;
  }
}
