/** The options of calibrate() and of `trt-calibrator calibrate`. */
import type { BatchFactory } from '../batch/factory';
import type { CacheStore } from '../cache/store';
import type { CalibrationProgress } from '../calibrator/run';
import { parseTensorRTVersion } from '../cache/version';
import { invalidOption } from '../errors';
import type { HistogramSet } from '../histogram';
import type { InputShapesOption } from '../backends/tensorrt/profile';
import { IMAGE_SOURCE_OPTIONS, PREPROCESS_OPTIONS } from './preprocess';
import {
  boolean,
  byteSize,
  callback,
  custom,
  filePath,
  integer,
  nested,
  number,
  oneOf,
  pick,
  record,
  type OptionsOf,
} from './spec';
import { TENSORRT_BUILD_OPTIONS } from './tensorrt';

/** Threshold algorithms: how amax (the clipping threshold, scale = amax / 127) is chosen per tensor. */
export const AMAX_ALGORITHMS = ['entropy', 'minmax', 'percentile', 'mse'] as const;

/** A threshold algorithm (see the README's "Calibration algorithms"). */
export type Algorithm = (typeof AMAX_ALGORITHMS)[number];

/** Backends: `builtin` (ONNX Runtime on the CPU), `tensorrt` (TensorRT's own builder), `auto`. */
export const BACKENDS = ['auto', 'builtin', 'tensorrt'] as const;

/** How the builtin backend runs ONNX Runtime. */
export const INFERENCE_MODES = ['auto', 'native', 'worker'] as const;

/** Default of `maxActivationBytes`: 256 MiB of activations per ONNX Runtime run. */
export const DEFAULT_MAX_ACTIVATION_BYTES = 256 * 2 ** 20;

/** Share of the sorted image list that `algorithm: 'auto'` holds out. */
export const DEFAULT_HOLDOUT = 0.2;

/** Percentile of the `percentile` algorithm when none is given. */
export const DEFAULT_PERCENTILE = 99.99;

/** Per-input options: the input's per-image shape and its preprocessing. */
export const INPUT_OPTIONS = PREPROCESS_OPTIONS;

/** Per-input options of calibrate() (`inputs: { [name]: InputOptions }`). */
export interface InputOptions extends OptionsOf<typeof INPUT_OPTIONS> {}

const isStore = (v: unknown): v is CacheStore =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as CacheStore).read === 'function' &&
  typeof (v as CacheStore).write === 'function';

const isFactory = (v: unknown): v is BatchFactory =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as BatchFactory).fill === 'function' &&
  Array.isArray((v as BatchFactory).inputs);

