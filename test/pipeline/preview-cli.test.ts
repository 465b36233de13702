/** `trt-calibrator preview` (compiled CLI in dist/, built by `npm test` step 0) and the shared option parser. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { imageFactoryOptions, readImageFlags } from '../../lib/cli/images';
import { decodeNpy } from '../../lib/util/npy';

const root = path.join(__dirname, '..', '..');
const IMAGES = path.join(__dirname, '..', 'fixtures', 'golden', 'images');

/** What commander parsed (attribute names of the flags) → ImageBatchFactory options. */
const toImageFactoryOptions = (parsed: Record<string, unknown>, images: string) =>
  imageFactoryOptions(readImageFlags(parsed), images);

describe('preprocess options', () => {
  it('turns CLI spellings into ImageBatchFactory options, per input', () => {
    expect(
      toImageFactoryOptions(
        { shape: '3x224x224', color: 'rgb', mean: '1,2,3', std: '2', scale: '0.5', batch: '4', limit: '10' },
        'dir',
      ),
    ).toEqual([
      {
        images: 'dir',
        name: 'input',
        shape: [3, 224, 224],
        color: 'rgb',
        mean: [1, 2, 3],
        std: 2,
        scale: 0.5,
        batchSize: 4,
        limit: 10,
      },
    ]);
    expect(
      toImageFactoryOptions(
        {
          input: [
            'data:3x600x1000:mean=102.9801,115.9465,122.7717:resize=letterbox',
            'thumb:1x32x32:color=gray:images=other',
          ],
          batch: '2',
        },
        'dir',
      ),
    ).toEqual([
      {
        images: 'dir',
        batchSize: 2,
        name: 'data',
        shape: [3, 600, 1000],
        mean: [102.9801, 115.9465, 122.7717],
        resize: 'letterbox',
      },
      { images: 'other', batchSize: 2, name: 'thumb', shape: [1, 32, 32], color: 'gray' },
    ]);
    expect(() => toImageFactoryOptions({ shape: '3x224' }, 'd')).toThrow(
      /Expected a shape CxHxW like 3x224x224 for --shape but received "3x224"/,
    );
    expect(() => toImageFactoryOptions({ shape: '3x8x8', mean: '1,x,3' }, 'd')).toThrow(/for --mean/);
    expect(() => toImageFactoryOptions({ input: ['a:3x8x8:colour=rgb'] }, 'd')).toThrow(/keys preset, color/);
  });
});

describe('trt-calibrator preview', () => {
  it('writes the first batch as .npy and a contact sheet', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-preview-'));
    try {
      const r = spawnSync(
        process.execPath,
        [
          path.join(root, 'dist', 'cli.js'),
          'preview',
          IMAGES,
          '--out',
          out,
          '--shape',
          '3x24x32',
          '--color',
          'rgb',
          '--batch',
          '4',
          '--resize',
          'letterbox',
        ],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('input [4, 3, 24, 32] float32: 4 images in 1 batch(es), 0 skipped');
      const npy = decodeNpy(fs.readFileSync(path.join(out, 'input-batch0.npy')));
      expect(npy.shape).toEqual([4, 3, 24, 32]);
      const meta = await sharp(path.join(out, 'input-batch0.png')).metadata();
      expect([meta.width, meta.height]).toEqual([2 * 34 - 2, 2 * 26 - 2]);
      const bad = spawnSync(
        process.execPath,
        [path.join(root, 'dist', 'cli.js'), 'preview', path.join(out, 'nope'), '--out', out, '--shape', '3x8x8'],
        { encoding: 'utf8' },
      );
      expect(bad.status).toBe(3); // a missing input: ERR_IO (the README's exit-code table)
      expect(bad.stderr).toContain('ERR_IO');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
