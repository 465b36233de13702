/** Messages between the builtin backend and its ONNX Runtime worker (lib/builtin/ort-worker.ts). */

/** workerData of the ONNX Runtime worker. */
export interface WorkerInit {
  /** The calibration model (activations exposed as outputs). */
  modelBytes: Uint8Array;
  /** Outputs to fetch each run: the float activations to calibrate. */
  outputNames: string[];
  /** ONNX Runtime intra-op threads; undefined lets ORT use every core. */
  intraOpNumThreads?: number;
  /** Where the model came from, for error messages. */
  source: string;
}

/** One input of a run: its bytes are transferred to the worker. */
export interface WorkerFeed {
  name: string;
  dtype: string;
  dims: number[];
  data: ArrayBuffer;
}

/** Parent → worker. */
export type WorkerRequest = { type: 'run'; id: number; feeds: WorkerFeed[] } | { type: 'close'; id?: number };

/** An error crossing the thread boundary (message, code and details survive; the stack does not). */
export interface WorkerError {
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** Worker → parent. */
export type WorkerReply =
  | { type: 'ready'; id: 0; error?: WorkerError }
  | { type: 'result'; id: number; outputs: Array<{ name: string; data: Float32Array }>; ms: number }
  | { type: 'error'; id: number; error: WorkerError };
