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
import { writeReport } from '../report';
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
    warnings.push(`${skipped.length} image(s) skipped (first: ${skipped[0].file}: ${skipped[0].reason})`);

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
    timings: { totalMs: 0, prepareMs: prepared.prepareMs, ...pass.timings },
  };
  if (job.backend === 'builtin' && !pass.fromCache) result.histograms = histograms;
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
  if (options.qdq) {
    const scales: Record<string, number> = {};
    for (const e of cache.entries) scales[e.name] = e.scale;
    const q = await writeQdqModel(job.model, scales, options.qdq);
    result.qdq = { path: options.qdq, activations: q.activations.length, weights: q.weights.length };
  }
  if (options.report) {
    if (job.backend === 'tensorrt') {
      warnings.push(
        'No report histograms with the TensorRT backend (TensorRT keeps its own); use backend: "builtin" for a report',
      );
    } else if (pass.fromCache) {
      warnings.push(
        'No report histograms: the cache was reused without calibrating (pass overwrite: true to recalibrate)',
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
