/**
 * The image flags every command that reads images shares (calibrate, evaluate, preview): the preprocessing and
 * image-source options of lib/options, spelled the same everywhere, and `--input name:CxHxW[:key=value...]` for
 * several image inputs, whose keys override the global flags for that input.
 */
import type { Command } from 'commander';
import type { ImageBatchFactoryOptions, PreprocessOptions } from '../batch/image-factory';
import { invalidOption } from '../errors';
import { IMAGE_INPUTS_CLI_OPTIONS, IMAGE_SOURCE_OPTIONS, PREPROCESS_OPTIONS, type OptionTable } from '../options';
import { addFlags, flagName, readFlags } from '../options/cli';

/** The image-source flags a command offers (all those with a flag, or some). */
const SOURCE_FLAGS = ['batchSize', 'limit', 'recursive', 'extensions', 'maxSkipped', 'workers'] as const;

/** One `--input` flag, parsed. */
export interface ImageInputFlag {
  /** The network input's name. */
  name: string;
  /** Its preprocessing (the global flags overridden by the flag's keys), `shape` included. */
  preprocess: PreprocessOptions;
  /** Its own image directory (`images=` key), when given. */
  images?: string;
}

/** The image flags of a command, parsed into API options. */
export interface ImageFlags {
  /** The global preprocessing flags (`shape` only when `--shape` was given). */
  preprocess: Partial<PreprocessOptions>;
  /** The image-source flags. */
  source: Partial<Pick<ImageBatchFactoryOptions, (typeof SOURCE_FLAGS)[number]>>;
  /** The `--input` flags, in order (empty without any). */
  inputs: ImageInputFlag[];
}

/** Adds the shared image flags to a command. */
export function addImageFlags(cmd: Command, options: { inputs?: boolean } = {}): Command {
  addFlags(cmd, PREPROCESS_OPTIONS);
  addFlags(cmd, IMAGE_SOURCE_OPTIONS, SOURCE_FLAGS);
  if (options.inputs !== false) addFlags(cmd, IMAGE_INPUTS_CLI_OPTIONS);
  return cmd;
}

/** `--input` keys: the preprocessing flags without their dashes (`pad-value`), by option name. */
const INPUT_KEYS: ReadonlyMap<string, string> = new Map(
  Object.entries(PREPROCESS_OPTIONS as OptionTable)
    .filter(([key, spec]) => spec.cli && key !== 'shape')
    .map(([key, spec]) => [flagName(spec).slice(2), key]),
);

function parseInputFlag(text: string, global: Partial<PreprocessOptions>): ImageInputFlag {
  const [name, shape, ...pairs] = text.split(':');
  if (!name || !shape) throw invalidOption('--input', 'name:CxHxW[:key=value...]', text, 'range');
  const flag = `--input ${name}`;
  const preprocess: Record<string, unknown> = { ...global, shape: PREPROCESS_OPTIONS.shape.parse!(shape, '--input') };
  let images: string | undefined;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalidOption('--input', 'key=value after name:CxHxW', pair, 'range');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === 'images') {
      images = value;
      continue;
    }
    const option = INPUT_KEYS.get(key);
    if (!option) throw invalidOption(flag, `keys ${[...INPUT_KEYS.keys(), 'images'].join(', ')}`, key, 'range');
    const spec = (PREPROCESS_OPTIONS as OptionTable)[option];
    preprocess[option] = spec.parse!(value, `${flag} ${key}`);
  }
  return { name, preprocess: preprocess as unknown as PreprocessOptions, ...(images !== undefined ? { images } : {}) };
}

/** Parses the shared image flags from what commander parsed. */
export function readImageFlags(parsed: Readonly<Record<string, unknown>>): ImageFlags {
  const preprocess = readFlags(PREPROCESS_OPTIONS, parsed) as Partial<PreprocessOptions>;
  const source = readFlags(IMAGE_SOURCE_OPTIONS, parsed) as ImageFlags['source'];
  const { input } = readFlags(IMAGE_INPUTS_CLI_OPTIONS, parsed) as { input?: string[] };
  return { preprocess, source, inputs: (input ?? []).map((text) => parseInputFlag(text, preprocess)) };
}

/**
 * One ImageBatchFactory's options per image input: the `--input` flags, or one input named `name` fed from
 * `images` with the global flags (its `--shape` required then).
 */
export function imageFactoryOptions(flags: ImageFlags, images: string, name = 'input'): ImageBatchFactoryOptions[] {
  if (flags.inputs.length === 0) {
    if (flags.preprocess.shape === undefined)
      throw invalidOption('--shape', 'a shape CxHxW (or --input name:CxHxW)', undefined);
    return [{ ...flags.preprocess, ...flags.source, shape: flags.preprocess.shape, images, name }];
  }
  return flags.inputs.map((i) => ({
    ...i.preprocess,
    ...flags.source,
    shape: i.preprocess.shape as readonly number[],
    images: i.images ?? images,
    name: i.name,
  }));
}
