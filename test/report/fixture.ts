/**
 * Synthetic calibration reports for the report tests: realistic |x| histograms (2048 bins over [0, max|x|], as
 * the calibrator keeps them) of gaussian, ReLU and heavy-tailed activations, with thresholds computed from them
 * the way the algorithms do (entropy KL, minmax, percentile, mse as the README's "Calibration algorithms" says), plus degenerate tensors
 * and hostile names. Deterministic (seeded).
 */
import {
  buildTensorReport,
  listTensorsWithoutScale,
  REPORT_SCHEMA_VERSION,
  standardWarnings,
  type CalibrationReport,
  type ReportAlgorithm,
  type ReportTensor,
  type TensorStats,
} from '../../lib/report/schema';

import { seededRandom } from '../../lib/util/random';

const BINS = 2048;

/** The project's seeded PRNG (lib/util/random.ts). */
export const rng = seededRandom;

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26, |error| < 1.5e-7
  const s = Math.sign(x);
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496735) * t + 0.254829592) *
      t *
      Math.exp(-ax * ax);
  return s * y;
}

/** Counts of |x| per bin for n values whose |x| has CDF `cdf`, over [0, maxAbs]. */
function histogramFromCdf(cdf: (v: number) => number, maxAbs: number, n: number): Float64Array {
  const counts = new Float64Array(BINS);
  const w = maxAbs / BINS;
  let prev = cdf(0);
  for (let i = 0; i < BINS; i++) {
    const next = i === BINS - 1 ? 1 : cdf((i + 1) * w);
    counts[i] = Math.round(n * (next - prev));
    prev = next;
  }
  return counts;
}

/** amax per algorithm over a |x| histogram (what the calibrator computes; simple reference versions). */
export function thresholdsOf(
  counts: ArrayLike<number>,
  binWidth: number,
  percentile: number,
): Record<ReportAlgorithm, number> {
  const n = counts.length;
  let total = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    total += counts[i];
    if (counts[i] > 0) last = i;
  }
  const minmax = (last + 1) * binWidth;
  let cum = 0;
  let pct = minmax;
  for (let i = 0; i < n; i++) {
    cum += counts[i];
    if (cum >= (total * percentile) / 100) {
      pct = (i + 1) * binWidth;
      break;
    }
  }
  // mse over candidate amax = upper edges, stepping 32 bins
  let best = Infinity;
  let mse = minmax;
  for (let k = 32; k <= n; k += 32) {
    const amax = k * binWidth;
    const step = amax / 127;
    let err = 0;
    for (let i = 0; i < n; i++) {
      if (counts[i] === 0) continue;
      const c = (i + 0.5) * binWidth;
      err += counts[i] * (c > amax ? (c - amax) ** 2 : (step * step) / 12);
    }
    if (err < best) {
      best = err;
      mse = amax;
    }
  }
  // entropy (KL) over candidates 128..n stepping 16, bins[0] = bins[1]; prefix sums keep each candidate O(i)
  const h = Float64Array.from(counts);
  if (n > 1) h[0] = h[1];
  const sum = new Float64Array(n + 1);
  const nonZero = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    sum[j + 1] = sum[j] + h[j];
    nonZero[j + 1] = nonZero[j] + (h[j] > 0 ? 1 : 0);
  }
  let bestKl = Infinity;
  let entropy = minmax;
  for (let i = 128; i <= n; i += 16) {
    // P: bins[0..i-1] with the outliers folded into bin i-1; Q: bins[0..i-1] merged into 128 levels, each spread
    // over the positions where P is non-zero (pytorch-quantization's _compute_amax_entropy)
    const outliers = sum[n] - sum[i];
    const pAt = (j: number): number => (j === i - 1 ? h[j] + outliers : h[j]);
    const qv = new Float64Array(i);
    let qs = 0;
    for (let l = 0; l < 128; l++) {
      const s0 = Math.floor((l * i) / 128);
      const e0 = l === 127 ? i : Math.floor(((l + 1) * i) / 128);
      let nz = 0;
      for (let j = s0; j < e0; j++) if (pAt(j) > 0) nz++;
      if (nz === 0) continue;
      const level = (sum[e0] - sum[s0]) / nz;
      for (let j = s0; j < e0; j++) if (pAt(j) > 0) qv[j] = level;
      qs += level * nz;
    }
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = pAt(j) / sum[n];
      if (pj === 0) continue;
      const qj = qv[j] / qs;
      kl += qj > 0 ? pj * Math.log(pj / qj) : pj * 20;
    }
    if (kl <= bestKl) {
      bestKl = kl;
      entropy = i * binWidth;
    }
  }
  return { entropy, minmax, percentile: pct, mse };
}

