/**
 * ImageBatchFactory: calibration batches from a directory or a list of image files, decoded with sharp and
 * preprocessed with opencv-js the way a cv2 + numpy pipeline does it, in a pool of worker threads that
 * prefetches a bounded number of batches ahead.
 */
import { EventEmitter } from 'node:events';
import { seededRandom } from '../util/random';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrtCalibratorError, invalidOption, rejectUnknownOptions } from '../errors';
import { loadOpenCv } from '../image/opencv';
import { ImageWorkerPool } from '../image/pool';
import {
  imageElements,
  type ColorOrder,
  type ImageMeta,
  type Interpolation,
  type Layout,
  type PreprocessConfig,
  type ResizeMode,
} from '../image/preprocess';
import { ImageTaskRunner, type ImageTaskResult } from '../image/task';
import { BatchFactory, type BatchBuffers, type InputSpec } from './factory';

export type { ColorOrder, ImageMeta, Interpolation, Layout, ResizeMode } from '../image/preprocess';

/** Extensions listed from directories by default (lower case, with the dot). */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif'];

/** The preprocessing options, shared by {@link ImageBatchFactoryOptions} and the CLI. */
export interface PreprocessOptions {
  /** Per-image shape `[C, H, W]` (always in this order, whatever the layout). C is 3 for bgr/rgb, 1 for gray. Required. */
  shape: readonly number[];
  /** Channel order of the tensor. Defaults to `'bgr'` (what cv2.imread gives). */
  color?: ColorOrder;
  /** Multiplier applied to the 0–255 pixel first. Defaults to 1. */
  scale?: number;
  /** Subtracted after scaling, one value or one per channel (in `color` order). Defaults to 0. */
  mean?: number | readonly number[];
  /** Divisor applied last, one value or one per channel (in `color` order). Defaults to 1. */
  std?: number | readonly number[];
  /** How the image is fitted to H×W: `stretch` (cv2.resize), `letterbox` (aspect kept, centred, padded) or `center-crop` (shorter side resized, centre cut). Defaults to `'stretch'`. */
  resize?: ResizeMode;
  /** Interpolation of the resize. Defaults to `'linear'` (cv2.INTER_LINEAR). */
  interp?: Interpolation;
  /** Memory layout of each image. Defaults to `'nchw'`. */
  layout?: Layout;
  /** Element type of the tensor. Defaults to `'float32'`. */
  dtype?: 'float32' | 'float16';
  /** Letterbox fill as a 0–255 pixel value, one or one per channel (in `color` order). Defaults to 0. */
  padValue?: number | readonly number[];
  /** center-crop only: length the shorter side is resized to before the crop (256 for the ImageNet 256→224 recipe). Defaults to the smallest size that covers H×W. */
  resizeShorter?: number;
}

/** A file that was not used, and why. */
export interface SkippedImage {
  /** The file. */
  file: string;
  /** Why: unreadable, not decodable, smaller than the crop… */
  reason: string;
}

/** Options of {@link ImageBatchFactory}. */
export interface ImageBatchFactoryOptions extends PreprocessOptions {
  /** A directory of images, or a list of image files. Required. */
  images: string | readonly string[];
  /** Network input name this factory fills. Defaults to `'input'`. */
  name?: string;
  /** Images per batch. Defaults to 8. */
  batchSize?: number;
  /** List subdirectories too. Defaults to false. */
  recursive?: boolean;
  /** File extensions listed from a directory (case-insensitive). Defaults to {@link DEFAULT_IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
  /** Use at most this many files (after sorting and shuffling). Defaults to no limit. */
  limit?: number;
  /** Shuffle the sorted file list with a seeded generator. Defaults to false. */
  shuffle?: boolean;
  /** Seed of the shuffle. Defaults to 0. */
  seed?: number;
  /** What to do with a last batch that is not full: `drop` it (TensorRT needs full batches) or `pad` it by repeating its images. Defaults to `'drop'`. */
  lastBatch?: 'drop' | 'pad';
  /** Skipped files allowed before the run fails with ERR_IMAGE_DECODE: a count, or a percentage string like `'1%'` of the files listed. Defaults to `'0%'` for a file list and `'1%'` for a directory. */
  maxSkipped?: number | string;
  /** Worker threads that decode and preprocess; 0 runs in the calling thread. Defaults to os.availableParallelism(). */
  workers?: number;
  /** Batches prepared ahead of the one being consumed. Defaults to 2. */
  prefetch?: number;
  /** Called for every skipped file (also emitted as the `'skip'` event). Defaults to none. */
  onSkip?: (skipped: SkippedImage) => void;
}

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

