'use strict';
// The prebuilt addons the package ships (prebuilds/<platform>-<arch>/trt_calibrator.node, made by
// scripts/prebuild.sh): their manifest and the checks CI runs on them.
//
//   node scripts/prebuilds.js check [--dir DIR] [--release] [--json]
//       SHA256SUMS matches the files; BUILDINFO.json matches SHA256SUMS; each addon is an ELF file of its tag's
//       machine that needs no more than the oldest supported systems have (Ubuntu 20.04 and JetPack 5: glibc
//       2.31, the libstdc++ of GCC 9.1) and no library beyond glibc, libstdc++ and libgcc (no CUDA, no TensorRT);
//       the prebuilds were built from the current native sources (a warning, an error with --release: publishing
//       stale prebuilds would ship code that is not in the package's sources). Exit 1 on an error.
//   node scripts/prebuilds.js write --build-json FILE [--dir DIR]
//       writes SHA256SUMS and BUILDINFO.json for the addons in DIR (scripts/prebuild.sh calls this).
//   node scripts/prebuilds.js source-hash
//       the hash of the native sources a prebuild is built from (CMakeLists.txt and native/, not its tests).
//
// Symbol versions come from binutils' readelf (.gnu.version_r), which reads ELF files of any architecture.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const ADDON = 'trt_calibrator.node';
/** The platforms prebuilds exist for, with the ELF machine readelf reports for each. */
const TAGS = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' };
/**
 * The highest symbol versions an addon may need: what Ubuntu 20.04 and JetPack 5 (L4T r35, Ubuntu 20.04) have,
 * with libstdc++ limited to GCC 9.1's (GLIBCXX_3.4.26, CXXABI_1.3.12) so a GCC 9 runtime is enough too.
 */
