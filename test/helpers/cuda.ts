/** Shared helpers for tests that depend on hardware. */
import { capabilities } from '../../lib/capabilities';

/** True when a CUDA device is visible; otherwise prints why GPU tests skip (once per file). */
export function cudaDeviceOrSkipReason(): { available: true } | { available: false; reason: string } {
  const caps = capabilities();
  if (caps.cuda.devices.length > 0) return { available: true };
  return {
    available: false,
    reason: caps.cuda.compiled ? (caps.cuda.error ?? 'no CUDA device') : 'CUDA not compiled in',
  };
}

/** `describe` for GPU-only suites: runs them with a device, otherwise skips them and prints the reason. */
export function describeGpu(name: string, fn: () => void): void {
  const status = cudaDeviceOrSkipReason();
  if (status.available) {
    describe(name, fn);
  } else {
    console.log(`[skip] ${name}: no CUDA device (${status.reason})`);
    describe.skip(name, fn);
  }
}
