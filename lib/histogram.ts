/**
 * Per-tensor histograms of |x| and the thresholds (amax) computed from them: the typed wrapper of the native
 * `HistogramSet` (native/builtin/histogram.h, native/builtin/thresholds.h). One calibration pass fills a set; every algorithm
 * reads the same histograms, and sets from different runs (shards of a large data set) can be saved, loaded
 * and merged.
 */
import { loadAddon } from './binding';
import type { NativeAmaxResult, NativeAmaxStatus, NativeHistogramSet, NativeHistogramStats } from './binding';
import { TrtCalibratorError, invalidOption } from './errors';
import { AMAX_ALGORITHMS, CALIBRATE_OPTIONS, type Algorithm } from './options/calibrate';
import { oneOf, pick, validateOptions, type OptionsOf } from './options/spec';
import type { DerivedTensor } from './backends/builtin/derived';
import { readFileOrThrow, writeFileAtomic } from './util/fs';

/** Threshold algorithms: `entropy` (TensorRT's EntropyCalibration2), `minmax`, `percentile`, `mse`. */
export type AmaxAlgorithm = Algorithm;

/** The algorithms {@link HistogramSet.computeAmax} accepts. */
export { AMAX_ALGORITHMS };

/**
 * `ok`, or why no threshold could be derived: `empty` (no values), `not-finite` (only NaN/Inf), `all-zero`
 * (every finite value is 0), `constant` (every finite value is the same nonzero c: amax = |c|, usable).
 * @useDeclaredType
 */
export type AmaxStatus = NativeAmaxStatus;

/**
 * A threshold. `amax` is 0 unless {@link amaxUsable} is true for the status.
 * @useDeclaredType
 */
export type AmaxResult = NativeAmaxResult;

/** A threshold with its tensor's name. */
export interface NamedAmaxResult extends AmaxResult {
  /** The tensor. */
  name: string;
}

/**
 * Counters of one tensor's histogram.
 * @useDeclaredType
 */
export type HistogramStats = NativeHistogramStats;

const AMAX_OPTIONS = pick(CALIBRATE_OPTIONS, 'percentile');

/** Options of {@link HistogramSet.computeAmax}. */
export interface AmaxOptions extends OptionsOf<typeof AMAX_OPTIONS> {}

/** True when a result's amax can become a scale (`ok` or `constant`). */
export function amaxUsable(status: AmaxStatus): boolean {
  return status === 'ok' || status === 'constant';
}

const ALGORITHM = oneOf(AMAX_ALGORITHMS, { help: 'threshold algorithm' });

function checkAlgorithm(algorithm: unknown): AmaxAlgorithm {
  return ALGORITHM.check(algorithm, 'algorithm');
}

function checkOptions(options: unknown): { percentile?: number } {
  return validateOptions(AMAX_OPTIONS, options, 'computeAmax options');
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidOption('name', 'a non-empty string', name);
  return name;
}

/** Turns native errors carrying `code: 'ERR_HISTOGRAM'` or `'ERR_INVALID_OPTION'` into TrtCalibratorError; rethrows others unchanged. */
function native<T>(fn: () => T, file?: string): T {
  try {
    return fn();
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_HISTOGRAM' || e.code === 'ERR_INVALID_OPTION') {
      throw new TrtCalibratorError(e.code, file ? `${file}: ${e.message}` : e.message, {
        cause: err,
        details: file ? { file } : {},
      });
    }
    throw err;
  }
}

/**
 * Histograms of |x| per tensor: 2048 bins over [0, max|x|] from the first batch, extended at the same width
 * when a later batch has a larger max (TensorRT's entropy calibration; the README's "Calibration algorithms" has the exact rules). NaN and ±Inf
 * are counted, never binned.
 */
export class HistogramSet {
  /** The native set; the builtin builder hands it to C++ (unwrapHistogramSet) to fill it from its thread. */
  readonly native: NativeHistogramSet;

