import type { Command } from 'commander';
import { invalidOption } from '../errors';
import { writeQdqModel } from '../onnx/qdq';
import { readScales } from '../onnx/scales';
import { runCommand } from './common';

/**
 * `trt-calibrator qdq <model.onnx> --cache <x.cache|x.json> --out <out.onnx>`: writes the model with
 * QuantizeLinear/DequantizeLinear pairs (explicit quantization for TensorRT 10–11 and ONNX Runtime).
 */
export function registerQdq(program: Command): void {
  program
    .command('qdq')
    .description(
      'write the model with Q/DQ pairs from a calibration cache (explicit INT8 for TensorRT 10-11, ONNX Runtime)',
    )
    .argument('<model>', 'the FP32 ONNX model the cache was calibrated on')
    .requiredOption('--cache <file>', 'calibration cache (TRT-<version>-<Algorithm>) or its JSON form')
    .requiredOption('--out <file>', 'where to write the Q/DQ model')
    .option('--no-residual-add', 'do not quantize the residual branch of Add nodes fed by a Conv')
    .option('--pooling', 'also quantize the inputs of MaxPool/AveragePool/GlobalAveragePool')
    .option('--json', 'print a JSON summary')
    .action(
      (model: string, opts: { cache: string; out: string; residualAdd: boolean; pooling?: boolean; json?: boolean }) =>
        runCommand(async () => {
          if (!opts.out.endsWith('.onnx')) throw invalidOption('--out', 'a path ending in .onnx', opts.out, 'range');
          const scales = await readScales(opts.cache);
          const result = await writeQdqModel(model, scales, opts.out, {
            quantizeResidualAdd: opts.residualAdd,
            quantizePooling: opts.pooling === true,
          });
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
            return;
          }
          const lines = [
            `Wrote ${result.path} (${result.bytes} bytes)`,
            `  activations quantized (per tensor): ${result.activations.length} of ${scales.size} cache entries`,
            `  weights quantized (per channel):    ${result.weights.length}`,
            result.opset.from === result.opset.to
              ? `  opset:                              ${result.opset.to}`
              : `  opset:                              ${result.opset.from} -> ${result.opset.to} (${result.opset.rewritten.length} nodes rewritten)`,
          ];
          if (result.unquantized.length > 0) {
            lines.push(`  left in FP32 (${result.unquantized.length} compute-op inputs):`);
            for (const u of result.unquantized.slice(0, 20))
              lines.push(`    ${u.tensor} -> ${u.consumer}: ${u.reason}`);
            if (result.unquantized.length > 20)
              lines.push(`    ... ${result.unquantized.length - 20} more (--json lists all)`);
          }
          process.stdout.write(`${lines.join('\n')}\n`);
        }),
    );
}
