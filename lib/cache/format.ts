/**
 * Reading and writing TensorRT calibration caches (the text format of `writeCalibrationCache`):
 *
 * ```
 * TRT-8601-EntropyCalibration2
 * input: 3c010a14
 * (Unnamed Layer* 22) [Constant]_output: 3a4b050c
 * ```
 *
 * The header is `TRT-<version>-<Algorithm>`; every other line is `<tensor name>: <hex>`, split at the LAST
 * `": "` because names may contain colons. The hex is the IEEE-754 float32 scale as a big-endian integer of its
 * bits. {@link parseCache} keeps everything needed (header token, hex text, line endings, trailing newline)
 * for {@link formatCache} to give back the input byte for byte.
 */
import * as fs from 'node:fs';
import { invalidOption, TrtCalibratorError } from '../errors';
import { readFileOrThrow, writeFileAtomic } from '../util/fs';
import { decodeTensorRTVersion, parseTensorRTVersion, type TensorRTVersion, type TensorRTVersionLike } from './version';

/** Calibration algorithm names TensorRT writes into cache headers. */
export const CACHE_ALGORITHMS = [
  'EntropyCalibration2',
  'EntropyCalibration',
  'MinMaxCalibration',
  'LegacyCalibration',
] as const;

/** One of {@link CACHE_ALGORITHMS}. */
export type CacheAlgorithm = (typeof CACHE_ALGORITHMS)[number];

/** One tensor of a cache. */
export interface CacheEntry {
  /** The network tensor name (ONNX value name), exactly as in the file. */
  readonly name: string;
  /** The hex text as in the file (TensorRT writes lowercase without zero padding: `3c010a14`, `0`). */
  readonly hex: string;
  /** The float32 scale those bits encode (dynamic range = scale × 127). */
  readonly scale: number;
}

/** A parsed calibration cache. */
export interface CalibrationCache {
  /** The TensorRT version of the header. */
  readonly tensorrt: TensorRTVersion;
  /** The calibration algorithm of the header. */
  readonly algorithm: CacheAlgorithm;
  /** The tensors, in file order. */
  readonly entries: readonly CacheEntry[];
  /** Line break of the file: `'\n'` (what TensorRT writes) or `'\r\n'`. */
  readonly lineEnding: '\n' | '\r\n';
  /** Whether the last line ends with a line break (TensorRT writes one). */
  readonly trailingNewline: boolean;
  /**
   * Only for files that mix `\n` and `\r\n`: the break after each line, in order, so formatting stays
   * byte-exact. Absent when all breaks are {@link CalibrationCache.lineEnding}.
   */
  readonly lineEndings?: readonly ('\n' | '\r\n')[];
}

/** Options of {@link parseCache}. */
export interface ParseCacheOptions {
  /** File path named in error messages and details. Defaults to none. */
  file?: string;
}

/** Where in a cache a format error is. */
interface Where {
  file?: string;
  line: number;
}

/** The ERR_CACHE_FORMAT error: file (when known) and 1-based line in message and details. */
export function cacheFormatError(
  where: Where,
  reason: string,
  extra: Record<string, unknown> = {},
): TrtCalibratorError {
  const at = `${where.file === undefined ? 'calibration cache' : `calibration cache ${where.file}`} line ${where.line}`;
  return new TrtCalibratorError('ERR_CACHE_FORMAT', `Invalid ${at}: ${reason}`, {
    details: { ...(where.file === undefined ? {} : { file: where.file }), line: where.line, reason, ...extra },
  });
}

const HEX = /^[0-9a-fA-F]{1,8}$/;
const HEADER = /^TRT-([^-]*)-(.*)$/;
const view = new DataView(new ArrayBuffer(4));
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The float32 whose IEEE-754 bits the hex text encodes (`'3c010a14'` → 0.0078759…). Accepts 1–8 hex digits. */
export function hexToScale(hex: string): number {
  if (!HEX.test(hex)) throw invalidOption('hex', '1 to 8 hexadecimal digits', hex, 'range');
  view.setUint32(0, parseInt(hex, 16));
  return view.getFloat32(0);
}

