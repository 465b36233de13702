/**
 * The release addon (build/Release, what `npm install` builds) carries no test code: it says so in its
 * capabilities, refuses the test builders and the test-hook options with ERR_INVALID_OPTION naming the test
 * build, and has none of the test-only functions. jest.config.js runs this file in the `release` project; the
 * suites that need the test build run in `test-build`.
 */
import * as path from 'node:path';
import { NativeRunOptions, loadAddon, packageRoot } from '../../lib/binding';
import { capabilities, formatCapabilities } from '../../lib/capabilities';
import { HistogramSet } from '../../lib/histogram';
import { liveNativeAllocations, runCalibration } from '../../lib/calibrator/run';
import { NO_DATA_CALLBACKS, PatternFactory, testEngineOptions } from '../helpers/calibrator';
import { addonCapabilities, cudaExpectation, expectCompiledAsExpected } from '../helpers/build-expectations';

const image = { name: 'image', shape: [2, 3, 4, 5], dtype: 'float32' } as const;
const base = {
  inputs: [image],
  batchSize: 2,
  algorithm: 2,
  memory: 'host',
  deviceIndex: 0,
  prefetch: true,
  bindingNames: ['image'],
} as const;
const engine = testEngineOptions('missing.onnx');
const callbacks = NO_DATA_CALLBACKS;

function thrown(options: NativeRunOptions): unknown {
  try {
    loadAddon().startCalibration(options, callbacks);
  } catch (err) {
    return err;
  }
  throw new Error('startCalibration accepted the options');
}

describe('release addon', () => {
  afterEach(() => expect(liveNativeAllocations().runs).toBe(0));

  it('build/ has CUDA compiled in where this machine has the CUDA toolkit (a build that lost CUDA fails here)', () => {
    // build/Release by name (what npm install builds), whatever else loadAddon() may prefer.
    const file = path.join(packageRoot, 'build', 'Release', 'trt_calibrator.node');
    const caps = addonCapabilities(file);
    expectCompiledAsExpected('CUDA', file, caps.cuda.compiled, cudaExpectation(file, caps.buildSystem));
  });

  it('says it is not the test build', () => {
    expect(loadAddon().capabilities().testHooks).toBe(false);
    expect(capabilities().addon).toMatchObject({ loaded: true, testHooks: false });
    expect(formatCapabilities(capabilities())).not.toContain('test build');
  });

  it('refuses the test builders and the test-hook options, naming the test build', async () => {
    for (const builder of ['test', 'sum'] as const) {
      expect(thrown({ ...base, builder })).toMatchObject({
        name: 'RangeError',
        code: 'ERR_INVALID_OPTION',
        message: `builder "${builder}" is only in the test build of the addon (built with TRTC_TEST_HOOKS=ON)`,
      });
    }
    expect(
      thrown({ ...base, builder: 'tensorrt', engine, testHooks: { copyBuffers: true, capture: false } }),
    ).toMatchObject({
      name: 'RangeError',
      code: 'ERR_INVALID_OPTION',
      message: 'options.testHooks is only in the test build of the addon (built with TRTC_TEST_HOOKS=ON)',
    });
    // Through the run API too, before any batch is asked for.
    const factory = new PatternFactory([image], 1);
    await expect(runCalibration({ builder: 'test', factory, memory: 'host' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringContaining('is only in the test build'),
    });
    expect(factory.calls).toEqual([]);
  });

  it("has no test-only functions: benchBareUpload, ortSessionCounts, a run handle's callOnJsThread", async () => {
    const addon = loadAddon();
    expect(addon.benchBareUpload).toBeUndefined();
    expect(addon.ortSessionCounts).toBeUndefined();
    const handle = addon.startCalibration(
      {
        ...base,
        builder: 'builtin',
        histograms: new HistogramSet().native,
        builtin: {
          algorithm: 'entropy',
          percentile: 99.99,
          tensorrtVersion: '100300',
          cacheAlgorithm: 'EntropyCalibration2',
          maxActivationBytes: 0,
          splittable: false,
          histogramThreads: 1,
        },
      },
      // One batch of zeros: the builtin builder names the input as all-zero in result.tensorStatuses.
      {
        ...callbacks,
        fill: (buffers, i) => {
          (buffers.image as Float32Array).fill(0);
          return i < 1;
        },
        process: () => ({}),
      },
    );
    expect(handle.callOnJsThread).toBeUndefined();
    const result = await handle.promise;
    expect(result).toMatchObject({
      batches: 1,
      cacheWritten: true,
      tensorStatuses: [{ name: 'image', status: 'all-zero' }],
    });
    expect(result.trace).toBeUndefined();
    expect(result.captures).toBeUndefined();
  });
});
