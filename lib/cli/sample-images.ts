import type { Command } from 'commander';
import { makeSyntheticImages, type SyntheticKind } from '../synthetic/images';
import { invalidOption } from '../errors';
import { runCommand } from './common';

function positiveInt(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw invalidOption(option, 'a positive integer', value, 'range');
  return n;
}

/** `trt-calibrator sample-images <dir>`: writes synthetic calibration images (text crops or scenes). */
export function registerSampleImages(program: Command): void {
  program
    .command('sample-images')
    .description('write synthetic calibration images (rendered text crops or scenes) for examples and tests')
    .argument('<dir>', 'output directory (created if needed)')
    .option('--kind <kind>', 'text-crops (3x48x192 text orientation) or scenes (text detection)', 'text-crops')
    .option('--count <n>', 'number of images', '64')
    .option('--seed <n>', 'random seed', '1')
    .option('--format <format>', 'jpeg or png', 'jpeg')
    .action((dir: string, opts: { kind: string; count: string; seed: string; format: string }) =>
      runCommand(async () => {
        const images = await makeSyntheticImages(dir, {
          kind: opts.kind as SyntheticKind,
          count: positiveInt('--count', opts.count),
          seed: positiveInt('--seed', opts.seed),
          format: opts.format as 'jpeg' | 'png',
        });
        const rotated = images.filter((i) => i.rotated180).length;
        process.stdout.write(
          `wrote ${images.length} ${opts.kind} images to ${dir}` +
            (opts.kind === 'text-crops' ? ` (${rotated} turned 180°)\n` : '\n'),
        );
      }),
    );
}
