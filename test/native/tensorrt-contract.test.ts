import { NativeRunOptions, loadAddon } from '../../lib/binding';
import { InputSpec } from '../../lib/batch/factory';
import { liveNativeAllocations, runCalibration } from '../../lib/calibrator/run';
import { MemoryStore, NO_DATA_CALLBACKS, PatternFactory, testEngineOptions } from '../helpers/calibrator';

// What the run options and the run result promise about TensorRT's contract, as far as an addon without TensorRT
// can show it (native/bridge/run_options.cc, native/bridge/run.cc).
const image: InputSpec = { name: 'image', shape: [2, 3, 4, 5], dtype: 'float32' };
const engine = testEngineOptions();
const base = {
  inputs: [{ name: 'image', shape: [2, 3, 4, 5], dtype: 'float32' }],
  batchSize: 2,
  algorithm: 2,
  memory: 'auto',
  deviceIndex: 0,
  prefetch: true,
  builder: 'tensorrt',
  bindingNames: ['image'],
  engine,
};
const callbacks = NO_DATA_CALLBACKS;
const compiled = loadAddon().capabilities().tensorrt.compiled;

function thrown(options: unknown): unknown {
  try {
    const run = loadAddon().startCalibration(options as NativeRunOptions, callbacks);
    run.abort();
    return run.promise.then(
      () => new Error('the run resolved'),
      () => new Error('startCalibration accepted the options'),
    );
  } catch (err) {
    return err;
  }
}

afterEach(async () => {
  // Every run above settles before its test ends; nothing may stay allocated.
  for (let i = 0; i < 50 && liveNativeAllocations().runs > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(liveNativeAllocations()).toMatchObject({ hostBuffers: 0, deviceBuffers: 0, runs: 0 });
});

describe('builder "tensorrt": device memory only', () => {
  it('refuses memory "host" before any thread starts: TensorRT reads its batches from device memory', () => {
    expect(thrown({ ...base, memory: 'host' })).toEqual(
      expect.objectContaining({
        name: 'RangeError',
        code: 'ERR_INVALID_OPTION',
        option: 'options.memory',
        message: expect.stringMatching(
          /^Expected "auto" with builder "tensorrt" \(TensorRT's calibrator reads its batches from device memory/,
        ),
      }),
    );
  });

  it('runCalibration passes the refusal on as ERR_INVALID_OPTION', async () => {
    await expect(
      runCalibration({ factory: new PatternFactory([image], 1), builder: 'tensorrt', memory: 'host', engine }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('memory "auto" without TensorRT fails with ERR_TENSORRT_UNAVAILABLE (TensorRT is what is missing, not a device)', async () => {
    const run = runCalibration({ factory: new PatternFactory([image], 1), builder: 'tensorrt', engine });
    if (compiled) {
      // With TensorRT and no device: ERR_CUDA naming why; with a device, the missing model fails the build.
      await expect(run).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(CUDA|TENSORRT_BUILD)$/) });
    } else {
      await expect(run).rejects.toMatchObject({ code: 'ERR_TENSORRT_UNAVAILABLE' });
    }
  });
});

describe('builder "tensorrt": engine options', () => {
  const withShape = (shape: Record<string, unknown>) => ({ ...base, engine: { ...engine, inputShapes: [shape] } });
  const range = { name: 'target', min: [4], opt: [4], max: [4] };

  it('takes shape-tensor values and the Q/DQ and layer-information switches', async () => {
    const ok = thrown({
      ...base,
      engine: {
        ...engine,
        inputShapes: [{ ...range, values: { min: [1, 2, 3, 4], opt: [1, 2, 3, 4], max: [2, 3, 4, 5] } }],
        explicitQuantization: true,
        inspectLayers: true,
      },
    });
    // Accepted: the run starts (and is aborted at once by thrown()).
    await expect(ok).resolves.toEqual(new Error('startCalibration accepted the options'));
  });

  it('refuses values of different lengths, empty ones, values beyond int32 and unknown keys', () => {
    const expectInvalid = (shape: Record<string, unknown>, option: string, name = 'RangeError') =>
      expect(thrown(withShape(shape))).toEqual(expect.objectContaining({ name, code: 'ERR_INVALID_OPTION', option }));
    expectInvalid(
      { ...range, values: { min: [1], opt: [1, 2], max: [1, 2] } },
      'options.engine.inputShapes[0].values.opt',
    );
    expectInvalid({ ...range, values: { min: [], opt: [], max: [] } }, 'options.engine.inputShapes[0].values.opt');
    expectInvalid(
      { ...range, values: { min: [1], opt: [2 ** 31], max: [1] } },
      'options.engine.inputShapes[0].values.opt[0]',
    );
    expectInvalid({ ...range, values: [1, 2] }, 'options.engine.inputShapes[0].values', 'TypeError');
    expect(thrown(withShape({ ...range, vals: [1] }))).toEqual(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining('Unknown option "vals"'),
      }),
    );
    expect(thrown({ ...base, engine: { ...engine, explicitQuantization: 'yes' } })).toEqual(
      expect.objectContaining({ name: 'TypeError', option: 'options.engine.explicitQuantization' }),
    );
  });
});

describe('run result: cache hit and rejection', () => {
  it('a cache the builder used is a hit, never a rejection', async () => {
    const store = new MemoryStore(new Uint8Array(Buffer.from('TRT-8601-EntropyCalibration2\nimage: 3c010a14\n')));
    const result = await runCalibration({
      builder: 'test',
      factory: new PatternFactory([image], 2),
      cache: store,
      memory: 'host',
    });
    expect(result).toMatchObject({ cacheHit: true, cacheRejected: false, batches: 0 });
  });

  it('no cache is neither', async () => {
    const result = await runCalibration({
      builder: 'test',
      factory: new PatternFactory([image], 2),
      cache: new MemoryStore(),
      memory: 'host',
    });
    expect(result).toMatchObject({ cacheHit: false, cacheRejected: false, batches: 2, cacheWritten: true });
  });
});

describe('capabilities: TensorRT versions', () => {
  it('reports the loaded library and the headers when compiled in, the reason otherwise', () => {
    const { tensorrt } = loadAddon().capabilities();
    if (tensorrt.compiled) {
      expect(tensorrt.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(tensorrt.headersVersion).toMatch(/^\d+\.\d+\.\d+$/);
    } else {
      expect(Object.keys(tensorrt).sort()).toEqual(['compiled', 'reason']);
    }
  });
});
