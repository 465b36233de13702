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
        loaded: true;
        version: string;
        buildSystem: string;
        napiVersion: number;
        testHooks: boolean;
        origin: AddonOrigin['kind'];
        file: string;
        why: string;
        skipped: string[];
      }
    | { loaded: false; error: string };
  /** CUDA: compiled in, runtime/driver versions, devices seen now, or why none. */
  cuda: NativeCapabilities['cuda'];
  /**
   * TensorRT compiled into the addon, or why it is not. `version` is the library loaded now (what TensorRT writes
   * into caches and reads caches for), `headersVersion` the headers the addon was compiled against, and `mismatch`
   * says what follows when they differ in major.minor.
   */
  tensorrt:
    | { compiled: true; version: string; headersVersion: string; mismatch?: string }
    | { compiled: false; reason: string };
  /** onnxruntime-node (the builtin backend's engine): version and execution providers. */
  onnxruntime:
    | {
        available: true;
        version: string;
        providers: string[];
        /** ONNX Runtime's C API called from the addon (the builtin backend's inference 'native'), or why not. */
        native: { available: true; version: string; library: string } | { available: false; reason: string };
      }
    | { available: false; error: string };
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
 * The `tensorrt` field of {@link capabilities} alone: what calibrate() needs to choose a backend. capabilities() also
 * loads ONNX Runtime's library for the C++ path, 20-30 ms on the calling thread, which calibrate() instead does on a
 * libuv pool thread when it needs it. Never throws.
 */
export function tensorrtCapabilities(): Capabilities['tensorrt'] {
  const loaded = tryLoadAddon();
  return tensorrtInfo('addon' in loaded ? loaded.addon.capabilities().tensorrt : undefined);
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