const SHAPES = ['gaussian', 'relu', 'heavy'] as const;

/** Hostile and realistic tensor names (ONNX exporters and the TensorRT parser produce the first kinds). */
export const SPECIAL_NAMES = [
  '</script><b>x',
  '(Unnamed Layer* 22) [Constant]_output',
  '/model.0/conv/Conv_output_0 & \'q\' "dq"',
  'ns:tensor<int>',
];

/** Distinct synthetic distributions; tensor i uses distribution i % DISTINCT (keeps big reports cheap to make). */
const DISTINCT = 48;
const statsCache = new Map<string, TensorStats>();

/** One synthetic tensor's raw statistics (cached per distribution and percentile). */
export function syntheticStats(index: number, name: string, percentile: number): TensorStats {
  const key = `${index % DISTINCT}:${percentile}`;
  let stats = statsCache.get(key);
  if (!stats) statsCache.set(key, (stats = makeStats(index % DISTINCT, percentile)));
  return { ...stats, name, kind: index === 0 ? 'input' : 'activation' };
}

function makeStats(index: number, percentile: number): TensorStats {
  const r = rng(1000 + index);
  const shape = SHAPES[index % SHAPES.length];
  const n = 200_000 + Math.floor(r() * 800_000);
  const sigma = 0.2 + r() * 3;
  let counts: Float64Array;
  let maxAbs: number;
  let min: number;
  if (shape === 'gaussian') {
    maxAbs = sigma * (4.2 + r());
    counts = histogramFromCdf((v) => erf(v / (sigma * Math.SQRT2)), maxAbs, n);
    min = -maxAbs * (0.85 + 0.15 * r());
  } else if (shape === 'relu') {
    maxAbs = sigma * (4 + r());
    const half = histogramFromCdf((v) => erf(v / (sigma * Math.SQRT2)), maxAbs, Math.floor(n / 2));
    counts = half;
    counts[0] += Math.floor(n / 2); // exact zeros
    min = 0;
  } else {
    // Laplace body plus a few far outliers: entropy clips hard here, minmax keeps the outliers
    const b = sigma / 3;
    maxAbs = b * (40 + 60 * r());
    counts = histogramFromCdf((v) => 1 - Math.exp(-v / b), maxAbs * 0.4, n);
    const wide = new Float64Array(BINS);
    for (let i = 0; i < BINS; i++) wide[Math.floor(i * 0.4)] += counts[i];
    wide[BINS - 1] += 2;
    wide[Math.floor(BINS * 0.7)] += 12;
    counts = wide;
    min = -maxAbs * 0.6;
  }
  counts[BINS - 1] += 1; // max|x| is attained by at least one value, as in real data
  const binWidth = maxAbs / BINS;
  const thresholds = thresholdsOf(counts, binWidth, percentile);
  return { name: '', counts, binWidth, min, max: maxAbs, thresholds };
}

/** Options of {@link syntheticReport}. */
export interface SyntheticReportOptions {
  /** Number of tensors. Defaults to 50. */
  tensors?: number;
  /** Chosen algorithm. Defaults to 'entropy'. */
  algorithm?: ReportAlgorithm;
  /** Include the accuracy section. Defaults to true. */
  accuracy?: boolean;
}

