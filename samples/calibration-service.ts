/**
 * Sample: calibration as a service — an HTTP server that calibrates on request, the way a deployment service
 * embeds trt-calibrator, and that lets no client choose a path on the server.
 *
 *   node dist-samples/samples/calibration-service.js --port 8080 --root /srv/calib \
 *       [--host 127.0.0.1] [--concurrency 1] [--queue 8] [--max-body 65536] [--job-timeout 600] [--keep 64]
 *
 * The server owns the tree under `--root`: clients name a model file in `<root>/models` and an image folder in
 * `<root>/images`; every output goes to `<root>/out/<job id>/` and nowhere else.
 *
 *   POST   /calibrate        {"model": "cls.onnx", "images": "crops", "options": {...}}  -> 202 {"id","status","events"}
 *   GET    /jobs/<id>        the job as JSON (status queued | running | done | failed | aborted)
 *   GET    /jobs/<id>/events server-sent events: progress, done (with the cache's URL), error (with a code)
 *   GET    /jobs/<id>/cache  the calibration cache (and /qdq, the Q/DQ model, when the job asked for one)
 *   DELETE /jobs/<id>        aborts a queued or running job (nothing is left behind); removes a finished one
 *   GET    /health           answered at once, also while calibrations run
 * Every error is JSON {"code", "message"} with a fitting HTTP status.
 *
 * Built on the package's public API only, imported by its package name as an application would (the compiled
 * sample then loads the compiled package, dist/, with its addon).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AMAX_ALGORITHMS,
  calibrate,
  DEFAULT_IMAGE_EXTENSIONS,
  errorCode,
  parseTensorRTVersion,
  resolvePreprocessOptions,
  type CalibrateOptions,
  type CalibrationProgress,
  type PreprocessOptions,
} from 'trt-calibrator';

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/** How the service runs; each field has a command-line flag (`maxBody`: --max-body, `jobTimeoutMs`: --job-timeout in seconds). */
export interface ServiceConfig {
  /** The tree the service owns: `models/` and `images/` are read, `out/` is written. Required. */
  root: string;
  /** Address to listen on. Defaults to 127.0.0.1 (loopback only). */
  host: string;
  /** Port to listen on; 0 picks a free one. Defaults to 8080. */
  port: number;
  /** Calibrations running at once. Defaults to 1. */
  concurrency: number;
  /** Accepted jobs waiting for a free slot; beyond it POST /calibrate answers 429. Defaults to 8. */
  queue: number;
  /** Largest request body in bytes; a larger one is answered 413. Defaults to 65536 (64 KiB). */
  maxBody: number;
  /** Most milliseconds one job may run (queueing not counted) before it is stopped as failed. Defaults to 600000. */
  jobTimeoutMs: number;
  /** Finished jobs remembered (with their outputs) before the oldest is removed. Defaults to 64. */
  keep: number;
}

/** Defaults of {@link ServiceConfig}, in one place. */
export const SERVICE_DEFAULTS: Readonly<Omit<ServiceConfig, 'root'>> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  concurrency: 1,
  queue: 8,
  maxBody: 64 * 1024,
  jobTimeoutMs: 600_000,
  keep: 64,
});

const USAGE =
  'usage: calibration-service --root <dir> [--port 8080] [--host 127.0.0.1] [--concurrency 1] [--queue 8] ' +
  '[--max-body 65536] [--job-timeout <seconds, 600>] [--keep 64]';

/** Thrown for a bad command line; `main` prints it with the usage and exits with 2, as the CLI does. */
class UsageError extends Error {}

function integerFlag(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`Expected an integer in ${min}..${max} for --${name} but received ${JSON.stringify(text)}`);
  return value;
}

/** Longest --job-timeout: Node's timers hold at most 2^31 - 1 ms (a longer delay fires at once). */
const MAX_JOB_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

