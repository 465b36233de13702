/**
 * The calibration report: one JSON document (report.json) that the HTML page (report.html) is rendered from.
 *
 * Everything here is plain JSON: numbers are finite (JSON has no NaN/Infinity; "no value" is `null`), times are
 * milliseconds, dates are ISO 8601 strings. {@link validateReport} checks a parsed document against this schema
 * and {@link buildTensorReport} turns one tensor's raw histogram into its {@link ReportTensor}, so the
 * calibration glue never computes clipped shares or downsampled histograms itself.
 */
import { TrtCalibratorError } from '../errors';
import { mention } from '../options/voice';

/** Version of this schema, stored in every report. Bumped when a field changes meaning or is removed. */
export const REPORT_SCHEMA_VERSION = 1;

/** Largest number of bins a report stores per histogram (see {@link downsampleHistogram}). */
export const REPORT_MAX_BINS = 256;

/** The threshold algorithms whose amax the report records for every tensor. */
export const REPORT_ALGORITHMS = ['entropy', 'minmax', 'percentile', 'mse'] as const;

/** A threshold (amax-picking) algorithm. */
export type ReportAlgorithm = (typeof REPORT_ALGORITHMS)[number];

/**
 * What the calibration found for one tensor's data.
 * - `ok`: finite data with a positive range; the tensor has a scale. NaN/Inf values mixed into finite data are
 *   counted (`nanCount`, `infCount`), never binned, and do not change the status (see {@link standardWarnings}).
 * - `constant`: every value has the same non-zero magnitude; a scale exists (amax = that magnitude) but the
 *   histogram holds one bin, so the algorithms cannot differ.
 * - `degenerate-zero`: every value was exactly 0; amax would be 0, so no scale is written (TensorRT runs the
 *   tensor in higher precision).
 * - `nan`: only non-finite values were seen, NaN among them; no scale is written.
 * - `inf`: only ±Inf values were seen; no scale is written.
 * - `empty`: no values at all reached the histogram (e.g. a zero-sized tensor); no scale is written.
 */
export type TensorStatus = 'ok' | 'constant' | 'degenerate-zero' | 'nan' | 'inf' | 'empty';

/** All {@link TensorStatus} values. */
export const TENSOR_STATUSES: readonly TensorStatus[] = ['ok', 'constant', 'degenerate-zero', 'nan', 'inf', 'empty'];

/** One model input as calibration fed it. */
export interface ReportInputSpec {
  /** ONNX input name. */
  name: string;
  /** Shape fed during calibration, batch dimension included (resolved: no symbolic dimensions). */
  shape: number[];
  /** Element type fed, e.g. `'float32'`. */
  dtype: string;
}

/** An image that was listed but not used. */
export interface ReportSkippedImage {
  /** Path of the image as listed (relative to the image directory where the glue has one). */
  file: string;
  /** Why it was skipped, e.g. the decoder's message. */
  reason: string;
}

/** Wall-clock durations of the run, in milliseconds. */
export interface ReportTimings {
  /** Whole calibration, from the first image listed to the report written. */
  totalMs: number;
  /** Time spent running the FP32 model (builtin backend) or inside TensorRT's builder (tensorrt backend). */
  inferenceMs: number;
  /** Time spent adding activations to histograms. */
  histogramMs: number;
  /** Time spent computing thresholds (all algorithms) from the histograms. */
  thresholdsMs: number;
}

/**
 * A histogram of |x|, the way the calibrator keeps it (bins of equal width starting at 0), reduced
 * to at most {@link REPORT_MAX_BINS} bins for size.
 *
 * Downsampling: with `originalBins` source bins and factor `f = ceil(originalBins / 256)`, stored bin `j` is the
 * SUM of source bins `j*f … j*f+f-1` (the last stored bin may cover fewer source bins). Totals are preserved
 * exactly; stored bin `j` covers |x| in `[j*binWidth, (j+1)*binWidth)` with `binWidth = f * originalBinWidth`.
 */
export interface ReportHistogram {
  /** Width of one stored bin (same unit as the tensor's values). 0 only when every value was 0. */
  binWidth: number;
  /** Counts per stored bin, bin 0 starting at |x| = 0. At most {@link REPORT_MAX_BINS} entries. */
  counts: number[];
  /** Number of bins of the calibrator's histogram before downsampling. */
  originalBins: number;
  /** Width of one bin of the calibrator's histogram before downsampling. */
  originalBinWidth: number;
}