/** A complete synthetic report: regular tensors, one zero, one constant, one NaN tensor, hostile names. */
export function syntheticReport(options: SyntheticReportOptions = {}): CalibrationReport {
  const n = options.tensors ?? 50;
  const algorithm = options.algorithm ?? 'entropy';
  const percentile = 99.99;
  const tensors: ReportTensor[] = [];
  for (let i = 0; i < n; i++) {
    const special = i >= 1 && i <= SPECIAL_NAMES.length ? SPECIAL_NAMES[i - 1] : undefined;
    const name =
      i === 0
        ? 'x'
        : (special ??
          `/backbone/stage${Math.floor(i / 8)}/block${i % 8}/${SHAPES[i % 3] === 'relu' ? 'Relu' : 'Conv'}_output_0`);
    if (i === n - 4) {
      tensors.push(
        buildTensorReport({ ...syntheticStats(i, '/head/Div_output_0', percentile), nanCount: 3 }, algorithm),
      );
    } else if (i === n - 3) {
      tensors.push(
        buildTensorReport(
          { name: '/head/mask/Mul_output_0', counts: [1000], binWidth: 0, min: 0, max: 0, thresholds: {} },
          algorithm,
        ),
      );
    } else if (i === n - 2) {
      const counts = new Float64Array(BINS);
      counts[BINS - 1] = 4096;
      tensors.push(
        buildTensorReport(
          {
            name: '/head/ConstantOfShape_output_0',
            counts,
            binWidth: 0.5 / BINS,
            min: 0.5,
            max: 0.5,
            thresholds: { minmax: 0.5, entropy: 0.5, percentile: 0.5, mse: 0.5 },
          },
          algorithm,
        ),
      );
    } else if (i === n - 1) {
      tensors.push(
        buildTensorReport(
          {
            name: '/head/Log_output_0',
            counts: [],
            binWidth: 0,
            min: null,
            max: null,
            count: 4096,
            nanCount: 4000,
            infCount: 96,
            thresholds: {},
          },
          algorithm,
        ),
      );
    } else {
      tensors.push(buildTensorReport(syntheticStats(i, name, percentile), algorithm));
    }
  }
  const report: CalibrationReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'trt-calibrator', version: '0.1.0' },
    createdAt: '2026-11-02T10:20:30.000Z',
    model: { path: 'models/resnet <small>.onnx', inputs: [{ name: 'x', shape: [8, 3, 224, 224], dtype: 'float32' }] },
    backend: 'builtin',
    algorithm,
    requestedAlgorithm: options.accuracy === false ? algorithm : 'auto',
    percentile,
    tensorrtVersion: '10.3',
    batchSize: 8,
    batches: 63,
    imagesUsed: 500,
    skippedImages: [
      { file: 'images/broken.jpg', reason: 'VipsJpeg: Premature end of input file' },
      { file: 'images/<evil>.png', reason: 'unsupported image format' },
    ],
    timings: { totalMs: 48210, inferenceMs: 31002, histogramMs: 6120, thresholdsMs: 1480 },
    tensors,
    tensorsWithoutScale: [],
    warnings: [],
  };
  report.tensorsWithoutScale = listTensorsWithoutScale(tensors, [{ name: '/Shape_output_0', reason: 'int64 tensor' }]);
  report.warnings = standardWarnings(report);
  if (options.accuracy !== false) {
    report.accuracy = {
      images: 100,
      perOutput: [{ name: 'logits', top1Agreement: 0.97, cosine: 0.9987, maxAbsError: 0.8123, meanAbsError: 0.0321 }],
      errorMetric: '1 - cosine similarity (FP32 vs Q/DQ activations)',
      worstTensors: [
        { name: tensors[Math.min(3, n - 1)].name, error: 0.0412 },
        { name: tensors[Math.min(1, n - 1)].name, error: 0.0203 },
      ],
      algorithmComparison: (['entropy', 'minmax', 'percentile', 'mse'] as const).map((a, i) => ({
        algorithm: a,
        metrics: { top1Agreement: [0.97, 0.93, 0.96, 0.965][i], cosine: [0.9987, 0.991, 0.997, 0.998][i] },
        chosen: a === algorithm,
        why: a === algorithm ? 'highest top-1 agreement with FP32 on held-out images' : 'lower top-1 agreement',
      })),
    };
  }
  return report;
}
