/**
 * `algorithm: 'auto'`: one calibration pass fills the histograms, every threshold algorithm reads them, each
 * algorithm's Q/DQ model is checked against FP32 on held-out images in ONNX Runtime, and the best one is kept.
 *
 * The rule ({@link AUTO_RULE}): for a model with a classifier output (rank 2, at least 2 classes) the highest
 * top-1 agreement with FP32 wins, ties broken by the higher mean cosine similarity of the outputs; for any other
 * model the highest mean cosine similarity of the outputs wins. Remaining ties go to the earlier algorithm of
 * entropy, mse, percentile, minmax (TensorRT's default first).
 */
import type { BatchFactory } from '../batch/factory';
import { TrtCalibratorError, invalidOption } from '../errors';
import { amaxUsable, formatCacheText, type AmaxAlgorithm, type AmaxResult, type HistogramSet } from '../histogram';
import { buildQdqModel } from '../onnx/qdq';
import { evaluateQdqModels, type Evaluation, type LabelAccuracy, type TensorError } from '../onnx/evaluate';
import type { ReportAccuracy, ReportAlgorithmComparison } from '../report';
import { formatColumns } from '../util/columns';

/** The order in which `auto` tries algorithms, which is also the tie-break order. */
export const AUTO_ALGORITHMS: readonly AmaxAlgorithm[] = Object.freeze(['entropy', 'mse', 'percentile', 'minmax']);

/** How `auto` picks, in one sentence (also in the report). */
export const AUTO_RULE =
  'classifier outputs: highest top-1 agreement with FP32, ties broken by the higher mean output cosine similarity; other models: highest mean output cosine similarity; remaining ties: entropy, mse, percentile, minmax in that order';

/** Batches the worst-tensor measurement of the chosen algorithm runs on. */
const WORST_TENSOR_BATCHES = 2;

/** Share of the sorted image list held out for the comparison. Defaults used by calibrate(): 0.2. */
export const DEFAULT_HOLDOUT = 0.2;

/** One algorithm's row of the comparison. */
export interface AutoRow {
  /** The algorithm. */
  algorithm: AmaxAlgorithm;
  /** Mean top-1 agreement (0–1) of the classifier outputs; undefined when the model has none. */
  top1Agreement?: number;
  /** Mean cosine similarity of the outputs. */
  cosine: number;
  /** Mean absolute error, averaged over the outputs. */
  meanAbsError: number;
  /** Largest absolute error over the outputs. */
  maxAbsError: number;
  /** Top-1 accuracy (0–1) of the INT8 model when labels were given. */
  labelAccuracy?: number;
  /** Tensors with a scale (cache entries) for this algorithm. */
  tensors: number;
  /** True for the algorithm kept. */
  chosen: boolean;
  /** Why it was kept, or why not, in one sentence. */
  why: string;
}

/** What `auto` decided. */
export interface AutoChoice {
  /** The algorithm whose scales went into the cache. */
  chosen: AmaxAlgorithm;
  /** Why, in one sentence. */
  why: string;
  /** The rule applied ({@link AUTO_RULE}). */
  rule: string;
  /** One row per algorithm, in {@link AUTO_ALGORITHMS} order. */
  table: AutoRow[];
  /** Held-out samples the comparison ran on. */
  images: number;
  /** Per output, the chosen algorithm's agreement with FP32. */
  outputs: Evaluation['outputs'];
  /** The chosen algorithm's quantized tensors furthest from FP32, worst first. */
  worstTensors: readonly TensorError[];
  /** FP32 and INT8 (chosen) top-1 accuracy, when labels were given. */
  labelAccuracy?: LabelAccuracy;
  /** Milliseconds the comparison took (thresholds, Q/DQ models, evaluation). */
  ms: number;
}

/** Every algorithm's threshold for every tensor. */
export type ThresholdsByAlgorithm = Record<AmaxAlgorithm, Array<AmaxResult & { name: string }>>;

