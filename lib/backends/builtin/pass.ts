/**
 * The builtin backend's calibration pass as calibrate() prepares it: the calibration model (every float activation
 * an output, but the derived ones), and the ONNX Runtime that runs it, either
 *   - 'native': a C++ session over ONNX Runtime's C API that the native builtin builder runs itself on the
 *     calibration thread (activations read in place and histogrammed on helper threads), or
 *   - 'worker': onnxruntime-node in a worker thread that histograms each batch's outputs there, asked per batch
 *     through the run's `process` callback; its histograms join the run's set at the end of the data.
 */
import * as os from 'node:os';
import type { NativeOrtSession } from '../../binding';
import { TrtCalibratorError } from '../../errors';
import { HistogramSet } from '../../histogram';
import type { OnnxModel } from '../../onnx/model';
import type { ProcessBatch } from '../../calibrator/run';
import { prepareCalibrationModel, type CalibrationModel, type OutputTypeProbe } from './calibration-model';
import { InferenceWorker } from './inference';
import { loadNativeOnnxRuntime, openOrtSession } from './native-ort';

/** What {@link prepareBuiltinPass} needs. */
export interface BuiltinPassOptions {
  /** The model file (for messages). */
  readonly modelPath: string;
  /** The loaded model. */
  readonly model: OnnxModel;
  /** Full input shapes (batch first) by name, as the calibration factory fills them. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** False when nothing is calibrated (a compatible cache exists): the model is prepared, nothing runs it. */
  readonly calibrating: boolean;
  /** How ONNX Runtime runs. */
  readonly inference: 'auto' | 'native' | 'worker';
  /** ONNX Runtime threads, when given. */
  readonly threads?: number;
  /** Most activation bytes per ONNX Runtime run before a batch is split. */
  readonly maxActivationBytes: number;
  /** The set the histograms go into (new, or the user's to continue). */
  readonly histograms: HistogramSet;
}

/** A prepared builtin pass. */
export interface BuiltinPass {
  /** The calibration model. */
  readonly calibrationModel: CalibrationModel;
  /** How ONNX Runtime runs; undefined when nothing is calibrated. */
  readonly mode?: 'native' | 'worker';
  /** The C++ session the native builder runs ('native'). */
  readonly session?: NativeOrtSession;
  /** The per-batch callback of the run ('worker'). */
  readonly process?: ProcessBatch;
  /** Sub-batches are possible: every input's batch dimension is left open by the model. */
  readonly splittable: boolean;
  /** Threads the native builder histograms on while ONNX Runtime runs the next sub-batch. */
  readonly histogramThreads: number;
  /** Milliseconds spent in the worker (ONNX Runtime, histograms); zeros for 'native' (the run reports those). */
  stats(): { inferenceMs: number; histogramMs: number };
  /** Ends the worker or releases the session. */
  close(): Promise<void>;
}

/**
 * Prepares the calibration model and the ONNX Runtime that will run it. The native session that tells the
 * activations' types is the one the pass runs (one session, created and destroyed off the JS thread, as ONNX
 * Runtime's library is loaded); the worker creates its own.
 * Rejects with ERR_ADDON_LOAD when 'native' is asked for and ONNX Runtime's library cannot be loaded, ERR_MODEL
 * when ONNX Runtime cannot load the model.
 */
