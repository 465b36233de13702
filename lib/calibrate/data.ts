/**
 * The data of a calibrate() run: the BatchFactory that feeds the calibration pass (from an image directory, one
 * factory, or factories by input name) and, for algorithm 'auto', the one the algorithms are compared on.
 */
import * as os from 'node:os';
import { BatchFactory } from '../batch/factory';
import { combineFactories } from '../batch/combine';
import { ImageBatchFactory } from '../batch/image-factory';
import { matchInputs } from '../batch/inputs';
import { TrtCalibratorError, invalidOption } from '../errors';
import { listImageFiles } from '../image/list';
import type { ModelInput } from '../onnx/model';
import { mention, PREPROCESS_OPTIONS } from '../options';
import { holdoutSplit } from './auto';
import type { CalibrationJob, ResolvedCalibrateOptions } from './job';
import type { LoadedJob } from './model';
import type { CalibrationSource } from './types';

/** Most decode workers calibrate() starts by default (each holds an opencv-js heap of about 85 MB). */
export const DEFAULT_MAX_DECODE_WORKERS = 4;

/** A factory and whether this run created it (and so closes it). */
export interface OwnedFactory {
  readonly factory: BatchFactory;
  readonly owned: boolean;
}

/** The factories of a run. */
export interface RunData {
  /** Feeds the calibration pass. */
  readonly calibration: OwnedFactory;
  /** algorithm 'auto': the held-out images or `evaluationSource`. */
  readonly evaluation?: OwnedFactory;
  /** Closes the factories this run created. */
  close(): Promise<void>;
}

function inputText(i: ModelInput): string {
  return `${i.name} (${i.elemType} ${JSON.stringify(i.dims ?? [])})`;
}

/** Per-image [C, H, W] for an image input: from the options, else from the model's fixed dims. */
function imageShape(input: ModelInput, options: ResolvedCalibrateOptions, model: string): number[] {
  const given = options.inputs?.[input.name]?.shape ?? options.shape;
  if (given !== undefined) return [...given];
  const dims = input.dims ?? [];
  const chw = dims.slice(1);
  if (dims.length !== 4 || !chw.every((d) => typeof d === 'number' && d > 0)) {
    throw new TrtCalibratorError(
      'ERR_INPUT_SHAPE',
      `Input "${input.name}" of ${model} has dynamic dims ${JSON.stringify(dims)}; give its per-image shape, e.g. ${mention('shape', { api: '[3, 320, 320]', cli: '3x320x320' })}`,
      { details: { input: input.name, dims } },
    );
  }
  return chw as number[];
}

/** The factory for image files (a directory or a list) feeding the model's single float input. */
function imageFactory(
  images: string | string[],
  declared: readonly ModelInput[],
  options: ResolvedCalibrateOptions,
  model: string,
  extra: { lastBatch?: 'pad'; limit?: number } = {},
): ImageBatchFactory {
  const floats = declared.filter((i) => i.elemType === 'float');
  if (declared.length !== 1 || floats.length !== 1) {
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      `${model} has ${declared.length} inputs (${declared.map(inputText).join(', ')}); an image directory feeds exactly one float input. ` +
        'Pass factories by input name instead: calibrate(model, { image: new ImageBatchFactory(...), other: factory })',
      { details: { inputs: declared.map((i) => i.name) } },
    );
  }
  const input = floats[0];
  for (const key of Object.keys(options.inputs ?? {})) {
    if (key !== input.name) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `Unknown input "${key}" in ${mention('inputs')}; ${model} has inputs: ${declared.map(inputText).join(', ')}`,
        { details: { input: key, inputs: declared.map((i) => i.name) } },
      );
    }
  }
  // Per-input preprocessing wins over the run's.
  const perInput = options.inputs?.[input.name] ?? {};
  const preprocess: Record<string, unknown> = {};
  for (const key of Object.keys(PREPROCESS_OPTIONS) as Array<keyof typeof PREPROCESS_OPTIONS>) {
    const value = perInput[key] ?? options[key];
    if (value !== undefined) preprocess[key] = value;
  }
  return new ImageBatchFactory({
    ...preprocess,
    shape: imageShape(input, options, model),
    images,
    name: input.name,
    batchSize: options.batchSize,
    ...(extra.limit !== undefined ? { limit: extra.limit } : {}),
    // Each decode worker holds its own opencv-js heap (about 85 MB) and costs 0.3 CPU-s to start, and one decodes
    // far faster than a calibration consumes images: one per 4 cores, 1 to 4 (2 cores: 1 was as fast as 2 for
    // the detector and 10 % faster for the classifier; 16 cores: 4 as fast as 16 with half the memory).
    workers:
      options.workers ?? Math.min(DEFAULT_MAX_DECODE_WORKERS, Math.max(1, Math.floor(os.availableParallelism() / 4))),
    // A split directory keeps the directory's default allowance of unreadable files.
    ...(options.maxSkipped !== undefined
      ? { maxSkipped: options.maxSkipped }
      : Array.isArray(images)
        ? { maxSkipped: '1%' }
        : {}),
    ...(extra.lastBatch ? { lastBatch: extra.lastBatch } : {}),
    recursive: options.recursive,
    ...(options.extensions ? { extensions: options.extensions } : {}),
    ...(options.onSkip ? { onSkip: options.onSkip } : {}),
  });
}

