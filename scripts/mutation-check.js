'use strict';
// Mutation check: does the test suite notice a wrong line where it matters? Each mutation below flips one
// thing (an off-by-one, a rounding, a comparison) in the code behind a claim of the README, rebuilds what needs
// rebuilding, runs the test files that guard that claim, and puts the file back. A mutation that no test
// notices is a hole in the suite. Not part of `npm test` (it rebuilds the addon several times); run it by hand:
//
//   node scripts/mutation-check.js                 every mutation, results in bench/mutation/RESULTS.md
//   node scripts/mutation-check.js --only a,b      only the mutations with these ids (RESULTS.md untouched)
//   node scripts/mutation-check.js --list          the mutations
//
// It builds into its own folders (build-mutation/: the addon's test build; build-mutation-core/: the C++ core
// tests; build-mutation-nocuda/: the addon configured as if CUDA were missing), so build/ and build-test/ stay
// as they are. The baseline (nothing mutated) must pass first. Every file is restored in a `finally`, also on
// Ctrl-C. Exit status 1 when the baseline fails or a mutation survives.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const addonBuild = path.join(root, 'build-mutation');
const coreBuild = path.join(root, 'build-mutation-core');
const noCudaBuild = path.join(root, 'build-mutation-nocuda');
const addonFile = (dir) => path.join(dir, 'Release', 'trt_calibrator.node');

// ---- the test runs a mutation can use ----
/** A jest run of `files` in `project`, against the addon in `addon`. */
const jestRun = (project, files, addon = addonFile(addonBuild)) => ({
  name: `jest ${project}: ${files.join(' ')}${addon === addonFile(addonBuild) ? '' : ` (addon ${path.relative(root, addon)})`}`,
  kind: 'jest',
  project,
  files,
  addon,
});
/** The C++ core tests under valgrind, as npm test runs them. */
const coreTests = { name: 'C++ core tests under valgrind (build-mutation-core/core_tests)', kind: 'core' };

/**
 * The mutations: `file` with `from` (which must occur exactly once) replaced by `to`; `native` when the addon
 * and the core tests must be rebuilt; `tests` guard the claim; `config` instead of a file edit builds the addon
 * with extra CMake settings.
 */
