'use strict';
// Install-time build of the native addon (package.json "install").
// cmake-js + CMakeLists.txt is the build of record; when CMake is missing, fall back to node-gyp and
// binding.gyp (same sources, no TensorRT adapter). Extra CMake options come from the environment:
// TENSORRT_ROOT, TRTC_CUDA, TRTC_TENSORRT (see CMakeLists.txt).
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

function have(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
if (have('cmake')) {
  if (run(process.execPath, [cmakeJs, 'compile'])) process.exit(0);
  console.error('trt-calibrator: cmake-js build failed; trying node-gyp with binding.gyp');
} else {
  console.error('trt-calibrator: CMake not found; building with node-gyp and binding.gyp');
}
let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  nodeGyp = path.join(
    path.dirname(process.env.npm_execpath || ''),
    '..',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
}
if (run(process.execPath, [nodeGyp, 'rebuild'])) process.exit(0);
console.error(
  'trt-calibrator: the native addon could not be built. Install CMake >= 3.18 and a C++17 compiler ' +
    '(or python3, make and g++ for node-gyp), then run `npm rebuild trt-calibrator --build-from-source`.',
);
process.exit(1);
