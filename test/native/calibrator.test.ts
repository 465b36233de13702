import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { NativeRunOptions, loadAddon } from '../../lib/binding';
import { HistogramSet } from '../../lib/histogram';
import { InputSpec } from '../../lib/batch/factory';
import { TrtCalibratorError } from '../../lib/errors';
import { CalibrationProgress, liveNativeAllocations, runCalibration } from '../../lib/calibrator/run';
import {
  MemoryStore,
  NO_DATA_CALLBACKS,
  PatternFactory,
  expectedBytes,
  testEngineOptions,
} from '../helpers/calibrator';

const image: InputSpec = { name: 'image', shape: [2, 3, 4, 5], dtype: 'float32' };
const imInfo: InputSpec = { name: 'im_info', shape: [2, 3], dtype: 'float32' };
const ids: InputSpec = { name: 'token ids: (x)', shape: [2, 7], dtype: 'int32' };

function expectNoLiveAllocations(): void {
  expect(liveNativeAllocations()).toEqual({
    hostBuffers: 0,
    pinnedBuffers: 0,
    deviceBuffers: 0,
    streams: 0,
    bytes: 0,
    runs: 0,
  });
}

afterEach(() => expectNoLiveAllocations());

/** The addon file the tests load: the test build (jest.config.js; the node-gyp and ASan runs name theirs). */
const addonPath = (): string =>
  process.env.TRT_CALIBRATOR_ADDON ?? path.join(__dirname, '..', '..', 'build-test', 'Release', 'trt_calibrator.node');

describe('native calibrator: contract and order', () => {
  it.each(['sync', 'async'] as const)('calls the contract in TensorRT order with a %s factory', async (mode) => {
    const factory = new PatternFactory([image], 3, mode);
    const store = new MemoryStore();
    const progress: CalibrationProgress[] = [];
    const result = await runCalibration({
      builder: 'test',
      factory,
      cache: store,
      memory: 'host',
      onProgress: (p) => progress.push(p),
    });
    expect(result.trace).toEqual([
      'readCalibrationCache',
      'getBatchSize',
      'getBatch',
      'getBatch',
      'getBatch',
      'getBatch',
      'writeCalibrationCache',
    ]);
    expect(factory.calls).toEqual([0, 1, 2, 3]);
    expect(store.reads).toBe(1);
    expect(store.writes).toHaveLength(1);
    expect(Buffer.from(store.writes[0]).toString()).toBe('TRT-0-TestDriver\nbatches: 3\n');
    expect(result).toMatchObject({ batches: 3, images: 6, cacheHit: false, cacheWritten: true, onDevice: false });
    expect(progress.map((p) => p.batchesDone)).toEqual([1, 2, 3]);
    expect(progress.every((p) => p.totalBatches === 3 && p.imagesPerSecond > 0)).toBe(true);
    // Double-buffered: the factory alternates between exactly two slot objects.
    expect(factory.seenBuffers.size).toBe(2);
  });

  it('binds multi-input batches by name when the builder passes names in another order than declared', async () => {
    for (const copyBuffers of [false, true]) {
      const factory = new PatternFactory([image, imInfo, ids], 3, 'async');
      const result = await runCalibration({
        builder: 'test',
        factory,
        memory: 'host',
        bindingOrder: ['im_info', 'token ids: (x)', 'image'],
        testHooks: { capture: true, copyBuffers },
      });
      expect(result.externalBuffers).toBe(!copyBuffers);
      expect(result.captures).toHaveLength(9);
      for (const c of result.captures!) {
        const spec = [image, imInfo, ids].find((s) => s.name === c.name)!;
        expect(Buffer.from(c.bytes).equals(Buffer.from(expectedBytes(spec, c.batch)))).toBe(true);
      }
      expect(result.captures!.slice(0, 3).map((c) => c.name)).toEqual(['im_info', 'token ids: (x)', 'image']);
    }
  });

  it('skips getBatch entirely on a cache hit and writes nothing', async () => {
    const factory = new PatternFactory([image], 3);
    const store = new MemoryStore(new Uint8Array(Buffer.from('TRT-8601-EntropyCalibration2\nimage: 3c010a14\n')));
    const result = await runCalibration({ builder: 'test', factory, cache: store, memory: 'host' });
    expect(result.trace).toEqual(['readCalibrationCache']);
    expect(factory.calls).toEqual([]);
    expect(store.writes).toHaveLength(0);
    expect(result).toMatchObject({ cacheHit: true, cacheWritten: false, batches: 0, cache: null });
  });

  it('reads and writes a cache file atomically', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-cal-'));
    const file = path.join(dir, 'model.cache');
    const first = await runCalibration({
      builder: 'test',
      factory: new PatternFactory([image], 2),
      cache: file,
      memory: 'host',
    });
    expect(first.cacheWritten).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe('TRT-0-TestDriver\nbatches: 2\n');
    expect(fs.readdirSync(dir)).toEqual(['model.cache']);
    const factory = new PatternFactory([image], 2);
    const second = await runCalibration({ builder: 'test', factory, cache: file, memory: 'host' });
    expect(second.cacheHit).toBe(true);
    expect(factory.calls).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the builtin-lite builder: process() arrays are read in place by the builder thread', async () => {
    const factory = new PatternFactory([image, imInfo], 2, 'async');
    const store = new MemoryStore();
    const seen: number[] = [];
    let expectedA = 0;
    let expectedB = 0;
    const result = await runCalibration({
      factory,
      cache: store,
      memory: 'host',
      builder: 'sum',
      process: async (buffers, batchIndex) => {
        seen.push(batchIndex);
        const x = buffers.image as Float32Array;
        const a = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) a[i] = x[i] * 2;
        const b = new Float32Array((buffers.im_info as Float32Array).map((v) => v + 1));
        expectedA += a.reduce((s, v) => s + v, 0);
        expectedB += b.reduce((s, v) => s + v, 0);
        await new Promise((resolve) => setImmediate(resolve));
        return { '/conv/Conv_output_0': a, 'im info+1': b };
      },
    });
    expect(seen).toEqual([0, 1]);
    expect(result.batches).toBe(2);
    const lines = Buffer.from(store.writes[0]).toString().trim().split('\n');
    expect(lines[0]).toBe('TRT-0-SumCalibration');
    const values = Object.fromEntries(
      lines.slice(1).map((l) => [l.slice(0, l.lastIndexOf(': ')), Number(l.slice(l.lastIndexOf(': ') + 2))]),
    );
    expect(values['/conv/Conv_output_0']).toBeCloseTo(expectedA, 2);
    expect(values['im info+1']).toBeCloseTo(expectedB, 3);
  });
});

