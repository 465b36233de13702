/**
 * The committed prebuilt addons (prebuilds/, made by scripts/prebuild.sh): `node scripts/prebuilds.js check`
 * passes on them (SHA256SUMS, BUILDINFO.json, ELF machine, symbol versions no newer than Ubuntu 20.04 / JetPack 5
 * have, only the C/C++ runtimes linked) and fails on a tampered copy; the linux-x64 one (this machine's) loads
 * through TRT_CALIBRATOR_ADDON, says what it is, and calibrates the sample classifier -- to the same cache as the
 * addon built from the current sources when the prebuilds were built from them (BUILDINFO.json's source hash).
 * The arm64 one runs under emulation in `bash scripts/arm64-emulation.sh` (bench/arm64-emulation/RESULTS.md).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { CLASSIFIER } from '../helpers/models';

const root = path.join(__dirname, '..', '..');
const PREBUILDS = path.join(root, 'prebuilds');
const X64 = path.join(PREBUILDS, 'linux-x64', 'trt_calibrator.node');
const CLI = path.join(root, 'dist', 'cli.js');
const PRE = ['--shape', '3x48x192', '--scale', '0.00392156862745098', '--mean', '0.5', '--std', '0.5'];
let dir: string;

interface CheckResult {
  errors: string[];
  warnings: string[];
  addons: Record<string, { size: number; needs: Record<string, string>; needed: string[]; machine: string }>;
}

function check(prebuildsDir: string): { status: number | null; result: CheckResult } {
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'scripts', 'prebuilds.js'), 'check', '--json', '--dir', prebuildsDir],
    {
      encoding: 'utf8',
    },
  );
  return { status: r.status, result: JSON.parse(r.stdout) as CheckResult };
}

function cli(args: string[], addon?: string) {
  const env = { ...process.env, TRT_CALIBRATOR_ADDON: addon };
  if (!addon) delete env.TRT_CALIBRATOR_ADDON;
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-prebuilds-'));
  await makeSyntheticImages(path.join(dir, 'crops'), { count: 8, seed: 5 });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('committed prebuilds', () => {
  it('pass the check: checksums, machine, symbol versions, linked libraries', () => {
    const { status, result } = check(PREBUILDS);
    expect(result.errors).toEqual([]);
    expect(status).toBe(0);
    expect(Object.keys(result.addons).sort()).toEqual(['linux-arm64', 'linux-x64']);
    expect(result.addons['linux-x64'].machine).toBe('Advanced Micro Devices X86-64');
    expect(result.addons['linux-arm64'].machine).toBe('AArch64');
    for (const a of Object.values(result.addons)) {
      const [major, minor] = a.needs.GLIBC.split('.').map(Number);
      expect(major === 2 && minor <= 31).toBe(true);
      expect(a.needed.some((lib) => /cuda|nvinfer|onnxruntime/.test(lib))).toBe(false);
    }
  });

  it('the check fails on a tampered copy', () => {
    const copy = path.join(dir, 'tampered');
    fs.cpSync(PREBUILDS, copy, { recursive: true });
    const file = path.join(copy, 'linux-arm64', 'trt_calibrator.node');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const { status, result } = check(copy);
    expect(status).toBe(1);
    expect(result.errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^linux-arm64\/trt_calibrator\.node: sha256 /)]),
    );
  });

  it('the linux-x64 prebuild loads and says it is the prebuilt addon without TensorRT', () => {
    const r = cli(['doctor', '--json'], X64);
    expect(r.status).toBe(0);
    const caps = JSON.parse(r.stdout);
    expect(caps.addon).toMatchObject({ loaded: true, testHooks: false, buildSystem: 'cmake-js', origin: 'env' });
    expect(caps.tensorrt).toEqual({
      compiled: false,
      reason: 'prebuilt addon: never includes TensorRT; build from source with TensorRT installed',
    });
    expect(caps.cuda.compiled).toBe(false);
    expect(caps.onnxruntime.native).toMatchObject({ available: true });
  });

  it('the linux-x64 prebuild calibrates the sample classifier', () => {
    const crops = path.join(dir, 'crops');
    const prebuilt = path.join(dir, 'prebuilt.cache');
    const source = path.join(dir, 'source.cache');
    const a = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', prebuilt], X64);
    expect(a.stderr).not.toContain('Error');
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('tensors  216 tensors: 0 zero scales, 0 inf, 0 huge');
    const b = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', source]);
    expect(b.status).toBe(0);
    const names = (file: string) =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.split(': ')[0]);
    expect(names(prebuilt)).toEqual(names(source));
    const info = JSON.parse(fs.readFileSync(path.join(PREBUILDS, 'BUILDINFO.json'), 'utf8')) as { sourceHash: string };
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS script CI runs
    const { sourceHash } = require('../../scripts/prebuilds.js') as { sourceHash: () => string };
    if (info.sourceHash === sourceHash())
      expect(fs.readFileSync(prebuilt, 'utf8')).toBe(fs.readFileSync(source, 'utf8'));
  }, 120000);
});
