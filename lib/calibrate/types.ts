/** The public types of calibrate(): its options, its sources and its result. */
import type { BatchFactory } from '../batch/factory';
import type { SkippedImage } from '../batch/image-factory';
import type { CalibrationCache } from '../cache/format';
import type { HistogramSet } from '../histogram';
import type { Algorithm, CALIBRATE_OPTIONS, OptionsOf } from '../options';
import type { AutoChoice } from './auto';

export type { Algorithm, InputOptions } from '../options';

/** Options of {@link calibrate}: every one is optional; see each for its default. */
export interface CalibrateOptions extends OptionsOf<typeof CALIBRATE_OPTIONS> {}

/** The source of calibration data: an image directory, one factory, or factories by input name. */
export type CalibrationSource = string | BatchFactory | Readonly<Record<string, BatchFactory>>;

/** One tensor's result. */
export interface TensorScale {
  /** Scale written to the cache (float32): amax / 127. */
  scale: number;
  /** Dynamic range: the clipping threshold. */
  amax: number;
}

/** What {@link calibrate} resolves with. */
export interface CalibrationResult {
  /** The cache file written or reused (undefined with a custom store). */
  cachePath?: string;
  /** The cache (parsed), as TensorRT will read it. */
  cache: CalibrationCache;
  /** True when an existing compatible cache was used and nothing was calibrated. */
  fromCache: boolean;
  /** Scale and amax per tensor, in cache order. */
  tensors: Record<string, TensorScale>;
  /** Algorithm used. */
  algorithm: Algorithm;
  /** Backend that ran. */
  backend: 'builtin' | 'tensorrt';
  /** TensorRT version of the cache header, e.g. '10.3.0'. */
  tensorrtVersion: string;
  /** Images calibrated (batches × batch size) and images skipped with reasons. */
  images: {
    /** Images in the calibrated batches (batches × batch size; padding repeats not counted). */
    used: number;
    /** Files that could not be used, with the reason, in file order. */
    skipped: SkippedImage[];
  };
  /** Batches run. */
  batches: number;
  /** Images per batch. */
  batchSize: number;
  /** Tensors with no usable data (all zero, only NaN/Inf): no cache entry, named here and in `warnings`. */
  degenerateTensors: Array<{
    /** The tensor. */
    name: string;
    /** `all-zero`, `not-finite`, `empty` (no cache entry) or `constant` (amax = |value|). */
    status: string;
  }>;
  /** Things worth a look (default TensorRT version, degenerate tensors, skipped images, clipping…). */
  warnings: string[];
  /**
   * What was decided for you from the model and the data, one line each: the shape from the images or the model's
   * metadata, the layout, a preset for an Ultralytics export.
   */
  notes: string[];
  /** How the builtin backend ran ONNX Runtime (see {@link CalibrateOptions.inference}); absent otherwise. */
  inference?: 'native' | 'worker';
  /** Milliseconds: total, model preparation, calibration pass, ORT inference, histograms, thresholds. */
  timings: {
    /** The whole call. */
    totalMs: number;
    /** Checking the inputs, loading and preparing the model. */
    prepareMs: number;
    /** The calibration pass (reading batches, inference, histograms, thresholds). */
    calibrateMs: number;
    /** ONNX Runtime inside the pass (summed over runs). */
    inferenceMs: number;
    /** Histogramming inside the pass (summed over threads). */
    histogramMs: number;
    /** Choosing amax per tensor. */
    thresholdMs: number;
  };
  /**
   * The per-tensor histograms of this run (builtin backend; absent when the cache was reused): save them with
   * `.save(file)` to merge shards later.
   */
  histograms?: HistogramSet;
  /** The INT8 engine plan written (TensorRT backend with `engine`). */
  engine?: {
    /** The plan file. */
    path: string;
    /** Its size. */
    bytes: number;
  };
  /** TensorRT's log lines (TensorRT backend). */
  log?: string[];
  /** The Q/DQ model written, when `qdq` was given. */
  qdq?: {
    /** The Q/DQ ONNX file. */
    path: string;
    /** Activations quantized per tensor. */
    activations: number;
    /** Weights quantized. */
    weights: number;
  };
  /** The report files, when `report` was given. */
  report?: {
    /** report.json. */
    json: string;
    /** report.html. */
    html: string;
  };
  /** With `algorithm: 'auto'`: the algorithm kept, why, and the comparison table. */
  auto?: AutoChoice;
}
