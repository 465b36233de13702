import type { Command } from 'commander';
import {
  cacheFromAmax,
  cacheFromJson,
  cacheToJsonText,
  dynamicRangesToCsv,
  parseAmaxList,
  toDynamicRanges,
} from '../cache/convert';
import { checkAlgorithm, formatCache, parseCache, type CalibrationCache } from '../cache/format';
import { formatTensorRTVersion, parseTensorRTVersion } from '../cache/version';
import { invalidOption, TrtCalibratorError } from '../errors';
import { readFileOrThrow, writeFileAtomic } from '../util/fs';
import { CONVERT_CLI_OPTIONS, resolveOptions, type ResolvedOf } from '../options';
import { addFlags, commanderOption, readFlags } from '../options/cli';
import { runCommand } from './common';

type ConvertOptions = ResolvedOf<typeof CONVERT_CLI_OPTIONS>;

/** Reads any supported input (cache, cache JSON, amax JSON or CSV) into a cache. */
function readInput(bytes: Buffer, file: string, opts: ConvertOptions): CalibrationCache {
  const text = bytes.toString('utf8');
  const tensorrt = opts.tensorrt === undefined ? undefined : parseTensorRTVersion(opts.tensorrt, '--tensorrt');
  const algorithm = opts.algorithm === undefined ? undefined : checkAlgorithm(opts.algorithm, '--algorithm');
  if (text.startsWith('TRT-')) {
    const cache = parseCache(bytes, { file });
    if (tensorrt && tensorrt.raw !== cache.tensorrt.raw && !opts.force) {
      throw new TrtCalibratorError(
        'ERR_CACHE_VERSION',
        `${file} was written by TensorRT ${formatTensorRTVersion(cache.tensorrt)} but --tensorrt ${opts.tensorrt} was asked for; a cache is tied to its TensorRT version (--force to rewrite the header anyway)`,
        {
          details: {
            file,
            cacheVersion: formatTensorRTVersion(cache.tensorrt),
            expectedVersion: formatTensorRTVersion(tensorrt),
          },
        },
      );
    }
    if (algorithm && algorithm !== cache.algorithm && !opts.force) {
      throw new TrtCalibratorError(
        'ERR_CACHE_ALGORITHM',
        `${file} was written by ${cache.algorithm} but --algorithm ${algorithm} was asked for (--force to rewrite the header anyway)`,
        {
          details: { file, cacheAlgorithm: cache.algorithm, expectedAlgorithm: algorithm },
        },
      );
    }
    if (!tensorrt && !algorithm) return cache;
    return { ...cache, tensorrt: tensorrt ?? cache.tensorrt, algorithm: algorithm ?? cache.algorithm };
  }
  if (/^\s*\{/.test(text) && /"tensors"\s*:/.test(text)) {
    return cacheFromJson(text, { file, tensorrt, algorithm, force: opts.force });
  }
  const ranges = parseAmaxList(text, file);
  if (!tensorrt)
    throw invalidOption(
      '--tensorrt',
      'a TensorRT version such as "8.6.1" or "10.3.0" (an amax list has none)',
      opts.tensorrt,
    );
  return cacheFromAmax(ranges, { tensorrt, algorithm });
}

/**
 * `trt-calibrator convert <in> --to json|cache|ranges [--tensorrt <version>] [-o <file>]`: cache ↔ JSON, amax list
 * (JSON `{ name: amax }` or CSV `name,amax`) → cache, cache → dynamic ranges CSV.
 */
export function registerConvert(program: Command): void {
  const cmd = program
    .command('convert')
    .description(
      'convert between a calibration cache, its JSON form, an amax list (JSON {name: amax} or CSV name,amax) and a dynamic-range CSV',
    )
    .argument('<in>', 'a calibration cache, cache JSON, or amax list (.json / .csv)');
  cmd.addOption(commanderOption(CONVERT_CLI_OPTIONS.to).makeOptionMandatory());
  addFlags(cmd, CONVERT_CLI_OPTIONS, ['tensorrt', 'algorithm', 'force', 'output']).action(
    (input: string, parsed: Record<string, unknown>) =>
      runCommand(async () => {
        const opts = resolveOptions(CONVERT_CLI_OPTIONS, readFlags(CONVERT_CLI_OPTIONS, parsed), 'convert');
        const cache = readInput(await readFileOrThrow(input, 'input'), input, opts);
        const out =
          opts.to === 'json'
            ? cacheToJsonText(cache)
            : opts.to === 'ranges'
              ? dynamicRangesToCsv(toDynamicRanges(cache))
              : formatCache(cache);
        if (opts.output) {
          await writeFileAtomic(opts.output, out);
          process.stderr.write(
            `wrote ${opts.output} (${cache.entries.length} tensors, TensorRT ${formatTensorRTVersion(cache.tensorrt)}, ${cache.algorithm})\n`,
          );
        } else {
          process.stdout.write(out);
        }
      }),
  );
}
