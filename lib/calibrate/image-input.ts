/**
 * Defaults from the model and the data for an image directory feeding a model's one float input: the per-image
 * shape (the model's fixed dims; open dims from the model's metadata or from the images when they all share one
 * size), the layout (NHWC when the model's last dim is the channel count), the colour (gray for one channel) and,
 * for an Ultralytics export with nothing else said, its preprocessing. Each decision made for the user is said in
 * one line (`notes`); preprocessing that nobody gave is a warning, since wrong preprocessing is the first cause of
 * bad INT8 accuracy.
 */
import { TrtCalibratorError } from '../errors';
import { imageSize } from '../image/decode';
import type { ModelInput, OnnxModel } from '../onnx/model';
import { resolvePreprocessOptions, type PreprocessOptions } from '../batch/image-factory';
import type { CalibrationCache } from '../cache/format';
import { buildTables } from '../image/preprocess';
import { DEFAULT_BATCH_SIZE, mention, PREPROCESS_OPTIONS, PRESETS, type PresetName } from '../options';
import type { ResolvedCalibrateOptions } from './job';

/** What feeds the input: its name and its preprocessing, `shape` included. */
export interface ImageInputPlan {
  /** The model input the images feed. */
  readonly input: ModelInput;
  /** Preprocessing options (global and per-input merged, decisions applied); `shape` is always set. */
  readonly preprocess: PreprocessOptions & { shape: readonly number[] };
  /** Images per batch: `batchSize`, else the model's fixed batch dimension, else the default. */
  readonly batchSize: number;
}

/** How a model input shows in messages: `x (float [-1,3,48,-1])`. */
export function inputText(i: ModelInput): string {
  return `${i.name} (${i.elemType} ${JSON.stringify(i.dims ?? [])})`;
}

const fixed = (d: unknown): d is number => typeof d === 'number' && d > 0;

