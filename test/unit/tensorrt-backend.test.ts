import * as fs from 'node:fs';
import * as path from 'node:path';
import { isTrtCalibratorError } from '../../lib/errors';
import { createCache, encodeTensorRTVersion, formatCache, parseTensorRTVersion } from '../../lib/cache';
import {
  assertTensorrtSupported,
  resolveBackend,
  tensorrtSupport,
  tensorrtUnavailableError,
} from '../../lib/backends/tensorrt';

const absent = { compiled: false as const, reason: 'TensorRT headers (NvInferVersion.h) not found at build time' };
const trt10 = { compiled: true as const, version: '10.7.0' };

describe('TensorRT backend resolution', () => {
  it("'auto' picks tensorrt when TensorRT 8.5-10.x is compiled in, else builtin", () => {
    expect(resolveBackend('auto', trt10)).toBe('tensorrt');
    expect(resolveBackend(undefined, { compiled: true, version: '8.6.1' })).toBe('tensorrt');
    expect(resolveBackend(undefined, { compiled: true, version: '8.5.2' })).toBe('tensorrt');
    expect(resolveBackend('auto', absent)).toBe('builtin');
    expect(resolveBackend(undefined, absent)).toBe('builtin');
  });

  it("'auto' falls back to builtin when the compiled-in TensorRT is 11 (no calibrator there)", () => {
    expect(resolveBackend('auto', { compiled: true, version: '11.0.0' })).toBe('builtin');
  });

  it("'builtin' stays builtin even with TensorRT compiled in", () => {
    expect(resolveBackend('builtin', trt10)).toBe('builtin');
  });

  it("rejects backend 'tensorrt' without TensorRT with ERR_TENSORRT_UNAVAILABLE and install instructions", () => {
    let err: unknown;
    try {
      resolveBackend('tensorrt', absent);
    } catch (e) {
      err = e;
    }
    expect(isTrtCalibratorError(err, 'ERR_TENSORRT_UNAVAILABLE')).toBe(true);
    const message = (err as Error).message;
    expect(message).toContain('NvInferVersion.h');
    expect(message).toContain('TENSORRT_ROOT');
    expect(message).toContain('npm rebuild trt-calibrator --build-from-source');
    expect(message).toContain("backend: 'builtin'");
  });

  it('an engine output forces TensorRT: auto without TensorRT fails, builtin with engine is a usage error', () => {
    expect(resolveBackend('auto', trt10, { engine: 'model.int8.plan' })).toBe('tensorrt');
    expect(() => resolveBackend('auto', absent, { engine: 'model.int8.plan' })).toThrow(
      /an engine output \(--engine\) needs TensorRT/,
    );
    expect(() => resolveBackend('builtin', trt10, { engine: 'm.plan' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'engine' }),
    );
  });

  it('rejects wrong types and values of backend with the house message', () => {
    expect(() => resolveBackend(3, trt10)).toThrow(TypeError);
    expect(() => resolveBackend('trt', trt10)).toThrow(RangeError);
    expect(() => resolveBackend('trt', trt10)).toThrow(
      /Expected one of 'auto', 'builtin', 'tensorrt' for backend but received "trt" of type string/,
    );
  });

  it('refuses TensorRT 11 for backend tensorrt with the Q/DQ pointer', () => {
    expect(() => resolveBackend('tensorrt', { compiled: true, version: '11.1.0' })).toThrow(/Q\/DQ ONNX/);
  });

  it('tensorrtUnavailableError carries the reason in details', () => {
    const e = tensorrtUnavailableError('disabled with TRTC_TENSORRT=OFF');
    expect(e.code).toBe('ERR_TENSORRT_UNAVAILABLE');
    expect(e.details).toEqual({ reason: 'disabled with TRTC_TENSORRT=OFF' });
  });
});

describe('TensorRT version gating', () => {
  it('supports 8.5 (JetPack 5.1) through 10.x, refuses older and 11+', () => {
    expect(tensorrtSupport('8.5.2')).toEqual({ supported: true });
    expect(tensorrtSupport('8.5.3')).toEqual({ supported: true });
    expect(tensorrtSupport('8.6.1')).toEqual({ supported: true });
    expect(tensorrtSupport('9.2.0')).toEqual({ supported: true });
    expect(tensorrtSupport('10.0.0')).toEqual({ supported: true });
    expect(tensorrtSupport('10.16.1')).toEqual({ supported: true });
    expect(tensorrtSupport('8.4.3')).toMatchObject({
      supported: false,
      reason: expect.stringContaining('older than 8.5'),
    });
    expect(tensorrtSupport('7.2')).toMatchObject({ supported: false });
    expect(tensorrtSupport('11.0')).toMatchObject({
      supported: false,
      reason: expect.stringContaining('calibrate --qdq'),
    });
    expect(() => assertTensorrtSupported('11.0.0')).toThrow(
      expect.objectContaining({ code: 'ERR_TENSORRT_UNAVAILABLE' }),
    );
    expect(() => assertTensorrtSupported('10.3.0')).not.toThrow();
  });

  it('writes the cache header version as TensorRT does (8601, 100300)', () => {
    expect(encodeTensorRTVersion('8.6.1')).toBe('8601');
    expect(encodeTensorRTVersion('10.3.0')).toBe('100300');
    expect(encodeTensorRTVersion('10.14.1')).toBe('101401');
    expect(formatCache(createCache([], { tensorrt: '8.6.1', algorithm: 'EntropyCalibration2' }))).toBe(
      'TRT-8601-EntropyCalibration2\n',
    );
    expect(
      formatCache(createCache([], { tensorrt: parseTensorRTVersion('10.7'), algorithm: 'MinMaxCalibration' })),
    ).toBe('TRT-100700-MinMaxCalibration\n');
  });

  it('rejects malformed versions', () => {
    expect(() => parseTensorRTVersion('ten')).toThrow(RangeError);
    expect(() => parseTensorRTVersion(10 as unknown as string)).toThrow(TypeError);
    expect(() => tensorrtSupport('ten')).toThrow(RangeError);
  });
});