const MUTATIONS = [
  {
    id: 'entropy-level-edge',
    area: 'entropy search (native/builtin/thresholds.cc)',
    what: "a level of candidate i ends at floor((L+1)·i/128) instead of ceil: an off-by-one in the fast search's level edges",
    file: 'native/builtin/thresholds.cc',
    from: 'std::size_t const end = level + 1 == kLEVELS ? i : ((level + 1) * i + kLEVELS - 1) / kLEVELS;',
    to: 'std::size_t const end = level + 1 == kLEVELS ? i : ((level + 1) * i) / kLEVELS;',
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'entropy-first-minimum',
    note: 'Survived the first run of this script: no test data had exactly tied KL minima. The tests added for it (a width fixed above the data, so every candidate above the data has KL 0) also found a bug: the fast search scored a candidate whose last bin is empty with nothing above it as NaN (0 log 0), so it was never chosen and the first, not the last, tied minimum came out; fixed in native/builtin/thresholds.cc.',
    area: 'entropy search (native/builtin/thresholds.cc)',
    what: 'the KL scan keeps the FIRST minimum (<) instead of the last (<=); the near-tie re-scoring also takes the first',
    file: 'native/builtin/thresholds.cc',
    from: 'if (kl[k] <= minimum) {',
    to: 'if (kl[k] < minimum) {',
    also: { from: 'if (value <= best) {', to: 'if (value < best) {' },
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'cache-scale-rounding',
    area: 'cache formatter (native/core/cache_text.cc)',
    what: 'scale = float(amax) / 127f (amax rounded to float32 first, then divided in float) instead of float(amax / 127)',
    file: 'native/core/cache_text.cc',
    from: 'return static_cast<float>(amax / 127.0);',
    to: 'return static_cast<float>(amax) / 127.0F;',
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'cache-hex-padding',
    area: 'cache formatter (native/core/cache_text.cc)',
    what: 'the hex is zero-padded to 8 digits (%08x) where TensorRT writes it unpadded (0, denormals)',
    file: 'native/core/cache_text.cc',
    from: 'std::snprintf(buffer, sizeof buffer, "%x", static_cast<unsigned>(bits));',
    to: 'std::snprintf(buffer, sizeof buffer, "%08x", static_cast<unsigned>(bits));',
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'cache-format-last-break',
    area: 'cache formatter (lib/cache/format.ts)',
    what: 'formatCache puts a line break after a line only when the file has a trailing newline (|| became &&)',
    file: 'lib/cache/format.ts',
    from: 'if (i < lines.length - 1 || cache.trailingNewline)',
    to: 'if (i < lines.length - 1 && cache.trailingNewline)',
    native: false,
    tests: [jestRun('release', ['test/unit/cache-format.test.ts', 'test/unit/cache-fuzz.test.ts'])],
  },
  {
    id: 'parity-double-product',
    note: 'The parity test as it was before issue 19 (max error / value range <= 1e-5, bit-exactness only printed) passed with this mutation: 28 of 43 cases bit-identical, max error 1.03e-7 of the range.',
    area: 'image parity path (lib/image/preprocess.ts)',
    what: 'x·scale is kept in double before the mean is subtracted (one float32 rounding dropped: numpy rounds there)',
    file: 'lib/image/preprocess.ts',
    from: 'Math.fround(Math.fround(Math.fround(Math.fround(x) * fs) - Math.fround(cfg.mean[c])) / Math.fround(cfg.std[c]));',
    to: 'Math.fround(Math.fround(Math.fround(x) * fs - Math.fround(cfg.mean[c])) / Math.fround(cfg.std[c]));',
    native: false,
    tests: [jestRun('release', ['test/pipeline/image-parity.test.ts'])],
  },
  {
    id: 'parity-letterbox-offset',
    note: 'Survived until the golden set got a letterbox case with an odd number of padding rows (c-plain.png, case-044): every earlier letterbox case padded an even number of rows or none.',
    area: 'image parity path (lib/image/preprocess.ts)',
    what: 'the letterbox top offset rounds up (ceil) instead of down (floor)',
    file: 'lib/image/preprocess.ts',
    from: 'padTop = Math.floor((H - nh) / 2);',
    to: 'padTop = Math.ceil((H - nh) / 2);',
    native: false,
    tests: [jestRun('release', ['test/pipeline/image-parity.test.ts'])],
  },
  {
    id: 'parity-crop-offset',
    note: 'Survived until the golden set got a center-crop case that cuts an odd number of rows (b-exif-rot90.jpg, case-045).',
    area: 'image parity path (lib/image/preprocess.ts)',
    what: 'the center-crop top offset rounds up (ceil) instead of down (floor)',
    file: 'lib/image/preprocess.ts',
    from: 'cropTop = Math.floor((nh - H) / 2);',
    to: 'cropTop = Math.ceil((nh - H) / 2);',
    native: false,
    tests: [jestRun('release', ['test/pipeline/image-parity.test.ts'])],
  },
  {
    id: 'merge-coarsen-off-by-one',
    note: 'The C++ core tests merged only histograms of one width until histogram_merge_of_widths_a_power_of_two_apart_sums_the_finer_bins_in_groups was added.',
    area: 'histogram merge (native/builtin/histogram.cc)',
    what: 'merging widths 2^k apart coarsens the finer histogram by 2^(k-1): an off-by-one in the exponent',
    file: 'native/builtin/histogram.cc',
    from: 'finer.coarsen(static_cast<unsigned>(exponent - 1));',
    to: 'finer.coarsen(static_cast<unsigned>(exponent - 2));',
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'merge-drops-pending-zeros',
    note: 'Survived the first run of this script: no test merged a histogram that holds only zeros (no width yet) into one with a width; tests for both directions were added (test/native/histogram.test.ts, native/tests/histogram_test.cc).',
    area: 'histogram merge (native/builtin/histogram.cc)',
    what: "the other histogram's pending zeros (seen before its first nonzero value) are not added to bin 0",
    file: 'native/builtin/histogram.cc',
    from: '    result.mCounts[0] += src.mPendingZeros;\n',
    to: '',
    native: true,
    tests: [jestRun('test-build', ['test/native/histogram.test.ts']), coreTests],
  },
  {
    id: 'build-lost-cuda',
    area: 'build: CUDA silently missing',
    what: 'the test build configured with CMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON (TRTC_CUDA left at AUTO): a build that lost CUDA without saying so',
    config: ['--CDCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON'],
    tests: [jestRun('test-build', ['test/native/capabilities.test.ts'], addonFile(noCudaBuild))],
  },
];