/** Reads the command line (`process.argv.slice(2)`) into a {@link ServiceConfig}; throws on unknown or bad flags. */
export function parseCommandLine(argv: readonly string[]): ServiceConfig {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        root: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        concurrency: { type: 'string' },
        queue: { type: 'string' },
        'max-body': { type: 'string' },
        'job-timeout': { type: 'string' },
        keep: { type: 'string' },
      },
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!values.root) throw new UsageError('--root <dir> is required');
  const timeout = values['job-timeout'];
  const seconds = timeout === undefined ? SERVICE_DEFAULTS.jobTimeoutMs / 1000 : Number(timeout);
  if (timeout !== undefined && !(/^[0-9]*\.?[0-9]+$/.test(timeout) && seconds > 0 && seconds <= MAX_JOB_TIMEOUT_S))
    throw new UsageError(
      `Expected a number of seconds in (0, ${MAX_JOB_TIMEOUT_S}] for --job-timeout but received ${JSON.stringify(timeout)}`,
    );
  return {
    root: values.root,
    host: values.host ?? SERVICE_DEFAULTS.host,
    port: integerFlag('port', values.port, SERVICE_DEFAULTS.port, 0, 65535),
    concurrency: integerFlag('concurrency', values.concurrency, SERVICE_DEFAULTS.concurrency, 1, 1024),
    queue: integerFlag('queue', values.queue, SERVICE_DEFAULTS.queue, 0, 100_000),
    maxBody: integerFlag('max-body', values['max-body'], SERVICE_DEFAULTS.maxBody, 2, 2 ** 30),
    jobTimeoutMs: Math.ceil(seconds * 1000),
    keep: integerFlag('keep', values.keep, SERVICE_DEFAULTS.keep, 1, 100_000),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors answered to clients

/** An error answered as JSON `{code, message}` with an HTTP status (and headers such as Retry-After). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const badRequest = (code: string, message: string): HttpError => new HttpError(400, code, message);

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return `${shown} of type ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`;
}

// ---------------------------------------------------------------------------------------------------------------
// What a client may ask for: names, not paths, and an allow-list of options

/** Top-level fields of a POST /calibrate body. */
const REQUEST_FIELDS = ['model', 'images', 'options'] as const;

/** Image preprocessing options passed through to calibrate() (validated by the package's own rules first). */
const PREPROCESS_FIELDS = [
  'shape',
  'color',
  'scale',
  'mean',
  'std',
  'resize',
  'interp',
  'layout',
  'dtype',
  'padValue',
  'resizeShorter',
] as const;

/** Every option a client may set. Anything else — above all `cache`, `report`, `engine`: paths — is refused. */
const OPTION_FIELDS = [
  ...PREPROCESS_FIELDS,
  'batchSize',
  'limit',
  'algorithm',
  'percentile',
  'tensorrt',
  'qdq',
] as const;

/** calibrate() options that name files on the server: refused with a message saying the server picks paths. */
const PATH_OPTIONS = ['cache', 'report', 'engine', 'histograms', 'evaluationSource'];

/** Largest batch a client may ask for. */
const MAX_BATCH_SIZE = 64;
/** Largest image dimension (H or W) a client may ask for. */
const MAX_IMAGE_SIDE = 4096;
/** Largest input batch in bytes (batchSize × C × H × W × 4): bounds what one request can make the server allocate. */
const MAX_BATCH_BYTES = 256 * 2 ** 20;

/** Model and image folder names: one path component, no leading dot or dash, no separators or control bytes. */
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_. +-]{0,254}$/;

type ClientOptions = Pick<
  CalibrateOptions,
  (typeof PREPROCESS_FIELDS)[number] | 'batchSize' | 'limit' | 'algorithm' | 'percentile' | 'tensorrt'
>;

/** A validated POST /calibrate body: two names and the options, none of them a path. */
export interface JobRequest {
  /** File name under `<root>/models`. */
  model: string;
  /** Folder name under `<root>/images`. */
  images: string;
  /** calibrate() options from the allow-list. */
  options: ClientOptions;
  /** Whether to write a Q/DQ model beside the cache. */
  qdq: boolean;
}

/**
 * Checks that `value` is a plain name (one path component) and says precisely why not: NUL bytes, absolute
 * paths (POSIX or Windows), `..`, separators, characters outside {@link NAME_PATTERN}.
 */
