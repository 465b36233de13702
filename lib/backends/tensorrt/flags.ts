/**
 * Builder settings of the TensorRT backend from user options: the plain values the native builder copies into
 * native/tensorrt/engine_builder.h EngineBuildOptions (INT8 always; FP16, workspace, DLA, verbosity optional).
 */
import { invalidOption, rejectUnknownOptions } from '../../errors';
import { type LogSeverityName, severityToNative } from './errors';

/** User-facing TensorRT build options. */
export interface TensorrtBuildOptions {
  /** Also allow FP16 kernels (INT8 with FP16 rather than FP32 fallback). Defaults to false. */
  fp16?: boolean;
  /** Limit of TensorRT's workspace memory pool, in bytes or as `'512MiB'`/`'2GiB'`. Defaults to TensorRT's own. */
  workspace?: number | string;
  /** Build for this DLA core (Jetson Xavier/Orin); undefined builds for the GPU. Defaults to undefined. */
  dlaCore?: number;
  /** With `dlaCore`, run layers the DLA cannot on the GPU (kGPU_FALLBACK). Defaults to true. */
  allowGpuFallback?: boolean;
  /** Least severe TensorRT message forwarded to the log/progress events. Defaults to 'warning'. */
  verbosity?: LogSeverityName;
}

/** The resolved settings, in native/tensorrt/engine_builder.h terms. */
export interface BuilderSettings {
  /** BuilderFlag::kINT8: always set (this backend exists to build INT8 engines). */
  readonly int8: true;
  /** BuilderFlag::kFP16. */
  readonly fp16: boolean;
  /** MemoryPoolType::kWORKSPACE limit in bytes; 0 keeps TensorRT's default. */
  readonly workspaceBytes: number;
  /** DLA core, or -1 for the GPU. */
  readonly dlaCore: number;
  /** BuilderFlag::kGPU_FALLBACK (meaningful only with a DLA core). */
  readonly gpuFallback: boolean;
  /** ILogger::Severity value (0 internal error … 4 verbose). */
  readonly verbosity: number;
}

const KNOWN = ['fp16', 'workspace', 'dlaCore', 'allowGpuFallback', 'verbosity'] as const;
const UNITS: Readonly<Record<string, number>> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };

/** Parses a byte size: a non-negative integer, or `'<n>B|KiB|MiB|GiB'` (`'1.5GiB'` allowed). */
export function parseByteSize(value: unknown, option = 'workspace'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0)
      throw invalidOption(option, 'a non-negative integer number of bytes', value, 'range');
    return value;
  }
  if (typeof value !== 'string') throw invalidOption(option, "a number of bytes or a size such as '1GiB'", value);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)\s*$/.exec(value);
  if (!m) throw invalidOption(option, "a size such as '512MiB' or '2GiB'", value, 'range');
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

/** Validates {@link TensorrtBuildOptions} and resolves the builder settings. Throws ERR_INVALID_OPTION. */
export function builderSettings(options: TensorrtBuildOptions = {}): BuilderSettings {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  rejectUnknownOptions('TensorRT build options', options, KNOWN);
  const { fp16 = false, workspace, dlaCore, allowGpuFallback = true, verbosity = 'warning' } = options;
  if (typeof fp16 !== 'boolean') throw invalidOption('fp16', 'a boolean', fp16);
  if (typeof allowGpuFallback !== 'boolean') throw invalidOption('allowGpuFallback', 'a boolean', allowGpuFallback);
  if (dlaCore !== undefined) {
    if (typeof dlaCore !== 'number') throw invalidOption('dlaCore', 'a DLA core index (0 or 1 on Jetson)', dlaCore);
    if (!Number.isInteger(dlaCore) || dlaCore < 0)
      throw invalidOption('dlaCore', 'a DLA core index (0 or 1 on Jetson)', dlaCore, 'range');
  }
  return {
    int8: true,
    fp16,
    workspaceBytes: workspace === undefined ? 0 : parseByteSize(workspace),
    dlaCore: dlaCore ?? -1,
    gpuFallback: dlaCore !== undefined && allowGpuFallback,
    verbosity: severityToNative(verbosity, 'verbosity'),
  };
}

/** The TensorRT calibrator class (and cache header algorithm) for a calibration algorithm of this package. */
export function tensorrtCalibrator(algorithm: unknown): {
  /**
   * TensorRT's calibrator class: IInt8EntropyCalibrator2 for 'entropy' (also when `algorithm` is undefined),
   * IInt8MinMaxCalibrator for 'minmax'.
   */
  calibrator: 'IInt8EntropyCalibrator2' | 'IInt8MinMaxCalibrator';
  /** The algorithm name TensorRT writes into the cache header (`TRT-<version>-<algorithm>`) for that calibrator. */
  cacheAlgorithm: 'EntropyCalibration2' | 'MinMaxCalibration';
} {
  if (algorithm === undefined || algorithm === 'entropy')
    return { calibrator: 'IInt8EntropyCalibrator2', cacheAlgorithm: 'EntropyCalibration2' };
  if (algorithm === 'minmax') return { calibrator: 'IInt8MinMaxCalibrator', cacheAlgorithm: 'MinMaxCalibration' };
  if (typeof algorithm !== 'string')
    throw invalidOption('algorithm', "'entropy' or 'minmax' with backend 'tensorrt'", algorithm);
  throw invalidOption(
    'algorithm',
    "'entropy' or 'minmax' with backend 'tensorrt' (use backend 'builtin' for the others)",
    algorithm,
    'range',
  );
}
