/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The addon's C++ ONNX Runtime sessions (native/builtin/ort_session.cc through lib/backends/builtin/native-ort.ts): loading the
 * library onnxruntime-node ships (on a libuv pool thread), session outputs and fetch lists, a calibration whose every
 * activation is known, run on the builder thread with the pipelined histograms, and sessions destroyed on threads of
 * their own, also at process exit and when a worker_threads Worker is the addon's only user. `npm test` also runs this
 * suite against the node-gyp and AddressSanitizer builds of the addon.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import {
  loadNativeOnnxRuntime,
  nativeOnnxRuntime,
  onnxRuntimeLibraryPath,
  openOrtSession,
} from '../../lib/backends/builtin/native-ort';
import { loadAddon } from '../../lib/binding';
import { calibrate } from '../../lib/calibrate';
import { liveNativeAllocations } from '../../lib/calibrator/run';
import { FixedBatchFactory } from '../helpers/calibrator';
import { DETECTOR } from '../helpers/models';
import { buildModel, encodeModel, floatTensor, int64Tensor, node, saveModel, valueInfo } from '../helpers/onnx-builder';

/** The addon file the tests load: the test build (jest.config.js; the node-gyp and ASan runs name theirs). */
const addonPath = (): string =>
  process.env.TRT_CALIBRATOR_ADDON ?? path.join(__dirname, '..', '..', 'build-test', 'Release', 'trt_calibrator.node');

const sessionCounts = (): { live: number; destroyedOnOwnThread: number } => {
  const counts = loadAddon().ortSessionCounts;
  if (!counts) throw new Error('ortSessionCounts is missing: these tests need the test build of the addon');
  return counts();
};

/** Waits until `done()` holds, polling; fails after `ms`. */
async function until(done: () => boolean, ms = 10000): Promise<void> {
  for (const t0 = Date.now(); !done(); await sleep(5))
    if (Date.now() - t0 > ms) throw new Error(`still not done after ${ms} ms`);
}

/** The counts once no session has been destroyed for 200 ms (sessions closed earlier may still be on their way). */
async function settledCounts(): Promise<{ live: number; destroyedOnOwnThread: number }> {
  let last = sessionCounts();
  let since = Date.now();
  await until(() => {
    const now = sessionCounts();
    if (now.live !== last.live) [last, since] = [now, Date.now()];
    return Date.now() - since >= 200;
  });
  return last;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-ort-session-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** x [N, 4] -> relu -> *2 -> y; plus an int64 Shape output that is never fetched. */
function model() {
  return buildModel({
    inputs: [valueInfo('x', ['N', 4])],
    outputs: [valueInfo('y', ['N', 4]), valueInfo('shape', [2], 7)],
    initializers: [floatTensor('two', [], [2]), int64Tensor('unused', [1], [0])],
    nodes: [node('Relu', ['x'], ['r']), node('Mul', ['r', 'two'], ['y']), node('Shape', ['x'], ['shape'])],
  });
}

describe('C++ ONNX Runtime sessions', () => {
  it('load the library on a libuv pool thread (the synchronous load agrees), list inputs and typed outputs, fetch float outputs only', async () => {
    const library = onnxRuntimeLibraryPath() as string;
    const loaded = await loadAddon().loadOnnxRuntime(library);
    expect(loaded).toEqual({ ok: true, version: expect.stringMatching(/^1\.\d+\.\d+/) });
    expect(loadAddon().loadOnnxRuntimeSync(library)).toEqual(loaded);
    expect(() => loadAddon().loadOnnxRuntime(42 as unknown as string)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION' }),
    );
    expect(await loadNativeOnnxRuntime()).toEqual({ available: true, version: loaded.ok && loaded.version, library });
    expect(nativeOnnxRuntime()).toEqual(await loadNativeOnnxRuntime());
    const m = model();
    const session = await openOrtSession(encodeModel(m), { fetch: [], source: 'relu.onnx', proto: m });
    expect(session.inputs).toEqual(['x']);
    expect(session.outputs).toEqual([
      { name: 'y', type: 'float32' },
      { name: 'shape', type: 'int64' },
    ]);
    expect(session.fetched).toEqual(['y']);
    expect(session.setFetch(['shape', 'y'])).toEqual(['y']);
    expect(session.setFetch([])).toEqual([]);
    expect(() => session.setFetch(['r'])).toThrow('the model has no output named "r"');
    session.close();
    expect(() => session.setFetch(['y'])).toThrow('the session is closed');
  });

  it('calibrates on the builder thread: every amax is the true max|x| (minmax), whole batches and sub-batches', async () => {
    const file = saveModel(model(), path.join(dir, 'relu.onnx'));
    class Ramp extends BatchFactory {
      readonly inputs: InputSpec[] = [{ name: 'x', shape: [4, 4], dtype: 'float32' }];
      n = 0;
      fill(buffers: BatchBuffers): boolean {
        const x = buffers.x as Float32Array;
        for (let i = 0; i < x.length; i++) x[i] = (i - 6) * (this.n + 1); // batch k: (i - 6)(k + 1)
        return this.n++ < 3;
      }
    }
    // max|x| = 9 * 3 = 27 (i = 15, batch 2); relu max = 27; y = 54.
    for (const maxActivationBytes of [0, 1]) {
      const result = await calibrate(file, new Ramp(), {
        cache: path.join(dir, `relu-${maxActivationBytes}.cache`),
        algorithm: 'minmax',
        tensorrt: '10.3',
        inference: 'native',
        maxActivationBytes,
      });
      expect(result.inference).toBe('native');
      expect(result.images.used).toBe(12);
      // The cache holds float32 scales: amax / 127 rounded to float32.
      const scales = Object.fromEntries(Object.entries(result.tensors).map(([k, v]) => [k, v.scale]));
      expect(scales).toEqual({ x: Math.fround(27 / 127), r: Math.fround(27 / 127), y: Math.fround(54 / 127) });
    }
    expect(liveNativeAllocations().runs).toBe(0);
  }, 60000);

  it('a model without float activations calibrates its float input only, native and worker (no ONNX Runtime run is needed)', async () => {
    const file = saveModel(
      buildModel({
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('shape', [2], 7)],
        nodes: [node('Shape', ['x'], ['shape'])],
      }),
      path.join(dir, 'shape.onnx'),
    );
    for (const inference of ['native', 'worker'] as const) {
      const result = await calibrate(file, new FixedBatchFactory('x', [2, 4], [1, -2, 3, -4, 5, -6, 7, -8], 2), {
        cache: path.join(dir, `shape-${inference}.cache`),
        algorithm: 'minmax',
        tensorrt: '10.3',
        inference,
      });
      expect(Object.keys(result.tensors)).toEqual(['x']);
      expect(result.tensors.x.scale).toBe(Math.fround(8 / 127));
    }
  }, 60000);
});