function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string')
    throw badRequest('ERR_INVALID_REQUEST', `Expected a name for ${field} but received ${describe(value)}`);
  if (value.includes('\0')) throw badRequest('ERR_NUL_BYTE', `${field} contains a NUL byte`);
  if (path.posix.isAbsolute(value) || path.win32.isAbsolute(value))
    throw badRequest('ERR_ABSOLUTE_PATH', `${field} must be a name, not an absolute path: ${JSON.stringify(value)}`);
  if (value.split(/[\\/]/).includes('..'))
    throw badRequest('ERR_PATH_TRAVERSAL', `${field} must not contain "..": ${JSON.stringify(value)}`);
  if (!NAME_PATTERN.test(value))
    throw badRequest(
      'ERR_INVALID_NAME',
      `Expected a plain name (letters, digits, "_", ".", "-", "+", space; no "/") for ${field} but received ${describe(value)}`,
    );
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function refuseUnknown(where: string, object: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const why = PATH_OPTIONS.includes(key)
      ? ': the server chooses every path (outputs go to out/<job id>/)'
      : ` (allowed: ${known.join(', ')})`;
    throw badRequest('ERR_UNKNOWN_FIELD', `Unknown field ${JSON.stringify(key)} in ${where}${why}`);
  }
}

function positiveInteger(option: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw badRequest(
      'ERR_INVALID_OPTION',
      `Expected an integer in 1..${max} for ${option} but received ${describe(value)}`,
    );
  return value;
}

/**
 * Validates the client's options against the allow-list and the package's own rules, so that a bad request is a
 * 400 now rather than a failed job later. Preprocessing is checked with resolvePreprocessOptions; where the client
 * gave no shape (the model's fixed dims apply) a placeholder of the color's channel count stands in for it.
 */
function parseOptions(value: unknown): { options: ClientOptions; qdq: boolean } {
  if (value === undefined) return { options: {}, qdq: false };
  if (!isPlainObject(value))
    throw badRequest('ERR_INVALID_REQUEST', `Expected an object for options but received ${describe(value)}`);
  refuseUnknown('options', value, OPTION_FIELDS);
  const qdq = value.qdq ?? false;
  if (typeof qdq !== 'boolean')
    throw badRequest(
      'ERR_INVALID_OPTION',
      `Expected true or false for options.qdq but received ${describe(qdq)}: the server chooses where the Q/DQ model goes`,
    );
  const options: ClientOptions = {};
  const preprocess: Record<string, unknown> = {};
  for (const key of PREPROCESS_FIELDS) if (value[key] !== undefined) preprocess[key] = value[key];
  const shape = preprocess.shape;
  if (
    shape !== undefined &&
    (!Array.isArray(shape) ||
      shape.length !== 3 ||
      !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= MAX_IMAGE_SIDE))
  )
    throw badRequest(
      'ERR_INVALID_OPTION',
      `Expected [C, H, W] of integers in 1..${MAX_IMAGE_SIDE} for options.shape but received ${describe(shape)}`,
    );
  try {
    const channels = preprocess.color === 'gray' ? 1 : 3;
    resolvePreprocessOptions({ ...preprocess, shape: shape ?? [channels, 1, 1] } as unknown as PreprocessOptions);
  } catch (err) {
    if (errorCode(err) !== 'ERR_INVALID_OPTION') throw err;
    throw badRequest('ERR_INVALID_OPTION', (err as Error).message);
  }
  Object.assign(options, preprocess);
  options.batchSize = positiveInteger('options.batchSize', value.batchSize, MAX_BATCH_SIZE);
  options.limit = positiveInteger('options.limit', value.limit, 1_000_000);
  if (Array.isArray(shape)) {
    const bytes = (options.batchSize ?? 8) * (shape as number[]).reduce((a, b) => a * b, 1) * 4;
    if (bytes > MAX_BATCH_BYTES)
      throw badRequest(
        'ERR_INVALID_OPTION',
        `A batch of ${options.batchSize ?? 8} × ${JSON.stringify(shape)} floats is ${bytes} bytes, more than this server's ${MAX_BATCH_BYTES}`,
      );
  }
  const algorithm = value.algorithm;
  if (algorithm !== undefined) {
    if (algorithm !== 'auto' && !AMAX_ALGORITHMS.includes(algorithm as never))
      throw badRequest(
        'ERR_INVALID_OPTION',
        `Expected one of ${[...AMAX_ALGORITHMS, 'auto'].join(', ')} for options.algorithm but received ${describe(algorithm)}`,
      );
    options.algorithm = algorithm as ClientOptions['algorithm'];
  }
  const percentile = value.percentile;
  if (percentile !== undefined) {
    if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100))
      throw badRequest(
        'ERR_INVALID_OPTION',
        `Expected a number in (0, 100] for options.percentile but received ${describe(percentile)}`,
      );
    options.percentile = percentile;
  }
  if (value.tensorrt !== undefined) {
    if (typeof value.tensorrt !== 'string')
      throw badRequest(
        'ERR_INVALID_OPTION',
        `Expected a version string for options.tensorrt but received ${describe(value.tensorrt)}`,
      );
    try {
      parseTensorRTVersion(value.tensorrt, 'options.tensorrt');
    } catch (err) {
      throw badRequest('ERR_INVALID_OPTION', (err as Error).message);
    }
    options.tensorrt = value.tensorrt;
  }
  for (const key of Object.keys(options) as Array<keyof ClientOptions>)
    if (options[key] === undefined) delete options[key];
  return { options, qdq };
}