// These read source TEXT: they keep the TensorRT-only file lists and the adapter's shape (noexcept overrides
// that catch everything) from drifting, nothing more. They do not show that native/tensorrt/ compiles or runs;
// with no TensorRT on the CI machine that evidence is the header compile check against NVIDIA's headers (a
// headers-only CMake build), and the behaviour of the no-TensorRT stub is tested by running it
// (test/native/calibrator.test.ts: the 'tensorrt' builder rejects with ERR_TENSORRT_UNAVAILABLE; the CLI's
// --engine exits 7 in test/e2e/calibrate-cli.test.ts). The README's "What is verified where" says the same.
describe('TensorRT native sources (source text only)', () => {
  const root = path.join(__dirname, '..', '..');
  const read = (f: string): string => fs.readFileSync(path.join(root, f), 'utf8');

  it('CMake lists the TensorRT-only sources, and they exist; binding.gyp never builds them', () => {
    const cmake = read('CMakeLists.txt');
    const m = /set\(TRTC_TENSORRT_SOURCES\s+([^)]*)\)/.exec(cmake);
    expect(m).not.toBeNull();
    const files = m![1].split(/\s+/).filter(Boolean);
    expect(files).toEqual(['native/tensorrt/calibrator_adapter.cc', 'native/tensorrt/engine_builder.cc']);
    for (const f of files) expect(fs.existsSync(path.join(root, f))).toBe(true);
    // binding.gyp builds native/tensorrt/'s TensorRT-free files (the builder, the stub), never these two.
    for (const f of files) expect(read('binding.gyp')).not.toContain(f);
  });

  it('the no-TensorRT build fails buildEngine with ERR_TENSORRT_UNAVAILABLE and how to install', () => {
    const stub = read('native/tensorrt/engine_builder_unavailable.cc');
    expect(stub).toContain('#if !TRTC_WITH_TENSORRT');
    // The code crosses as a code (RunErrorCode, named ERR_TENSORRT_UNAVAILABLE in native/core/run_error.h).
    expect(stub).toContain('error.code = RunErrorCode::kTENSORRT_UNAVAILABLE;');
    expect(read('native/core/run_error.h')).toMatch(
      /case RunErrorCode::kTENSORRT_UNAVAILABLE:\s+return "ERR_TENSORRT_UNAVAILABLE";/,
    );
    expect(stub).toContain('TENSORRT_ROOT');
  });

  it('every override of the calibrator adapter is noexcept; those that call the core catch everything', () => {
    // The adapters are CalibratorForwarder<TensorRT base> (calibrator_forwarder.h holds the overrides).
    expect(read('native/tensorrt/calibrator_adapter.h')).toMatch(
      /using EntropyCalibrator2Adapter = CalibratorForwarder<nvinfer1::IInt8EntropyCalibrator2>;/,
    );
    const forwarder = read('native/tensorrt/calibrator_forwarder.h');
    const overrides = forwarder.match(/^\s+\S.*\) (const )?noexcept override \{/gm) ?? [];
    expect(overrides).toHaveLength(4);
    // getBatchSize returns the constant 1 (explicit batch); the other three forward and catch.
    expect(forwarder).toContain('int32_t getBatchSize() const noexcept override { return 1; }');
    expect(forwarder.match(/catch \(\.\.\.\)/g)).toHaveLength(3);
  });

  it('declares the logger, progress monitor and calibrator adapter before the TensorRT objects that use them', () => {
    const builder = read('native/tensorrt/engine_builder.cc');
    const body = builder.slice(builder.indexOf('bool build(EngineBuildOptions const& options'));
    const at = (text: string) => {
      const i = body.indexOf(text);
      expect(i).toBeGreaterThan(0);
      return i;
    };
    const builderAt = at('TrtPtr<nvinfer1::IBuilder> builder(');
    for (const owner of [
      'ForwardingLogger logger(',
      'ForwardingProgressMonitor monitor(',
      'std::unique_ptr<nvinfer1::IInt8Calibrator> adapter;',
    ])
      expect(at(owner)).toBeLessThan(builderAt);
    expect(at('TrtPtr<nvinfer1::IBuilderConfig> config(')).toBeGreaterThan(builderAt);
    // TensorRT 9.x has IProgressMonitor too.
    expect(builder).toMatch(/#if NV_TENSORRT_MAJOR >= 9\n\s+ForwardingProgressMonitor monitor/);
  });
});
