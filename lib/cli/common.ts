/** Shared CLI plumbing: exit codes per error class, error printing, output helpers. */
import { errorCode, type ErrorCode } from '../errors';
import { inCliVoice, withVoice } from '../options';

/** Exit codes of `trt-calibrator`, one per class of failure (documented in the README). */
export const EXIT_CODES = {
  ok: 0,
  /** `diff` found differences beyond the tolerance. */
  differ: 1,
  usage: 2,
  input: 3,
  cache: 4,
  model: 5,
  data: 6,
  native: 7,
  aborted: 130,
  internal: 70,
} as const;

/** What each exit code means, for `--help` readers and the README's table (generated from this and {@link EXIT_CODE_OF}). */
export const EXIT_CODE_MEANINGS: Readonly<Record<keyof typeof EXIT_CODES, string>> = {
  ok: 'success',
  differ: '`diff`: the caches differ beyond the tolerance',
  usage: 'usage: unknown command or option, bad option value, options that do not fit together',
  input:
    'input: a file or folder missing, unreadable or not writable, wrong input name, shape or dtype, a malformed histogram or report file',
  cache: 'cache: malformed, for another TensorRT version or algorithm, or calibrated on another model',
  model: 'model: the ONNX model could not be read or run',
  data: 'data: no usable images, unreadable images past `--max-skipped`, degenerate tensors, a failing batch factory',
  native: 'native: the addon did not load, CUDA or TensorRT failed or is missing',
  aborted: 'aborted: Ctrl-C (SIGINT); no partial file is left, and files already complete are named',
  internal: 'internal: an error without a code (a bug: the message comes with its stack; please report it)',
};

/** The exit code of every error code (a new code must be placed here: the type says so). */
export const EXIT_CODE_OF: Readonly<Record<ErrorCode, number>> = {
  ERR_INVALID_OPTION: EXIT_CODES.usage,
  ERR_CACHE_FORMAT: EXIT_CODES.cache,
  ERR_CACHE_VERSION: EXIT_CODES.cache,
  ERR_CACHE_ALGORITHM: EXIT_CODES.cache,
  ERR_CACHE_MODEL_MISMATCH: EXIT_CODES.cache,
  ERR_HISTOGRAM: EXIT_CODES.input,
  ERR_REPORT_FORMAT: EXIT_CODES.input,
  ERR_INPUT_NAME: EXIT_CODES.input,
  ERR_INPUT_SHAPE: EXIT_CODES.input,
  ERR_INPUT_DTYPE: EXIT_CODES.input,
  ERR_MODEL: EXIT_CODES.model,
  ERR_IMAGE_DECODE: EXIT_CODES.data,
  ERR_NO_DATA: EXIT_CODES.data,
  ERR_DEGENERATE_TENSOR: EXIT_CODES.data,
  ERR_BATCH_FACTORY: EXIT_CODES.data,
  ERR_IO: EXIT_CODES.input,
  ERR_ADDON_LOAD: EXIT_CODES.native,
  ERR_CUDA: EXIT_CODES.native,
  ERR_TENSORRT_UNAVAILABLE: EXIT_CODES.native,
  ERR_TENSORRT_BUILD: EXIT_CODES.native,
  ERR_ABORTED: EXIT_CODES.aborted,
  ERR_INTERNAL: EXIT_CODES.internal,
};

/** The exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  const code = errorCode(err);
  return (code && EXIT_CODE_OF[code]) ?? EXIT_CODES.internal;
}

/** Prints an error the way every command does: `trt-calibrator: <code>: <message>` on stderr. */
export function printError(err: unknown): void {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`trt-calibrator: ${code ? `${code}: ` : ''}${message}\n`);
  if (!code && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}

/**
 * Runs a command body in the CLI's voice (messages name flags, not API options), turning thrown errors into
 * printed messages and exit codes.
 */
export async function runCommand(body: () => Promise<number | void> | number | void): Promise<void> {
  try {
    const code = await withVoice('cli', body);
    process.exitCode = code ?? EXIT_CODES.ok;
  } catch (err) {
    const said = inCliVoice(err);
    printError(said);
    process.exitCode = exitCodeFor(said);
  }
}
