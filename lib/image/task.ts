/**
 * One unit of pipeline work, identical in a worker thread and in the calling thread: decode a file, preprocess
 * it, return the tensor bytes (float32, or float16 bits) and where the image went.
 */
import { decodeImage, ImageDecodeFailure } from './decode';
import type { OpenCv } from './opencv';
import {
  buildTables,
  imageElements,
  ImageSkip,
  preprocessInto,
  toFloat16,
  type ImageMeta,
  type PreprocessConfig,
} from './preprocess';

/** The outcome of one image: its tensor bytes and metadata, or the reason it was skipped. */
export type ImageTaskResult =
  { ok: true; data: ArrayBuffer; meta: ImageMeta } | { ok: false; file: string; reason: string };

/** Preprocesses files with one config; holds the lookup tables so they are built once. */
export class ImageTaskRunner {
  private readonly tables: ReturnType<typeof buildTables>;

  constructor(
    private readonly cv: OpenCv,
    private readonly cfg: PreprocessConfig,
  ) {
    this.tables = buildTables(cfg);
  }

  /** Decodes and preprocesses one file. Never throws: failures come back as `{ ok: false, reason }`. */
  async run(file: string): Promise<ImageTaskResult> {
    try {
      const img = await decodeImage(file);
      const f32 = new Float32Array(imageElements(this.cfg));
      const geo = preprocessInto(this.cv, img, this.cfg, this.tables, f32);
      let data: ArrayBuffer = f32.buffer;
      if (this.cfg.dtype === 'float16') {
        const f16 = new Uint16Array(f32.length);
        toFloat16(f32, f16);
        data = f16.buffer;
      }
      return { ok: true, data, meta: { file, ...geo } };
    } catch (err) {
      if (err instanceof ImageDecodeFailure || err instanceof ImageSkip)
        return { ok: false, file, reason: err.message };
      // opencv-js throws numbers (C++ exception pointers) for its own errors, e.g. WASM heap exhausted.
      const reason = err instanceof Error ? err.message : `OpenCV exception ${String(err)}`;
      return { ok: false, file, reason: `preprocessing failed: ${reason}` };
    }
  }
}
