'use strict';
// Format check for C++ (clang-format from the clang-format npm package, style in .clang-format).
// `node scripts/check-format.js --fix` rewrites the files instead.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return /\.(cc|cpp|h|hpp)$/.test(e.name) ? [p] : [];
  });
}
const files = walk(path.join(root, 'native')).concat(fs.existsSync(path.join(root, 'bench')) ? walk(path.join(root, 'bench')).filter((f) => !f.includes('.work')) : []);
const bin = path.join(path.dirname(require.resolve('clang-format/package.json')), 'bin', 'linux_x64', 'clang-format');
const fix = process.argv.includes('--fix');
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync(bin, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(fix ? 'clang-format failed' : 'C++ format check failed: run `node scripts/check-format.js --fix`');
  process.exit(1);
}
console.log(`clang-format: ${files.length} files ${fix ? 'formatted' : 'clean'}`);
