/**
 * The preprocessing options of every command that reads images (preview, calibrate), spelled the same
 * everywhere: `--shape CxHxW --color --scale --mean --std --resize --interp --layout --batch --limit`, and for
 * several image inputs `--input name:CxHxW[:key=value…]` whose keys (color, scale, mean, std, resize, interp,
 * layout, images) override the global options for that input.
 */
import { Command, Option } from 'commander';
import { invalidOption } from '../errors';
import type { ImageBatchFactoryOptions } from '../batch/image-factory';

/** Options as commander parses them (strings; numbers parsed later with option names in messages). */
export interface PreprocessCliOptions {
  shape?: string;
  color?: string;
  scale?: string;
  mean?: string;
  std?: string;
  resize?: string;
  interp?: string;
  layout?: string;
  padValue?: string;
  batch?: string;
  limit?: string;
  recursive?: boolean;
  workers?: string;
  input?: string[];
}

/** Adds the shared preprocessing options to a command. */
export function addPreprocessOptions(cmd: Command): Command {
  return cmd
    .option('--shape <CxHxW>', 'per-image input shape, e.g. 3x224x224')
    .addOption(new Option('--color <order>', 'channel order of the tensor').choices(['bgr', 'rgb', 'gray']))
    .option('--scale <S>', 'multiplier of the 0-255 pixel (y = (x*scale - mean) / std); default 1')
    .option('--mean <a,b,c>', 'per-channel mean, in --color order; default 0')
    .option('--std <a,b,c>', 'per-channel std, in --color order; default 1')
    .addOption(
      new Option('--resize <mode>', 'fit to HxW; default stretch').choices(['stretch', 'letterbox', 'center-crop']),
    )
    .addOption(
      new Option('--interp <mode>', 'resize interpolation; default linear (cv2.INTER_LINEAR)').choices([
        'linear',
        'area',
        'nearest',
        'cubic',
      ]),
    )
    .addOption(new Option('--layout <layout>', 'memory layout; default nchw').choices(['nchw', 'nhwc']))
    .option('--pad-value <v>', 'letterbox fill (0-255 pixel, one or per channel); default 0')
    .option('--batch <N>', 'images per batch; default 8')
    .option('--limit <N>', 'use at most N image files')
    .option('--recursive', 'list subdirectories too')
    .option('--workers <N>', 'decode/preprocess threads; default one per core (calibrate: one per 4 cores, 1 to 4)')
    .option(
      '--input <name:CxHxW[:key=value...]>',
      'a named image input (repeatable); keys: color scale mean std resize interp layout images',
      (v: string, prev: string[] = []) => [...prev, v],
    );
}

/** Parses a CLI number, or throws ERR_INVALID_OPTION (RangeError) naming the option. Shared by every command. */
export function num(option: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw invalidOption(option, 'a number', text, 'range');
  return v;
}

function int(option: string, text: string): number {
  const v = num(option, text);
  if (!Number.isInteger(v)) throw invalidOption(option, 'an integer', text, 'range');
  return v;
}

function list(option: string, text: string): number | number[] {
  const parts = text.split(',').map((p) => num(option, p));
  return parts.length === 1 ? parts[0] : parts;
}

/** Parses `CxHxW` (e.g. `3x224x224`). */
export function parseShape(option: string, text: string): number[] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw invalidOption(option, 'a shape CxHxW like 3x224x224', text, 'range');
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

type Settable = Partial<Record<keyof ImageBatchFactoryOptions, unknown>>;

function applyKey(target: Settable, option: string, key: string, value: string): void {
  switch (key) {
    case 'color':
    case 'resize':
    case 'interp':
    case 'layout':
    case 'images':
      target[key] = value;
      break;
    case 'scale':
      target.scale = num(`${option} scale`, value);
      break;
    case 'mean':
    case 'std':
      target[key] = list(`${option} ${key}`, value);
      break;
    default:
      throw invalidOption(option, 'keys color, scale, mean, std, resize, interp, layout, images', key, 'range');
  }
}

/**
 * Turns parsed CLI options into one {@link ImageBatchFactoryOptions} per image input (one named `input`
 * without `--input`). `images` is the positional image directory. Combine the factories by name for a
 * multi-input model (combineFactories).
 */
export function toImageFactoryOptions(opts: PreprocessCliOptions, images: string): ImageBatchFactoryOptions[] {
  const common: Settable = { images };
  if (opts.color) common.color = opts.color;
  if (opts.scale !== undefined) common.scale = num('--scale', opts.scale);
  if (opts.mean !== undefined) common.mean = list('--mean', opts.mean);
  if (opts.std !== undefined) common.std = list('--std', opts.std);
  if (opts.resize) common.resize = opts.resize;
  if (opts.interp) common.interp = opts.interp;
  if (opts.layout) common.layout = opts.layout;
  if (opts.padValue !== undefined) common.padValue = list('--pad-value', opts.padValue);
  if (opts.batch !== undefined) common.batchSize = int('--batch', opts.batch);
  if (opts.limit !== undefined) common.limit = int('--limit', opts.limit);
  if (opts.recursive) common.recursive = true;
  if (opts.workers !== undefined) common.workers = int('--workers', opts.workers);
  const inputs = opts.input ?? [];
  if (inputs.length === 0) {
    if (opts.shape === undefined) throw invalidOption('--shape', 'a shape CxHxW (or --input name:CxHxW)', undefined);
    return [{ ...common, name: 'input', shape: parseShape('--shape', opts.shape) } as ImageBatchFactoryOptions];
  }
  return inputs.map((spec) => {
    const [name, shape, ...pairs] = spec.split(':');
    if (!name || !shape) throw invalidOption('--input', 'name:CxHxW[:key=value...]', spec, 'range');
    const o: Settable = { ...common, name, shape: parseShape('--input', shape) };
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw invalidOption('--input', 'key=value after name:CxHxW', pair, 'range');
      applyKey(o, `--input ${name}`, pair.slice(0, eq), pair.slice(eq + 1));
    }
    return o as ImageBatchFactoryOptions;
  });
}