// ---- running things ----
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function must(title, cmd, args, opts) {
  process.stdout.write(`  ${title} ... `);
  const r = sh(cmd, args, opts);
  if (r.status !== 0) {
    console.log('FAILED');
    console.log(r.output.split('\n').slice(-40).join('\n'));
    throw new Error(`${title} failed`);
  }
  console.log('ok');
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
function buildAddon(dir, extra = []) {
  const configured = fs.existsSync(path.join(dir, 'CMakeCache.txt'));
  must(`build ${path.relative(root, dir)}/`, process.execPath, [
    cmakeJs,
    configured ? 'compile' : 'rebuild',
    '--out',
    dir,
    '--CDTRTC_TEST_HOOKS=ON',
    ...extra,
  ]);
}
function buildCore() {
  if (!fs.existsSync(path.join(coreBuild, 'build.ninja')))
    must('configure build-mutation-core/', 'cmake', [
      '-S',
      'native/tests',
      '-B',
      coreBuild,
      '-G',
      'Ninja',
      '-DCMAKE_BUILD_TYPE=Debug',
    ]);
  must('build build-mutation-core/', 'cmake', ['--build', coreBuild]);
}

/** Runs one test entry; returns { passed, failures: [names of failed tests] }. */
function runTests(t) {
  if (t.kind === 'core') {
    const r = sh('valgrind', [
      '--leak-check=full',
      '--errors-for-leak-kinds=definite,indirect',
      '--error-exitcode=1',
      '-q',
      path.join(coreBuild, 'core_tests'),
    ]);
    const failures = [...r.output.matchAll(/^ {2}FAIL (\S+)$/gm)].map((m) => `core_tests ${m[1]}`);
    if (r.status !== 0 && failures.length === 0) failures.push(`core_tests exited ${r.status}`);
    return { passed: r.status === 0, failures };
  }
  const out = path.join(os.tmpdir(), `trtc-mutation-${process.pid}-${Date.now()}.json`);
  const r = sh(
    process.execPath,
    [
      path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
      ...t.files,
      '--ci',
      '--selectProjects',
      t.project,
      '--json',
      `--outputFile=${out}`,
    ],
    { env: { ...process.env, TRT_CALIBRATOR_ADDON: t.addon } },
  );
  const failures = [];
  try {
    const res = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const suite of res.testResults) {
      const file = path.relative(root, suite.name);
      for (const a of suite.assertionResults)
        if (a.status === 'failed') failures.push(`${file} › ${a.ancestorTitles.concat(a.title).join(' › ')}`);
      if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed'))
        failures.push(`${file}: ${(suite.message || 'suite failed').split('\n')[0]}`);
    }
    fs.rmSync(out, { force: true });
  } catch {
    failures.push(`jest ended without results (exit ${r.status})`);
  }
  return { passed: r.status === 0 && failures.length === 0, failures };
}

// ---- file edits, always undone ----
const originals = new Map();
function restoreAll() {
  for (const [file, text] of originals) fs.writeFileSync(file, text);
  originals.clear();
}
function edit(relFile, from, to) {
  const file = path.join(root, relFile);
  const text = originals.get(file) ?? fs.readFileSync(file, 'utf8');
  const current = fs.readFileSync(file, 'utf8');
  const count = current.split(from).length - 1;
  if (count !== 1)
    throw new Error(`${relFile}: expected exactly one occurrence of ${JSON.stringify(from)}, found ${count}`);
  originals.set(file, text);
  fs.writeFileSync(file, current.replace(from, to));
}
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    restoreAll();
    process.exit(130);
  });

// ---- main ----
const args = process.argv.slice(2);
if (args.includes('--list')) {
  for (const m of MUTATIONS) console.log(`${m.id.padEnd(28)} ${m.area}: ${m.what}`);
  process.exit(0);
}
const onlyArg = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined;
const selected = MUTATIONS.filter((m) => !only || only.has(m.id));
if (only && selected.length !== only.size) {
  console.error(`unknown mutation id in --only ${onlyArg} (see --list)`);
  process.exit(2);
}

