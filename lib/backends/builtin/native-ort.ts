/**
 * ONNX Runtime driven from C++ for the builtin backend (native/builtin/ort_session.h): the addon loads the shared
 * library that the onnxruntime-node package ships and calls its C API on the calibration run's own thread,
 * reading every activation in place from ONNX Runtime's memory. onnxruntime-node's JavaScript API copies each
 * output into a new ArrayBuffer instead, which for a model with every activation as an output costs more than
 * the inference itself (see bench/calibrate/RESULTS.md).
 *
 * The same ONNX Runtime build serves both: the library is the one onnxruntime-node loads, and a process holds
 * it once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { onnx } from 'onnx-proto';
import { loadAddon, type NativeOnnxRuntimeLoad, type NativeOrtSession } from '../../binding';
import { ortLoadError } from '../../onnx/session';

/** Whether the C++ ONNX Runtime path can be used, and if not why. */
export type NativeOnnxRuntimeStatus =
  { available: true; version: string; library: string } | { available: false; reason: string };

let status: NativeOnnxRuntimeStatus | undefined;
let loading: Promise<NativeOnnxRuntimeStatus> | undefined;

/**
 * The ONNX Runtime shared library inside the installed onnxruntime-node package (next to its
 * onnxruntime_binding.node), or undefined when there is none for this platform.
 */
export function onnxRuntimeLibraryPath(): string | undefined {
  let root: string;
  try {
    root = path.dirname(path.dirname(require.resolve('onnxruntime-node')));
  } catch {
    return undefined;
  }
  const binDir = path.join(root, 'bin');
  let napiDirs: string[];
  try {
    napiDirs = fs.readdirSync(binDir).filter((d) => d.startsWith('napi-v'));
  } catch {
    return undefined;
  }
  const pattern =
    process.platform === 'win32'
      ? /^onnxruntime\.dll$/
      : process.platform === 'darwin'
        ? /^libonnxruntime(\.\d+)*\.dylib$/
        : /^libonnxruntime\.so(\.\d+)*$/;
  for (const napi of napiDirs.sort().reverse()) {
    const dir = path.join(binDir, napi, process.platform, process.arch);
    let files: string[];
    try {
      files = fs.readdirSync(dir);
    } catch {
      continue;
    }
    // The most specific name first (libonnxruntime.so.1.30.0 before libonnxruntime.so.1 before the bare name).
    const match = files.filter((f) => pattern.test(f)).sort((a, b) => b.length - a.length)[0];
    if (match) return path.join(dir, match);
  }
  return undefined;
}

/**
 * Loads ONNX Runtime for the C++ path once per process, on a libuv pool thread (loading the library and creating
 * ONNX Runtime's environment takes 20-30 ms: never on the JS thread during calibrate()), and says whether it is
 * usable. Never rejects: a missing library or an ONNX Runtime older than 1.13 gives `{ available: false, reason }`.
 */
export function loadNativeOnnxRuntime(): Promise<NativeOnnxRuntimeStatus> {
  if (status) return Promise.resolve(status);
  loading ??= (async () => {
    const library = onnxRuntimeLibraryPath();
    let loaded: NativeOnnxRuntimeLoad | undefined;
    try {
      if (library) loaded = await loadAddon().loadOnnxRuntime(library);
    } catch (err) {
      loaded = { ok: false, error: (err as Error).message };
    }
    status ??= statusOf(library, loaded);
    return status;
  })();
  return loading;
}

/**
 * {@link loadNativeOnnxRuntime} on the calling thread, for the synchronous capabilities(): blocks 20-30 ms the first
 * time in a process (after a {@link loadNativeOnnxRuntime} that has settled, it returns at once). Never throws.
 */
export function nativeOnnxRuntime(): NativeOnnxRuntimeStatus {
  if (status) return status;
  const library = onnxRuntimeLibraryPath();
  let loaded: NativeOnnxRuntimeLoad | undefined;
  try {
    if (library) loaded = loadAddon().loadOnnxRuntimeSync(library);
  } catch (err) {
    loaded = { ok: false, error: (err as Error).message };
  }
  status = statusOf(library, loaded);
  return status;
}

/** The status for the library found (or not) and what loading it gave (undefined: not tried, no library). */
function statusOf(library: string | undefined, loaded: NativeOnnxRuntimeLoad | undefined): NativeOnnxRuntimeStatus {
  if (!library || !loaded)
    return {
      available: false,
      reason: 'no ONNX Runtime library found in the onnxruntime-node package for this platform',
    };
  if (!loaded.ok) return { available: false, reason: loaded.error };
  // process.exit() is safe: the addon stops and waits for the runs in progress from an atexit handler, before
  // ONNX Runtime's static destructors run (native/builtin/ort_session.cc).
  return { available: true, version: loaded.version, library };
}

/** Options of {@link openOrtSession}. */
export interface OrtSessionOptions {
  /** The float outputs each run fetches, in order (others are ignored); empty: every float output. */
  fetch: readonly string[];
  /** ONNX Runtime intra-op threads; undefined lets ONNX Runtime use every core. */
  threads?: number;
  /** Where the model came from, for error messages. */
  source: string;
  /** The model proto, to name the node and operator of a load error. */
  proto?: onnx.IModelProto;
}

/**
 * Creates a C++ ONNX Runtime CPU session (off the JS thread). `modelBytes` may be pieces whose concatenation is the
 * model (the addon copies them into one buffer). Rejects with ERR_MODEL naming the node and operator when ONNX
 * Runtime cannot load the model; call {@link loadNativeOnnxRuntime} first. `close()` the session when done: it is
 * destroyed on a thread of its own once no run uses it.
 */
export async function openOrtSession(
  modelBytes: Uint8Array | readonly Uint8Array[],
  options: OrtSessionOptions,
): Promise<NativeOrtSession> {
  try {
    return await loadAddon().createOrtSession(modelBytes, { threads: options.threads, fetch: options.fetch });
  } catch (err) {
    throw ortLoadError(err, options.proto, options.source);
  }
}
