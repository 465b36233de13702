import * as path from 'node:path';
import { addonOrigin, packageRoot, tryLoadAddon, type AddonOrigin, type NativeCapabilities } from './binding';
import { libraryHeadersMismatch } from './backends/tensorrt/version';

/** What this installation of trt-calibrator can do on this machine. */
export interface Capabilities {
  /** Version of the trt-calibrator package. */
  version: string;
  /**
   * The native addon: loaded or not, and what it was built with. `testHooks` is true for the test build of the
   * addon (TRTC_TEST_HOOKS: test builders and hooks the package's own tests use), false for the addon users get.
   * `origin` says which file was loaded and why: TRT_CALIBRATOR_ADDON, a source build, or the prebuilt addon
   * (`file` relative to the package when inside it).
   */
  addon:
    | {
        /** The addon loaded: the fields below describe it. */
        loaded: true;
        /**
         * The version the addon was built as, e.g. "0.1.0": normally the package's `version`; another value means
         * the file was built from another release's sources.
         */
        version: string;
        /**
         * What built the addon: "cmake-js" (the prebuilt addons and source builds) or "node-gyp" (the fallback when
         * CMake is missing or the cmake-js build fails; such a build never includes TensorRT).
         */
        buildSystem: string;
        /** The Node-API version the addon was compiled for (8); the running Node.js must support it. */
        napiVersion: number;
        /**
         * True for the test build of the addon (TRTC_TEST_HOOKS: test builders and hooks the package's own tests
         * use), false for the addon users get.
         */
        testHooks: boolean;
        /**
         * Where the loaded file comes from: `env` (the file TRT_CALIBRATOR_ADDON names), `source` (built on this
         * machine: build/Release or build/Debug) or `prebuilt` (shipped in the package's prebuilds/, without CUDA
         * or TensorRT).
         */
        origin: AddonOrigin['kind'];
        /**
         * The loaded addon file: relative to the package root when inside the package (e.g.
         * "prebuilds/linux-x64/trt_calibrator.node", "build/Release/trt_calibrator.node"), absolute otherwise.
         */
        file: string;
        /**
         * Why this file was loaded, in one sentence, e.g. "TRT_CALIBRATOR_ADDON names it" or the install
         * script's reason for choosing the prebuilt addon.
         */
        why: string;
        /**
         * Files tried before this one and not used, each as "file: why", e.g.
         * "build/Release/trt_calibrator.node: not present"; empty when the first candidate loaded.
         */
        skipped: string[];
      }
    | {
        /** The addon could not be loaded: nothing native runs (no calibration), and `error` says why. */
        loaded: false;
        /**
         * The ERR_ADDON_LOAD message: every file tried with why it failed, and how to build the addon for this
         * machine.
         */
        error: string;
      };
  /** CUDA: compiled in, runtime/driver versions, devices seen now, or why none. */
  cuda: NativeCapabilities['cuda'];
  /**
   * TensorRT compiled into the addon, or why it is not. `version` is the library loaded now (what TensorRT writes
   * into caches and reads caches for), `headersVersion` the headers the addon was compiled against, and `mismatch`
   * says what follows when they differ in major.minor.
   */
  tensorrt:
    | {
        /** TensorRT is compiled into the addon (a source build that found TensorRT). */
        compiled: true;
        /** MAJOR.MINOR.PATCH of the TensorRT library loaded now, e.g. "10.3.0". */
        version: string;
        /** MAJOR.MINOR.PATCH of the TensorRT headers (NvInferVersion.h) the addon was compiled against. */
        headersVersion: string;
        /**
         * Only when `version` and `headersVersion` differ in major.minor: what that means (another major: engine
         * builds are refused; another minor: caches and engines are the loaded library's version) and that
         * rebuilding the addon fixes it. Absent when they match.
         */
        mismatch?: string;
      }
    | {
        /** TensorRT is not compiled into the addon: the TensorRT backend is unavailable. */
        compiled: false;
        /**
         * Why, e.g. "prebuilt addon: never includes TensorRT; build from source with TensorRT installed",
         * "TensorRT headers (NvInferVersion.h) not found at build time; set TENSORRT_ROOT and rebuild", or "the
         * native addon is not loaded".
         */
        reason: string;
      };
  /** onnxruntime-node (the builtin backend's engine): version and execution providers. */
  onnxruntime:
    | {
        /** onnxruntime-node loaded. */
        available: true;
        /** Version of the installed onnxruntime-node package (its package.json), e.g. "1.30.0". */
        version: string;
        /**
         * The execution providers bundled with this onnxruntime-node for this platform (its
         * listSupportedBackends(), bundled ones only), e.g. ["cpu", "webgpu"] on linux-x64.
         */
        providers: string[];
        /** ONNX Runtime's C API called from the addon (the builtin backend's inference 'native'), or why not. */
        native:
          | {
              /** The addon loaded ONNX Runtime's library and calls its C API itself. */
              available: true;
              /** The version the loaded ONNX Runtime library reports, e.g. "1.30.0". */
              version: string;
              /**
               * Absolute path of that library, found inside the installed onnxruntime-node package, e.g.
               * ".../onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1".
               */
              library: string;
            }
          | {
              /**
               * The C API is unusable: the builtin backend runs inference through onnxruntime-node in a worker
               * instead.
               */
              available: false;
              /**
               * Why, e.g. no ONNX Runtime library in the onnxruntime-node package for this platform, a library that
               * does not load or is older than ONNX Runtime 1.13, or the addon's own load error.
               */
              reason: string;
            };
      }
    | {
        /** onnxruntime-node could not be loaded or queried. */
        available: false;
        /**
         * The message of the error thrown while loading onnxruntime-node, reading its version or listing its
         * execution providers (e.g. the package is missing, or its binary does not load on this platform).
         */
        error: string;
      };
  /** Backends usable now: 'builtin' always (when the addon loads), 'tensorrt' when compiled in. */
  backends: Array<'builtin' | 'tensorrt'>;
}

