'use strict';
// The README's option tables, generated from the option tables in lib/options (compiled: run `npm run build:ts`
// first). Each table sits between `<!-- options:<name> -->` and `<!-- /options:<name> -->` in README.md.
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

const readmePath = path.join(root, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
let next = readme;
for (const [name, def] of Object.entries(TABLES)) {
  const re = new RegExp(`(<!-- options:${name} -->)[\\s\\S]*?(<!-- /options:${name} -->)`);
  if (!re.test(next)) {
    console.error(`README.md has no <!-- options:${name} --> block`);
    process.exit(1);
  }
  next = next.replace(re, (_, open, close) => `${open}\n${render(def)}\n${close}`);
}
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md option tables are out of date: run `node scripts/options-tables.js`');
    process.exit(1);
  }
  console.log(`README.md option tables match lib/options (${Object.keys(TABLES).length} tables)`);
} else {
  fs.writeFileSync(readmePath, next);
  console.log(`README.md: ${Object.keys(TABLES).length} option tables written`);
}
