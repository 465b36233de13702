import type { Command } from 'commander';
import { readCache } from '../cache/format';
import { decodeCache, decodeToCsv, formatDecodeTable } from '../cache/decode';
import { toJsonNumber } from '../cache/convert';
import { invalidOption } from '../errors';
import { DECODE_CLI_OPTIONS } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { runCommand } from './common';

/** `trt-calibrator decode <cache> [--json|--csv]`: per tensor hex, scale and dynamic range, with a summary. */
export function registerDecode(program: Command): void {
  const cmd = program
    .command('decode')
    .description(
      'decode a calibration cache: per tensor hex, float32 scale and dynamic range (scale x 127), in file order',
    )
    .argument('<cache>', 'calibration cache file (TRT-<version>-<Algorithm>)');
  addFlags(cmd, DECODE_CLI_OPTIONS).action((file: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const opts = readFlags(DECODE_CLI_OPTIONS, parsed) as { json?: boolean; csv?: boolean };
      if (opts.json && opts.csv)
        throw invalidOption('--json/--csv', 'only one of --json and --csv', '--json --csv', 'range');
      const decoded = decodeCache(await readCache(file));
      if (opts.csv) {
        process.stdout.write(decodeToCsv(decoded));
      } else if (opts.json) {
        const json = {
          ...decoded,
          tensors: decoded.tensors.map((t) => ({
            name: t.name,
            hex: t.hex,
            scale: toJsonNumber(t.scale),
            dynamicRange: toJsonNumber(t.dynamicRange),
          })),
        };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else {
        process.stdout.write(formatDecodeTable(decoded));
      }
    }),
  );
}
