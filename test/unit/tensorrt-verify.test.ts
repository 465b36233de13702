import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createCache, makeCacheEntry } from '../../lib/cache';
import { capabilities, formatCapabilities, type Capabilities } from '../../lib/capabilities';
import { buildProgram } from '../../lib/cli';
import {
  assertTensorrtReady,
  compareCaches,
  countInt8Layers,
  entropyDivergenceAt,
  formatVerifyReport,
  prepareVerifyCase,
  verifyTensorrt,
  type VerifyTensorrtReport,
} from '../../lib/backends/tensorrt/verify';
import { libraryHeadersMismatch } from '../../lib/backends/tensorrt';
import { CLASSIFIER } from '../helpers/models';

const caps = capabilities();
const withoutTensorrt = !caps.tensorrt.compiled;

/** A capabilities() value with TensorRT and devices as given. */
function fakeCaps(tensorrt: Capabilities['tensorrt'], devices = 1): Capabilities {
  return {
    ...caps,
    tensorrt,
    cuda: {
      compiled: true,
      runtimeVersion: 12040,
      driverVersion: 12060,
      devices: Array.from({ length: devices }, (_, i) => ({
        index: i,
        name: 'Tesla T4',
        computeCapability: '7.5',
        totalMemory: 16e9,
        multiProcessors: 40,
      })),
      ...(devices === 0 ? { error: 'cudaErrorNoDevice: no CUDA-capable device is detected' } : {}),
    },
  };
}

describe('verify-tensorrt: the TensorRT half', () => {
  (withoutTensorrt ? it : it.skip)(
    'fails at once with ERR_TENSORRT_UNAVAILABLE and the install advice where TensorRT is not compiled in',
    async () => {
      const err = await verifyTensorrt().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_TENSORRT_UNAVAILABLE' });
      const message = (err as Error).message;
      expect(message).toMatch(/^verify-tensorrt needs TensorRT/);
      expect(message).toContain('install TensorRT 8.5–10.x');
      expect(message).toContain('apt install libnvinfer-dev libnvonnxparsers-dev');
      expect(message).toContain('JetPack');
      expect(message).toContain('npm rebuild trt-calibrator --build-from-source');
    },
  );

  it('refuses TensorRT 11 and 8.4 as unavailable, and a machine without a CUDA device as ERR_CUDA', () => {
    expect(() =>
      assertTensorrtReady(fakeCaps({ compiled: true, version: '11.0.0', headersVersion: '11.0.0' })),
    ).toThrow(expect.objectContaining({ code: 'ERR_TENSORRT_UNAVAILABLE', message: expect.stringContaining('Q/DQ') }));
    expect(() => assertTensorrtReady(fakeCaps({ compiled: true, version: '8.4.3', headersVersion: '8.4.3' }))).toThrow(
      expect.objectContaining({ code: 'ERR_TENSORRT_UNAVAILABLE', message: expect.stringContaining('older than 8.5') }),
    );
    expect(() =>
      assertTensorrtReady(fakeCaps({ compiled: true, version: '8.5.2', headersVersion: '8.5.2' }, 0)),
    ).toThrow(expect.objectContaining({ code: 'ERR_CUDA', message: expect.stringContaining('cudaErrorNoDevice') }));
    expect(assertTensorrtReady(fakeCaps({ compiled: true, version: '8.5.2', headersVersion: '8.5.2' }))).toEqual({
      version: '8.5.2',
      headersVersion: '8.5.2',
    });
  });

  (withoutTensorrt ? it : it.skip)(
    'the CLI command prints the code and the advice on stderr and exits 7 (native)',
    async () => {
      const stderr: string[] = [];
      const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        stderr.push(String(chunk));
        return true;
      });
      const before = process.exitCode;
      try {
        await buildProgram().parseAsync(['node', 'trt-calibrator', 'verify-tensorrt', '--images', '16']);
        expect(process.exitCode).toBe(7);
      } finally {
        write.mockRestore();
        process.exitCode = before;
      }
      expect(stderr.join('')).toMatch(/^trt-calibrator: ERR_TENSORRT_UNAVAILABLE: verify-tensorrt needs TensorRT/);
    },
  );

  it('checks its flags before anything else (--images below --batch)', async () => {
    const err = await verifyTensorrt({ images: 4, batchSize: 8 }).catch((e: unknown) => e);
    // Without TensorRT the availability check comes first; with it, the option check.
    expect(err).toMatchObject({ code: withoutTensorrt ? 'ERR_TENSORRT_UNAVAILABLE' : 'ERR_INVALID_OPTION' });
  });
});