const LIMITS = { GLIBC: '2.31', GLIBCXX: '3.4.26', CXXABI: '1.3.12', GCC: '7.0.0' };
/** Shared libraries a prebuild may link: the C and C++ runtimes only. */
const ALLOWED_NEEDED = /^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux-[\w-]+)\.so\.\d+$/;

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function readelf(args, file) {
  const r = spawnSync('readelf', [...args, file], { encoding: 'utf8' });
  if (r.error) throw new Error(`readelf (binutils) is needed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`readelf ${args.join(' ')} ${file}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Machine, NEEDED libraries and the highest version needed per symbol-version family (GLIBC, GLIBCXX…). */
function inspectElf(file) {
  const machine = /Machine:\s+(.+)/.exec(readelf(['-h', '-W'], file))?.[1].trim() ?? 'unknown';
  const needed = [...readelf(['-d', '-W'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
    (m) => m[1],
  );
  const needs = {};
  for (const m of readelf(['-V', '-W'], file).matchAll(/Name: ([A-Z]+)_([\d.]+)/g)) {
    const [, family, version] = m;
    if (!needs[family] || compareVersions(version, needs[family]) > 0) needs[family] = version;
  }
  const sorted = Object.fromEntries(
    Object.keys(needs)
      .sort()
      .map((k) => [k, needs[k]]),
  );
  return { machine, needed, needs: sorted };
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The files a prebuild is compiled from: CMakeLists.txt and native/ without the C++ tests and the test build. */
function sourceFiles(base = root) {
  const walk = (dir) =>
    fs.readdirSync(path.join(base, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) return rel === 'native/tests' || rel === 'native/testing' ? [] : walk(rel);
      return [rel];
    });
  return ['CMakeLists.txt', ...walk('native')].sort();
}

function sourceHash(base = root) {
  const h = crypto.createHash('sha256');
  for (const rel of sourceFiles(base)) {
    h.update(`${rel}\0`);
    h.update(fs.readFileSync(path.join(base, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

function parseSums(text) {
  const sums = new Map();
  for (const line of text.split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`SHA256SUMS: unreadable line "${line}"`);
    sums.set(m[2], m[1]);
  }
  return sums;
}

/** Everything the check finds, as { errors, warnings, addons }. */
function check(dir, { release = false } = {}) {
  const errors = [];
  const warnings = [];
  const addons = {};
  const sumsFile = path.join(dir, 'SHA256SUMS');
  const infoFile = path.join(dir, 'BUILDINFO.json');
  if (!fs.existsSync(sumsFile)) return { errors: [`${sumsFile} is missing`], warnings, addons };
  const sums = parseSums(fs.readFileSync(sumsFile, 'utf8'));
  const info = fs.existsSync(infoFile) ? JSON.parse(fs.readFileSync(infoFile, 'utf8')) : undefined;
  if (!info) errors.push(`${infoFile} is missing`);
  for (const [tag, machine] of Object.entries(TAGS)) {
    const rel = `${tag}/${ADDON}`;
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) {
      errors.push(`${rel}: missing`);
      continue;
    }
    const actual = sha256(file);
    const size = fs.statSync(file).size;
    if (!sums.has(rel)) errors.push(`${rel}: not in SHA256SUMS`);
    else if (sums.get(rel) !== actual) errors.push(`${rel}: sha256 ${actual} but SHA256SUMS says ${sums.get(rel)}`);
    const recorded = info?.addons?.[tag];
    if (info && (!recorded || recorded.sha256 !== actual))
      errors.push(`${rel}: BUILDINFO.json does not describe this file (sha256 ${recorded?.sha256 ?? 'absent'})`);
    const elf = inspectElf(file);
    if (elf.machine !== machine) errors.push(`${rel}: ELF machine "${elf.machine}", expected "${machine}"`);
    for (const [family, limit] of Object.entries(LIMITS)) {
      const need = elf.needs[family];
      if (need && compareVersions(need, limit) > 0)
        errors.push(`${rel}: needs ${family}_${need}, newer than ${family}_${limit} (Ubuntu 20.04 / JetPack 5)`);
    }
    for (const lib of elf.needed)
      if (!ALLOWED_NEEDED.test(lib)) errors.push(`${rel}: links ${lib}; a prebuild may link only the C/C++ runtimes`);
    addons[tag] = { file: rel, size, sha256: actual, machine: elf.machine, needs: elf.needs, needed: elf.needed };
  }
  for (const rel of sums.keys())
    if (!Object.keys(TAGS).some((t) => rel === `${t}/${ADDON}`)) warnings.push(`SHA256SUMS lists ${rel}`);
  if (info) {
    const current = sourceHash();
    if (info.sourceHash !== current) {
      const msg =
        `the prebuilds were built from other native sources (BUILDINFO.json ${info.sourceHash.slice(0, 12)}, ` +
        `CMakeLists.txt and native/ now ${current.slice(0, 12)}): rebuild them with \`sudo sh scripts/prebuild.sh\``;
      (release ? errors : warnings).push(msg);
    }
  }
  return { errors, warnings, addons };
}

function write(dir, buildJson) {
  const lines = [];
  const addons = {};
  for (const tag of Object.keys(TAGS)) {
    const rel = `${tag}/${ADDON}`;
    const file = path.join(dir, rel);
    const elf = inspectElf(file);
    const digest = sha256(file);
    lines.push(`${digest}  ${rel}`);
    addons[tag] = { file: rel, size: fs.statSync(file).size, sha256: digest, needs: elf.needs, needed: elf.needed };
  }
  fs.writeFileSync(path.join(dir, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  const info = {
    comment: 'Written by scripts/prebuild.sh; checked by `node scripts/prebuilds.js check` (npm test).',
    sourceHash: sourceHash(),
    sources: 'CMakeLists.txt and native/ without native/tests and native/testing (scripts/prebuilds.js sourceFiles)',
    build: JSON.parse(fs.readFileSync(buildJson, 'utf8')),
    limits: LIMITS,
    addons,
  };
  fs.writeFileSync(path.join(dir, 'BUILDINFO.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dir = path.resolve(arg('--dir') ?? path.join(root, 'prebuilds'));
  if (argv[0] === 'source-hash') {
    console.log(sourceHash());
    return 0;
  }
  if (argv[0] === 'write') {
    const info = write(dir, arg('--build-json'));
    for (const [tag, a] of Object.entries(info.addons))
      console.log(
        `${tag}: ${a.size} bytes, needs ${Object.entries(a.needs)
          .map(([f, v]) => `${f}_${v}`)
          .join(' ')}`,
      );
    return 0;
  }
  if (argv[0] === 'check') {
    const result = check(dir, { release: argv.includes('--release') });
    if (argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
    else {
      for (const [tag, a] of Object.entries(result.addons))
        console.log(
          `prebuilds: ${tag}: ${a.size} bytes, needs ${Object.entries(a.needs)
            .map(([f, v]) => `${f}_${v}`)
            .join(' ')}; links ${a.needed.join(' ')}`,
        );
      for (const w of result.warnings) console.log(`prebuilds: warning: ${w}`);
      for (const e of result.errors) console.error(`prebuilds: ERROR: ${e}`);
      if (result.errors.length === 0) console.log('prebuilds: SHA256SUMS, BUILDINFO.json and symbol versions ok');
    }
    return result.errors.length === 0 ? 0 : 1;
  }
  console.error(
    'usage: node scripts/prebuilds.js check [--dir DIR] [--release] [--json] | write --build-json FILE | source-hash',
  );
  return 2;
}

module.exports = { TAGS, LIMITS, inspectElf, sourceHash, sourceFiles, check, compareVersions };

if (require.main === module) process.exit(main(process.argv.slice(2)));
