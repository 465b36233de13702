/**
 * The package as a user gets it: `npm pack` of this repository (dist/ as `npm test` compiled it), installed from
 * the tarball into an empty project on a PATH that holds only node, npm and npx -- no cc, c++, cmake, make or
 * python -- with npm's cache (`--prefer-offline`: the repository's install left every dependency there). Then,
 * from that project: `npx trt-calibrator doctor` says the prebuilt addon was loaded and why, the CLI and
 * `require('trt-calibrator').calibrate()` write the same cache, an explicit source build without a compiler fails
 * loudly and leaves the prebuild in use, and a TypeScript consumer compiles against our declarations with
 * `skipLibCheck: false`.
 *
 * The project's package.json carries `"allowScripts": { "onnxruntime-node": false }`, as the README tells users
 * on machines without internet access: onnxruntime-node's postinstall downloads GPU libraries otherwise.
 * npm runs scripts through `script-shell=/bin/sh` (absolute), so that the PATH needs no shell either.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASSIFIER } from '../helpers/models';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const PRE = ['--shape', '3x48x192', '--scale', '0.00392156862745098', '--mean', '0.5', '--std', '0.5'];
const TAG = `${process.platform}-${process.arch}`;
let dir: string;
let bin: string;
let app: string;
let tarball: string;
let install: SpawnSyncReturns<string>;

/** A clean environment: nothing from an outer npm run (npm_*), no TensorRT, no addon override. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    HOME: process.env.HOME ?? os.homedir(),
    PATH: bin,
    npm_config_script_shell: '/bin/sh',
  };
  for (const k of ['LANG', 'TMPDIR', 'npm_config_cache']) if (process.env[k]) e[k] = process.env[k];
  return e;
}

function run(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(path.join(bin, cmd), args, {
    cwd: app,
    env: { ...env(), ...extraEnv },
    encoding: 'utf8',
    timeout: 240000,
  });
}

/** A TensorRT "install" with only NvInferVersion.h, as the install script and CMakeLists.txt look for it. */
function fakeTensorRT(major: number, minor: number): string {
  const trt = path.join(dir, `TensorRT-${major}.${minor}`);
  fs.mkdirSync(path.join(trt, 'include'), { recursive: true });
  fs.writeFileSync(
    path.join(trt, 'include', 'NvInferVersion.h'),
    `#define NV_TENSORRT_MAJOR ${major}\n#define NV_TENSORRT_MINOR ${minor}\n#define NV_TENSORRT_PATCH 0\n`,
  );
  return trt;
}

function installRecord(): { addon: string; reason: string } {
  return JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'trt-calibrator', 'addon-install.json'), 'utf8'));
}

/** npm's own CLI script: the one npm test runs under, else the `npm` on PATH. */
function findNpmCli(): string {
  if (process.env.npm_execpath?.endsWith('npm-cli.js')) return process.env.npm_execpath;
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(d, 'npm');
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error('npm not found on PATH');
}