describe('verify-tensorrt: comparing the caches', () => {
  const cache = (entries: Record<string, number>) =>
    createCache(
      Object.entries(entries).map(([name, amax]) => makeCacheEntry(name, amax / 127)),
      { tensorrt: '10.3.0', algorithm: 'EntropyCalibration2' },
    );

  it('counts amax within 2 % as agreeing and lists the rest worst first', () => {
    const a = compareCaches(cache({ x: 1, y: 2, z: 4, onlyTrt: 1 }), cache({ x: 1.015, y: 2.2, z: 4, onlyOurs: 3 }));
    expect(a).toMatchObject({ common: 3, within2Percent: 2, sameKl: 0, pass: false });
    expect(a.onlyTensorrt).toEqual(['onlyTrt']);
    expect(a.onlyBuiltin).toEqual(['onlyOurs']);
    expect(a.disagreeing.map((d) => d.name)).toEqual(['y']);
    expect(a.worst?.name).toBe('y');
    expect(a.worst?.relative).toBeCloseTo(0.2 / 2.2, 6);
  });

  it('passes at 95 % agreement, not below', () => {
    const base: Record<string, number> = {};
    for (let i = 0; i < 20; i++) base[`t${i}`] = 1 + i;
    const off = { ...base, t0: 5 };
    expect(compareCaches(cache(base), cache(off))).toMatchObject({ common: 20, share: 0.95, pass: true });
    expect(compareCaches(cache(base), cache({ ...off, t1: 9 }))).toMatchObject({ share: 0.9, pass: false });
    expect(compareCaches(cache({ a: 1 }), cache({ b: 1 }))).toMatchObject({ common: 0, pass: false });
  });

  it("KL(P||Q) at a candidate is the builtin backend's: the minimum lies where its threshold does", () => {
    // Counts falling off like a long tail: the entropy minimum is well inside the range.
    const counts = new Float64Array(2048);
    for (let j = 0; j < counts.length; j++) counts[j] = Math.round(1e6 * Math.exp(-j / 60));
    const kl = (i: number) => entropyDivergenceAt(counts, i);
    let best = 128;
    for (let i = 128; i <= 2048; i++) if (kl(i) <= kl(best)) best = i;
    expect(kl(best)).toBeLessThan(kl(128));
    expect(kl(best)).toBeLessThan(kl(2048));
    expect(entropyDivergenceAt(counts, 0)).toBe(Infinity);
    expect(entropyDivergenceAt(counts, 2049)).toBe(Infinity);
  });

  it('reads INT8 layers from TensorRT engine information and says nothing when it has no formats', () => {
    const info = {
      Layers: [
        {
          Name: 'conv1',
          LayerType: 'CaskConvolution',
          Inputs: [{ Name: 'x', 'Format/Datatype': 'Thirty-two wide channel vectorized row major Int8 format' }],
          Outputs: [{ Name: 'c1', 'Format/Datatype': 'Thirty-two wide channel vectorized row major Int8 format' }],
        },
        {
          Name: 'reformat',
          LayerType: 'Reformat',
          Inputs: [{ Name: 'in', 'Format/Datatype': 'Row major linear FP32' }],
          Outputs: [{ Name: 'x', 'Format/Datatype': 'Thirty-two wide channel vectorized row major Int8 format' }],
        },
        {
          Name: 'softmax',
          Inputs: [{ Name: 'c1', 'Format/Datatype': 'Row major linear FP32' }],
          Outputs: [{ Name: 'y', 'Format/Datatype': 'Row major linear FP32' }],
        },
      ],
      Bindings: ['x', 'y'],
    };
    expect(countInt8Layers(JSON.stringify(info))).toEqual({ layers: 3, int8Layers: 2 });
    expect(countInt8Layers(JSON.stringify({ Layers: ['conv1', 'softmax'] }))).toEqual({ layers: 2 });
    expect(countInt8Layers('not json')).toEqual({});
  });

  it('prints the verdict, the worst tensor, the Q/DQ engine and a JSON blob that parses back', () => {
    const agreement = compareCaches(cache({ x: 1, y: 2 }), cache({ x: 1, y: 2.01 }));
    const report: VerifyTensorrtReport = {
      package: '0.1.0',
      versions: {
        tensorrtLibrary: '8.5.2',
        tensorrtHeaders: '8.5.2',
        cudaRuntime: '11.4',
        cudaDriver: '11.4',
        gpus: ['Orin (compute 8.7)'],
        node: 'v20.9.0',
        platform: 'linux-arm64',
      },
      case: { model: 'cls.onnx', images: 64, batchSize: 8, seed: 1, batches: 8 },
      engine: { bytes: 3 * 2 ** 20, buildSeconds: 12.5, layers: 40, int8Layers: 31 },
      agreement,
      qdq: { skipped: 'TensorRT 8.5.2: the Q/DQ export targets TensorRT 10 and 11' },
    };
    const text = formatVerifyReport(report);
    expect(text).toContain('engine       INT8, 3.00 MiB, built in 12.5 s (calibration included); 31 of 40 layers INT8');
    expect(text).toContain('agreement    2 of 2 tensors agree (100.0 %): 2 within 2 %, 0 with the same KL: PASS');
    expect(text).toContain('worst        y:');
    expect(text).toContain('Q/DQ         skipped: TensorRT 8.5.2');
    expect(JSON.parse(text.slice(text.lastIndexOf('\n') + 1))).toEqual(JSON.parse(JSON.stringify(report)));
  });
});

