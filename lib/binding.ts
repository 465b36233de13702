// onnx-proto's declarations (reached from here through DerivedTensor) write 64-bit fields as `number | Long`,
// the global that @types/long declares; loaded here so that a consumer compiling against our .d.ts with
// `types: [...]` or `skipLibCheck: false` finds it (test/e2e/packaging.test.ts).
/// <reference types="long" preserve="true" />
/**
 * The typed view of the native addon: `NativeAddon` is the ONE interface that describes everything the addon
 * exports. The addon is loaded lazily, on first use, so that commands that need no native code (cache decode,
 * diff) work even where the addon failed to build, and so that a failed load becomes an ERR_ADDON_LOAD error
 * with instructions instead of a crash at import time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrtCalibratorError } from './errors';
import type { DerivedTensor } from './backends/builtin/derived';

/**
 * One CUDA device as the runtime reports it.
 * @inline
 */
export interface NativeCudaDevice {
  /** The CUDA device ordinal (0, 1, …) among the devices this process sees (CUDA_VISIBLE_DEVICES applies). */
  index: number;
  /** The device's name as the CUDA runtime reports it, e.g. "NVIDIA H100 80GB HBM3", "Tesla T4", "Orin". */
  name: string;
  /** "major.minor", e.g. "9.0" for an H100, "7.5" for a T4, "8.7" for Jetson Orin. */
  computeCapability: string;
  /** Bytes of device memory. */
  totalMemory: number;
  /** Streaming multiprocessors (SMs) on the device, e.g. 132 for an H100 SXM, 40 for a T4. */
  multiProcessors: number;
}

/** What `capabilities()` returns from C++. */
export interface NativeCapabilities {
  addonVersion: string;
  napiVersion: number;
  /** "cmake-js" or "node-gyp". */
  buildSystem: string;
  /** The test build of the addon (TRTC_TEST_HOOKS): test builders, test-hook options, benchBareUpload. */
  testHooks: boolean;
  cuda: {
    /**
     * True when the addon was built with the CUDA toolkit (a source build that found it). False for the prebuilt
     * addons, for builds without the toolkit, and when the addon is not loaded; `error` then says why.
     */
    compiled: boolean;
    /** e.g. 13000 for CUDA 13.0; 0 when not compiled in. */
    runtimeVersion: number;
    /** 0 when no driver is loaded. */
    driverVersion: number;
    /**
     * The CUDA devices this process sees, queried afresh on each call; empty when CUDA is not compiled in, when
     * there is no driver or device, or when the addon is not loaded (`error` says which).
     */
    devices: NativeCudaDevice[];
    /** Why `devices` is empty, when it is. */
    error?: string;
  };
  /**
   * TensorRT compiled in: `version` is the library loaded now (getInferLibVersion(): what TensorRT writes into
   * caches and reads caches for), `headersVersion` the headers the addon was compiled against.
   */
  tensorrt: { compiled: true; version: string; headersVersion: string } | { compiled: false; reason: string };
}

/** Threshold algorithms of native/builtin/thresholds.h. */
export type NativeAmaxAlgorithm = 'entropy' | 'minmax' | 'percentile' | 'mse';
/**
 * `ok`, or why no threshold could be derived (`constant` still has a usable amax = |c|).
 * @inline
 */
export type NativeAmaxStatus = 'ok' | 'constant' | 'empty' | 'not-finite' | 'all-zero';

/**
 * One threshold from native/builtin/thresholds.cc. `amax` is 0 unless status is `ok` or `constant`.
 * @inline
 */
export interface NativeAmaxResult {
  /**
   * `ok` when the algorithm found a threshold in the data; otherwise why there is none: `empty` (no values),
   * `not-finite` (only NaN/±Inf), `all-zero` (every finite value is 0), or `constant` (every finite value is the
   * same nonzero c: amax = |c|, still usable).
   */
  status: NativeAmaxStatus;
  /**
   * The threshold: the largest |x| INT8 represents for this tensor (its scale is amax / 127), in the tensor's own
   * units. 0 unless `status` is `ok` or `constant`.
   */
  amax: number;
  /** Histogram edge index chosen (amax = bin * binWidth); -1 for minmax and degenerate results. */
  bin: number;
}

