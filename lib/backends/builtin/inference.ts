/**
 * The main-thread side of the builtin backend's ONNX Runtime worker (see ort-worker.ts for why a worker, and
 * why the activation histograms are built there).
 *
 * Threading / lifetime: one worker per calibration run, started by {@link InferenceWorker.start} and ended by
 * {@link InferenceWorker.close} (always called by the run, success or not). Requests are answered in order;
 * a crashed worker rejects every pending request.
 */
import { Worker } from 'node:worker_threads';
import { TrtCalibratorError, type ErrorCode } from '../../errors';
import { terminateWorker, workerScript } from '../../util/worker-script';
import {
  RUN_BUSY,
  RUN_EXITING,
  RUN_IDLE,
  type WorkerError,
  type WorkerFeed,
  type WorkerInit,
  type WorkerReply,
  type WorkerRequest,
} from './protocol';

/** One input of a batch for {@link InferenceWorker.run}. */
export interface InferenceInput {
  name: string;
  dtype: string;
  /** Full dims, batch first. */
  dims: readonly number[];
  /** The batch's data; copied into a transferable buffer (the caller's memory may be native slot memory). */
  view: ArrayBufferView;
}

/** What one batch cost: ONNX Runtime time, histogram time (both ms, in the worker) and the sub-batch used. */
export interface InferenceStats {
  ms: number;
  histogramMs: number;
  subBatch: number;
}

function toError(err: WorkerError | undefined, fallback: string): TrtCalibratorError {
  if (!err) return new TrtCalibratorError('ERR_INTERNAL', fallback);
  const code = (err.code?.startsWith('ERR_') ? err.code : 'ERR_MODEL') as ErrorCode;
  const message = err.code ? err.message : `ONNX Runtime failed to run the model: ${err.message}`;
  return new TrtCalibratorError(code, message, { details: err.details });
}

type Pending = { resolve: (reply: WorkerReply) => void; reject: (e: Error) => void };

/** Runs the calibration model in a worker thread, one batch at a time, histogramming its activations there. */
export class InferenceWorker {
  private readonly pending = new Map<number, Pending>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;
  private exitError: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly waitForRunOnExit: () => void,
  ) {
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(toError(msg.error, 'ONNX Runtime worker failed'));
      else p.resolve(msg);
    });
    const failAll = (err: Error) => {
      this.exitError ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) =>
      failAll(new TrtCalibratorError('ERR_MODEL', `ONNX Runtime worker crashed: ${err.message}`, { cause: err })),
    );
    worker.on('exit', (code) =>
      failAll(new TrtCalibratorError('ERR_INTERNAL', `ONNX Runtime worker exited (code ${code})`)),
    );
  }

  /** Starts a worker and creates the session; rejects with ERR_MODEL (node and op named) if ORT cannot load it. */
  static async start(options: Omit<WorkerInit, 'state'>): Promise<InferenceWorker> {
    const init: WorkerInit = { ...options, state: new SharedArrayBuffer(4) };
    const state = new Int32Array(init.state);
    // process.exit() (here or in a worker_threads parent) terminates this worker. If that happens while
    // session.run executes, onnxruntime-node 1.30 aborts the process; so on exit, wait (synchronously, as 'exit'
    // handlers must) until the current run is over and keep new ones from starting. Bounded at 60 s.
    const waitForRunOnExit = () => {
      const deadline = Date.now() + 60000;
      while (Atomics.compareExchange(state, 0, RUN_IDLE, RUN_EXITING) === RUN_BUSY && Date.now() < deadline) {
        Atomics.wait(state, 0, RUN_BUSY, 1000);
      }
    };
    process.on('exit', waitForRunOnExit);
    const worker = new Worker(workerScript('backends/builtin/ort-worker'), { workerData: init });
    let ready: WorkerReply & { type: 'ready' };
    try {
      ready = await new Promise<WorkerReply & { type: 'ready' }>((resolve, reject) => {
        const onMessage = (msg: WorkerReply) => {
          if (msg.type !== 'ready') return;
          cleanup();
          resolve(msg);
        };
        const onError = (err: Error) => {
          cleanup();
          reject(
            new TrtCalibratorError('ERR_MODEL', `ONNX Runtime worker failed to start: ${err.message}`, { cause: err }),
          );
        };
        const onWorkerExit = (code: number) => {
          cleanup();
          reject(new TrtCalibratorError('ERR_INTERNAL', `ONNX Runtime worker exited during start (code ${code})`));
        };
        const cleanup = () => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onWorkerExit);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onWorkerExit);
      });
    } catch (err) {
      process.off('exit', waitForRunOnExit);
      throw err;
    }
    if (ready.error) {
      process.off('exit', waitForRunOnExit);
      await terminateWorker(worker);
      throw toError(ready.error, 'ONNX Runtime could not load the model');
    }
    return new InferenceWorker(worker, waitForRunOnExit);
  }

  private request(message: WorkerRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.exitError) return Promise.reject(this.exitError);
    const request = new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      this.worker.postMessage(message, transfer);
    });
    const settled: Promise<unknown> = request.then(
      (): boolean => this.inFlight.delete(settled),
      (): boolean => this.inFlight.delete(settled),
    );
    this.inFlight.add(settled);
    return request;
  }

  /** Runs one batch and adds its activations to the worker's histograms. Input bytes are copied first. */
  async run(inputs: readonly InferenceInput[]): Promise<InferenceStats> {
    const feeds: WorkerFeed[] = inputs.map((i) => {
      const bytes = new Uint8Array(i.view.byteLength);
      bytes.set(new Uint8Array(i.view.buffer, i.view.byteOffset, i.view.byteLength));
      return { name: i.name, dtype: i.dtype, dims: [...i.dims], data: bytes.buffer };
    });
    const reply = await this.request(
      { type: 'run', id: this.nextId++, feeds },
      feeds.map((f) => f.data),
    );
    if (reply.type !== 'result')
      throw new TrtCalibratorError('ERR_INTERNAL', `unexpected ${reply.type} reply from the ONNX Runtime worker`);
    return { ms: reply.ms, histogramMs: reply.histogramMs, subBatch: reply.subBatch };
  }

  /** The worker's activation histograms, serialized (HistogramSet format). */
  async histograms(): Promise<Uint8Array> {
    const reply = await this.request({ type: 'histograms', id: this.nextId++ });
    if (reply.type !== 'histograms')
      throw new TrtCalibratorError('ERR_INTERNAL', `unexpected ${reply.type} reply from the ONNX Runtime worker`);
    return reply.bytes;
  }

  /**
   * Ends the worker once the batch in flight (if any) has finished. Safe to call twice.
   *
   * Never terminate the worker while `session.run` executes in it: onnxruntime-node 1.30 then throws a C++
   * exception out of a Node-API callback during isolate termination and the whole process aborts
   * ("terminate called after throwing an instance of 'Napi::Error'"). An abort therefore lets the current
   * batch finish (its results are discarded) before the worker goes.
   */
  async close(): Promise<void> {
    this.exitError ??= new TrtCalibratorError('ERR_INTERNAL', 'ONNX Runtime worker closed');
    await Promise.allSettled([...this.inFlight]);
    process.off('exit', this.waitForRunOnExit);
    await terminateWorker(this.worker);
  }
}