/** Parses and validates a POST /calibrate body (already bounded in size). Throws {@link HttpError}. */
export function parseJobRequest(body: Buffer): JobRequest {
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest('ERR_INVALID_JSON', `The body is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(value))
    throw badRequest(
      'ERR_INVALID_REQUEST',
      `Expected a JSON object {"model", "images", "options"} but received ${describe(value)}`,
    );
  refuseUnknown('the request', value, REQUEST_FIELDS);
  const model = checkName('model', value.model);
  const images = checkName('images', value.images);
  return { model, images, ...parseOptions(value.options) };
}

// ---------------------------------------------------------------------------------------------------------------
// The tree under --root

/** The service's directories, resolved once at start (real paths, so symlinks cannot move them later). */
interface Tree {
  root: string;
  models: string;
  images: string;
  out: string;
}

function isInside(real: string, base: string): boolean {
  return real === base || real.startsWith(base + path.sep);
}

/** Resolves `<root>` and creates `<root>/out` (which must be a real directory, not a symlink). */
async function openTree(root: string): Promise<Tree> {
  const real = await fs.promises.realpath(root);
  if (!(await fs.promises.stat(real)).isDirectory()) throw new UsageError(`--root ${root} is not a directory`);
  const out = path.join(real, 'out');
  await fs.promises.mkdir(out, { mode: 0o750 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const outStat = await fs.promises.lstat(out);
  if (!outStat.isDirectory()) throw new UsageError(`${out} must be a directory (not a symlink or a file)`);
  return { root: real, models: path.join(real, 'models'), images: path.join(real, 'images'), out };
}

/**
 * The real path of `<base>/<name>`, refused unless it stays inside the root (a symlink may point elsewhere in the
 * tree, never out of it) and is of the expected kind. A missing entry is a 404.
 */
async function resolveEntry(
  tree: Tree,
  base: string,
  field: string,
  name: string,
  kind: 'file' | 'directory',
): Promise<string> {
  let real: string;
  try {
    real = await fs.promises.realpath(path.join(base, name));
  } catch {
    throw new HttpError(
      404,
      field === 'model' ? 'ERR_MODEL_NOT_FOUND' : 'ERR_IMAGES_NOT_FOUND',
      `No ${field} named ${JSON.stringify(name)}`,
    );
  }
  if (!isInside(real, tree.root))
    throw badRequest(
      'ERR_SYMLINK_ESCAPE',
      `${field} ${JSON.stringify(name)} is a symlink leading out of the service's root`,
    );
  const stat = await fs.promises.stat(real);
  if (kind === 'file' ? !stat.isFile() : !stat.isDirectory())
    throw badRequest('ERR_INVALID_NAME', `${field} ${JSON.stringify(name)} is not a ${kind}`);
  return real;
}

/**
 * The image folder's symlinked images must stay inside the root too: calibrate() reads whatever a listed file
 * points at, and its statistics would leak into the cache.
 */
async function checkImageLinks(tree: Tree, folder: string, name: string): Promise<void> {
  for (const entry of await fs.promises.readdir(folder, { withFileTypes: true })) {
    if (!entry.isSymbolicLink() || !DEFAULT_IMAGE_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) continue;
    const real = await fs.promises.realpath(path.join(folder, entry.name)).catch(() => undefined);
    if (real !== undefined && !isInside(real, tree.root))
      throw badRequest(
        'ERR_SYMLINK_ESCAPE',
        `images ${JSON.stringify(name)} holds ${JSON.stringify(entry.name)}, a symlink leading out of the service's root`,
      );
  }
}

/** The model file and image folder a request names, checked now and again when its job starts. */
async function resolveRequestPaths(tree: Tree, request: JobRequest): Promise<{ model: string; images: string }> {
  const model = await resolveEntry(tree, tree.models, 'model', request.model, 'file');
  const images = await resolveEntry(tree, tree.images, 'images', request.images, 'directory');
  await checkImageLinks(tree, images, request.images);
  return { model, images };
}

