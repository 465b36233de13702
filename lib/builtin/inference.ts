/**
 * The main-thread side of the builtin backend's ONNX Runtime worker (see ort-worker.ts for why a worker).
 *
 * Threading / lifetime: one worker per calibration run, started by {@link InferenceWorker.start} and ended by
 * {@link InferenceWorker.close} (always called by the run, success or not). Requests are answered in order;
 * a crashed worker rejects every pending request.
 */
import { Worker } from 'node:worker_threads';
import { TrtCalibratorError, type ErrorCode } from '../errors';
import { workerScript } from '../util/worker-script';
import type { WorkerError, WorkerFeed, WorkerInit, WorkerReply } from './protocol';

/** One input of a batch for {@link InferenceWorker.run}. */
export interface InferenceInput {
  name: string;
  dtype: string;
  dims: readonly number[];
  /** The batch's data; copied into a transferable buffer (the caller's memory may be native slot memory). */
  view: ArrayBufferView;
}

/** What one batch produced: activations by name (buffers now owned by this thread) and ORT's run time. */
export interface InferenceOutput {
  outputs: Record<string, Float32Array>;
  ms: number;
}

function toError(err: WorkerError | undefined, fallback: string): TrtCalibratorError {
  if (!err) return new TrtCalibratorError('ERR_INTERNAL', fallback);
  const code = (err.code?.startsWith('ERR_') ? err.code : 'ERR_MODEL') as ErrorCode;
  const message = err.code ? err.message : `ONNX Runtime failed to run the model: ${err.message}`;
  return new TrtCalibratorError(code, message, { details: err.details });
}

/** Runs the calibration model in a worker thread, one batch at a time. */
export class InferenceWorker {
  private readonly pending = new Map<number, { resolve: (o: InferenceOutput) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exitError: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'result') {
        const outputs: Record<string, Float32Array> = {};
        for (const o of msg.outputs) outputs[o.name] = o.data;
        p.resolve({ outputs, ms: msg.ms });
      } else {
        p.reject(toError(msg.error, 'ONNX Runtime worker failed'));
      }
    });
    const failAll = (err: Error) => {
      this.exitError ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => failAll(new TrtCalibratorError('ERR_MODEL', `ONNX Runtime worker crashed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => failAll(new TrtCalibratorError('ERR_INTERNAL', `ONNX Runtime worker exited (code ${code})`)));
  }

  /** Starts a worker and creates the session; rejects with ERR_MODEL (node and op named) if ORT cannot load it. */
  static async start(init: WorkerInit): Promise<InferenceWorker> {
    const worker = new Worker(workerScript('builtin/ort-worker'), { workerData: init });
    const ready = await new Promise<WorkerReply & { type: 'ready' }>((resolve, reject) => {
      const onMessage = (msg: WorkerReply) => {
        if (msg.type !== 'ready') return;
        cleanup();
        resolve(msg);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new TrtCalibratorError('ERR_MODEL', `ONNX Runtime worker failed to start: ${err.message}`, { cause: err }));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new TrtCalibratorError('ERR_INTERNAL', `ONNX Runtime worker exited during start (code ${code})`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    if (ready.error) {
      await worker.terminate();
      throw toError(ready.error, 'ONNX Runtime could not load the model');
    }
    return new InferenceWorker(worker);
  }

  /** Runs one batch. Input bytes are copied (the source may be reused at once); outputs arrive without a copy. */
  run(inputs: readonly InferenceInput[]): Promise<InferenceOutput> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    const feeds: WorkerFeed[] = inputs.map((i) => {
      const bytes = new Uint8Array(i.view.byteLength);
      bytes.set(new Uint8Array(i.view.buffer, i.view.byteOffset, i.view.byteLength));
      return { name: i.name, dtype: i.dtype, dims: [...i.dims], data: bytes.buffer };
    });
    return new Promise<InferenceOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, feeds }, feeds.map((f) => f.data));
    });
  }

  /** Ends the worker (pending requests reject). Safe to call twice. */
  async close(): Promise<void> {
    this.exitError ??= new TrtCalibratorError('ERR_INTERNAL', 'ONNX Runtime worker closed');
    await this.worker.terminate();
  }
}
