import type { Command } from 'commander';
import { ImageBatchFactory } from '../batch/image-factory';
import { invalidOption, TrtCalibratorError } from '../errors';
import { evaluateQdq, formatEvaluation } from '../onnx/evaluate';
import { loadOnnxModel, modelInputs } from '../onnx/model';
import { readScales } from '../onnx/scales';
import { runCommand } from './common';

interface EvaluateCliOptions {
  cache?: string;
  qdq?: string;
  input?: string;
  shape?: string;
  color?: 'bgr' | 'rgb' | 'gray';
  scale?: string;
  mean?: string;
  std?: string;
  resize?: 'stretch' | 'letterbox' | 'center-crop';
  batchSize: string;
  limit?: string;
  json?: boolean;
}

function numbers(option: string, text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw invalidOption(option, 'comma-separated numbers', text, 'range');
  return values;
}

function one(values: number[] | undefined): number | number[] | undefined {
  return values && values.length === 1 ? values[0] : values;
}

/**
 * `trt-calibrator evaluate <model.onnx> <images> --cache <x.cache> | --qdq <model.qdq.onnx>`: FP32 vs INT8 (Q/DQ)
 * on held-out images with ONNX Runtime CPU; per output top-1 agreement, cosine similarity, max/mean abs error.
 */
export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('compare the FP32 model with its INT8 Q/DQ version on held-out images (ONNX Runtime CPU)')
    .argument('<model>', 'the FP32 ONNX model')
    .argument('<images>', 'directory of held-out images')
    .option('--cache <file>', 'build the Q/DQ model from this calibration cache (or its JSON form)')
    .option('--qdq <file>', 'an existing Q/DQ model (from trt-calibrator qdq)')
    .option('--input <name>', "the image input's name (default: the model's only input)")
    .option('--shape <C,H,W>', "per-image shape (default: the model's, when fixed)")
    .option('--color <order>', 'bgr | rgb | gray (default bgr, as cv2.imread)')
    .option('--scale <x>', 'multiplier applied to 0-255 pixels first (default 1)')
    .option('--mean <m>', 'subtracted after scaling: one value or one per channel (default 0)')
    .option('--std <s>', 'divisor applied last: one value or one per channel (default 1)')
    .option('--resize <mode>', 'stretch | letterbox | center-crop (default stretch)')
    .option('--batch-size <n>', 'images per batch', '8')
    .option('--limit <n>', 'use at most this many images')
    .option('--json', 'print JSON for machines')
    .action((model: string, images: string, opts: EvaluateCliOptions) =>
      runCommand(async () => {
        if ((opts.cache === undefined) === (opts.qdq === undefined)) throw invalidOption('--cache/--qdq', 'exactly one of --cache and --qdq', opts.cache ?? opts.qdq ?? null, 'range');
        const loaded = await loadOnnxModel(model);
        const inputs = modelInputs(loaded.proto);
        const input = opts.input === undefined ? inputs[0] : inputs.find((i) => i.name === opts.input);
        if (!input || (opts.input === undefined && inputs.length !== 1)) {
          throw new TrtCalibratorError('ERR_INPUT_NAME', `${opts.input === undefined ? `${model} has ${inputs.length} inputs; evaluate feeds one image input: name it with --input` : `${model} has no input "${opts.input}"`}; its inputs are ${inputs.map((i) => `"${i.name}"`).join(', ')}`);
        }
        let shape = numbers('--shape', opts.shape);
        if (!shape) {
          const dims = (input.dims ?? []).slice(1);
          if (dims.length !== 3 || !dims.every((d) => typeof d === 'number' && d > 0)) {
            throw new TrtCalibratorError('ERR_INPUT_SHAPE', `Input "${input.name}" has dynamic dims [${(input.dims ?? []).join(', ')}]; give the image shape with --shape C,H,W`);
          }
          shape = dims as number[];
        }
        const batchSize = Number(opts.batchSize);
        if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidOption('--batch-size', 'a positive integer', opts.batchSize, 'range');
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        const factory = new ImageBatchFactory({
          images,
          name: input.name,
          shape,
          batchSize,
          lastBatch: 'pad',
          ...(limit === undefined ? {} : { limit }),
          ...(opts.color ? { color: opts.color } : {}),
          ...(opts.scale === undefined ? {} : { scale: Number(opts.scale) }),
          ...(opts.mean === undefined ? {} : { mean: one(numbers('--mean', opts.mean)) }),
          ...(opts.std === undefined ? {} : { std: one(numbers('--std', opts.std)) }),
          ...(opts.resize ? { resize: opts.resize } : {}),
        });
        try {
          const evaluation = await evaluateQdq(model, factory, opts.cache ? { scales: await readScales(opts.cache) } : { qdqModel: opts.qdq as string });
          if (opts.json) process.stdout.write(`${JSON.stringify({ ...evaluation, images: factory.stats.used, skipped: factory.stats.skipped }, null, 2)}\n`);
          else process.stdout.write(`${formatEvaluation(evaluation)}  images: ${factory.stats.used} (skipped ${factory.stats.skipped.length})\n`);
        } finally {
          await factory.close();
        }
      }),
    );
}