// ---------------------------------------------------------------------------------------------------------------
// Jobs

/** Where a job is. Terminal: done, failed, aborted. */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'aborted';

/** A server-sent event of a job's stream. */
interface JobEvent {
  event: 'progress' | 'done' | 'error';
  data: Record<string, unknown>;
}

/** Why a job was stopped through its AbortSignal: the status and code it ends with. */
class JobStop extends Error {
  constructor(
    readonly status: 'aborted' | 'failed',
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobStop';
  }
}

interface Job {
  id: string;
  request: JobRequest;
  status: JobStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress?: CalibrationProgress;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** Aborts the calibration: DELETE, the time limit, shutdown. */
  controller: AbortController;
  /** Settles once the job is terminal and its leftovers are removed. */
  settled: Promise<void>;
  settle: () => void;
  /** Open event streams. */
  listeners: Set<(event: JobEvent) => void>;
  /** Files a finished job offers: 'cache' always, 'qdq' when asked for. */
  files: Map<'cache' | 'qdq', string>;
}

const CACHE_FILE = 'calibration.cache';
const QDQ_FILE = 'model.qdq.onnx';
const TERMINAL: readonly JobStatus[] = ['done', 'failed', 'aborted'];

/**
 * Runs at most `concurrency` calibrations, keeps at most `queue` jobs waiting (first in, first out), and
 * remembers the last `keep` finished jobs with their outputs. Every job writes only under `<root>/out/<id>/`,
 * which is removed when the job fails or is aborted.
 */
class Scheduler {
  readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private readonly running = new Set<Job>();
  private readonly finished: string[] = [];
  private readonly recentSeconds: number[] = [];
  private stopping = false;

  constructor(
    private readonly tree: Tree,
    private readonly config: ServiceConfig,
    private readonly log: (line: string) => void,
  ) {}

  /** Counts for /health. */
  counts(): { running: number; queued: number } {
    return { running: this.running.size, queued: this.waiting.length };
  }

  /** Takes a validated request, or throws 429 (queue full) / 503 (shutting down). */
  accept(request: JobRequest): Job {
    if (this.stopping) throw new HttpError(503, 'ERR_SHUTTING_DOWN', 'The service is shutting down');
    if (this.running.size >= this.config.concurrency && this.waiting.length >= this.config.queue)
      throw new HttpError(
        429,
        'ERR_QUEUE_FULL',
        `${this.running.size} calibration(s) running and ${this.waiting.length} waiting; try again later`,
        { 'retry-after': String(this.retryAfterSeconds()) },
      );
    let settle = (): void => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const job: Job = {
      id: crypto.randomUUID(),
      request,
      status: 'queued',
      createdAt: new Date().toISOString(),
      controller: new AbortController(),
      settled,
      settle,
      listeners: new Set(),
      files: new Map(),
    };
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    this.log(`job ${job.id} queued (model ${request.model}, images ${request.images})`);
    this.pump();
    return job;
  }

  /** Seconds a refused client should wait: about one recent job's duration (10 s before any has finished). */
  private retryAfterSeconds(): number {
    if (this.recentSeconds.length === 0) return 10;
    const mean = this.recentSeconds.reduce((a, b) => a + b, 0) / this.recentSeconds.length;
    return Math.min(3600, Math.max(1, Math.ceil(mean)));
  }

