import type { Command } from 'commander';
import { capabilities, formatCapabilities } from '../capabilities';
import { DOCTOR_CLI_OPTIONS } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { runCommand } from './common';

/** `trt-calibrator doctor [--json]`: what is compiled in and what this machine offers. */
export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('show the addon build, CUDA devices (or why none), TensorRT and onnxruntime-node');
  addFlags(cmd, DOCTOR_CLI_OPTIONS).action((parsed: Record<string, unknown>) =>
    runCommand(() => {
      const opts = readFlags(DOCTOR_CLI_OPTIONS, parsed) as { json?: boolean };
      const caps = capabilities();
      process.stdout.write(opts.json ? `${JSON.stringify(caps, null, 2)}\n` : `${formatCapabilities(caps)}\n`);
      return caps.addon.loaded ? 0 : 7;
    }),
  );
}
