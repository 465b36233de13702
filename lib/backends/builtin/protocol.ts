/** Messages between the builtin backend and its ONNX Runtime worker (lib/backends/builtin/ort-worker.ts). */
import type { DerivedTensor } from './derived';

/** workerData of the ONNX Runtime worker. */
export interface WorkerInit {
  /** The calibration model (activations exposed as outputs). */
  modelBytes: Uint8Array;
  /** Outputs to fetch each run: the float activations to calibrate, but the derived ones. */
  outputNames: string[];
  /**
   * The activations in graph order, each derived one as its {@link DerivedTensor} (computed from a fetched one
   * while histogramming it): CalibrationModel.fetchPlan.
   */
  fetchPlan: ReadonlyArray<string | DerivedTensor>;
  /** ONNX Runtime intra-op threads; undefined lets ORT use every core. */
  intraOpNumThreads?: number;
  /** Where the model came from, for error messages. */
  source: string;
  /**
   * Largest activation bytes one ONNX Runtime run may produce: a batch whose activations exceed it runs as
   * sub-batches of fewer images (when the model's batch dimension is dynamic), given to the histograms as one batch
   * in parts (the same histograms as the whole batch). 0 = never split.
   */
  maxActivationBytes: number;
  /** Whether every input's first dimension is dynamic, so a batch can run as smaller sub-batches. */
  splittable: boolean;
  /**
   * Bin width and bin count to start the worker's histograms with, by tensor (from histograms the run continues,
   * those with a width): the new data then lands in the bins it would have in the continued set, so merging it
   * into that set equals adding it there.
   */
  binLayouts: Record<string, { width: number; bins: number }>;
  /**
   * One Int32 shared with the parent: {@link RUN_IDLE}, {@link RUN_BUSY} while `session.run` executes, or
   * {@link RUN_EXITING} once the process is exiting (no new run may start).
   */
  state: SharedArrayBuffer;
}

/** The worker is between runs: it may be terminated safely. */
export const RUN_IDLE = 0;
/** `session.run` is executing: terminating the worker now would abort the process (onnxruntime-node 1.30). */
export const RUN_BUSY = 1;
/** The process is exiting: the worker must not start another run. */
export const RUN_EXITING = 2;

/** One input of a batch: its bytes are transferred to the worker. `dims[0]` is the batch size. */
export interface WorkerFeed {
  name: string;
  dtype: string;
  dims: number[];
  data: ArrayBuffer;
}

/**
 * Parent → worker. `run`: one batch; its activations go into the worker's histograms. `histograms`: the
 * worker's histograms, serialized (HistogramSet format), at the end of the data.
 */
export type WorkerRequest =
  | { type: 'run'; id: number; feeds: WorkerFeed[] }
  | { type: 'histograms'; id: number }
  | { type: 'close'; id?: number };

/** An error crossing the thread boundary (message, code and details survive; the stack does not). */
export interface WorkerError {
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** Worker → parent. */
export type WorkerReply =
  | { type: 'ready'; id: 0; error?: WorkerError }
  | { type: 'result'; id: number; ms: number; histogramMs: number; subBatch: number }
  | { type: 'histograms'; id: number; bytes: Uint8Array }
  | { type: 'error'; id: number; error: WorkerError };
