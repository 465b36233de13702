import type { Command } from 'commander';
import { capabilities, formatCapabilities } from '../capabilities';
import { runCommand } from './common';

/** `trt-calibrator doctor [--json]`: what is compiled in and what this machine offers. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('show the addon build, CUDA devices (or why none), TensorRT and onnxruntime-node')
    .option('--json', 'print JSON for machines')
    .action((opts: { json?: boolean }) =>
      runCommand(() => {
        const caps = capabilities();
        process.stdout.write(opts.json ? `${JSON.stringify(caps, null, 2)}\n` : `${formatCapabilities(caps)}\n`);
        return caps.addon.loaded ? 0 : 7;
      }),
    );
}