const PREPROCESS_KEYS = [
  'shape',
  'color',
  'scale',
  'mean',
  'std',
  'resize',
  'interp',
  'layout',
  'dtype',
  'padValue',
  'resizeShorter',
] as const;
const FACTORY_KEYS = [
  ...PREPROCESS_KEYS,
  'images',
  'name',
  'batchSize',
  'recursive',
  'extensions',
  'limit',
  'shuffle',
  'seed',
  'lastBatch',
  'maxSkipped',
  'workers',
  'prefetch',
  'onSkip',
] as const;

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalidOption(option, `one of ${allowed.join(', ')}`, value);
  if (!allowed.includes(value as T)) throw invalidOption(option, `one of ${allowed.join(', ')}`, value, 'range');
  return value as T;
}

function positiveInt(option: string, value: unknown, fallback: number | undefined, min = 1): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidOption(option, `an integer >= ${min}`, value);
  if (!Number.isInteger(value) || value < min) throw invalidOption(option, `an integer >= ${min}`, value, 'range');
  return value;
}

function perChannel(
  option: string,
  value: unknown,
  channels: number,
  fallback: number,
  check?: (v: number) => boolean,
  what = 'a finite number',
): number[] {
  if (value === undefined) return new Array<number>(channels).fill(fallback);
  const list = typeof value === 'number' ? new Array<number>(channels).fill(value) : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'number'))
    throw invalidOption(option, `${what} or an array of ${channels}`, value);
  if (list.length !== channels) throw invalidOption(option, `${channels} values (one per channel)`, value, 'range');
  if (list.some((v) => !Number.isFinite(v) || (check && !check(v))))
    throw invalidOption(option, `${what} or an array of ${channels}`, value, 'range');
  return [...(list as number[])];
}

/** Validates {@link PreprocessOptions} and resolves every default. Throws ERR_INVALID_OPTION errors. */
export function resolvePreprocessOptions(options: PreprocessOptions): PreprocessConfig {
  const shape = options.shape as unknown;
  if (!Array.isArray(shape)) throw invalidOption('shape', 'an array [C, H, W]', shape);
  if (shape.length !== 3 || shape.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1))
    throw invalidOption('shape', 'three positive integers [C, H, W]', shape, 'range');
  const [C, H, W] = shape as number[];
  const color = oneOf('color', options.color, ['bgr', 'rgb', 'gray'] as const, 'bgr');
  if ((color === 'gray' && C !== 1) || (color !== 'gray' && C !== 3))
    throw invalidOption('shape', `C = ${color === 'gray' ? 1 : 3} for color "${color}"`, shape, 'range');
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number') throw invalidOption('scale', 'a finite number', scale);
  if (!Number.isFinite(scale)) throw invalidOption('scale', 'a finite number', scale, 'range');
  const resize = oneOf('resize', options.resize, ['stretch', 'letterbox', 'center-crop'] as const, 'stretch');
  const resizeShorter = positiveInt('resizeShorter', options.resizeShorter, undefined);
  if (resizeShorter !== undefined && resize !== 'center-crop')
    throw invalidOption('resizeShorter', 'to be used with resize "center-crop"', resizeShorter, 'range');
  return {
    channels: C as 1 | 3,
    height: H,
    width: W,
    color,
    resize,
    interp: oneOf('interp', options.interp, ['linear', 'area', 'nearest', 'cubic'] as const, 'linear'),
    scale,
    mean: perChannel('mean', options.mean, C, 0),
    std: perChannel('std', options.std, C, 1, (v) => v !== 0, 'a non-zero finite number'),
    layout: oneOf('layout', options.layout, ['nchw', 'nhwc'] as const, 'nchw'),
    dtype: oneOf('dtype', options.dtype, ['float32', 'float16'] as const, 'float32'),
    padValue: perChannel('padValue', options.padValue, C, 0, (v) => v >= 0 && v <= 255, 'a number in 0..255'),
    ...(resizeShorter !== undefined ? { resizeShorter } : {}),
  };
}

