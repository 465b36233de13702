/**
 * Errors thrown by trt-calibrator. Every error has a stable {@link ErrorCode} in `code`, so callers can
 * branch on it without parsing messages, and a `name` of `TrtCalibratorError`.
 */

/** Stable error codes. New codes are added; existing ones never change meaning. */
export type ErrorCode =
  /** The native addon could not be loaded (not built, wrong platform, missing library). */
  | 'ERR_ADDON_LOAD'
  /** An option had the wrong type or value. */
  | 'ERR_INVALID_OPTION'
  /** A calibration cache could not be parsed (the message names file and line). */
  | 'ERR_CACHE_FORMAT'
  /** A cache was written by a different TensorRT major.minor than the one asked for. */
  | 'ERR_CACHE_VERSION'
  /** A cache was written by a different calibration algorithm than the one asked for. */
  | 'ERR_CACHE_ALGORITHM'
  /** A cache's tensor names do not belong to the model it is used with (it was calibrated on another model). */
  | 'ERR_CACHE_MODEL_MISMATCH'
  /** An input name did not match the model's inputs. */
  | 'ERR_INPUT_NAME'
  /** An input had the wrong shape or element count. */
  | 'ERR_INPUT_SHAPE'
  /** An input had the wrong data type. */
  | 'ERR_INPUT_DTYPE'
  /** Images could not be listed or decoded past the allowed threshold. */
  | 'ERR_IMAGE_DECODE'
  /** No usable calibration data (empty directory, all images skipped). */
  | 'ERR_NO_DATA'
  /** The ONNX model could not be read or run. */
  | 'ERR_MODEL'
  /** A BatchFactory threw or rejected; `cause` holds the original error. */
  | 'ERR_BATCH_FACTORY'
  /** A CUDA call failed; the message carries the CUDA error name. */
  | 'ERR_CUDA'
  /** The run was aborted through an AbortSignal. */
  | 'ERR_ABORTED'
  /** The TensorRT backend was asked for but the addon was built without TensorRT. */
  | 'ERR_TENSORRT_UNAVAILABLE'
  /** TensorRT failed to parse or build the network. */
  | 'ERR_TENSORRT_BUILD'
  /** Calibration data was all zeros, constant, NaN or Inf for a tensor. */
  | 'ERR_DEGENERATE_TENSOR'
  /** Reading or writing a file failed. */
  | 'ERR_IO'
  /** Histograms could not be merged (different bin widths) or histogram bytes were malformed. */
  | 'ERR_HISTOGRAM'
  /** A calibration report (report.json) did not match the CalibrationReport schema; the message names the field. */
  | 'ERR_REPORT_FORMAT'
  /** An internal invariant was broken: a bug, please report it. */
  | 'ERR_INTERNAL';

/** The one error class of this package. */
export class TrtCalibratorError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Extra structured facts (file, line, input name, expected shape…) where the code has them. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrtCalibratorError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `err` is a {@link TrtCalibratorError}, optionally with the given code. */
export function isTrtCalibratorError(err: unknown, code?: ErrorCode): err is TrtCalibratorError {
  return err instanceof TrtCalibratorError && (code === undefined || err.code === code);
}

/** The code of any error this package throws (TrtCalibratorError or option TypeError/RangeError), else undefined. */
export function errorCode(err: unknown): ErrorCode | undefined {
  if (err instanceof TrtCalibratorError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_INVALID_OPTION' ? code : undefined;
}

/** Describes a value for "Expected … but received …" messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null of type null';
  if (Array.isArray(value)) return `${JSON.stringify(value).slice(0, 60)} of type array`;
  const type = typeof value;
  let shown: string;
  if (type === 'string') shown = JSON.stringify(value);
  else if (type === 'function') shown = '[function]';
  else if (type === 'object') shown = Object.prototype.toString.call(value);
  else shown = String(value);
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  return `${shown} of type ${type}`;
}

/**
 * A TypeError or RangeError carrying `code: 'ERR_INVALID_OPTION'`, as Node's own argument errors do. `option` is the
 * option's name as the caller spelled it (`batchSize`, `inputs.image.scale`, `--batch`); `expected` and `received`
 * are the two halves of the message, so that the CLI can say the same with its flag names.
 */
export type InvalidOptionError = (TypeError | RangeError) & {
  /** Always ERR_INVALID_OPTION. */
  code: 'ERR_INVALID_OPTION';
  /** The option as the caller spelled it. */
  option: string;
  /** What a valid value is (`a positive integer`). */
  expected?: string;
  /** What was given, described (`0 of type number`). */
  received?: string;
};

/**
 * The validation error shape used everywhere: `Expected <what> for <option> but received <value> of type <type>`.
 * A wrong type gives a TypeError, a wrong value a RangeError; both carry `code` ERR_INVALID_OPTION.
 */
export function invalidOption(
  option: string,
  expected: string,
  value: unknown,
  kind: 'type' | 'range' = 'type',
): InvalidOptionError {
  const received = describeValue(value);
  const message = `Expected ${expected} for ${option} but received ${received}`;
  const err = (kind === 'type' ? new TypeError(message) : new RangeError(message)) as InvalidOptionError;
  err.code = 'ERR_INVALID_OPTION';
  err.option = option;
  err.expected = expected;
  err.received = received;
  return err;
}

/** Levenshtein-based hint for misspelled option names: `did you mean "limit"?`. */
export function suggest(name: string, known: readonly string[]): string {
  let best = '';
  let bestDistance = Infinity;
  const lower = name.toLowerCase().replace(/[-_]/g, '');
  for (const candidate of known) {
    const other = candidate.toLowerCase().replace(/[-_]/g, '');
    // One name inside the other (--batchsize / --batch, maxskip / maxSkipped) is as good as a near miss.
    const d =
      lower.length > 2 && other.length > 2 && (lower.includes(other) || other.includes(lower))
        ? 1
        : editDistance(lower, other);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/**
 * Throws ERR_INVALID_OPTION for keys of `options` that are not in `known`, with a spelling hint. `prefix` is the
 * path of a nested options object (`'inputs.image.'`), put before the name in the error.
 */
export function rejectUnknownOptions(where: string, options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const err = new TypeError(
        `Unknown option "${prefix}${key}" for ${where}${suggest(key, known)}`,
      ) as InvalidOptionError;
      err.code = 'ERR_INVALID_OPTION';
      err.option = prefix + key;
      throw err;
    }
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