describe('C++ ONNX Runtime sessions: destroyed off the JS thread', () => {
  it('takes the model in pieces (copied before createOrtSession returns) and refuses anything else', async () => {
    const bytes = encodeModel(model());
    const pieces = [bytes.subarray(0, 10), bytes.subarray(10, 11), bytes.subarray(11)];
    const session = await openOrtSession(pieces, { fetch: [], source: 'relu.onnx' });
    expect(session.fetched).toEqual(['y']);
    session.close();
    for (const bad of [[bytes, 'x'], new Float32Array(4), 'model.onnx']) {
      expect(() => loadAddon().createOrtSession(bad as unknown as Uint8Array, {})).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          code: 'ERR_INVALID_OPTION',
          message: 'Expected a Uint8Array or an array of them for modelBytes',
        }),
      );
    }
  });

  it('close() drops the handle at once; the session is destroyed on a thread of its own, also after a run that held it', async () => {
    const before = await settledCounts();
    const session = await openOrtSession(encodeModel(model()), { fetch: [], source: 'relu.onnx' });
    expect(sessionCounts().live).toBe(before.live + 1);
    session.close();
    await until(() => sessionCounts().live === before.live);
    expect(sessionCounts().destroyedOnOwnThread).toBe(before.destroyedOnOwnThread + 1);
    // calibrate() creates one session (it tells the activations' types, then the pass runs it) and closes it at the end.
    const file = saveModel(model(), path.join(dir, 'relu-destroy.onnx'));
    await calibrate(file, new FixedBatchFactory('x', [2, 4], [1, -2, 3, -4, 5, -6, 7, -8], 2), {
      cache: path.join(dir, 'relu-destroy.cache'),
      algorithm: 'minmax',
      tensorrt: '10.3',
      inference: 'native',
    });
    await until(() => sessionCounts().live === before.live);
    expect(sessionCounts().destroyedOnOwnThread).toBe(before.destroyedOnOwnThread + 2);
  }, 60000);

  // The detector's session takes 10-20 ms to destroy: long enough for the process or the worker to be gone
  // meanwhile unless the addon waits (process exit) or stays mapped (a Worker that was its only user).
  const child = (script: string) =>
    spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000, cwd: os.tmpdir() });
  const openDetector = `
    const addon = require(${JSON.stringify(path.resolve(addonPath()))});
    async function openDetector() {
      const loaded = await addon.loadOnnxRuntime(${JSON.stringify(onnxRuntimeLibraryPath())});
      if (!loaded.ok) throw new Error(loaded.error);
      return addon.createOrtSession(require('node:fs').readFileSync(${JSON.stringify(DETECTOR)}), {});
    }`;

  it('process.exit() right after close() waits for the destruction and exits with its code', () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = child(`${openDetector}
        openDetector().then((s) => { s.close(); process.exit(3); });`);
      expect({ attempt, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({
        attempt,
        status: 3,
        signal: null,
        stderr: '',
      });
    }
  }, 120000);

  it("a worker_threads Worker that is the addon's only user may end right after close(): the process lives on", () => {
    // Node unloads an addon with the last environment that loaded it: here each Worker's. The main thread never
    // loads it, and reports once the three Workers have ended and their sessions had time to be destroyed.
    const r = child(`
      const { Worker } = require('node:worker_threads');
      const worker = () => new Promise((resolve, reject) => {
        const w = new Worker(${JSON.stringify(`${openDetector}\nopenDetector().then((s) => s.close());`)}, { eval: true });
        w.on('error', reject);
        w.on('exit', resolve);
      });
      (async () => {
        for (let i = 0; i < 3; i++) await worker();
        await new Promise((resolve) => setTimeout(resolve, 500));
        console.log('alive');
      })();`);
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
      status: 0,
      signal: null,
      stdout: 'alive',
      stderr: '',
    });
  }, 120000);
});
