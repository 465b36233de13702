'use strict';
/**
 * Jest setup of the `test-build` project (jest.config.js): its suites load the test build of the addon,
 * build-test/Release/trt_calibrator.node, unless TRT_CALIBRATOR_ADDON already names an addon (scripts/test.js sets
 * it for the node-gyp and AddressSanitizer builds). Jest gives every test file its own copy of process.env, so
 * this reaches only that project's files; child processes and worker threads the tests start see the real
 * environment, so the suites hand them the path themselves.
 */
const fs = require('node:fs');
const path = require('node:path');

if (!process.env.TRT_CALIBRATOR_ADDON) {
  const file = path.join(__dirname, '..', '..', 'build-test', 'Release', 'trt_calibrator.node');
  if (!fs.existsSync(file)) {
    throw new Error(
      `The test build of the addon is missing (${file}). Build it with ` +
        '`npx cmake-js compile --out build-test --CDTRTC_TEST_HOOKS=ON` (npm test does).',
    );
  }
  process.env.TRT_CALIBRATOR_ADDON = file;
}
