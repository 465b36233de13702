import * as os from 'node:os';
import type { Command } from 'commander';
import { formatAlgorithmTable } from '../calibrate/auto';
import { ImageBatchFactory, type ImageBatchFactoryOptions } from '../batch/image-factory';
import { calibrate, type CalibrateOptions } from '../calibrate';
import { DEFAULT_MAX_DECODE_WORKERS } from '../calibrate/data';
import { invalidOption, TrtCalibratorError } from '../errors';
import {
  evaluateQdq,
  evaluationGuide,
  formatEvaluation,
  formatTensorErrors,
  labelsFromDirectory,
} from '../onnx/evaluate';
import { loadOnnxModel, modelInputs } from '../onnx/model';
import { readScales } from '../onnx/scales';
import { runCommand } from './common';
import { CALIBRATE_OPTIONS, EVALUATE_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { addImageFlags, imageFactoryOptions, readImageFlags } from './images';

/** The flags of `evaluate` (its own, and the calibrate() options --compare passes on). */
const COMPARE_FLAGS = ['holdout', 'percentile'] as const;

/**
 * `trt-calibrator evaluate <model.onnx> <images> --cache <x.cache> | --qdq <model.qdq.onnx> | --compare`: FP32 vs
 * INT8 (Q/DQ) on held-out images with ONNX Runtime CPU — per output top-1 agreement, cosine similarity, max/mean
 * abs error; the quantized tensors furthest from FP32; with `--labels` top-1 accuracy of both. `--compare`
 * calibrates histograms once (on `--calibration <dir>`, else on the first 80 % of <images>, holding out the rest)
 * and prints every algorithm's result side by side: calibrate's `--algorithm auto` without writing anything.
 */
export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('compare the FP32 model with its INT8 Q/DQ version on held-out images (ONNX Runtime CPU)')
    .argument('<model>', 'the FP32 ONNX model')
    .argument('<images>', 'directory of held-out images (with --labels: one subdirectory per class)');
  addFlags(cmd, EVALUATE_CLI_OPTIONS);
  addFlags(cmd, CALIBRATE_OPTIONS, COMPARE_FLAGS);
  addImageFlags(cmd).action((model: string, images: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const own = resolveOptions(EVALUATE_CLI_OPTIONS, readFlags(EVALUATE_CLI_OPTIONS, parsed), 'evaluate');
      const compareOptions = readFlags(CALIBRATE_OPTIONS, parsed, COMPARE_FLAGS) as {
        holdout?: number;
        percentile?: number;
      };
      const flags = readImageFlags(parsed);
      const opts = { ...own, ...compareOptions, cache: own.cacheFile, qdq: own.qdqModel };
      const modes = [opts.cache !== undefined, opts.qdq !== undefined, opts.compare === true].filter(Boolean).length;
      if (modes !== 1)
        throw invalidOption(
          '--cache/--qdq/--compare',
          'exactly one of --cache, --qdq and --compare',
          opts.cache ?? opts.qdq ?? null,
          'range',
        );
      if (
        !opts.compare &&
        (opts.calibration !== undefined || opts.holdout !== undefined || opts.percentile !== undefined)
      ) {
        throw invalidOption(
          '--calibration/--holdout/--percentile',
          'to be used with --compare',
          opts.calibration ?? opts.holdout ?? opts.percentile,
          'range',
        );
      }
      if (opts.compare && opts.labels && opts.calibration === undefined) {
        throw invalidOption(
          '--labels',
          'with --compare, a separate --calibration directory (a held-out tail of class subdirectories would be one class only)',
          true,
          'range',
        );
      }
      if (flags.inputs.length > 0)
        throw invalidOption(
          '--input',
          'a single image input (evaluate feeds one; name it with --shape and the model)',
          parsed.input,
          'range',
        );
      const loaded = await loadOnnxModel(model);
      const inputs = modelInputs(loaded.proto);
      if (inputs.length !== 1) {
        throw new TrtCalibratorError(
          'ERR_INPUT_NAME',
          `${model} has ${inputs.length} inputs (${inputs.map((i) => `"${i.name}"`).join(', ')}); evaluate feeds one image input`,
        );
      }
      const input = inputs[0];
      let shape = flags.preprocess.shape;
      if (!shape) {
        const dims = (input.dims ?? []).slice(1);
        if (dims.length !== 3 || !dims.every((d) => typeof d === 'number' && d > 0)) {
          throw new TrtCalibratorError(
            'ERR_INPUT_SHAPE',
            `Input "${input.name}" has dynamic dims [${(input.dims ?? []).join(', ')}]; give the image shape with --shape CxHxW`,
          );
        }
        shape = dims as number[];
      }
      const [base] = imageFactoryOptions({ ...flags, preprocess: { ...flags.preprocess, shape } }, images);
      const labelled = opts.labels ? await labelsFromDirectory(images) : undefined;
      const factoryOptions: ImageBatchFactoryOptions = {
        ...base,
        name: input.name,
        lastBatch: 'pad',
        ...(labelled ? { images: labelled.files } : {}),
      };
      const { worst } = opts;

      if (opts.compare) {
        const {
          images: _i,
          name: _n,
          lastBatch: _l,
          limit,
          workers,
          recursive,
          batchSize,
          ...preprocess
        } = factoryOptions;
        const evaluationSource = opts.calibration !== undefined ? new ImageBatchFactory(factoryOptions) : undefined;
        const calibrateOptions: CalibrateOptions = {
          ...preprocess,
          algorithm: 'auto',
          backend: 'builtin',
          tensorrt: '10.3', // the header is irrelevant: nothing is written
          cache: { read: async () => null, write: async () => undefined },
          ...(batchSize !== undefined ? { batchSize } : {}),
          ...(workers !== undefined ? { workers } : {}),
          ...(recursive !== undefined ? { recursive } : {}),
          ...(limit !== undefined && opts.calibration === undefined ? { limit } : {}),
          ...(opts.holdout !== undefined ? { holdout: opts.holdout } : {}),
          ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}),
          ...(evaluationSource ? { evaluationSource } : {}),
          ...(labelled ? { evaluationLabels: labelled.labels } : {}),
        };
        try {
          const result = await calibrate(model, opts.calibration ?? images, calibrateOptions);
          const auto = result.auto;
          if (!auto) throw new TrtCalibratorError('ERR_INTERNAL', 'The comparison did not run');
          const shown = { ...auto, worstTensors: auto.worstTensors.slice(0, worst) };
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ ...shown, calibrationImages: result.images.used }, null, 2)}\n`);
          } else {
            const lines = [
              `histograms from ${result.images.used} images${opts.calibration === undefined ? ` (the first of ${images}, sorted)` : ''}`,
              formatAlgorithmTable(shown).trimEnd(),
            ];
            if (auto.labelAccuracy)
              lines.push(
                `  top-1 accuracy (${auto.labelAccuracy.samples} labelled): FP32 ${(auto.labelAccuracy.fp32 * 100).toFixed(2)} %, INT8 (${auto.chosen}) ${(auto.labelAccuracy.int8 * 100).toFixed(2)} %`,
              );
            if (shown.worstTensors.length > 0) {
              lines.push(
                `  ${auto.chosen}: quantized tensors furthest from FP32 (relative L2 error; own = its Q/DQ round trip; clipped = share beyond ±amax)`,
              );
              lines.push(...formatTensorErrors(shown.worstTensors, '    '));
            }
            const top1 = auto.table.some((r) => r.top1Agreement !== undefined);
            lines.push(
              ...evaluationGuide({ top1, tensors: shown.worstTensors.length > 0, compare: false }).map((l) => `  ${l}`),
            );
            process.stdout.write(`${lines.join('\n')}\n`);
          }
        } finally {
          await evaluationSource?.close();
        }
        return;
      }

      // Decode workers as calibrate() starts them (each holds an opencv-js heap of about 85 MB; one per 4 cores
      // keeps up with ONNX Runtime), unless --workers says otherwise.
      const factory = new ImageBatchFactory({
        ...factoryOptions,
        workers:
          factoryOptions.workers ??
          Math.min(DEFAULT_MAX_DECODE_WORKERS, Math.max(1, Math.floor(os.availableParallelism() / 4))),
      });
      try {
        const evaluation = await evaluateQdq(model, factory, {
          ...(opts.cache ? { scales: await readScales(opts.cache) } : { qdqModel: opts.qdq as string }),
          worstTensors: worst,
          ...(labelled ? { labels: labelled.labels } : {}),
        });
        if (opts.json) {
          const { qdq: _qdq, ...rest } = evaluation;
          process.stdout.write(
            `${JSON.stringify({ ...rest, images: factory.stats.used, skipped: factory.stats.skipped, ...(labelled ? { classes: labelled.classes } : {}) }, null, 2)}\n`,
          );
        } else {
          // The table, what was read, then how to read the table.
          const guide = evaluationGuide({
            top1: evaluation.outputs.some((o) => o.top1Agreement !== undefined),
            tensors: (evaluation.worstTensors ?? []).length > 0,
          });
          process.stdout.write(
            `${formatEvaluation(evaluation, { guide: false })}  images: ${factory.stats.used} (skipped ${factory.stats.skipped.length})${labelled ? `; classes: ${labelled.classes.join(', ')}` : ''}\n${guide.map((l) => `  ${l}\n`).join('')}`,
          );
        }
      } finally {
        await factory.close();
      }
    }),
  );
}
