import type { Command } from 'commander';
import { invalidOption } from '../errors';
import { writeQdqModel, type PoolingMode } from '../onnx/qdq';
import { readScales } from '../onnx/scales';
import { runCommand } from './common';

const POOLING: readonly PoolingMode[] = ['neighbors', 'all', 'none'];

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
    .option(
      '--no-residual-add',
      'do not quantize the skip input of residual Adds (Adds fusible into the Conv, found through BN/bias/activation)',
    )
    .option(
      '--pooling [mode]',
      'pooling inputs: neighbors (AveragePool/GlobalAveragePool next to quantized ops; the default), all (every pooling op, MaxPool too; the bare flag), none',
    )
    .option('--fp16', 'convert the non-quantized float part to float16 (opset 19; inputs/outputs stay float32)')
    .option('--json', 'print a JSON summary')
    .action(
      (
        model: string,
        opts: {
          cache: string;
          out: string;
          residualAdd: boolean;
          pooling?: string | boolean;
          fp16?: boolean;
          json?: boolean;
        },
      ) =>
        runCommand(async () => {
          if (!opts.out.endsWith('.onnx')) throw invalidOption('--out', 'a path ending in .onnx', opts.out, 'range');
          const pooling = opts.pooling === undefined ? 'neighbors' : opts.pooling === true ? 'all' : opts.pooling;
          if (typeof pooling !== 'string' || !(POOLING as readonly string[]).includes(pooling))
            throw invalidOption('--pooling', `one of ${POOLING.join(', ')}`, opts.pooling, 'range');
          const scales = await readScales(opts.cache);
          const result = await writeQdqModel(model, scales, opts.out, {
            quantizeResidualAdd: opts.residualAdd,
            quantizePooling: pooling as PoolingMode,
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
