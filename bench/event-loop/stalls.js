'use strict';
// Event-loop stalls during calibrate(): what blocks the JS thread for longer than --threshold ms
// (default 20) while one calibration, or two at once, runs in a process, start-up included.
//
// Each run is a fresh process (so the first call's costs — addon load, worker start, model parsing — are in it):
//   1. plain: perf_hooks.monitorEventLoopDelay({ resolution: 1 }) around the whole calibrate() → max, p99;
//   2. profiled: the same under `node --cpu-prof` (main thread sampled every --interval µs), plus a 1 ms timer
//      chain that records every gap longer than the threshold with its start and end (process.hrtime, the clock
//      the profile's timestamps use). The profile samples inside each gap name what ran: the innermost function
//      of the package's own code (dist/) and the function at the top of the stack (self time). A native call
//      made from JS (the addon, dlopen) counts as self time of the JS function that made it.
//   3. traced: the same with timestamps around every call that crosses a module boundary of the package (the
//      exported functions and class methods of dist/, called through their module objects), every method of the
//      addon, the synchronous fs calls and Worker construction, plus GC pauses (PerformanceObserver 'gc'). For an
//      async function the time is its synchronous part, the part that blocks. Each gap lists the calls inside it.
// The profiled and traced runs are slower than the plain one; their numbers attribute, the plain ones measure.
// On-CPU times come from the scheduler's counters, which the kernel brings up to date at context switches and timer
// ticks (every 4 ms here): a gap's on-CPU figure is exact to about one tick.
//
// Usage: node bench/event-loop/stalls.js [--model det|cls] [--images 24] [--modes single,pair] [--repeat 1]
//        [--threshold 20] [--interval 250] [--out results.json]
// Needs the compiled package (npx tsc -p tsconfig.build.json) and the addon (build/Release).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance, monitorEventLoopDelay } = require('node:perf_hooks');
const { setTimeout } = require('node:timers');

