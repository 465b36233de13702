'use strict';
// The README's option tables, generated from the option tables in lib/options, and its exit-code table, from
// lib/cli/common.ts (compiled: run `npm run build:ts` first). Each table sits between `<!-- options:<name> -->` and `<!-- /options:<name> -->` in README.md.
//   node scripts/options-tables.js          rewrite the tables in README.md
//   node scripts/options-tables.js --check  exit 1 when README.md differs from what the tables say (npm test)
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const options = require(path.join(root, 'dist', 'options'));

const TABLES = {
  calibrate: { table: options.CALIBRATE_OPTIONS, skip: Object.keys(options.PREPROCESS_OPTIONS) },
  preprocess: { table: { ...options.PREPROCESS_OPTIONS, ...options.IMAGE_SOURCE_OPTIONS } },
  'calibrate-cli': { table: options.CALIBRATE_CLI_OPTIONS },
  'tensorrt-build': { table: options.TENSORRT_BUILD_OPTIONS },
  qdq: { table: options.QDQ_EXPORT_OPTIONS },
};

const code = (s) => `\`${s}\``;
const cell = (s) => String(s).replace(/\|/g, '\\|');

function defaultOf(spec) {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return 'none';
  return code(Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default));
}

function render({ table, skip = [] }) {
  const rows = ['| option | CLI | values | default | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const [key, spec] of Object.entries(table)) {
    if (skip.includes(key)) continue;
    const flags =
      spec.kind === 'nested'
        ? Object.values(spec.table)
            .filter((s) => s.cli)
            .map((s) => code(s.cli.flag))
            .join(', ')
        : spec.cli
          ? code(spec.cli.flag)
          : '';
    const values = spec.choices ? spec.choices.map(code).join(' \\| ') : cell(spec.expected);
    rows.push(`| ${code(key)} | ${cell(flags)} | ${values} | ${cell(defaultOf(spec))} | ${cell(spec.help)} |`);
  }
  return rows.join('\n');
}

/** The exit-code table: every exit code, what it means and the error codes that end with it. */
function renderExitCodes() {
  const { EXIT_CODES, EXIT_CODE_MEANINGS, EXIT_CODE_OF } = require(path.join(root, 'dist', 'cli', 'common'));
  const rows = ['| exit code | meaning | error codes |', '| --- | --- | --- |'];
  const byCode = Object.entries(EXIT_CODES).sort((a, b) => a[1] - b[1]);
  for (const [key, exit] of byCode) {
    const errors = Object.keys(EXIT_CODE_OF).filter((name) => EXIT_CODE_OF[name] === exit);
    rows.push(`| ${exit} | ${cell(EXIT_CODE_MEANINGS[key])} | ${errors.map(code).join(', ')} |`);
  }
  return rows.join('\n');
}
const GENERATED = {
  ...Object.fromEntries(Object.entries(TABLES).map(([name, def]) => [name, () => render(def)])),
  'exit-codes': renderExitCodes,
};

const readmePath = path.join(root, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
let next = readme;
for (const [name, make] of Object.entries(GENERATED)) {
  const re = new RegExp(`(<!-- options:${name} -->)[\\s\\S]*?(<!-- /options:${name} -->)`);
  if (!re.test(next)) {
    console.error(`README.md has no <!-- options:${name} --> block`);
    process.exit(1);
  }
  next = next.replace(re, (_, open, close) => `${open}\n${make()}\n${close}`);
}
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md option tables are out of date: run `node scripts/options-tables.js`');
    process.exit(1);
  }
  console.log(`README.md option tables match lib/options (${Object.keys(GENERATED).length} tables)`);
} else {
  fs.writeFileSync(readmePath, next);
  console.log(`README.md: ${Object.keys(GENERATED).length} tables written`);
}
