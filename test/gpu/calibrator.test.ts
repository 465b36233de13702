/**
 * The native calibrator with real pinned host slots and device buffers (skips without a CUDA device). The checks
 * live in calibrator-checks.js so the GPU machine, which has node but no jest, runs the same ones through
 * test/gpu/run-calibrator-checks.js. They need the test build of the addon (jest.config.js points this suite at
 * it).
 */
import * as path from 'node:path';
import { liveNativeAllocations, runCalibration } from '../../lib/calibrator/run';
import { describeGpu } from '../helpers/cuda';

interface GpuCheck {
  name: string;
  run(lib: {
    runCalibration: typeof runCalibration;
    liveNativeAllocations: typeof liveNativeAllocations;
    addonPath: string;
  }): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS shared with the jest-less GPU runner
const { checks } = require('./calibrator-checks.js') as { checks: GpuCheck[] };
const addonPath = path.resolve(
  process.env.TRT_CALIBRATOR_ADDON ?? path.join(__dirname, '..', '..', 'build-test', 'Release', 'trt_calibrator.node'),
);

describeGpu('native calibrator on a CUDA device', () => {
  for (const check of checks) {
    it(check.name, () => check.run({ runCalibration, liveNativeAllocations, addonPath }), 120000);
  }
});
