'use strict';
// bench/bridge: cost of the native calibrator's bridge into JavaScript and of its host-to-device copies.
//   1. getBatch overhead per call, excluding the copy: a 1-element input, a factory that writes nothing, the
//      test driver calling getBatch N times; (time inside getBatch - time uploading) / N. Sync and async fill,
//      host memory and (with a GPU) pinned + device memory.
//   2. H2D throughput of an 8x3x640x640 float32 batch (39.3 MB) through getBatch, as a ratio to a bare
//      cudaMemcpyAsync + cudaStreamSynchronize of the same size from pinned memory (addon.benchBareUpload).
//      The factory writes nothing (the data is already in the pinned slot), so this measures the copy path; a
//      second row has the factory write every element to show what double-buffering hides.
// The test driver and benchBareUpload are in the test build of the addon only: this loads the one
// TRT_CALIBRATOR_ADDON names, else build-test/Release.
// Usage: node bench/bridge/bench.js [--json out.json]
//   (needs dist/: npx tsc -p tsconfig.build.json; and the test build: npx cmake-js compile --out build-test
//   --CDTRTC_TEST_HOOKS=ON)
const path = require('node:path');
const fs = require('node:fs');
const root = path.join(__dirname, '..', '..');
process.env.TRT_CALIBRATOR_ADDON ||= path.join(root, 'build-test', 'Release', 'trt_calibrator.node');
const { runCalibration } = require(path.join(root, 'dist', 'calibrator', 'run.js'));
const { loadAddon } = require(path.join(root, 'dist', 'binding.js'));
const { capabilities } = require(path.join(root, 'dist', 'capabilities.js'));

function noopFactory(shape, batches, mode, write = false) {
  return {
    inputs: [{ name: 'x', shape, dtype: 'float32' }],
    totalBatches: batches,
    fill(buffers, i) {
      if (write && i < batches) buffers.x.fill(i);
      return mode === 'sync' ? i < batches : Promise.resolve(i < batches);
    },
    reset() {},
    close() {},
  };
}

async function overhead(memory, mode, n) {
  await runCalibration({ builder: 'test', factory: noopFactory([1, 1], 200, mode), memory }); // warm-up
  const r = await runCalibration({ builder: 'test', factory: noopFactory([1, 1], n, mode), memory });
  return {
    memory: r.onDevice ? 'pinned+device' : 'host',
    fill: mode,
    calls: r.batches,
    overheadUs: ((r.timings.getBatch - r.timings.upload) / r.batches) * 1e6,
    uploadUs: (r.timings.upload / r.batches) * 1e6,
    waitFillUs: (r.timings.waitFill / r.batches) * 1e6,
  };
}

async function throughput(n, write) {
  const shape = [8, 3, 640, 640];
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  const bare = loadAddon().benchBareUpload(bytes, n);
  await runCalibration({ builder: 'test', factory: noopFactory(shape, 3, 'sync', write) });
  const r = await runCalibration({ builder: 'test', factory: noopFactory(shape, n, 'sync', write) });
  const perBatch = r.timings.getBatch / r.batches;
  const upload = r.timings.upload / r.batches;
  return {
    factory: write ? 'writes every element (Float32Array.fill)' : 'writes nothing',
    bytes,
    batches: r.batches,
    bareMs: bare * 1e3,
    bareGBs: bytes / bare / 1e9,
    getBatchMs: perBatch * 1e3,
    getBatchGBs: bytes / perBatch / 1e9,
    ratio: bare / perBatch,
    uploadOnlyRatio: bare / upload,
    waitFillMs: (r.timings.waitFill / r.batches) * 1e3,
  };
}

(async () => {
  const caps = capabilities();
  const gpu =
    caps.cuda.devices.map((d) => `${d.name} (sm ${d.computeCapability})`).join(', ') || `none (${caps.cuda.error})`;
  const cpu = require('node:os').cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `GPU: ${gpu}\nCPU: ${cpu}, node ${process.version}, CUDA runtime ${caps.cuda.runtimeVersion}, driver ${caps.cuda.driverVersion}\n`,
  );
  const results = { gpu, cpu, node: process.version, overhead: [], throughput: [] };
  const memories = caps.cuda.devices.length ? ['host', 'auto'] : ['host'];
  for (const memory of memories)
    for (const mode of ['sync', 'async']) results.overhead.push(await overhead(memory, mode, 20000));
  console.log('getBatch overhead per call (excluding the copy), 20,000 calls:');
  console.log('| memory | fill | overhead µs/call | upload µs/call | of which waiting for JS µs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const o of results.overhead)
    console.log(
      `| ${o.memory} | ${o.fill} | ${o.overheadUs.toFixed(2)} | ${o.uploadUs.toFixed(2)} | ${o.waitFillUs.toFixed(2)} |`,
    );
  if (caps.cuda.devices.length) {
    for (const write of [false, true]) results.throughput.push(await throughput(30, write));
    console.log('\nH2D of 8x3x640x640 float32 (39.3 MB) per getBatch vs a bare pinned cudaMemcpyAsync, 30 batches:');
    console.log(
      '| factory | bare ms | bare GB/s | getBatch ms | getBatch GB/s | ratio | upload-only ratio | waiting for JS ms |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const t of results.throughput) {
      console.log(
        `| ${t.factory} | ${t.bareMs.toFixed(3)} | ${t.bareGBs.toFixed(1)} | ${t.getBatchMs.toFixed(3)} | ${t.getBatchGBs.toFixed(1)} | ${t.ratio.toFixed(3)} | ${t.uploadOnlyRatio.toFixed(3)} | ${t.waitFillMs.toFixed(3)} |`,
      );
    }
  } else {
    console.log('\n(no CUDA device: H2D throughput not measured)');
  }
  const out = process.argv.indexOf('--json');
  if (out > 0) fs.writeFileSync(process.argv[out + 1], JSON.stringify(results, null, 2));
})();