describe('native calibrator: errors', () => {
  it('rejects with the same error for a sync throw and an async rejection of the factory', async () => {
    const original = new Error('decoder exploded');
    const errors: unknown[] = [];
    for (const mode of ['sync', 'async'] as const) {
      const store = new MemoryStore();
      const factory = new PatternFactory([image], 5, mode, (i) => {
        if (i === 2) throw original;
      });
      const err = await runCalibration({ builder: 'test', factory, cache: store, memory: 'host' }).catch(
        (e: unknown) => e,
      );
      expect(store.writes).toHaveLength(0);
      errors.push(err);
    }
    for (const err of errors) {
      expect(err).toBeInstanceOf(TrtCalibratorError);
      expect(err).toMatchObject({
        code: 'ERR_BATCH_FACTORY',
        message: 'BatchFactory.fill failed on batch 2: decoder exploded',
      });
      expect((err as Error).cause).toBe(original);
    }
  });

  it('rejects a fill that returns a non-boolean', async () => {
    const factory = new PatternFactory([image], 1);
    factory.fill = () => 1 as unknown as boolean;
    await expect(runCalibration({ builder: 'test', factory, memory: 'host' })).rejects.toMatchObject({
      code: 'ERR_BATCH_FACTORY',
      message: expect.stringContaining('must return a boolean'),
    });
  });

  it('names the input, the expected shape and dtype, and what was given', async () => {
    const factory = new PatternFactory([image], 1);
    await expect(
      runCalibration({ builder: 'test', factory, networkInputs: [{ ...image, shape: [2, 3, 8, 8] }] }),
    ).rejects.toMatchObject({
      code: 'ERR_INPUT_SHAPE',
      message: 'Input "image": the network expects [2,3,8,8] float32 but the batch factory declares [2,3,4,5] float32',
    });
    await expect(
      runCalibration({ builder: 'test', factory, networkInputs: [{ ...image, dtype: 'float16' }] }),
    ).rejects.toMatchObject({
      code: 'ERR_INPUT_DTYPE',
    });
    await expect(runCalibration({ builder: 'test', factory, networkInputs: [image, imInfo] })).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message:
        'The network input "im_info" [2,3] float32 is not filled by the batch factory; it fills "image" [2,3,4,5] float32',
    });
    // The native re-check: the builder asks for a name the factory does not fill.
    await expect(
      runCalibration({ builder: 'test', factory, memory: 'host', bindingOrder: ['images'] }),
    ).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message: 'The network input "images" is not filled by the batch factory; it fills "image" [2,3,4,5] float32',
    });
  });

  it('reports a CUDA failure with the CUDA error name', async () => {
    const store = new MemoryStore();
    const err = await runCalibration({
      builder: 'test',
      factory: new PatternFactory([image], 2),
      cache: store,
      testHooks: { injectCudaError: 'cudaErrorIllegalAddress' },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CUDA', message: expect.stringMatching(/^cudaErrorIllegalAddress: /) });
    expect(store.writes).toHaveLength(0);
  });

  it('keeps external slot memory in place when a factory transfers it, and detects a transferred copy buffer', async () => {
    for (const copyBuffers of [false, true]) {
      const factory = new PatternFactory([image], 2);
      const lengths: number[] = [];
      factory.fill = (buffers, i) => {
        structuredClone(buffers.image.buffer, { transfer: [buffers.image.buffer as ArrayBuffer] });
        lengths.push(buffers.image.byteLength);
        return i < 2;
      };
      const result = await runCalibration({
        builder: 'test',
        factory,
        memory: 'host',
        testHooks: { copyBuffers },
      }).catch((e: unknown) => e);
      if (copyBuffers) {
        // A V8-owned buffer is detached by the transfer: the native side sees 0 bytes and refuses the batch.
        expect(result).toMatchObject({
          code: 'ERR_INPUT_SHAPE',
          message: expect.stringContaining('"image" ([2,3,4,5] float32, 480 bytes) was detached'),
        });
      } else {
        // Node copies external (native-memory) ArrayBuffers instead of detaching them: nothing dangles.
        expect(result).toMatchObject({ batches: 2 });
        expect(lengths).toEqual([480, 480, 480]);
      }
    }
  });

  it("drives TensorRT's builder through the same calibrator, or says TensorRT is not compiled in", async () => {
    const store = new MemoryStore();
    const run = runCalibration({
      factory: new PatternFactory([image], 2),
      cache: store,
      builder: 'tensorrt',
      engine: testEngineOptions('missing.onnx'),
    });
    if (loadAddon().capabilities().tensorrt.compiled) {
      await expect(run).rejects.toMatchObject({ code: 'ERR_TENSORRT_BUILD' });
    } else {
      await expect(run).rejects.toMatchObject({
        code: 'ERR_TENSORRT_UNAVAILABLE',
        message: expect.stringContaining('built without TensorRT'),
      });
    }
    expect(store.writes).toHaveLength(0);
  });

  it('validates options with the house message', async () => {
    const factory = new PatternFactory([image], 1);
    await expect(runCalibration({ builder: 'test', factory, memroy: 'host' } as never)).rejects.toThrow(
      'Unknown option "memroy" for runCalibration() (did you mean "memory"?)',
    );
    await expect(runCalibration({ builder: 'test', factory, memory: 'gpu' as never })).rejects.toThrow(
      'Expected "auto" or "host" for memory but received "gpu" of type string',
    );
    await expect(runCalibration({ builder: 'test', factory, cache: 42 as never })).rejects.toThrow(TypeError);
  });
});