/** The package version, read from package.json. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- package.json sits outside rootDir
export const packageVersion: string = (require('../package.json') as { version: string }).version;

/**
 * Reports what was compiled in and what this machine offers: CUDA devices (name, compute capability,
 * memory) or why there are none, TensorRT, onnxruntime-node. Never throws: a failed addon load is reported.
 */
export function capabilities(): Capabilities {
  const loaded = tryLoadAddon();
  let native: NativeCapabilities | undefined;
  let addon: Capabilities['addon'];
  if ('addon' in loaded) {
    native = loaded.addon.capabilities();
    addon = {
      loaded: true,
      version: native.addonVersion,
      buildSystem: native.buildSystem,
      napiVersion: native.napiVersion,
      testHooks: native.testHooks,
      ...originInfo(),
    };
  } else {
    addon = { loaded: false, error: loaded.error.message };
  }
  const cuda: Capabilities['cuda'] = native?.cuda ?? {
    compiled: false,
    runtimeVersion: 0,
    driverVersion: 0,
    devices: [],
    error: 'the native addon is not loaded',
  };
  const tensorrt: Capabilities['tensorrt'] = tensorrtInfo(native?.tensorrt);
  const backends: Capabilities['backends'] = [];
  if (native) backends.push('builtin');
  if (native?.tensorrt.compiled) backends.push('tensorrt');
  return { version: packageVersion, addon, cuda, tensorrt, onnxruntime: onnxruntimeInfo(), backends };
}

function tensorrtInfo(native: NativeCapabilities['tensorrt'] | undefined): Capabilities['tensorrt'] {
  if (!native) return { compiled: false, reason: 'the native addon is not loaded' };
  if (!native.compiled) return native;
  const mismatch = libraryHeadersMismatch(native.version, native.headersVersion);
  return { ...native, ...(mismatch ? { mismatch } : {}) };
}

/**
 * The `tensorrt` field of {@link capabilities} alone: what calibrate() needs to choose a backend, on the JS thread.
 * capabilities() also loads ONNX Runtime's library for the C++ path (20-30 ms) and queries the CUDA devices, which
 * initialises the CUDA driver (about 190 ms on an H200 machine): calibrate() loads ONNX Runtime on a libuv pool
 * thread when it needs it, and CUDA is first touched on the calibrator's own thread. Never throws.
 */
export function tensorrtCapabilities(): Capabilities['tensorrt'] {
  const loaded = tryLoadAddon();
  return tensorrtInfo('addon' in loaded ? loaded.addon.tensorrtCapabilities() : undefined);
}

