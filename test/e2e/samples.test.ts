/**
 * The samples that need no GPU, compiled (`npm run build:samples`, which `npm test` runs first) and run as the
 * README says: `node dist-samples/samples/<name>.js`. The HTTP service sample has its own suite
 * (test/e2e/calibration-service.test.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const compiled = path.join(root, 'dist-samples', 'samples');

let dir: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(compiled, 'calibrate-folder.js')))
    throw new Error('The samples are not compiled: run `npm run build:samples` (npm test does it first)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-samples-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(sample: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(compiled, `${sample}.js`), ...args], {
    encoding: 'utf8',
    cwd: os.tmpdir(), // not the repository: the samples find the package by its name, as an application does
    timeout: 120000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('compiled samples', () => {
  it('calibrate-folder renders text crops and calibrates the PaddleOCR classifier', () => {
    const cache = path.join(dir, 'cls.cache');
    const r = run('calibrate-folder', [path.join(dir, 'crops'), cache]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${cache}: 216 tensors from 64 images`);
    expect(fs.readFileSync(cache, 'utf8').split('\n')[0]).toBe('TRT-100300-EntropyCalibration2');
  });

  it('two-input binds image and im_info by name', () => {
    const r = run('two-input', [path.join(dir, 'scenes')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // im_info holds [96-ish, 128, scale] per image: its amax is the resized width, 128.
    expect(r.stdout).toMatch(/^info_scaled\s+amax 64\.0000$/m);
    expect(r.stdout).toMatch(/^pool\s+amax \d/m);
  });

  it('custom-batch-factory fills batches by hand, with rendered scenes when no directory is given', () => {
    const r = run('custom-batch-factory');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^no image directory given: rendered 4 scenes into /m);
    expect(r.stdout.match(/^batch \d+: data mean -?\d+\.\d+, im_info \d+/gm)).toHaveLength(4);
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const none = run('custom-batch-factory', [empty]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`no JPEG or PNG images in ${empty}`);
  });

  it('decode-cache prints the excerpt of a real cache', () => {
    const r = run('decode-cache');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^input\s+3c010a14\s+0\.00787594\s+1\.00024$/m);
  });

  it('doctor prints what this machine offers', () => {
    const r = run('doctor');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^trt-calibrator \d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/^ {2}backends {5}builtin/m);
  });
});
