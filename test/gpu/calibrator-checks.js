'use strict';
/* global setImmediate, AbortController */
/**
 * GPU checks of the native calibrator with real pinned host slots and device buffers. Plain JavaScript so the
 * same checks run under jest (test/gpu/calibrator.test.ts, skipped without a CUDA device) and, on the GPU
 * machine that has no jest, through `node test/gpu/run-calibrator-checks.js` against the compiled dist/. They
 * drive the test build of the addon (builder 'test', test hooks): build-test/, or TRT_CALIBRATOR_ADDON.
 *
 * Each check is `{ name, run(lib) }` where lib = { runCalibration, liveNativeAllocations, addonPath } and
 * throws (node:assert) on failure.
 */
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { Worker } = require('node:worker_threads');

const image = { name: 'image', shape: [2, 3, 16, 16], dtype: 'float32' };
const imInfo = { name: 'im_info', shape: [2, 3], dtype: 'float32' };
const ids = { name: 'ids', shape: [2, 5], dtype: 'int32' };

function elements(spec) {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** The bytes the factory writes for `spec` in batch `batch` (distinct per input and batch). */
function bytesFor(spec, batch) {
  const n = elements(spec);
  const a = spec.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  const salt = spec.name.length * 1000 + batch * 17;
  for (let i = 0; i < n; i++) a[i] = spec.dtype === 'int32' ? (salt + i * 7) % 100003 : Math.sin(salt + i) * 100;
  return new Uint8Array(a.buffer);
}

function factory(inputs, batches, mode = 'sync', onFill) {
  return {
    inputs,
    totalBatches: batches,
    calls: [],
    fill(buffers, batchIndex) {
      this.calls.push(batchIndex);
      const write = () => {
        if (batchIndex >= batches) return false;
        for (const spec of inputs) {
          const v = buffers[spec.name];
          new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(bytesFor(spec, batchIndex));
        }
        return true;
      };
      if (mode === 'sync') {
        onFill?.(batchIndex);
        return write();
      }
      return (async () => {
        await new Promise((resolve) => setImmediate(resolve));
        await onFill?.(batchIndex);
        return write();
      })();
    },
    reset() {},
    close() {},
  };
}

function memoryStore(bytes = null) {
  return {
    bytes,
    writes: [],
    async read() {
      return this.bytes;
    },
    async write(b) {
      this.writes.push(b);
    },
  };
}

const zero = { hostBuffers: 0, pinnedBuffers: 0, deviceBuffers: 0, streams: 0, bytes: 0, runs: 0 };

function runScript(addonPath, fillBody) {
  return `
    const addon = require(${JSON.stringify(addonPath)});
    const handle = addon.startCalibration(
      { inputs: [{ name: 'x', shape: [4, 3, 64, 64], dtype: 'float32' }], batchSize: 4, algorithm: 2, memory: 'auto',
        deviceIndex: 0, prefetch: true, builder: 'test', bindingNames: ['x'] },
      { fill: (buffers, i) => { ${fillBody} }, readCache: () => null, writeCache: () => undefined });
    handle.promise.then(() => report('resolved'), (e) => report('rejected ' + e.code));
  `;
}

const checks = [
  {
    name: 'device buffers hold exactly what TypeScript wrote, bound by name (pinned slots, sync and async, copy fallback)',
    async run({ runCalibration, liveNativeAllocations }) {
      for (const [mode, copyBuffers] of [
        ['sync', false],
        ['async', false],
        ['async', true],
      ]) {
        const f = factory([image, imInfo, ids], 4, mode);
        const r = await runCalibration({
          builder: 'test',
          factory: f,
          testHooks: { capture: true, copyBuffers },
          bindingOrder: ['ids', 'image', 'im_info'],
        });
        assert.equal(r.onDevice, true, 'run used device buffers');
        assert.equal(r.pinned, true, 'slots are pinned (cudaHostAlloc)');
        assert.equal(r.externalBuffers, !copyBuffers);
        assert.equal(r.batches, 4);
        assert.equal(r.captures.length, 12);
        for (const c of r.captures) {
          assert.equal(c.device, true, `binding ${c.name} is a device pointer`);
          const spec = [image, imInfo, ids].find((s) => s.name === c.name);
          assert.ok(
            Buffer.from(c.bytes).equals(Buffer.from(bytesFor(spec, c.batch))),
            `device bytes of ${c.name} batch ${c.batch} (${mode}, copy=${copyBuffers})`,
          );
        }
        assert.deepEqual(
          r.captures.slice(0, 3).map((c) => c.name),
          ['ids', 'image', 'im_info'],
        );
        assert.deepEqual(liveNativeAllocations(), zero);
      }
    },
  },
  {
    name: 'contract order, cache hit and progress on the device path',
    async run({ runCalibration }) {
      const store = memoryStore();
      const progress = [];
      const r = await runCalibration({
        builder: 'test',
        factory: factory([image], 3),
        cache: store,
        onProgress: (p) => progress.push(p.batchesDone),
      });
      assert.deepEqual(r.trace, [
        'readCalibrationCache',
        'getBatchSize',
        'getBatch',
        'getBatch',
        'getBatch',
        'getBatch',
        'writeCalibrationCache',
      ]);
      assert.equal(store.writes.length, 1);
      assert.deepEqual(progress, [1, 2, 3]);
      const f = factory([image], 3);
      const hit = await runCalibration({
        builder: 'test',
        factory: f,
        cache: memoryStore(new Uint8Array([84, 82, 84])),
      });
      assert.equal(hit.cacheHit, true);
      assert.deepEqual(f.calls, []);
    },
  },
  {
    name: 'sync and async factory errors reject with the same error; abort mid-run writes nothing',
    async run({ runCalibration, liveNativeAllocations }) {
      const original = new Error('boom');
      for (const mode of ['sync', 'async']) {
        const store = memoryStore();
        const err = await runCalibration({
          builder: 'test',
          factory: factory([image], 5, mode, (i) => {
            if (i === 2) throw original;
          }),
          cache: store,
        }).catch((e) => e);
        assert.equal(err.code, 'ERR_BATCH_FACTORY');
        assert.equal(err.cause, original);
        assert.equal(store.writes.length, 0);
      }
      const controller = new AbortController();
      const reason = new Error('stop');
      const store = memoryStore();
      const err = await runCalibration({
        builder: 'test',
        factory: factory([image], 50, 'async', async (i) => {
          if (i === 3) controller.abort(reason);
          if (i >= 3) await new Promise(() => undefined);
        }),
        cache: store,
        signal: controller.signal,
      }).catch((e) => e);
      assert.equal(err, reason);
      assert.equal(store.writes.length, 0);
      assert.deepEqual(liveNativeAllocations(), zero);
    },
  },
  {
    name: 'two device runs at once',
    async run({ runCalibration }) {
      const other = { ...image, name: 'other' };
      const [a, b] = await Promise.all([
        runCalibration({ builder: 'test', factory: factory([image], 4, 'async'), testHooks: { capture: true } }),
        runCalibration({ builder: 'test', factory: factory([other], 3, 'sync'), testHooks: { capture: true } }),
      ]);
      for (const c of a.captures) assert.ok(Buffer.from(c.bytes).equals(Buffer.from(bytesFor(image, c.batch))));
      for (const c of b.captures) assert.ok(Buffer.from(c.bytes).equals(Buffer.from(bytesFor(other, c.batch))));
    },
  },
  {
    name: 'worker_threads terminate mid-run and process.exit mid-run end cleanly with device memory',
    async run({ addonPath, liveNativeAllocations }) {
      for (const body of [
        `if (i === 2) { report('started'); return new Promise(() => {}); } return true;`,
        `if (i === 2) { report('started'); for (;;) {} } return true;`,
      ]) {
        const worker = new Worker(
          `const { parentPort } = require('node:worker_threads'); const report = (m) => parentPort.postMessage(m);\n${runScript(addonPath, body)}`,
          { eval: true },
        );
        await new Promise((resolve, reject) => {
          worker.on('message', (m) => m === 'started' && resolve());
          worker.on('error', reject);
        });
        // The fill never settles (or never returns): a terminate that waited for it would not return at all.
        assert.equal(await worker.terminate(), 1);
        assert.deepEqual(liveNativeAllocations(), zero);
      }
      for (const body of [
        `if (i === 2) { setTimeout(() => process.exit(7), 10); return new Promise(() => {}); } return true;`,
        `if (i === 2) process.exit(7); return true;`,
      ]) {
        const child = spawn(
          process.execPath,
          ['-e', `const report = (m) => console.log(m);\n${runScript(addonPath, body)}`],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
        assert.deepEqual({ code, signal, stderr }, { code: 7, signal: null, stderr: '' });
      }
    },
  },
  {
    name: '1,000 device runs: zero live pinned, device, stream and run allocations after each',
    async run({ runCalibration, liveNativeAllocations }) {
      // Counters, not RSS or time: every pinned slot, device buffer, stream and run the addon allocates is
      // counted, and each run must leave all of them at zero.
      const spec = { name: 'x', shape: [1, 3, 32, 32], dtype: 'float32' };
      let onDevice = 0;
      for (let i = 0; i < 1000; i++) {
        const result = await runCalibration({ builder: 'test', factory: factory([spec], 2) });
        if (result.onDevice) onDevice++;
        assert.deepEqual(liveNativeAllocations(), zero);
      }
      assert.equal(onDevice, 1000, 'every run used device buffers');
    },
  },
];

module.exports = { checks, bytesFor, factory };
