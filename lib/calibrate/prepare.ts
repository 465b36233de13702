/**
 * Stage 3 of calibrate(): everything the calibration pass needs, made ready — the run's data, the calibration
 * model with its ONNX Runtime (builtin backend) or the engine build options (TensorRT backend), and the histogram
 * set.
 */
import type { NativeEngineOptions } from '../binding';
import { prepareBuiltinPass, type BuiltinPass } from '../backends/builtin/pass';
import { prepareCalibrationModel, type CalibrationModel } from '../backends/builtin/calibration-model';
import { engineBuildOptions } from '../backends/tensorrt/engine';
import { HistogramSet } from '../histogram';
import { openData, type RunData } from './data';
import type { CalibrationJob } from './job';
import type { LoadedJob } from './model';

/** A prepared run: what stage 4 runs. Owns workers and sessions until {@link PreparedRun.close}. */
export interface PreparedRun {
  /** The factories. */
  readonly data: RunData;
  /** The calibration model (inputs with resolved shapes, the tensors to calibrate). */
  readonly calibrationModel: CalibrationModel;
  /** The builtin backend's pass (builtin backend only). */
  readonly builtin?: BuiltinPass;
  /** TensorRT's engine build (TensorRT backend only). */
  readonly engine?: NativeEngineOptions;
  /** Where the histograms go (builtin backend): the user's set to continue, or a new one. */
  readonly histograms: HistogramSet;
  /** Images per batch. */
  readonly batchSize: number;
  /** Milliseconds spent preparing (model load included). */
  readonly prepareMs: number;
  /** Releases the workers, the session and the factories this run created. */
  close(): Promise<void>;
}

/** Stage 3: opens the data and prepares the backend. Closes what it opened when it fails. */
export async function prepareRun(job: CalibrationJob, loaded: LoadedJob, startedAt: number): Promise<PreparedRun> {
  const { options } = job;
  const data = await openData(job, loaded);
  let builtin: BuiltinPass | undefined;
  try {
    const factory = data.calibration.factory;
    const shapes = Object.fromEntries(factory.inputs.map((spec) => [spec.name, [...spec.shape]]));
    const histograms = options.histograms ?? new HistogramSet();
    let calibrationModel: CalibrationModel;
    let engine: NativeEngineOptions | undefined;
    if (job.backend === 'builtin') {
      builtin = await prepareBuiltinPass({
        modelPath: job.model,
        model: loaded.model,
        shapes,
        calibrating: loaded.existing === undefined,
        inference: options.inference,
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        maxActivationBytes: options.maxActivationBytes,
        histograms,
      });
      calibrationModel = builtin.calibrationModel;
    } else {
      calibrationModel = await prepareCalibrationModel(job.model, { shapes, loaded: loaded.model });
      if (job.build) engine = engineBuildOptions(job.model, calibrationModel.inputs, options.inputShapes, job.build);
    }
    const pass = builtin;
    options.signal?.throwIfAborted();
    return {
      data,
      calibrationModel,
      ...(pass ? { builtin: pass } : {}),
      ...(engine ? { engine } : {}),
      histograms,
      batchSize: factory.inputs[0]?.shape[0] ?? 1,
      prepareMs: performance.now() - startedAt,
      close: async () => {
        await pass?.close();
        await data.close();
      },
    };
  } catch (err) {
    await builtin?.close();
    await data.close();
    throw err;
  }
}