/** The amax each algorithm picks for a tensor (null where the algorithm was not run or had no answer). */
export interface ReportThresholds {
  /** KL-divergence (TensorRT EntropyCalibration2) amax. */
  entropy: number | null;
  /** max|x| over all data. */
  minmax: number | null;
  /** The |x| below which `percentile` % of the values lie. */
  percentile: number | null;
  /** The amax minimizing the quantization mean squared error over the histogram. */
  mse: number | null;
}

/** Everything the report says about one tensor. */
export interface ReportTensor {
  /** Tensor name as in the ONNX model and the calibration cache (may contain '/', ':', '(', spaces…). */
  name: string;
  /** `input` for a network input, `activation` for an intermediate or output tensor. */
  kind: 'input' | 'activation';
  /** Outcome for this tensor's data; anything but `ok` and `constant` means no scale. */
  status: TensorStatus;
  /** Scale written to the cache and the Q/DQ model (amax / 127); null when the tensor has no scale. */
  scale: number | null;
  /** Dynamic range chosen by the report's algorithm; null when the tensor has no scale. */
  amax: number | null;
  /** Smallest finite value seen (signed); null when no finite value was seen. */
  min: number | null;
  /** Largest finite value seen (signed); null when no finite value was seen. */
  max: number | null;
  /** Number of values seen, NaN and Inf included. */
  count: number;
  /** Number of NaN values seen. */
  nanCount: number;
  /** Number of ±Inf values seen. */
  infCount: number;
  /**
   * Share (0–1) of the finite values whose |x| lies above `amax` (clipped to ±amax by INT8), estimated from the
   * full-resolution histogram assuming values are spread evenly within the bin that contains amax. 0 without a
   * scale.
   */
  clippedShare: number;
  /** Histogram of |x| (see {@link ReportHistogram} for the downsampling). */
  histogram: ReportHistogram;
  /** amax each algorithm would pick, drawn as markers on the plot. */
  thresholds: ReportThresholds;
}

/** A tensor that gets no INT8 scale, so TensorRT would run it in higher precision. */
export interface ReportTensorWithoutScale {
  /** Tensor name. */
  name: string;
  /** Why, e.g. `'int64 tensor'`, `'all values were 0'`, `'NaN values seen'`. */
  reason: string;
}

/** FP32-vs-INT8 agreement of one model output. */
export interface ReportOutputAccuracy {
  /** Output name. */
  name: string;
  /** Share (0–1) of samples whose arg-max agrees between FP32 and INT8; only for classifier-like outputs. */
  top1Agreement?: number;
  /** Mean over samples of the cosine similarity between FP32 and INT8 output vectors. */
  cosine: number;
  /** Largest |fp32 - int8| over all elements. */
  maxAbsError: number;
  /** Mean |fp32 - int8| over all elements. */
  meanAbsError: number;
}

/** A tensor with a large quantization error, as measured by the accuracy check. */
export interface ReportTensorError {
  /** Tensor name. */
  name: string;
  /** The error measure (documented by `errorMetric` of {@link ReportAccuracy}); larger is worse. */
  error: number;
}

/** One algorithm's result when `--algorithm auto` compared them. */
export interface ReportAlgorithmComparison {
  /** The algorithm. */
  algorithm: ReportAlgorithm;
  /** Metrics of its Q/DQ model against FP32 on the held-out images, by name (e.g. `cosine`, `top1Agreement`). */
  metrics: Record<string, number>;
  /** True for the algorithm the report's scales come from. */
  chosen: boolean;
  /** Why it was or was not chosen, in one sentence. */
  why: string;
}

/** Result of the FP32-vs-INT8 accuracy check, when it ran. */
export interface ReportAccuracy {
  /** Number of held-out images the check ran on. */
  images: number;
  /** Per model output. */
  perOutput: ReportOutputAccuracy[];
  /** What `worstTensors[].error` measures, e.g. `'1 - cosine similarity'`. */
  errorMetric: string;
  /** Tensors with the largest quantization error, worst first. */
  worstTensors: ReportTensorError[];
  /** Top-1 accuracy of FP32 and INT8 when labels were given (0–1). */
  labelAccuracy?: {
    /** Top-1 accuracy of the FP32 model, 0-1. */
    fp32: number;
    /** Top-1 accuracy of the INT8 (Q/DQ) model, 0-1. */
    int8: number;
  };
  /** The comparison of algorithms made by `--algorithm auto` or `evaluate --compare`. */
  algorithmComparison?: ReportAlgorithmComparison[];
}

