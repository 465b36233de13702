/**
 * The image options: preprocessing (how one image becomes one tensor) and the image source (which files, how many
 * per batch, how many workers). Shared by calibrate(), ImageBatchFactory, evaluate and preview, and by their CLI
 * commands.
 */
import { boolean, countOrPercent, custom, imageShape, integer, number, oneOf, perChannel } from './spec';
import { callback, text } from './spec';
import { invalidOption } from '../errors';
import type { SkippedImage } from '../batch/image-factory';

/** Channel orders: `gray` is one channel (cv2.COLOR_BGR2GRAY weights). */
export const COLOR_ORDERS = ['bgr', 'rgb', 'gray'] as const;
/** How an image is fitted to the input's H×W. */
export const RESIZE_MODES = ['stretch', 'letterbox', 'center-crop'] as const;
/** cv2 interpolations: INTER_LINEAR, INTER_AREA, INTER_NEAREST, INTER_CUBIC. */
export const INTERPOLATIONS = ['linear', 'area', 'nearest', 'cubic'] as const;
/** Memory layouts of one image. */
export const LAYOUTS = ['nchw', 'nhwc'] as const;
/** Element types an image tensor can have. */
export const IMAGE_DTYPES = ['float32', 'float16'] as const;

/** Channel order of the tensor (`gray` is one channel, cv2.COLOR_BGR2GRAY weights). */
export type ColorOrder = (typeof COLOR_ORDERS)[number];
/** How the image is fitted to the input's height × width. */
export type ResizeMode = (typeof RESIZE_MODES)[number];
/** cv2 interpolation: INTER_LINEAR, INTER_AREA, INTER_NEAREST, INTER_CUBIC. */
export type Interpolation = (typeof INTERPOLATIONS)[number];
/** Memory layout of one image: channels first or last. */
export type Layout = (typeof LAYOUTS)[number];

/** Extensions listed from directories by default (lower case, with the dot). */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.tif',
  '.tiff',
  '.gif',
]);

/**
 * Preprocessing bundles users reach for; explicit options override a preset's values.
 *   imagenet: torchvision's ImageNet normalization (RGB, /255, mean 0.485 0.456 0.406, std 0.229 0.224 0.225);
 *   yolo:     Ultralytics YOLO (RGB, /255, letterbox padded with 114);
 *   caffe:    Caffe/Detectron BGR mean subtraction (102.9801, 115.9465, 122.7717), no scaling;
 *   unit:     pixels scaled to [0, 1] (/255), nothing else.
 */