describe('native calibrator: the typed options boundary', () => {
  const base: NativeRunOptions = {
    inputs: [image],
    batchSize: 2,
    algorithm: 2,
    memory: 'host',
    deviceIndex: 0,
    prefetch: true,
    builder: 'test',
    bindingNames: ['image'],
  };
  const builtin = {
    algorithm: 'entropy',
    percentile: 99.99,
    tensorrtVersion: '100300',
    cacheAlgorithm: 'EntropyCalibration2',
    maxActivationBytes: 256 * 2 ** 20,
    splittable: true,
    histogramThreads: 1,
  } as const;
  const engine = testEngineOptions();
  const callbacks = NO_DATA_CALLBACKS;
  function thrown(options: unknown): unknown {
    try {
      loadAddon().startCalibration(options as NativeRunOptions, callbacks);
    } catch (err) {
      return err;
    }
    throw new Error('startCalibration accepted the options');
  }
  const invalid = (name: 'TypeError' | 'RangeError', option: string, message: string | RegExp) =>
    expect.objectContaining({
      name,
      code: 'ERR_INVALID_OPTION',
      message: typeof message === 'string' ? message : expect.stringMatching(message),
      ...(option ? { option } : {}),
    });

  it('names a missing or mistyped field in a TypeError, and never reads a string as a number', () => {
    expect(thrown({ ...base, batchSize: undefined })).toEqual(
      invalid(
        'TypeError',
        'options.batchSize',
        'Expected an integer in [1, 2147483647] for options.batchSize but received undefined of type undefined',
      ),
    );
    expect(thrown({ ...base, batchSize: '2' })).toEqual(
      invalid('TypeError', 'options.batchSize', /for options\.batchSize but received "2" of type string$/),
    );
    const { builder: _builder, ...noBuilder } = base;
    expect(thrown(noBuilder)).toEqual(
      invalid('TypeError', 'options.builder', /^Expected one of "builtin", "tensorrt"/),
    );
    expect(thrown({ ...base, prefetch: 1 })).toEqual(invalid('TypeError', 'options.prefetch', /^Expected a boolean/));
    expect(thrown({ ...base, bindingNames: ['image', 7] })).toEqual(
      invalid('TypeError', 'options.bindingNames[1]', /^Expected a string for options\.bindingNames\[1\]/),
    );
    const histograms = new HistogramSet().native;
    expect(
      thrown({ ...base, builder: 'builtin', histograms, builtin: { ...builtin, maxActivationBytes: '256MiB' } }),
    ).toEqual(
      invalid(
        'TypeError',
        'options.builtin.maxActivationBytes',
        /for options\.builtin\.maxActivationBytes but received "256MiB" of type string$/,
      ),
    );
    const { percentile: _percentile, ...noPercentile } = builtin;
    expect(thrown({ ...base, builder: 'builtin', histograms, builtin: noPercentile })).toEqual(
      invalid('TypeError', 'options.builtin.percentile', /received undefined of type undefined$/),
    );
    expect(thrown({ ...base, builder: 'builtin', builtin })).toEqual(
      invalid('TypeError', 'options.histograms', /^Expected a native HistogramSet for options\.histograms/),
    );
    expect(thrown({ ...base, builder: 'tensorrt', engine: { ...engine, fp16: undefined } })).toEqual(
      invalid('TypeError', 'options.engine.fp16', /^Expected a boolean for options\.engine\.fp16/),
    );
  });

  it('refuses values out of range, unknown fields and options of another builder', () => {
    expect(thrown({ ...base, memory: 'gpu' })).toEqual(
      invalid(
        'RangeError',
        'options.memory',
        'Expected one of "auto", "host" for options.memory but received "gpu" of type string',
      ),
    );
    expect(thrown({ ...base, algorithm: 4 })).toEqual(
      invalid('RangeError', 'options.algorithm', /^Expected an integer in \[0, 3\]/),
    );
    expect(
      thrown({
        ...base,
        builder: 'builtin',
        histograms: new HistogramSet().native,
        builtin: { ...builtin, algorithm: 'kl' },
      }),
    ).toEqual(
      invalid('RangeError', 'options.builtin.algorithm', /^Expected one of "entropy", "minmax", "percentile", "mse"/),
    );
    expect(thrown({ ...base, builderOptions: {} })).toEqual(
      invalid('TypeError', '', 'Unknown option "builderOptions" for options'),
    );
    expect(thrown({ ...base, builtin })).toEqual(
      invalid('RangeError', '', 'options.builtin is for builder "builtin" only'),
    );
    expect(thrown({ ...base, engine })).toEqual(
      invalid('RangeError', '', 'options.engine is for builder "tensorrt" only'),
    );
    expect(thrown({ ...base, testHooks: { copyBuffers: 'yes', capture: false } })).toEqual(
      invalid('TypeError', 'options.testHooks.copyBuffers', /^Expected a boolean/),
    );
  });
});

