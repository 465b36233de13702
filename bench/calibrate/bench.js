'use strict';
// Calibration benchmark: trt-calibrator's calibrate() (builtin backend, compiled dist/: run
// `npx tsc -p tsconfig.build.json && npx cmake-js compile` first) against what a user would run instead,
// ONNX Runtime's Python entropy calibrator (reference_ort.py ort-entropy), and the floor, plain FP32 ONNX
// Runtime inference of the same images (reference_ort.py floor). Every measurement runs in its own process, one
// at a time, so peak RSS is per mode. Also: peak RSS at N vs 4N images (the list repeated as file copies),
// event-loop delay during our run (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and two calibrations at
// once in one process.
//
// Usage: node bench/calibrate/bench.js [--models det,cls] [--images 100] [--reference 40,100 | --no-reference]
//        [--memory-limit-gb 20] [--only floor,ours,worker,ours4,pair,reference] [--repeat 3] [--out results.json]
// "ours" is calibrate() as users run it (inference 'auto' = ONNX Runtime's C API from the addon); "worker" is
// the same with inference: 'worker' (onnxruntime-node's JS API in a worker thread). floor and ours alternate
// --repeat times and the summary compares their medians: the machine is a shared VM whose speed drifts.
// The reference keeps every activation (about 18.6 GB for 100 detector images): it runs only when `free`
// memory allows, under a watchdog that kills it above --memory-limit-gb, and with a time limit.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const { setInterval, clearInterval, setTimeout, clearTimeout } = require('node:timers');

const root = path.join(__dirname, '..', '..');
const work = path.join(root, 'bench', '.work', 'calibrate');
const assets = path.join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const MODELS = {
  det: {
    file: path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    kind: 'scenes',
    shape: [3, 320, 320],
    pre: { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  },
  cls: {
    file: path.join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    kind: 'text-crops',
    shape: [3, 48, 192],
    pre: { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  },
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function peakRssMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

// ---- child: one calibrate() run (or two at once) in this process, one JSON line on stdout ----
async function child() {
  const { calibrate } = require(path.join(root, 'dist', 'index.js'));
  const [, , , which, dir, count] = process.argv;
  const m = MODELS[which];
  const pair = process.argv.includes('--pair');
  const inference = arg('inference', 'auto');
  const threads = arg('threads', undefined);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const one = (k) =>
    calibrate(m.file, dir, {
      shape: m.shape,
      ...m.pre,
      batchSize: 8,
      cache: path.join(work, `${which}-${count}-${k}.cache`),
      overwrite: true,
      tensorrt: '10.3',
      inference,
      ...(threads ? { threads: Number(threads) } : {}),
    });
  const results = await Promise.all(pair ? [one(0), one(1)] : [one(0)]);
  const wall = (performance.now() - t0) / 1000;
  delay.disable();
  const r = results[0];
  const ms = (ns) => Math.round((ns / 1e6) * 100) / 100;
  const out = {
    mode: pair ? 'ours-pair' : inference === 'worker' ? 'ours-worker' : 'ours',
    inference: r.inference,
    threads: threads ? Number(threads) : 'default',
    images: r.images.used,
    tensors: Object.keys(r.tensors).length,
    wall_s: Math.round(wall * 1000) / 1000,
    hist_s: Math.round((r.timings.histogramMs + r.timings.thresholdMs) / 10) / 100,
    timings_ms: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v)])),
    peak_rss_mb: Math.round(peakRssMb() * 10) / 10,
    event_loop_delay_ms: {
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
      samples: delay.count,
    },
  };
  if (pair) out.both_ok = results.length === 2 && results.every((x) => x.images.used === r.images.used && !x.fromCache);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---- parent ----
function freeGb() {
  const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 / 1024 : os.freemem() / 2 ** 30;
}

