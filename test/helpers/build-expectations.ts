/**
 * What a build of the addon on THIS machine must contain, stated from the machine itself, not from the build:
 * the CUDA toolkit (runtime header and static runtime, what CMakeLists.txt and binding.gyp link) and TensorRT
 * 8.6–10.x (NvInferVersion.h and libnvinfer/libnvonnxparser, in the places CMakeLists.txt searches). A build
 * whose configure step silently lost one of them passes every test that branches on `capabilities()`; the tests
 * that use these expectations fail it instead.
 *
 * The environment may state the expectation outright, which wins over what is found: TRTC_EXPECT_CUDA=1 or 0,
 * TRTC_EXPECT_TENSORRT=1 or 0 (for CI: "this runner has CUDA, the build must too").
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** An expectation: `compiled` true or false, or undefined when the machine says nothing; `why` says why. */
export interface BuildExpectation {
  compiled: boolean | undefined;
  why: string;
}

const on = (value: string): boolean => !['', 'OFF', '0', 'FALSE', 'NO'].includes(value.toUpperCase());

/** A CMake option of the build folder's CMakeCache.txt (the folder above `<build>/Release/x.node`), if set there. */
function cmakeCacheValue(addonFile: string, name: string): string | undefined {
  const cache = path.join(path.dirname(path.dirname(addonFile)), 'CMakeCache.txt');
  if (!fs.existsSync(cache)) return undefined;
  const m = new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm').exec(fs.readFileSync(cache, 'utf8'));
  return m ? m[1] : undefined;
}

/** The build's own TRTC_<NAME> setting: its CMake cache, else the environment (CMakeLists.txt reads both). */
function buildSetting(addonFile: string, name: string): string | undefined {
  return cmakeCacheValue(addonFile, name) ?? process.env[name];
}

function stated(variable: string): BuildExpectation | undefined {
  const value = process.env[variable];
  if (value === undefined || value === '') return undefined;
  return { compiled: on(value), why: `${variable}=${value}` };
}

/**
 * CUDA toolkit roots with the runtime header and the static runtime the builds link. For a node-gyp build, only
 * where binding.gyp looks (scripts/gyp-config.js: CUDA_PATH, CUDA_HOME, /usr/local/cuda); for CMake, also
 * CUDAToolkit_ROOT and versioned /usr/local/cuda-X.Y folders.
 */
export function cudaToolkits(buildSystem = 'cmake-js'): string[] {
  const roots = [process.env.CUDA_PATH, process.env.CUDA_HOME, '/usr/local/cuda'];
  if (buildSystem !== 'node-gyp') {
    roots.push(process.env.CUDAToolkit_ROOT);
    if (fs.existsSync('/usr/local'))
      for (const e of fs.readdirSync('/usr/local')) if (/^cuda-\d/.test(e)) roots.push(path.join('/usr/local', e));
  }
  return [...new Set(roots.filter((r): r is string => !!r))].filter(
    (root) =>
      fs.existsSync(path.join(root, 'include', 'cuda_runtime_api.h')) &&
      fs.existsSync(path.join(root, 'lib64', 'libcudart_static.a')),
  );
}

/** Whether the addon in `addonFile` (built by `buildSystem`) must have CUDA compiled in. */
export function cudaExpectation(addonFile: string, buildSystem: string): BuildExpectation {
  const explicit = stated('TRTC_EXPECT_CUDA');
  if (explicit) return explicit;
  const setting = buildSetting(addonFile, 'TRTC_CUDA');
  if (setting !== undefined && !on(setting)) return { compiled: false, why: `the build says TRTC_CUDA=${setting}` };
  const toolkits = cudaToolkits(buildSystem);
  if (toolkits.length === 0)
    return { compiled: undefined, why: 'no CUDA toolkit on this machine (set TRTC_EXPECT_CUDA to state one)' };
  return { compiled: true, why: `the CUDA toolkit is at ${toolkits.join(', ')}` };
}

