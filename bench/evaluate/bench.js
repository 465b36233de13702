'use strict';
// Evaluate benchmark: `trt-calibrator evaluate <model> <images> --cache x` (the default report, worst tensors
// included) against `trt-calibrator calibrate` of the same images with the same flags, on the PaddleOCR detector
// (3×320×320). Each command runs in its own process, one at a time; wall time is measured around the process and
// peak RSS is its maximum resident set size (GNU time's %M where /usr/bin/time exists, else VmHWM of
// /proc/<pid>/status read every 20 ms). The machine is shared and its speed drifts, so calibrate and evaluate
// alternate (the order flips every repeat) and the ratio is taken per adjacent pair; the summary gives medians.
// The load average is recorded around every run.
//
// Usage (after `npx tsc -p tsconfig.build.json && node scripts/write-esm-entry.js`):
//   node bench/evaluate/bench.js [--counts 40,160] [--repeat 3] [--cli dist/cli.js] [--label after]
//                                [--evaluate-args "--worst 0"] [--out bench/evaluate/results.json]
// --cli points at another build's dist/cli.js (e.g. one of the commit before, for "before" numbers); --label names
// the runs in results.json, which keeps the other labels' runs, and RESULTS.md is written from all of them.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { setInterval, clearInterval } = require('node:timers');

const root = path.join(__dirname, '..', '..');
const work = path.join(root, 'bench', '.work', 'evaluate');
const MODEL = path.join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const FLAGS = [
  '--shape',
  '3x320x320',
  '--scale',
  '0.00392156862745098',
  '--mean',
  '0.485,0.456,0.406',
  '--std',
  '0.229,0.224,0.225',
];
const SEED = 7;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Runs `node <args>` to the end; resolves { wall (s), peakRssMb, code, stdout, stderr, load: [before, after] }. */
function measure(args) {
  const gnuTime = fs.existsSync('/usr/bin/time');
  const rssFile = path.join(work, `rss-${process.pid}.txt`);
  const command = gnuTime ? '/usr/bin/time' : process.execPath;
  const argv = gnuTime ? ['-f', '%M', '-o', rssFile, process.execPath, ...args] : args;
  const before = loadavg();
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // Without GNU time: VmHWM of the node process (the child itself here), polled; it only grows.
    let hwm = 0;
    const poll = gnuTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm, Number(m[1]));
          } catch {
            // exited between two polls
          }
        }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (poll) clearInterval(poll);
      let kb = hwm;
      if (gnuTime) {
        kb = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop());
        fs.rmSync(rssFile, { force: true });
      }
      resolve({
        wall: round(wall, 3),
        peakRssMb: Math.round(kb / 1024),
        code,
        stdout,
        stderr,
        load: [before, loadavg()],
      });
    });
  });
}

async function images(count) {
  const dir = path.join(work, `scenes-${count}-seed${SEED}`);
  const have = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).length : 0;
  if (have !== count) {
    fs.rmSync(dir, { recursive: true, force: true });
    const { makeSyntheticImages } = require(path.join(root, 'dist', 'synthetic', 'images.js'));
    await makeSyntheticImages(dir, { kind: 'scenes', count, seed: SEED });
  }
  return dir;
}

function machine() {
  const cpus = os.cpus();
  let ort;
  try {
    ort = require(path.join(root, 'node_modules', 'onnxruntime-node', 'package.json')).version;
  } catch {
    ort = 'unknown';
  }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    onnxruntimeNode: ort,
    gnuTime: fs.existsSync('/usr/bin/time'),
  };
}

function summarize(runs) {
  const pairs = runs.map((r) => r.evaluate.wall / r.calibrate.wall);
  return {
    calibrateWall: round(median(runs.map((r) => r.calibrate.wall))),
    evaluateWall: round(median(runs.map((r) => r.evaluate.wall))),
    ratio: round(median(pairs)),
    ratios: pairs.map((x) => round(x)),
    calibratePeakRssMb: Math.max(...runs.map((r) => r.calibrate.peakRssMb)),
    evaluatePeakRssMb: Math.max(...runs.map((r) => r.evaluate.peakRssMb)),
    loadRange: [
      round(Math.min(...runs.flatMap((r) => [r.calibrate, r.evaluate].flatMap((m) => m.load.map((l) => l[0]))))),
      round(Math.max(...runs.flatMap((r) => [r.calibrate, r.evaluate].flatMap((m) => m.load.map((l) => l[0]))))),
    ],
  };
}

