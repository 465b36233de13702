'use strict';
// Format check, run by `npm test`:
//   - C++ with clang-format (the clang-format npm package, style in .clang-format, column limit 110);
//   - TypeScript and JavaScript with prettier (style in .prettierrc.json, print width 120; .prettierignore).
// `node scripts/check-format.js --fix` rewrites the files instead.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fix = process.argv.includes('--fix');

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return /\.(cc|cpp|h|hpp)$/.test(e.name) ? [p] : [];
  });
}
const files = walk(path.join(root, 'native')).concat(
  fs.existsSync(path.join(root, 'bench')) ? walk(path.join(root, 'bench')).filter((f) => !f.includes('.work')) : [],
);
const clangFormat = path.join(
  path.dirname(require.resolve('clang-format/package.json')),
  'bin',
  'linux_x64',
  'clang-format',
);
const clang = spawnSync(clangFormat, fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files], {
  cwd: root,
  stdio: 'inherit',
});
if (clang.status !== 0)
  console.error(fix ? 'clang-format failed' : 'C++ format check failed: run `node scripts/check-format.js --fix`');
else console.log(`clang-format: ${files.length} files ${fix ? 'formatted' : 'clean'}`);

const prettierBin = path.join(path.dirname(require.resolve('prettier/package.json')), 'bin', 'prettier.cjs');
const prettier = spawnSync(
  process.execPath,
  [prettierBin, fix ? '--write' : '--check', '--log-level', fix ? 'warn' : 'log', '**/*.{ts,js,mjs,cjs}'],
  { cwd: root, stdio: 'inherit' },
);
if (prettier.status !== 0)
  console.error(fix ? 'prettier failed' : 'TypeScript format check failed: run `node scripts/check-format.js --fix`');

process.exit(clang.status === 0 && prettier.status === 0 ? 0 : 1);
