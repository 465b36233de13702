import type { Command } from 'commander';
import { writeQdqModel } from '../onnx/qdq';
import { QDQ_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, commanderOption, readFlags } from '../options/cli';
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
  addFlags(cmd, QDQ_CLI_OPTIONS, ['quantizeResidualAdd', 'quantizePooling', 'fp16', 'json']).action(
    (model: string, parsed: Record<string, unknown>) =>
      runCommand(async () => {
        const opts = resolveOptions(QDQ_CLI_OPTIONS, readFlags(QDQ_CLI_OPTIONS, parsed), 'qdq');
        const scales = await readScales(opts.cacheFile as string);
        const result = await writeQdqModel(model, scales, opts.out as string, {
          quantizeResidualAdd: opts.quantizeResidualAdd,
          quantizePooling: opts.quantizePooling,
          highPrecision: opts.fp16 ? 'fp16' : 'fp32',
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const perTensor = result.weights.filter((w) => w.granularity === 'per-tensor').length;
        const residual = result.residualAdds.filter((a) => a.residual !== undefined).length;
        const lines = [
          `Wrote ${result.path} (${result.bytes} bytes)`,
          `  activations quantized (per tensor): ${result.activations.length} of ${scales.size} cache entries`,
          `  weights quantized:                  ${result.weights.length} (${result.weights.length - perTensor} per channel, ${perTensor} per tensor)`,
          `  residual Adds quantized:            ${residual} of ${result.residualAdds.length} Adds of two tensors`,
          result.opset.from === result.opset.to
            ? `  opset:                              ${result.opset.to}`
            : `  opset:                              ${result.opset.from} -> ${result.opset.to} (${result.opset.rewritten.length} nodes rewritten)`,
        ];
        if (result.sharedScales.length > 0)
          lines.push(`  shared Concat scales:               ${result.sharedScales.length} groups`);
        if (result.float16) {
          const f = result.float16;
          lines.push(
            `  float16:                            ${f.constants} constants, ${f.castsAdded} Casts added, opset ${f.opset.from} -> ${f.opset.to}${f.clampedValues > 0 ? `, ${f.clampedValues} Clip bounds clamped to ±65504` : ''}${f.float32Nodes.length > 0 ? `, kept in float32: ${f.float32Nodes.join(', ')}` : ''}`,
          );
        }
        if (result.fp32Nodes.length > 0) {
          lines.push(`  weighted ops left in FP32 (${result.fp32Nodes.length}, no Q/DQ on their inputs or weights):`);
          for (const n of result.fp32Nodes.slice(0, 20)) lines.push(`    ${n.node}: ${n.reasons.join('; ')}`);
          if (result.fp32Nodes.length > 20)
            lines.push(`    ... ${result.fp32Nodes.length - 20} more (--json lists all)`);
        }
        const other = result.unquantized.filter((u) => !result.fp32Nodes.some((n) => n.node === u.consumer));
        if (other.length > 0) {
          lines.push(`  other inputs left in FP32 (${other.length}):`);
          for (const u of other.slice(0, 20)) lines.push(`    ${u.tensor} -> ${u.consumer}: ${u.reason}`);
          if (other.length > 20) lines.push(`    ... ${other.length - 20} more (--json lists all)`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
  );
}