/** The model's metadata (ONNX metadata_props) as a map. */
function metadataOf(model: OnnxModel): Map<string, string> {
  return new Map((model.proto.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}

/** `imgsz` of an Ultralytics export: `[640, 640]` or `640`; undefined when absent or unreadable. */
function metadataSize(meta: Map<string, string>): [number, number] | undefined {
  const text = meta.get('imgsz');
  if (!text) return undefined;
  const numbers = (text.match(/\d+/g) ?? []).map(Number).filter((n) => n > 0);
  if (numbers.length === 1) return [numbers[0], numbers[0]];
  if (numbers.length === 2) return [numbers[0], numbers[1]];
  return undefined;
}

/** Reads the sizes of `files` from their headers, a few at a time. */
async function sizesOf(files: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const size = await imageSize(files[next++]);
      if (!size) continue;
      const key = `${size.width}x${size.height}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  return counts;
}

function shapeTexts(shape: readonly number[]): { api: string; cli: string } {
  return { api: `[${shape.join(', ')}]`, cli: shape.join('x') };
}

/**
 * Decides the preprocessing of the one float input an image directory feeds. `files` lists the images (read only
 * when the model leaves H or W open). Throws ERR_INPUT_NAME when the model does not have exactly one float input or
 * `inputs` names another, ERR_INPUT_SHAPE when the shape cannot be decided (naming the model's fixed and open dims,
 * the image sizes seen and a concrete shape to pass).
 */
export async function planImageInput(
  declared: readonly ModelInput[],
  options: ResolvedCalibrateOptions,
  model: OnnxModel,
  modelPath: string,
  files: () => Promise<readonly string[]>,
  notes: string[],
  warnings: string[],
): Promise<ImageInputPlan> {
  const floats = declared.filter((i) => i.elemType === 'float');
  if (declared.length !== 1 || floats.length !== 1) {
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      `${modelPath} has ${declared.length} inputs (${declared.map(inputText).join(', ')}); an image directory feeds exactly one float input. ` +
        'Pass factories by input name instead: calibrate(model, { image: new ImageBatchFactory(...), other: factory })',
      { details: { inputs: declared.map((i) => i.name) } },
    );
  }
  const input = floats[0];
  for (const key of Object.keys(options.inputs ?? {})) {
    if (key !== input.name) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `Unknown input "${key}" in ${mention('inputs')}; ${modelPath} has inputs: ${declared.map(inputText).join(', ')}`,
        { details: { input: key, inputs: declared.map((i) => i.name) } },
      );
    }
  }
  // Per-input preprocessing wins over the run's.
  const perInput = options.inputs?.[input.name] ?? {};
  const pre: Record<string, unknown> = {};
  for (const key of Object.keys(PREPROCESS_OPTIONS) as Array<keyof typeof PREPROCESS_OPTIONS>) {
    const value = perInput[key] ?? options[key];
    if (value !== undefined) pre[key] = value;
  }
  const meta = metadataOf(model);
  const ultralytics = /ultralytics/i.test(meta.get('author') ?? '') || (meta.has('imgsz') && meta.has('stride'));
  const saidPreprocessing = ['preset', 'scale', 'mean', 'std', 'color', 'resize'].some((k) => pre[k] !== undefined);
  if (ultralytics && !saidPreprocessing) {
    pre.preset = 'yolo';
    notes.push(
      `preprocessing ${mention('preset', { api: "'yolo'", cli: 'yolo' })} (RGB, /255, letterbox padded with 114): the model's metadata says it is an Ultralytics export`,
    );
  }
  const dims = input.dims ?? [];
  if (
    pre.layout === undefined &&
    dims.length === 4 &&
    !(dims[1] === 1 || dims[1] === 3) &&
    (dims[3] === 1 || dims[3] === 3)
  ) {
    pre.layout = 'nhwc';
    notes.push(`layout nhwc: the last dim of input "${input.name}" ${JSON.stringify(dims)} is its channel count`);
  }
  if (pre.shape === undefined) pre.shape = await decideShape(input, pre, meta, modelPath, files, notes);
  const presetColor =
    typeof pre.preset === 'string' ? (PRESETS[pre.preset as PresetName] as { color?: string }).color : undefined;
  if ((pre.shape as number[])[0] === 1 && pre.color === undefined && presetColor === undefined) {
    pre.color = 'gray';
    notes.push(`colour gray: input "${input.name}" has one channel`);
  }
  const batchSize = decideBatchSize(input, options.batchSize, modelPath, notes);
  if (!['preset', 'scale', 'mean', 'std'].some((k) => pre[k] !== undefined)) {
    warnings.push(
      `No preprocessing was given: the model sees raw 0-255 pixels (${pre.color ?? 'bgr'}). Set it to what the model was trained with, e.g. ${mention('preset', { api: "'imagenet'", cli: 'imagenet' })} or ${mention('scale', { api: '1 / 255', cli: '0.00392156862745098' })} with ${mention('mean')} and ${mention('std')}: wrong preprocessing is the first cause of bad INT8 accuracy`,
    );
  }
  return { input, preprocess: pre as unknown as ImageInputPlan['preprocess'], batchSize };
}

/**
 * The batch size: a model whose batch dimension is fixed takes exactly that many images per batch (TensorRT builds
 * it for that shape), said in a note when it is not the default; another `batchSize` is refused.
 */
function decideBatchSize(input: ModelInput, given: number | undefined, modelPath: string, notes: string[]): number {
  const n = (input.dims ?? [])[0];
  if (!fixed(n)) return given ?? DEFAULT_BATCH_SIZE;
  if (given === undefined) {
    if (n !== DEFAULT_BATCH_SIZE) notes.push(`batch size ${n}: the batch dimension of input "${input.name}" is fixed`);
    return n;
  }
  if (given !== n)
    throw new TrtCalibratorError(
      'ERR_INPUT_SHAPE',
      `Input "${input.name}" of ${modelPath} has a fixed batch dimension of ${n} (dims ${JSON.stringify(input.dims)}), but ${mention('batchSize')} is ${given}; leave it out or give ${n}`,
      { details: { input: input.name, dims: input.dims, batchSize: given } },
    );
  return n;
}

