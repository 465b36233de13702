'use strict';
// The project's one test command (`npm test`). Steps, in order, each must pass:
//   0. compile TypeScript to dist/ (the CLI tests run the compiled CLI)
//   1. lint: ESLint over TypeScript/JavaScript, then tsc --noEmit over lib, test, samples and bench, then the API
//      docs build without a warning (typedoc --emit none --treatWarningsAsErrors: every public item documented,
//      every link and referenced type resolved)
//   2. README option tables generated from lib/options are up to date; format check: clang-format (C++) and
//      prettier (TypeScript/JavaScript); the committed prebuilt addons' checksums and symbol versions
//   3. the two cmake-js builds of the addon, incremental (fast when nothing changed): the release addon in
//      build/ (what users get) and the test build in build-test/ (TRTC_TEST_HOOKS=ON: test builders and hooks)
//   4. jest, project `release` against build/Release: unit, e2e, pipeline, report, and the check that the
//      release addon has no test code (test/native/release-build.test.ts)
//   5. jest, project `test-build` against build-test/Release: native tests (addon, no GPU) and GPU tests (skip
//      without a CUDA device)
//   6. node-gyp build of binding.gyp (test build, TRTC_TEST_HOOKS=1) in a scratch folder, then the native tests
//      against that addon
//   7. AddressSanitizer build (cmake-js, TRTC_SANITIZE=address, test build), then the native tests under ASan
//   8. the C++ core tests under valgrind (leak check), where native/tests exists
// Ends with one line "N passed, N failed" over all jest runs.
// `node scripts/test.js --quick` runs steps 0-5 only.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const quick = process.argv.includes('--quick');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
let passed = 0;
let failed = 0;
let skipped = 0;

function step(title, cmd, args, opts = {}) {
  const t0 = Date.now();
  console.log(`\n=== ${title}`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    ...opts,
    env: { ...process.env, ...(opts.env || {}) },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`=== FAILED: ${title} (exit ${r.status ?? r.signal}, ${secs} s)`);
    return false;
  }
  console.log(`=== ok: ${title} (${secs} s)`);
  return true;
}

function jest(title, args, env) {
  const out = path.join(os.tmpdir(), `trtc-jest-${process.pid}-${Date.now()}.json`);
  const ok = step(
    title,
    process.execPath,
    [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--json', `--outputFile=${out}`, ...args],
    { env },
  );
  try {
    const res = JSON.parse(fs.readFileSync(out, 'utf8'));
    passed += res.numPassedTests;
    failed += res.numFailedTests;
    skipped += res.numPendingTests + res.numTodoTests;
    fs.rmSync(out, { force: true });
  } catch {
    if (!ok) failed += 1; // jest died before writing results
  }
  return ok;
}

function finish(ok) {
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(ok && failed === 0 ? 0 : 1);
}

let ok = step('compile TypeScript (dist/, used by the CLI tests)', bin('tsc'), ['-p', 'tsconfig.build.json']);
ok = ok && step('write the ES module entry', process.execPath, ['scripts/write-esm-entry.js']);
ok = ok && step('compile the samples (dist-samples/, run by the tests)', bin('tsc'), ['-p', 'tsconfig.samples.json']);
ok =
  step('lint (eslint)', bin('eslint'), [
    '--no-error-on-unmatched-pattern',
    'lib',
    'test',
    'samples',
    'bench',
    'scripts',
  ]) && ok;
ok = step('type check (tsc --noEmit)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']) && ok;
ok =
  step('API docs build without warnings (typedoc)', bin('typedoc'), ['--emit', 'none', '--treatWarningsAsErrors']) &&
  ok;
ok = step('README option tables match lib/options', process.execPath, ['scripts/options-tables.js', '--check']) && ok;
ok = step('format check (clang-format, prettier)', process.execPath, ['scripts/check-format.js']) && ok;
// Prebuilt addons (prebuilds/, scripts/prebuild.sh): checksums, symbol versions, linked libraries; warns when they
// were built from other native sources. test/e2e/prebuilds.test.ts and packaging.test.ts load and run them.
ok = step('prebuilds: checksums and symbol versions', process.execPath, ['scripts/prebuilds.js', 'check']) && ok;

const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
/**
 * A cmake-js build of the addon into `out` with the CMake options `defines`, incremental (`compile`) when the
 * folder was configured with those values, from scratch (`rebuild`) otherwise: `compile` never reconfigures an
 * existing folder, so a changed option would silently not apply. An option absent from the cache counts as OFF.
 */
