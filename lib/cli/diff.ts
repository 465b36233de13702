import type { Command } from 'commander';
import { readCache } from '../cache/format';
import { formatNumber } from '../cache/decode';
import { cachesDiffer, diffCaches, type CacheDiff } from '../cache/diff';
import { toJsonNumber } from '../cache/convert';
import { DIFF_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { formatColumns } from '../util/columns';
import { EXIT_CODES, runCommand } from './common';

function percent(relative: number): string {
  if (Number.isNaN(relative)) return 'nan';
  if (!Number.isFinite(relative)) return relative > 0 ? '+inf' : '-inf';
  return `${relative > 0 ? '+' : ''}${formatNumber(relative * 100, 4)}%`;
}

function formatDiff(diff: CacheDiff, files: [string, string], tolerance: number, all: boolean): string {
  const out: string[] = [];
  out.push(`a: ${files[0]} (TensorRT ${diff.tensorrt[0]}, ${diff.algorithm[0]})`);
  out.push(`b: ${files[1]} (TensorRT ${diff.tensorrt[1]}, ${diff.algorithm[1]})`);
  if (diff.headerDiffers) out.push('headers differ');
  out.push(`only in a (${diff.onlyInA.length})${diff.onlyInA.length ? `: ${diff.onlyInA.join(', ')}` : ''}`);
  out.push(`only in b (${diff.onlyInB.length})${diff.onlyInB.length ? `: ${diff.onlyInB.join(', ')}` : ''}`);
  const shown = all ? diff.changes : diff.changes.filter((c) => c.relative !== 0);
  if (shown.length > 0) {
    const rows = shown.map((c) => [
      c.name,
      formatNumber(c.a),
      formatNumber(c.b),
      `${percent(c.relative)}${Math.abs(c.relative) > tolerance ? '' : ' (within tolerance)'}`,
    ]);
    const head = ['tensor', 'scale a', 'scale b', 'change'];
    out.push(...formatColumns([head, ...rows], ['left', 'left', 'left', 'left']));
  }
  const changed = diff.changes.filter((c) => c.relative !== 0);
  const beyond = diff.changes.filter((c) => Math.abs(c.relative) > tolerance);
  const largest = changed[0];
  out.push(
    `${diff.changes.length} tensors in both, ${changed.length} changed, ${beyond.length} beyond tolerance ${tolerance}` +
      (largest ? `; largest change ${percent(largest.relative)} (${largest.name})` : '') +
      `: ${cachesDiffer(diff, tolerance) ? 'DIFFERENT' : 'same within tolerance'}`,
  );
  return `${out.join('\n')}\n`;
}

/** `trt-calibrator diff <a> <b> [--tolerance <r>] [--json] [--all]`: exit 1 when the caches differ beyond the tolerance. */
export function registerDiff(program: Command): void {
  const cmd = program
    .command('diff')
    .description(
      'compare two calibration caches: tensors only in one, relative change of scale per tensor (largest first); exit 1 when they differ beyond --tolerance',
    )
    .argument('<a>', 'first calibration cache')
    .argument('<b>', 'second calibration cache');
  addFlags(cmd, DIFF_CLI_OPTIONS).action((fileA: string, fileB: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const opts = resolveOptions(DIFF_CLI_OPTIONS, readFlags(DIFF_CLI_OPTIONS, parsed), 'diff');
      const { tolerance } = opts;
      const [a, b] = await Promise.all([readCache(fileA), readCache(fileB)]);
      const diff = diffCaches(a, b);
      const differ = cachesDiffer(diff, tolerance);
      if (opts.json) {
        const json = {
          ...diff,
          tolerance,
          differ,
          changes: diff.changes.map((c) => ({
            name: c.name,
            a: toJsonNumber(c.a),
            b: toJsonNumber(c.b),
            relative: toJsonNumber(c.relative),
          })),
        };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else {
        process.stdout.write(formatDiff(diff, [fileA, fileB], tolerance, !!opts.all));
      }
      return differ ? EXIT_CODES.differ : EXIT_CODES.ok;
    }),
  );
}
