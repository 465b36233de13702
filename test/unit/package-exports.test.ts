import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  exports: { '.': { types: string } };
};

function node(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('package entry points', () => {
  it('works from require() and from import, with the same exports', () => {
    const cjs = node(['-e', "const t = require('trt-calibrator'); console.log(JSON.stringify(Object.keys(t).sort()))"]);
    expect(cjs.stderr).toBe('');
    const esm = node([
      '--input-type=module',
      '-e',
      "import * as t from 'trt-calibrator'; console.log(JSON.stringify(Object.keys(t).filter((k) => k !== 'default').sort()))",
    ]);
    expect(esm.stderr).toBe('');
    const names = JSON.parse(cjs.stdout) as string[];
    expect(JSON.parse(esm.stdout)).toEqual(names);
    for (const name of [
      'calibrate',
      'BatchFactory',
      'ImageBatchFactory',
      'parseCache',
      'HistogramSet',
      'capabilities',
      'TrtCalibratorError',
    ])
      expect(names).toContain(name);
  });

  it.each([
    ['trt-calibrator/cache', ['formatDecodeTable', 'parseCache', 'diffCaches', 'cacheFromAmax']],
    ['trt-calibrator/onnx', ['prepareCalibrationModel', 'insertQdq', 'evaluateQdqModels', 'upgradeOpset']],
    ['trt-calibrator/histogram', ['HistogramSet', 'formatCacheText', 'amaxUsable']],
    ['trt-calibrator/report', ['renderReportHtml', 'writeReport', 'validateReport']],
    ['trt-calibrator/tensorrt', ['resolveBackend', 'resolveInputProfiles', 'builderSettings']],
  ])('subpath %s works from require() and import, with the same exports', (name, expected) => {
    const cjs = node(['-e', `console.log(JSON.stringify(Object.keys(require('${name}')).sort()))`]);
    expect(cjs.stderr).toBe('');
    const esm = node([
      '--input-type=module',
      '-e',
      `import * as t from '${name}'; console.log(JSON.stringify(Object.keys(t).filter((k) => k !== 'default').sort()))`,
    ]);
    expect(esm.stderr).toBe('');
    const names = JSON.parse(cjs.stdout) as string[];
    expect(JSON.parse(esm.stdout)).toEqual(names);
    for (const n of expected) expect(names).toContain(n);
  });

  it('keeps specialist and test-only pieces out of the package root', () => {
    const r = node(['-e', "console.log(JSON.stringify(Object.keys(require('trt-calibrator'))))"]);
    const names = JSON.parse(r.stdout) as string[];
    for (const internal of ['runCalibration', 'liveNativeAllocations', 'insertQdq', 'prepareCalibrationModel'])
      expect(names).not.toContain(internal);
  });

  it('ships type declarations for the public API', () => {
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    expect(fs.readFileSync(path.join(root, 'dist', 'index.d.ts'), 'utf8')).toMatch(
      /export \{[^}]*\bcalibrate\b[^}]*\} from '\.\/calibrate';/,
    );
  });

  it('the bin entry runs the CLI', () => {
    const r = node([path.join(root, pkg.bin['trt-calibrator']), '--version']);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