/**
 * Counters of one tensor's histogram (native/builtin/histogram.h).
 * @inline
 */
export interface NativeHistogramStats {
  /** Every value seen, NaN/Inf included. */
  count: number;
  /** Values that are neither NaN nor ±Inf (count minus the three counts below): only these are binned. */
  finiteCount: number;
  /** NaN values seen (counted, never binned). */
  nanCount: number;
  /** +Infinity values seen (counted, never binned). */
  posInfCount: number;
  /** -Infinity values seen (counted, never binned). */
  negInfCount: number;
  /** Smallest finite value seen (signed, not |x|); Infinity when there is none. */
  min: number;
  /** Largest finite value seen (signed); -Infinity when there is none. */
  max: number;
  /** max(|min|, |max|): the largest finite |x| seen, which `minmax` takes as amax; 0 when there is none. */
  absMax: number;
  /**
   * Bins now, each `binWidth` wide, covering [0, nbins × binWidth): 2048 once the width is defined (or the count
   * given to setBinWidth), more after a batch whose max |x| lies past the last bin (at most 65536: beyond that the
   * width doubles and neighbouring bins are summed). 0 while `binWidth` is 0.
   */
  nbins: number;
  /** 0 while undefined (only zeros seen so far). */
  binWidth: number;
  /** Zeros waiting for a bin width (only while binWidth is 0). */
  pendingZeros: number;
}

/** native HistogramSet: per-tensor histograms of |x| (native/bridge/histogram_binding.cc). */
export interface NativeHistogramSet {
  add(name: string, data: Float32Array): void;
  /** Adds arrays[i] to names[i], tensors in parallel; blocks the calling thread (use from a worker). */
  addAll(names: string[], arrays: Float32Array[], plan?: ReadonlyArray<string | DerivedTensor>): void;
  setBinWidth(name: string, width: number, bins?: number): void;
  /** Opens one batch given in parts for `names`; true when one of them has no bin width yet. */
  beginBatch(names: string[]): boolean;
  /** Ends a pass over the open batch's parts; true: give the same parts again. */
  endPass(): boolean;
  /** Closes an open batch whose parts stop coming. */
  abandonBatch(): void;
  names(): string[];
  has(name: string): boolean;
  stats(name: string): NativeHistogramStats;
  counts(name: string): Float64Array;
  computeAmax(name: string, algorithm: NativeAmaxAlgorithm, options?: { percentile?: number }): NativeAmaxResult;
  computeAll(
    algorithm: NativeAmaxAlgorithm,
    options?: { percentile?: number },
  ): Promise<Array<NativeAmaxResult & { name: string }>>;
  serialize(): Uint8Array;
  merge(other: NativeHistogramSet): void;
}

/** One input slot of a native run (native/bridge/run_options.cc parses it into an InputDesc). */
export interface NativeRunInput {
  name: string;
  shape: readonly number[];
  dtype: string;
}

/**
 * What plays TensorRT's role in a run (native/core/run_options.h BuilderKind). 'test' (TensorRT's call order
 * and nothing else) and 'sum' (the same plus a `process` call per batch) exist only in the test build of the
 * addon; the release addon refuses them with ERR_INVALID_OPTION.
 */
export type NativeBuilderKind = 'builtin' | 'tensorrt' | 'test' | 'sum';

