/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The builtin backend's two ways of running ONNX Runtime give the same caches: 'native' (the addon calls ONNX
 * Runtime's C API on the run's thread, lib/backends/builtin/native-ort.ts) and 'worker' (onnxruntime-node's JS API in a
 * worker thread). Also: the native path's errors, abort and process exit in the middle of a run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { nativeOnnxRuntime, onnxRuntimeLibraryPath, openOrtSession } from '../../lib/backends/builtin/native-ort';
import { calibrate } from '../../lib/calibrate';
import { HistogramSet } from '../../lib/histogram';
import { liveNativeAllocations } from '../../lib/calibrator/run';
import { FixedBatchFactory } from '../helpers/calibrator';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { buildModel, encodeModel, int64Tensor, node, saveModel, valueInfo } from '../helpers/onnx-builder';
import { CLASSIFIER, DETECTOR } from '../helpers/models';

const root = path.join(__dirname, '..', '..');
const CLS = { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5, workers: 1, tensorrt: '10.3' } as const;
const DET = {
  shape: [3, 96, 128],
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  batchSize: 4,
  workers: 1,
  tensorrt: '10.3',
};

let dir: string;
let crops: string;
let scenes: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-native-ort-'));
  crops = path.join(dir, 'crops');
  scenes = path.join(dir, 'scenes');
  await makeSyntheticImages(crops, { count: 24, seed: 11 });
  await makeSyntheticImages(scenes, { kind: 'scenes', count: 8, seed: 13, size: [160, 120] });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const read = (file: string) => fs.readFileSync(file, 'utf8');

