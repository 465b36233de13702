/**
 * Which TensorRT versions the TensorRT backend accepts.
 *
 * The calibrator API exists from TensorRT 8.0 to 10.x; this project supports 8.6–10.x (NvInferVersion.h of the
 * headers the addon was compiled against). TensorRT 11 removed IInt8Calibrator and implicit INT8 entirely, so
 * there the answer is a Q/DQ ONNX model (explicit quantization), not a calibrator. Versions are parsed and encoded
 * by the cache toolkit (lib/cache/version.ts), the one parser of TensorRT versions.
 */
import { formatTensorRTVersion, parseTensorRTVersion, type TensorRTVersionLike } from '../../cache/version';
import { TrtCalibratorError } from '../../errors';

/** Where the TensorRT backend stands for a TensorRT version: supported, or refused with the reason and what to do. */
export type TensorrtSupport = { supported: true } | { supported: false; reason: string };

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
        'model (calibrate --qdq out.onnx) and let TensorRT build it with explicit quantization, or use TensorRT 8.6–10.x.',
    };
  }
  if (v.major < 8 || (v.major === 8 && v.minor < 6)) {
    return {
      supported: false,
      reason: `TensorRT ${name} is older than 8.6, the oldest version the TensorRT backend supports.`,
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
