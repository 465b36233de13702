/**
 * ImageBatchFactory: calibration batches from a directory or a list of image files, decoded with sharp and
 * preprocessed with opencv-js the way a cv2 + numpy pipeline does it, in a pool of worker threads that
 * prefetches a bounded number of batches ahead.
 */
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import { TrtCalibratorError, invalidOption } from '../errors';
import { listImageFiles } from '../image/list';
import { loadOpenCv } from '../image/opencv';
import {
  IMAGE_FACTORY_OPTIONS,
  PREPROCESS_OPTIONS,
  PRESETS,
  resolveOptions,
  validateOptions,
  type OptionsOf,
  type Requiring,
  type ResolvedOf,
} from '../options';
import { ImageWorkerPool } from '../image/pool';
import { imageElements, type ImageMeta, type PreprocessConfig } from '../image/preprocess';
import { ImageTaskRunner, type ImageTaskResult } from '../image/task';
import { BatchFactory, type BatchBuffers, type InputSpec } from './factory';

export type { ImageMeta } from '../image/preprocess';
export type { ColorOrder, Interpolation, Layout, ResizeMode } from '../options';
export { DEFAULT_IMAGE_EXTENSIONS } from '../options';

/** The preprocessing options, shared by {@link ImageBatchFactoryOptions}, calibrate() and the CLI. */
export interface PreprocessOptions extends OptionsOf<typeof PREPROCESS_OPTIONS> {}

/** A file that was not used, and why. */
export interface SkippedImage {
  /** The file. */
  file: string;
  /** Why: unreadable, not decodable, smaller than the crop… */
  reason: string;
}

/** Options of {@link ImageBatchFactory}: `images` and `shape` are required. */
export interface ImageBatchFactoryOptions extends Requiring<
  OptionsOf<typeof IMAGE_FACTORY_OPTIONS>,
  'images' | 'shape'
> {}

/** Counters of the current pass. */
export interface ImageBatchStats {
  /** Files listed (after extension filter, shuffle and limit). */
  files: number;
  /** Images written into delivered batches (padding repeats not counted). */
  used: number;
  /** Files skipped, in file order. */
  skipped: SkippedImage[];
  /** Usable images left over in a dropped partial last batch. */
  dropped: number;
  /** Full batches delivered. */
  batches: number;
}

/** Share of a directory's files that may be unreadable by default (at least one file). */
export const DEFAULT_DIRECTORY_SKIP_SHARE = 0.05;

/**
 * Unreadable files allowed when `maxSkipped` is not given: for a directory 5 % of its files, at least 1 (a folder of
 * photos often holds one broken file); for a list of files none (the caller chose each one).
 */
export function defaultMaxSkipped(files: number, directory: boolean): number {
  return directory ? Math.max(1, Math.floor(DEFAULT_DIRECTORY_SKIP_SHARE * files)) : 0;
}

/**
 * Validates {@link PreprocessOptions} and resolves every default into the plain settings the workers use. `shape`
 * is required; per-channel values must match its C. Throws ERR_INVALID_OPTION errors naming `prefix` + option.
 */