/** Runs a command, watching its RSS (killed above limitGb) and wall time; resolves with its last JSON line. */
function runWatched(cmd, args, { limitGb = Infinity, timeoutS = 1800 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const watch = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m && Number(m[1]) / 1024 / 1024 > limitGb) {
          killed = `RSS above ${limitGb} GB`;
          p.kill('SIGKILL');
        }
      } catch {
        // exited
      }
    }, 250);
    const timer = setTimeout(() => {
      killed = `over ${timeoutS} s`;
      p.kill('SIGKILL');
    }, timeoutS * 1000);
    p.on('close', (code) => {
      clearInterval(watch);
      clearTimeout(timer);
      const line = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code === 0 && line) resolve(JSON.parse(line));
      else
        resolve({
          mode: args.join(' ').slice(0, 80),
          error: killed || `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
        });
    });
  });
}

function ensureImages(kind, count) {
  const dir = path.join(work, `${kind}-${count}`);
  const base = path.join(work, `${kind}-100`);
  if (!fs.existsSync(base) || fs.readdirSync(base).length < 100) {
    execFileSync(
      process.execPath,
      [path.join(root, 'dist', 'cli.js'), 'sample-images', base, '--kind', kind, '--count', '100'],
      { stdio: 'ignore' },
    );
  }
  if (count === 100) return dir;
  // Larger sets: the 100 images repeated as copies (as reference_ort.py --repeat does).
  if (!fs.existsSync(dir) || fs.readdirSync(dir).length < count) {
    fs.mkdirSync(dir, { recursive: true });
    const files = fs.readdirSync(base).sort();
    for (let i = 0; i < count; i++)
      fs.copyFileSync(
        path.join(base, files[i % files.length]),
        path.join(dir, `r${String(i).padStart(5, '0')}-${files[i % files.length]}`),
      );
  }
  return dir;
}

function pyArgs(mode, m, dir, limit) {
  return [
    path.join(__dirname, 'reference_ort.py'),
    mode,
    m.file,
    dir,
    '--height',
    String(m.shape[1]),
    '--width',
    String(m.shape[2]),
    '--batch',
    '8',
    '--scale',
    String(m.pre.scale),
    '--mean',
    m.pre.mean.join(','),
    '--std',
    m.pre.std.join(','),
    ...(limit ? ['--limit', String(limit)] : []),
  ];
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  return {
    cpu: cpu ? cpu[1] : os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    ram_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
}

async function parent() {
  const models = arg('models', 'det,cls').split(',');
  const n = Number(arg('images', '100'));
  const refCounts = process.argv.includes('--no-reference') ? [] : arg('reference', '40,100').split(',').map(Number);
  const limitGb = Number(arg('memory-limit-gb', '20'));
  const only = new Set(arg('only', 'floor,ours,worker,ours4,pair,reference').split(','));
  // floor and ours alternate this many times; the summary compares medians (the machine is a shared VM).
  const repeat = Number(arg('repeat', '3'));
  fs.mkdirSync(work, { recursive: true });
  const results = { machine: machine(), runs: [] };
  const record = (model, images, r) => {
    results.runs.push({ model, images_listed: images, ...r });
    process.stdout.write(`${model} ${images}: ${JSON.stringify(r)}\n`);
  };
  const self = path.join(__dirname, 'bench.js');
  for (const key of models) {
    const m = MODELS[key];
    const dir = ensureImages(m.kind, n);
    const big = ensureImages(m.kind, 4 * n);
    for (let i = 0; i < repeat; i++) {
      if (only.has('floor')) record(key, n, await runWatched('python3', pyArgs('floor', m, dir)));
      if (only.has('ours')) record(key, n, await runWatched(process.execPath, [self, '--child', key, dir, String(n)]));
    }
    // The onnxruntime-node worker path (inference: 'worker'), for comparison with the native one.
    if (only.has('worker'))
      record(
        key,
        n,
        await runWatched(process.execPath, [self, '--child', key, dir, String(n), '--inference', 'worker']),
      );
    if (only.has('ours4'))
      record(key, 4 * n, await runWatched(process.execPath, [self, '--child', key, big, String(4 * n)]));
    if (only.has('pair'))
      record(key, n, await runWatched(process.execPath, [self, '--child', key, dir, String(n), '--pair']));
    for (const count of only.has('reference') ? refCounts : []) {
      const need = key === 'det' ? (18.6 * count) / 100 + 1 : 4;
      if (need > Math.min(limitGb, freeGb() - 1)) {
        record(key, count, {
          mode: 'ort-entropy',
          error: `skipped: needs ~${need.toFixed(1)} GB, ${freeGb().toFixed(1)} GB available, limit ${limitGb} GB`,
        });
        continue;
      }
      record(
        key,
        count,
        await runWatched('python3', pyArgs('ort-entropy', m, dir, count), { limitGb, timeoutS: 1500 }),
      );
    }
  }
  // Ratios per model.
  const summary = {};
  for (const key of models) {
    const runs = results.runs.filter((r) => r.model === key && !r.error);
    const median = (list) => {
      const sorted = [...list].sort((a, b) => a.wall_s - b.wall_s);
      return sorted[Math.floor((sorted.length - 1) / 2)];
    };
    const floors = runs.filter((r) => r.mode === 'floor');
    const oursN = runs.filter((r) => r.mode === 'ours' && r.images_listed === n);
    const floor = floors.length ? median(floors) : undefined;
    const ours = oursN.length ? median(oursN) : undefined;
    const worker = runs.find((r) => r.mode === 'ours-worker');
    const ours4 = runs.find((r) => r.mode === 'ours' && r.images_listed === 4 * n);
    const refs = runs.filter((r) => r.mode === 'ort-entropy');
    const ref = refs.find((r) => r.images === ours?.images) ?? refs[refs.length - 1];
    summary[key] = {
      floor_s_median: floor?.wall_s ?? null,
      ours_s_median: ours?.wall_s ?? null,
      floor_s_all: floors.map((r) => r.wall_s),
      ours_s_all: oursN.map((r) => r.wall_s),
      ours_over_floor: floor && ours ? +(ours.wall_s / floor.wall_s).toFixed(2) : null,
      worker_s: worker?.wall_s ?? null,
      worker_over_ours: worker && ours ? +(worker.wall_s / ours.wall_s).toFixed(2) : null,
      reference_over_ours: ref && ours ? +(ref.wall_s / ref.images / (ours.wall_s / ours.images)).toFixed(1) : null,
      reference_images: ref?.images ?? null,
      rss_mb_n_vs_4n: ours && ours4 ? [ours.peak_rss_mb, ours4.peak_rss_mb] : null,
      event_loop_p99_ms: ours?.event_loop_delay_ms.p99 ?? null,
    };
  }
  results.summary = summary;
  console.log(JSON.stringify(summary, null, 2));
  const out = arg('out', path.join(work, `results-${Date.now()}.json`));
  fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

(process.argv[2] === '--child' ? child() : parent()).catch((err) => {
  console.error(err);
  process.exit(1);
});