  /** Position in the queue (1 = next), for the job's JSON. */
  position(job: Job): number | undefined {
    const i = this.waiting.indexOf(job);
    return i < 0 ? undefined : i + 1;
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.config.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift() as Job;
      this.running.add(job);
      void this.run(job);
    }
  }

  private emit(job: Job, event: JobEvent): void {
    for (const listener of job.listeners) listener(event);
  }

  /** One job from start to terminal status: re-checks its paths, calibrates into out/<id>/, cleans up on failure. */
  private async run(job: Job): Promise<void> {
    job.status = 'running';
    job.startedAt = new Date().toISOString();
    const started = performance.now();
    const dir = path.join(this.tree.out, job.id);
    const stop = job.controller;
    const timer = setTimeout(
      () =>
        stop.abort(
          new JobStop(
            'failed',
            'ERR_JOB_TIMEOUT',
            `The job ran past this server's limit of ${this.config.jobTimeoutMs / 1000} s`,
          ),
        ),
      this.config.jobTimeoutMs,
    );
    this.log(`job ${job.id} running`);
    try {
      // The tree may have changed while the job waited: resolve the names again.
      const paths = await resolveRequestPaths(this.tree, job.request);
      stop.signal.throwIfAborted();
      await fs.promises.mkdir(dir, { mode: 0o750 });
      const cache = path.join(dir, CACHE_FILE);
      const qdq = job.request.qdq ? path.join(dir, QDQ_FILE) : undefined;
      const result = await calibrate(paths.model, paths.images, {
        ...job.request.options,
        cache,
        ...(qdq ? { qdq } : {}),
        overwrite: true,
        signal: stop.signal,
        onProgress: (p) => {
          job.progress = { ...p };
          this.emit(job, { event: 'progress', data: { ...p } });
        },
      });
      job.files.set('cache', cache);
      if (qdq) job.files.set('qdq', qdq);
      job.result = {
        cache: `/jobs/${job.id}/cache`,
        ...(qdq ? { qdq: `/jobs/${job.id}/qdq` } : {}),
        tensors: Object.keys(result.tensors).length,
        images: result.images.used,
        skipped: result.images.skipped.length,
        batches: result.batches,
        algorithm: result.algorithm,
        tensorrtVersion: result.tensorrtVersion,
        seconds: Math.round(result.timings.totalMs) / 1000,
        warnings: result.warnings.map((w) => this.redact(w)),
      };
      this.finish(job, 'done');
      this.emit(job, { event: 'done', data: { id: job.id, ...job.result } });
    } catch (err) {
      // An abort rejects with the signal's reason; whatever the error, a stop decided here names the outcome.
      const reason = stop.signal.aborted ? stop.signal.reason : undefined;
      const stopped = reason instanceof JobStop ? reason : err instanceof JobStop ? err : undefined;
      const httpError = err instanceof HttpError ? err : undefined;
      job.error = stopped
        ? { code: stopped.code, message: stopped.message }
        : {
            code: httpError?.code ?? errorCode(err) ?? 'ERR_INTERNAL',
            message: this.redact(err instanceof Error ? err.message : String(err)),
          };
      // Nothing of a failed or aborted job stays behind (calibrate() writes atomically; this removes the folder).
      await fs.promises
        .rm(dir, { recursive: true, force: true })
        .catch((e: Error) => this.log(`job ${job.id}: could not remove ${dir}: ${e.message}`));
      this.finish(job, stopped?.status ?? 'failed');
      this.emit(job, { event: 'error', data: { id: job.id, ...job.error } });
    } finally {
      clearTimeout(timer);
      this.running.delete(job);
      this.recentSeconds.push((performance.now() - started) / 1000);
      if (this.recentSeconds.length > 16) this.recentSeconds.shift();
      job.listeners.clear();
      job.settle();
      this.pump();
    }
  }

  private finish(job: Job, status: 'done' | 'failed' | 'aborted'): void {
    job.status = status;
    job.finishedAt = new Date().toISOString();
    this.log(`job ${job.id} ${status}${job.error ? ` (${job.error.code})` : ''}`);
    this.finished.push(job.id);
    while (this.finished.length > this.config.keep) void this.forget(this.finished[0]);
  }

  /** Drops a finished job and its outputs. */
  private async forget(id: string): Promise<void> {
    const i = this.finished.indexOf(id);
    if (i >= 0) this.finished.splice(i, 1);
    this.jobs.delete(id);
    const dir = path.join(this.tree.out, id);
    await fs.promises
      .rm(dir, { recursive: true, force: true })
      .catch((e: Error) => this.log(`job ${id}: could not remove ${dir}: ${e.message}`));
  }

  /**
   * DELETE: a queued job ends aborted at once; a running one is aborted and awaited (its folder is gone when
   * this resolves); a finished one is forgotten with its outputs.
   */
  async remove(job: Job, why: string): Promise<{ removed: boolean }> {
    if (job.status === 'queued') {
      this.endQueued(job, 'ERR_ABORTED', why);
      return { removed: false };
    }
    if (job.status === 'running') {
      job.controller.abort(new JobStop('aborted', 'ERR_ABORTED', why));
      await job.settled;
      return { removed: false };
    }
    await this.forget(job.id);
    return { removed: true };
  }

  /** Ends a job that has not started: it leaves the queue aborted, having written nothing. */
  private endQueued(job: Job, code: string, message: string): void {
    this.waiting.splice(this.waiting.indexOf(job), 1);
    job.error = { code, message };
    this.finish(job, 'aborted');
    this.emit(job, { event: 'error', data: { id: job.id, ...job.error } });
    job.listeners.clear();
    job.settle();
  }

  /** Stops taking jobs, aborts the queued and running ones and waits until the running ones have cleaned up. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const message = 'The service is shutting down';
    for (const job of [...this.waiting]) this.endQueued(job, 'ERR_SHUTTING_DOWN', message);
    const running = [...this.running];
    for (const job of running) job.controller.abort(new JobStop('aborted', 'ERR_SHUTTING_DOWN', message));
    await Promise.all(running.map((job) => job.settled));
  }

  /** Output folders of running jobs, for a forced exit that must still leave no partial files. */
  runningFolders(): string[] {
    return [...this.running].map((job) => path.join(this.tree.out, job.id));
  }

  /** Library messages name server paths; clients see `<root>` instead. */
  redact(text: string): string {
    let out = text.split(this.tree.root).join('<root>');
    if (this.config.root !== this.tree.root) out = out.split(path.resolve(this.config.root)).join('<root>');
    return out;
  }
}