const root = path.join(__dirname, '..', '..');
const work = path.join(root, 'bench', '.work', 'event-loop');
const assets = path.join(root, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const MODELS = {
  det: {
    file: path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    kind: 'scenes',
    options: {
      shape: [3, 320, 320],
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    },
  },
  cls: {
    file: path.join(assets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    kind: 'text-crops',
    options: { shape: [3, 48, 192], scale: 1 / 255, mean: 0.5, std: 0.5 },
  },
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The main thread's scheduler counters (Linux /proc/<pid>/task/<pid>/schedstat): ns on a CPU and ns waiting in
 * the run queue. On-CPU time is what a stall costs on an idle machine; run-queue time is other processes
 * holding the cores (this machine's 2 cores are shared). Read with fs.readSync kept aside before any tracing.
 */
const schedstat = (() => {
  const file = `/proc/${process.pid}/task/${process.pid}/schedstat`;
  if (!fs.existsSync(file)) return () => ({ cpuNs: 0, waitNs: 0 });
  const fd = fs.openSync(file, 'r');
  const readSync = fs.readSync;
  const buf = Buffer.alloc(128);
  return () => {
    const [cpu, wait] = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ');
    return { cpuNs: Number(cpu), waitNs: Number(wait) };
  };
})();

// ---- child: one calibrate() (or two at once), measured; one JSON line on stdout ----
async function child() {
  const model = MODELS[arg('model', 'det')];
  const pair = arg('mode', 'single') === 'pair';
  const threshold = Number(arg('threshold', '20'));
  const dir = arg('dir');
  const tRequire = performance.now();
  const { calibrate } = require(path.join(root, 'dist', 'index.js'));
  const requireMs = performance.now() - tRequire;
  const trace = process.argv.includes('--trace') ? startTrace() : undefined;

  // Gaps of a 1 ms timer chain: when the loop could not run it for longer than the threshold, and from when.
  const gaps = [];
  let last = nowUs();
  let lastSched = schedstat();
  let ticking = true;
  const tick = () => {
    const t = nowUs();
    const sched = schedstat();
    if (t - last > threshold * 1000)
      gaps.push({
        startUs: last,
        endUs: t,
        cpuMs: round((sched.cpuNs - lastSched.cpuNs) / 1e6),
        waitMs: round((sched.waitNs - lastSched.waitNs) / 1e6),
      });
    last = t;
    lastSched = sched;
    if (ticking) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const marks = [{ name: 'calibrate() called', atUs: nowUs() }];
  const one = (k) =>
    calibrate(model.file, dir, {
      ...model.options,
      batchSize: 8,
      tensorrt: '10.3',
      cache: path.join(work, `stalls-${process.pid}-${k}.cache`),
      overwrite: true,
      onProgress: (p) => {
        if (p.batchesDone === 1)
          marks.push({
            name: `run ${k}: first batch done`,
            atUs: nowUs(),
            heapMb: round(process.memoryUsage().heapUsed / 2 ** 20),
          });
      },
    });
  const t0 = performance.now();
  const results = await Promise.all(pair ? [one(0), one(1)] : [one(0)]);
  const wallMs = performance.now() - t0;
  marks.push({ name: 'calibrate() settled', atUs: nowUs(), heapMb: round(process.memoryUsage().heapUsed / 2 ** 20) });
  delay.disable();
  ticking = false;
  const records = trace ? trace() : {}; // before the clean-up below, which is not calibrate()'s
  for (const k of [0, 1]) fs.rmSync(path.join(work, `stalls-${process.pid}-${k}.cache`), { force: true });
  const ms = (ns) => round(ns / 1e6, 2);
  process.stdout.write(
    `${JSON.stringify({
      requireMs: round(requireMs),
      wallMs: round(wallMs),
      images: results.map((r) => r.images.used),
      timings: results[0].timings,
      loop: { max: ms(delay.max), p99: ms(delay.percentile(99)), p50: ms(delay.percentile(50)), count: delay.count },
      gaps,
      marks,
      ...records,
    })}\n`,
  );
}

const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

/**
 * Wraps the package's module boundaries, the addon's methods, fs's synchronous calls and Worker construction with
 * timestamps (calls of 1 ms or more are kept), and observes GC pauses. Returns a function giving the records.
 */
function startTrace() {
  const { PerformanceObserver } = require('node:perf_hooks');
  const calls = [];
  let depth = 0;
  // Handles the addon returns (an ONNX Runtime session, a run) are plain objects of native functions: timed too.
  const wrapHandle = (value, label) => {
    if (value === null || typeof value !== 'object') return value;
    if (typeof value.then === 'function') {
      value.then((v) => wrapHandle(v, label)).catch(() => undefined);
      return value;
    }
    for (const key of Object.keys(value)) if (typeof value[key] === 'function') wrap(value, key, `${label}.${key}`);
    return value;
  };
  const wrap = (owner, key, label) => {
    const orig = owner[key];
    if (typeof orig !== 'function' || orig.traced) return;
    const traced = function (...args) {
      const start = nowUs();
      const cpu = schedstat().cpuNs;
      depth++;
      try {
        const result = orig.apply(this, args);
        return label.startsWith('addon.') ? wrapHandle(result, `${label}()`) : result;
      } finally {
        depth--;
        const us = nowUs() - start;
        if (us >= 1000)
          calls.push({
            label,
            startUs: start,
            ms: round(us / 1000, 2),
            cpuMs: round((schedstat().cpuNs - cpu) / 1e6, 2),
            depth,
          });
      }
    };
    traced.traced = true;
    const desc = Object.getOwnPropertyDescriptor(owner, key);
    if (!desc || !('value' in desc)) return;
    if (desc.writable) owner[key] = traced;
    else if (desc.configurable) Object.defineProperty(owner, key, { ...desc, value: traced });
  };
  const isClass = (fn) => Function.prototype.toString.call(fn).startsWith('class');
  // Per-element helpers called thousands of times per model (each dim, each tensor type): timing them would cost
  // more than they do (two schedstat reads per call) and inflate their callers' figures.
  const untraced = new Set(['int64ToNumber', 'elemTypeName', 'elemTypeToDType']);
  const distRoot = path.join(root, 'dist') + path.sep;
  for (const [file, mod] of Object.entries(require.cache)) {
    if (!file.startsWith(distRoot) || !mod || typeof mod.exports !== 'object') continue;
    const name = path.relative(distRoot, file).replace(/\.js$/, '');
    for (const key of Object.keys(mod.exports)) {
      const desc = Object.getOwnPropertyDescriptor(mod.exports, key);
      if (!desc || !('value' in desc) || typeof desc.value !== 'function') continue; // re-exports are getters
      const fn = desc.value;
      if (isClass(fn)) {
        for (const m of Object.getOwnPropertyNames(fn.prototype)) {
          const d = Object.getOwnPropertyDescriptor(fn.prototype, m);
          if (m !== 'constructor' && d && 'value' in d && typeof d.value === 'function')
            wrap(fn.prototype, m, `${name}: ${key}.${m}`);
        }
        for (const m of Object.getOwnPropertyNames(fn)) {
          const d = Object.getOwnPropertyDescriptor(fn, m);
          if (d && 'value' in d && typeof d.value === 'function' && d.writable) wrap(fn, m, `${name}: ${key}.${m}`);
        }
      } else if (key !== 'loadAddon' && !untraced.has(key)) wrap(mod.exports, key, `${name}: ${key}`);
    }
  }
  // The addon: its first load is timed, then every method of the object it returns.
  const binding = require(path.join(root, 'dist', 'binding.js'));
  const loadAddon = binding.loadAddon;
  binding.loadAddon = function () {
    const start = nowUs();
    const cpu = schedstat().cpuNs;
    const addon = loadAddon();
    const us = nowUs() - start;
    if (us >= 1000)
      calls.push({
        label: 'binding: loadAddon',
        startUs: start,
        ms: round(us / 1000, 2),
        cpuMs: round((schedstat().cpuNs - cpu) / 1e6, 2),
        depth,
      });
    if (!addon.tracedMethods) {
      for (const key of Object.keys(addon)) {
        const value = addon[key];
        const methods =
          typeof value === 'function' && value.prototype ? Object.getOwnPropertyNames(value.prototype) : [];
        if (methods.length <= 1) wrap(addon, key, `addon.${key}`);
        // A native class: its methods are timed, the constructor stays as it is (instances keep their prototype).
        else for (const m of methods) if (m !== 'constructor') wrap(value.prototype, m, `addon.${key}.${m}`);
      }
      addon.tracedMethods = true;
    }
    return addon;
  };
  for (const key of Object.keys(fs)) if (key.endsWith('Sync')) wrap(fs, key, `fs.${key}`);
  // protobuf decoding and encoding of whole models (also where the package calls them after an await).
  const { onnx } = require('onnx-proto');
  wrap(onnx.ModelProto, 'decode', 'onnx-proto: ModelProto.decode');
  wrap(onnx.ModelProto, 'encode', 'onnx-proto: ModelProto.encode');
  const threads = require('node:worker_threads');
  const Worker = threads.Worker;
  threads.Worker = class TracedWorker extends Worker {
    constructor(...args) {
      const start = nowUs();
      const cpu = schedstat().cpuNs;
      super(...args);
      calls.push({
        label: 'new Worker()',
        startUs: start,
        ms: round((nowUs() - start) / 1000, 2),
        cpuMs: round((schedstat().cpuNs - cpu) / 1e6, 2),
        depth,
      });
    }
  };
  const gc = [];
  const originUs = nowUs();
  const originMs = performance.now();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.duration >= 1)
        gc.push({
          startUs: originUs + (e.startTime - originMs) * 1000,
          ms: round(e.duration, 2),
          kind: GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind),
        });
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    return { calls: [...calls], gc: [...gc] };
  };
}

// ---- parent: runs the children, reads their profiles ----
function run(args, nodeFlags) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeFlags, path.join(__dirname, 'stalls.js'), '--child', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`child exited with ${code}:\n${err}\n${out}`));
      else resolve(JSON.parse(line));
    });
  });
}