const results = [];
let ok = true;
try {
  console.log('baseline (nothing mutated)');
  buildAddon(addonBuild);
  buildCore();
  const baselineTests = new Map();
  for (const m of selected) for (const t of m.tests) if (!m.config) baselineTests.set(t.name, t);
  for (const t of baselineTests.values()) {
    const r = runTests(t);
    console.log(`  ${r.passed ? 'pass' : 'FAIL'}  ${t.name}`);
    for (const f of r.failures) console.log(`        ${f}`);
    if (!r.passed) throw new Error('the baseline fails: fix the suite before checking mutations');
  }

  for (const m of selected) {
    console.log(`\n${m.id}: ${m.what}`);
    const rebuilt = [];
    try {
      if (m.config) {
        fs.rmSync(noCudaBuild, { recursive: true, force: true });
        buildAddon(noCudaBuild, m.config);
      } else {
        edit(m.file, m.from, m.to);
        if (m.also) edit(m.file, m.also.from, m.also.to);
        if (m.native) {
          buildAddon(addonBuild);
          buildCore();
          rebuilt.push('addon', 'core');
        }
      }
      const failures = [];
      for (const t of m.tests) {
        const r = runTests(t);
        console.log(`  ${r.passed ? 'pass' : 'FAIL'}  ${t.name}`);
        for (const f of r.failures) console.log(`        ${f}`);
        failures.push(...r.failures);
      }
      const killed = failures.length > 0;
      if (!killed) ok = false;
      console.log(`  => ${killed ? `killed (${failures.length} failing tests)` : 'SURVIVED: no test noticed'}`);
      results.push({ ...m, killed, failures });
    } finally {
      restoreAll();
      if (m.config) fs.rmSync(noCudaBuild, { recursive: true, force: true });
    }
    // Rebuild the restored sources so the next mutation (and the next run) starts from the real code.
    if (rebuilt.length > 0) {
      buildAddon(addonBuild);
      buildCore();
    }
  }
} catch (err) {
  restoreAll();
  console.error(`\n${err.message}`);
  ok = false;
}

if (!only && results.length === MUTATIONS.length) {
  const lines = [
    '# Mutation check: results',
    '',
    `\`node scripts/mutation-check.js\`, run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores` +
      ` (${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}), Node ${process.version}. Each mutation flips one thing,`,
    'rebuilds what it touches, runs the listed test files (jest against the mutated test build of the addon, the',
    'C++ core tests under valgrind as `npm test` runs them) and restores the file. The baseline (nothing mutated)',
    'passed first. "killed" = at least one test failed.',
    '',
    '| id | where | mutation | tests run | result | failing tests |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  for (const r of results)
    lines.push(
      `| \`${r.id}\` | ${cell(r.area)} | ${cell(r.what)}${r.file ? `: \`${cell(r.from.trim())}\` → \`${cell(r.to.trim() || '(line removed)')}\`` : ''}${r.also ? ` and \`${cell(r.also.from)}\` → \`${cell(r.also.to)}\`` : ''} | ${cell(
        r.tests.map((t) => t.name).join('; '),
      )} | ${r.killed ? 'killed' : '**survived**'} | ${cell(r.failures.join('<br>'))} |`,
    );
  const notes = results.filter((r) => r.note);
  if (notes.length > 0) {
    lines.push('', 'Notes (written with the mutations in scripts/mutation-check.js, from runs by hand):', '');
    for (const r of notes) lines.push(`- \`${r.id}\`: ${r.note}`);
  }
  lines.push('');
  fs.mkdirSync(path.join(root, 'bench', 'mutation'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench', 'mutation', 'RESULTS.md'), `${lines.join('\n')}\n`);
  fs.writeFileSync(
    path.join(root, 'bench', 'mutation', 'results.json'),
    `${JSON.stringify(
      results.map((r) => ({ id: r.id, area: r.area, what: r.what, killed: r.killed, failures: r.failures })),
      null,
      2,
    )}\n`,
  );
  console.log('\nwrote bench/mutation/RESULTS.md and results.json');
}
console.log(
  `\n${results.filter((r) => r.killed).length} of ${results.length} mutations killed${ok ? '' : '; see above'}`,
);
process.exit(ok ? 0 : 1);