/** The builtin builder's options (native/builtin/builtin_builder.h BuiltinOptions). */
export interface NativeBuiltinOptions {
  /** Threshold algorithm of every tensor. */
  algorithm: NativeAmaxAlgorithm;
  /** The percentile of 'percentile', in (0, 100]. */
  percentile: number;
  /** Cache header version, e.g. "100300" (TRT-100300-…). */
  tensorrtVersion: string;
  /** Cache header algorithm, e.g. "EntropyCalibration2". */
  cacheAlgorithm: string;
  /** Bytes of activations per ONNX Runtime run when the batch may be split; 0: whole batches. */
  maxActivationBytes: number;
  /** The model's batch dimension is open, so a batch may run as sub-batches. */
  splittable: boolean;
  /** Threads adding a run's activations to the histograms; 0: one per core, at most 8. */
  histogramThreads: number;
}

/** EngineBuildOptions of native/tensorrt/engine_builder.h, for the "tensorrt" builder. */
export interface NativeEngineOptions {
  onnxPath: string;
  /** `values`: MIN/OPT/MAX values of a shape-tensor input (IOptimizationProfile::setShapeValues), int32. */
  inputShapes: ReadonlyArray<{
    name: string;
    min: readonly number[];
    opt: readonly number[];
    max: readonly number[];
    values?: { min: readonly number[]; opt: readonly number[]; max: readonly number[] };
  }>;
  fp16: boolean;
  /** 0 keeps TensorRT's default. */
  workspaceBytes: number;
  /** -1: GPU only. */
  dlaCore: number;
  allowGpuFallback: boolean;
  /** LogSeverity 0 (internal error) .. 4 (verbose): messages at this severity or worse reach result.log. */
  verbosity: number;
  /** A Q/DQ model: no calibrator is attached (the factory is never asked). Defaults to false. */
  explicitQuantization?: boolean;
  /** Return the engine's layer information (IEngineInspector JSON) as result.bytes.layers. Defaults to false. */
  inspectLayers?: boolean;
}

/** Options that exist only in the test build of the addon (native/core/run_options.h TestHookOptions). */
export interface NativeTestHooks {
  /** V8-owned ArrayBuffers copied into the slots: forces the fallback used where external buffers are refused. */
  copyBuffers: boolean;
  /** The 'test' builder copies every binding (device -> host) into result.captures. */
  capture: boolean;
  /** Fail the first upload with this CUDA error name. */
  injectCudaError?: string;
}

/**
 * Options of `startCalibration`: native/core/run_options.h RunOptions, field for field, parsed once into it
 * (native/bridge/run_options.cc) before the builder thread starts. Every field is required unless marked
 * optional; a missing or mistyped field is a TypeError, a value out of range a RangeError, an unknown field a
 * TypeError, all with code ERR_INVALID_OPTION naming the field (`options.builtin.percentile`).
 */
export interface NativeRunOptions {
  inputs: readonly NativeRunInput[];
  batchSize: number;
  /** trtc::CalibrationAlgo, what getAlgorithm() returns (0 legacy, 1 entropy, 2 entropy2, 3 minmax). */
  algorithm: number;
  /** 'auto': pinned slots + device buffers where a CUDA device exists; 'host': host memory only. */
  memory: 'auto' | 'host';
  deviceIndex: number;
  /** Fill batch k+1 while batch k is uploaded and consumed. */
  prefetch: boolean;
  builder: NativeBuilderKind;
  /** Names in the order the builder passes them to getBatch. */
  bindingNames: readonly string[];
  /** Builder 'builtin' only, and required there: the histograms it fills, shared with JS. */
  histograms?: NativeHistogramSet;
  /** Builder 'builtin' only: it runs every batch through this ONNX Runtime session itself (native/builtin/ort_session.h). */
  inference?: NativeOrtSession;
  /** Builder 'builtin' only, and required there. */
  builtin?: NativeBuiltinOptions;
  /** Builder 'tensorrt' only, and required there. */
  engine?: NativeEngineOptions;
  /** Test build only: the release addon refuses this field. */
  testHooks?: NativeTestHooks;
}

