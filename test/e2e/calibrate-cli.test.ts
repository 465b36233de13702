/**
 * `trt-calibrator calibrate` through the compiled CLI (dist/cli.js): output, --json, exit codes per error class,
 * and Ctrl-C leaving no partial file.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { CLASSIFIER, DETECTOR } from '../helpers/models';

const root = path.join(__dirname, '..', '..');
const CLI = path.join(root, 'dist', 'cli.js');
const PRE = [
  '--shape',
  '3x48x192',
  '--scale',
  '0.00392156862745098',
  '--mean',
  '0.5',
  '--std',
  '0.5',
  '--workers',
  '1',
];
let dir: string;
let crops: string;

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-cli-'));
  crops = path.join(dir, 'crops');
  await makeSyntheticImages(crops, { count: 24, seed: 9 });
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('trt-calibrator calibrate', () => {
  it('writes the cache and prints a summary; a second run reuses it', () => {
    const cache = path.join(dir, 'cls.cache');
    const r = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', cache, '--tensorrt', '8.6.1', '--batch', '8']);
    expect(r.stderr).not.toContain('Error');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${cache} (TRT-8601-EntropyCalibration2, entropy)`);
    expect(r.stdout).toContain('images   24 used in 3 batches of 8, 0 skipped');
    expect(r.stdout).toContain('tensors  216 tensors: 0 zero scales, 0 inf, 0 huge');
    expect(fs.readFileSync(cache, 'utf8').startsWith('TRT-8601-EntropyCalibration2\nx: ')).toBe(true);
    const again = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', cache, '--tensorrt', '8.6.2']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('is compatible; used as is');
  }, 60000);

  it('--json prints a machine summary', () => {
    const r = cli([
      'calibrate',
      CLASSIFIER,
      crops,
      ...PRE,
      '--cache',
      path.join(dir, 'j.cache'),
      '--tensorrt',
      '10.3',
      '--algorithm',
      'minmax',
      '--limit',
      '8',
      '--json',
    ]);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      cacheHeader: 'TRT-100300-MinMaxCalibration',
      algorithm: 'minmax',
      backend: 'builtin',
      batches: 1,
      fromCache: false,
    });
    expect(Object.keys(summary.tensors)).toHaveLength(216);
  }, 60000);

  it('exits with the code of each error class', () => {
    expect(cli(['calibrate', path.join(dir, 'none.onnx'), crops, ...PRE]).status).toBe(3); // ERR_IO
    const badCacheDir = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', path.join(dir, 'no-dir', 'x.cache')]);
    expect(badCacheDir.status).toBe(3); // ERR_IO: the cache's directory does not exist (checked before any work)
    expect(badCacheDir.stderr).toContain('ERR_IO: Cannot write the cache (--cache)');
    const missing = cli(['calibrate', CLASSIFIER, path.join(dir, 'missing-dir'), ...PRE]);
    expect(missing.status).toBe(3); // ERR_IO: missing input, named
    expect(missing.stderr).toContain(`ERR_IO: The image directory was not found: ${path.join(dir, 'missing-dir')}`);
    fs.mkdirSync(path.join(dir, 'empty-dir'), { recursive: true });
    const empty = cli(['calibrate', CLASSIFIER, path.join(dir, 'empty-dir'), ...PRE, '--shape', '3x48x192']);
    expect(empty.status).toBe(6); // ERR_NO_DATA, in the CLI's words
    expect(empty.stderr).toContain('ERR_NO_DATA: No images in');
    expect(empty.stderr).toContain('subdirectories not searched: --recursive searches them');
    expect(cli(['calibrate', CLASSIFIER, crops, ...PRE, '--algorithm', 'kl']).status).toBe(2); // usage
    fs.writeFileSync(path.join(dir, 'bad.cache'), 'TRT-8601-EntropyCalibration2\nno separator here\n');
    const badCache = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--cache', path.join(dir, 'bad.cache')]);
    expect(badCache.status).toBe(4); // ERR_CACHE_FORMAT
    expect(badCache.stderr).toMatch(/bad\.cache.*line 2/);
    const engine = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--engine', path.join(dir, 'm.plan')]);
    expect(engine.status).toBe(7); // ERR_TENSORRT_UNAVAILABLE (no TensorRT here)
    expect(engine.stderr).toContain('TENSORRT_ROOT');
  }, 60000);

  it('Ctrl-C mid-run exits 130 and leaves no cache or temporary file', async () => {
    const cache = path.join(dir, 'int.cache');
    // The detector at 3×320×320, image by image (24 batches). Without --no-progress and without a TTY the CLI
    // prints a progress line (at most one a second, the first after batch 1): SIGINT goes out when that line
    // arrives, not after a guessed time. Every batch still to come needs the child's JS thread (its fill), and
    // the signal reaches that thread's event loop at its next turn, so a signal sent with batches left lands
    // mid-run however slow or loaded the machine is.
    const args = [
      'calibrate',
      DETECTOR,
      crops,
      '--shape',
      '3x320x320',
      '--scale',
      '0.00392156862745098',
      '--workers',
      '1',
      '--cache',
      cache,
      '--batch',
      '1',
    ];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sentAt: { done: number; total: number } | undefined;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const progress = /calibrating: batch (\d+)\/(\d+)/.exec(stderr);
      if (!sentAt && progress) {
        sentAt = { done: Number(progress[1]), total: Number(progress[2]) };
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(sentAt).toEqual({ done: 1, total: 24 });
    expect(code).toBe(130);
    expect(stderr).toContain('ERR_ABORTED');
    expect(fs.existsSync(cache)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('int.cache'))).toEqual([]);
  }, 60000);
});

describe('calibrate() and process exit', () => {
  it('a process that exits mid-run ends with its own exit code (no abort from the ONNX Runtime worker)', () => {
    const script = `
      const { calibrate } = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});
      calibrate(${JSON.stringify(CLASSIFIER)}, ${JSON.stringify(crops)}, { shape: [3, 48, 192], batchSize: 1, workers: 1, cache: ${JSON.stringify(path.join(dir, 'exit.cache'))},
        onProgress: (p) => { if (p.batchesDone === 2) setTimeout(() => process.exit(3), 5); } });`;
    // The timeout only keeps a hung child from hanging the suite (it would end with a signal, not status 3).
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
    expect(r.stderr).not.toContain('terminate called');
    expect(r.status).toBe(3);
    expect(fs.existsSync(path.join(dir, 'exit.cache'))).toBe(false);
  }, 60000);
});