  /** An empty set, or the set serialized in `bytes` (from {@link HistogramSet.serialize}). */
  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined && !(bytes instanceof Uint8Array)) throw invalidOption('bytes', 'a Uint8Array', bytes);
    const { HistogramSet: NativeSet } = loadAddon();
    this.native = native(() => new NativeSet(bytes));
  }

  /** Reads a set saved with {@link HistogramSet.save}. Throws ERR_IO or ERR_HISTOGRAM naming the file. */
  static async load(file: string): Promise<HistogramSet> {
    const bytes = await readFileOrThrow(file, 'histogram file');
    return native(() => new HistogramSet(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)), file);
  }

  /**
   * Loads shards and merges them into one set (each tensor's histograms must share a bin width: give every
   * shard the widths of the first with {@link HistogramSet.setBinWidth}, or merge sets whose widths differ by a
   * power of two). Throws ERR_HISTOGRAM naming the file and tensor that does not fit.
   */
  static async loadAll(files: readonly string[]): Promise<HistogramSet> {
    if (!Array.isArray(files) || files.length === 0) throw invalidOption('files', 'a non-empty array of paths', files);
    const merged = new HistogramSet();
    for (const file of files) {
      const shard = await HistogramSet.load(file);
      native(() => merged.native.merge(shard.native), file);
    }
    return merged;
  }

  /** Adds one batch of a tensor's values (creates the histogram on first use). */
  add(name: string, data: Float32Array): void {
    checkName(name);
    if (!(data instanceof Float32Array)) throw invalidOption('data', 'a Float32Array', data);
    this.native.add(name, data);
  }

  /**
   * Adds one batch of several tensors at once: `arrays[i]` to `names[i]`, the tensors in parallel over the cores
   * (the same histograms as one `add` each). With `plan` (a CalibrationModel's `fetchPlan`), the tensors it
   * derives from these ones are added too, computed chunk by chunk, and new tensors are created in the plan's
   * order; a name the plan derives is refused (ERR_INVALID_OPTION, as is a malformed plan). Synchronous and
   * CPU-heavy: call it from a worker thread.
   */
  addAll(
    names: readonly string[],
    arrays: readonly Float32Array[],
    plan?: ReadonlyArray<string | DerivedTensor>,
  ): void {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0))
      throw invalidOption('names', 'an array of tensor names', names);
    if (!Array.isArray(arrays) || !arrays.every((a) => a instanceof Float32Array))
      throw invalidOption('arrays', 'an array of Float32Array', arrays);
    if (names.length !== arrays.length)
      throw invalidOption('arrays', `${names.length} Float32Arrays (one per name)`, arrays.length, 'range');
    if (plan !== undefined && !Array.isArray(plan))
      throw invalidOption('plan', 'an array of tensor names and derived tensors', plan);
    native(() => this.native.addAll([...names], [...arrays], plan));
  }

  /**
   * Fixes a tensor's bin width before any data (so shards from different runs merge). With `bins` (the bin count
   * of the histogram the shard will merge into, from {@link HistogramSet.stats}), every value also lands in the bin
   * it would have there: a value on the top edge of a batch goes to that histogram's bin, not to the last bin of a
   * shorter one. `bins` defaults to 2048.
   */
  setBinWidth(name: string, width: number, bins?: number): void {
    checkName(name);
    if (typeof width !== 'number') throw invalidOption('width', 'a positive finite number', width);
    if (!(Number.isFinite(width) && width > 0))
      throw invalidOption('width', 'a positive finite number', width, 'range');
    if (bins !== undefined) {
      if (typeof bins !== 'number') throw invalidOption('bins', 'an integer in [1, 65536]', bins);
      if (!(Number.isInteger(bins) && bins >= 1 && bins <= 65536))
        throw invalidOption('bins', 'an integer in [1, 65536]', bins, 'range');
    }
    native(() => this.native.setBinWidth(name, width, bins));
  }

  /**
   * Opens one batch given in parts: a batch whose values come as several pieces (sub-batches run one after the
   * other to bound memory) but must give the histograms of one {@link HistogramSet.add} of the whole batch. Until
   * {@link HistogramSet.endPass} returns false, every add to a tensor of `names` (created when missing, in this
   * order) is a part of that one batch; adds to other tensors stay whole batches. A tensor without a bin width yet
   * only records its max|x| in the first pass; `endPass` then sets the width from the whole batch's max and asks
   * for the same parts again. Returns whether one of the tensors has no width yet (only then can `endPass` ask for
   * a second pass). While the batch is open, `serialize`, `merge` and `setBinWidth` throw ERR_HISTOGRAM, as does a
   * second `beginBatch`.
   */
  beginBatch(names: readonly string[]): boolean {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0))
      throw invalidOption('names', 'an array of tensor names', names);
    return native(() => this.native.beginBatch([...names]));
  }

  /**
   * Ends one pass over the open batch's parts. True: some tensors got their bin width from this pass; add the same
   * parts again (adds to the other tensors of the batch are ignored in that pass). False: the batch is in and
   * closed (also when none was open).
   */
  endPass(): boolean {
    return this.native.endPass();
  }

  /** Closes an open batch whose parts stop coming (an error): what was binned stays. No-op when none is open. */
  abandonBatch(): void {
    this.native.abandonBatch();
  }

  /** Tensor names in first-added order. */
  names(): string[] {
    return this.native.names();
  }

  /** True when the set has a histogram for `name`. */
  has(name: string): boolean {
    return this.native.has(checkName(name));
  }

  /** Counters of one tensor. Throws ERR_HISTOGRAM for an unknown name. */
  stats(name: string): HistogramStats {
    return native(() => this.native.stats(checkName(name)));
  }

  /** A copy of one tensor's bin counts (exact up to 2^53). Throws ERR_HISTOGRAM for an unknown name. */
  counts(name: string): Float64Array {
    return native(() => this.native.counts(checkName(name)));
  }

  /**
   * The threshold of one tensor. Synchronous (a few ms per tensor); use {@link HistogramSet.computeAll} for
   * many. `algorithm` defaults to `'entropy'`.
   */
  computeAmax(name: string, algorithm: AmaxAlgorithm = 'entropy', options?: AmaxOptions): AmaxResult {
    checkName(name);
    const algo = checkAlgorithm(algorithm);
    const opts = checkOptions(options);
    return native(() => this.native.computeAmax(name, algo, opts));
  }

  /** Thresholds of every tensor, computed off the JS thread, in set order. `algorithm` defaults to `'entropy'`. */
  async computeAll(algorithm: AmaxAlgorithm = 'entropy', options?: AmaxOptions): Promise<NamedAmaxResult[]> {
    const algo = checkAlgorithm(algorithm);
    const opts = checkOptions(options);
    return this.native.computeAll(algo, opts);
  }

  /** Merges `other` into this set (all or nothing). Throws ERR_HISTOGRAM for incompatible bin widths. */
  merge(other: HistogramSet): void {
    if (!(other instanceof HistogramSet)) throw invalidOption('other', 'a HistogramSet', other);
    native(() => this.native.merge(other.native));
  }

  /** The versioned binary form (format in native/builtin/histogram.cc). Throws ERR_HISTOGRAM while a batch is open. */
  serialize(): Uint8Array {
    return native(() => this.native.serialize());
  }

  /** Writes {@link HistogramSet.serialize} atomically to `file`. Throws ERR_IO naming the file. */
  async save(file: string): Promise<void> {
    if (typeof file !== 'string' || file.length === 0) throw invalidOption('file', 'a non-empty path', file);
    await writeFileAtomic(file, this.serialize());
  }
}