/** JS callbacks a native run calls through its thread-safe bridge. */
export interface NativeRunCallbacks {
  fill(buffers: Record<string, ArrayBufferView>, batchIndex: number): boolean | Promise<boolean>;
  readCache(): Uint8Array | null | Promise<Uint8Array | null>;
  writeCache(bytes: Uint8Array): void | Promise<void>;
  progress?(batchesDone: number): void;
  process?(
    buffers: Record<string, ArrayBufferView>,
    batchIndex: number,
  ): Record<string, Float32Array> | Promise<Record<string, Float32Array>>;
}

/** What a native run resolves with. */
export interface NativeRunResult {
  batches: number;
  /** A cache was read and the builder calibrated nothing. */
  cacheHit: boolean;
  /** A cache was read but the builder calibrated anyway (TensorRT rejects a cache of another version/algorithm). */
  cacheRejected: boolean;
  cacheWritten: boolean;
  onDevice: boolean;
  pinned: boolean;
  externalBuffers: boolean;
  /** Test build, builders 'test' and 'sum': the contract calls in order ("readCalibrationCache", "getBatch", …). */
  trace?: string[];
  /** Test build, builder 'test' with testHooks.capture: what each binding held, per batch and name. */
  captures?: Array<{ batch: number; name: string; bytes: Uint8Array; device: boolean }>;
  /** Builders that compute thresholds ('builtin'): every tensor whose threshold status is not 'ok'. */
  tensorStatuses?: Array<{ name: string; status: Exclude<NativeAmaxStatus, 'ok'> }>;
  /** Seconds: inside getBatch, uploading, waiting for fills, whole run. */
  timings: { getBatch: number; upload: number; waitFill: number; total: number };
  numbers: Record<string, number>;
  /** Bytes a builder produced, e.g. `plan` (the serialized engine) from the "tensorrt" builder. */
  bytes: Record<string, Uint8Array>;
  /** Builder log lines ("warning: …"), e.g. TensorRT's logger. */
  log: string[];
}

/** A started native run. */
export interface NativeRunHandle {
  promise: Promise<NativeRunResult>;
  abort(): void;
  /** Test build only: a bridge call made on the JS thread; returns 'wrong-thread'. */
  callOnJsThread?(): string;
}

/** Live native allocations of all runs in the process. */
export interface NativeLiveAllocations {
  hostBuffers: number;
  pinnedBuffers: number;
  deviceBuffers: number;
  streams: number;
  bytes: number;
  runs: number;
}

/** Everything the addon exports. Keep in step with native/bridge/addon.cc. */
export interface NativeAddon {
  addonVersion: string;
  capabilities(): NativeCapabilities;
  /**
   * The `tensorrt` part of {@link NativeAddon.capabilities} alone: no CUDA device query (which initialises the
   * driver, about 0.2 s on the JS thread).
   */
  tensorrtCapabilities(): NativeCapabilities['tensorrt'];
  /** Starts a calibration run on its own builder thread (native/bridge/run.cc). */
  startCalibration(options: NativeRunOptions, callbacks: NativeRunCallbacks): NativeRunHandle;
  /** Live batch memory and runs (for leak tests). */
  liveAllocations(): NativeLiveAllocations;
  /**
   * Test build only: seconds per bare pinned->device cudaMemcpyAsync of `bytes` (bench/bridge); -1 without a
   * device. Blocks the caller.
   */
  benchBareUpload?(bytes: number, iterations: number): number;
  /** `new HistogramSet()` or `new HistogramSet(serializedBytes)`. */
  HistogramSet: new (bytes?: Uint8Array) => NativeHistogramSet;
  /** TensorRT cache text, byte-exact (native/core/cache_text.h). */
  formatCacheText(version: string, algorithm: string, entries: ReadonlyArray<{ name: string; amax: number }>): string;
  /**
   * Loads ONNX Runtime's shared library for the C++ sessions and creates its environment on a libuv pool thread
   * (once per process; the first success wins). Resolves with the outcome, never rejects.
   */
  loadOnnxRuntime(libraryPath: string): Promise<NativeOnnxRuntimeLoad>;
  /** {@link NativeAddon.loadOnnxRuntime} on the calling thread (20-30 ms): for the synchronous capabilities(). */
  loadOnnxRuntimeSync(libraryPath: string): NativeOnnxRuntimeLoad;
  /**
   * Creates a CPU session on a libuv pool thread (`fetch` empty: every float32 output); rejects with ONNX Runtime's
   * message. `modelBytes` may come in pieces whose concatenation is the model; they are copied before it returns.
   */
  createOrtSession(
    modelBytes: Uint8Array | readonly Uint8Array[],
    options: { threads?: number; fetch?: readonly string[] },
  ): Promise<NativeOrtSession>;
  /**
   * Test build only: C++ ONNX Runtime sessions not yet destroyed, and sessions destroyed on threads of their own
   * (as every session should be), in the whole process.
   */
  ortSessionCounts?(): { live: number; destroyedOnOwnThread: number };
}