/** The calibration report (report.json). */
export interface CalibrationReport {
  /** {@link REPORT_SCHEMA_VERSION} of the writer. */
  schemaVersion: number;
  /** The tool that wrote the report. */
  tool: {
    /** Always `trt-calibrator`. */
    name: 'trt-calibrator';
    /** The package version that wrote the report. */
    version: string;
  };
  /** When the report was made (ISO 8601, e.g. `new Date().toISOString()`). */
  createdAt: string;
  /** The calibrated model. */
  model: {
    /** The ONNX file calibrated. */
    path: string;
    /** Its inputs as calibrated. */
    inputs: ReportInputSpec[];
  };
  /** Backend that ran calibration. */
  backend: 'builtin' | 'tensorrt';
  /** Algorithm the scales come from (after `auto` chose one). */
  algorithm: ReportAlgorithm;
  /** Algorithm the user asked for: differs from `algorithm` only when it was `auto`. */
  requestedAlgorithm: ReportAlgorithm | 'auto';
  /** Percentile (e.g. 99.99) used for the `percentile` thresholds; null when percentile was not computed. */
  percentile: number | null;
  /** TensorRT version the cache targets, `major.minor` (e.g. `'10.3'`). */
  tensorrtVersion: string;
  /** Images per batch. */
  batchSize: number;
  /** Batches run. */
  batches: number;
  /** Images that went into the histograms. */
  imagesUsed: number;
  /** Images listed but not used. */
  skippedImages: ReportSkippedImage[];
  /** Durations. */
  timings: ReportTimings;
  /** Every float tensor that was calibrated, in network order. */
  tensors: ReportTensor[];
  /** Tensors that get no scale (non-float tensors, and calibrated tensors whose status gives none). */
  tensorsWithoutScale: ReportTensorWithoutScale[];
  /** Things the user should look at, one sentence each. */
  warnings: string[];
  /** FP32-vs-INT8 accuracy check, present when it ran. */
  accuracy?: ReportAccuracy;
}

/** Anything array-like holding histogram counts (a native HistogramSet may hand out typed arrays). */
export type CountsLike = ArrayLike<number>;

/**
 * Reduces `counts` to at most `maxBins` bins by summing runs of `f = ceil(counts.length / maxBins)` adjacent bins
 * (the last run may be shorter). The total count is preserved exactly.
 * @param maxBins Defaults to {@link REPORT_MAX_BINS}.
 */
export function downsampleHistogram(
  counts: CountsLike,
  binWidth: number,
  maxBins: number = REPORT_MAX_BINS,
): ReportHistogram {
  if (!Number.isInteger(maxBins) || maxBins < 1)
    throw new RangeError(`Expected a positive integer for maxBins but received ${maxBins}`);
  const n = counts.length;
  const factor = Math.max(1, Math.ceil(n / maxBins));
  const out: number[] = new Array<number>(Math.ceil(n / factor)).fill(0);
  for (let i = 0; i < n; i++) out[Math.floor(i / factor)] += counts[i];
  return { binWidth: binWidth * factor, counts: out, originalBins: n, originalBinWidth: binWidth };
}

/**
 * Share of the histogram's mass above `amax`: bins entirely above count fully, the bin containing amax counts
 * for the part of its width above amax (values assumed spread evenly within a bin).
 */
export function clippedShareFromHistogram(counts: CountsLike, binWidth: number, amax: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0 || !(binWidth > 0) || !(amax >= 0)) return 0;
  let clipped = 0;
  for (let i = counts.length - 1; i >= 0; i--) {
    const lo = i * binWidth;
    const hi = lo + binWidth;
    if (lo >= amax) clipped += counts[i];
    else {
      if (hi > amax) clipped += counts[i] * ((hi - amax) / binWidth);
      break;
    }
  }
  return Math.min(1, Math.max(0, clipped / total));
}

