/**
 * The data of a calibrate() run: the BatchFactory that feeds the calibration pass (from an image directory, one
 * factory, or factories by input name) and, for algorithm 'auto', the one the algorithms are compared on.
 */
import * as os from 'node:os';
import { BatchFactory } from '../batch/factory';
import { combineFactories } from '../batch/combine';
import { ImageBatchFactory, defaultMaxSkipped } from '../batch/image-factory';
import { matchInputs } from '../batch/inputs';
import { TrtCalibratorError, invalidOption } from '../errors';
import { listImageFiles } from '../image/list';
import { holdoutSplit } from './auto';
import { checkCachePreprocessing, inputText, planImageInput, type ImageInputPlan } from './image-input';
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

/** One ImageBatchFactory feeding the planned input from `images` (a directory or a list of files). */
function imageFactory(
  images: string | string[],
  plan: ImageInputPlan,
  options: ResolvedCalibrateOptions,
  extra: { lastBatch?: 'pad'; limit?: number; maxSkipped?: number | string } = {},
): ImageBatchFactory {
  const maxSkipped = options.maxSkipped ?? extra.maxSkipped;
  return new ImageBatchFactory({
    ...plan.preprocess,
    images,
    name: plan.input.name,
    batchSize: plan.batchSize,
    ...(extra.limit !== undefined ? { limit: extra.limit } : {}),
    // Each decode worker holds its own opencv-js heap (about 85 MB) and costs 0.3 CPU-s to start, and one decodes
    // far faster than a calibration consumes images: one per 4 cores, 1 to 4 (2 cores: 1 was as fast as 2 for
    // the detector and 10 % faster for the classifier; 16 cores: 4 as fast as 16 with half the memory).
    workers:
      options.workers ?? Math.min(DEFAULT_MAX_DECODE_WORKERS, Math.max(1, Math.floor(os.availableParallelism() / 4))),
    ...(maxSkipped !== undefined ? { maxSkipped } : {}),
    ...(extra.lastBatch ? { lastBatch: extra.lastBatch } : {}),
    recursive: options.recursive,
    ...(options.extensions ? { extensions: options.extensions } : {}),
    ...(options.onSkip ? { onSkip: options.onSkip } : {}),
  });
}

/** The calibration factory for a source that is not split: a directory, one factory, or factories by name. */
function sourceFactory(
  source: CalibrationSource,
  plan: ImageInputPlan | undefined,
  options: ResolvedCalibrateOptions,
): OwnedFactory {
  if (typeof source === 'string')
    return { factory: imageFactory(source, plan as ImageInputPlan, options, { limit: options.limit }), owned: true };
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
  const listing = { recursive: options.recursive, ...(options.extensions ? { extensions: options.extensions } : {}) };
  // An image directory (calibration or evaluation) feeds the model's one float input: decide its preprocessing once.
  const imageDir =
    typeof source === 'string'
      ? source
      : loaded.comparing && typeof options.evaluationSource === 'string'
        ? options.evaluationSource
        : undefined;
  const plan =
    imageDir === undefined
      ? undefined
      : await planImageInput(
          declared,
          options,
          loaded.model,
          model,
          () =>
            listImageFiles(imageDir, { ...listing, ...(options.limit !== undefined ? { limit: options.limit } : {}) }),
          job.notes,
          job.warnings,
        );
  if (loaded.existing && plan && typeof source === 'string')
    checkCachePreprocessing(loaded.existing, plan, job.warnings);
  let calibration: OwnedFactory;
  let evaluation: OwnedFactory | undefined;
  if (loaded.comparing && options.evaluationSource !== undefined) {
    const e = options.evaluationSource;
    evaluation =
      typeof e === 'string'
        ? { factory: imageFactory(e, plan as ImageInputPlan, options, { lastBatch: 'pad' }), owned: true }
        : { factory: e, owned: false };
    calibration = sourceFactory(source, plan, options);
  } else if (loaded.comparing && typeof source === 'string') {
    const files = await listImageFiles(source, {
      ...listing,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
    const split = holdoutSplit(files, options.holdout);
    const p = plan as ImageInputPlan;
    // The two halves of a directory keep the directory's allowance of unreadable files.
    evaluation = {
      factory: imageFactory(split.holdout, p, options, {
        lastBatch: 'pad',
        maxSkipped: defaultMaxSkipped(split.holdout.length, true),
      }),
      owned: true,
    };
    calibration = {
      factory: imageFactory(split.calibration, p, options, {
        maxSkipped: defaultMaxSkipped(split.calibration.length, true),
      }),
      owned: true,
    };
  } else {
    calibration = sourceFactory(source, plan, options);
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