beforeAll(() => {
  expect(fs.existsSync(path.join(root, 'dist', 'index.js'))).toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-pack-'));
  bin = path.join(dir, 'bin');
  app = path.join(dir, 'app');
  fs.mkdirSync(bin);
  fs.mkdirSync(app);
  const npmCli = findNpmCli();
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  fs.symlinkSync(path.join(path.dirname(npmCli), 'npx-cli.js'), path.join(bin, 'npx'));
  const pack = spawnSync(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...env(), PATH: `${bin}:${process.env.PATH}` },
  });
  expect(pack.status).toBe(0);
  tarball = path.join(dir, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
  expect(path.basename(tarball)).toBe(`${pkg.name}-${pkg.version}.tgz`);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, allowScripts: { 'onnxruntime-node': false } }),
  );
  install = run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts']);
}, 300000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the packed package, installed without a compiler', () => {
  it('is tested on a PATH without a compiler, CMake, make or python', () => {
    for (const tool of ['cc', 'c++', 'gcc', 'g++', 'cmake', 'make', 'python3', 'python', 'sh'])
      expect(spawnSync(tool, ['--version'], { env: env() }).error).toMatchObject({ code: 'ENOENT' });
  });

  it('ships both prebuilds with their checksums, and no TypeScript sources', () => {
    const list = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.split('\n');
    for (const f of ['linux-x64/trt_calibrator.node', 'linux-arm64/trt_calibrator.node', 'SHA256SUMS'])
      expect(list).toContain(`package/prebuilds/${f}`);
    expect(list).toContain('package/scripts/install.js');
    expect(list.filter((f) => f.startsWith('package/lib/'))).toEqual([]);
    const installed = path.join(app, 'node_modules', 'trt-calibrator', 'prebuilds');
    for (const line of fs.readFileSync(path.join(installed, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
      const [sum, file] = line.split(/\s+/);
      expect(
        fs.readFileSync(path.join(root, 'prebuilds', file)).equals(fs.readFileSync(path.join(installed, file))),
      ).toBe(true);
      expect(sum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('installs, keeping the prebuilt addon, and says why', () => {
    expect(install.status).toBe(0);
    expect(install.stderr).toContain(`trt-calibrator: using the prebuilt addon prebuilds/${TAG}`);
    expect(installRecord()).toEqual({
      addon: 'prebuilt',
      reason: expect.stringContaining('no TensorRT found at install'),
    });
    expect(fs.existsSync(path.join(app, 'node_modules', 'trt-calibrator', 'build'))).toBe(false);
  });

  it('`npx trt-calibrator doctor` says the prebuilt addon was loaded and why', () => {
    const r = run('npx', ['trt-calibrator', 'doctor']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`  addon file   prebuilt: prebuilds/${TAG}/trt_calibrator.node\n`);
    expect(r.stdout).toContain('               why: the install script chose it: no TensorRT found at install');
    expect(r.stdout).toContain(
      '  TensorRT     not compiled in: prebuilt addon: never includes TensorRT; build from source with TensorRT installed',
    );
    expect(r.stdout).toMatch(/^ {2}backends {5}builtin$/m);
  });

  it('calibrates from the CLI and from require(), with the same cache', () => {
    const images = path.join(app, 'images');
    expect(run('npx', ['trt-calibrator', 'sample-images', images, '--count', '8']).status).toBe(0);
    const cliCache = path.join(app, 'cli.cache');
    const r = run('npx', ['trt-calibrator', 'calibrate', CLASSIFIER, images, ...PRE, '--cache', cliCache]);
    expect(r.stderr).not.toContain('Error');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tensors  216 tensors: 0 zero scales, 0 inf, 0 huge');
    const script = `
      const { calibrate, capabilities } = require('trt-calibrator');
      calibrate(${JSON.stringify(CLASSIFIER)}, ${JSON.stringify(images)}, {
        shape: [3, 48, 192], scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cache: 'api.cache',
      }).then((result) => console.log(JSON.stringify({ tensors: Object.keys(result.tensors).length, origin: capabilities().addon.origin })),
        (err) => { console.error(err); process.exit(1); });`;
    const api = run('node', ['-e', script]);
    expect(api.stderr).not.toContain('Error');
    expect(api.status).toBe(0);
    expect(JSON.parse(api.stdout.trim().split('\n').pop() as string)).toEqual({ tensors: 216, origin: 'prebuilt' });
    const cache = fs.readFileSync(cliCache, 'utf8');
    expect(cache.split('\n')[0]).toMatch(/^TRT-\d+-EntropyCalibration2$/);
    expect(fs.readFileSync(path.join(app, 'api.cache'), 'utf8')).toBe(cache);
  }, 120000);

  it('`npm rebuild --build-from-source` without a compiler fails loudly and leaves the prebuild in use', () => {
    const r = run('npm', ['rebuild', 'trt-calibrator', '--build-from-source', '--foreground-scripts']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('trt-calibrator: building the addon from source: a source build was asked for');
    expect(r.stderr).toContain('trt-calibrator: the native addon could not be built');
    const doctor = run('npx', ['trt-calibrator', 'doctor', '--json']);
    expect(JSON.parse(doctor.stdout).addon).toMatchObject({ loaded: true, origin: 'prebuilt' });
  }, 120000);

  it('tries a source build when TensorRT is found; without a compiler it keeps the prebuild and says so', () => {
    const r = run('npm', ['rebuild', 'trt-calibrator', '--foreground-scripts'], { TENSORRT_ROOT: fakeTensorRT(10, 3) });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      'trt-calibrator: building the addon from source: TensorRT 10.3.0 found at TENSORRT_ROOT=',
    );
    expect(r.stderr).toContain('trt-calibrator: WARNING: the source build failed; using the prebuilt addon');
    expect(installRecord()).toEqual({
      addon: 'prebuilt',
      reason: expect.stringMatching(
        /^the source build failed \(it was tried because TensorRT 10\.3\.0 found at TENSORRT_ROOT=/,
      ),
    });
    const doctor = run('npx', ['trt-calibrator', 'doctor']);
    expect(doctor.stdout).toContain(
      '               why: the install script chose it: the source build failed (it was tried because TensorRT 10.3.0',
    );
  }, 120000);

  it('keeps the prebuild for TensorRT 11, which has no calibrator', () => {
    const r = run('npm', ['rebuild', 'trt-calibrator', '--foreground-scripts'], { TENSORRT_ROOT: fakeTensorRT(11, 0) });
    expect(r.status).toBe(0);
    expect(installRecord()).toEqual({
      addon: 'prebuilt',
      reason: expect.stringMatching(/^TensorRT 11\.0\.0 at TENSORRT_ROOT=\S+ has no INT8 calibrator/),
    });
  }, 120000);

  it('compiles a TypeScript consumer against our declarations with skipLibCheck: false', () => {
    fs.writeFileSync(
      path.join(app, 'index.ts'),
      [
        "import { calibrate, type CalibrationResult } from 'trt-calibrator';",
        "import { parseCache } from 'trt-calibrator/cache';",
        "import * as onnx from 'trt-calibrator/onnx';",
        "import { HistogramSet } from 'trt-calibrator/histogram';",
        "import * as report from 'trt-calibrator/report';",
        "import * as tensorrt from 'trt-calibrator/tensorrt';",
        'export function run(model: string, images: string): Promise<CalibrationResult> {',
        "  return calibrate(model, images, { cache: 'model.cache' });",
        '}',
        '// @ts-expect-error -- a number is not a model path: fails if the declarations were not read',
        'void calibrate(42);',
        'export { parseCache, onnx, HistogramSet, report, tensorrt };',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          module: 'node16',
          moduleResolution: 'node16',
          target: 'es2022',
          noEmit: true,
          types: ['node'],
          // The default lib (with DOM: onnxruntime-common's declarations, reached through trt-calibrator/onnx, name
          // DOM types). @types/node from this repository; our .d.ts and @types/long from the installed package.
          typeRoots: ['./node_modules/@types', path.join(root, 'node_modules', '@types')],
        },
        files: ['index.ts'],
      }),
    );
    const tsc = run('node', [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app]);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 60000);
});
