/** The decode, diff and convert commands, run as the compiled CLI (dist/cli.js; `npx tsc -p tsconfig.build.json`). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const EXCERPT =
  'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n/model.0/conv/Conv_output_0: 3e6e18b7\n(Unnamed Layer* 22) [Constant]_output: 3a4b050c\n';
const SPECIAL =
  'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n/model.0/conv/Conv_output_0: 3e6e18b7\nzeros: 0\nlog: 7f800000\nmask: 7c010204\n';
const CHANGED =
  'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n/model.0/conv/Conv_output_0: 3e70a3d7\nzeros: 0\nlog: 7f800000\nnew, tensor: 3d000000\n';

let dir: string;
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-cache-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('trt-calibrator decode', () => {
  it('prints tensor, hex, scale, dynamic range in file order, and a summary', () => {
    const r = cli(['decode', file('excerpt.cache', EXCERPT)]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('TRT-8601-EntropyCalibration2 (TensorRT 8.6.1, EntropyCalibration2)');
    expect(lines[1]).toMatch(/^tensor\s+hex\s+scale\s+dynamic range$/);
    expect(lines[2].split(/\s+/)).toEqual(['input', '3c010a14', '0.00787594', '1.00024']);
    expect(lines[3]).toMatch(/^\/model\.0\/conv\/Conv_output_0\s+3e6e18b7\s+0\.232516\s+29\.5296$/);
    expect(lines[4]).toMatch(/^\(Unnamed Layer\* 22\) \[Constant\]_output\s+3a4b050c\s+0\.000774459\s+0\.0983563$/);
    expect(lines[5]).toBe('3 tensors: 0 zero scales, 0 inf, 0 huge (>= 1e30)');
  });

  it('counts zero, inf and huge scales', () => {
    const r = cli(['decode', file('special.cache', SPECIAL)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^log\s+7f800000\s+inf\s+inf$/m);
    expect(r.stdout).toMatch(/^mask\s+7c010204\s+2\.67939e\+36\s+3\.40282e\+38$/m);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('5 tensors: 1 zero scale, 1 inf, 1 huge (>= 1e30)');
  });

  it('--json and --csv', () => {
    const json = cli(['decode', '--json', path.join(dir, 'special.cache')]);
    expect(json.status).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({
      tensorrt: '8.6.1',
      header: '8601',
      algorithm: 'EntropyCalibration2',
      summary: { tensors: 5, zero: 1, inf: 1, huge: 1 },
    });
    expect(parsed.tensors[0]).toEqual({
      name: 'input',
      hex: '3c010a14',
      scale: 0.007875937968492508,
      dynamicRange: 1.0002441219985485,
    });
    expect(parsed.tensors[3]).toEqual({ name: 'log', hex: '7f800000', scale: 'Infinity', dynamicRange: 'Infinity' });
    const csv = cli(['decode', '--csv', path.join(dir, 'special.cache')]);
    expect(csv.status).toBe(0);
    expect(csv.stdout.split('\n').slice(0, 2)).toEqual([
      'tensor,hex,scale,dynamic_range',
      'input,3c010a14,0.007875938,1.0002441219985485',
    ]);
    expect(cli(['decode', '--csv', '--json', path.join(dir, 'special.cache')]).status).toBe(2);
  });

  it('exits 4 with file and line for a malformed cache, 3 for a missing file', () => {
    const bad = file('bad.cache', 'TRT-8601-EntropyCalibration2\ninput: 3c010a14\ninput: 3c010a15\n');
    const r = cli(['decode', bad]);
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `trt-calibrator: ERR_CACHE_FORMAT: Invalid calibration cache ${bad} line 3: duplicate tensor name "input" (first on line 2)\n`,
    );
    const missing = cli(['decode', path.join(dir, 'missing.cache')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toContain('ERR_IO: Could not read calibration cache');
  });
});

describe('trt-calibrator diff', () => {
  it('exits 1 and lists only-in-one tensors and changes, largest first', () => {
    const r = cli(['diff', path.join(dir, 'special.cache'), file('changed.cache', CHANGED)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('only in a (1): mask\n');
    expect(r.stdout).toContain('only in b (1): new, tensor\n');
    expect(r.stdout).toMatch(/^\/model\.0\/conv\/Conv_output_0\s+0\.232516\s+0\.235\s+\+1\.068%$/m);
    expect(r.stdout).toMatch(
      /4 tensors in both, 1 changed, 1 beyond tolerance 0; largest change \+1\.068% \(\/model\.0\/conv\/Conv_output_0\): DIFFERENT\n$/,
    );
  });

  it('exits 0 for identical caches and for changes within --tolerance', () => {
    expect(cli(['diff', path.join(dir, 'special.cache'), path.join(dir, 'special.cache')]).status).toBe(0);
    const a = file('t-a.cache', 'TRT-8601-EntropyCalibration2\nx: 3f800000\n');
    const b = file('t-b.cache', 'TRT-8601-EntropyCalibration2\nx: 3f810000\n');
    expect(cli(['diff', a, b]).status).toBe(1);
    const within = cli(['diff', a, b, '--tolerance', '0.01']);
    expect(within.status).toBe(0);
    expect(within.stdout).toContain('+0.7813% (within tolerance)');
    const json = cli(['diff', a, b, '--tolerance', '0.001', '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      differ: true,
      tolerance: 0.001,
      changes: [{ name: 'x', a: 1, b: 1.0078125, relative: 0.0078125 }],
    });
    expect(cli(['diff', a, b, '--tolerance', 'lots']).status).toBe(2);
  });
});

describe('trt-calibrator convert', () => {
  it('cache -> json -> cache is byte-exact', () => {
    const json = cli(['convert', path.join(dir, 'special.cache'), '--to', 'json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout).tensors.input).toEqual({ scale: 0.007875938, amax: 1.00024412, hex: '3c010a14' });
    const back = cli(['convert', file('special.json', json.stdout), '--to', 'cache']);
    expect(back.status).toBe(0);
    expect(back.stdout).toBe(SPECIAL);
  });

  it('json without a version needs --tensorrt', () => {
    const noVersion = file('nov.json', '{ "tensors": { "a": { "amax": 127 } } }');
    const r = cli(['convert', noVersion, '--to', 'cache']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('the JSON has no "tensorrt"');
    const ok = cli(['convert', noVersion, '--to', 'cache', '--tensorrt', '10.3.0']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('TRT-100300-EntropyCalibration2\na: 3f800000\n');
  });

  it('amax list (CSV or JSON) -> cache for a chosen TensorRT version, written atomically with -o', () => {
    const csv = file('amax.csv', 'tensor,amax\ninput,1.0002441219985485\nzeros,0\nlog,inf\n');
    const out = path.join(dir, 'from-amax.cache');
    const r = cli([
      'convert',
      csv,
      '--to',
      'cache',
      '--tensorrt',
      '10.3',
      '--algorithm',
      'MinMaxCalibration',
      '-o',
      out,
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`wrote ${out} (3 tensors, TensorRT 10.3.0, MinMaxCalibration)\n`);
    expect(fs.readFileSync(out, 'utf8')).toBe(
      'TRT-100300-MinMaxCalibration\ninput: 3c010a14\nzeros: 0\nlog: 7f800000\n',
    );
    const json = cli(['convert', file('amax.json', '{ "2": 127, "1": 0 }'), '--to', 'cache', '--tensorrt', '8.6.1']);
    expect(json.stdout).toBe('TRT-8601-EntropyCalibration2\n2: 3f800000\n1: 0\n');
    expect(cli(['convert', csv, '--to', 'cache']).status).toBe(2);
  });

  it('cache -> ranges CSV, and refuses to relabel a cache for another TensorRT without --force', () => {
    const ranges = cli(['convert', path.join(dir, 'excerpt.cache'), '--to', 'ranges']);
    expect(ranges.status).toBe(0);
    expect(ranges.stdout.split('\n').slice(0, 2)).toEqual(['tensor,amax', 'input,1.0002441219985485']);
    const relabel = cli(['convert', path.join(dir, 'excerpt.cache'), '--to', 'cache', '--tensorrt', '10.3.0']);
    expect(relabel.status).toBe(4);
    expect(relabel.stderr).toContain('ERR_CACHE_VERSION');
    const forced = cli([
      'convert',
      path.join(dir, 'excerpt.cache'),
      '--to',
      'cache',
      '--tensorrt',
      '10.3.0',
      '--force',
    ]);
    expect(forced.stdout).toBe(EXCERPT.replace('TRT-8601', 'TRT-100300'));
    expect(cli(['convert', path.join(dir, 'excerpt.cache'), '--to', 'yaml']).status).toBe(2);
  });
});