describe('native calibrator: abort, concurrency, threads', () => {
  it('aborts mid-run: rejects with signal.reason and writes no cache', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-abort-'));
    const file = path.join(dir, 'model.cache');
    const controller = new AbortController();
    const reason = new Error('user pressed Ctrl-C');
    const factory = new PatternFactory([image], 100, 'async', async (i) => {
      if (i === 3) controller.abort(reason);
      if (i >= 3) await new Promise(() => undefined); // never settles: abort must not wait for it
    });
    // Batch 3's fill never settles: the run can only end through the abort (a run that waited for the fill
    // would hang, and fail at jest's timeout).
    const err = await runCalibration({
      builder: 'test',
      factory,
      cache: file,
      memory: 'host',
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(factory.calls).toEqual([0, 1, 2, 3]);
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
    await expect(runCalibration({ builder: 'test', factory, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('runs two calibrations at once without mixing their buffers', async () => {
    const a = new PatternFactory([image], 4, 'async');
    const b = new PatternFactory([{ ...image, name: 'other' }], 3, 'sync');
    const [ra, rb] = await Promise.all([
      runCalibration({ builder: 'test', factory: a, memory: 'host', testHooks: { capture: true } }),
      runCalibration({ builder: 'test', factory: b, memory: 'host', testHooks: { capture: true, copyBuffers: true } }),
    ]);
    expect(ra.batches).toBe(4);
    expect(rb.batches).toBe(3);
    for (const c of ra.captures!)
      expect(Buffer.from(c.bytes).equals(Buffer.from(expectedBytes(image, c.batch)))).toBe(true);
    for (const c of rb.captures!)
      expect(Buffer.from(c.bytes).equals(Buffer.from(expectedBytes({ ...image, name: 'other' }, c.batch)))).toBe(true);
  });

  it('detects a bridge call made on the JS thread instead of deadlocking', async () => {
    const addon = loadAddon();
    let release: () => void = () => undefined;
    // The builder thread is known to be running (and waiting for JS) once it has asked for the first batch.
    let filling: () => void = () => undefined;
    const firstFill = new Promise<void>((resolve) => (filling = resolve));
    const handle = addon.startCalibration(
      {
        inputs: [image],
        batchSize: 2,
        algorithm: 2,
        memory: 'host',
        deviceIndex: 0,
        prefetch: true,
        builder: 'test',
        bindingNames: ['image'],
      },
      {
        fill: () => {
          filling();
          return new Promise<boolean>((resolve) => (release = () => resolve(false)));
        },
        readCache: () => null,
        writeCache: () => undefined,
      },
    );
    await firstFill;
    expect(handle.callOnJsThread!()).toBe('wrong-thread');
    release();
    await expect(handle.promise).resolves.toMatchObject({ batches: 0 });
  });

  // Plain JS run for worker/child scripts (no TypeScript there).
  const runScript = (fillBody: string) => `
    const addon = require(${JSON.stringify(path.resolve(addonPath()))});
    const handle = addon.startCalibration(
      { inputs: [{ name: 'x', shape: [4, 1024], dtype: 'float32' }], batchSize: 4, algorithm: 2, memory: 'host',
        deviceIndex: 0, prefetch: true, builder: 'test', bindingNames: ['x'] },
      { fill: (buffers, i) => { ${fillBody} }, readCache: () => null, writeCache: () => undefined });
    handle.promise.then(() => report('resolved'), (e) => report('rejected ' + e.code));
  `;

  it.each([
    ['waiting for an async fill', `if (i === 2) { report('started'); return new Promise(() => {}); } return true;`],
    ['inside a busy sync fill', `if (i === 2) { report('started'); for (;;) {} } return true;`],
  ])('terminates a worker_threads run %s without hanging or aborting', async (_title, fillBody) => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads'); const report = (m) => parentPort.postMessage(m);\n${runScript(fillBody)}`,
      {
        eval: true,
      },
    );
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => m === 'started' && resolve());
      worker.on('error', reject);
    });
    // A terminate that waited for the fill would never return (the async fill never settles, the sync one
    // never ends): the test would fail at jest's timeout.
    expect(await worker.terminate()).toBe(1);
    expectNoLiveAllocations();
  });

  it.each([
    [
      'while the builder waits for an async fill',
      `if (i === 2) { setTimeout(() => process.exit(7), 10); return new Promise(() => {}); } return true;`,
    ],
    ['from inside a sync fill', `if (i === 2) process.exit(7); return true;`],
  ])('a child process that calls process.exit mid-run %s ends with that exit code', async (_title, fillBody) => {
    const child = spawn(process.execPath, ['-e', `const report = (m) => console.log(m);\n${runScript(fillBody)}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    expect({ code, signal, stderr }).toEqual({ code: 7, signal: null, stderr: '' });
  });
});

describe('native calibrator: memory', () => {
  it('frees everything: 1,000 runs leave no live native allocation and no JS object reachable', async () => {
    // Counters, not RSS: the addon's live-allocation counters (buffers, streams, runs: a run's thread is joined
    // before its count drops) after every run, and WeakRefs to what each run handed to or got from the addon
    // (the callbacks, the handle, its promise, the slot objects and their ArrayBuffers), counted after a full
    // GC. A run whose references were never deleted keeps those objects reachable. Run 500's callbacks are kept
    // on purpose: the count must find exactly them, which shows the GC really ran and the WeakRefs see retention.
    const script = `
      const addon = require(${JSON.stringify(path.resolve(addonPath()))});
      const opts = { inputs: [{ name: 'x', shape: [1, 256], dtype: 'float32' }], batchSize: 1, algorithm: 2, memory: 'host',
        deviceIndex: 0, prefetch: true, builder: 'test', bindingNames: ['x'] };
      const watched = [];
      const watch = (what, value) => watched.push({ what, ref: new WeakRef(value) });
      let kept;
      const once = (run) => {
        const callbacks = {
          fill: (b, i) => { if (i < 2) { watch('slot', b); watch('slot buffer', b.x.buffer); } b.x.fill(i); return i < 2; },
          readCache: () => null,
          writeCache: () => undefined,
        };
        for (const key of ['fill', 'readCache', 'writeCache']) watch(run === 500 ? 'kept ' + key : key, callbacks[key]);
        watch(run === 500 ? 'kept callbacks' : 'callbacks', callbacks);
        if (run === 500) kept = callbacks;
        const handle = addon.startCalibration(opts, callbacks);
        watch('handle', handle);
        watch('promise', handle.promise);
        return handle.promise;
      };
      const tick = () => new Promise((resolve) => setImmediate(resolve));
      (async () => {
        let liveAfterEach = 0;
        for (let run = 0; run < 1000; run++) {
          await once(run);
          const live = addon.liveAllocations();
          liveAfterEach = Math.max(liveAfterEach, live.runs, live.hostBuffers, live.bytes);
        }
        await tick();
        global.gc();
        await tick();
        global.gc();
        const alive = {};
        for (const w of watched) if (w.ref.deref() !== undefined) alive[w.what] = (alive[w.what] || 0) + 1;
        console.log(JSON.stringify({ watched: watched.length, alive, liveAfterEach, live: addon.liveAllocations(), kept: typeof kept }));
      })();`;
    const child = spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const r = JSON.parse(out) as {
      watched: number;
      alive: Record<string, number>;
      liveAfterEach: number;
      live: Record<string, number>;
    };
    // Per run: 4 callbacks objects, the handle, the promise, 2 slot objects and their 2 ArrayBuffers.
    expect(r.watched).toBe(1000 * 10);
    expect(r.liveAfterEach).toBe(0);
    expect(r.live).toEqual({ hostBuffers: 0, pinnedBuffers: 0, deviceBuffers: 0, streams: 0, bytes: 0, runs: 0 });
    expect(r.alive).toEqual({ 'kept fill': 1, 'kept readCache': 1, 'kept writeCache': 1, 'kept callbacks': 1 });
  });
});