function addonBuild(title, out, defines, extra = []) {
  const cacheFile = path.join(out, 'CMakeCache.txt');
  const cache = fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, 'utf8') : '';
  const configured = Object.entries(defines).every(([name, value]) => {
    const m = new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm').exec(cache);
    const given = m ? m[1] : 'OFF';
    const on = (v) => !['', 'OFF', '0', 'FALSE', 'NO'].includes(String(v).toUpperCase());
    return value === 'OFF' || value === 'ON' ? on(given) === (value === 'ON') : given === value;
  });
  const args = [cmakeJs, cache && configured ? 'compile' : 'rebuild', '--out', out];
  for (const [name, value] of Object.entries(defines)) args.push(`--CD${name}=${value}`);
  return step(title, process.execPath, [...args, ...extra]);
}

const releaseBuild = path.join(root, 'build');
const testBuild = path.join(root, 'build-test');
const releaseOk = addonBuild('addon: release build (cmake-js, build/)', releaseBuild, { TRTC_TEST_HOOKS: 'OFF' });
const testBuildOk = addonBuild('addon: test build (cmake-js, build-test/, TRTC_TEST_HOOKS=ON)', testBuild, {
  TRTC_TEST_HOOKS: 'ON',
});
ok = releaseOk && testBuildOk && ok;
// The release pass loads build/Release (lib/binding.ts's default): no TRT_CALIBRATOR_ADDON from outside.
if (releaseOk)
  ok =
    jest('jest: release addon (unit, e2e, pipeline, report)', ['--ci', '--selectProjects', 'release'], {
      TRT_CALIBRATOR_ADDON: undefined,
    }) && ok;
// Set here, not only by the jest setup file, so worker threads and child processes load the same addon.
if (testBuildOk)
  ok =
    jest('jest: test build (native, gpu)', ['--ci', '--selectProjects', 'test-build'], {
      TRT_CALIBRATOR_ADDON: path.join(testBuild, 'Release', 'trt_calibrator.node'),
    }) && ok;
if (quick) finish(ok);

// node-gyp: build the same sources from binding.gyp in a scratch copy so the cmake-js build stays in place.
const gypDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-gyp-'));
for (const item of ['binding.gyp', 'native', 'scripts', 'package.json'])
  fs.cpSync(path.join(root, item), path.join(gypDir, item), { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(gypDir, 'node_modules'));
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
const gypArgs = [nodeGyp, 'rebuild', '--jobs=max'];
if (fs.existsSync('/usr/include/node/node_api.h')) gypArgs.push('--nodedir=/usr');
if (
  step('node-gyp build (binding.gyp, test build)', process.execPath, gypArgs, {
    cwd: gypDir,
    env: { TRTC_TEST_HOOKS: '1' },
  })
) {
  ok =
    jest('jest: native tests against the node-gyp build', ['test/native', '--ci', '--selectProjects', 'test-build'], {
      TRT_CALIBRATOR_ADDON: path.join(gypDir, 'build', 'Release', 'trt_calibrator.node'),
    }) && ok;
} else ok = false;
fs.rmSync(gypDir, { recursive: true, force: true });

// AddressSanitizer: a third cmake-js build (the test build too), loaded into an uninstrumented node with libasan
// preloaded.
const asanBuild = path.join(root, 'build-asan');
const libasan = spawnSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
if (
  addonBuild(
    'AddressSanitizer build (cmake-js, test build)',
    asanBuild,
    { TRTC_SANITIZE: 'address', TRTC_TEST_HOOKS: 'ON' },
    ['--debug'],
  )
) {
  ok =
    jest(
      'jest: native tests under AddressSanitizer',
      ['test/native', '--ci', '--runInBand', '--selectProjects', 'test-build'],
      {
        TRT_CALIBRATOR_ADDON: path.join(asanBuild, 'Debug', 'trt_calibrator.node'),
        LD_PRELOAD: libasan,
        // Node itself is not instrumented and keeps allocations alive until exit; leaks are checked by the
        // live-allocation counters in the tests and by valgrind on the C++ core below.
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
      },
    ) && ok;
} else ok = false;

// valgrind over the C++ core tests (no Node): full leak check.
if (fs.existsSync(path.join(root, 'native', 'tests', 'CMakeLists.txt'))) {
  const coreBuild = path.join(root, 'build-core-tests');
  ok =
    step('C++ core tests: configure', 'cmake', [
      '-S',
      'native/tests',
      '-B',
      coreBuild,
      '-G',
      'Ninja',
      '-DCMAKE_BUILD_TYPE=Debug',
    ]) && ok;
  ok = step('C++ core tests: build', 'cmake', ['--build', coreBuild]) && ok;
  ok =
    step('C++ core tests under valgrind (leak check)', 'valgrind', [
      '--leak-check=full',
      '--errors-for-leak-kinds=definite,indirect',
      '--error-exitcode=1',
      '-q',
      path.join(coreBuild, 'core_tests'),
    ]) && ok;
}
finish(ok);
