import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { makeSyntheticImages } from '../../lib/synthetic/images';

describe('synthetic calibration images', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-synth-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  it('writes text crops of the classifier size, both orientations, identical for the same seed', async () => {
    const a = await makeSyntheticImages(path.join(dir, 'a'), { count: 12, seed: 7, format: 'png' });
    const b = await makeSyntheticImages(path.join(dir, 'b'), { count: 12, seed: 7, format: 'png' });
    expect(a.map((i) => digest(i.file))).toEqual(b.map((i) => digest(i.file)));
    const meta = await sharp(a[0].file).metadata();
    expect([meta.width, meta.height]).toEqual([192, 48]);
    const rotated = a.filter((i) => i.rotated180).length;
    expect(rotated).toBeGreaterThan(0);
    expect(rotated).toBeLessThan(12);
  });

  it('writes scenes that are not flat', async () => {
    const [scene] = await makeSyntheticImages(path.join(dir, 's'), { kind: 'scenes', count: 1 });
    const stats = await sharp(scene.file).stats();
    expect([stats.channels[0].stdev, stats.channels[1].stdev]).toEqual([expect.any(Number), expect.any(Number)]);
    expect(stats.channels[0].stdev).toBeGreaterThan(5);
  });

  it('rejects a bad count with the house message', async () => {
    await expect(makeSyntheticImages(dir, { count: 0 })).rejects.toThrow(
      'Expected a positive integer for count but received 0 of type number',
    );
  });
});