describe('ONNX Runtime through its C API (inference: native)', () => {
  it('loads the library onnxruntime-node ships, the same ONNX Runtime version', () => {
    const status = nativeOnnxRuntime();
    expect(status).toMatchObject({ available: true, library: onnxRuntimeLibraryPath() });
    expect(status.available && status.version).toBe(ort.env.versions.common);
  });

  it('gives byte-identical caches to the onnxruntime-node worker (classifier; detector whole, image by image and in pairs, all the same)', async () => {
    for (const inference of ['native', 'worker'] as const) {
      const r = await calibrate(CLASSIFIER, crops, {
        ...CLS,
        batchSize: 8,
        inference,
        cache: path.join(dir, `cls-${inference}.cache`),
      });
      expect(r.inference).toBe(inference);
      expect(r.images.used).toBe(24);
      expect(r.timings.inferenceMs).toBeGreaterThan(0);
    }
    expect(read(path.join(dir, 'cls-native.cache'))).toBe(read(path.join(dir, 'cls-worker.cache')));
    // 0: whole batches; 1 byte: image by image; 2.5 images' worth: sub-batches of 2 (the probe image decides). A
    // split batch gives the histograms of the whole batch (its widths from all its sub-batches), so every cache is
    // the same, byte for byte.
    const perImage = 173e6 * ((96 * 128) / (320 * 320)); // the detector's activation bytes per image scale with H×W
    await calibrate(DETECTOR, scenes, {
      ...DET,
      maxActivationBytes: 0,
      inference: 'native',
      cache: path.join(dir, 'det-whole-native.cache'),
    });
    const whole = fs.readFileSync(path.join(dir, 'det-whole-native.cache'));
    for (const [label, limit] of [
      ['whole', 0],
      ['single', 1],
      ['pairs', perImage * 2.5],
    ] as const) {
      for (const inference of ['native', 'worker'] as const) {
        if (label === 'whole' && inference === 'native') continue; // the reference
        const cache = path.join(dir, `det-${label}-${inference}.cache`);
        await calibrate(DETECTOR, scenes, { ...DET, maxActivationBytes: limit, inference, cache });
        expect({ label, inference, cache: read(cache) }).toEqual({ label, inference, cache: whole.toString('utf8') });
        expect(fs.readFileSync(cache).equals(whole)).toBe(true);
      }
    }
    expect(liveNativeAllocations().runs).toBe(0);
  }, 180000);

  it('histograms continued with the next images give the one-pass cache, run whole or image by image, natively or in the worker', async () => {
    // The first 4 scenes (one batch), saved; then the other 4 continue them: the same two batches as one pass.
    const files = fs.readdirSync(scenes).sort();
    const first = path.join(dir, 'scenes-first');
    const next = path.join(dir, 'scenes-next');
    fs.mkdirSync(first);
    fs.mkdirSync(next);
    files.forEach((f, i) => fs.copyFileSync(path.join(scenes, f), path.join(i < 4 ? first : next, f)));
    const onePass = path.join(dir, 'det-one-pass.cache');
    await calibrate(DETECTOR, scenes, { ...DET, maxActivationBytes: 0, cache: onePass });
    const started = await calibrate(DETECTOR, first, {
      ...DET,
      maxActivationBytes: 1,
      cache: path.join(dir, 'first.cache'),
    });
    const saved = started.histograms!.serialize();
    const reference = fs.readFileSync(onePass);
    for (const inference of ['native', 'worker'] as const) {
      for (const [label, limit] of [
        ['whole', 0],
        ['single', 1],
      ] as const) {
        const cache = path.join(dir, `det-continued-${label}-${inference}.cache`);
        const r = await calibrate(DETECTOR, next, {
          ...DET,
          maxActivationBytes: limit,
          inference,
          cache,
          histograms: new HistogramSet(saved),
        });
        expect(r.images.used).toBe(4);
        expect({ label, inference, cache: read(cache) }).toEqual({
          label,
          inference,
          cache: reference.toString('utf8'),
        });
        expect(fs.readFileSync(cache).equals(reference)).toBe(true);
      }
    }
  }, 180000);

  it("a model that loads but fails at run time rejects with ERR_MODEL and ONNX Runtime's message, writing nothing", async () => {
    // Reshape to [3, 3] is only checked when the data comes: 8 values cannot become 9.
    const model = saveModel(
      buildModel({
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('y', [3, 3])],
        initializers: [int64Tensor('shape', [2], [3, 3])],
        nodes: [node('Relu', ['x'], ['r']), node('Reshape', ['r', 'shape'], ['y'], [], 'bad_reshape')],
      }),
      path.join(dir, 'reshape.onnx'),
    );
    for (const inference of ['native', 'worker'] as const) {
      const cache = path.join(dir, `reshape-${inference}.cache`);
      await expect(
        calibrate(model, new FixedBatchFactory('x', [2, 4], [1, -2, 3, -4, 5, -6, 7, -8], 2), {
          cache,
          inference,
          tensorrt: '10.3',
        }),
      ).rejects.toMatchObject({
        code: 'ERR_MODEL',
        message: expect.stringMatching(/ONNX Runtime failed to run the model: .*bad_reshape/s),
      });
      expect(fs.existsSync(cache)).toBe(false);
    }
  }, 60000);

  it('a model ONNX Runtime cannot load names the node and operator; an unknown output is refused', async () => {
    const model = buildModel({
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      nodes: [node('NoSuchOp', ['x'], ['y'], [], 'mystery', 'com.example')],
    });
    await expect(
      openOrtSession(encodeModel(model), { fetch: ['y'], source: 'mystery.onnx', proto: model }),
    ).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringContaining('ONNX Runtime cannot run mystery.onnx'),
    });
    const fine = buildModel({
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      nodes: [node('Relu', ['x'], ['y'])],
    });
    await expect(openOrtSession(encodeModel(fine), { fetch: ['nope'], source: 'relu.onnx' })).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringContaining('the model has no output named "nope"'),
    });
    const session = await openOrtSession(encodeModel(fine), { fetch: ['y'], source: 'relu.onnx' });
    expect({ inputs: session.inputs, outputs: session.outputs, fetched: session.fetched }).toEqual({
      inputs: ['x'],
      outputs: [{ name: 'y', type: 'float32' }],
      fetched: ['y'],
    });
    session.close();
    session.close();
  });

  it('rejects an unknown inference mode', async () => {
    await expect(calibrate(CLASSIFIER, crops, { ...CLS, inference: 'gpu' as never })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  it('aborting mid-run stops ONNX Runtime, rejects with the reason and writes no cache', async () => {
    const cache = path.join(dir, 'aborted-native.cache');
    const controller = new AbortController();
    const reason = new Error('stop now');
    const run = calibrate(DETECTOR, scenes, {
      ...DET,
      batchSize: 2,
      inference: 'native',
      cache,
      signal: controller.signal,
      onProgress: (p) => p.batchesDone === 1 && controller.abort(reason),
    });
    await expect(run).rejects.toBe(reason);
    expect(fs.existsSync(cache)).toBe(false);
    expect(liveNativeAllocations().runs).toBe(0);
  }, 60000);

  it('an aborted run rejects in a plain process too (nothing else keeping the event loop alive)', () => {
    // Regression: the image workers' close() awaited a bare worker.terminate(), and Node 20 may end a process
    // whose loop holds nothing else before that promise settles — so calibrate() never settled once nothing
    // else (an ONNX Runtime worker) held the loop. lib/util/worker-script.ts terminateWorker keeps it alive.
    const script = `
      const { calibrate } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      const c = new AbortController();
      calibrate(${JSON.stringify(DETECTOR)}, ${JSON.stringify(crops)}, {
        ...${JSON.stringify(DET)}, shape: [3, 320, 320], batchSize: 1, inference: 'native', cache: ${JSON.stringify(path.join(dir, 'plain-abort.cache'))}, signal: c.signal,
        onProgress: (p) => p.batchesDone === 1 && c.abort(new Error('stop')),
      }).then(() => console.log('resolved'), (e) => console.log('rejected: ' + e.message));`;
    // A race (the process ended between a worker's thread stopping and its 'exit' event): three tries.
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
      expect({ attempt, status: r.status, stdout: r.stdout.trim() }).toEqual({
        attempt,
        status: 0,
        stdout: 'rejected: stop',
      });
    }
  }, 120000);

  it('process.exit() in the main thread, or worker.terminate(), while a worker_threads Worker runs a native calibration: clean', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads');
        const { calibrate } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
        calibrate(${JSON.stringify(DETECTOR)}, ${JSON.stringify(crops)}, {
          ...${JSON.stringify(DET)}, shape: [3, 320, 320], batchSize: 1, inference: 'native', cache: ${JSON.stringify(path.join(dir, 'worker-exit.cache'))},
          onProgress: (p) => p.batchesDone === 2 && parentPort.postMessage('running'),
        }).then(() => parentPort.postMessage('done'));\`, { eval: true });
      w.on('message', (m) => m === 'running' && (process.argv[1] === 'terminate' ? w.terminate().then((c) => console.log('terminated ' + c)) : process.exit(5)));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 5, signal: null, stderr: '' });
    expect(fs.existsSync(path.join(dir, 'worker-exit.cache'))).toBe(false);
    // worker.terminate() mid-run: the run's teardown hook cancels ONNX Runtime and joins its thread (the 'worker'
    // path cannot do this: onnxruntime-node aborts the process, see README).
    const t = spawnSync(process.execPath, ['-e', script, 'terminate'], { encoding: 'utf8', timeout: 60000 });
    expect({ status: t.status, signal: t.signal, stdout: t.stdout.trim(), stderr: t.stderr }).toEqual({
      status: 0,
      signal: null,
      stdout: 'terminated 1',
      stderr: '',
    });
  }, 120000);

  it('process.exit() in the middle of a native run exits cleanly (ONNX Runtime is quiesced first)', () => {
    const script = `
      const { calibrate } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      calibrate(${JSON.stringify(DETECTOR)}, ${JSON.stringify(scenes)}, {
        ...${JSON.stringify(DET)}, batchSize: 1, inference: 'native', cache: ${JSON.stringify(path.join(dir, 'exit.cache'))},
        onProgress: (p) => { if (p.batchesDone === 2) process.exit(7); },
      }).then(() => process.exit(3), (e) => { console.error(e); process.exit(4); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 7, signal: null, stderr: '' });
    expect(fs.existsSync(path.join(dir, 'exit.cache'))).toBe(false);
  }, 70000);
});
