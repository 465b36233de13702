/**
 * Worker thread of the image pool: loads its own opencv-js instance, then answers `{ id, file }` messages with
 * an {@link ImageTaskResult} (tensor bytes transferred, not copied). Started by ./pool.ts only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadOpenCv } from './opencv';
import type { PreprocessConfig } from './preprocess';
import { ImageTaskRunner } from './task';

/** Message from the pool to a worker. */
export interface WorkerRequest {
  id: number;
  file: string;
}

const port = parentPort;
if (port) {
  const cfg = (workerData as { cfg: PreprocessConfig }).cfg;
  loadOpenCv().then(
    ({ cv }) => {
      const runner = new ImageTaskRunner(cv, cfg);
      port.on('message', (msg: WorkerRequest) => {
        void runner.run(msg.file).then((result) => {
          if (result.ok) port.postMessage({ id: msg.id, result }, [result.data]);
          else port.postMessage({ id: msg.id, result });
        });
      });
      port.postMessage({ ready: true });
    },
    (err: unknown) =>
      port.postMessage({ fatal: `opencv-js failed to load: ${err instanceof Error ? err.message : String(err)}` }),
  );
}