/**
 * The hex text TensorRT writes for a float32 scale: the bits as an unsigned integer streamed with `std::hex`,
 * lowercase and without zero padding — hence `0` for a zero scale in real caches, while every scale above
 * 2^-95 has 8 digits (`3c010a14`). `scale` is rounded to float32 first.
 */
export function scaleToHex(scale: number): string {
  if (typeof scale !== 'number') throw invalidOption('scale', 'a number', scale, 'type');
  view.setFloat32(0, scale);
  return view.getUint32(0).toString(16);
}

/** A cache entry for a tensor name and float32 scale, with the hex TensorRT would write. */
export function makeCacheEntry(name: string, scale: number): CacheEntry {
  checkName(name, 'name');
  const hex = scaleToHex(scale);
  return { name, hex, scale: hexToScale(hex) };
}

/** True for one of {@link CACHE_ALGORITHMS}. */
export function isCacheAlgorithm(name: unknown): name is CacheAlgorithm {
  return typeof name === 'string' && (CACHE_ALGORITHMS as readonly string[]).includes(name);
}

/** Checks `value` is a known algorithm name, else ERR_INVALID_OPTION listing them. */
export function checkAlgorithm(value: unknown, option = 'algorithm'): CacheAlgorithm {
  if (typeof value !== 'string') throw invalidOption(option, `one of ${CACHE_ALGORITHMS.join(', ')}`, value, 'type');
  if (!isCacheAlgorithm(value)) throw invalidOption(option, `one of ${CACHE_ALGORITHMS.join(', ')}`, value, 'range');
  return value;
}

/** Options of {@link createCache}. */
export interface CreateCacheOptions {
  /** TensorRT version of the header: `'8.6.1'`, `'10.3.0'`, a header token or parts. Required. */
  tensorrt: TensorRTVersionLike;
  /** Calibration algorithm. Defaults to `'EntropyCalibration2'`. */
  algorithm?: CacheAlgorithm;
  /** Line break. Defaults to `'\n'` (what TensorRT writes). */
  lineEnding?: '\n' | '\r\n';
  /** Whether to end the last line with a break. Defaults to true (what TensorRT writes). */
  trailingNewline?: boolean;
}

/**
 * Builds a cache from entries (see {@link makeCacheEntry}) as TensorRT would write it. Throws ERR_CACHE_FORMAT
 * for duplicate tensor names and ERR_INVALID_OPTION for bad options.
 */
export function createCache(entries: readonly CacheEntry[], options: CreateCacheOptions): CalibrationCache {
  const cache: CalibrationCache = {
    tensorrt: parseTensorRTVersion(options.tensorrt),
    algorithm: checkAlgorithm(options.algorithm ?? 'EntropyCalibration2'),
    entries: [...entries],
    lineEnding: options.lineEnding ?? '\n',
    trailingNewline: options.trailingNewline ?? true,
  };
  validateCache(cache);
  return cache;
}

/**
 * Parses a calibration cache from its bytes or text. Never returns a partial result: any problem throws
 * ERR_CACHE_FORMAT naming the file (when `options.file` is given) and the 1-based line — empty file, missing or
 * malformed header, unknown algorithm or version token, a line that is not `<name>: <hex>`, hex that is not 1–8
 * hex digits, an empty line, duplicate tensor names, bytes that are not UTF-8.
 */
