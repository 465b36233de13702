import type { Command } from 'commander';
import { formatVerifyReport, verifyTensorrt } from '../backends/tensorrt/verify';
import { VERIFY_TENSORRT_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { EXIT_CODES, runCommand } from './common';

/**
 * `trt-calibrator verify-tensorrt`: builds an INT8 engine of a small case with TensorRT's own calibrator driven by
 * our BatchFactory, calibrates the same batches with the builtin backend and prints how the two caches agree, the
 * engine, the versions and a JSON blob for bug reports. Exit 0 when they agree, 1 when they do not, 7 without
 * TensorRT (ERR_TENSORRT_UNAVAILABLE with the install advice) or without a CUDA device.
 */
export function registerVerifyTensorrt(program: Command): void {
  const cmd = program
    .command('verify-tensorrt')
    .description(
      "check TensorRT's own calibrator against the builtin backend on a bundled case (needs TensorRT and a GPU)",
    );
  addFlags(cmd, VERIFY_TENSORRT_CLI_OPTIONS).action((parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const opts = resolveOptions(
        VERIFY_TENSORRT_CLI_OPTIONS,
        readFlags(VERIFY_TENSORRT_CLI_OPTIONS, parsed),
        'verify-tensorrt',
      );
      const report = await verifyTensorrt({
        model: opts.model,
        images: opts.images,
        batchSize: opts.batchSize,
        seed: opts.seed,
        out: opts.out,
      });
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatVerifyReport(report)}\n`);
      return report.agreement.pass ? EXIT_CODES.ok : EXIT_CODES.differ;
    }),
  );
}
