import type { Command } from 'commander';
import { makeSyntheticImages } from '../synthetic/images';
import { SAMPLE_IMAGES_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { runCommand } from './common';

/** `trt-calibrator sample-images <dir>`: writes synthetic calibration images (text crops or scenes). */
export function registerSampleImages(program: Command): void {
  const cmd = program
    .command('sample-images')
    .description('write synthetic calibration images (rendered text crops or scenes) for examples and tests')
    .argument('<dir>', 'output directory (created if needed)');
  addFlags(cmd, SAMPLE_IMAGES_CLI_OPTIONS).action((dir: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const opts = resolveOptions(
        SAMPLE_IMAGES_CLI_OPTIONS,
        readFlags(SAMPLE_IMAGES_CLI_OPTIONS, parsed),
        'sample-images',
      );
      const images = await makeSyntheticImages(dir, opts);
      const rotated = images.filter((i) => i.rotated180).length;
      process.stdout.write(
        `wrote ${images.length} ${opts.kind} images to ${dir}` +
          (opts.kind === 'text-crops' ? ` (${rotated} turned 180°)\n` : '\n'),
      );
    }),
  );
}
