/**
 * Stage 5 of calibrate(): from the pass to what the user asked for. With algorithm 'auto' the algorithms are
 * compared and the winner's cache written; then the result (scales, degenerate tensors, warnings), the engine plan,
 * the Q/DQ model and the report.
 */
import { ImageBatchFactory } from '../batch/image-factory';
import { parseCache, type CalibrationCache } from '../cache/format';
import { formatTensorRTVersion } from '../cache/version';
import { TrtCalibratorError } from '../errors';
import { writeQdqModel } from '../onnx/qdq';
import {
  CLIPPED_WARNING_SHARE,
  clippedShareFromHistogram,
  clippingWarning,
  nonFiniteWarning,
  writeReport,
} from '../report';
import type { HistogramSet } from '../histogram';
import { mention } from '../options';
import { ownTurn } from '../util/event-loop';
import { writeFileAtomic } from '../util/fs';
import { amaxByAlgorithm, cacheTextFor, compareAlgorithms, type AutoChoice, type ThresholdsByAlgorithm } from './auto';
import { cacheAlgorithmFor, type CalibrationJob } from './job';
import type { LoadedJob } from './model';
import type { PreparedRun } from './prepare';
import { buildReport } from './report';
import type { PassResult, TensorStatus } from './run';
import type { CalibrationResult, TensorScale } from './types';

function scalesOf(cache: CalibrationCache): Record<string, TensorScale> {
  const out: Record<string, TensorScale> = {};
  for (const e of cache.entries) out[e.name] = { scale: e.scale, amax: e.scale * 127 };
  return out;
}

/**
 * Tensors whose amax clips more than 1 % of their values, and tensors with NaN/Inf beside finite values. Reading
 * every histogram took 15-25 ms in one go for the PaddleOCR detector's 331 tensors: the loop yields to the event loop every
 * few ms (bench/event-loop/RESULTS.md).
 */
async function histogramWarnings(histograms: HistogramSet, cache: CalibrationCache): Promise<string[]> {
  const clipped: Array<{ name: string; share: number }> = [];
  const nonFinite: string[] = [];
  const amax = new Map(cache.entries.map((e) => [e.name, e.scale * 127]));
  let since = performance.now();
  for (const name of histograms.names()) {
    if (performance.now() - since > 4) {
      await ownTurn();
      since = performance.now();
    }
    const s = histograms.stats(name);
    if (s.nanCount + s.posInfCount + s.negInfCount > 0 && s.finiteCount > 0) nonFinite.push(name);
    const a = amax.get(name);
    if (a === undefined || !(s.binWidth > 0)) continue;
    const share = clippedShareFromHistogram(histograms.counts(name), s.binWidth, a);
    if (share > CLIPPED_WARNING_SHARE) clipped.push({ name, share });
  }
  const out: string[] = [];
  if (nonFinite.length > 0) out.push(nonFiniteWarning(nonFinite));
  if (clipped.length > 0) out.push(clippingWarning(clipped));
  return out;
}

function degenerateWarning(d: TensorStatus): string {
  return d.status === 'constant'
    ? `Tensor "${d.name}" is constant over the calibration data (amax = |value|)`
    : `Tensor "${d.name}" has no usable calibration data (${d.status}): it gets no scale and TensorRT will run it in higher precision`;
}

