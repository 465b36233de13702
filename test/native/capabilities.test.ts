import { loadAddon } from '../../lib/binding';
import { capabilities, formatCapabilities } from '../../lib/capabilities';

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

  it('reports TensorRT as compiled in with a version, or why not', () => {
    const { tensorrt } = loadAddon().capabilities();
    if (tensorrt.compiled) expect(tensorrt.version).toMatch(/^\d+\.\d+\.\d+$/);
    else expect(tensorrt.reason.length).toBeGreaterThan(10);
  });
});
