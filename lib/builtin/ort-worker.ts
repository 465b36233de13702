/**
 * Worker thread of the builtin backend: runs the calibration model with ONNX Runtime (onnxruntime-node, CPU).
 *
 * Why a worker: onnxruntime-node 1.30 runs `session.run` synchronously on the calling thread (inside a
 * setImmediate), so a calibration pass on the main thread would stall the event loop for the whole inference of
 * every batch. Here only this worker's loop blocks. Activations go back to the main thread by transferring
 * their ArrayBuffers (no copy), where the native builder thread reads them in place into the histograms.
 *
 * Protocol (messages from the parent):
 *   { type: 'run', id, feeds: [{ name, dtype, dims, data: ArrayBuffer }] }   -> { type: 'result', id, outputs, ms }
 *                                                                            or { type: 'error', id, error }
 *   { type: 'close' } -> releases the session and closes the port.
 * workerData: { modelBytes: Uint8Array, outputNames: string[], intraOpNumThreads?: number, source: string }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as ortTypes from 'onnxruntime-node';
import type { WorkerError, WorkerFeed, WorkerInit, WorkerReply, WorkerRequest } from './protocol';

const init = workerData as WorkerInit;

function typedView(dtype: string, data: ArrayBuffer): ortTypes.Tensor.DataType {
  switch (dtype) {
    case 'float32':
      return new Float32Array(data);
    case 'int32':
      return new Int32Array(data);
    case 'int64':
      return new BigInt64Array(data);
    case 'int8':
      return new Int8Array(data);
    case 'uint8':
      return new Uint8Array(data);
    case 'bool':
      return new Uint8Array(data);
    case 'float16':
      return new Uint16Array(data);
    default:
      throw new Error(`unsupported input dtype ${dtype}`);
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Loaded here, not at import: the session module reports load failures as ERR_MODEL naming node and op.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCpuSession } = require('../onnx/session') as typeof import('../onnx/session');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof ortTypes;
  let session: ortTypes.InferenceSession | undefined;
  let sessionError: unknown;
  try {
    session = await createCpuSession(init.modelBytes, { source: init.source, intraOpNumThreads: init.intraOpNumThreads });
  } catch (err) {
    sessionError = err;
  }
  const reply = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  const toWorkerError = (err: unknown): WorkerError => {
    const e = err as Error & { code?: string; details?: Record<string, unknown> };
    return { message: e?.message ?? String(err), code: e?.code, details: e?.details };
  };
  const errorReply = (id: number, err: unknown): WorkerReply => ({ type: 'error', id, error: toWorkerError(err) });
  reply({ type: 'ready', id: 0, error: sessionError ? toWorkerError(sessionError) : undefined });
  port.on('message', async (msg: WorkerRequest) => {
    if (msg.type === 'close') {
      await session?.release().catch(() => undefined);
      port.close();
      return;
    }
    if (!session) {
      reply(errorReply(msg.id, sessionError));
      return;
    }
    try {
      const feeds: Record<string, ortTypes.Tensor> = {};
      for (const f of msg.feeds as WorkerFeed[]) {
        feeds[f.name] = new ort.Tensor(f.dtype === 'bool' ? 'bool' : (f.dtype as 'float32'), typedView(f.dtype, f.data), f.dims);
      }
      const t0 = performance.now();
      const results = await session.run(feeds, init.outputNames);
      const ms = performance.now() - t0;
      const outputs: Array<{ name: string; data: Float32Array }> = [];
      const transfer: ArrayBuffer[] = [];
      for (const name of init.outputNames) {
        const t = results[name];
        if (!t || t.type !== 'float32') continue;
        let data = t.data as Float32Array;
        // Transfer only a buffer the array owns entirely; otherwise copy (rare: ORT gives each output its own).
        if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
        outputs.push({ name, data });
        transfer.push(data.buffer as ArrayBuffer);
      }
      reply({ type: 'result', id: msg.id, outputs, ms }, transfer);
    } catch (err) {
      reply(errorReply(msg.id, err));
    }
  });
}

void main();
