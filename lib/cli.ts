#!/usr/bin/env node
/**
 * The `trt-calibrator` command line. Each command lives in lib/cli/<command>.ts and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from './capabilities';
import { suggest } from './errors';
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
import { registerVerifyTensorrt } from './cli/verify-tensorrt';

/** Builds the CLI program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('trt-calibrator')
    .description('INT8 calibration for NVIDIA TensorRT: ONNX model + images in, calibration cache out')
    .version(packageVersion, '-v, --version')
    .showHelpAfterError('(run trt-calibrator <command> --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: usageError(undefined) })
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
  registerVerifyTensorrt(program);
  for (const cmd of program.commands) cmd.configureOutput({ outputError: usageError(cmd) });
  return program;
}

/**
 * How usage errors (unknown command or flag, missing value) are printed: like every other error, a code and the
 * message, with a "did you mean" for a near miss (commander's own, or ours when a flag's name contains or is
 * contained in the one typed: --batchsize → --batch).
 */
function usageError(cmd: Command | undefined): (text: string, write: (text: string) => void) => void {
  return (text, write) => {
    let message = text.replace(/^error: /, '');
    const unknown = /^unknown option '([^']+)'/.exec(message);
    if (cmd && unknown && !/Did you mean/i.test(message)) {
      const typed = unknown[1].split('=')[0];
      const flags = cmd.options.map((o) => o.long).filter((f): f is string => f !== undefined);
      const hint = suggest(typed, flags);
      if (hint) message = message.replace(/\n?$/, `${hint}\n`);
    }
    write(`trt-calibrator: ERR_INVALID_OPTION: ${message}`);
  };
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