export function parseCache(input: string | Uint8Array, options: ParseCacheOptions = {}): CalibrationCache {
  const file = options.file;
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else if (input instanceof Uint8Array) {
    try {
      text = utf8.decode(input);
    } catch {
      throw cacheFormatError({ file, line: lineOfFirstInvalidUtf8(input) }, 'not valid UTF-8 text');
    }
  } else {
    throw invalidOption('input', 'a string or Uint8Array', input, 'type');
  }
  if (text.length === 0)
    throw cacheFormatError({ file, line: 1 }, 'the file is empty (expected a "TRT-<version>-<Algorithm>" header)');

  const lines = text.split('\n');
  const trailingNewline = lines[lines.length - 1] === '';
  if (trailingNewline) lines.pop();
  const breaks: ('\n' | '\r\n')[] = [];
  for (let i = 0; i < lines.length; i++) {
    const hasBreak = i < lines.length - 1 || trailingNewline;
    if (hasBreak && lines[i].endsWith('\r')) {
      lines[i] = lines[i].slice(0, -1);
      breaks.push('\r\n');
    } else if (hasBreak) {
      breaks.push('\n');
    }
  }

  const header = HEADER.exec(lines[0]);
  if (!header) {
    const reason = lines[0].startsWith('\uFEFF')
      ? 'the file starts with a byte order mark; expected "TRT-<version>-<Algorithm>"'
      : `expected a "TRT-<version>-<Algorithm>" header but found ${show(lines[0])}`;
    throw cacheFormatError({ file, line: 1 }, reason);
  }
  const tensorrt = decodeTensorRTVersion(header[1]);
  if (!tensorrt) {
    throw cacheFormatError(
      { file, line: 1 },
      `version ${show(header[1])} is not a TensorRT version token (4 digits up to TensorRT 9 such as 8601 = 8.6.1, 6 digits from TensorRT 10 such as 100300 = 10.3.0)`,
    );
  }
  const algorithm = header[2];
  if (!isCacheAlgorithm(algorithm)) {
    throw cacheFormatError(
      { file, line: 1 },
      `unknown calibration algorithm ${show(algorithm)} (known: ${CACHE_ALGORITHMS.join(', ')})`,
      { algorithm },
    );
  }

  const entries: CacheEntry[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const where = { file, line: i + 1 };
    if (line.length === 0) throw cacheFormatError(where, 'empty line (expected "<tensor name>: <hex>")');
    const split = line.lastIndexOf(': ');
    if (split < 0) throw cacheFormatError(where, `expected "<tensor name>: <hex>" but found ${show(line)}`);
    const name = line.slice(0, split);
    const hex = line.slice(split + 2);
    if (name.length === 0) throw cacheFormatError(where, `empty tensor name in ${show(line)}`);
    if (!HEX.test(hex))
      throw cacheFormatError(where, `expected 1 to 8 hexadecimal digits after ": " but found ${show(hex)}`, {
        tensor: name,
      });
    const previous = seen.get(name);
    if (previous !== undefined)
      throw cacheFormatError(where, `duplicate tensor name ${show(name)} (first on line ${previous})`, {
        tensor: name,
      });
    seen.set(name, i + 1);
    view.setUint32(0, parseInt(hex, 16));
    entries.push({ name, hex, scale: view.getFloat32(0) });
  }

  const lineEnding = breaks[0] ?? '\n';
  const mixed = breaks.some((b) => b !== lineEnding);
  return { tensorrt, algorithm, entries, lineEnding, trailingNewline, ...(mixed ? { lineEndings: breaks } : {}) };
}

/**
 * Formats a cache as TensorRT writes it (`TRT-<token>-<Algorithm>` then `<name>: <hex>` per tensor), with the
 * cache's line endings and trailing newline: `formatCache(parseCache(bytes))` is `bytes` again. Throws
 * ERR_INVALID_OPTION for a cache object that could not have been parsed (see {@link validateCache}).
 */
export function formatCache(cache: CalibrationCache): string {
  validateCache(cache);
  const lines = [`TRT-${cache.tensorrt.raw}-${cache.algorithm}`];
  for (const e of cache.entries) lines.push(`${e.name}: ${e.hex}`);
  const breaks = cache.lineEndings;
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    out += lines[i];
    if (i < lines.length - 1 || cache.trailingNewline) out += breaks ? breaks[i] : cache.lineEnding;
  }
  return out;
}

/**
 * Checks a cache object is one {@link parseCache} could return: header token matching the version parts, known
 * algorithm, names without line breaks and unique, hex of 1–8 digits agreeing with the scale. Throws
 * ERR_INVALID_OPTION (TypeError/RangeError) naming the bad field, or ERR_CACHE_FORMAT for duplicate names.
 */
