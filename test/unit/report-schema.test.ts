import {
  buildTensorReport,
  clippedShareFromHistogram,
  downsampleHistogram,
  listTensorsWithoutScale,
  standardWarnings,
  REPORT_MAX_BINS,
  REPORT_SCHEMA_VERSION,
  validateReport,
} from '../../lib/report/schema';
import { isTrtCalibratorError } from '../../lib/errors';
import { rng, syntheticReport } from '../report/fixture';

function expectFormatError(fn: () => unknown, path: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isTrtCalibratorError(caught, 'ERR_REPORT_FORMAT')).toBe(true);
  expect((caught as Error).message).toContain(path);
}

describe('CalibrationReport schema', () => {
  test('a report survives a JSON round trip unchanged and validates', () => {
    const report = syntheticReport({ tensors: 20 });
    const parsed: unknown = JSON.parse(JSON.stringify(report));
    expect(validateReport(parsed)).toEqual(report);
    expect(report.schemaVersion).toBe(REPORT_SCHEMA_VERSION);
  });

  test('a report without the optional accuracy section validates', () => {
    const report = syntheticReport({ tensors: 6, accuracy: false });
    expect(report.accuracy).toBeUndefined();
    expect(() => validateReport(JSON.parse(JSON.stringify(report)))).not.toThrow();
  });

  test('rejects a NaN (which JSON would silently turn into null) naming the field path', () => {
    const report = syntheticReport({ tensors: 6 });
    report.tensors[2].min = Number.NaN;
    expectFormatError(() => validateReport(report), 'tensors[2].min');
  });

  test('rejects wrong types and values naming the field path', () => {
    const base = (): Record<string, unknown> =>
      JSON.parse(JSON.stringify(syntheticReport({ tensors: 6 }))) as Record<string, unknown>;
    let r = base();
    (r.tensors as Array<Record<string, unknown>>)[1].status = 'weird';
    expectFormatError(() => validateReport(r), 'tensors[1].status');
    r = base();
    (r.tensors as Array<Record<string, unknown>>)[0].scale = null;
    expectFormatError(() => validateReport(r), 'tensors[0].scale');
    r = base();
    r.algorithm = 'auto';
    expectFormatError(() => validateReport(r), 'algorithm');
    r = base();
    r.batchSize = 0;
    expectFormatError(() => validateReport(r), 'batchSize');
    r = base();
    ((r.tensors as Array<Record<string, unknown>>)[3].histogram as { counts: number[] }).counts = new Array<number>(
      REPORT_MAX_BINS + 1,
    ).fill(1);
    expectFormatError(() => validateReport(r), 'tensors[3].histogram.counts');
    r = base();
    (r.accuracy as { perOutput: Array<Record<string, unknown>> }).perOutput[0].cosine = 1.5;
    expectFormatError(() => validateReport(r), 'accuracy.perOutput[0].cosine');
    expectFormatError(() => validateReport([]), '$');
  });

  test('rejects a report written by a newer schema version', () => {
    const r = { ...syntheticReport({ tensors: 4 }), schemaVersion: REPORT_SCHEMA_VERSION + 1 };
    expectFormatError(() => validateReport(r), 'schemaVersion');
  });
});

describe('downsampleHistogram', () => {
  test('sums adjacent bins: 2048 bins become 256 sums of 8 and the total is preserved', () => {
    const next = rng(7);
    const counts = Array.from({ length: 2048 }, () => Math.floor(next() * 1000));
    const h = downsampleHistogram(counts, 0.01);
    expect(h.counts).toHaveLength(256);
    expect(h.originalBins).toBe(2048);
    expect(h.originalBinWidth).toBe(0.01);
    expect(h.binWidth).toBeCloseTo(0.08, 12);
    for (let j = 0; j < 256; j++) expect(h.counts[j]).toBe(counts.slice(j * 8, j * 8 + 8).reduce((a, b) => a + b, 0));
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(counts.reduce((a, b) => a + b, 0));
  });

  test('an uneven length keeps every count: the last stored bin covers fewer source bins', () => {
    const counts = new Float64Array(2050).fill(1);
    const h = downsampleHistogram(counts, 1);
    expect(h.counts.length).toBeLessThanOrEqual(REPORT_MAX_BINS);
    expect(h.binWidth).toBe(9); // ceil(2050 / 256)
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(2050);
    expect(h.counts[h.counts.length - 1]).toBe(2050 - 9 * (h.counts.length - 1));
  });

  test('histograms that already fit are kept as they are', () => {
    const h = downsampleHistogram([3, 0, 5], 0.5);
    expect(h).toEqual({ binWidth: 0.5, counts: [3, 0, 5], originalBins: 3, originalBinWidth: 0.5 });
  });

  test('rejects a non-positive maxBins', () => {
    expect(() => downsampleHistogram([1], 1, 0)).toThrow(RangeError);
  });
});

describe('clippedShareFromHistogram', () => {
  const uniform = new Array<number>(100).fill(10);
  test('counts whole bins above amax and the part of the bin holding amax', () => {
    expect(clippedShareFromHistogram(uniform, 1, 50)).toBeCloseTo(0.5, 12);
    expect(clippedShareFromHistogram(uniform, 1, 49.5)).toBeCloseTo(0.505, 12);
    expect(clippedShareFromHistogram(uniform, 1, 100)).toBe(0);
    expect(clippedShareFromHistogram(uniform, 1, 1000)).toBe(0);
    expect(clippedShareFromHistogram(uniform, 1, 0)).toBe(1);
  });
  test('is 0 for an empty histogram', () => {
    expect(clippedShareFromHistogram([0, 0], 1, 0.5)).toBe(0);
  });
});

