/**
 * ImageBatchFactory behaviour: listing, ordering, worker-count independence, prefetch, skips and thresholds,
 * partial batches, reset, validation, and no hang at process exit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { ImageBatchFactory, type ImageBatchFactoryOptions, type SkippedImage } from '../../lib/batch/image-factory';

let dir: string;
const SHAPE = [3, 16, 20];
const PER = 3 * 16 * 20;

async function makeImage(file: string, seed: number, w = 48, h = 36): Promise<void> {
  const raw = Buffer.alloc(w * h * 3);
  let s = seed * 7919 + 1;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = (i % 251) ^ (s & 63);
  }
  const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  await (file.endsWith('.png') ? img.png() : img.jpeg({ quality: 90 })).toFile(file);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-imgf-'));
  fs.mkdirSync(path.join(dir, 'good', 'sub'), { recursive: true });
  for (let i = 0; i < 10; i++) await makeImage(path.join(dir, 'good', `img${i}.${i % 2 ? 'png' : 'jpg'}`), i);
  await makeImage(path.join(dir, 'good', 'sub', 'deep.jpg'), 99);
  fs.writeFileSync(path.join(dir, 'good', 'notes.txt'), 'not an image');
  fs.mkdirSync(path.join(dir, 'bad'));
  for (let i = 0; i < 6; i++) await makeImage(path.join(dir, 'bad', `ok${i}.jpg`), 20 + i);
  const jpg = fs.readFileSync(path.join(dir, 'bad', 'ok0.jpg'));
  fs.writeFileSync(path.join(dir, 'bad', 'truncated.jpg'), jpg.subarray(0, jpg.length >> 1));
  fs.writeFileSync(path.join(dir, 'bad', 'text.jpg'), 'hello');
  fs.writeFileSync(path.join(dir, 'bad', 'empty.png'), '');
  fs.mkdirSync(path.join(dir, 'empty'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function drain(f: ImageBatchFactory): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; ; i++) {
    const buf = new Float32Array(PER * f.batchSize);
    if (!(await f.fill({ input: buf }, i))) break;
    out.push(buf);
  }
  return out;
}

function factory(options: Partial<ImageBatchFactoryOptions>): ImageBatchFactory {
  return new ImageBatchFactory({ images: path.join(dir, 'good'), shape: SHAPE, batchSize: 3, ...options });
}

describe('ImageBatchFactory', () => {
  it('delivers byte-identical batches with 0, 1 and 2 workers', async () => {
    const results: Float32Array[][] = [];
    for (const workers of [0, 1, 2]) {
      const f = factory({
        workers,
        prefetch: 1,
        color: 'rgb',
        scale: 1 / 255,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
      });
      try {
        results.push(await drain(f));
      } finally {
        await f.close();
      }
    }
    expect(results[0]).toHaveLength(3); // 10 images, batches of 3, last one dropped
    for (const r of results.slice(1)) {
      expect(r).toHaveLength(results[0].length);
      r.forEach((b, i) => expect(Buffer.from(b.buffer).equals(Buffer.from(results[0][i].buffer))).toBe(true));
    }
  });

  it('lists in byte order, filters extensions, recurses on request, limits and shuffles reproducibly', async () => {
    const plain = factory({ workers: 0 });
    await plain.open();
    expect(plain.fileList?.map((f) => path.relative(path.join(dir, 'good'), f))).toEqual(
      [...Array(10).keys()].map((i) => `img${i}.${i % 2 ? 'png' : 'jpg'}`),
    );
    expect(plain.totalBatches).toBe(3);
    const deep = factory({ workers: 0, recursive: true, lastBatch: 'pad' });
    await deep.open();
    expect(deep.fileList).toHaveLength(11);
    expect(deep.fileList?.[10]).toBe(path.join(dir, 'good', 'sub', 'deep.jpg')); // 's' > 'i' in byte order
    expect(deep.totalBatches).toBe(4);
    const pngOnly = factory({ workers: 0, extensions: ['PNG'], limit: 2 });
    await pngOnly.open();
    expect(pngOnly.fileList?.map((f) => path.basename(f))).toEqual(['img1.png', 'img3.png']);
    const a = factory({ workers: 0, shuffle: true, seed: 7 });
    const b = factory({ workers: 0, shuffle: true, seed: 7 });
    const c = factory({ workers: 0, shuffle: true, seed: 8 });
    await Promise.all([a.open(), b.open(), c.open()]);
    expect(a.fileList).toEqual(b.fileList);
    expect(a.fileList).not.toEqual(plain.fileList);
    expect(a.fileList).not.toEqual(c.fileList);
    expect([...(a.fileList ?? [])].sort()).toEqual([...(plain.fileList ?? [])].sort());
  });

  it('pads the last batch by repeating its images, and reset() replays the same batches', async () => {
    const f = factory({ workers: 1, lastBatch: 'pad' });
    try {
      const first = await drain(f);
      expect(first).toHaveLength(4);
      const last = first[3];
      expect(Buffer.from(last.buffer, PER * 4, PER * 4).equals(Buffer.from(last.buffer, 0, PER * 4))).toBe(true);
      expect(f.lastBatchMeta.map((m) => path.basename(m.file))).toEqual(['img9.png', 'img9.png', 'img9.png']);
      expect(f.stats).toMatchObject({ files: 10, used: 10, batches: 4, skipped: [] });
      await f.reset();
      const second = await drain(f);
      second.forEach((b, i) => expect(Buffer.from(b.buffer).equals(Buffer.from(first[i].buffer))).toBe(true));
    } finally {
      await f.close();
    }
  });

  it('skips unusable files with their reasons, through the event, onSkip and stats', async () => {
    const seen: SkippedImage[] = [];
    const viaOption: string[] = [];
    const f = new ImageBatchFactory({
      images: path.join(dir, 'bad'),
      shape: SHAPE,
      batchSize: 2,
      workers: 2,
      maxSkipped: 3,
      onSkip: (s) => viaOption.push(s.file),
    });
    f.on('skip', (s) => seen.push(s));
    try {
      const batches = await drain(f);
      expect(batches).toHaveLength(3);
      expect(seen.map((s) => path.basename(s.file))).toEqual(['empty.png', 'text.jpg', 'truncated.jpg']);
      expect(seen[0].reason).toBe('empty file');
      expect(seen[1].reason).toMatch(/not a decodable image/);
      expect(seen[2].reason).toMatch(/not a decodable image/);
      expect(viaOption).toEqual(seen.map((s) => s.file));
      expect(f.stats.skipped).toEqual(seen);
      expect(f.stats.used).toBe(6);
    } finally {
      await f.close();
    }
  });

  it('fails with ERR_IMAGE_DECODE naming the files past maxSkipped (1 % of a directory by default)', async () => {
    const f = new ImageBatchFactory({ images: path.join(dir, 'bad'), shape: SHAPE, batchSize: 2, workers: 1 });
    try {
      await expect(drain(f)).rejects.toMatchObject({
        code: 'ERR_IMAGE_DECODE',
        message: expect.stringContaining('empty.png (empty file)'),
      });
    } finally {
      await f.close();
    }
    const list = new ImageBatchFactory({
      images: [path.join(dir, 'bad', 'ok1.jpg'), path.join(dir, 'bad', 'missing.jpg')],
      shape: SHAPE,
      batchSize: 1,
      workers: 0,
    });
    await expect(drain(list)).rejects.toMatchObject({
      code: 'ERR_IMAGE_DECODE',
      message: expect.stringMatching(/missing\.jpg \(unreadable: ENOENT\)/),
    });
  });

  it('skips images smaller than the crop', async () => {
    const f = new ImageBatchFactory({
      images: [path.join(dir, 'good', 'img0.jpg')],
      shape: [3, 16, 64],
      resize: 'center-crop',
      resizeShorter: 20,
      batchSize: 1,
      workers: 0,
      maxSkipped: 1,
    });
    await expect(f.fill({ input: new Float32Array(3 * 16 * 64) }, 0)).rejects.toMatchObject({ code: 'ERR_NO_DATA' });
    expect(f.stats.skipped[0].reason).toMatch(/smaller than the crop: 48x36 resized to 27x20 < 64x16/);
  });

  it('rejects a missing directory with ERR_IO, an empty one and a batch larger than the data with ERR_NO_DATA', async () => {
    await expect(ImageBatchFactory.create({ images: path.join(dir, 'nope'), shape: SHAPE })).rejects.toMatchObject({
      code: 'ERR_IO',
      message: expect.stringContaining('not found'),
    });
    await expect(ImageBatchFactory.create({ images: path.join(dir, 'empty'), shape: SHAPE })).rejects.toMatchObject({
      code: 'ERR_NO_DATA',
      message: expect.stringMatching(/^No images in .*; subdirectories not searched: recursive: true searches them\)$/),
    });
    await expect(ImageBatchFactory.create({ images: [], shape: SHAPE })).rejects.toMatchObject({ code: 'ERR_NO_DATA' });
    const f = factory({ workers: 0, batchSize: 16 });
    await expect(f.fill({ input: new Float32Array(PER * 16) }, 0)).rejects.toMatchObject({
      code: 'ERR_NO_DATA',
      message: expect.stringContaining('only 10 usable images of 10'),
    });
  });

  it('checks the buffers it is handed', async () => {
    const f = factory({ workers: 0, name: 'data' });
    expect(f.inputs).toEqual([{ name: 'data', shape: [3, 3, 16, 20], dtype: 'float32' }]);
    await expect(f.fill({ input: new Float32Array(PER * 3) }, 0)).rejects.toMatchObject({ code: 'ERR_INPUT_NAME' });
    await expect(f.fill({ data: new Float64Array(PER * 3) }, 0)).rejects.toMatchObject({ code: 'ERR_INPUT_DTYPE' });
    await expect(f.fill({ data: new Float32Array(PER * 2) }, 0)).rejects.toMatchObject({ code: 'ERR_INPUT_SHAPE' });
    expect(factory({ layout: 'nhwc', dtype: 'float16' }).inputs[0]).toMatchObject({
      shape: [3, 16, 20, 3],
      dtype: 'float16',
    });
  });

  it('validates options with the house message and hints for misspelled names', () => {
    const bad = (o: Record<string, unknown>) => () => factory(o as Partial<ImageBatchFactoryOptions>);
    expect(bad({ limt: 3 })).toThrow(/Unknown option "limt" for ImageBatchFactory \(did you mean "limit"\?\)/);
    expect(bad({ color: 'hsv' })).toThrow(
      new RangeError('Expected one of bgr, rgb, gray for color but received "hsv" of type string'),
    );
    expect(bad({ color: 'gray' })).toThrow(/Expected C = 1 for color "gray" for shape/);
    expect(bad({ mean: [1, 2] })).toThrow(/Expected 3 values \(one per channel\) for mean/);
    expect(bad({ std: [1, 0, 1] })).toThrow(RangeError);
    expect(bad({ batchSize: 0 })).toThrow(/Expected an integer >= 1 for batchSize but received 0 of type number/);
    expect(bad({ scale: '1' })).toThrow(TypeError);
    expect(bad({ shape: [3, 224] })).toThrow(/shape/);
    expect(bad({ interp: 'bilinear' })).toThrow(/one of linear, area, nearest, cubic/);
    expect(bad({ maxSkipped: '5' })).toThrow(/count or a percentage/);
    expect(bad({ resizeShorter: 256 })).toThrow(/resize "center-crop"/);
    expect(bad({ workers: -1 })).toThrow(/workers/);
    expect(() => new ImageBatchFactory({ images: 3 } as unknown as ImageBatchFactoryOptions)).toThrow(
      /Expected a directory path or an array of file paths for images/,
    );
  });

  it('does not keep the process alive: a script that never closes its factory exits', () => {
    // The compiled build (npm test compiles dist/ first): transpiling the sources in the child, workers included,
    // took tens of seconds on a loaded 2-core machine.
    const script = `
      const { ImageBatchFactory } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'batch', 'image-factory.js'))});
      const f = new ImageBatchFactory({ images: ${JSON.stringify(path.join(dir, 'good'))}, shape: [3, 16, 20], batchSize: 2, workers: 2 });
      f.fill({ input: new Float32Array(2 * 960) }, 0).then((ok) => console.log('filled', ok));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 50000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('filled true');
    expect(r.status).toBe(0);
  });
});