/** Raw per-tensor facts the calibration glue hands to {@link buildTensorReport}. */
export interface TensorStats {
  /** Tensor name. */
  name: string;
  /** Defaults to `'activation'`. */
  kind?: 'input' | 'activation';
  /** Full-resolution |x| histogram counts, bin 0 starting at 0. */
  counts: CountsLike;
  /** Width of one bin of `counts`. */
  binWidth: number;
  /** Smallest finite value seen (NaN/undefined/±Infinity when none: stored as null). */
  min?: number | null;
  /** Largest finite value seen (NaN/undefined/±Infinity when none: stored as null). */
  max?: number | null;
  /** Values seen, NaN and Inf included. Defaults to the histogram total plus `nanCount` and `infCount`. */
  count?: number;
  /** Defaults to 0. */
  nanCount?: number;
  /** Defaults to 0. */
  infCount?: number;
  /** amax per algorithm; missing, non-finite or non-positive entries (native degenerate results) are stored as null. */
  thresholds: Partial<Record<ReportAlgorithm, number | null>>;
  /**
   * The amax actually written to the cache / Q/DQ model, where the glue overrides it; null for no scale.
   * Defaults to `thresholds[algorithm]` when the status allows a scale (for `constant`, max|x| if missing).
   */
  amax?: number | null;
}

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function positiveOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

/**
 * Builds the {@link ReportTensor} of one tensor: status from its counts, amax from the chosen `algorithm`'s
 * threshold, scale = amax / 127, clipped share from the full-resolution histogram, histogram downsampled to
 * {@link REPORT_MAX_BINS} bins.
 */
export function buildTensorReport(stats: TensorStats, algorithm: ReportAlgorithm): ReportTensor {
  const nanCount = stats.nanCount ?? 0;
  const infCount = stats.infCount ?? 0;
  let histTotal = 0;
  let highestNonEmpty = -1;
  for (let i = 0; i < stats.counts.length; i++) {
    histTotal += stats.counts[i];
    if (stats.counts[i] > 0) highestNonEmpty = i;
  }
  const count = stats.count ?? histTotal + nanCount + infCount;
  const min = finiteOrNull(stats.min);
  const max = finiteOrNull(stats.max);
  const thresholds: ReportThresholds = {
    entropy: positiveOrNull(stats.thresholds.entropy),
    minmax: positiveOrNull(stats.thresholds.minmax),
    percentile: positiveOrNull(stats.thresholds.percentile),
    mse: positiveOrNull(stats.thresholds.mse),
  };
  const maxAbs =
    min !== null && max !== null ? Math.max(Math.abs(min), Math.abs(max)) : (highestNonEmpty + 1) * stats.binWidth;
  // finite values: from the counters when given (a native set keeps zeros seen before any bin width outside the bins)
  const finite = stats.count !== undefined ? count - nanCount - infCount : histTotal;
  let status: TensorStatus;
  if (finite <= 0) status = nanCount > 0 ? 'nan' : infCount > 0 ? 'inf' : 'empty';
  else if (!(maxAbs > 0)) status = 'degenerate-zero';
  else if (min !== null && min === max) status = 'constant';
  else status = 'ok';
  let amax: number | null = null;
  if (stats.amax !== undefined) amax = positiveOrNull(stats.amax);
  else if (status === 'ok' || status === 'constant')
    amax = thresholds[algorithm] ?? (status === 'constant' ? maxAbs : null);
  return {
    name: stats.name,
    kind: stats.kind ?? 'activation',
    status,
    scale: amax === null ? null : amax / 127,
    amax,
    min,
    max,
    count,
    nanCount,
    infCount,
    clippedShare: amax === null ? 0 : clippedShareFromHistogram(stats.counts, stats.binWidth, amax),
    histogram: downsampleHistogram(stats.counts, stats.binWidth),
    thresholds,
  };
}

/** The reason text for a calibrated tensor without a scale, or undefined when it has one. */
export function reasonWithoutScale(tensor: ReportTensor): string | undefined {
  if (tensor.scale !== null) return undefined;
  switch (tensor.status) {
    case 'degenerate-zero':
      return 'all values were 0';
    case 'nan':
      return `only NaN/Inf values seen (${tensor.nanCount} NaN)`;
    case 'inf':
      return `only infinite values seen (${tensor.infCount})`;
    case 'empty':
      return 'no values seen';
    default:
      return 'the chosen algorithm gave no amax';
  }
}