/** Thresholds of every algorithm for every tensor, computed off the JS thread. */
export async function amaxByAlgorithm(histograms: HistogramSet, percentile: number): Promise<ThresholdsByAlgorithm> {
  const out = {} as ThresholdsByAlgorithm;
  for (const algo of AUTO_ALGORITHMS) out[algo] = await histograms.computeAll(algo, { percentile });
  return out;
}

/** The usable thresholds of one algorithm as cache entries (set order, as the builtin builder writes them). */
export function cacheEntries(
  results: ReadonlyArray<AmaxResult & { name: string }>,
): Array<{ name: string; amax: number }> {
  return results.filter((r) => amaxUsable(r.status)).map((r) => ({ name: r.name, amax: r.amax }));
}

/**
 * The cache text for one algorithm's thresholds, byte-identical to what the builtin builder writes for it:
 * `headerVersion` is the encoded TensorRT version token (e.g. `'100300'`), `cacheAlgorithm` the header's
 * calibrator name.
 */
export function cacheTextFor(
  results: ReadonlyArray<AmaxResult & { name: string }>,
  headerVersion: string,
  cacheAlgorithm: string,
): string {
  return formatCacheText(headerVersion, cacheAlgorithm, cacheEntries(results));
}

/**
 * Splits a sorted image list: the LAST `share` of it (at least one image) is held out for the comparison, the
 * rest calibrates. Throws ERR_NO_DATA when fewer than 2 images are given.
 */
export function holdoutSplit(files: readonly string[], share: number): { calibration: string[]; holdout: string[] } {
  if (typeof share !== 'number' || !(share > 0 && share < 1))
    throw invalidOption('holdout', 'a share in (0, 1)', share, typeof share === 'number' ? 'range' : 'type');
  const held = Math.min(files.length - 1, Math.max(1, Math.round(files.length * share)));
  if (files.length < 2 || held < 1)
    throw new TrtCalibratorError(
      'ERR_NO_DATA',
      `algorithm "auto" holds out ${share * 100} % of the images for the comparison, but only ${files.length} image(s) were given`,
    );
  return { calibration: files.slice(0, files.length - held), holdout: files.slice(files.length - held) };
}