/** The calibration factory for a source that is not split: a directory, one factory, or factories by name. */
function sourceFactory(
  source: CalibrationSource,
  declared: readonly ModelInput[],
  options: ResolvedCalibrateOptions,
  model: string,
): OwnedFactory {
  if (typeof source === 'string')
    return { factory: imageFactory(source, declared, options, model, { limit: options.limit }), owned: true };
  if (source instanceof BatchFactory) return { factory: source, owned: false };
  const expected = 'an image directory, a BatchFactory, or { [input]: BatchFactory }';
  if (source === null || typeof source !== 'object') throw invalidOption('source', expected, source);
  const entries = Object.entries(source);
  if (entries.length === 0 || !entries.every(([, f]) => f instanceof BatchFactory))
    throw invalidOption('source', expected, source);
  const unique = [...new Set(entries.map(([, f]) => f))];
  const combined = unique.length === 1 ? unique[0] : combineFactories(unique);
  for (const [name] of entries) {
    if (!combined.inputs.some((i) => i.name === name)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The factory given for "${name}" does not declare an input named "${name}" (it declares: ${combined.inputs.map((i) => i.name).join(', ')})`,
        { details: { input: name } },
      );
    }
  }
  return { factory: combined, owned: unique.length > 1 };
}

/**
 * Opens the run's data: the calibration factory (checked against the model's inputs by name) and, when algorithm
 * 'auto' compares, the evaluation factory: `evaluationSource`, or the LAST `holdout` share of the sorted image list
 * (not calibrated on). Image workers start at once, so decoding overlaps the model's preparation; a failure there
 * (no images) surfaces at the first fill, after the model's own errors.
 */
export async function openData(job: CalibrationJob, loaded: LoadedJob): Promise<RunData> {
  const { options, model, source } = job;
  const declared = loaded.inputs;
  let calibration: OwnedFactory;
  let evaluation: OwnedFactory | undefined;
  if (loaded.comparing && options.evaluationSource !== undefined) {
    const e = options.evaluationSource;
    evaluation =
      typeof e === 'string'
        ? { factory: imageFactory(e, declared, options, model, { lastBatch: 'pad' }), owned: true }
        : { factory: e, owned: false };
    calibration = sourceFactory(source, declared, options, model);
  } else if (loaded.comparing && typeof source === 'string') {
    const files = await listImageFiles(source, {
      recursive: options.recursive,
      ...(options.extensions ? { extensions: options.extensions } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
    const split = holdoutSplit(files, options.holdout);
    evaluation = { factory: imageFactory(split.holdout, declared, options, model, { lastBatch: 'pad' }), owned: true };
    calibration = { factory: imageFactory(split.calibration, declared, options, model), owned: true };
  } else {
    calibration = sourceFactory(source, declared, options, model);
  }
  const data: RunData = {
    calibration,
    ...(evaluation ? { evaluation } : {}),
    close: async () => {
      if (calibration.owned) await calibration.factory.close();
      if (evaluation?.owned) await evaluation.factory.close();
    },
  };
  try {
    matchInputs(
      calibration.factory.inputs,
      declared.map((i) => ({ name: i.name, description: inputText(i) })),
      model,
    );
  } catch (err) {
    await data.close();
    throw err;
  }
  if (calibration.factory instanceof ImageBatchFactory) calibration.factory.open().catch(() => undefined);
  return data;
}
