/**
 * Which TensorRT versions the TensorRT backend accepts.
 *
 * The calibrator API exists from TensorRT 8.0 to 10.x; this project supports 8.5–10.x: 8.5 is JetPack 5.1's
 * TensorRT (Jetson Xavier and many Orin boards), and the adapter compiles clean against NVIDIA's public headers of
 * every release from 8.5 to 10.16 (README, "What is verified where"). The version checked is the TensorRT library
 * loaded at run time (capabilities().tensorrt.version), which is also the version TensorRT writes into its caches. TensorRT 11 removed IInt8Calibrator and implicit INT8 entirely, so
 * there the answer is a Q/DQ ONNX model (explicit quantization), not a calibrator. Versions are parsed and encoded
 * by the cache toolkit (lib/cache/version.ts), the one parser of TensorRT versions.
 */
import { formatTensorRTVersion, parseTensorRTVersion, type TensorRTVersionLike } from '../../cache/version';
import { TrtCalibratorError } from '../../errors';

/** Where the TensorRT backend stands for a TensorRT version: supported, or refused with the reason and what to do. */
export type TensorrtSupport =
  | {
      /** The TensorRT backend accepts this version (8.5 to 10.x). */
      supported: true;
    }
  | {
      /** The TensorRT backend refuses this version: TensorRT 11 or newer, or older than 8.5. */
      supported: false;
      /**
       * One or two sentences saying why and what to do instead (for TensorRT 11: export a Q/DQ ONNX model; else use
       * TensorRT 8.5–10.x); it goes into the message of the ERR_TENSORRT_UNAVAILABLE error that refuses the version.
       */
      reason: string;
    };

/**
 * Says whether the TensorRT backend (calibrator adapter + INT8 engine build) supports `version`. Throws
 * ERR_INVALID_OPTION (naming `option`) for something that is not a TensorRT version.
 */
export function tensorrtSupport(version: TensorRTVersionLike, option = 'tensorrt'): TensorrtSupport {
  const v = parseTensorRTVersion(version, option);
  const name = formatTensorRTVersion(v);
  if (v.major >= 11) {
    return {
      supported: false,
      reason:
        `TensorRT ${name} removed INT8 calibrators (IInt8Calibrator) and implicit quantization. Export a Q/DQ ONNX ` +
        'model (calibrate --qdq out.onnx) and let TensorRT build it with explicit quantization, or use TensorRT 8.5–10.x.',
    };
  }
  if (v.major < 8 || (v.major === 8 && v.minor < 5)) {
    return {
      supported: false,
      reason: `TensorRT ${name} is older than 8.5 (JetPack 5.1's), the oldest version the TensorRT backend supports.`,
    };
  }
  return { supported: true };
}

/** Throws ERR_TENSORRT_UNAVAILABLE with the reason when {@link tensorrtSupport} refuses `version`. */
export function assertTensorrtSupported(version: TensorRTVersionLike): void {
  const support = tensorrtSupport(version);
  if (!support.supported) {
    throw new TrtCalibratorError('ERR_TENSORRT_UNAVAILABLE', support.reason, { details: { tensorrtVersion: version } });
  }
}

/**
 * Says how the TensorRT library loaded at run time differs from the headers the addon was compiled against, or
 * returns undefined when they are the same major.minor. Another major is refused by the engine build (another ABI);
 * another minor builds, but TensorRT then writes and reads caches for the library's version.
 */
export function libraryHeadersMismatch(library: string, headers: string | undefined): string | undefined {
  if (headers === undefined || headers === '' || library === '') return undefined;
  const lib = parseTensorRTVersion(library, 'library');
  const hdr = parseTensorRTVersion(headers, 'headers');
  if (lib.major === hdr.major && lib.minor === hdr.minor) return undefined;
  return lib.major !== hdr.major
    ? `the loaded TensorRT library is ${formatTensorRTVersion(lib)} but the addon was compiled against TensorRT ` +
        `${formatTensorRTVersion(hdr)} headers: engine builds are refused (another major version); rebuild the addon ` +
        'against the installed TensorRT (npm rebuild trt-calibrator --build-from-source)'
    : `the loaded TensorRT library is ${formatTensorRTVersion(lib)} but the addon was compiled against TensorRT ` +
        `${formatTensorRTVersion(hdr)} headers: caches and engines are TensorRT ${formatTensorRTVersion(lib)}'s ` +
        '(rebuild the addon to match)';
}