export function resolvePreprocessOptions(options: PreprocessOptions, prefix = ''): PreprocessConfig {
  // A preset's values first, then what was given explicitly, then the defaults.
  const given = validateOptions(PREPROCESS_OPTIONS, options, 'preprocessing', prefix);
  const preset: Partial<PreprocessOptions> = given.preset ? PRESETS[given.preset] : {};
  const o = resolveOptions(PREPROCESS_OPTIONS, { ...preset, ...given }, 'preprocessing', prefix);
  if (o.shape === undefined)
    throw invalidOption(`${prefix}shape`, 'a per-image shape [C, H, W] of positive integers', undefined);
  const [C, H, W] = o.shape;
  const color = o.color ?? (C === 1 ? 'gray' : 'bgr');
  if ((color === 'gray' && C !== 1) || (color !== 'gray' && C !== 3)) {
    const from = given.color === undefined && given.preset ? ` (from preset "${given.preset}")` : '';
    throw invalidOption(
      `${prefix}shape`,
      `C = ${color === 'gray' ? 1 : 3} for color "${color}"${from}`,
      o.shape,
      'range',
    );
  }
  const channels = (name: string, value: number | readonly number[]): number[] => {
    if (typeof value === 'number') return new Array<number>(C).fill(value);
    if (value.length !== C) throw invalidOption(prefix + name, `${C} values (one per channel)`, value, 'range');
    return [...value];
  };
  if (o.resizeShorter !== undefined && o.resize !== 'center-crop')
    throw invalidOption(`${prefix}resizeShorter`, 'to be used with resize "center-crop"', o.resizeShorter, 'range');
  return {
    channels: C as 1 | 3,
    height: H,
    width: W,
    color,
    resize: o.resize,
    interp: o.interp,
    scale: o.scale,
    mean: channels('mean', o.mean),
    std: channels('std', o.std),
    layout: o.layout,
    dtype: o.dtype,
    padValue: channels('padValue', o.padValue),
    ...(o.resizeShorter !== undefined ? { resizeShorter: o.resizeShorter } : {}),
  };
}

type Outcome = ImageTaskResult;

/**
 * Batches of preprocessed images for one network input.
 *
 * Files are sorted by path in byte order (optionally shuffled with a seed), decoded and preprocessed in worker
 * threads, and delivered in that order whatever the worker count: batch contents are reproducible. Unusable
 * files are skipped (event `'skip'`, `onSkip`, {@link ImageBatchFactory.stats}); past `maxSkipped` the fill
 * rejects with ERR_IMAGE_DECODE naming the files.
 *
 * ```ts
 * const f = await ImageBatchFactory.create({ images: 'calib/', name: 'data', shape: [3, 224, 224], color: 'rgb',
 *   scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], batchSize: 8 });
 * ```
 */
export class ImageBatchFactory extends BatchFactory {
  /** The one input this factory fills: `[batchSize, C, H, W]` (nchw) or `[batchSize, H, W, C]` (nhwc). */
  readonly inputs: readonly InputSpec[];
  /** The resolved preprocessing settings. */
  readonly config: Readonly<PreprocessConfig>;
  /** Images per batch. */
  readonly batchSize: number;
  /** Metadata of each image in the last delivered batch (padding repeats included), for derived inputs. */
  lastBatchMeta: readonly ImageMeta[] = [];

  private readonly options: ResolvedOf<typeof IMAGE_FACTORY_OPTIONS>;
  private readonly events = new EventEmitter();
  private readonly workerCount: number;
  private readonly prefetch: number;
  private readonly lastBatch: 'drop' | 'pad';
  private files: string[] | undefined;
  private opening: Promise<void> | undefined;
  private allowedSkips = 0;
  private pool: ImageWorkerPool | undefined;
  private inline: Promise<ImageTaskRunner> | undefined;
  private pending: Promise<Outcome>[] = [];
  private cursor = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private currentStats: ImageBatchStats = { files: 0, used: 0, skipped: [], dropped: 0, batches: 0 };

  /** Validates the options; files are listed on the first fill or by {@link ImageBatchFactory.open}. */
  constructor(options: ImageBatchFactoryOptions) {
    super();
    const o = resolveOptions(IMAGE_FACTORY_OPTIONS, options, 'ImageBatchFactory');
    if (o.images === undefined) throw invalidOption('images', 'a directory path or an array of file paths', undefined);
    // The preprocessing as given (not defaulted): a preset's values apply under what was given explicitly.
    const preprocess: Record<string, unknown> = {};
    for (const key of Object.keys(PREPROCESS_OPTIONS))
      if ((options as Record<string, unknown>)[key] !== undefined)
        preprocess[key] = (o as Record<string, unknown>)[key];
    this.config = resolvePreprocessOptions(preprocess as PreprocessOptions);
    this.batchSize = o.batchSize;
    this.lastBatch = o.lastBatch;
    this.workerCount = o.workers ?? os.availableParallelism();
    this.prefetch = o.prefetch;
    this.options = o;
    const { channels: C, height: H, width: W } = this.config;
    this.inputs = [
      {
        name: o.name,
        shape: this.config.layout === 'nchw' ? [this.batchSize, C, H, W] : [this.batchSize, H, W, C],
        dtype: this.config.dtype,
      },
    ];
  }

