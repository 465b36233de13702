/**
 * A custom BatchFactory: the seed's example, a detector with two inputs — `data` (BGR, mean-subtracted
 * 102.9801, 115.9465, 122.7717, scale 1.0, letterboxed to 3x600x1000) and `im_info` ([height, width, scale] of
 * each resized image) — written by hand: this class decodes with sharp and does the math in plain TypeScript.
 * (The same inputs come from ImageBatchFactory + combineFactories + imInfo without any code; this sample shows
 * the contract for data that is not a folder of images.)
 *
 * Run: node dist-samples/samples/custom-batch-factory.js [imageDir]   (after `npm run build:samples`)
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { BatchFactory, makeSyntheticImages, type BatchBuffers, type InputSpec } from 'trt-calibrator';

const MEAN_BGR = [102.9801, 115.9465, 122.7717];

/** Feeds `data` [N,3,H,W] and `im_info` [N,3] from the images of a directory, N per batch. */
export class BgrMeanBatchFactory extends BatchFactory {
  readonly inputs: readonly InputSpec[];
  private files: string[] = [];
  private next = 0;

  constructor(
    private readonly dir: string,
    private readonly batchSize = 2,
    private readonly height = 600,
    private readonly width = 1000,
  ) {
    super();
    this.inputs = [
      { name: 'data', shape: [batchSize, 3, height, width], dtype: 'float32' },
      { name: 'im_info', shape: [batchSize, 3], dtype: 'float32' },
    ];
  }

  override get totalBatches(): number | undefined {
    return this.files.length ? Math.floor(this.files.length / this.batchSize) : undefined;
  }

  async fill(buffers: BatchBuffers): Promise<boolean> {
    if (this.files.length === 0)
      this.files = (await fsp.readdir(this.dir))
        .filter((f) => /\.(jpe?g|png)$/i.test(f))
        .sort()
        .map((f) => path.join(this.dir, f));
    if (this.next + this.batchSize > this.files.length) return false;
    const data = buffers.data as Float32Array;
    const info = buffers.im_info as Float32Array;
    const plane = this.height * this.width;
    for (let b = 0; b < this.batchSize; b++) {
      const img = sharp(this.files[this.next++]).autoOrient().removeAlpha();
      const { width, height } = (await img.metadata()).autoOrient; // size as displayed (EXIF orientation applied)
      const scale = Math.min(this.width / width, this.height / height);
      const w = Math.round(width * scale);
      const h = Math.round(height * scale);
      const { data: rgb } = await img.resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
      const base = b * 3 * plane;
      for (let c = 0; c < 3; c++) data.fill(0 - MEAN_BGR[c], base + c * plane, base + (c + 1) * plane); // padding: pixel 0
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const p = (y * w + x) * 3;
          // BGR order: channel 0 is blue = rgb[p + 2].
          for (let c = 0; c < 3; c++) data[base + c * plane + y * this.width + x] = rgb[p + 2 - c] - MEAN_BGR[c];
        }
      }
      info.set([h, w, scale], b * 3);
    }
    return true;
  }

  override reset(): void {
    this.next = 0;
  }
}

/**
 * Fills every batch of the factory over `imageDir` (without one: 4 rendered scenes in a temporary directory) and
 * prints each batch's im_info; returns the number of batches.
 */
export async function main(imageDir?: string, log: (line: string) => void = console.log): Promise<number> {
  let dir = imageDir;
  if (dir === undefined) {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'trtc-sample-bgr-'));
    await makeSyntheticImages(dir, { kind: 'scenes', count: 4 });
    log(`no image directory given: rendered 4 scenes into ${dir}`);
  }
  const factory = new BgrMeanBatchFactory(dir, 1, 60, 100);
  const [data, info] = factory.inputs;
  const buffers = { data: new Float32Array(data.shape.reduce((a, b) => a * b)), im_info: new Float32Array(3) };
  let batches = 0;
  while (await factory.fill(buffers)) {
    const mean = buffers.data.reduce((a, b) => a + b, 0) / buffers.data.length;
    log(
      `batch ${batches++}: ${data.name} mean ${mean.toFixed(3)}, ${info.name} ${Array.from(buffers.im_info)
        .map((v) => +v.toFixed(4))
        .join(', ')}`,
    );
  }
  if (batches === 0) throw new Error(`no JPEG or PNG images in ${dir}`);
  return batches;
}

if (require.main === module) {
  main(process.argv[2]).catch((err: Error) => {
    console.error(`custom-batch-factory: ${err.message}`);
    process.exitCode = 1;
  });
}