/** A job as GET /jobs/<id> shows it. */
function jobJson(scheduler: Scheduler, job: Job): Record<string, unknown> {
  return {
    id: job.id,
    status: job.status,
    model: job.request.model,
    images: job.request.images,
    options: { ...job.request.options, qdq: job.request.qdq },
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    ...(job.status === 'queued' ? { position: scheduler.position(job) } : {}),
    ...(job.progress ? { progress: job.progress } : {}),
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    events: `/jobs/${job.id}/events`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: unknown, redact: (text: string) => string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e =
    err instanceof HttpError
      ? err
      : new HttpError(500, 'ERR_INTERNAL', redact(err instanceof Error ? err.message : String(err)));
  sendJson(res, e.status, { code: e.code, message: e.message }, { ...e.headers });
}

/**
 * Reads a request body of at most `max` bytes. A larger declared length is refused before reading; a larger
 * chunked body is refused once it passes the limit (the rest is not buffered).
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const tooLarge = (): HttpError =>
    new HttpError(413, 'ERR_BODY_TOO_LARGE', `The request body is larger than this server's limit of ${max} bytes`, {
      connection: 'close',
    });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `Allowed here: ${allowed}`, { allow: allowed });
}

/** Streams a job's events: the latest progress (or the terminal event) at once, then each event as it comes. */
function streamEvents(req: http.IncomingMessage, res: http.ServerResponse, job: Job): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  const write = (e: JobEvent): void => {
    res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  };
  if (TERMINAL.includes(job.status)) {
    write(
      job.status === 'done'
        ? { event: 'done', data: { id: job.id, ...job.result } }
        : { event: 'error', data: { id: job.id, ...job.error } },
    );
    res.end();
    return;
  }
  res.write(': stream open\n\n');
  if (job.progress) write({ event: 'progress', data: { ...job.progress } });
  // A comment line every 15 s keeps proxies from closing an idle stream while a job waits in the queue.
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const listener = (e: JobEvent): void => {
    write(e);
    if (e.event !== 'progress') {
      clearInterval(heartbeat);
      res.end();
    }
  };
  job.listeners.add(listener);
  req.on('close', () => {
    clearInterval(heartbeat);
    job.listeners.delete(listener);
  });
}

