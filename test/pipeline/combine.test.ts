/** Multi-input: factories combined by name in lockstep, im_info derived from image metadata, the custom sample. */
import * as path from 'node:path';
import { combineFactories, imInfo } from '../../lib/batch/combine';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import { BgrMeanBatchFactory } from '../../samples/custom-batch-factory';

const IMAGES = path.join(__dirname, '..', 'fixtures', 'golden', 'images');
const SEED = { color: 'bgr', scale: 1.0, mean: [102.9801, 115.9465, 122.7717] } as const;

describe('combineFactories', () => {
  it('feeds data and a derived im_info in lockstep, by name', async () => {
    const data = new ImageBatchFactory({
      images: IMAGES,
      name: 'data',
      shape: [3, 60, 100],
      resize: 'letterbox',
      batchSize: 2,
      workers: 0,
      ...SEED,
    });
    const alone = new ImageBatchFactory({
      images: IMAGES,
      name: 'data',
      shape: [3, 60, 100],
      resize: 'letterbox',
      batchSize: 2,
      workers: 0,
      ...SEED,
    });
    const f = combineFactories([data], { derived: [{ name: 'im_info', shape: [3], from: data, compute: imInfo }] });
    expect(f.inputs).toEqual([
      { name: 'data', shape: [2, 3, 60, 100], dtype: 'float32' },
      { name: 'im_info', shape: [2, 3], dtype: 'float32' },
    ]);
    const buffers = { im_info: new Float32Array(6), data: new Float32Array(2 * 3 * 60 * 100) };
    const expected = new Float32Array(2 * 3 * 60 * 100);
    expect(await f.fill(buffers, 0)).toBe(true);
    expect(await alone.fill({ data: expected }, 0)).toBe(true);
    expect(Buffer.from(buffers.data.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // a-photo.jpg is 97x61 → letterboxed into 100x60: 95x60, scale 60/61; b-exif-rot90.jpg shows 40x64 → 38x60.
    expect(Array.from(buffers.im_info)).toEqual([60, 95, Math.fround(60 / 61), 60, 38, Math.fround(60 / 64)]);
    let n = 1;
    while (await f.fill(buffers, n)) n++;
    expect(n).toBe(5); // 11 images, batches of 2, last dropped
    await f.close();
    await alone.close();
  });

  it('refuses duplicate names and factories that fall out of step', async () => {
    const a = new ImageBatchFactory({ images: IMAGES, name: 'a', shape: [3, 8, 8], batchSize: 2, workers: 0 });
    const a2 = new ImageBatchFactory({ images: IMAGES, name: 'a', shape: [3, 8, 8], batchSize: 2, workers: 0 });
    expect(() => combineFactories([a, a2])).toThrow(expect.objectContaining({ code: 'ERR_INPUT_NAME' }));
    const b = new ImageBatchFactory({
      images: IMAGES,
      name: 'b',
      shape: [3, 8, 8],
      batchSize: 2,
      workers: 0,
      limit: 2,
    });
    const f = combineFactories([a, b]);
    const buffers = { a: new Float32Array(2 * 192), b: new Float32Array(2 * 192) };
    expect(await f.fill(buffers, 0)).toBe(true);
    await expect(f.fill(buffers, 1)).rejects.toMatchObject({
      code: 'ERR_BATCH_FACTORY',
      message: expect.stringContaining('out of step at batch 1 (a: batch, b: exhausted)'),
    });
  });
});

describe('samples/custom-batch-factory.ts (the seed BGR-mean example)', () => {
  it('fills data and im_info through the BatchFactory contract', async () => {
    const f = new BgrMeanBatchFactory(IMAGES, 2, 60, 100);
    const buffers = { data: new Float32Array(2 * 3 * 60 * 100), im_info: new Float32Array(6) };
    expect(await f.fill(buffers)).toBe(true);
    expect(Array.from(buffers.im_info)).toEqual([60, 95, Math.fround(60 / 61), 60, 38, Math.fround(60 / 64)]);
    expect(buffers.data[99]).toBeCloseTo(-102.9801, 3); // right-hand padding column, blue plane
    let n = 1;
    while (await f.fill(buffers)) n++;
    expect(n).toBe(4); // the sample lists .jpg/.png only: 8 of the 11 fixtures
    f.reset();
    expect(await f.fill(buffers)).toBe(true);
  });
});