/** Every option of calibrate(), declared once. */
export const CALIBRATE_OPTIONS = {
  ...PREPROCESS_OPTIONS,
  /** Per-input shape and preprocessing, by input name (multi-input models). Defaults to {}. */
  inputs: record(INPUT_OPTIONS, {
    help: 'per-input shape and preprocessing, by input name',
    where: 'calibrate() inputs',
    keyName: 'input name',
  }),
  ...pick(IMAGE_SOURCE_OPTIONS, 'batchSize', 'limit', 'recursive', 'extensions', 'maxSkipped', 'workers', 'onSkip'),
  /**
   * Threshold algorithm, or 'auto': calibrate once, hold out images (`holdout`), evaluate every algorithm's Q/DQ
   * model against FP32 on them in ONNX Runtime and keep the best (builtin backend; the reasons are in
   * `result.auto`). Defaults to 'entropy' (TensorRT's EntropyCalibration2).
   */
  algorithm: oneOf([...AMAX_ALGORITHMS, 'auto'] as const, {
    help: 'threshold algorithm; auto compares them on held-out images and keeps the best',
    default: 'entropy',
    cli: '--algorithm <name>',
  }),
  /**
   * `algorithm: 'auto'` with an image directory: the share of the sorted file list (its LAST images) held out for
   * the comparison and not calibrated on, in (0, 1). Defaults to 0.2.
   */
  holdout: number({
    help: 'algorithm auto: share of the images (the last ones, sorted) held out for the comparison',
    gt: 0,
    lt: 1,
    expected: 'a share in (0, 1)',
    default: DEFAULT_HOLDOUT,
    cli: '--holdout <share>',
  }),
  /**
   * `algorithm: 'auto'`: the images (directory, preprocessed like the calibration images) or the BatchFactory to
   * compare the algorithms on instead of a held-out share; required when the source is a BatchFactory. Defaults to
   * none.
   */
  evaluationSource: custom<string | BatchFactory>({
    help: 'algorithm auto: images or BatchFactory to compare on instead of a held-out share',
    expected: 'an image directory or a BatchFactory',
    check: (value, name) => {
      if ((typeof value === 'string' && value !== '') || isFactory(value)) return value;
      throw invalidOption(name, 'an image directory or a BatchFactory', value);
    },
  }),
  /** `algorithm: 'auto'`: class index per evaluation image file, for top-1 accuracy in the comparison. Defaults to none. */
  evaluationLabels: custom<ReadonlyMap<string, number>>({
    help: 'algorithm auto: class index per evaluation image file',
    expected: 'a Map of image file to class index',
    check: (value, name) => {
      if (!(value instanceof Map)) throw invalidOption(name, 'a Map of image file to class index', value);
      return value;
    },
  }),
  /** Percentile for `algorithm: 'percentile'`, in (0, 100]. Defaults to 99.99. */
  percentile: number({
    help: 'percentile of the percentile algorithm',
    gt: 0,
    max: 100,
    expected: 'a number in (0, 100]',
    default: DEFAULT_PERCENTILE,
    cli: '--percentile <P>',
  }),
  /**
   * TensorRT version the cache is for (`'10.3'`, `'8.6.1'`): it goes into the header, and TensorRT only reads a
   * cache of its own major.minor. Defaults to the TensorRT compiled into the addon, else 10.3.0 (with a warning in
   * the result).
   */
  tensorrt: custom<string>({
    help: 'TensorRT version the cache is for, e.g. 8.6 or 10.3',
    expected: 'a TensorRT version such as "8.6.1" or "10.3"',
    defaultText: 'the TensorRT compiled in, else 10.3.0',
    check: (value, name) => {
      if (typeof value !== 'string') throw invalidOption(name, 'a TensorRT version such as "8.6.1" or "10.3"', value);
      parseTensorRTVersion(value, name);
      return value;
    },
    parse: (t, flag) => {
      parseTensorRTVersion(t, flag);
      return t;
    },
    cli: '--tensorrt <version>',
  }),
  /**
   * Where the cache is read from and written to: a file path or a store `{ read, write }`. Defaults to
   * `<model dir>/<model name>.calibration.cache`.
   */
  cache: custom<string | CacheStore>({
    help: 'cache file to read and write',
    expected: 'a file path or a store { read(), write(bytes) }',
    defaultText: '<model dir>/<model name>.calibration.cache',
    check: (value, name) => {
      if ((typeof value === 'string' && value !== '') || isStore(value)) return value;
      throw invalidOption(name, 'a file path or a store { read(), write(bytes) }', value);
    },
    parse: (t) => t,
    cli: '--cache <file>',
  }),
  /** Recalibrate even when a compatible cache exists (it is then replaced). Defaults to false. */
  overwrite: boolean({ help: 'recalibrate even when a compatible cache exists', default: false, cli: '--overwrite' }),
  /** 'auto' (TensorRT when compiled in, else builtin), 'builtin' or 'tensorrt'. Defaults to 'auto'. */
  backend: oneOf(BACKENDS, { help: 'calibration backend', default: 'auto', cli: '--backend <name>' }),
  /**
   * Build an INT8 engine with TensorRT's own builder and write the plan here (needs TensorRT 8.5–10.x compiled in).
   * Defaults to none.
   */
  engine: filePath({ help: 'build an INT8 engine with TensorRT and write the plan here', cli: '--engine <plan>' }),
  /** TensorRT build settings for `engine` (FP16 fallback, workspace, DLA core, log verbosity). Defaults to TensorRT's. */
  tensorrtBuild: nested(TENSORRT_BUILD_OPTIONS, {
    help: 'TensorRT engine build settings',
    where: 'calibrate() tensorrtBuild',
  }),
  /**
   * TensorRT profile shapes by input name (`[N,C,H,W]` or `{ min, opt, max }`); calibration runs at OPT, which must
   * equal the calibration batch shape. Defaults to the batch shapes for MIN = OPT = MAX.
   */
  inputShapes: custom<InputShapesOption>({
    help: 'TensorRT profile shapes by input name',
    expected: 'an object mapping input names to shapes',
    check: (value, name) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw invalidOption(name, 'an object mapping input names to shapes', value);
      return value as InputShapesOption;
    },
  }),
  /** Called with each line of TensorRT's log (TensorRT backend). Defaults to none. */
  onLog: callback<(line: string) => void>({ help: "called with each line of TensorRT's log" }),
  /**
   * Histograms to start from (builtin backend): the new batches are added to them and the cache covers both.
   * Calibrate a large data set in shards: save each run's `result.histograms`, load and merge them
   * (HistogramSet.loadAll), or pass one run's set to the next. Defaults to a new, empty set.
   */
  histograms: custom<HistogramSet>({
    help: 'histograms to start from (sharded calibration)',
    expected: 'a HistogramSet',
    check: (value, name) => {
      // Checked by shape, not instanceof: the class lives in lib/histogram.ts, which loads the addon.
      const v = value as Partial<HistogramSet> | null;
      if (typeof v !== 'object' || v === null || typeof v.names !== 'function' || !('native' in v))
        throw invalidOption(name, 'a HistogramSet', value);
      return value as HistogramSet;
    },
  }),
  /** Write a Q/DQ ONNX model (explicit quantization, TensorRT 10/11) to this path. Defaults to none. */
  qdq: filePath({
    help: 'also write a Q/DQ ONNX model (explicit quantization, TensorRT 10/11)',
    cli: '--qdq <out.onnx>',
  }),
  /** Write report.json and report.html into this directory. Defaults to none. */
  report: filePath({ help: 'also write report.json and report.html into this directory', cli: '--report <dir>' }),
  /** Cancels the run: nothing is written, the promise rejects with `signal.reason`. Defaults to none. */
  signal: custom<AbortSignal>({
    help: 'cancels the run',
    expected: 'an AbortSignal',
    check: (value, name) => {
      if (!(value instanceof AbortSignal)) throw invalidOption(name, 'an AbortSignal', value);
      return value;
    },
  }),
  /** Progress after each batch. Defaults to none. */
  onProgress: callback<(progress: CalibrationProgress) => void>({ help: 'progress after each batch' }),
  /**
   * ONNX Runtime threads for the calibration pass. Defaults to half the cores with inference 'native' (the other
   * half histograms the previous run's activations meanwhile), ONNX Runtime's choice (all cores) with 'worker'.
   */
  threads: integer({
    help: 'ONNX Runtime threads',
    min: 1,
    defaultText: "half the cores ('native'; the rest histogram meanwhile), all ('worker')",
    cli: '--threads <n>',
  }),
  /**
   * Builtin backend: the most activation bytes one ONNX Runtime run may produce, as bytes or a size such as
   * `'256MiB'`. A batch whose activations are bigger runs as sub-batches (models with a dynamic batch dimension),
   * which bounds memory: the PaddleOCR detector at 3×320×320 makes 173 MB of activations per image. Derived
   * activations (computed while histogramming, never held) count as if ONNX Runtime output them, so the split does
   * not depend on them. 0 never splits. Defaults to 256 MiB.
   */
  maxActivationBytes: byteSize({
    help: 'builtin backend: most activation bytes per ONNX Runtime run before a batch is split (0: never)',
    default: DEFAULT_MAX_ACTIVATION_BYTES,
    defaultText: '256MiB',
    cli: '--max-activation-bytes <size>',
  }),
  /**
   * Builtin backend: how the calibration pass runs ONNX Runtime. 'native': the addon calls ONNX Runtime's C API
   * (the library inside onnxruntime-node) on the run's own thread and histograms every activation in place;
   * 'worker': onnxruntime-node's JavaScript API in a worker thread (copies every activation once). 'auto' takes
   * 'native' when that library loads, else 'worker'. Both give the same cache. Defaults to 'auto'.
   */
  inference: oneOf(INFERENCE_MODES, {
    help: 'builtin backend: ONNX Runtime through its C API (native) or onnxruntime-node in a worker',
    default: 'auto',
    cli: '--inference <mode>',
  }),
} as const;
