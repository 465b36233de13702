/**
 * Worker thread of the builtin backend: runs the calibration model with ONNX Runtime (onnxruntime-node, CPU)
 * and feeds every float activation into native histograms, here, as soon as it exists.
 *
 * Why a worker: onnxruntime-node 1.30 runs `session.run` synchronously on the calling thread (inside a
 * setImmediate), so a calibration pass on the main thread would stall the event loop for every batch.
 *
 * Why the histograms live here: fetching every activation is big — the PaddleOCR detector at 3×320×320
 * produces 173 MB of activations per image, 1.4 GB per batch of 8. Histogramming each ONNX Runtime run's
 * outputs at once, and splitting a batch into sub-batches whose activations stay under `maxActivationBytes`,
 * bounds memory whatever the batch size; nothing is copied to or kept by another thread. The histograms do not
 * depend on the split: TensorRT updates them once per batch, and a split batch is given to the set as one batch in
 * parts (HistogramSet.beginBatch; native/builtin/histogram.h, "Batches in parts"), exactly as the native pass
 * does. Tensors without a bin width yet (all of them in the first batch) only record their max|x| over the batch's
 * runs; the batch then runs again and is binned at the width that whole-batch max defines. A batch that fits runs
 * whole; the size of a sub-batch is decided once, from a probe run of the first image, which then counts as image
 * 0's part of the first batch.
 *
 * workerData: {@link WorkerInit}. Messages: see protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as ortTypes from 'onnxruntime-node';
import { HistogramSet } from '../../histogram';
import {
  RUN_BUSY,
  RUN_IDLE,
  type WorkerError,
  type WorkerFeed,
  type WorkerInit,
  type WorkerReply,
  type WorkerRequest,
} from './protocol';

const init = workerData as WorkerInit;
const state = new Int32Array(init.state);

type TypedArray = Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

function typedView(dtype: string, data: ArrayBuffer, byteOffset: number, byteLength: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(data, byteOffset, byteLength / 4);
    case 'int32':
      return new Int32Array(data, byteOffset, byteLength / 4);
    case 'int64':
      return new BigInt64Array(data, byteOffset, byteLength / 8);
    case 'int8':
      return new Int8Array(data, byteOffset, byteLength);
    case 'uint8':
    case 'bool':
      return new Uint8Array(data, byteOffset, byteLength);
    case 'float16':
      return new Uint16Array(data, byteOffset, byteLength / 2);
    default:
      throw new Error(`unsupported input dtype ${dtype}`);
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  // Loaded here, not at import: the session module reports load failures as ERR_MODEL naming node and op.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createCpuSession } = require('../../onnx/session') as typeof import('../../onnx/session');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof ortTypes;
  let session: ortTypes.InferenceSession | undefined;
  let sessionError: unknown;
  try {
    session = await createCpuSession(init.modelBytes, {
      source: init.source,
      intraOpNumThreads: init.intraOpNumThreads,
    });
  } catch (err) {
    sessionError = err;
  }
  const histograms = new HistogramSet();
  for (const [name, { width, bins }] of Object.entries(init.binLayouts)) histograms.setBinWidth(name, width, bins);
  /** Images per ONNX Runtime run, fixed by the first batch (so every batch is split the same way). */
  let subBatch = 0;

  const reply = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
  const toWorkerError = (err: unknown): WorkerError => {
    const e = err as Error & { code?: string; details?: Record<string, unknown> };
    return { message: e?.message ?? String(err), code: e?.code, details: e?.details };
  };
  const errorReply = (id: number, err: unknown): WorkerReply => ({ type: 'error', id, error: toWorkerError(err) });

  /** One ONNX Runtime run over images [start, start + count) of the batch. */
  const runSlice = async (feeds: readonly WorkerFeed[], start: number, count: number) => {
    const tensors: Record<string, ortTypes.Tensor> = {};
    for (const f of feeds) {
      const perImage = f.data.byteLength / f.dims[0];
      const dims = [count, ...f.dims.slice(1)];
      tensors[f.name] = new ort.Tensor(
        f.dtype === 'bool' ? 'bool' : (f.dtype as 'float32'),
        typedView(f.dtype, f.data, start * perImage, count * perImage) as Float32Array,
        dims,
      );
    }
    // Mark the run busy so that an exiting parent waits for it (see inference.ts); refuse to start once it exits.
    if (Atomics.compareExchange(state, 0, RUN_IDLE, RUN_BUSY) !== RUN_IDLE) throw new Error('the process is exiting');
    try {
      return await session!.run(tensors, init.outputNames);
    } finally {
      Atomics.store(state, 0, RUN_IDLE);
      Atomics.notify(state, 0);
    }
  };

  // One native call per run: the tensors (and those derived from them) are added in parallel over the cores
  // while ONNX Runtime is idle.
  const plan = [...init.fetchPlan];
  /** Every tensor a run adds, derived ones included, in graph order: the tensors of a batch given in parts. */
  const batchTensors = plan.map((item) => (typeof item === 'string' ? item : item.name));
  const derivedPerRoot = new Map<string, number>();
  for (const item of plan)
    if (typeof item !== 'string') derivedPerRoot.set(item.root, (derivedPerRoot.get(item.root) ?? 0) + 1);
  const accumulate = (results: ortTypes.InferenceSession.OnnxValueMapType): void => {
    const names: string[] = [];
    const arrays: Float32Array[] = [];
    for (const name of init.outputNames) {
      const t = results[name];
      if (t && t.type === 'float32') {
        names.push(name);
        arrays.push(t.data as Float32Array);
      }
    }
    histograms.addAll(names, arrays, plan);
  };

  reply({ type: 'ready', id: 0, error: sessionError ? toWorkerError(sessionError) : undefined });
  port.on('message', async (msg: WorkerRequest) => {
    if (msg.type === 'close') {
      await session?.release().catch(() => undefined);
      port.close();
      return;
    }
    if (msg.type === 'histograms') {
      const bytes = histograms.serialize();
      reply({ type: 'histograms', id: msg.id, bytes }, [bytes.buffer as ArrayBuffer]);
      return;
    }
    if (!session) {
      reply(errorReply(msg.id, sessionError));
      return;
    }
    try {
      // Nothing to calibrate (no float activation): no run is needed (onnxruntime-node refuses empty fetches).
      if (init.outputNames.length === 0) {
        reply({ type: 'result', id: msg.id, ms: 0, histogramMs: 0, subBatch: msg.feeds[0]?.dims[0] ?? 1 });
        return;
      }
      const feeds = msg.feeds;
      const batch = feeds[0]?.dims[0] ?? 1;
      let ms = 0;
      let histogramMs = 0;
      const run = async (start: number, count: number) => {
        const t0 = performance.now();
        const results = await runSlice(feeds, start, count);
        ms += performance.now() - t0;
        return results;
      };
      const add = (results: ortTypes.InferenceSession.OnnxValueMapType) => {
        const t1 = performance.now();
        accumulate(results);
        histogramMs += performance.now() - t1;
      };
      let probe: ortTypes.InferenceSession.OnnxValueMapType | undefined;
      if (subBatch === 0) {
        // First batch: one image alone tells how big an image's activations are; then choose the sub-batch.
        // With a fixed batch dimension (or no limit) the batch runs whole.
        if (!init.splittable || init.maxActivationBytes <= 0 || batch === 1) {
          subBatch = batch;
        } else {
          probe = await run(0, 1);
          // Derived tensors count as if fetched (as in the native pass): the split does not depend on the plan.
          let perImage = 0;
          for (const name of init.outputNames)
            perImage +=
              probe[name]?.type === 'float32'
                ? (probe[name].data as Float32Array).byteLength * (1 + (derivedPerRoot.get(name) ?? 0))
                : 0;
          subBatch = Math.max(1, Math.min(batch, Math.floor(init.maxActivationBytes / Math.max(1, perImage))));
          if (subBatch >= batch) probe = undefined; // the batch runs whole: the probe only measured
        }
      }
      if (subBatch >= batch) {
        add(await run(0, batch));
      } else {
        // One batch in parts: the probe as image 0's part (first batch only), then sub-batches of the rest; a second
        // pass over the whole batch when some tensor got its width from this one.
        histograms.beginBatch(batchTensors);
        try {
          let start = 0;
          if (probe) {
            add(probe);
            probe = undefined;
            start = 1;
          }
          for (; start < batch; start += subBatch) add(await run(start, Math.min(subBatch, batch - start)));
          while (histograms.endPass())
            for (start = 0; start < batch; start += subBatch) add(await run(start, Math.min(subBatch, batch - start)));
        } catch (err) {
          histograms.abandonBatch();
          throw err;
        }
      }
      reply({ type: 'result', id: msg.id, ms, histogramMs, subBatch });
    } catch (err) {
      reply(errorReply(msg.id, err));
    }
  });
}

void main();
