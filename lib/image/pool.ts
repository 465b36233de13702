/**
 * A pool of worker threads that decode and preprocess images (see ./worker.ts).
 *
 * Threading / lifetime: every worker owns its own opencv-js instance and handles up to
 * {@link TASKS_PER_WORKER} files at once (the decode of one runs on libuv's pool while the previous one is
 * resized). Results come back as transferred ArrayBuffers. Workers are unref'd while idle, so an idle pool never
 * keeps the process alive, and ref'd while they have work, so awaiting a result does. `close()` terminates them;
 * a worker that dies fails every task in flight with ERR_INTERNAL and the pool refuses further work.
 *
 * Worker script: from compiled JS (dist/image/worker.js) the pool starts that file. When the package runs from
 * its TypeScript sources (ts-jest, which never emits dist/ files beside the sources), it starts a small eval'd
 * bootstrap that installs a `.ts` require hook using the `typescript` package's transpileModule and then
 * requires worker.ts — no dependency on a prior build and no ts-node needed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { TrtCalibratorError } from '../errors';
import { terminateWorker } from '../util/worker-script';
import type { PreprocessConfig } from './preprocess';
import type { ImageTaskResult } from './task';
import type { WorkerRequest } from './worker';

/** Files a worker is given at once. */
export const TASKS_PER_WORKER = 2;

interface Task {
  id: number;
  file: string;
  resolve: (r: ImageTaskResult) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  inFlight: Map<number, Task>;
}

const TS_BOOTSTRAP = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const ts = require(workerData.typescript);
require.extensions['.ts'] = function (m, filename) {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  m._compile(out.outputText, filename);
};
require(workerData.script);
`;

function startWorker(cfg: PreprocessConfig): Worker {
  const js = path.join(__dirname, 'worker.js');
  if (fs.existsSync(js)) return new Worker(js, { workerData: { cfg } });
  const ts = path.join(__dirname, 'worker.ts');
  const typescript = require.resolve('typescript');
  return new Worker(TS_BOOTSTRAP, { eval: true, workerData: { cfg, script: ts, typescript } });
}

/** Worker pool running {@link ImageTaskResult} tasks in submission order of dispatch. */
export class ImageWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private failure: TrtCalibratorError | undefined;
  private closed = false;

  /** Starts `size` workers (each loads opencv-js, ~0.5 s) with one preprocessing config. */
  constructor(
    private readonly cfg: PreprocessConfig,
    readonly size: number,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = startWorker(this.cfg);
    const slot: Slot = { worker, ready: false, inFlight: new Map() };
    worker.on('message', (msg: { ready?: boolean; fatal?: string; id?: number; result?: ImageTaskResult }) => {
      if (msg.ready) {
        slot.ready = true;
        this.dispatch();
        if (slot.inFlight.size === 0) worker.unref();
      } else if (msg.fatal) {
        this.fail(new TrtCalibratorError('ERR_INTERNAL', `image worker failed: ${msg.fatal}`));
      } else if (msg.id !== undefined && msg.result) {
        const task = slot.inFlight.get(msg.id);
        slot.inFlight.delete(msg.id);
        if (slot.inFlight.size === 0) worker.unref();
        task?.resolve(msg.result);
        this.dispatch();
      }
    });
    worker.on('error', (err) =>
      this.fail(new TrtCalibratorError('ERR_INTERNAL', `image worker crashed: ${err.message}`, { cause: err })),
    );
    worker.on('exit', (code) => {
      if (!this.closed)
        this.fail(new TrtCalibratorError('ERR_INTERNAL', `image worker exited unexpectedly with code ${code}`));
    });
    // Unref only now: adding the first 'message' listener to a Worker refs its port again (Node's
    // setupPortReferencing), so a worker that never gets a task would otherwise keep the process alive.
    worker.unref();
    return slot;
  }

  /** Decodes and preprocesses `file` on some worker. */
  run(file: string): Promise<ImageTaskResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new TrtCalibratorError('ERR_INTERNAL', 'image worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, file, resolve, reject });
      // Work is waiting: workers still loading opencv-js must keep the process alive until they take it.
      for (const slot of this.slots) if (!slot.ready) slot.worker.ref();
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots)
        if (s.ready && s.inFlight.size < TASKS_PER_WORKER && (!best || s.inFlight.size < best.inFlight.size)) best = s;
      if (!best) return;
      const task = this.queue.shift() as Task;
      best.inFlight.set(task.id, task);
      best.worker.ref();
      const req: WorkerRequest = { id: task.id, file: task.file };
      best.worker.postMessage(req);
    }
  }

  private fail(err: TrtCalibratorError): void {
    if (this.failure || this.closed) return;
    this.failure = err;
    for (const s of this.slots) {
      for (const t of s.inFlight.values()) t.reject(err);
      s.inFlight.clear();
    }
    for (const t of this.queue.splice(0)) t.reject(err);
    void this.close();
  }

  /** Terminates every worker; tasks still queued or in flight are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = this.failure ?? new TrtCalibratorError('ERR_INTERNAL', 'image worker pool closed');
    for (const s of this.slots) {
      for (const t of s.inFlight.values()) t.reject(err);
      s.inFlight.clear();
    }
    for (const t of this.queue.splice(0)) t.reject(err);
    // Idle workers are unref'd and a terminating worker holds the loop only until its thread stops: without the
    // keep-alive of terminateWorker, a caller awaiting close() (and whatever it does next, e.g. reject
    // calibrate()'s promise) may find the event loop empty and the process gone.
    await Promise.all(this.slots.map((s) => terminateWorker(s.worker)));
  }
}
