/**
 * Worker thread of evaluate (lib/onnx/evaluate.ts): holds one ONNX Runtime session, of the FP32 model or of one
 * Q/DQ model, created by createQdqSession (Q/DQ pairs computed in float), and runs it on request, handing the
 * fetched float tensors back by transfer (no copy).
 *
 * Why a worker per model: onnxruntime-node 1.30 runs `session.run` synchronously on the calling thread, so models
 * sharing one thread run one after the other, each with ONNX Runtime threads that meet at a barrier in every
 * operator. In workers the models run at the same time with one ONNX Runtime thread each on a small machine; on
 * the 2-core VM of bench/evaluate, under other users' load, the detector's FP32 + Q/DQ pair took 165 ms per image
 * this way against 400 ms one after the other with two threads each.
 *
 * workerData: {@link EvaluateWorkerInit}. Messages: {@link EvaluateWorkerRequest} in, {@link EvaluateWorkerReply} out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { onnx } from 'onnx-proto';
import type * as ortTypes from 'onnxruntime-node';
import { RUN_BUSY, RUN_IDLE } from '../backends/builtin/protocol';

/** workerData of the evaluate worker. */
export interface EvaluateWorkerInit {
  /** The model to run. */
  bytes: Uint8Array;
  /** Tensors inside the model to add as graph outputs (done here, in parallel with the other workers). */
  extraOutputs: string[];
  /** Where the model came from, for error messages. */
  source: string;
  /** ONNX Runtime intra-op threads. */
  threads: number;
  /**
   * One Int32 shared with the parent: RUN_IDLE, RUN_BUSY while `session.run` executes, or RUN_EXITING once the
   * process exits (no new run may start); the values of lib/backends/builtin/protocol.ts.
   */
  state: SharedArrayBuffer;
}

/** A tensor crossing the thread boundary: its bytes travel as a transferred ArrayBuffer. */
export interface WorkerTensor {
  name: string;
  /** ONNX Runtime's element type ('float32', 'int64', …). */
  type: string;
  dims: number[];
  /** The elements; absent for an output that is not float32 (evaluate compares float32 values only). */
  data?: ArrayBuffer;
}

/** An error as it crosses the thread boundary. */
export interface EvaluateWorkerError {
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

/** Requests to the worker. */
export type EvaluateWorkerRequest =
  { type: 'run'; id: number; feeds: WorkerTensor[]; fetch: string[] } | { type: 'close'; id: number };

/** Replies of the worker, in request order. */
export type EvaluateWorkerReply =
  | { type: 'ready'; id: 0; outputNames: string[]; error?: EvaluateWorkerError }
  | { type: 'result'; id: number; outputs: WorkerTensor[] }
  | { type: 'error'; id: number; error: EvaluateWorkerError }
  | { type: 'closed'; id: number };

function toWorkerError(err: unknown): EvaluateWorkerError {
  const e = err as Error & { code?: string; details?: Record<string, unknown> };
  return { message: e?.message ?? String(err), code: e?.code, details: e?.details };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const init = workerData as EvaluateWorkerInit;
  const state = new Int32Array(init.state);
  // Loaded here, not at import: the session module turns load failures into ERR_MODEL naming node and op.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const { createQdqSession, ortLoadError } = require('./session') as typeof import('./session');
  const { decodeOnnxModel, encodeOnnxModel } = require('./model') as typeof import('./model');
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  /* eslint-enable @typescript-eslint/no-require-imports */
  let session: ortTypes.InferenceSession;
  let proto: onnx.ModelProto | undefined;
  try {
    let bytes = init.bytes;
    if (init.extraOutputs.length > 0) {
      proto = (await decodeOnnxModel(init.bytes)).proto;
      const graph = proto.graph as onnx.GraphProto;
      const have = new Set(graph.output.map((o) => o.name ?? ''));
      for (const name of init.extraOutputs)
        if (!have.has(name)) graph.output.push(onnx.ValueInfoProto.create({ name }));
      bytes = encodeOnnxModel(proto);
    }
    session = await createQdqSession(bytes, {
      source: init.source,
      intraOpNumThreads: init.threads,
      ...(proto ? { proto } : {}),
    });
  } catch (err) {
    // Name the node and operator: without extra outputs the proto is decoded only now, for this message.
    let error = err;
    if (!proto) {
      try {
        const decoded = (await decodeOnnxModel(init.bytes)).proto;
        error = ortLoadError((err as { cause?: unknown }).cause ?? err, decoded, init.source);
      } catch {
        // the bytes are not a model: the first error says so
      }
    }
    port.postMessage({ type: 'ready', id: 0, outputNames: [], error: toWorkerError(error) });
    return;
  }
  port.postMessage({ type: 'ready', id: 0, outputNames: [...session.outputNames] });

  const run = async (feeds: readonly WorkerTensor[], fetch: readonly string[]): Promise<WorkerTensor[]> => {
    const tensors: Record<string, ortTypes.Tensor> = {};
    for (const f of feeds) tensors[f.name] = new ort.Tensor(f.type as 'float32', typedArray(f) as never, f.dims);
    // Mark the run busy so that an exiting parent waits for it; refuse to start once the process exits.
    if (Atomics.compareExchange(state, 0, RUN_IDLE, RUN_BUSY) !== RUN_IDLE) throw new Error('the process is exiting');
    let results: ortTypes.InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(tensors, [...fetch]);
    } finally {
      Atomics.store(state, 0, RUN_IDLE);
      Atomics.notify(state, 0);
    }
    return fetch.map((name) => {
      const t = results[name];
      const dims = [...t.dims];
      if (t.type !== 'float32') return { name, type: t.type, dims };
      const data = t.data as Float32Array;
      // onnxruntime-node gives each output its own ArrayBuffer; a view into a larger one is copied out.
      const own =
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : (data.slice().buffer as ArrayBuffer);
      return { name, type: t.type, dims, data: own };
    });
  };

  const handle = async (msg: EvaluateWorkerRequest): Promise<void> => {
    if (msg.type === 'close') {
      await session.release().catch(() => undefined);
      port.postMessage({ type: 'closed', id: msg.id });
      port.close();
      return;
    }
    try {
      const outputs = await run(msg.feeds, msg.fetch);
      const transfer = [...new Set(outputs.flatMap((o) => (o.data ? [o.data] : [])))];
      port.postMessage({ type: 'result', id: msg.id, outputs }, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', id: msg.id, error: toWorkerError(err) });
    }
  };
  // One request at a time, in order: the parent sends the next run before this one is over.
  let queue = Promise.resolve();
  port.on('message', (msg: EvaluateWorkerRequest) => {
    queue = queue.then(() => handle(msg));
  });
}

function typedArray(t: WorkerTensor): ArrayBufferView {
  const data = t.data ?? new ArrayBuffer(0);
  switch (t.type) {
    case 'float32':
      return new Float32Array(data);
    case 'int32':
      return new Int32Array(data);
    case 'int64':
      return new BigInt64Array(data);
    case 'int8':
      return new Int8Array(data);
    case 'float16':
      return new Uint16Array(data);
    default:
      return new Uint8Array(data);
  }
}

void main();