  /** Creates a factory and lists its files (so {@link ImageBatchFactory.totalBatches} is known). */
  static async create(options: ImageBatchFactoryOptions): Promise<ImageBatchFactory> {
    const f = new ImageBatchFactory(options);
    await f.open();
    return f;
  }

  /** Adds a listener; the only event is `'skip'` with a {@link SkippedImage}. */
  on(event: 'skip', listener: (skipped: SkippedImage) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Removes a listener added with {@link ImageBatchFactory.on}. */
  off(event: 'skip', listener: (skipped: SkippedImage) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** The listed files, in delivery order (undefined before {@link ImageBatchFactory.open}). */
  get fileList(): readonly string[] | undefined {
    return this.files;
  }

  /** Counters of the current pass (since the start or the last reset). */
  get stats(): Readonly<ImageBatchStats> {
    return { ...this.currentStats, skipped: [...this.currentStats.skipped] };
  }

  /** Full batches this factory will deliver if nothing is skipped (undefined before the files are listed). */
  override get totalBatches(): number | undefined {
    if (!this.files) return undefined;
    const n = this.files.length / this.batchSize;
    return this.lastBatch === 'pad' ? Math.ceil(n) : Math.floor(n);
  }

  /**
   * Lists the files, starts the workers and has them decode the first batches (up to `prefetch` + 1 ahead), so
   * that calling it early overlaps their start-up with other work. Called by the first fill if not before.
   * Rejects with ERR_NO_DATA for a missing or empty directory.
   */
  open(): Promise<void> {
    this.opening ??= this.list();
    return this.opening;
  }

  private async list(): Promise<void> {
    const o = this.options;
    const images = o.images as string | readonly string[];
    const files = await listImageFiles(images, {
      recursive: o.recursive,
      ...(o.extensions ? { extensions: o.extensions } : {}),
      shuffle: o.shuffle,
      seed: o.seed,
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
    });
    const isDir = typeof images === 'string';
    const ms = o.maxSkipped;
    this.allowedSkips =
      ms === undefined
        ? defaultMaxSkipped(files.length, isDir)
        : typeof ms === 'number'
          ? ms
          : Math.floor((parseFloat(ms) / 100) * files.length);
    this.files = files;
    this.currentStats.files = files.length;
    if (this.isClosed) return;
    if (this.workerCount > 0) this.pool = new ImageWorkerPool(this.config, this.workerCount);
    else this.inline = loadOpenCv().then(({ cv }) => new ImageTaskRunner(cv, this.config));
    this.pump();
  }

  private runOne(file: string): Promise<Outcome> {
    if (this.pool) return this.pool.run(file);
    return (this.inline as Promise<ImageTaskRunner>).then((r) => r.run(file));
  }

  /** Keeps up to (prefetch + 1) batches of images in flight or ready. */
  private pump(): void {
    const files = this.files as string[];
    const capacity = Math.max((this.prefetch + 1) * this.batchSize, 2 * this.workerCount);
    while (this.pending.length < capacity && this.cursor < files.length) {
      const p = this.runOne(files[this.cursor++]);
      p.catch(() => undefined); // awaited in order later; avoid an unhandled rejection meanwhile
      this.pending.push(p);
    }
  }

  private async nextImage(): Promise<Extract<Outcome, { ok: true }> | undefined> {
    for (;;) {
      this.pump();
      const p = this.pending.shift();
      if (!p) return undefined;
      const r = await p;
      this.pump();
      if (r.ok) return r;
      this.skip({ file: r.file, reason: r.reason });
    }
  }

  private skip(s: SkippedImage): void {
    this.currentStats.skipped.push(s);
    this.options.onSkip?.(s);
    this.events.emit('skip', s);
    const skipped = this.currentStats.skipped;
    if (skipped.length > this.allowedSkips) {
      const names = skipped
        .slice(0, 10)
        .map((x) => `${x.file} (${x.reason})`)
        .join('; ');
      throw new TrtCalibratorError(
        'ERR_IMAGE_DECODE',
        `${skipped.length} of ${this.currentStats.files} images could not be used, more than maxSkipped allows (${this.allowedSkips}): ${names}${skipped.length > 10 ? '; …' : ''}`,
        { details: { skipped: [...skipped], allowed: this.allowedSkips } },
      );
    }
  }

  /** Fills `buffers[name]` with the next batch. Resolves false when the images are exhausted. */
  fill(buffers: BatchBuffers, batchIndex: number): Promise<boolean> {
    const run = this.chain.then(() => this.fillNow(buffers, batchIndex));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async fillNow(buffers: BatchBuffers, _batchIndex: number): Promise<boolean> {
    if (this.isClosed) throw new TrtCalibratorError('ERR_BATCH_FACTORY', 'ImageBatchFactory was closed');
    const spec = this.inputs[0];
    const view = buffers[spec.name];
    if (view === undefined)
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `no buffer for input "${spec.name}" (got ${Object.keys(buffers).join(', ') || 'none'})`,
        { details: { input: spec.name } },
      );
    const Expected = spec.dtype === 'float32' ? Float32Array : Uint16Array;
    if (!(view instanceof Expected))
      throw new TrtCalibratorError(
        'ERR_INPUT_DTYPE',
        `buffer for input "${spec.name}" must be a ${Expected.name} (${spec.dtype}), got ${view.constructor.name}`,
        { details: { input: spec.name } },
      );
    const per = imageElements(this.config);
    const target = view as Float32Array | Uint16Array;
    if (target.length !== per * this.batchSize)
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `buffer for input "${spec.name}" holds ${target.length} elements, expected ${per * this.batchSize} for shape [${spec.shape.join(', ')}]`,
        { details: { input: spec.name, shape: spec.shape } },
      );
    await this.open();
    const metas: ImageMeta[] = [];
    const got: Array<Float32Array | Uint16Array> = [];
    while (got.length < this.batchSize) {
      const r = await this.nextImage();
      if (!r) break;
      const t = spec.dtype === 'float32' ? new Float32Array(r.data) : new Uint16Array(r.data);
      target.set(t, got.length * per);
      got.push(t);
      metas.push(r.meta);
    }
    const first = this.currentStats.batches === 0;
    if (got.length === 0 || (got.length < this.batchSize && this.lastBatch === 'drop')) {
      this.currentStats.dropped = got.length;
      if (first) {
        const usable = got.length;
        throw new TrtCalibratorError(
          'ERR_NO_DATA',
          `only ${usable} usable image${usable === 1 ? '' : 's'} of ${this.currentStats.files}, fewer than one batch of ${this.batchSize}`,
          { details: { skipped: [...this.currentStats.skipped] } },
        );
      }
      return false;
    }
    this.currentStats.used += got.length;
    for (let i = got.length, k = 0; i < this.batchSize; i++, k++) {
      target.set(got[k % got.length], i * per);
      metas.push(metas[k % got.length]);
    }
    this.currentStats.batches += 1;
    this.lastBatchMeta = metas;
    return true;
  }

  /** Rewinds to the first image; work in flight for the old pass is discarded. */
  override async reset(): Promise<void> {
    await this.chain;
    this.pending = [];
    this.cursor = 0;
    this.lastBatchMeta = [];
    this.currentStats = { files: this.files?.length ?? 0, used: 0, skipped: [], dropped: 0, batches: 0 };
  }

  /** Terminates the worker threads. Further fills reject. */
  override async close(): Promise<void> {
    this.isClosed = true;
    this.pending = [];
    await this.pool?.close();
    this.pool = undefined;
  }
}
