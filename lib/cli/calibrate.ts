import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { ImageBatchFactory } from '../batch/image-factory';
import { calibrate, type CalibrateOptions, type CalibrationResult, type CalibrationSource } from '../calibrate';
import { decodeCache, formatDecodeSummary } from '../cache/decode';
import { HistogramSet } from '../histogram';
import { formatAlgorithmTable } from '../calibrate/auto';
import { defaultCachePath } from '../calibrate/job';
import { CALIBRATE_CLI_OPTIONS, CALIBRATE_OPTIONS, IMAGE_SOURCE_OPTIONS, PREPROCESS_OPTIONS } from '../options';
import { addFlags, readFlags } from '../options/cli';
import { EXIT_CODES, runCommand } from './common';
import { addImageFlags, imageFactoryOptions, readImageFlags } from './images';

/** calibrate()'s options that have their own flag here (the image flags come from ./images). */
const API_FLAGS = [
  'algorithm',
  'holdout',
  'percentile',
  'cache',
  'tensorrt',
  'overwrite',
  'qdq',
  'report',
  'backend',
  'engine',
  'tensorrtBuild',
  'threads',
  'maxActivationBytes',
  'inference',
] as const;

/** Maps the parsed flags onto calibrate()'s: one image input from <imageDir>, or factories per `--input`. */
function toCalibrate(
  imageDir: string,
  parsed: Readonly<Record<string, unknown>>,
): { source: CalibrationSource; options: CalibrateOptions } {
  const options = readFlags(CALIBRATE_OPTIONS, parsed) as CalibrateOptions;
  const images = readImageFlags(parsed);
  if (images.inputs.length > 0) {
    // Several image inputs: one factory each, bound by name; the preprocessing flags live in the factories.
    const factories: Record<string, ImageBatchFactory> = {};
    for (const o of imageFactoryOptions(images, imageDir)) factories[o.name ?? 'input'] = new ImageBatchFactory(o);
    for (const key of Object.keys(PREPROCESS_OPTIONS)) delete (options as Record<string, unknown>)[key];
    for (const key of Object.keys(IMAGE_SOURCE_OPTIONS)) delete (options as Record<string, unknown>)[key];
    return { source: factories, options };
  }
  // One image input: the model names it; --shape only where its dims are dynamic.
  return { source: imageDir, options };
}

function summary(result: CalibrationResult, model: string): string {
  const lines: string[] = [];
  const seconds = (result.timings.totalMs / 1000).toFixed(1);
  const header = `TRT-${result.cache.tensorrt.raw}-${result.cache.algorithm}`;
  if (result.fromCache) {
    lines.push(
      `${result.cachePath ?? 'cache'}: existing ${header} cache for ${model} is compatible; used as is (--overwrite recalibrates)`,
    );
  } else {
    lines.push(`wrote ${result.cachePath ?? 'the cache store'} (${header}, ${result.algorithm}) in ${seconds} s`);
    lines.push(
      `  images   ${result.images.used} used in ${result.batches} batches of ${result.batchSize}, ${result.images.skipped.length} skipped`,
    );
    const t = result.timings;
    lines.push(
      `  time     prepare ${(t.prepareMs / 1000).toFixed(1)} s, calibration ${(t.calibrateMs / 1000).toFixed(1)} s ` +
        `(inference ${(t.inferenceMs / 1000).toFixed(1)} s, histograms ${(t.histogramMs / 1000).toFixed(2)} s, thresholds ${(t.thresholdMs / 1000).toFixed(2)} s)`,
    );
  }
  lines.push(`  tensors  ${formatDecodeSummary(decodeCache(result.cache).summary)}`);
  if (result.engine) lines.push(`  engine   ${result.engine.path} (${(result.engine.bytes / 2 ** 20).toFixed(1)} MiB)`);
  if (result.auto) lines.push(formatAlgorithmTable(result.auto).trimEnd().replace(/^/gm, '  '));
  if (result.qdq)
    lines.push(
      `  qdq      ${result.qdq.path}: ${result.qdq.activations} activations and ${result.qdq.weights} weights quantized`,
    );
  if (result.report) lines.push(`  report   ${result.report.html}`);
  for (const n of result.notes) lines.push(`  note: ${n}`);
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

/** The files a run may write, by what they are. */
function outputsOf(model: string, options: CalibrateOptions): string[] {
  const files: string[] = [];
  if (options.cache === undefined) files.push(defaultCachePath(model));
  else if (typeof options.cache === 'string') files.push(options.cache);
  if (options.qdq) files.push(options.qdq);
  if (options.engine) files.push(options.engine);
  if (options.report) files.push(path.join(options.report, 'report.json'), path.join(options.report, 'report.html'));
  return files;
}

/** Which of `files` were written since `since` (ms): every output is written atomically, so it exists whole. */
async function writtenSince(since: number, files: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const st = await fs.promises.stat(f).catch(() => undefined);
    if (st && st.mtimeMs >= since) out.push(f);
  }
  return out;
}

