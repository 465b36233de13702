'use strict';
// The package's "install" script: keep the prebuilt addon (prebuilds/<platform>-<arch>, no compiler needed) or
// build the addon from source (scripts/build-addon.js: cmake-js, node-gyp fallback), and record the choice in
// addon-install.json at the package root (not in build/, which node-gyp's rebuild deletes) for lib/binding.ts and
// `trt-calibrator doctor`.
//
// Builds from source when:
//   - asked: `npm install|rebuild trt-calibrator --build-from-source` (npm_config_build_from_source) or
//     TRT_CALIBRATOR_BUILD_FROM_SOURCE=1;
//   - TensorRT is found (TENSORRT_ROOT, or NvInferVersion.h where CMakeLists.txt looks: the x86-64 and JetPack
//     Debian packages, /usr/local/tensorrt, /usr/src/tensorrt): the prebuilds never include TensorRT. TensorRT 11
//     and newer has no INT8 calibrator, so it keeps the prebuild (Q/DQ export needs no TensorRT in the addon);
//   - there is no prebuild for this platform and architecture, or it does not load here (glibc older than 2.29,
//     musl);
//   - this is a checkout of the repository (`npm ci` in a clone: lib/ holds the TypeScript sources), so that the
//     tests run the current sources.
// TRT_CALIBRATOR_BUILD_FROM_SOURCE=0 keeps the prebuild even when TensorRT is found.
// A source build that was not asked for and fails falls back to the prebuild with a warning; one that was asked
// for fails the install. While npm prepares this package as a git dependency (it runs `npm install` in a clone
// before packing it) nothing is built: the install of the packed result decides.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tag = `${process.platform}-${process.arch}`;
const prebuild = path.join(root, 'prebuilds', tag, 'trt_calibrator.node');
const env = process.env;
const log = (msg) => console.error(`trt-calibrator: ${msg}`);

/** Where CMakeLists.txt looks for TensorRT's headers when TENSORRT_ROOT is not set. */
const TENSORRT_INCLUDE_DIRS = [
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/local/tensorrt/include',
  '/usr/src/tensorrt/include',
  '/usr/include',
];

/** TensorRT found on this machine: { where, major, version } or undefined. */
function findTensorRT() {
  const dirs = env.TENSORRT_ROOT ? [path.join(env.TENSORRT_ROOT, 'include')] : TENSORRT_INCLUDE_DIRS;
  for (const dir of dirs) {
    const header = path.join(dir, 'NvInferVersion.h');
    if (!fs.existsSync(header)) continue;
    const text = fs.readFileSync(header, 'utf8');
    // <= 10.10: NV_TENSORRT_MAJOR 10; 10.11+: NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE with TRT_MAJOR_ENTERPRISE 10.
    const part = (p) =>
      new RegExp(`#define NV_TENSORRT_${p} (\\d+)`).exec(text)?.[1] ??
      new RegExp(`#define TRT_${p}_ENTERPRISE (\\d+)`).exec(text)?.[1];
    const version = ['MAJOR', 'MINOR', 'PATCH'].map((p) => part(p) ?? '?').join('.');
    return {
      where: env.TENSORRT_ROOT ? `TENSORRT_ROOT=${env.TENSORRT_ROOT}` : dir,
      major: Number(part('MAJOR')),
      version,
    };
  }
  if (env.TENSORRT_ROOT) return { where: `TENSORRT_ROOT=${env.TENSORRT_ROOT}`, major: NaN, version: 'unknown' };
  return undefined;
}

/** Loads the prebuild in a child process: a failed dlopen must not take this script down. */
function prebuildLoads() {
  if (!fs.existsSync(prebuild)) return { ok: false, why: `no prebuilt addon for ${tag}` };
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(prebuild)}).capabilities()`], {
    encoding: 'utf8',
  });
  if (r.status === 0) return { ok: true };
  const line = (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit ${r.status}`;
  return { ok: false, why: `the prebuilt addon for ${tag} does not load here (${line.trim()})` };
}

function record(addon, reason) {
  fs.writeFileSync(path.join(root, 'addon-install.json'), `${JSON.stringify({ addon, reason }, null, 2)}\n`);
}

function usePrebuild(reason) {
  // A source build left by an earlier install would win in the loader: remove it so the recorded choice is used.
  for (const cfg of ['Release', 'Debug'])
    fs.rmSync(path.join(root, 'build', cfg, 'trt_calibrator.node'), { force: true });
  record('prebuilt', reason);
  log(`using the prebuilt addon prebuilds/${tag} (builtin backend; no CUDA, no TensorRT): ${reason}`);
  process.exit(0);
}

const checkout = fs.existsSync(path.join(root, 'lib', 'binding.ts'));
// npm sets _PACOTE_NO_PREPARE_ while it prepares a git dependency in a temporary clone.
if (checkout && env._PACOTE_NO_PREPARE_) {
  log('preparing a git dependency: nothing to build here (the install of the packed package decides)');
  process.exit(0);
}
const flag = env.TRT_CALIBRATOR_BUILD_FROM_SOURCE;
const asked =
  flag === '1'
    ? 'TRT_CALIBRATOR_BUILD_FROM_SOURCE=1'
    : ['true', '1'].includes(env.npm_config_build_from_source ?? 'unset')
      ? '--build-from-source'
      : undefined;
const trt = flag === '0' ? undefined : findTensorRT();
const pre = checkout ? { ok: false, why: 'checkout of the repository' } : prebuildLoads();

let reason;
if (checkout) reason = 'a checkout of the repository (its tests run the addon built from the current sources)';
else if (asked) reason = `a source build was asked for (${asked})`;
else if (trt && trt.major >= 11)
  usePrebuild(`TensorRT ${trt.version} at ${trt.where} has no INT8 calibrator; Q/DQ export needs no TensorRT here`);
else if (trt) reason = `TensorRT ${trt.version} found at ${trt.where}, which the prebuilds never include`;
else if (!pre.ok) reason = pre.why;
else
  usePrebuild(
    flag === '0'
      ? 'TRT_CALIBRATOR_BUILD_FROM_SOURCE=0'
      : 'no TensorRT found at install and no source build asked for (`npm rebuild trt-calibrator --build-from-source` makes one)',
  );

if (flag === '0' && !pre.ok) {
  log(`TRT_CALIBRATOR_BUILD_FROM_SOURCE=0 but ${pre.why}`);
  process.exit(1);
}
log(`building the addon from source: ${reason}`);
const r = spawnSync(process.execPath, [path.join(__dirname, 'build-addon.js')], { cwd: root, stdio: 'inherit' });
if (r.status === 0) {
  record('source', reason);
  process.exit(0);
}
if (!asked && !checkout && pre.ok) {
  log(`WARNING: the source build failed; using the prebuilt addon prebuilds/${tag} instead (no TensorRT)`);
  record('prebuilt', `the source build failed (it was tried because ${reason})`);
  process.exit(0);
}
process.exit(r.status ?? 1);