/** What loading ONNX Runtime's library for the C++ sessions gave. */
export type NativeOnnxRuntimeLoad = { ok: true; version: string } | { ok: false; error: string };

/** A C++ ONNX Runtime session (native/bridge/ort_binding.cc). */
export interface NativeOrtSession {
  readonly inputs: readonly string[];
  /** Every output of the session with its element type ("float32", "int64", "non-tensor"…). */
  readonly outputs: ReadonlyArray<{ name: string; type: string }>;
  /** The float32 outputs each run fetches, in order. */
  readonly fetched: readonly string[];
  /**
   * Fetches exactly these outputs from now on (names only: the float32 ones among them; throws for an unknown
   * name). With derived tensors among them (CalibrationModel.fetchPlan), every name must be a float32 output
   * and the runs' histograms include the derived tensors.
   */
  setFetch(names: ReadonlyArray<string | DerivedTensor>): string[];
  /**
   * Drops this handle's reference at once (a run using the session keeps it until it ends); the last reference
   * destroys the session on a thread of its own, not the caller's.
   */
  close(): void;
}

let cached: NativeAddon | undefined;
let loadError: TrtCalibratorError | undefined;
let origin: AddonOrigin | undefined;

/** Root of the installed package (holds package.json, build/, prebuilds/). */
export const packageRoot = path.resolve(__dirname, '..');

/** Which addon file was loaded and why that one (`trt-calibrator doctor` prints it). */
export interface AddonOrigin {
  /**
   * `env`: the file TRT_CALIBRATOR_ADDON names; `source`: compiled on this machine (build/Release, build/Debug);
   * `prebuilt`: shipped in the package (prebuilds/<platform>-<arch>: the builtin backend, no CUDA, no TensorRT).
   */
  kind: 'env' | 'source' | 'prebuilt';
  /** Absolute path of the loaded file. */
  file: string;
  /** Why this file, in one sentence. */
  why: string;
  /** Candidates tried before it, each with why it was not used. */
  skipped: string[];
}

/** The install script's decision (scripts/install.js writes addon-install.json at the package root). */
interface InstallRecord {
  addon: 'prebuilt' | 'source';
  reason: string;
}

function installRecord(): InstallRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(packageRoot, 'addon-install.json'), 'utf8')) as InstallRecord;
    return typeof record.reason === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The loaded addon's origin; undefined until {@link loadAddon} succeeded. */
export function addonOrigin(): AddonOrigin | undefined {
  return origin;
}

/** The prebuilt addon for this platform and architecture, whether or not it exists. */
export function prebuiltAddonPath(): string {
  return path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'trt_calibrator.node');
}