/** Byte-order comparison of paths, as `LC_ALL=C sort`. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function listDirectory(dir: string, recursive: boolean, extensions: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fsp.readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(p);
      } else if ((e.isFile() || e.isSymbolicLink()) && extensions.includes(path.extname(e.name).toLowerCase())) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out;
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

  private readonly options: ImageBatchFactoryOptions;
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
    if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
    rejectUnknownOptions('ImageBatchFactory', options, FACTORY_KEYS);
    const images = options.images as unknown;
    if (typeof images !== 'string' && !(Array.isArray(images) && images.every((f) => typeof f === 'string')))
      throw invalidOption('images', 'a directory path or an array of file paths', images);
    if (typeof images === 'string' && images.length === 0)
      throw invalidOption('images', 'a directory path or an array of file paths', images, 'range');
    this.config = resolvePreprocessOptions(options);
    const name = options.name ?? 'input';
    if (typeof name !== 'string' || name.length === 0) throw invalidOption('name', 'a non-empty string', name);
    this.batchSize = positiveInt('batchSize', options.batchSize, 8) as number;
    positiveInt('limit', options.limit, undefined);
    if (options.seed !== undefined && (typeof options.seed !== 'number' || !Number.isInteger(options.seed)))
      throw invalidOption('seed', 'an integer', options.seed);
    for (const key of ['recursive', 'shuffle'] as const)
      if (options[key] !== undefined && typeof options[key] !== 'boolean')
        throw invalidOption(key, 'a boolean', options[key]);
    if (
      options.extensions !== undefined &&
      !(Array.isArray(options.extensions) && options.extensions.every((e) => typeof e === 'string'))
    )
      throw invalidOption('extensions', 'an array of strings like ".jpg"', options.extensions);
    this.lastBatch = oneOf('lastBatch', options.lastBatch, ['drop', 'pad'] as const, 'drop');
    this.workerCount = positiveInt('workers', options.workers, os.availableParallelism(), 0) as number;
    this.prefetch = positiveInt('prefetch', options.prefetch, 2, 0) as number;
    const ms = options.maxSkipped;
    if (ms !== undefined) {
      if (typeof ms === 'number') positiveInt('maxSkipped', ms, 0, 0);
      else if (typeof ms !== 'string' || !/^\d+(\.\d+)?%$/.test(ms) || parseFloat(ms) > 100)
        throw invalidOption(
          'maxSkipped',
          'a count or a percentage like "1%"',
          ms,
          typeof ms === 'string' ? 'range' : 'type',
        );
    }
    if (options.onSkip !== undefined && typeof options.onSkip !== 'function')
      throw invalidOption('onSkip', 'a function', options.onSkip);
    this.options = { ...options };
    const { channels: C, height: H, width: W } = this.config;
    this.inputs = [
      {
        name,
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
    let files: string[];
    let isDir = false;
    if (typeof o.images === 'string') {
      isDir = true;
      const dir = o.images;
      const st = await fsp.stat(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new TrtCalibratorError('ERR_NO_DATA', `image directory not found: ${dir}`, { details: { path: dir } });
        throw new TrtCalibratorError('ERR_IO', `cannot read image directory ${dir}: ${err.message}`, {
          cause: err,
          details: { path: dir },
        });
      });
      if (!st.isDirectory())
        throw new TrtCalibratorError(
          'ERR_NO_DATA',
          `not a directory: ${dir} (pass a list of files for single images)`,
          { details: { path: dir } },
        );
      const exts = (o.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) =>
        (e.startsWith('.') ? e : `.${e}`).toLowerCase(),
      );
      try {
        files = await listDirectory(dir, o.recursive ?? false, exts);
      } catch (err) {
        throw new TrtCalibratorError('ERR_IO', `cannot list image directory ${dir}: ${(err as Error).message}`, {
          cause: err,
          details: { path: dir },
        });
      }
      if (files.length === 0)
        throw new TrtCalibratorError(
          'ERR_NO_DATA',
          `no images in ${dir} (extensions ${exts.join(' ')}${o.recursive ? '' : '; subdirectories not searched, use recursive'})`,
          { details: { path: dir } },
        );
    } else {
      files = [...o.images];
      if (files.length === 0) throw new TrtCalibratorError('ERR_NO_DATA', 'the image list is empty');
    }
    files.sort(byteOrder);
    if (o.shuffle) {
      const rnd = seededRandom(o.seed ?? 0);
      for (let i = files.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [files[i], files[j]] = [files[j], files[i]];
      }
    }
    if (o.limit !== undefined) files = files.slice(0, o.limit);
    const ms = o.maxSkipped ?? (isDir ? '1%' : '0%');
    this.allowedSkips = typeof ms === 'number' ? ms : Math.floor((parseFloat(ms) / 100) * files.length);
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