/** Where a profile frame comes from, short: 'dist/onnx/model.js', 'onnx-proto/…', 'node:fs', '' (native/VM). */
function where(url) {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  if (u.startsWith('node:')) return u;
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  if (u.startsWith(root)) return path.relative(root, u);
  return u;
}

function frameName(cf) {
  const fn = cf.functionName || '(anonymous)';
  const w = where(cf.url);
  return w ? `${fn} (${w}:${cf.lineNumber + 1})` : fn;
}

/** The samples of a .cpuprofile as [{ t (µs), dt (µs), stack: [leaf … root] }]. */
function readProfile(file) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = new Map();
  const stack = (id) => {
    if (stackOf.has(id)) return stackOf.get(id);
    const frames = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) frames.push(byId.get(cur).callFrame);
    stackOf.set(id, frames);
    return frames;
  };
  const samples = [];
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    samples.push({ t, stack: stack(prof.samples[i]) });
  }
  for (let i = 0; i < samples.length; i++) samples[i].dt = i + 1 < samples.length ? samples[i + 1].t - samples[i].t : 0;
  return samples;
}

const IDLE = new Set(['(idle)', '(program)', '(root)']);

/** What ran inside [startUs, endUs): ms by innermost package function, by self function, and by stage label. */
function attribute(samples, startUs, endUs) {
  const pkg = new Map();
  const self = new Map();
  let busy = 0;
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  for (const s of samples) {
    if (s.t < startUs || s.t >= endUs) continue;
    const dt = Math.min(s.dt, endUs - s.t) / 1000;
    const leaf = s.stack[0];
    if (IDLE.has(leaf.functionName) && s.stack.length <= 2) continue;
    busy += dt;
    add(self, frameName(leaf), dt);
    const own = s.stack.find((cf) => where(cf.url).startsWith('dist/'));
    add(pkg, own ? frameName(own) : `(no package frame) ${frameName(s.stack[s.stack.length - 2] ?? leaf)}`, dt);
  }
  const top = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, v]) => ({ name, ms: round(v) }));
  return { busyMs: round(busy), package: top(pkg, 6), self: top(self, 6) };
}

