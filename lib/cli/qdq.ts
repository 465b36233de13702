import type { Command } from 'commander';
import { QDQ_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, commanderOption, readFlags } from '../options/cli';
import { writeQdqModel } from '../onnx/qdq';
import { readScales } from '../onnx/scales';
import { runCommand } from './common';

/**
 * `trt-calibrator qdq <model.onnx> --cache <x.cache|x.json> --out <out.onnx>`: writes the model with
 * QuantizeLinear/DequantizeLinear pairs (explicit quantization for TensorRT 10–11 and ONNX Runtime).
 */
export function registerQdq(program: Command): void {
  const cmd = program
    .command('qdq')
    .description(
      'write the model with Q/DQ pairs from a calibration cache (explicit INT8 for TensorRT 10-11, ONNX Runtime)',
    )
    .argument('<model>', 'the FP32 ONNX model the cache was calibrated on');
  cmd.addOption(commanderOption(QDQ_CLI_OPTIONS.cacheFile).makeOptionMandatory());
  cmd.addOption(commanderOption(QDQ_CLI_OPTIONS.out).makeOptionMandatory());
  addFlags(cmd, QDQ_CLI_OPTIONS, ['residualAdd', 'pooling', 'json']).action(
    (model: string, parsed: Record<string, unknown>) =>
      runCommand(async () => {
        const opts = resolveOptions(QDQ_CLI_OPTIONS, readFlags(QDQ_CLI_OPTIONS, parsed), 'qdq');
        const scales = await readScales(opts.cacheFile as string);
        const result = await writeQdqModel(model, scales, opts.out as string, {
          quantizeResidualAdd: opts.residualAdd,
          quantizePooling: opts.pooling,
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
          for (const u of result.unquantized.slice(0, 20)) lines.push(`    ${u.tensor} -> ${u.consumer}: ${u.reason}`);
          if (result.unquantized.length > 20)
            lines.push(`    ... ${result.unquantized.length - 20} more (--json lists all)`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
  );
}