async function decideShape(
  input: ModelInput,
  pre: Record<string, unknown>,
  meta: Map<string, string>,
  modelPath: string,
  files: () => Promise<readonly string[]>,
  notes: string[],
): Promise<number[]> {
  const dims = input.dims ?? [];
  const nhwc = pre.layout === 'nhwc';
  // Per-image [C, H, W] as the model declares them (open dims undefined).
  const declared = dims.length === 4 ? (nhwc ? [dims[3], dims[1], dims[2]] : [dims[1], dims[2], dims[3]]) : [];
  const [c, h, w] = declared.map((d) => (fixed(d) ? d : undefined));
  if (declared.length === 3 && c !== undefined && h !== undefined && w !== undefined) return [c, h, w];
  const channels = c ?? (pre.color === 'gray' ? 1 : 3);
  const open = ['C', 'H', 'W'].filter((_, i) => declared.length === 3 && !fixed(declared[i]));
  const dimsText = `dims ${JSON.stringify(dims)}${open.length ? ` (${open.join(', ')} open)` : ''}`;
  if (declared.length === 3) {
    const size = metadataSize(meta);
    if (size) {
      const shape = [channels, h ?? size[0], w ?? size[1]];
      notes.push(
        `${mention('shape', shapeTexts(shape))} from the model's metadata (imgsz ${meta.get('imgsz')}); input "${input.name}" has ${dimsText}`,
      );
      return shape;
    }
    const counts = await sizesOf(await files().catch(() => []));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    if (counts.size === 1) {
      const [iw, ih] = [...counts.keys()][0].split('x').map(Number);
      // Both open: the images' size. One open: keep the images' aspect ratio at the fixed side.
      const H = h ?? (w !== undefined ? Math.max(1, Math.round((w * ih) / iw)) : ih);
      const W = w ?? (h !== undefined ? Math.max(1, Math.round((h * iw) / ih)) : iw);
      const shape = [channels, H, W];
      notes.push(
        `${mention('shape', shapeTexts(shape))} from the images: ${total === 1 ? `the one image is` : `all ${total} are`} ${iw}×${ih} (input "${input.name}" has ${dimsText})`,
      );
      return shape;
    }
    if (counts.size > 1) {
      const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
      const [iw, ih] = sorted[0][0].split('x').map(Number);
      const H = h ?? (w !== undefined ? Math.max(1, Math.round((w * ih) / iw)) : ih);
      const W = w ?? (h !== undefined ? Math.max(1, Math.round((h * iw) / ih)) : iw);
      const suggestion = [channels, H, W];
      const seen = sorted
        .slice(0, 4)
        .map(([size, n]) => `${size.replace('x', '×')} (${n})`)
        .join(', ');
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input "${input.name}" of ${modelPath} has ${dimsText}, and the ${total} images have ${counts.size} sizes (${seen}${counts.size > 4 ? ', …' : ''}); ` +
          `give the per-image shape the images are resized to, e.g. ${mention('shape', shapeTexts(suggestion))} (the most common size${h !== undefined || w !== undefined ? ", at the model's fixed side" : ''})`,
        { details: { input: input.name, dims, sizes: Object.fromEntries(sorted), suggestion } },
      );
    }
  }
  const example = [channels, h ?? 224, w ?? 224];
  throw new TrtCalibratorError(
    'ERR_INPUT_SHAPE',
    `Input "${input.name}" of ${modelPath} has ${dimsText}, and no readable image says what size to use; give its per-image shape, e.g. ${mention('shape', shapeTexts(example))}`,
    { details: { input: input.name, dims } },
  );
}

/**
 * A cache about to be reused (no calibration) for images preprocessed as `plan` says: when the cache's range for
 * the input tensor is larger than any value this preprocessing can produce (every 0–255 pixel and the pad value
 * through `(x · scale − mean) / std`, plus 1 % for the last histogram bin), the cache cannot have been calibrated
 * with this preprocessing, and one warning says so. A smaller range proves nothing (a calibrator may clip), and
 * nothing else is detectable: a TensorRT cache carries no record of its preprocessing.
 */
export function checkCachePreprocessing(cache: CalibrationCache, plan: ImageInputPlan, warnings: string[]): void {
  const entry = cache.entries.find((e) => e.name === plan.input.name);
  if (!entry || !Number.isFinite(entry.scale) || entry.scale <= 0) return;
  const { lut, pad } = buildTables(resolvePreprocessOptions(plan.preprocess));
  let reach = 0;
  for (const table of [...lut, pad]) for (const v of table) reach = Math.max(reach, Math.abs(v));
  const amax = entry.scale * 127;
  if (amax <= reach * 1.01) return;
  warnings.push(
    `The existing cache gives input "${plan.input.name}" a range of ${amax.toPrecision(4)}, but with this preprocessing ` +
      `its values stay within ±${reach.toPrecision(4)}: the cache was calibrated with other preprocessing, and its ` +
      `scales do not fit these inputs. ${mention('overwrite', { api: 'true' })} recalibrates with this preprocessing.`,
  );
}