const TENSORRT_INCLUDES = [
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/local/tensorrt/include',
  '/usr/src/tensorrt/include',
  '/usr/include',
];
const TENSORRT_LIBS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/local/tensorrt/lib'];

/** TensorRT's version from NvInferVersion.h (both the <= 10.10 and the 10.11+ spellings). */
function tensorrtVersion(header: string): [number, number] | undefined {
  const text = fs.readFileSync(header, 'utf8');
  const part = (p: string): number | undefined => {
    const m =
      new RegExp(`^#define NV_TENSORRT_${p} (\\d+)`, 'm').exec(text) ??
      new RegExp(`^#define TRT_${p}_ENTERPRISE (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const major = part('MAJOR');
  const minor = part('MINOR');
  return major === undefined || minor === undefined ? undefined : [major, minor];
}

/** Whether the addon in `addonFile` must have the TensorRT adapter compiled in (8.6–10.x with CUDA). */
export function tensorrtExpectation(addonFile: string, cudaCompiled: boolean): BuildExpectation {
  const explicit = stated('TRTC_EXPECT_TENSORRT');
  if (explicit) return explicit;
  const setting = buildSetting(addonFile, 'TRTC_TENSORRT');
  if (setting !== undefined && !on(setting)) return { compiled: false, why: `the build says TRTC_TENSORRT=${setting}` };
  const root = buildSetting(addonFile, 'TENSORRT_ROOT');
  const includes = [...(root ? [path.join(root, 'include')] : []), ...TENSORRT_INCLUDES];
  const header = includes.map((d) => path.join(d, 'NvInferVersion.h')).find((f) => fs.existsSync(f));
  if (!header)
    return { compiled: undefined, why: 'no TensorRT headers on this machine (set TRTC_EXPECT_TENSORRT to state one)' };
  const version = tensorrtVersion(header);
  if (!version) return { compiled: undefined, why: `${header} has no version CMake can read` };
  const [major, minor] = version;
  if (major >= 11 || major < 8 || (major === 8 && minor < 6))
    return { compiled: false, why: `TensorRT ${major}.${minor} at ${header} has no calibrator adapter` };
  const libs = [...(root ? [path.join(root, 'lib'), path.join(root, 'lib64')] : []), ...TENSORRT_LIBS];
  const has = (name: string): boolean =>
    libs.some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.startsWith(`lib${name}.so`)));
  if (!has('nvinfer') || !has('nvonnxparser'))
    return { compiled: undefined, why: `TensorRT ${major}.${minor} headers at ${header} but not its libraries` };
  if (!cudaCompiled) return { compiled: false, why: 'TensorRT is found but the addon has no CUDA' };
  return { compiled: true, why: `TensorRT ${major}.${minor} is at ${header}` };
}

/** capabilities() of the addon in `file`, read in a child process (so any build can be checked from any suite). */
export function addonCapabilities(file: string): {
  buildSystem: string;
  cuda: { compiled: boolean };
  tensorrt: { compiled: boolean; reason?: string };
} {
  const r = spawnSync(
    process.execPath,
    ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(file)}).capabilities()))`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`cannot load ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ReturnType<typeof addonCapabilities>;
}

/**
 * Holds `what` ("CUDA", "TensorRT") compiled into the addon `file` to the machine's expectation: prints both, then
 * asserts they agree; when the machine says nothing (no toolkit where the builds look), only that the flag is a
 * boolean.
 */
export function expectCompiledAsExpected(
  what: string,
  file: string,
  compiled: boolean,
  expected: BuildExpectation,
): void {
  console.log(`${file}: ${what} compiled in: ${compiled}; expected: ${expected.compiled} (${expected.why})`);
  if (expected.compiled === undefined) {
    expect(typeof compiled).toBe('boolean');
    return;
  }
  expect({ compiled, why: expected.why }).toEqual({ compiled: expected.compiled, why: expected.why });
}