async function parent() {
  const modelName = arg('model', 'det');
  const model = MODELS[modelName];
  const count = Number(arg('images', '24'));
  const modes = arg('modes', 'single,pair').split(',');
  const repeat = Number(arg('repeat', '1'));
  const threshold = arg('threshold', '20');
  const interval = arg('interval', '250');
  const dir = path.join(work, `${model.kind}-${count}`);
  fs.mkdirSync(work, { recursive: true });
  if (!fs.existsSync(dir) || fs.readdirSync(dir).length !== count) {
    const { makeSyntheticImages } = require(path.join(root, 'dist', 'index.js'));
    fs.rmSync(dir, { recursive: true, force: true });
    await makeSyntheticImages(dir, { kind: model.kind, count });
  }
  console.log(
    `${modelName} ${model.options.shape.join('x')}, ${count} ${model.kind} images, batch 8; ` +
      `${os.cpus()[0].model.trim()}, ${os.availableParallelism()} cores, Node ${process.version}`,
  );
  const results = [];
  for (let r = 0; r < repeat; r++) {
    for (const mode of modes) {
      const args = ['--model', modelName, '--mode', mode, '--threshold', threshold, '--dir', dir];
      const plain = await run(args, []);
      const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-stalls-'));
      const profiled = await run(args, ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', interval]);
      const profFile = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      const samples = readProfile(path.join(profDir, profFile));
      fs.rmSync(profDir, { recursive: true, force: true });
      const traced = await run([...args, '--trace'], []);
      const origin = profiled.marks[0].atUs;
      const stalls = profiled.gaps.map((g) => ({
        atMs: round((g.startUs - origin) / 1000),
        ms: round((g.endUs - g.startUs) / 1000),
        cpuMs: g.cpuMs,
        waitMs: g.waitMs,
        ...attribute(samples, g.startUs, g.endUs),
      }));
      const tOrigin = traced.marks[0].atUs;
      const tracedStalls = traced.gaps.map((g) => ({
        atMs: round((g.startUs - tOrigin) / 1000),
        ms: round((g.endUs - g.startUs) / 1000),
        cpuMs: g.cpuMs,
        waitMs: g.waitMs,
        // Calls that started inside the gap, or started before it and ended inside it.
        calls: traced.calls
          .filter((c) => c.startUs < g.endUs && c.startUs + c.ms * 1000 > g.startUs)
          .sort((a, b) => a.startUs - b.startUs || a.depth - b.depth)
          .map((c) => ({
            label: c.label,
            ms: c.ms,
            cpuMs: c.cpuMs,
            depth: c.depth,
            atMs: round((c.startUs - tOrigin) / 1000),
          })),
        gc: traced.gc
          .filter((c) => c.startUs < g.endUs && c.startUs + c.ms * 1000 > g.startUs)
          .map((c) => `${c.kind} ${c.ms} ms`),
      }));
      const entry = {
        mode,
        plain: {
          loop: plain.loop,
          // The longest gap counting only the main thread's own CPU time in it: the stall on an idle machine.
          maxOnCpuMs: Math.max(0, ...plain.gaps.map((g) => g.cpuMs)),
          gaps: plain.gaps.map((g) => ({ ms: round((g.endUs - g.startUs) / 1000), cpuMs: g.cpuMs, waitMs: g.waitMs })),
          wallMs: plain.wallMs,
          requireMs: plain.requireMs,
          images: plain.images,
        },
        profiled: {
          loop: profiled.loop,
          wallMs: profiled.wallMs,
          marks: profiled.marks.map((m) => ({ ...m, atUs: undefined, atMs: round((m.atUs - origin) / 1000) })),
          stalls,
        },
        traced: {
          loop: traced.loop,
          wallMs: traced.wallMs,
          stalls: tracedStalls,
          calls: traced.calls
            .filter((c) => c.ms >= 2)
            .map((c) => ({ ...c, atMs: round((c.startUs - tOrigin) / 1000) })),
          gc: traced.gc.map((g) => ({ kind: g.kind, ms: g.ms, atMs: round((g.startUs - tOrigin) / 1000) })),
        },
        loadAverage: os.loadavg().map((x) => round(x, 2)),
      };
      results.push(entry);
      console.log(
        `\n${mode} (load average ${entry.loadAverage.join(', ')}): max ${plain.loop.max} ms, p99 ${plain.loop.p99} ms, p50 ${plain.loop.p50} ms ` +
          `(plain run, ${round(plain.wallMs / 1000, 2)} s; require of the package before it: ${plain.requireMs} ms)`,
      );
      // Gaps where the main thread ran 2 ms or more, each; the others (it was waiting for a CPU) summed up.
      const busy = entry.plain.gaps.filter((g) => g.cpuMs >= 2);
      const waiting = entry.plain.gaps.filter((g) => g.cpuMs < 2);
      console.log(
        `  plain run's gaps > ${threshold} ms: ` +
          (busy.map((g) => `${g.ms} (on CPU ${g.cpuMs}, waiting ${g.waitMs})`).join(', ') || 'none with 2 ms on CPU') +
          (waiting.length
            ? `; and ${waiting.length} with under 2 ms on CPU (waiting for a CPU, up to ${Math.max(...waiting.map((g) => g.ms))} ms)`
            : '') +
          `; longest on-CPU part ${entry.plain.maxOnCpuMs} ms`,
      );
      console.log(
        `  profiled run: max ${profiled.loop.max} ms, ${stalls.length} gap(s) > ${threshold} ms; ` +
          profiled.marks
            .map(
              (m) =>
                `${m.name} +${round((m.atUs - origin) / 1000)} ms${m.heapMb === undefined ? '' : ` (JS heap ${m.heapMb} MB)`}`,
            )
            .join(', '),
      );
      for (const s of stalls) {
        // Samples are taken whatever the thread does (a native call or syscall shows its JS caller): a gap with
        // few samples is time the main thread was not on a CPU at all (other processes had the cores).
        const offCpu = s.busyMs < s.ms / 2 ? ' — mostly off CPU (machine busy)' : '';
        console.log(
          `  stall of ${s.ms} ms at +${s.atMs} ms (on CPU ${s.cpuMs} ms, waiting for a CPU ${s.waitMs} ms; ${s.busyMs} ms of main-thread samples${offCpu}):`,
        );
        console.log(`    package code: ${s.package.map((p) => `${p.name} ${p.ms} ms`).join('; ')}`);
        console.log(`    top of stack: ${s.self.map((p) => `${p.name} ${p.ms} ms`).join('; ')}`);
      }
      console.log(`  traced run: max ${traced.loop.max} ms, ${tracedStalls.length} gap(s) > ${threshold} ms`);
      for (const s of tracedStalls) {
        console.log(
          `  stall of ${s.ms} ms at +${s.atMs} ms (on CPU ${s.cpuMs} ms, waiting for a CPU ${s.waitMs} ms)${s.gc.length ? `, GC: ${s.gc.join(', ')}` : ''}:`,
        );
        for (const c of s.calls.filter((c) => c.ms >= 2))
          console.log(`    ${'  '.repeat(c.depth)}${c.label} ${c.ms} ms, on CPU ${c.cpuMs} ms (at +${c.atMs} ms)`);
      }
    }
  }
  // Traced runs: the longest single synchronous call per function, over the runs (min / median / max), by the
  // main thread's own CPU time in it (what it blocks on an idle machine) and by wall time.
  const longest = new Map();
  for (const e of results) {
    const perRun = new Map();
    for (const c of e.traced.calls) {
      const [cpu, wall] = perRun.get(c.label) ?? [0, 0];
      perRun.set(c.label, [Math.max(cpu, c.cpuMs), Math.max(wall, c.ms)]);
    }
    for (const [label, v] of perRun) longest.set(label, [...(longest.get(label) ?? []), v]);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const stats = (xs) => `${Math.min(...xs)} / ${median(xs)} / ${Math.max(...xs)}`.padStart(22);
  console.log(
    `\nlongest synchronous calls (traced runs, ${results.length} of them): on-CPU ms min / median / max, wall ms min / median / max, runs`,
  );
  for (const [label, v] of [...longest.entries()]
    .sort((a, b) => median(b[1].map((x) => x[0])) - median(a[1].map((x) => x[0])))
    .slice(0, 18))
    console.log(`  ${stats(v.map((x) => x[0]))}  ${stats(v.map((x) => x[1]))}  ${v.length}  ${label}`);
  const gcs = results.flatMap((e) => e.traced.gc.filter((g) => g.ms >= 10));
  console.log(
    `GC pauses of 10 ms or more (traced runs): ${gcs.length}; ` +
      ['minor', 'major', 'incremental', 'weakcb']
        .map((k) => [k, gcs.filter((g) => g.kind === k).map((g) => g.ms)])
        .filter(([, xs]) => xs.length > 0)
        .map(([k, xs]) => `${k} ${xs.length}× (${Math.min(...xs)}–${Math.max(...xs)} ms)`)
        .join(', '),
  );
  const maxes = (key) => results.filter((e) => e.mode === key).map((e) => e.plain.maxOnCpuMs);
  const loads = results.map((e) => e.loadAverage[0]);
  console.log(`load average (1 min) after each mode: ${Math.min(...loads)}–${Math.max(...loads)}`);
  for (const mode of modes)
    console.log(
      `${mode}: longest on-CPU stall in the plain runs ${stats(maxes(mode))} ms (min / median / max); event-loop max ${stats(results.filter((e) => e.mode === mode).map((e) => e.plain.loop.max))} ms, p99 ${stats(results.filter((e) => e.mode === mode).map((e) => e.plain.loop.p99))} ms`,
    );
  // Over every stall of every run: which package functions the blocked time went to.
  const total = new Map();
  for (const e of results)
    for (const s of e.profiled.stalls) for (const p of s.package) total.set(p.name, (total.get(p.name) ?? 0) + p.ms);
  console.log('\ntop blocking package functions over all stalls (profiled runs):');
  for (const [name, v] of [...total.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${String(round(v)).padStart(7)} ms  ${name}`);
  const out = arg('out');
  if (out) {
    fs.writeFileSync(
      out,
      `${JSON.stringify(
        {
          machine: `${os.cpus()[0].model.trim()}, ${os.availableParallelism()} cores, ${round(os.totalmem() / 2 ** 30)} GiB`,
          node: process.version,
          model: modelName,
          images: count,
          threshold: Number(threshold),
          results,
        },
        null,
        1,
      )}\n`,
    );
  }
}

if (process.argv.includes('--child')) {
  child().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  parent().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