describe('buildTensorReport', () => {
  const counts = [0, 10, 20, 30, 0, 5];
  const thresholds = { entropy: 4, minmax: 6, percentile: 5.5, mse: 4.5 };

  test('an ordinary tensor gets amax from the chosen algorithm and scale = amax / 127', () => {
    const t = buildTensorReport({ name: 'a', counts, binWidth: 1, min: -6, max: 3, thresholds }, 'entropy');
    expect(t).toMatchObject({
      status: 'ok',
      kind: 'activation',
      amax: 4,
      scale: 4 / 127,
      count: 65,
      nanCount: 0,
      infCount: 0,
    });
    expect(t.clippedShare).toBeCloseTo(5 / 65, 12);
    expect(buildTensorReport({ name: 'a', counts, binWidth: 1, min: -6, max: 3, thresholds }, 'minmax')).toMatchObject({
      amax: 6,
      clippedShare: 0,
    });
  });

  test('all-zero, constant, NaN, Inf and empty tensors get the matching status, and only constant keeps a scale', () => {
    expect(
      buildTensorReport({ name: 'z', counts: [100], binWidth: 0, min: 0, max: 0, thresholds: {} }, 'entropy'),
    ).toMatchObject({ status: 'degenerate-zero', scale: null, amax: null });
    expect(
      buildTensorReport({ name: 'c', counts: [0, 8], binWidth: 1, min: 2, max: 2, thresholds: {} }, 'mse'),
    ).toMatchObject({ status: 'constant', amax: 2, scale: 2 / 127 });
    expect(
      buildTensorReport(
        {
          name: 'n',
          counts: [],
          binWidth: 0,
          min: Infinity,
          max: -Infinity,
          count: 5,
          nanCount: 3,
          infCount: 2,
          thresholds: {},
        },
        'entropy',
      ),
    ).toMatchObject({ status: 'nan', scale: null, min: null });
    expect(
      buildTensorReport({ name: 'i', counts: [], binWidth: 0, count: 2, infCount: 2, thresholds: {} }, 'entropy'),
    ).toMatchObject({ status: 'inf', scale: null });
    // NaN mixed into finite data is counted but keeps the scale
    expect(
      buildTensorReport({ name: 'm', counts, binWidth: 1, min: -6, max: 3, nanCount: 3, thresholds }, 'entropy'),
    ).toMatchObject({ status: 'ok', scale: 4 / 127, count: 68 });
    // zeros held outside the bins by a native set (no bin width yet) still count as finite data
    expect(
      buildTensorReport(
        { name: 'z2', counts: [], binWidth: 0, min: 0, max: 0, count: 64, thresholds: { entropy: 0 } },
        'entropy',
      ),
    ).toMatchObject({ status: 'degenerate-zero', scale: null, thresholds: { entropy: null } });
    expect(buildTensorReport({ name: 'e', counts: [], binWidth: 0, thresholds: {} }, 'entropy')).toMatchObject({
      status: 'empty',
      scale: null,
      min: null,
      max: null,
    });
  });

  test('non-finite min/max/thresholds are stored as null, so the report stays valid JSON', () => {
    const t = buildTensorReport(
      {
        name: 'x',
        counts,
        binWidth: 1,
        min: Number.NaN,
        max: Infinity,
        thresholds: { entropy: Number.NaN, minmax: 6 },
      },
      'entropy',
    );
    expect(t.min).toBeNull();
    expect(t.max).toBeNull();
    expect(t.thresholds).toEqual({ entropy: null, minmax: 6, percentile: null, mse: null });
    expect(t.scale).toBeNull(); // the chosen algorithm had no answer
  });

  test('an explicit amax from the glue overrides the chosen threshold', () => {
    expect(
      buildTensorReport({ name: 'a', counts, binWidth: 1, min: -6, max: 3, thresholds, amax: 5 }, 'entropy'),
    ).toMatchObject({ amax: 5, scale: 5 / 127 });
    expect(
      buildTensorReport({ name: 'a', counts, binWidth: 1, min: -6, max: 3, thresholds, amax: null }, 'entropy'),
    ).toMatchObject({ amax: null, scale: null });
  });

  test('standardWarnings names skipped images, missing scales, NaN/Inf and heavy clipping', () => {
    const report = syntheticReport({ tensors: 12 });
    const w = standardWarnings(report);
    expect(w[0]).toBe('2 image(s) were skipped; 500 were used (see "Skipped images").');
    expect(w[1]).toMatch(
      /^3 tensor\(s\) have no scale and will run in higher precision: \/head\/mask\/Mul_output_0, \/head\/Log_output_0, \/Shape_output_0\.$/,
    );
    expect(w.some((x) => x.includes('NaN/Inf values alongside finite ones') && x.includes('/head/Div_output_0'))).toBe(
      true,
    );
  });

  test('listTensorsWithoutScale names every tensor without a scale with its reason, then the uncalibrated ones', () => {
    const tensors = [
      buildTensorReport({ name: 'ok', counts, binWidth: 1, min: -6, max: 3, thresholds }, 'entropy'),
      buildTensorReport({ name: 'zero', counts: [5], binWidth: 0, min: 0, max: 0, thresholds: {} }, 'entropy'),
      buildTensorReport({ name: 'nan', counts: [], binWidth: 0, count: 2, nanCount: 2, thresholds: {} }, 'entropy'),
    ];
    expect(listTensorsWithoutScale(tensors, [{ name: 'shape', reason: 'int64 tensor' }])).toEqual([
      { name: 'zero', reason: 'all values were 0' },
      { name: 'nan', reason: 'only NaN/Inf values seen (2 NaN)' },
      { name: 'shape', reason: 'int64 tensor' },
    ]);
  });
});