/**
 * The TensorRT calibration cache text, byte-exact: `TRT-<version>-<algorithm>` then `<name>: <hex>` per entry
 * in the given order, hex = the float32 bits of amax / 127 (lowercase, unpadded: `3c010a14`, `0`).
 * Throws ERR_INVALID_OPTION for a NaN/negative/infinite amax, line breaks in names, or '-' in the header parts.
 */
export function formatCacheText(
  version: string,
  algorithm: string,
  entries: ReadonlyArray<{ name: string; amax: number }>,
): string {
  if (typeof version !== 'string') throw invalidOption('version', 'a string', version);
  if (typeof algorithm !== 'string') throw invalidOption('algorithm', 'a string', algorithm);
  if (!Array.isArray(entries)) throw invalidOption('entries', 'an array of { name, amax }', entries);
  try {
    return loadAddon().formatCacheText(version, algorithm, entries);
  } catch (err) {
    // Native errors come from the main realm: check the name, not instanceof (which fails across realms).
    const e = err as Error;
    if (e.name === 'TypeError' || e.name === 'RangeError') {
      throw invalidOption(
        'formatCacheText arguments',
        `valid cache arguments (${e.message})`,
        entries,
        e.name === 'TypeError' ? 'type' : 'range',
      );
    }
    throw err;
  }
}
