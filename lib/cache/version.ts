/**
 * TensorRT version numbers as they appear in calibration cache headers (`TRT-8601-…`, `TRT-100300-…`).
 *
 * TensorRT writes `NV_TENSORRT_VERSION` into the header. Up to TensorRT 9 that macro is
 * `MAJOR * 1000 + MINOR * 100 + PATCH` (8.6.1 → `8601`, 4 digits); from TensorRT 10 it is
 * `MAJOR * 10000 + MINOR * 100 + PATCH` (10.3.0 → `100300`, 6 digits). A 5-digit token fits neither (it would
 * be a major version below 10 in the new encoding, which TensorRT never wrote), so it is refused.
 */
import { invalidOption } from '../errors';

/** A TensorRT version as found in (or written to) a cache header. */
export interface TensorRTVersion {
  /** Major version, e.g. 8 or 10. */
  readonly major: number;
  /** Minor version, e.g. 6. */
  readonly minor: number;
  /** Patch version, e.g. 1. */
  readonly patch: number;
  /** The exact header token, e.g. `'8601'` or `'100300'` (kept so that formatting is byte-exact). */
  readonly raw: string;
}

/** Something that names a TensorRT version: `'8.6.1'`, `'10.3'` (patch 0), a header token or parts. */
export type TensorRTVersionLike =
  | string
  | {
      /** Major version, e.g. 10. */
      major: number;
      /** Minor version, e.g. 3. */
      minor: number;
      /** Patch version. Defaults to 0. */
      patch?: number;
    };

/**
 * Decodes a header token (`'8601'` → 8.6.1, `'100300'` → 10.3.0). Returns undefined for a token that is not a
 * TensorRT version (wrong digit count, leading zero, major out of range).
 */
export function decodeTensorRTVersion(token: string): TensorRTVersion | undefined {
  if (!/^[1-9][0-9]*$/.test(token)) return undefined;
  const n = Number(token);
  if (token.length === 4) {
    return { major: Math.floor(n / 1000), minor: Math.floor((n % 1000) / 100), patch: n % 100, raw: token };
  }
  if (token.length === 6) {
    return { major: Math.floor(n / 10000), minor: Math.floor((n % 10000) / 100), patch: n % 100, raw: token };
  }
  return undefined;
}

/**
 * Encodes a version as TensorRT's header token: `'8.6.1'` → `'8601'`, `'10.3.0'` → `'100300'`. Used by every
 * writer of cache headers. Throws ERR_INVALID_OPTION (RangeError) for a version that has no encoding (major 0,
 * minor > 9 before TensorRT 10, parts above 99).
 */
export function encodeTensorRTVersion(version: TensorRTVersionLike, option = 'tensorrt'): string {
  const v = parseTensorRTVersion(version, option);
  return v.raw;
}

/**
 * Parses `'8.6.1'`, `'10.3'` (patch 0), a header token (`'8601'`, `'100300'`) or `{ major, minor, patch }` into a
 * {@link TensorRTVersion} with its header token. Throws ERR_INVALID_OPTION naming `option` (defaults to
 * `'tensorrt'`) for anything else.
 */
export function parseTensorRTVersion(version: TensorRTVersionLike, option = 'tensorrt'): TensorRTVersion {
  const expected = 'a TensorRT version such as "8.6.1" or "10.3"';
  let major: number;
  let minor: number;
  let patch: number;
  if (typeof version === 'string') {
    const dotted = /^([0-9]{1,2})\.([0-9]{1,2})(?:\.([0-9]{1,2}))?$/.exec(version);
    if (dotted) {
      major = Number(dotted[1]);
      minor = Number(dotted[2]);
      patch = dotted[3] === undefined ? 0 : Number(dotted[3]);
    } else {
      const decoded = decodeTensorRTVersion(version);
      if (!decoded) throw invalidOption(option, expected, version, 'range');
      return decoded;
    }
  } else if (version !== null && typeof version === 'object' && !Array.isArray(version)) {
    major = version.major;
    minor = version.minor;
    patch = version.patch ?? 0;
    if (![major, minor, patch].every((x) => Number.isInteger(x)))
      throw invalidOption(option, expected, version, 'type');
  } else {
    throw invalidOption(option, expected, version, 'type');
  }
  const raw = headerToken(major, minor, patch);
  if (raw === undefined)
    throw invalidOption(
      option,
      `${expected} (major 1-99, minor and patch 0-99; minor 0-9 before 10)`,
      version,
      'range',
    );
  return { major, minor, patch, raw };
}

/** `'8.6.1'` for a version (the form used in JSON and messages). */
export function formatTensorRTVersion(version: { major: number; minor: number; patch: number }): string {
  return `${version.major}.${version.minor}.${version.patch}`;
}

function headerToken(major: number, minor: number, patch: number): string | undefined {
  if (patch < 0 || patch > 99 || minor < 0 || minor > 99) return undefined;
  if (major >= 1 && major <= 9) return minor <= 9 ? String(major * 1000 + minor * 100 + patch) : undefined;
  if (major >= 10 && major <= 99) return String(major * 10000 + minor * 100 + patch);
  return undefined;
}