describe('verify-tensorrt: the builtin half', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-verify-test-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('calibrates the bundled case twice to the same cache, agrees with itself and judges a moved threshold by its KL', () => {
    // Run on the compiled package in a child process: jest's module realm would make the native batch views
    // fail the factory's Float32Array check, which users never see.
    const script = `
      const v = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'backends', 'tensorrt', 'verify.js'))});
      const { createCache, makeCacheEntry } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'cache'))});
      const path = require('node:path');
      (async () => {
        const dir = ${JSON.stringify(dir)};
        const c = await v.prepareVerifyCase(dir, { model: ${JSON.stringify(CLASSIFIER)}, images: 16, batchSize: 8, seed: 3 });
        const a = await v.calibrateVerifyCaseBuiltin(c, '10.3.0', path.join(dir, 'a.cache'));
        const b = await v.calibrateVerifyCaseBuiltin(c, '10.3.0', path.join(dir, 'b.cache'));
        const same = v.compareCaches(a.cache, b.cache, a.histograms);
        // Move one threshold by 50 %: beyond 2 %, and its KL is computed on our histogram.
        const e = a.cache.entries.find((x) => a.histograms.has(x.name) && a.histograms.stats(x.name).binWidth > 0 && x.scale > 0);
        const width = a.histograms.stats(e.name).binWidth;
        const moved = createCache(a.cache.entries.map((x) => (x.name === e.name ? makeCacheEntry(x.name, x.scale * 1.5) : x)),
          { tensorrt: '10.3.0', algorithm: 'EntropyCalibration2' });
        const row = v.compareCaches(moved, a.cache, a.histograms).worst;
        const counts = a.histograms.counts(e.name);
        const expected = v.entropyDivergenceAt(counts, Math.round((e.scale * 127) / width));
        process.stdout.write(JSON.stringify({ input: c.input.name, batches: a.batches, entries: a.cache.entries.length,
          same: { common: same.common, share: same.share, pass: same.pass, sameKl: same.sameKl },
          row: { name: row.name, relative: row.relative, klBuiltin: row.klBuiltin, klTensorrt: row.klTensorrt, agrees: row.agrees },
          moved: e.name, expected }));
      })().catch((err) => { process.stderr.write(String(err.stack)); process.exit(1); });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 110000 }));
    expect(out.input).toBe('x');
    expect(out.batches).toBe(2);
    expect(out.entries).toBeGreaterThan(50);
    // The same batches through two factories: byte-identical caches.
    expect(fs.readFileSync(path.join(dir, 'a.cache'))).toEqual(fs.readFileSync(path.join(dir, 'b.cache')));
    expect(out.same).toEqual({ common: out.entries, share: 1, pass: true, sameKl: 0 });
    expect(out.row.name).toBe(out.moved);
    expect(out.row.relative).toBeCloseTo(1 / 3, 5);
    expect(out.row.klBuiltin).toBeCloseTo(out.expected, 12);
    expect(typeof out.row.klTensorrt).toBe('number');
    expect(out.row.agrees).toBe(
      Math.abs(out.row.klTensorrt - out.row.klBuiltin) <=
        Math.max(1e-4, 0.01 * Math.max(out.row.klTensorrt, out.row.klBuiltin)),
    );
    expect(fs.readdirSync(path.join(dir, 'images'))).toHaveLength(16);
  }, 120000);

  it('refuses fewer images than a batch, and no images', async () => {
    await expect(prepareVerifyCase(dir, { model: CLASSIFIER, images: 4, batchSize: 8 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await expect(prepareVerifyCase(dir, { model: CLASSIFIER, images: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });
});

describe('TensorRT library and headers versions', () => {
  it('says nothing when library and headers share major.minor, and what follows when they do not', () => {
    expect(libraryHeadersMismatch('10.3.0', '10.3.1')).toBeUndefined();
    expect(libraryHeadersMismatch('10.3.0', undefined)).toBeUndefined();
    expect(libraryHeadersMismatch('10.4.0', '10.3.0')).toMatch(/caches and engines are TensorRT 10\.4\.0's/);
    expect(libraryHeadersMismatch('8.6.1', '10.3.0')).toMatch(/engine builds are refused/);
  });

  it('doctor shows both versions and the mismatch', () => {
    const text = formatCapabilities(
      fakeCaps({
        compiled: true,
        version: '10.4.0',
        headersVersion: '10.3.0',
        mismatch: libraryHeadersMismatch('10.4.0', '10.3.0'),
      }),
    );
    expect(text).toContain('TensorRT     library 10.4.0, headers 10.3.0');
    expect(text).toMatch(/MISMATCH: the loaded TensorRT library is 10\.4\.0/);
  });
});
