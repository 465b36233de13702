/** Locates compiled worker scripts, both from dist/ (installed package) and under ts-jest (lib/*.ts sources). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrtCalibratorError } from '../errors';

/**
 * The absolute path of the compiled JavaScript for `relative` (e.g. 'backends/builtin/ort-worker'), relative to lib/.
 * From dist/ it is the sibling .js file; when this module runs as TypeScript source (tests), worker_threads
 * cannot execute .ts, so the compiled copy in dist/ is used (the test command compiles it first).
 */
export function workerScript(relative: string): string {
  const libRoot = path.resolve(__dirname, '..');
  const fromHere = path.join(libRoot, `${relative}.js`);
  if (__filename.endsWith('.js') && fs.existsSync(fromHere)) return fromHere;
  const fromDist = path.join(libRoot, '..', 'dist', `${relative}.js`);
  if (fs.existsSync(fromDist)) return fromDist;
  throw new TrtCalibratorError(
    'ERR_INTERNAL',
    `Worker script ${relative}.js not found (looked in ${fromHere} and ${fromDist}); compile with \`npm run build:ts\``,
  );
}

/**
 * `worker.terminate()` that keeps the event loop alive until the worker has exited. Node 20 lets a process whose
 * loop holds nothing else end between the stop of the worker's thread and its 'exit' event, so the caller of a
 * bare `await worker.terminate()` may never resume (then `calibrate()` never settled after an abort). Resolves
 * with the exit code.
 */
export async function terminateWorker(worker: { terminate(): Promise<number> }): Promise<number> {
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  try {
    return await worker.terminate();
  } finally {
    clearInterval(keepAlive);
  }
}
