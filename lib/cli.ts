#!/usr/bin/env node
/**
 * The `trt-calibrator` command line. Each command lives in lib/cli/<command>.ts and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from './capabilities';
import { EXIT_CODES } from './cli/common';
import { registerDoctor } from './cli/doctor';
import { registerDecode } from './cli/decode';
import { registerDiff } from './cli/diff';
import { registerConvert } from './cli/convert';
import { registerSampleImages } from './cli/sample-images';
import { registerQdq } from './cli/qdq';
import { registerEvaluate } from './cli/evaluate';
import { registerPreview } from './cli/preview';
import { registerCalibrate } from './cli/calibrate';

/** Builds the CLI program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('trt-calibrator')
    .description('INT8 calibration for NVIDIA TensorRT: ONNX model + images in, calibration cache out')
    .version(packageVersion, '-v, --version')
    .showHelpAfterError('(run trt-calibrator --help for usage)')
    .exitOverride();
  registerCalibrate(program);
  registerDoctor(program);
  registerDecode(program);
  registerDiff(program);
  registerConvert(program);
  registerSampleImages(program);
  registerQdq(program);
  registerEvaluate(program);
  registerPreview(program);
  return program;
}

/** Runs the CLI with `argv` (defaults to process.argv). */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_CODES.usage;
      return;
    }
    throw err;
  }
}

if (require.main === module) {
  void main();
}
