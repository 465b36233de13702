/**
 * Which TensorRT versions the TensorRT backend accepts, and the version token it writes into cache headers.
 *
 * The calibrator API exists from TensorRT 8.0 to 10.x; this project supports 8.6–10.x (NvInferVersion.h of the
 * headers the addon was compiled against). TensorRT 11 removed IInt8Calibrator and implicit INT8 entirely, so
 * there the answer is a Q/DQ ONNX model (explicit quantization), not a calibrator.
 */
import { encodeTensorRTVersion, parseTensorRTVersion } from '../cache/version';
import { TrtCalibratorError, invalidOption } from '../errors';

/** A parsed `MAJOR.MINOR.PATCH` TensorRT version. */
export interface TensorrtVersion {
  /** Major version, e.g. 10. */
  readonly major: number;
  /** Minor version, e.g. 7. */
  readonly minor: number;
  /** Patch version, e.g. 0. */
  readonly patch: number;
}

/** Parses `"10.7.0"` or `"8.6"` (patch 0). Throws ERR_INVALID_OPTION for anything else. */
export function parseTensorrtVersion(version: unknown, option = 'tensorrtVersion'): TensorrtVersion {
  if (typeof version !== 'string') throw invalidOption(option, 'a TensorRT version string such as "10.7.0"', version);
  if (!/^\s*\d{1,3}\.\d{1,3}(?:\.\d{1,3})?\s*$/.test(version))
    throw invalidOption(option, 'a TensorRT version string such as "10.7.0"', version, 'range');
  const { major, minor, patch } = parseTensorRTVersion(version.trim(), option);
  return { major, minor, patch };
}

/**
 * The number TensorRT puts in a calibration cache header (`TRT-<n>-EntropyCalibration2`): its NV_TENSORRT_VERSION
 * macro, `MAJOR*1000 + MINOR*100 + PATCH` up to TensorRT 9 (8.6.1 → 8601) and `MAJOR*10000 + MINOR*100 + PATCH`
 * from TensorRT 10 (10.3.0 → 100300). The cache toolkit's encoder (lib/cache/version.ts) does the encoding.
 */
export function cacheHeaderVersion(version: TensorrtVersion | string): number {
  return Number(encodeTensorRTVersion(typeof version === 'string' ? parseTensorrtVersion(version) : version));
}

/** The cache header line TensorRT writes for this version and algorithm, e.g. `TRT-8601-EntropyCalibration2`. */
export function cacheHeader(
  version: TensorrtVersion | string,
  algorithm: 'EntropyCalibration2' | 'MinMaxCalibration',
): string {
  return `TRT-${cacheHeaderVersion(version)}-${algorithm}`;
}

/** Where the TensorRT backend stands for a TensorRT version: supported, or refused with the reason and what to do. */
export type TensorrtSupport = { supported: true } | { supported: false; reason: string };

/** Says whether the TensorRT backend (calibrator adapter + INT8 engine build) supports `version`. */
export function tensorrtSupport(version: TensorrtVersion | string): TensorrtSupport {
  const v = typeof version === 'string' ? parseTensorrtVersion(version) : version;
  const name = `${v.major}.${v.minor}.${v.patch}`;
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
export function assertTensorrtSupported(version: TensorrtVersion | string): void {
  const support = tensorrtSupport(version);
  if (!support.supported) {
    throw new TrtCalibratorError('ERR_TENSORRT_UNAVAILABLE', support.reason, { details: { tensorrtVersion: version } });
  }
}