async function sendFile(res: http.ServerResponse, file: string, download: string): Promise<void> {
  // A DELETE may have removed the job's folder since its status was read.
  const size = (await fs.promises.stat(file).catch(() => undefined))?.size;
  if (size === undefined) throw new HttpError(404, 'ERR_NOT_FOUND', 'The job and its outputs were removed');
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    'content-disposition': `attachment; filename="${download}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  fs.createReadStream(file)
    .once('error', () => res.destroy())
    .pipe(res);
}

/** The service: an http.Server, its scheduler and a graceful shutdown. */
export interface CalibrationService {
  server: http.Server;
  /** The port it listens on. */
  port: number;
  /** Stops accepting, aborts queued and running jobs, waits for their cleanup, closes every connection. */
  shutdown(): Promise<void>;
  /** Output folders of jobs still running (for a forced exit). */
  runningFolders(): string[];
}

/** Starts the service and resolves once it listens. */
export async function startService(
  config: ServiceConfig,
  log: (line: string) => void = (line) => console.log(line),
): Promise<CalibrationService> {
  const tree = await openTree(config.root);
  const scheduler = new Scheduler(tree, config, log);
  let stopping = false;
  const redact = (text: string): string => scheduler.redact(text);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://service.invalid');
    const route = url.pathname;
    if (route === '/health') {
      if (req.method !== 'GET') throw methodNotAllowed('GET');
      sendJson(res, stopping ? 503 : 200, { status: stopping ? 'shutting-down' : 'ok', ...scheduler.counts() });
      return;
    }
    if (route === '/calibrate') {
      if (req.method !== 'POST') throw methodNotAllowed('POST');
      if (stopping) throw new HttpError(503, 'ERR_SHUTTING_DOWN', 'The service is shutting down');
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json')
        throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'Send the request as content-type application/json');
      const request = parseJobRequest(await readBody(req, config.maxBody));
      await resolveRequestPaths(tree, request);
      const job = scheduler.accept(request);
      sendJson(
        res,
        202,
        { id: job.id, status: job.status, events: `/jobs/${job.id}/events` },
        { location: `/jobs/${job.id}` },
      );
      return;
    }
    const match = /^\/jobs\/([^/]+)(?:\/(events|cache|qdq))?$/.exec(route);
    if (!match) throw new HttpError(404, 'ERR_NOT_FOUND', 'No such endpoint');
    const [, id, part] = match;
    const job = JOB_ID.test(id) ? scheduler.jobs.get(id) : undefined;
    if (!job) throw new HttpError(404, 'ERR_JOB_NOT_FOUND', 'No such job');
    if (part === undefined) {
      if (req.method === 'GET') return sendJson(res, 200, jobJson(scheduler, job));
      if (req.method !== 'DELETE') throw methodNotAllowed('GET, DELETE');
      const { removed } = await scheduler.remove(job, 'Aborted by DELETE /jobs/<id>');
      return sendJson(res, 200, { ...jobJson(scheduler, job), ...(removed ? { removed: true } : {}) });
    }
    if (req.method !== 'GET') throw methodNotAllowed('GET');
    if (part === 'events') return streamEvents(req, res, job);
    if (job.status !== 'done')
      throw new HttpError(409, 'ERR_JOB_NOT_DONE', `The job is ${job.status}; its outputs exist once it is done`);
    const file = job.files.get(part as 'cache' | 'qdq');
    if (!file) throw new HttpError(404, 'ERR_NOT_FOUND', 'This job wrote no Q/DQ model (ask with options.qdq: true)');
    await sendFile(res, file, part === 'cache' ? CACHE_FILE : QDQ_FILE);
  };

  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError)) log(`internal error: ${(err as Error).stack ?? String(err)}`);
      sendError(res, err, redact);
    });
  });
  // Each open connection costs a socket and, for event streams, a listener: bounded like the jobs are.
  server.maxConnections = 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    runningFolders: () => scheduler.runningFolders(),
    shutdown() {
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await scheduler.shutdown();
        // Event streams have had their last event and ended: let their connections close, then close the rest.
        server.closeIdleConnections();
        let late: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((resolve) => (late = setTimeout(resolve, 500)))]);
        clearTimeout(late);
        server.closeAllConnections();
      })();
      return closing;
    },
  };
}

/** Milliseconds a SIGTERM/SIGINT may take before the process exits anyway (after removing running jobs' folders). */
const SHUTDOWN_LIMIT_MS = 4500;

async function main(): Promise<void> {
  let config: ServiceConfig;
  try {
    config = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  let service: CalibrationService;
  try {
    service = await startService(config);
  } catch (err) {
    console.error(`calibration service: ${(err as Error).message}`);
    process.exit(2);
  }
  console.log(
    `calibration service listening on http://${config.host}:${service.port} (root ${config.root}, concurrency ${config.concurrency}, queue ${config.queue})`,
  );
  let signalled = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (signalled) return; // a second signal changes nothing: the first one's shutdown and its limit run on
    signalled = true;
    console.log(`${signal}: shutting down`);
    // Past the limit the process exits anyway, still removing the folders of jobs that did not finish.
    setTimeout(() => {
      for (const dir of service.runningFolders()) fs.rmSync(dir, { recursive: true, force: true });
      console.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    service.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) void main();