/**
 * The `tensorsWithoutScale` list: every calibrated tensor without a scale (with its reason) followed by the
 * tensors that were never calibrated (`uncalibrated`, e.g. int64 shape tensors, with the reason the glue gives).
 */
export function listTensorsWithoutScale(
  tensors: readonly ReportTensor[],
  uncalibrated: readonly ReportTensorWithoutScale[] = [],
): ReportTensorWithoutScale[] {
  const out: ReportTensorWithoutScale[] = [];
  for (const t of tensors) {
    const reason = reasonWithoutScale(t);
    if (reason !== undefined) out.push({ name: t.name, reason });
  }
  return out.concat(uncalibrated.map((u) => ({ name: u.name, reason: u.reason })));
}

/** Share of clipped values above which {@link standardWarnings} warns. Defaults used there: 1 %. */
export const CLIPPED_WARNING_SHARE = 0.01;

/**
 * The warnings every report should carry, derived from its data: skipped images, tensors without a scale,
 * tensors with NaN/Inf mixed into finite data, tensors whose chosen amax clips more than
 * {@link CLIPPED_WARNING_SHARE} of the values. The glue appends its own (e.g. a cache version override).
 */
export function standardWarnings(
  report: Pick<CalibrationReport, 'skippedImages' | 'tensors' | 'tensorsWithoutScale' | 'imagesUsed'>,
  options: { except?: ReadonlyArray<'skipped' | 'nonFinite' | 'clipping'> } = {},
): string[] {
  const out: string[] = [];
  const except = new Set(options.except ?? []);
  if (report.skippedImages.length > 0 && !except.has('skipped'))
    out.push(
      `${report.skippedImages.length} image(s) were skipped; ${report.imagesUsed} were used (see "Skipped images").`,
    );
  if (report.tensorsWithoutScale.length > 0) {
    out.push(
      `${report.tensorsWithoutScale.length} tensor(s) have no scale and will run in higher precision: ${list(report.tensorsWithoutScale.map((t) => t.name))}.`,
    );
  }
  const nonFinite = report.tensors.filter((t) => t.scale !== null && t.nanCount + t.infCount > 0);
  if (nonFinite.length > 0 && !except.has('nonFinite')) out.push(nonFiniteWarning(nonFinite.map((t) => t.name)));
  const clipped = report.tensors.filter((t) => t.clippedShare > CLIPPED_WARNING_SHARE);
  if (clipped.length > 0 && !except.has('clipping'))
    out.push(clippingWarning(clipped.map((t) => ({ name: t.name, share: t.clippedShare }))));
  return out;
}

function list(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/** The warning for tensors with NaN/Inf values beside finite ones (calibrate() and the report say it alike). */
export function nonFiniteWarning(names: readonly string[]): string {
  return `${names.length} tensor(s) produced NaN/Inf values alongside finite ones (ignored by the histograms): ${list(names)}.`;
}

/**
 * The warning for tensors whose chosen amax clips more than {@link CLIPPED_WARNING_SHARE} of their values, worst
 * first (calibrate() and the report say it the same way).
 */
export function clippingWarning(tensors: ReadonlyArray<{ name: string; share: number }>): string {
  const worst = [...tensors].sort((a, b) => b.share - a.share);
  const shown = worst
    .slice(0, 3)
    .map((t) => `${t.name} ${(t.share * 100).toFixed(2)} %`)
    .join(', ');
  return (
    `${tensors.length} tensor(s) clip more than ${CLIPPED_WARNING_SHARE * 100} % of their values at the chosen amax: ` +
    `${shown}${worst.length > 3 ? ` and ${worst.length - 3} more` : ''}. If accuracy suffers, compare the algorithms (${mention('algorithm', { api: "'auto'", cli: 'auto' })}).`
  );
}

// ---------------------------------------------------------------------------------------------------------
// Validation

class Checker {
  constructor(private readonly where: string) {}

  fail(path: string, what: string, value: unknown): never {
    let shown: string;
    try {
      shown = JSON.stringify(value)?.slice(0, 60) ?? String(value);
    } catch {
      shown = String(value);
    }
    throw new TrtCalibratorError('ERR_REPORT_FORMAT', `${this.where}: expected ${what} at ${path} but found ${shown}`, {
      details: { path },
    });
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Record<string, unknown>;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'a string', v);
    return v;
  }

  number(v: unknown, path: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, 'a finite number', v);
    if (opts.integer && !Number.isInteger(v)) this.fail(path, 'an integer', v);
    if (opts.min !== undefined && v < opts.min) this.fail(path, `a number ≥ ${opts.min}`, v);
    if (opts.max !== undefined && v > opts.max) this.fail(path, `a number ≤ ${opts.max}`, v);
    return v;
  }

  numberOrNull(v: unknown, path: string, opts: { min?: number } = {}): number | null {
    return v === null ? null : this.number(v, path, opts);
  }

  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
      this.fail(path, `one of ${values.join(', ')}`, v);
    return v as T;
  }
}

