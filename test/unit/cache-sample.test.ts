/** Runs samples/decode-cache.ts: in-process, and as a script through node with a transpile-on-require hook. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../samples/decode-cache';

const root = path.join(__dirname, '..', '..');

describe('samples/decode-cache.ts', () => {
  it('decodes the built-in excerpt', async () => {
    let out = '';
    await main(undefined, (t) => (out += t));
    expect(out).toMatch(/^input\s+3c010a14\s+0\.00787594\s+1\.00024$/m);
    expect(out).toContain('3 tensors: 0 zero scales, 0 inf, 0 huge (>= 1e30)');
    expect(out).toContain('first tensor input: setDynamicRange(-1.0002441219985485, 1.0002441219985485)');
  });

  it('runs as a script on a cache file, and rejects with file and line on a bad one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-sample-'));
    try {
      const hook = path.join(dir, 'ts-hook.js');
      fs.writeFileSync(
        hook,
        `const fs = require('fs'); const ts = require(${JSON.stringify(require.resolve('typescript'))});\n` +
          "require.extensions['.ts'] = (m, f) => m._compile(ts.transpileModule(fs.readFileSync(f, 'utf8'), { fileName: f, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, f);\n",
      );
      const cache = path.join(dir, 'model.cache');
      fs.writeFileSync(cache, 'TRT-100300-MinMaxCalibration\nimages: 3c010a14\nzeros: 0\n');
      const run = (file: string): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, ['-r', hook, path.join(root, 'samples', 'decode-cache.ts'), file], {
          encoding: 'utf8',
          cwd: root,
        });
      const ok = run(cache);
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toContain('TRT-100300-MinMaxCalibration (TensorRT 10.3.0, MinMaxCalibration)');
      expect(ok.stdout).toContain('2 tensors: 1 zero scale, 0 inf, 0 huge (>= 1e30)');
      fs.writeFileSync(cache, 'TRT-100300-MinMaxCalibration\nimages 3c010a14\n');
      // The failing case in-process (a second script run would cost another TypeScript load).
      await expect(main(cache, () => undefined)).rejects.toMatchObject({
        code: 'ERR_CACHE_FORMAT',
        details: { file: cache, line: 2 },
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