/** `trt-calibrator calibrate <model.onnx> <imageDir>`: writes a TensorRT calibration cache. */
export function registerCalibrate(program: Command): void {
  const cmd = program
    .command('calibrate')
    .description('calibrate an ONNX model on a folder of images and write a TensorRT INT8 calibration cache')
    .argument('<model>', 'the FP32 ONNX model')
    .argument('<imageDir>', 'directory of calibration images');
  addFlags(cmd, CALIBRATE_OPTIONS, API_FLAGS);
  addImageFlags(cmd);
  addFlags(cmd, CALIBRATE_CLI_OPTIONS);
  cmd.action((model: string, imageDir: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const { source, options } = toCalibrate(imageDir, parsed);
      const opts = readFlags(CALIBRATE_CLI_OPTIONS, parsed) as {
        histogramFiles?: string[];
        saveHistograms?: string;
        progress?: boolean;
        json?: boolean;
      };
      const started = Date.now();
      const controller = new AbortController();
      const onSignal = () =>
        controller.abort(
          Object.assign(new Error('interrupted (Ctrl-C): nothing was written'), { code: 'ERR_ABORTED' }),
        );
      // `on`, not `once`: a second Ctrl-C while the abort unwinds must not kill the process half-way.
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const tty = process.stderr.isTTY && !opts.json && opts.progress !== false;
      let bar: SingleBar | undefined;
      let lastLine = 0;
      options.signal = controller.signal;
      options.onProgress = (p) => {
        if (opts.progress === false) return;
        if (tty) {
          if (!bar) {
            bar = new SingleBar({
              format: 'calibrating [{bar}] {value}/{total} batches | {ips} images/s | ETA {eta_formatted}',
              stream: process.stderr,
              hideCursor: true,
            });
            bar.start(p.totalBatches ?? p.batchesDone, 0, { ips: '0' });
          }
          if (p.totalBatches !== undefined) bar.setTotal(p.totalBatches);
          bar.update(p.batchesDone, { ips: p.imagesPerSecond.toFixed(1) });
        } else if (!opts.json && Date.now() - lastLine > 1000) {
          lastLine = Date.now();
          process.stderr.write(
            `calibrating: batch ${p.batchesDone}${p.totalBatches ? `/${p.totalBatches}` : ''}, ${p.imagesPerSecond.toFixed(1)} images/s\n`,
          );
        }
      };
      options.onSkip = (s) => {
        if (!opts.json) process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
      };
      try {
        if (opts.histogramFiles) options.histograms = await HistogramSet.loadAll(opts.histogramFiles);
        const result = await calibrate(model, source, options);
        bar?.stop();
        if (opts.saveHistograms) {
          if (!result.histograms)
            process.stderr.write('trt-calibrator: no histograms to save (the cache was reused or TensorRT ran)\n');
          else await result.histograms.save(opts.saveHistograms);
        }
        if (opts.json) {
          const { cache, histograms: _histograms, ...rest } = result;
          process.stdout.write(
            `${JSON.stringify({ ...rest, cacheHeader: `TRT-${cache.tensorrt.raw}-${cache.algorithm}` }, null, 2)}\n`,
          );
        } else {
          process.stdout.write(`${summary(result, model)}\n`);
        }
        return EXIT_CODES.ok;
      } catch (err) {
        bar?.stop();
        if (controller.signal.aborted) {
          const written = await writtenSince(started, outputsOf(model, options));
          process.stderr.write(
            written.length === 0
              ? 'trt-calibrator: ERR_ABORTED: interrupted; nothing was written\n'
              : `trt-calibrator: ERR_ABORTED: interrupted after writing ${written.join(', ')}; nothing else was written\n`,
          );
          return EXIT_CODES.aborted;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}
