/**
 * Whether a cache may be used: TensorRT refuses a table written by another calibrator algorithm ("Calibration
 * table does not match calibrator algorithm type"), and a cache from another major.minor belongs to a different
 * optimized graph (an 8.6 cache is rejected by 10.x and trtexec then hands out null bindings). Caches are
 * portable across GPUs with the same TensorRT major.minor, so the patch version is not compared.
 */
import { rejectUnknownOptions, invalidOption, TrtCalibratorError } from '../errors';
import { checkAlgorithm, type CacheAlgorithm, type CalibrationCache } from './format';
import { formatTensorRTVersion, parseTensorRTVersion, type TensorRTVersionLike } from './version';

/** Options of {@link checkCacheCompatibility}. */
export interface CacheCompatibilityOptions {
  /** The TensorRT that will read the cache: `'10.3'`, `'10.3.0'`, a header token or parts. Required. */
  tensorrt: TensorRTVersionLike;
  /** The calibrator algorithm that will read it. Defaults to not checking the algorithm. */
  algorithm?: CacheAlgorithm;
  /** Use the cache despite a mismatch: return warnings instead of throwing. Defaults to false. */
  force?: boolean;
}

/** Result of {@link checkCacheCompatibility}. */
export interface CacheCompatibility {
  /** True when version and algorithm match. */
  readonly compatible: boolean;
  /** One line per mismatch that `force` overrode; empty when compatible. */
  readonly warnings: readonly string[];
}

const KNOWN = ['tensorrt', 'algorithm', 'force'] as const;

/**
 * Checks that `cache` was written by the same TensorRT major.minor and (when given) the same algorithm. Throws
 * ERR_CACHE_VERSION or ERR_CACHE_ALGORITHM naming both sides (version first when both differ); with
 * `force: true` returns `{ compatible: false, warnings }` instead.
 */
export function checkCacheCompatibility(
  cache: CalibrationCache,
  options: CacheCompatibilityOptions,
): CacheCompatibility {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('checkCacheCompatibility', options, KNOWN);
  const want = parseTensorRTVersion(options.tensorrt, 'tensorrt');
  const algorithm = options.algorithm === undefined ? undefined : checkAlgorithm(options.algorithm);
  if (options.force !== undefined && typeof options.force !== 'boolean')
    throw invalidOption('force', 'a boolean', options.force);
  const problems = cacheProblems(cache, want, algorithm, 'recalibrate, or force to use it anyway');
  if (problems.length > 0 && !options.force) throw problems[0];
  return { compatible: problems.length === 0, warnings: problems.map((p) => `${p.code}: ${p.message} (forced)`) };
}

/**
 * What keeps TensorRT `want` (and, when given, calibrator `algorithm`) from using `cache`: ERR_CACHE_VERSION first,
 * then ERR_CACHE_ALGORITHM, each naming both sides and ending with `advice` (what the caller can do about it).
 * Not exported from the package: checkCacheCompatibility() is the public form.
 */
export function cacheProblems(
  cache: CalibrationCache,
  want: { major: number; minor: number },
  algorithm: CacheAlgorithm | undefined,
  advice: string,
): TrtCalibratorError[] {
  const have = cache.tensorrt;
  const problems: TrtCalibratorError[] = [];
  if (have.major !== want.major || have.minor !== want.minor) {
    problems.push(
      new TrtCalibratorError(
        'ERR_CACHE_VERSION',
        `Calibration cache was written by TensorRT ${formatTensorRTVersion(have)} (header TRT-${have.raw}) but TensorRT ${want.major}.${want.minor} will read it; ` +
          `caches are tied to TensorRT major.minor: ${advice}`,
        { details: { cacheVersion: formatTensorRTVersion(have), expectedVersion: `${want.major}.${want.minor}` } },
      ),
    );
  }
  if (algorithm !== undefined && cache.algorithm !== algorithm) {
    problems.push(
      new TrtCalibratorError(
        'ERR_CACHE_ALGORITHM',
        `Calibration cache was written by ${cache.algorithm} but the calibrator is ${algorithm}; TensorRT rejects it ` +
          `("Calibration table does not match calibrator algorithm type"): ${advice}`,
        { details: { cacheAlgorithm: cache.algorithm, expectedAlgorithm: algorithm } },
      ),
    );
  }
  return problems;
}
