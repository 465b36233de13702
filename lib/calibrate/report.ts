/** The calibration report of a builtin run: per-tensor histograms, every algorithm's threshold, the summary. */
import type { CalibrationModel } from '../backends/builtin/calibration-model';
import { packageVersion } from '../capabilities';
import { AMAX_ALGORITHMS, type HistogramSet } from '../histogram';
import {
  REPORT_SCHEMA_VERSION,
  buildTensorReport,
  listTensorsWithoutScale,
  standardWarnings,
  type CalibrationReport,
  type ReportTensor,
} from '../report';
import type { Algorithm } from '../options';
import { accuracyReport, type ThresholdsByAlgorithm } from './auto';
import type { CalibrationResult } from './types';

/** Builds the report of a finished run from its histograms and every algorithm's thresholds. */
export function buildReport(
  model: string,
  calibrationModel: CalibrationModel,
  histograms: HistogramSet,
  result: CalibrationResult,
  thresholds: ThresholdsByAlgorithm,
  percentile: number,
): CalibrationReport {
  const all = {} as Record<Algorithm, Map<string, number>>;
  for (const algo of AMAX_ALGORITHMS) all[algo] = new Map(thresholds[algo].map((r) => [r.name, r.amax]));
  const inputNames = new Set(calibrationModel.inputs.map((i) => i.name));
  const tensors: ReportTensor[] = histograms.names().map((name) => {
    const s = histograms.stats(name);
    return buildTensorReport(
      {
        name,
        kind: inputNames.has(name) ? 'input' : 'activation',
        counts: histograms.counts(name),
        binWidth: s.binWidth,
        min: s.min,
        max: s.max,
        count: s.count,
        nanCount: s.nanCount,
        infCount: s.posInfCount + s.negInfCount,
        thresholds: {
          entropy: all.entropy.get(name) ?? 0,
          minmax: all.minmax.get(name) ?? 0,
          percentile: all.percentile.get(name) ?? 0,
          mse: all.mse.get(name) ?? 0,
        },
        amax: result.tensors[name]?.amax,
      },
      result.algorithm,
    );
  });
  const report: CalibrationReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'trt-calibrator', version: packageVersion },
    createdAt: new Date().toISOString(),
    model: {
      path: model,
      inputs: calibrationModel.inputs.map((i) => ({ name: i.name, shape: [...i.shape], dtype: i.dtype })),
    },
    backend: result.backend,
    algorithm: result.algorithm,
    requestedAlgorithm: result.auto ? 'auto' : result.algorithm,
    percentile,
    tensorrtVersion: result.tensorrtVersion.split('.').slice(0, 2).join('.'),
    batchSize: result.batchSize,
    batches: result.batches,
    imagesUsed: result.images.used,
    skippedImages: result.images.skipped.map((s) => ({ file: s.file, reason: s.reason })),
    timings: {
      totalMs: result.timings.prepareMs + result.timings.calibrateMs,
      inferenceMs: result.timings.inferenceMs,
      histogramMs: result.timings.histogramMs,
      thresholdsMs: result.timings.thresholdMs,
    },
    tensors,
    tensorsWithoutScale: [],
    warnings: [],
    ...(result.auto ? { accuracy: accuracyReport(result.auto) } : {}),
  };
  report.tensorsWithoutScale = listTensorsWithoutScale(
    tensors,
    calibrationModel.skippedTensors.map((t) => ({ name: t.name, reason: t.reason })),
  );
  // calibrate() already says the skipped images, NaN/Inf and clipping (the same sentences); the report adds what only
  // it knows (tensors without a scale, non-float ones included).
  report.warnings = [...result.warnings, ...standardWarnings(report, { except: ['skipped', 'nonFinite', 'clipping'] })];
  return report;
}