/** Stage 5: chooses (auto), then writes the engine, the Q/DQ model and the report; returns the result. */
export async function writeOutputs(
  job: CalibrationJob,
  loaded: LoadedJob,
  prepared: PreparedRun,
  pass: PassResult,
): Promise<CalibrationResult> {
  const { options } = job;
  const { histograms } = prepared;
  let { cache } = pass;
  let algorithm = loaded.algorithm;
  let auto: AutoChoice | undefined;
  // Every algorithm's thresholds, computed once (off the JS thread) and shared by auto, the degenerate-tensor
  // list and the report.
  let thresholds: ThresholdsByAlgorithm | undefined;
  const evaluation = prepared.data.evaluation;
  if (loaded.comparing && !pass.fromCache && evaluation) {
    // Every algorithm's Q/DQ model against FP32 on the held-out images; the winner's cache is written as the
    // builtin builder would have written it (same header, set order, usable thresholds only).
    const compared = await compareAlgorithms(job.model, histograms, evaluation.factory, {
      percentile: options.percentile,
      ...(options.evaluationLabels ? { labels: options.evaluationLabels } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    auto = compared.choice;
    thresholds = compared.amax;
    algorithm = auto.chosen;
    const bytes = Buffer.from(
      cacheTextFor(compared.amax[algorithm], job.tensorrt.raw, cacheAlgorithmFor(algorithm)),
      'utf8',
    );
    options.signal?.throwIfAborted();
    await job.cache.access.write(bytes);
    cache = parseCache(bytes, { file: job.cache.path });
  }

  const warnings = job.warnings;
  const factory = prepared.data.calibration.factory;
  const skipped = factory instanceof ImageBatchFactory ? factory.stats.skipped : [];
  const degenerateTensors: TensorStatus[] = [];
  if (!pass.fromCache) {
    if (!thresholds && options.report && job.backend === 'builtin')
      thresholds = await amaxByAlgorithm(histograms, options.percentile);
    // With 'auto' (or a report) the chosen algorithm's thresholds say which tensors have no usable threshold;
    // otherwise the builder's own list.
    const statuses: readonly TensorStatus[] = thresholds
      ? thresholds[algorithm].filter((r) => r.status !== 'ok').map((r) => ({ name: r.name, status: r.status }))
      : (pass.statuses ??
        (await histograms.computeAll(algorithm, { percentile: options.percentile }))
          .filter((r) => r.status !== 'ok')
          .map((r) => ({ name: r.name, status: r.status })));
    for (const d of statuses) {
      degenerateTensors.push({ name: d.name, status: d.status });
      warnings.push(degenerateWarning(d));
    }
  }
  if (skipped.length > 0)
    warnings.push(
      `${skipped.length} image(s) skipped: ${skipped
        .slice(0, 3)
        .map((x) => `${x.file} (${x.reason})`)
        .join(', ')}${skipped.length > 3 ? `, and ${skipped.length - 3} more (result.images.skipped lists all)` : ''}`,
    );
  const dropped = factory instanceof ImageBatchFactory ? factory.stats.dropped : 0;
  if (dropped > 0)
    warnings.push(
      `${dropped} image(s) left out: the last batch was not full and TensorRT calibrates full batches only; use a ${mention('batchSize')} that divides the number of images, or add images`,
    );
  if (!pass.fromCache && job.backend === 'builtin') warnings.push(...(await histogramWarnings(histograms, cache)));

  const result: CalibrationResult = {
    ...(job.cache.path !== undefined ? { cachePath: job.cache.path } : {}),
    cache,
    fromCache: pass.fromCache,
    tensors: scalesOf(cache),
    algorithm,
    ...(auto ? { auto } : {}),
    backend: job.backend,
    ...(pass.inference ? { inference: pass.inference } : {}),
    tensorrtVersion: formatTensorRTVersion(job.tensorrt),
    images: { used: pass.images, skipped },
    batches: pass.batches,
    batchSize: prepared.batchSize,
    degenerateTensors,
    warnings,
    notes: job.notes,
    timings: { totalMs: 0, prepareMs: prepared.prepareMs, ...pass.timings },
  };
  if (job.backend === 'builtin' && !pass.fromCache) result.histograms = histograms;
  // The cache is written; an abort from here on stops before the next output (the CLI says what was written).
  options.signal?.throwIfAborted();
  if (job.backend === 'tensorrt') {
    result.log = [...pass.log];
    for (const line of pass.log) options.onLog?.(line);
    if (options.engine) {
      if (!pass.plan)
        throw new TrtCalibratorError('ERR_TENSORRT_BUILD', `TensorRT returned no engine for ${job.model}`);
      await writeFileAtomic(options.engine, pass.plan);
      result.engine = { path: options.engine, bytes: pass.plan.byteLength };
    }
  }
  options.signal?.throwIfAborted();
  if (options.qdq) {
    const scales: Record<string, number> = {};
    for (const e of cache.entries) scales[e.name] = e.scale;
    const q = await writeQdqModel(job.model, scales, options.qdq);
    result.qdq = { path: options.qdq, activations: q.activations.length, weights: q.weights.length };
  }
  options.signal?.throwIfAborted();
  if (options.report) {
    if (pass.fromCache) {
      warnings.push(
        `No report: the cache was reused without calibrating (${mention('overwrite', { api: 'true' })} recalibrates)`,
      );
    } else {
      const report = buildReport(
        job.model,
        prepared.calibrationModel,
        histograms,
        result,
        thresholds ?? (await amaxByAlgorithm(histograms, options.percentile)),
        options.percentile,
      );
      const written = await writeReport(options.report, report);
      result.report = { json: written.json, html: written.html };
    }
  }
  return result;
}