export function validateCache(cache: CalibrationCache): void {
  if (cache === null || typeof cache !== 'object')
    throw invalidOption('cache', 'a CalibrationCache object', cache, 'type');
  const v = cache.tensorrt;
  const decoded = v && typeof v.raw === 'string' ? decodeTensorRTVersion(v.raw) : undefined;
  if (!decoded || decoded.major !== v.major || decoded.minor !== v.minor || decoded.patch !== v.patch) {
    throw invalidOption(
      'cache.tensorrt',
      'a TensorRTVersion whose raw header token matches major.minor.patch (use parseTensorRTVersion)',
      v,
      'range',
    );
  }
  checkAlgorithm(cache.algorithm, 'cache.algorithm');
  if (cache.lineEnding !== '\n' && cache.lineEnding !== '\r\n')
    throw invalidOption('cache.lineEnding', '"\\n" or "\\r\\n"', cache.lineEnding, 'range');
  if (typeof cache.trailingNewline !== 'boolean')
    throw invalidOption('cache.trailingNewline', 'a boolean', cache.trailingNewline, 'type');
  if (!Array.isArray(cache.entries)) throw invalidOption('cache.entries', 'an array of entries', cache.entries, 'type');
  const seen = new Set<string>();
  cache.entries.forEach((e, i) => {
    const at = `cache.entries[${i}]`;
    checkName(e?.name, `${at}.name`);
    if (typeof e.hex !== 'string' || !HEX.test(e.hex))
      throw invalidOption(
        `${at}.hex`,
        '1 to 8 hexadecimal digits',
        e.hex,
        typeof e.hex === 'string' ? 'range' : 'type',
      );
    const scale = hexToScale(e.hex);
    if (!Object.is(scale, e.scale) && !(Number.isNaN(scale) && Number.isNaN(e.scale))) {
      throw invalidOption(`${at}.scale`, `the float32 of hex ${e.hex} (${scale})`, e.scale, 'range');
    }
    if (seen.has(e.name)) {
      throw new TrtCalibratorError(
        'ERR_CACHE_FORMAT',
        `Duplicate tensor name ${show(e.name)} in calibration cache (entries[${i}])`,
        { details: { tensor: e.name, index: i } },
      );
    }
    seen.add(e.name);
  });
  const lineCount = cache.entries.length + 1;
  const breaks = cache.lineEndings;
  if (breaks !== undefined) {
    const want = cache.trailingNewline ? lineCount : lineCount - 1;
    if (!Array.isArray(breaks) || breaks.length !== want || breaks.some((b) => b !== '\n' && b !== '\r\n')) {
      throw invalidOption(
        'cache.lineEndings',
        `an array of ${want} "\\n" or "\\r\\n" (or no lineEndings)`,
        breaks,
        'range',
      );
    }
  }
}

/** Reads and parses a cache file; errors name the file (ERR_IO when unreadable, ERR_CACHE_FORMAT when malformed). */
export async function readCache(file: string): Promise<CalibrationCache> {
  return parseCache(await readFileOrThrow(file, 'calibration cache'), { file });
}

/** Synchronous {@link readCache}. */
export function readCacheSync(file: string): CalibrationCache {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new TrtCalibratorError('ERR_IO', `Could not read calibration cache ${file}: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
  return parseCache(bytes, { file });
}

/** Writes a cache atomically (temporary file + rename), so a failed write never leaves a truncated cache. */
export async function writeCache(file: string, cache: CalibrationCache): Promise<void> {
  await writeFileAtomic(file, formatCache(cache));
}

function checkName(name: unknown, option: string): void {
  if (typeof name !== 'string') throw invalidOption(option, 'a tensor name string', name, 'type');
  if (name.length === 0 || name.includes('\n'))
    throw invalidOption(option, 'a non-empty tensor name without line breaks', name, 'range');
}

/** A value quoted and cut for messages. */
export function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

function lineOfFirstInvalidUtf8(bytes: Uint8Array): number {
  // Find the first byte sequence TextDecoder refuses by decoding growing prefixes line by line.
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        utf8.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return line - 1;
}
