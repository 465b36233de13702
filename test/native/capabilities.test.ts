import * as path from 'node:path';
import { loadAddon } from '../../lib/binding';
import { capabilities, formatCapabilities } from '../../lib/capabilities';
import { cudaExpectation, expectCompiledAsExpected, tensorrtExpectation } from '../helpers/build-expectations';

/** The addon this suite loads: the test build, or the node-gyp/ASan build scripts/test.js names. */
const addonFile = path.resolve(process.env.TRT_CALIBRATOR_ADDON as string);

describe('native addon: capabilities', () => {
  it('loads without a GPU and reports its build', () => {
    const addon = loadAddon();
    const caps = addon.capabilities();
    expect(caps.addonVersion).toBe(addon.addonVersion);
    expect(['cmake-js', 'node-gyp']).toContain(caps.buildSystem);
    expect(caps.napiVersion).toBeGreaterThanOrEqual(8);
    // This suite runs against test builds only (jest.config.js); release-build.test.ts checks the release addon.
    expect(caps.testHooks).toBe(true);
    expect(formatCapabilities(capabilities())).toMatch(
      /^ {2}addon {8}\S+ \((cmake-js|node-gyp), N-API \d+, test build\)$/m,
    );
  });

  it('says why there is no CUDA device when none is seen', () => {
    const caps = capabilities();
    if (caps.cuda.devices.length > 0) {
      for (const d of caps.cuda.devices) expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      return;
    }
    if (caps.cuda.compiled) {
      expect(caps.cuda.error).toMatch(/^cuda[A-Za-z]+: /);
      expect(formatCapabilities(caps)).toContain('devices      none: ');
    } else {
      // An addon built without CUDA (TRTC_CUDA=OFF, a prebuilt addon) says so instead of listing devices.
      expect(formatCapabilities(caps)).toMatch(/^ {2}CUDA {9}not compiled in/m);
    }
  });

  it('has CUDA compiled in exactly where this machine has the CUDA toolkit (a build that lost CUDA fails here)', () => {
    const caps = loadAddon().capabilities();
    // No toolkit found where the builds look: nothing to hold the build to (another machine's CI states it).
    expectCompiledAsExpected('CUDA', addonFile, caps.cuda.compiled, cudaExpectation(addonFile, caps.buildSystem));
  });

  it('has the TensorRT adapter compiled in where this machine has TensorRT 8.6-10.x and CUDA', () => {
    const caps = loadAddon().capabilities();
    if (caps.buildSystem === 'node-gyp') {
      expect(caps.tensorrt.compiled).toBe(false); // binding.gyp never builds the adapter
      return;
    }
    const expected = tensorrtExpectation(addonFile, caps.cuda.compiled);
    expectCompiledAsExpected('TensorRT', addonFile, caps.tensorrt.compiled, expected);
  });

  it('reports TensorRT as compiled in with a version, or why not', () => {
    const { tensorrt } = loadAddon().capabilities();
    if (tensorrt.compiled) expect(tensorrt.version).toMatch(/^\d+\.\d+\.\d+$/);
    else expect(tensorrt.reason.length).toBeGreaterThan(10);
  });

  it('gives the TensorRT part alone without the device query (what calibrate() asks on the JS thread)', () => {
    // tensorrtCapabilities() exists so that calibrate() need not initialise the CUDA driver on the JS thread
    // (capabilities() queries the devices: about 190 ms on the H200 machine, bench/event-loop/RESULTS.md). Here:
    // the same answer as the full call's field, and the full call still has its device part.
    const addon = loadAddon();
    const full = addon.capabilities();
    expect(addon.tensorrtCapabilities()).toEqual(full.tensorrt);
    expect(full.cuda).toHaveProperty('devices');
  });
});