function markdown(results) {
  const m = results.machine;
  const lines = [
    `Machine: ${m.cpu} VM, ${m.cores} cores, ${m.memoryGb} GB RAM, no GPU, shared with other engineers (their load is`,
    'in the table: the 1-minute load average around the runs; 2 means both cores busy before ours started);',
    `Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}. Written by \`node bench/evaluate/bench.js\` from \`results.json\`.`,
    '',
    'The PaddleOCR detector (`ch_PP-OCRv4_det_infer.onnx`, `--shape 3x320x320 --scale 0.00392156862745098 --mean',
    '0.485,0.456,0.406 --std 0.229,0.224,0.225`), synthetic scenes (640×480 JPEG, `makeSyntheticImages(dir, { kind:',
    `'scenes', count, seed: ${SEED} })\`), batch 8. Per pair: \`trt-calibrator calibrate <model> <images> <flags>`,
    '--overwrite --cache x.cache` and `trt-calibrator evaluate <model> <images> <flags> --cache x.cache` (default report:',
    'the 10 worst tensors on the first 2 batches), each in its own process, one after the other, order flipped every',
    `repeat. Wall time around the process; peak RSS = ${m.gnuTime ? "GNU time's %M (maximum resident set size)" : 'VmHWM of /proc/<pid>/status'}.`,
    'ratio = evaluate / calibrate wall time of one adjacent pair; the median of the pairs is in bold.',
    '',
    '| label | build | evaluate args | images | calibrate s (median) | evaluate s (median) | evaluate / calibrate: median (pairs) | peak RSS MB evaluate (calibrate) | load average | date |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [label, entry] of Object.entries(results.labels)) {
    for (const [count, runs] of Object.entries(entry.counts)) {
      const s = summarize(runs);
      lines.push(
        `| ${label} | ${entry.build} | ${entry.evaluateArgs || '(default)'} | ${count} | ${s.calibrateWall} | ${s.evaluateWall} | **${s.ratio}×** (${s.ratios.join(', ')}) | **${s.evaluatePeakRssMb}** (${s.calibratePeakRssMb}) | ${s.loadRange[0]}–${s.loadRange[1]} | ${entry.date} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Writes the table into RESULTS.md between its markers, keeping the notes around it (or a new file). */
function writeMarkdown(file, results) {
  const begin = '<!-- bench:table -->';
  const end = '<!-- /bench:table -->';
  const table = `${begin}\n${markdown(results)}\n${end}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const i = old.indexOf(begin);
  const j = old.indexOf(end);
  fs.writeFileSync(file, i >= 0 && j > i ? `${old.slice(0, i)}${table}${old.slice(j + end.length)}` : `${table}\n`);
}

async function main() {
  const counts = arg('counts', '40,160').split(',').map(Number);
  const repeat = Number(arg('repeat', '3'));
  const cli = path.resolve(arg('cli', path.join(root, 'dist', 'cli.js')));
  const label = arg('label', 'current');
  const extra = (arg('evaluate-args', '') || '').split(' ').filter(Boolean);
  const out = path.resolve(arg('out', path.join(__dirname, 'results.json')));
  const build = arg('build', path.relative(root, cli));
  fs.mkdirSync(work, { recursive: true });
  const cache = path.join(work, 'x.cache');
  const results = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : { labels: {} };
  results.machine = machine();
  const entry = { build, evaluateArgs: extra.join(' '), date: new Date().toISOString().slice(0, 10), counts: {} };

  for (const count of counts) {
    const dir = await images(count);
    const calibrate = ['calibrate', MODEL, dir, ...FLAGS, '--overwrite', '--cache', cache];
    const evaluate = ['evaluate', MODEL, dir, ...FLAGS, '--cache', cache, ...extra];
    // Untimed: writes the cache the first evaluate reads, and brings the files into the page cache.
    const warm = await measure([cli, ...calibrate]);
    if (warm.code !== 0) throw new Error(`calibrate failed (${warm.code}): ${warm.stderr}`);
    const runs = [];
    for (let r = 0; r < repeat; r++) {
      const order = r % 2 === 0 ? ['calibrate', 'evaluate'] : ['evaluate', 'calibrate'];
      const run = {};
      for (const which of order) {
        const m = await measure([cli, ...(which === 'calibrate' ? calibrate : evaluate)]);
        if (m.code !== 0) throw new Error(`${which} failed (${m.code}): ${m.stderr}`);
        run[which] = { wall: m.wall, peakRssMb: m.peakRssMb, load: m.load };
        if (which === 'evaluate') run.evaluateHead = m.stdout.split('\n').slice(0, 3);
      }
      runs.push(run);
      console.log(
        `${label} ${count} images #${r + 1}: calibrate ${run.calibrate.wall} s ${run.calibrate.peakRssMb} MB, evaluate ${run.evaluate.wall} s ${run.evaluate.peakRssMb} MB, ratio ${round(run.evaluate.wall / run.calibrate.wall)}, load ${run.calibrate.load[0][0]}/${run.evaluate.load[0][0]}`,
      );
    }
    entry.counts[count] = runs;
    const s = summarize(runs);
    console.log(
      `${label} ${count} images: evaluate / calibrate ${s.ratio}× (pairs ${s.ratios.join(', ')}), peak RSS evaluate ${s.evaluatePeakRssMb} MB, calibrate ${s.calibratePeakRssMb} MB`,
    );
  }
  results.labels[label] = entry;
  fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  writeMarkdown(path.join(path.dirname(out), 'RESULTS.md'), results);
  console.log(`wrote ${path.relative(root, out)} and RESULTS.md`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