function originInfo(): Pick<Extract<Capabilities['addon'], { loaded: true }>, 'origin' | 'file' | 'why' | 'skipped'> {
  const o = addonOrigin();
  if (!o) return { origin: 'env', file: '', why: 'unknown', skipped: [] };
  const rel = path.relative(packageRoot, o.file);
  return {
    origin: o.kind,
    file: rel.startsWith('..') || path.isAbsolute(rel) ? o.file : rel,
    why: o.why,
    skipped: o.skipped,
  };
}

const ORIGIN_LABEL: Record<AddonOrigin['kind'], string> = {
  env: 'TRT_CALIBRATOR_ADDON',
  source: 'built from source',
  prebuilt: 'prebuilt',
};

function onnxruntimeInfo(): Capabilities['onnxruntime'] {
  try {
    // Loaded lazily: doctor must report a broken onnxruntime-node install instead of failing to start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version = (require('onnxruntime-node/package.json') as { version: string }).version;
    const providers = ort
      .listSupportedBackends()
      .filter((b) => b.bundled)
      .map((b) => b.name);
    type NativeOrt = typeof import('./backends/builtin/native-ort');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { nativeOnnxRuntime } = require('./backends/builtin/native-ort') as NativeOrt;
    return { available: true, version, providers, native: nativeOnnxRuntime() };
  } catch (err) {
    return { available: false, error: (err as Error).message };
  }
}

/** Formats {@link capabilities} for people, as `trt-calibrator doctor` prints it. */
export function formatCapabilities(caps: Capabilities): string {
  const lines: string[] = [];
  lines.push(`trt-calibrator ${caps.version}`);
  lines.push(
    caps.addon.loaded
      ? `  addon        ${caps.addon.version} (${caps.addon.buildSystem}, N-API ${caps.addon.napiVersion}${caps.addon.testHooks ? ', test build' : ''})`
      : `  addon        NOT LOADED: ${caps.addon.error.split('\n').join('\n               ')}`,
  );
  if (caps.addon.loaded) {
    lines.push(`  addon file   ${ORIGIN_LABEL[caps.addon.origin]}: ${caps.addon.file}`);
    lines.push(`               why: ${caps.addon.why}`);
    for (const s of caps.addon.skipped) lines.push(`               not used: ${s}`);
  }
  if (!caps.cuda.compiled && caps.addon.loaded && caps.addon.origin === 'prebuilt') {
    // The prebuilds leave CUDA out: the builtin backend runs on the CPU, and CUDA serves the TensorRT backend.
    lines.push('  CUDA         not compiled in: prebuilt addon (CUDA comes with a source build that finds TensorRT)');
  } else if (!caps.cuda.compiled) {
    lines.push(`  CUDA         not compiled in${caps.cuda.error ? `: ${caps.cuda.error}` : ''}`);
  } else {
    lines.push(
      `  CUDA         runtime ${cudaVersion(caps.cuda.runtimeVersion)}, driver ${caps.cuda.driverVersion ? cudaVersion(caps.cuda.driverVersion) : 'none'}`,
    );
    if (caps.cuda.devices.length === 0) {
      lines.push(`  devices      none: ${caps.cuda.error ?? 'no CUDA device found'}`);
      lines.push('               (calibration runs on the CPU with host memory)');
    }
    for (const d of caps.cuda.devices) {
      lines.push(
        `  device ${d.index}     ${d.name}, compute ${d.computeCapability}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB, ${d.multiProcessors} SMs`,
      );
    }
  }
  if (caps.tensorrt.compiled) {
    const t = caps.tensorrt;
    lines.push(`  TensorRT     library ${t.version}, headers ${t.headersVersion}`);
    if (t.mismatch) lines.push(`               MISMATCH: ${t.mismatch}`);
  } else {
    lines.push(`  TensorRT     not compiled in: ${caps.tensorrt.reason}`);
  }
  lines.push(
    caps.onnxruntime.available
      ? `  onnxruntime  ${caps.onnxruntime.version} (providers: ${caps.onnxruntime.providers.join(', ')})`
      : `  onnxruntime  unavailable: ${caps.onnxruntime.error}`,
  );
  if (caps.onnxruntime.available) {
    const native = caps.onnxruntime.native;
    lines.push(
      native.available
        ? `  inference    native: ONNX Runtime ${native.version} C API from the addon (${path.basename(native.library)})`
        : `  inference    worker (onnxruntime-node): the C API is unavailable: ${native.reason}`,
    );
  }
  lines.push(`  backends     ${caps.backends.length ? caps.backends.join(', ') : 'none'}`);
  return lines.join('\n');
}

function cudaVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}
