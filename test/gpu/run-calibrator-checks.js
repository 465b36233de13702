'use strict';
// Runs test/gpu/calibrator-checks.js without jest (the GPU machine has only node): against dist/ and the test
// build of the addon (the checks use its test builder and hooks), the one named by TRT_CALIBRATOR_ADDON or
// build-test/Release (`npx cmake-js compile --out build-test --CDTRTC_TEST_HOOKS=ON`). Prints one line per
// check; exit status 1 on any failure.
//   node test/gpu/run-calibrator-checks.js
const path = require('node:path');
const root = path.join(__dirname, '..', '..');
const addonPath = path.resolve(
  process.env.TRT_CALIBRATOR_ADDON || path.join(root, 'build-test', 'Release', 'trt_calibrator.node'),
);
process.env.TRT_CALIBRATOR_ADDON = addonPath; // read by dist/binding.js when it first loads the addon
const { runCalibration, liveNativeAllocations } = require(path.join(root, 'dist', 'calibrator', 'run.js'));
const { capabilities } = require(path.join(root, 'dist', 'capabilities.js'));
const { checks } = require('./calibrator-checks.js');

(async () => {
  const caps = capabilities();
  if (caps.cuda.devices.length === 0) {
    console.log(`[skip] no CUDA device: ${caps.cuda.error}`);
    return;
  }
  console.log(`GPU: ${caps.cuda.devices.map((d) => `${d.name} (sm ${d.computeCapability})`).join(', ')}`);
  let failed = 0;
  for (const check of checks) {
    try {
      await check.run({ runCalibration, liveNativeAllocations, addonPath });
      console.log(`  ok   ${check.name}`);
    } catch (err) {
      failed++;
      console.log(`  FAIL ${check.name}\n       ${err && err.stack ? err.stack : err}`);
    }
  }
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
})();
