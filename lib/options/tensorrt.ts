/** The TensorRT backend's build options (`tensorrtBuild` of calibrate(); `--fp16`, `--workspace`, … on the CLI). */
import { boolean, byteSize, integer, oneOf } from './spec';

/** ILogger::Severity by name; the array index is the native value. */
export const LOG_SEVERITIES = ['internal-error', 'error', 'warning', 'info', 'verbose'] as const;

/** A TensorRT log severity. */
export type LogSeverityName = (typeof LOG_SEVERITIES)[number];

/** How TensorRT's builder builds the INT8 engine (TensorRT backend, `engine` output). */
export const TENSORRT_BUILD_OPTIONS = {
  /** Also allow FP16 kernels (INT8 with FP16 rather than FP32 fallback). Defaults to false. */
  fp16: boolean({
    help: 'TensorRT engine: allow FP16 kernels as the fallback precision',
    default: false,
    cli: '--fp16',
  }),
  /** Limit of TensorRT's workspace memory pool, in bytes or as `'512MiB'`/`'2GiB'`. Defaults to TensorRT's own. */
  workspace: byteSize({
    help: 'TensorRT engine: workspace pool limit, bytes or e.g. 2GiB',
    defaultText: "TensorRT's own",
    cli: '--workspace <size>',
  }),
  /** Build for this DLA core (Jetson Xavier/Orin); undefined builds for the GPU. Defaults to undefined. */
  dlaCore: integer({
    help: 'TensorRT engine: build for this DLA core (Jetson)',
    min: 0,
    defaultText: 'the GPU',
    cli: '--dla-core <n>',
  }),
  /** With `dlaCore`, run layers the DLA cannot on the GPU (kGPU_FALLBACK). Defaults to true. */
  allowGpuFallback: boolean({
    help: 'TensorRT engine with --dla-core: layers the DLA cannot run go to the GPU',
    default: true,
    cli: '--no-gpu-fallback',
  }),
  /** Least severe TensorRT message forwarded to the log (`onLog`, result.log). Defaults to 'warning'. */
  verbosity: oneOf(LOG_SEVERITIES, {
    help: 'least severe TensorRT log message shown',
    default: 'warning',
    cli: '--trt-verbosity <level>',
  }),
} as const;
