/**
 * Choosing between the builtin backend and TensorRT's own builder, and the error when TensorRT is asked for but
 * absent.
 */
import { TrtCalibratorError, invalidOption } from '../../errors';
import { tensorrtSupport } from './version';

/** The `backend` option: `'tensorrt'` (TensorRT's builder), `'builtin'` (ONNX Runtime, no GPU) or `'auto'`. */
export type BackendOption = 'auto' | 'builtin' | 'tensorrt';

/** A backend after `'auto'` has been resolved. */
export type Backend = 'builtin' | 'tensorrt';

/**
 * What the addon says about TensorRT (the `tensorrt` field of `capabilities()`): compiled in, with the version of
 * the library loaded now (and of the headers it was compiled against), or why not.
 */
export type TensorrtAvailability =
  | {
      /** TensorRT is compiled into the addon. */
      compiled: true;
      /**
       * MAJOR.MINOR.PATCH of the TensorRT library loaded at run time, e.g. "10.3.0": the version checked against
       * the supported 8.5–10.x.
       */
      version: string;
      /**
       * MAJOR.MINOR.PATCH of the TensorRT headers the addon was compiled against; may be left out (only `version` is
       * checked).
       */
      headersVersion?: string;
    }
  | {
      /** TensorRT is not compiled into the addon. */
      compiled: false;
      /**
       * The addon's explanation, e.g. "TensorRT headers (NvInferVersion.h) not found at build time; set
       * TENSORRT_ROOT and rebuild"; it becomes part of the ERR_TENSORRT_UNAVAILABLE message.
       */
      reason: string;
    };

const BACKENDS: readonly BackendOption[] = ['auto', 'builtin', 'tensorrt'];

/**
 * The ERR_TENSORRT_UNAVAILABLE error: why TensorRT is not usable and how to install it and rebuild the addon.
 * `reason` is the addon's own explanation (e.g. "TensorRT headers (NvInferVersion.h) not found at build time").
 */
export function tensorrtUnavailableError(reason: string, asked = "backend: 'tensorrt'"): TrtCalibratorError {
  return new TrtCalibratorError(
    'ERR_TENSORRT_UNAVAILABLE',
    `${asked} needs TensorRT, but this trt-calibrator addon has none: ${reason}.\n` +
      'To use it: install TensorRT 8.5–10.x with its ONNX parser and the CUDA toolkit, then build the addon from ' +
      'source (a prebuilt addon never includes TensorRT):\n' +
      '  - Debian/Ubuntu (NVIDIA CUDA repository): apt install libnvinfer-dev libnvonnxparsers-dev\n' +
      '  - Jetson: TensorRT comes with JetPack 5.1+ (/usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu; CUDA at\n' +
      '    /usr/local/cuda)\n' +
      '  - tar package: unpack it and set TENSORRT_ROOT=/path/to/TensorRT-10.x.y.z\n' +
      '  then: npm rebuild trt-calibrator --build-from-source   (TENSORRT_ROOT set for a tar install)\n' +
      "Or use backend: 'builtin' (no TensorRT, no GPU needed) and deploy its calibration cache.",
    { details: { reason } },
  );
}

/**
 * Resolves the `backend` option against what the addon was built with. `'auto'` (the default) picks
 * `'tensorrt'` when TensorRT 8.5–10.x is compiled in and `'builtin'` otherwise; an `engine` output needs
 * TensorRT, so with `engine` set `'auto'` means `'tensorrt'`. Throws ERR_INVALID_OPTION for a bad value, and
 * ERR_TENSORRT_UNAVAILABLE when TensorRT is needed but absent or of an unsupported version.
 */
export function resolveBackend(
  requested: unknown,
  tensorrt: TensorrtAvailability,
  options: { engine?: string } = {},
): Backend {
  const backend = requested === undefined ? 'auto' : requested;
  if (typeof backend !== 'string')
    throw invalidOption('backend', `one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}`, backend);
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    throw invalidOption('backend', `one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}`, backend, 'range');
  }
  const usable = tensorrt.compiled && tensorrtSupport(tensorrt.version).supported;
  const needsTensorrt = backend === 'tensorrt' || options.engine !== undefined;
  if (backend === 'builtin' && options.engine !== undefined) {
    throw invalidOption(
      'engine',
      "no engine with backend 'builtin' (only TensorRT builds engines; use backend 'tensorrt' or 'auto')",
      options.engine,
      'range',
    );
  }
  if (needsTensorrt && !usable) {
    const reason = tensorrt.compiled
      ? (tensorrtSupport(tensorrt.version) as { reason: string }).reason.replace(/\.$/, '')
      : tensorrt.reason;
    throw tensorrtUnavailableError(
      reason,
      options.engine !== undefined && backend !== 'tensorrt' ? 'an engine output (--engine)' : "backend: 'tensorrt'",
    );
  }
  if (backend === 'auto') return usable ? 'tensorrt' : 'builtin';
  return backend as Backend;
}
