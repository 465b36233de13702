import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { ImageBatchFactory } from '../batch/image-factory';
import { calibrate, type CalibrateOptions, type CalibrationResult } from '../calibrate';
import { decodeCache, formatDecodeSummary } from '../cache/decode';
import { AMAX_ALGORITHMS, HistogramSet } from '../histogram';
import { formatAlgorithmTable } from '../calibrate/auto';
import { EXIT_CODES, runCommand } from './common';
import {
  addPreprocessOptions,
  num,
  parseShape,
  toImageFactoryOptions,
  type PreprocessCliOptions,
} from './preprocess-options';

interface CalibrateCliOptions extends PreprocessCliOptions {
  algorithm: string;
  holdout?: string;
  percentile?: string;
  cache?: string;
  tensorrt?: string;
  overwrite?: boolean;
  qdq?: string;
  report?: string;
  engine?: string;
  histograms?: string;
  saveHistograms?: string;
  fp16?: boolean;
  workspace?: string;
  dlaCore?: string;
  backend: string;
  threads?: string;
  json?: boolean;
  progress?: boolean;
}

function number(option: string, text: string | undefined): number | undefined {
  return text === undefined ? undefined : num(option, text);
}

/** Maps the CLI options onto calibrate()'s: one image input from <imageDir>, or factories per `--input`. */
function toCalibrate(
  imageDir: string,
  opts: CalibrateCliOptions,
): { source: Parameters<typeof calibrate>[1]; options: CalibrateOptions } {
  const options: CalibrateOptions = {
    algorithm: opts.algorithm as CalibrateOptions['algorithm'],
    percentile: number('--percentile', opts.percentile),
    ...(opts.holdout !== undefined ? { holdout: number('--holdout', opts.holdout) } : {}),
    cache: opts.cache,
    tensorrt: opts.tensorrt,
    overwrite: opts.overwrite,
    qdq: opts.qdq,
    report: opts.report,
    backend: opts.backend as CalibrateOptions['backend'],
    threads: number('--threads', opts.threads),
    engine: opts.engine,
  };
  if (opts.fp16 || opts.workspace !== undefined || opts.dlaCore !== undefined) {
    options.tensorrtBuild = { fp16: opts.fp16, workspace: opts.workspace, dlaCore: number('--dla-core', opts.dlaCore) };
  }
  if (opts.input && opts.input.length > 0) {
    // Several image inputs: one factory each, bound by name.
    const factories: Record<string, ImageBatchFactory> = {};
    for (const o of toImageFactoryOptions(opts, imageDir)) factories[o.name ?? 'input'] = new ImageBatchFactory(o);
    return { source: factories, options };
  }
  // One image input: the model names it; --shape only where its dims are dynamic.
  const [single] = toImageFactoryOptions({ ...opts, shape: opts.shape ?? '1x1x1' }, imageDir);
  const { images: _images, name: _name, shape: _shape, batchSize, ...preprocess } = single;
  Object.assign(options, preprocess, { batchSize, shape: opts.shape ? parseShape('--shape', opts.shape) : undefined });
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
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

/** `trt-calibrator calibrate <model.onnx> <imageDir>`: writes a TensorRT calibration cache. */
export function registerCalibrate(program: Command): void {
  const cmd = program
    .command('calibrate')
    .description('calibrate an ONNX model on a folder of images and write a TensorRT INT8 calibration cache')
    .argument('<model>', 'the FP32 ONNX model')
    .argument('<imageDir>', 'directory of calibration images')
    .addOption(
      new Option(
        '--algorithm <name>',
        'threshold algorithm; auto compares them all on held-out images and keeps the best',
      )
        .choices([...AMAX_ALGORITHMS, 'auto'])
        .default('entropy'),
    )
    .option(
      '--holdout <share>',
      '--algorithm auto: share of the images (the last ones, sorted) held out for the comparison (default 0.2)',
    )
    .option('--percentile <P>', 'percentile for --algorithm percentile (default 99.99)')
    .option('--cache <file>', 'cache to read/write (default <model dir>/<model name>.calibration.cache)')
    .option(
      '--tensorrt <version>',
      'TensorRT version the cache is for, e.g. 8.6 or 10.3 (default: the one compiled in, else 10.3.0)',
    )
    .option('--overwrite', 'recalibrate even when a compatible cache exists')
    .option('--qdq <out.onnx>', 'also write a Q/DQ ONNX model (explicit quantization for TensorRT 10/11)')
    .option('--report <dir>', 'also write report.json and report.html (histograms, thresholds)')
    .addOption(
      new Option('--backend <name>', 'calibration backend').choices(['auto', 'builtin', 'tensorrt']).default('auto'),
    )
    .option('--engine <plan>', 'build an INT8 engine with TensorRT (8.6-10.x compiled in) and write the plan here')
    .option('--fp16', 'TensorRT engine: allow FP16 kernels as the fallback precision')
    .option('--workspace <size>', "TensorRT engine: workspace pool limit, bytes or e.g. '2GiB'")
    .option('--dla-core <n>', 'TensorRT engine: build for this DLA core (Jetson), GPU fallback on')
    .option('--threads <n>', 'ONNX Runtime threads (default: half the cores; the rest histogram meanwhile)')
    .option(
      '--histograms <files>',
      'start from saved histograms (comma-separated shards, merged), e.g. shard1.hist,shard2.hist',
    )
    .option('--save-histograms <file>', "save this run's histograms (to merge shards later)")
    .option('--no-progress', 'no progress bar or progress lines')
    .option('--json', 'print a JSON summary');
  addPreprocessOptions(cmd).action((model: string, imageDir: string, opts: CalibrateCliOptions) =>
    runCommand(async () => {
      const { source, options } = toCalibrate(imageDir, opts);
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
        if (opts.histograms)
          options.histograms = await HistogramSet.loadAll(opts.histograms.split(',').filter(Boolean));
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
          process.stderr.write('trt-calibrator: ERR_ABORTED: interrupted; no cache was written\n');
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