/**
 * Loads the addon once, from the first of these that loads:
 *   1. the file `TRT_CALIBRATOR_ADDON` names, and nothing else when it is set (the test suite uses it for the
 *      test, node-gyp and AddressSanitizer builds);
 *   2. a source build: build/Release, then build/Debug (made at install when TensorRT was found or a source
 *      build was asked for, or by `npm ci` in the repository);
 *   3. the prebuilt addon in the package, prebuilds/<platform>-<arch> -- not in a checkout of the repository
 *      (lib/ holds the TypeScript sources there), where the tests must run the addon built from the current
 *      sources.
 * {@link addonOrigin} then says which one and why. Throws ERR_ADDON_LOAD with what to do when none loads.
 */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  const override = process.env.TRT_CALIBRATOR_ADDON;
  const install = installRecord();
  const checkout = fs.existsSync(path.join(packageRoot, 'lib', 'binding.ts'));
  const rel = (file: string) => {
    const r = path.relative(packageRoot, file);
    return r.startsWith('..') || path.isAbsolute(r) ? file : r;
  };
  const sourceWhy =
    install?.addon === 'source'
      ? `built from source at install: ${install.reason}`
      : 'built from source on this machine (`npm ci` in the repository, `npm rebuild`, or cmake-js/node-gyp by hand)';
  const candidates: Array<Omit<AddonOrigin, 'skipped'>> = override
    ? [{ kind: 'env', file: path.resolve(override), why: 'TRT_CALIBRATOR_ADDON names it' }]
    : [
        { kind: 'source', file: path.join(packageRoot, 'build', 'Release', 'trt_calibrator.node'), why: sourceWhy },
        { kind: 'source', file: path.join(packageRoot, 'build', 'Debug', 'trt_calibrator.node'), why: sourceWhy },
      ];
  const failures: string[] = [];
  let sourceFailed = false;
  if (!override && checkout)
    failures.push(
      `${rel(prebuiltAddonPath())}: not used in a checkout of the repository, whose tests must run the current ` +
        'sources (TRT_CALIBRATOR_ADDON may name it)',
    );
  else if (!override) {
    const prebuiltWhy =
      install?.addon === 'prebuilt'
        ? `the install script chose it: ${install.reason}`
        : 'no source build in build/ (the prebuilt addon needs no compiler)';
    candidates.push({ kind: 'prebuilt', file: prebuiltAddonPath(), why: prebuiltWhy });
  }
  for (const candidate of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node file loads only through require
      cached = require(candidate.file) as NativeAddon;
      const why =
        candidate.kind === 'prebuilt' && sourceFailed
          ? `the source build did not load, so the prebuilt addon (${candidate.why})`
          : candidate.why;
      origin = { ...candidate, why, skipped: failures };
      return cached;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const missing = e.code === 'MODULE_NOT_FOUND' && !fs.existsSync(candidate.file);
      if (candidate.kind === 'source' && !missing) sourceFailed = true;
      failures.push(`${rel(candidate.file)}: ${missing ? 'not present' : e.message.split('\n')[0]}`);
    }
  }
  loadError = new TrtCalibratorError(
    'ERR_ADDON_LOAD',
    `The trt-calibrator native addon could not be loaded.\n  ${failures.join('\n  ')}\n` +
      'The package ships prebuilt addons for linux-x64 and linux-arm64 (glibc >= 2.29). Elsewhere, or to include ' +
      'TensorRT, build it: `npm rebuild trt-calibrator --build-from-source` (needs CMake >= 3.18 and a C++17 ' +
      'compiler, or python3, make and g++ for the node-gyp fallback). The CUDA toolkit and TensorRT are optional ' +
      'at build time; set TENSORRT_ROOT before rebuilding to include TensorRT.',
    { details: { candidates: candidates.map((c) => c.file) } },
  );
  throw loadError;
}

/** Like {@link loadAddon} but returns the error instead of throwing. */
export function tryLoadAddon(): { addon: NativeAddon } | { error: TrtCalibratorError } {
  try {
    return { addon: loadAddon() };
  } catch (err) {
    return { error: err as TrtCalibratorError };
  }
}
