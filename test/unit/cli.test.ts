import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
/** Runs the CLI from source through ts-node-free require of the compiled dist/ build. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('trt-calibrator CLI', () => {
  it('prints help listing the commands', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: trt-calibrator');
    expect(r.stdout).toContain('doctor');
  });

  it('exits 2 on an unknown command', () => {
    const r = cli(['no-such-command']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'no-such-command'");
  });

  it('doctor --json reports the addon, CUDA, TensorRT and onnxruntime', () => {
    const r = cli(['doctor', '--json']);
    expect(r.status).toBe(0);
    const caps = JSON.parse(r.stdout);
    expect(caps.addon.loaded).toBe(true);
    expect(caps.onnxruntime).toMatchObject({ available: true, version: '1.30.0' });
    expect(caps.onnxruntime.providers).toContain('cpu');
    expect(caps.onnxruntime.native).toMatchObject({
      available: true,
      version: '1.30.0',
      library: expect.stringContaining('onnxruntime'),
    });
    expect(typeof caps.cuda.compiled).toBe('boolean');
    if (caps.cuda.devices.length === 0) expect(caps.cuda.error).toEqual(expect.any(String));
  });

  it('doctor says how the builtin backend runs ONNX Runtime', () => {
    const r = cli(['doctor']);
    expect(r.stdout).toMatch(/ {2}inference {4}native: ONNX Runtime 1\.30\.0 C API from the addon \(libonnxruntime/);
  });

  it('doctor explains a failed addon load and exits 7', () => {
    const r = cli(['doctor'], { TRT_CALIBRATOR_ADDON: path.join(root, 'no-such-addon.node') });
    expect(r.status).toBe(7);
    expect(r.stdout).toContain('addon        NOT LOADED');
    expect(r.stdout).toContain('npm rebuild trt-calibrator');
  });
});