export async function prepareBuiltinPass(options: BuiltinPassOptions): Promise<BuiltinPass> {
  const { calibrating, modelPath } = options;
  const native = calibrating && options.inference !== 'worker' ? await loadNativeOnnxRuntime() : undefined;
  if (calibrating && options.inference === 'native' && !native?.available) {
    throw new TrtCalibratorError(
      'ERR_ADDON_LOAD',
      `inference: 'native' needs ONNX Runtime's library from onnxruntime-node: ${native?.available === false ? native.reason : 'unavailable'}`,
    );
  }
  // The native pass histograms one run's activations while ONNX Runtime computes the next: the cores are shared
  // between the two (ONNX Runtime gets `threads` when given, else half). The histograms get the cores ONNX Runtime
  // leaves, at least half (16 cores, threads: 16 → 8: a single histogram thread made the detector 2.5× slower
  // there). On 2 cores that is one each: two histogram threads beside ONNX Runtime's one were 5 % slower end to end
  // (detector, 5 alternating runs each).
  const cores = os.availableParallelism();
  const ortThreads = options.threads ?? Math.max(1, Math.floor(cores / 2));
  const histogramThreads = Math.max(1, cores - ortThreads, Math.floor(cores / 2));
  let session: NativeOrtSession | undefined;
  const probe: OutputTypeProbe | undefined = native?.available
    ? async (bytes, proto) => {
        session = await openOrtSession(bytes, { fetch: [], threads: ortThreads, source: modelPath, proto });
        return new Map(session.outputs.map((o) => [o.name, o.type]));
      }
    : undefined;
  let calibrationModel: CalibrationModel;
  try {
    calibrationModel = await prepareCalibrationModel(modelPath, {
      shapes: options.shapes,
      loaded: options.model,
      ...(probe ? { probe } : {}),
    });
  } catch (err) {
    (session as NativeOrtSession | undefined)?.close();
    throw err;
  }
  // Sub-batches need a batch dimension the model leaves open (symbolic or unknown).
  const splittable = calibrationModel.inputs.every(
    (i) => i.dims === undefined || typeof i.dims[0] !== 'number' || i.dims[0] <= 0,
  );
  const base = { calibrationModel, splittable, histogramThreads };
  if (!calibrating) {
    session?.close();
    return { ...base, stats: () => ({ inferenceMs: 0, histogramMs: 0 }), close: async () => undefined };
  }
  if (session) {
    const s: NativeOrtSession = session;
    s.setFetch(calibrationModel.fetchPlan);
    return {
      ...base,
      mode: 'native',
      session: s,
      stats: () => ({ inferenceMs: 0, histogramMs: 0 }),
      close: async () => s.close(),
    };
  }
  const { histograms } = options;
  const specs = new Map(calibrationModel.inputs.map((i) => [i.name, i]));
  const worker = await InferenceWorker.start({
    modelBytes: calibrationModel.modelBytes,
    outputNames: calibrationModel.fetchPlan.filter((t): t is string => typeof t === 'string'),
    fetchPlan: calibrationModel.fetchPlan,
    intraOpNumThreads: options.threads,
    source: modelPath,
    maxActivationBytes: options.maxActivationBytes,
    splittable,
    // Continued histograms (the `histograms` option): the worker bins new activations as the continued set would,
    // at its widths and bin counts.
    binLayouts: Object.fromEntries(
      histograms
        .names()
        .filter((name) => !specs.has(name))
        .map((name) => [name, histograms.stats(name)] as const)
        .filter(([, stats]) => stats.binWidth > 0)
        .map(([name, stats]) => [name, { width: stats.binWidth, bins: stats.nbins }] as const),
    ),
  });
  let inferenceMs = 0;
  let histogramMs = 0;
  // The activations are histogrammed in the worker (bounded memory, see ort-worker.ts); at the end of the data
  // (batchIndex -1) its histograms join the run's set before the native builder picks amax.
  const process: ProcessBatch = async (buffers, batchIndex) => {
    if (batchIndex < 0) {
      histograms.merge(new HistogramSet(await worker.histograms()));
      return {};
    }
    const inputs = Object.entries(buffers).map(([name, view]) => ({
      name,
      dtype: specs.get(name)?.dtype ?? 'float32',
      dims: [...(specs.get(name)?.shape ?? [])],
      view,
    }));
    const stats = await worker.run(inputs);
    inferenceMs += stats.ms;
    histogramMs += stats.histogramMs;
    return {};
  };
  return {
    ...base,
    mode: 'worker',
    process,
    stats: () => ({ inferenceMs, histogramMs }),
    close: () => worker.close(),
  };
}