const COUNT = { min: 0, integer: true } as const;

/**
 * Checks that `value` (e.g. `JSON.parse` of report.json) is a {@link CalibrationReport} of a schema version this
 * package reads, and returns it typed. Throws ERR_REPORT_FORMAT naming the first offending field path
 * (e.g. `tensors[3].histogram.counts[7]`).
 * @param where Names the source in messages. Defaults to `'calibration report'`.
 */
export function validateReport(value: unknown, where = 'calibration report'): CalibrationReport {
  const c = new Checker(where);
  const r = c.object(value, '$');
  const version = c.number(r.schemaVersion, 'schemaVersion', { integer: true, min: 1 });
  if (version > REPORT_SCHEMA_VERSION)
    c.fail('schemaVersion', `a schema version ≤ ${REPORT_SCHEMA_VERSION} (update trt-calibrator)`, version);
  const tool = c.object(r.tool, 'tool');
  c.oneOf(tool.name, 'tool.name', ['trt-calibrator']);
  c.string(tool.version, 'tool.version');
  if (Number.isNaN(Date.parse(c.string(r.createdAt, 'createdAt'))))
    c.fail('createdAt', 'an ISO 8601 date', r.createdAt);
  const model = c.object(r.model, 'model');
  c.string(model.path, 'model.path');
  c.array(model.inputs, 'model.inputs').forEach((v, i) => {
    const p = `model.inputs[${i}]`;
    const input = c.object(v, p);
    c.string(input.name, `${p}.name`);
    c.array(input.shape, `${p}.shape`).forEach((d, j) => c.number(d, `${p}.shape[${j}]`, COUNT));
    c.string(input.dtype, `${p}.dtype`);
  });
  c.oneOf(r.backend, 'backend', ['builtin', 'tensorrt']);
  c.oneOf(r.algorithm, 'algorithm', REPORT_ALGORITHMS);
  c.oneOf(r.requestedAlgorithm, 'requestedAlgorithm', [...REPORT_ALGORITHMS, 'auto']);
  c.numberOrNull(r.percentile, 'percentile', { min: 0 });
  c.string(r.tensorrtVersion, 'tensorrtVersion');
  c.number(r.batchSize, 'batchSize', { integer: true, min: 1 });
  c.number(r.batches, 'batches', COUNT);
  c.number(r.imagesUsed, 'imagesUsed', COUNT);
  c.array(r.skippedImages, 'skippedImages').forEach((v, i) => {
    const s = c.object(v, `skippedImages[${i}]`);
    c.string(s.file, `skippedImages[${i}].file`);
    c.string(s.reason, `skippedImages[${i}].reason`);
  });
  const timings = c.object(r.timings, 'timings');
  for (const k of ['totalMs', 'inferenceMs', 'histogramMs', 'thresholdsMs'])
    c.number(timings[k], `timings.${k}`, { min: 0 });
  c.array(r.tensors, 'tensors').forEach((v, i) => validateTensor(c, v, `tensors[${i}]`));
  c.array(r.tensorsWithoutScale, 'tensorsWithoutScale').forEach((v, i) => {
    const t = c.object(v, `tensorsWithoutScale[${i}]`);
    c.string(t.name, `tensorsWithoutScale[${i}].name`);
    c.string(t.reason, `tensorsWithoutScale[${i}].reason`);
  });
  c.array(r.warnings, 'warnings').forEach((v, i) => c.string(v, `warnings[${i}]`));
  if (r.accuracy !== undefined) validateAccuracy(c, r.accuracy);
  return value as CalibrationReport;
}

