'use strict';
// Helper for binding.gyp (node-gyp fallback build): prints configuration values that gyp cannot compute.
//   node scripts/gyp-config.js cuda   -> the CUDA toolkit root, or nothing when absent or TRTC_CUDA=OFF
//   node scripts/gyp-config.js napi   -> node-addon-api's include directory
//   node scripts/gyp-config.js test-hooks -> 1 for the test build (environment TRTC_TEST_HOOKS=1 or ON), else 0
const fs = require('node:fs');
const path = require('node:path');

function cudaRoot() {
  if ((process.env.TRTC_CUDA || '').toUpperCase() === 'OFF') return '';
  const candidates = [process.env.CUDA_PATH, process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean);
  for (const root of candidates) {
    if (
      fs.existsSync(path.join(root, 'include', 'cuda_runtime_api.h')) &&
      fs.existsSync(path.join(root, 'lib64', 'libcudart_static.a'))
    ) {
      return path.resolve(root);
    }
  }
  return '';
}

const what = process.argv[2];
if (what === 'cuda') process.stdout.write(cudaRoot());
else if (what === 'napi') process.stdout.write(require('node-addon-api').include_dir);
else if (what === 'test-hooks')
  process.stdout.write(['1', 'ON', 'TRUE'].includes((process.env.TRTC_TEST_HOOKS || '').toUpperCase()) ? '1' : '0');
else {
  process.stderr.write(`unknown query ${what}\n`);
  process.exit(2);
}