export const PRESETS = {
  imagenet: { color: 'rgb', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  yolo: { color: 'rgb', scale: 1 / 255, resize: 'letterbox', padValue: 114 },
  caffe: { color: 'bgr', scale: 1, mean: [102.9801, 115.9465, 122.7717] },
  unit: { scale: 1 / 255 },
} as const satisfies Record<PresetName, Readonly<Record<string, unknown>>>;

/** A preset's name. */
export type PresetName = 'imagenet' | 'yolo' | 'caffe' | 'unit';

/** The preset names. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** Images per batch when nothing says otherwise. */
export const DEFAULT_BATCH_SIZE = 8;

/** How one image becomes one tensor: `y = (x · scale − mean) / std` per channel after resizing. */
export const PREPROCESS_OPTIONS = {
  /**
   * A preprocessing bundle (the README's Preprocessing section lists their values): `imagenet`, `yolo`, `caffe` or `unit`. Options given explicitly override
   * its values. Defaults to none (or `yolo` for a model whose metadata says Ultralytics).
   */
  preset: oneOf(PRESET_NAMES as unknown as readonly ['imagenet', 'yolo', 'caffe', 'unit'], {
    help: 'preprocessing bundle: imagenet (RGB, /255, ImageNet mean/std), yolo (RGB, /255, letterbox 114), caffe (BGR mean), unit (/255)',
    defaultText: "none (yolo when the model's metadata says Ultralytics)",
    cli: '--preset <name>',
  }),
  /**
   * Per-image shape `[C, H, W]` (always in this order, whatever the layout). C is 3 for bgr/rgb, 1 for gray.
   * Needed where the model's own dims are symbolic.
   */
  shape: imageShape({ help: 'per-image input shape C×H×W, e.g. 3x224x224', cli: '--shape <CxHxW>' }),
  /**
   * Channel order of the tensor. Defaults to `'gray'` when the input has one channel, else `'bgr'` (what cv2.imread
   * gives).
   */
  color: oneOf(COLOR_ORDERS, {
    help: 'channel order of the tensor',
    defaultText: 'gray for one channel, else bgr (as cv2.imread)',
    cli: '--color <order>',
  }),
  /** Multiplier applied to the 0–255 pixel first. Defaults to 1. */
  scale: number({ help: 'multiplier of the 0-255 pixel: y = (x*scale - mean) / std', default: 1, cli: '--scale <S>' }),
  /** Subtracted after scaling, one value or one per channel (in `color` order). Defaults to 0. */
  mean: perChannel({ help: 'mean, one or per channel in --color order', default: 0, cli: '--mean <a,b,c>' }),
  /** Divisor applied last, one value or one per channel (in `color` order). Defaults to 1. */
  std: perChannel({
    help: 'std, one or per channel in --color order',
    default: 1,
    nonZero: true,
    cli: '--std <a,b,c>',
  }),
  /**
   * How the image is fitted to H×W: `stretch` (cv2.resize), `letterbox` (aspect kept, centred, padded with
   * `padValue`) or `center-crop` (resized so H×W is covered, or the shorter side to `resizeShorter`, then the centre
   * cut). Defaults to `'stretch'`.
   */
  resize: oneOf(RESIZE_MODES, { help: 'how an image is fitted to H×W', default: 'stretch', cli: '--resize <mode>' }),
  /** Interpolation of the resize. Defaults to `'linear'` (cv2.INTER_LINEAR). */
  interp: oneOf(INTERPOLATIONS, {
    help: 'resize interpolation (cv2.INTER_*)',
    default: 'linear',
    cli: '--interp <mode>',
  }),
  /** Memory layout of each image. Defaults to `'nchw'`. */
  layout: oneOf(LAYOUTS, { help: 'memory layout of an image', default: 'nchw', cli: '--layout <layout>' }),
  /** Element type of the tensor. Defaults to `'float32'`. */
  dtype: oneOf(IMAGE_DTYPES, { help: 'element type of the tensor', default: 'float32', cli: '--dtype <type>' }),
  /** Letterbox fill as a 0–255 pixel value, one or one per channel (in `color` order). Defaults to 0. */
  padValue: perChannel({
    help: 'letterbox fill, 0-255, one or per channel',
    default: 0,
    min: 0,
    max: 255,
    cli: '--pad-value <v>',
  }),
  /**
   * center-crop only: length the shorter side is resized to before the crop (256 for the ImageNet 256→224 recipe).
   * Defaults to the smallest size that covers H×W.
   */
  resizeShorter: integer({
    help: 'center-crop: resize the shorter side to this length first',
    min: 1,
    defaultText: 'the smallest size that covers H×W',
    cli: '--resize-shorter <N>',
  }),
} as const;

/** Which image files feed the batches, how many per batch, and who decodes them. */
export const IMAGE_SOURCE_OPTIONS = {
  /** Images per batch (the batch dimension of every input). Defaults to 8. */
  batchSize: integer({ help: 'images per batch', min: 1, default: DEFAULT_BATCH_SIZE, cli: '--batch <N>' }),
  /** Use at most this many image files (after sorting and shuffling). Defaults to all. */
  limit: integer({ help: 'use at most N image files', min: 1, defaultText: 'all', cli: '--limit <N>' }),
  /** List subdirectories too. Defaults to false. */
  recursive: boolean({ help: 'list subdirectories too', default: false, cli: '--recursive' }),
  /** File extensions listed from a directory (case-insensitive). Defaults to {@link DEFAULT_IMAGE_EXTENSIONS}. */
  extensions: custom<readonly string[]>({
    help: 'file extensions listed from a directory',
    expected: 'an array of extensions like ".jpg"',
    defaultText: DEFAULT_IMAGE_EXTENSIONS.join(' '),
    check: (value, name) => {
      if (!Array.isArray(value) || !value.every((e) => typeof e === 'string' && e !== ''))
        throw invalidOption(name, 'an array of extensions like ".jpg"', value);
      return value.map((e: string) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
    },
    parse: (t, flag) => {
      const list = t.split(',').filter(Boolean);
      if (list.length === 0) throw invalidOption(flag, 'a comma-separated list like jpg,png', t, 'range');
      return list.map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
    },
    cli: '--extensions <list>',
  }),
  /** Shuffle the sorted file list with a seeded generator. Defaults to false. */
  shuffle: boolean({ help: 'shuffle the sorted file list (seeded)', default: false }),
  /** Seed of the shuffle. Defaults to 0. */
  seed: integer({ help: 'seed of the shuffle', min: 0, default: 0 }),
  /**
   * Skipped (unreadable) files allowed before the run fails with ERR_IMAGE_DECODE: a count, or a percentage string
   * like `'1%'` of the files listed. Defaults to 5 % of a directory's files (at least 1), none for a file list.
   */
  maxSkipped: countOrPercent({
    help: 'unreadable images allowed before failing, N or N%',
    defaultText: "5 % of a directory's files (at least 1), 0 for a file list",
    cli: '--max-skipped <N|N%>',
  }),
  /**
   * Worker threads that decode and preprocess images (each holds an opencv-js heap of about 85 MB); 0 runs them in
   * the calling thread. Defaults to one per core for an ImageBatchFactory, one per 4 cores (1 to 4) in calibrate().
   */
  workers: integer({
    help: 'decode/preprocess worker threads (0: the calling thread)',
    min: 0,
    defaultText: 'one per core (calibrate: one per 4 cores, 1 to 4)',
    cli: '--workers <N>',
  }),
  /** Batches prepared ahead of the one being consumed. Defaults to 2. */
  prefetch: integer({ help: 'batches decoded ahead', min: 0, default: 2 }),
  /**
   * What to do with a last batch that is not full: `drop` it (TensorRT needs full batches) or `pad` it by repeating
   * its images. Defaults to `'drop'`.
   */
  lastBatch: oneOf(['drop', 'pad'] as const, { help: 'a last partial batch: drop or pad', default: 'drop' }),
  /** Called for every skipped file (ImageBatchFactory also emits it as the `'skip'` event). Defaults to none. */
  onSkip: callback<(skipped: SkippedImage) => void>({ help: 'called for every skipped image' }),
} as const;

/** {@link ImageBatchFactory}'s options: the image source, its preprocessing, and the input it fills. */
export const IMAGE_FACTORY_OPTIONS = {
  /** A directory of images, or a list of image files. Required. */
  images: custom<string | readonly string[]>({
    help: 'a directory of images or a list of files',
    expected: 'a directory path or an array of file paths',
    check: (value, name) => {
      if (typeof value === 'string') {
        if (value === '') throw invalidOption(name, 'a directory path or an array of file paths', value, 'range');
        return value;
      }
      if (!Array.isArray(value) || !value.every((f) => typeof f === 'string'))
        throw invalidOption(name, 'a directory path or an array of file paths', value);
      return [...(value as string[])];
    },
  }),
  /** Network input name this factory fills. Defaults to `'input'`. */
  name: text({ help: 'network input name this factory fills', default: 'input' }),
  ...PREPROCESS_OPTIONS,
  ...IMAGE_SOURCE_OPTIONS,
} as const;