function rowOf(algorithm: AmaxAlgorithm, e: Evaluation, tensors: number): AutoRow {
  const cls = e.outputs.filter((o) => o.top1Agreement !== undefined);
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    algorithm,
    ...(cls.length > 0 ? { top1Agreement: mean(cls.map((o) => o.top1Agreement as number)) } : {}),
    cosine: mean(e.outputs.map((o) => o.cosine)),
    meanAbsError: mean(e.outputs.map((o) => o.meanAbsError)),
    maxAbsError: e.outputs.reduce((m, o) => (o.maxAbsError > m ? o.maxAbsError : m), 0),
    ...(e.labelAccuracy ? { labelAccuracy: e.labelAccuracy.int8 } : {}),
    tensors,
    chosen: false,
    why: '',
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;

/**
 * Applies {@link AUTO_RULE} to `rows` (in tie-break order): marks the chosen row, fills every row's `why`, and
 * returns the chosen algorithm with the reason.
 */
export function chooseAlgorithm(rows: AutoRow[], samples: number): { chosen: AmaxAlgorithm; why: string } {
  if (rows.length === 0) throw invalidOption('rows', 'at least one algorithm row', rows, 'range');
  const classifier = rows.every((r) => r.top1Agreement !== undefined);
  const better = (a: AutoRow, b: AutoRow): boolean => {
    if (classifier && a.top1Agreement !== b.top1Agreement)
      return (a.top1Agreement as number) > (b.top1Agreement as number);
    return a.cosine > b.cosine;
  };
  let best = rows[0];
  for (const r of rows.slice(1)) if (better(r, best)) best = r;
  best.chosen = true;
  const tiedTop1 = classifier ? rows.filter((r) => r !== best && r.top1Agreement === best.top1Agreement) : [];
  const tiedAll = rows.filter(
    (r) => r !== best && (!classifier || r.top1Agreement === best.top1Agreement) && r.cosine === best.cosine,
  );
  let why: string;
  if (classifier) {
    why = `${best.algorithm}: highest top-1 agreement with FP32 (${pct(best.top1Agreement as number)} of ${samples} held-out samples)`;
    if (tiedTop1.length > 0)
      why += `, tied with ${tiedTop1.map((r) => r.algorithm).join(', ')} and ahead on cosine similarity (${best.cosine.toFixed(6)})`;
  } else {
    why = `${best.algorithm}: highest mean output cosine similarity with FP32 (${best.cosine.toFixed(6)} on ${samples} held-out samples)`;
  }
  if (tiedAll.length > 0)
    why += `; exactly tied with ${tiedAll.map((r) => r.algorithm).join(', ')}, kept as the earlier of ${AUTO_ALGORITHMS.join(', ')}`;
  best.why = why;
  for (const r of rows) {
    if (r === best) continue;
    if (classifier && r.top1Agreement !== best.top1Agreement)
      r.why = `lower top-1 agreement: ${pct(r.top1Agreement as number)} vs ${pct(best.top1Agreement as number)} (${best.algorithm})`;
    else if (r.cosine !== best.cosine)
      r.why = `${classifier ? 'same top-1 agreement, ' : ''}lower cosine similarity: ${r.cosine.toFixed(6)} vs ${best.cosine.toFixed(6)} (${best.algorithm})`;
    else r.why = `tied with ${best.algorithm}, which comes first in the tie-break order`;
  }
  return { chosen: best.algorithm, why };
}

/** Options of {@link compareAlgorithms}. */
export interface CompareAlgorithmsOptions {
  /** Percentile of the `percentile` algorithm. Defaults to 99.99. */
  percentile?: number;
  /** Labels by image file for top-1 accuracy (see labelsFromDirectory). Defaults to none. */
  labels?: ReadonlyMap<string, number>;
  /** Aborts between batches (ERR_ABORTED). Defaults to none. */
  signal?: AbortSignal;
}

/**
 * Builds each algorithm's Q/DQ model from `histograms` in memory, evaluates them all against FP32 on `factory`
 * (held-out data; not closed here) in one pass, and picks one with {@link AUTO_RULE}. Returns the choice and the
 * thresholds of every algorithm (to write the chosen cache).
 */
export async function compareAlgorithms(
  model: string,
  histograms: HistogramSet,
  factory: BatchFactory,
  options: CompareAlgorithmsOptions = {},
): Promise<{ choice: AutoChoice; amax: Record<AmaxAlgorithm, Array<AmaxResult & { name: string }>> }> {
  const t0 = performance.now();
  const amax = await amaxByAlgorithm(histograms, options.percentile ?? 99.99);
  const built: Array<{ label: AmaxAlgorithm; qdqModel: Uint8Array; tensors: number }> = [];
  for (const algorithm of AUTO_ALGORITHMS) {
    const entries = cacheEntries(amax[algorithm]);
    const { bytes } = await buildQdqModel(model, new Map(entries.map((e) => [e.name, Math.fround(e.amax / 127)])));
    built.push({ label: algorithm, qdqModel: bytes, tensors: entries.length });
  }
  const pass = {
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  // All algorithms in one pass over the held-out data; the (costlier) worst-tensor measurement afterwards for the
  // chosen one only, on the first batches again.
  const evaluations = await evaluateQdqModels(model, factory, built, { ...pass, worstTensors: 0 });
  const rows = AUTO_ALGORITHMS.map((a, i) => rowOf(a, evaluations[i], built[i].tensors));
  const samples = evaluations[0].samples;
  const { chosen, why } = chooseAlgorithm(rows, samples);
  const e = evaluations[AUTO_ALGORITHMS.indexOf(chosen)];
  let worstTensors: readonly TensorError[] = [];
  await factory.reset();
  try {
    const [diag] = await evaluateQdqModels(model, factory, [built[AUTO_ALGORITHMS.indexOf(chosen)]], {
      ...(options.signal ? { signal: options.signal } : {}),
      maxBatches: WORST_TENSOR_BATCHES,
      worstTensorBatches: WORST_TENSOR_BATCHES,
    });
    worstTensors = diag.worstTensors ?? [];
  } catch (err) {
    // A custom factory that cannot rewind delivers nothing the second time: no worst-tensor list then.
    if ((err as { code?: string }).code !== 'ERR_NO_DATA') throw err;
  }
  return {
    choice: {
      chosen,
      why,
      rule: AUTO_RULE,
      table: rows,
      images: samples,
      outputs: e.outputs,
      worstTensors,
      ...(e.labelAccuracy ? { labelAccuracy: e.labelAccuracy } : {}),
      ms: performance.now() - t0,
    },
    amax,
  };
}

/** The report's accuracy section for an `auto` choice. */
export function accuracyReport(choice: AutoChoice): ReportAccuracy {
  const comparison: ReportAlgorithmComparison[] = choice.table.map((r) => ({
    algorithm: r.algorithm,
    metrics: {
      ...(r.top1Agreement !== undefined ? { top1Agreement: r.top1Agreement } : {}),
      cosine: r.cosine,
      meanAbsError: r.meanAbsError,
      maxAbsError: r.maxAbsError,
      ...(r.labelAccuracy !== undefined ? { labelAccuracy: r.labelAccuracy } : {}),
      tensors: r.tensors,
    },
    chosen: r.chosen,
    why: r.why,
  }));
  return {
    images: choice.images,
    perOutput: choice.outputs.map((o) => ({
      name: o.name,
      ...(o.top1Agreement !== undefined ? { top1Agreement: o.top1Agreement } : {}),
      cosine: o.cosine < -1 ? -1 : o.cosine > 1 ? 1 : o.cosine,
      maxAbsError: o.maxAbsError,
      meanAbsError: o.meanAbsError,
    })),
    errorMetric:
      'relative L2 error ‖fp32 − int8‖ / ‖fp32‖ of the dequantized tensor the INT8 consumer reads, on the first 2 held-out batches',
    worstTensors: choice.worstTensors.map((t) => ({ name: t.name, error: t.error })),
    ...(choice.labelAccuracy
      ? { labelAccuracy: { fp32: choice.labelAccuracy.fp32, int8: choice.labelAccuracy.int8 } }
      : {}),
    algorithmComparison: comparison,
  };
}

/** The comparison as the CLI prints it: one line per algorithm, the chosen one marked. */
export function formatAlgorithmTable(choice: AutoChoice): string {
  const hasTop1 = choice.table.some((r) => r.top1Agreement !== undefined);
  const hasLabels = choice.table.some((r) => r.labelAccuracy !== undefined);
  const head = [
    ' algorithm',
    ...(hasTop1 ? ['top-1 agree'] : []),
    ...(hasLabels ? ['accuracy'] : []),
    'cosine',
    'mean abs err',
    'max abs err',
  ];
  const rows = choice.table.map((r) => [
    `${r.chosen ? '*' : ' '}${r.algorithm}`,
    ...(hasTop1 ? [r.top1Agreement === undefined ? '-' : pct(r.top1Agreement)] : []),
    ...(hasLabels ? [r.labelAccuracy === undefined ? '-' : pct(r.labelAccuracy)] : []),
    r.cosine.toFixed(6),
    r.meanAbsError.toPrecision(4),
    r.maxAbsError.toPrecision(4),
  ]);
  const lines = [
    `algorithms compared on ${choice.images} held-out samples (FP32 vs INT8 Q/DQ, ONNX Runtime CPU)`,
    ...formatColumns([head, ...rows], ['left', ...head.slice(1).map(() => 'right' as const)], '  '),
  ];
  lines.push(`  chosen: ${choice.why}`);
  return `${lines.join('\n')}\n`;
}