function validateTensor(c: Checker, v: unknown, p: string): void {
  const t = c.object(v, p);
  c.string(t.name, `${p}.name`);
  c.oneOf(t.kind, `${p}.kind`, ['input', 'activation']);
  c.oneOf(t.status, `${p}.status`, TENSOR_STATUSES);
  const scale = c.numberOrNull(t.scale, `${p}.scale`, { min: 0 });
  const amax = c.numberOrNull(t.amax, `${p}.amax`, { min: 0 });
  if ((scale === null) !== (amax === null))
    c.fail(`${p}.scale`, 'scale and amax both set or both null', { scale, amax });
  c.numberOrNull(t.min, `${p}.min`);
  c.numberOrNull(t.max, `${p}.max`);
  c.number(t.count, `${p}.count`, COUNT);
  c.number(t.nanCount, `${p}.nanCount`, COUNT);
  c.number(t.infCount, `${p}.infCount`, COUNT);
  c.number(t.clippedShare, `${p}.clippedShare`, { min: 0, max: 1 });
  const h = c.object(t.histogram, `${p}.histogram`);
  c.number(h.binWidth, `${p}.histogram.binWidth`, { min: 0 });
  const counts = c.array(h.counts, `${p}.histogram.counts`);
  if (counts.length > REPORT_MAX_BINS)
    c.fail(`${p}.histogram.counts`, `at most ${REPORT_MAX_BINS} bins`, counts.length);
  counts.forEach((n, j) => c.number(n, `${p}.histogram.counts[${j}]`, { min: 0 }));
  c.number(h.originalBins, `${p}.histogram.originalBins`, COUNT);
  c.number(h.originalBinWidth, `${p}.histogram.originalBinWidth`, { min: 0 });
  const th = c.object(t.thresholds, `${p}.thresholds`);
  for (const a of REPORT_ALGORITHMS) c.numberOrNull(th[a], `${p}.thresholds.${a}`, { min: 0 });
}

function validateAccuracy(c: Checker, v: unknown): void {
  const a = c.object(v, 'accuracy');
  c.number(a.images, 'accuracy.images', COUNT);
  c.string(a.errorMetric, 'accuracy.errorMetric');
  c.array(a.perOutput, 'accuracy.perOutput').forEach((o, i) => {
    const p = `accuracy.perOutput[${i}]`;
    const out = c.object(o, p);
    c.string(out.name, `${p}.name`);
    if (out.top1Agreement !== undefined) c.number(out.top1Agreement, `${p}.top1Agreement`, { min: 0, max: 1 });
    c.number(out.cosine, `${p}.cosine`, { min: -1, max: 1 });
    c.number(out.maxAbsError, `${p}.maxAbsError`, { min: 0 });
    c.number(out.meanAbsError, `${p}.meanAbsError`, { min: 0 });
  });
  c.array(a.worstTensors, 'accuracy.worstTensors').forEach((o, i) => {
    const w = c.object(o, `accuracy.worstTensors[${i}]`);
    c.string(w.name, `accuracy.worstTensors[${i}].name`);
    c.number(w.error, `accuracy.worstTensors[${i}].error`);
  });
  if (a.labelAccuracy !== undefined) {
    const l = c.object(a.labelAccuracy, 'accuracy.labelAccuracy');
    c.number(l.fp32, 'accuracy.labelAccuracy.fp32', { min: 0, max: 1 });
    c.number(l.int8, 'accuracy.labelAccuracy.int8', { min: 0, max: 1 });
  }
  if (a.algorithmComparison !== undefined) {
    c.array(a.algorithmComparison, 'accuracy.algorithmComparison').forEach((o, i) => {
      const p = `accuracy.algorithmComparison[${i}]`;
      const cmp = c.object(o, p);
      c.oneOf(cmp.algorithm, `${p}.algorithm`, REPORT_ALGORITHMS);
      const metrics = c.object(cmp.metrics, `${p}.metrics`);
      for (const [k, m] of Object.entries(metrics)) c.number(m, `${p}.metrics.${k}`);
      if (typeof cmp.chosen !== 'boolean') c.fail(`${p}.chosen`, 'a boolean', cmp.chosen);
      c.string(cmp.why, `${p}.why`);
    });
  }
}
