/**
 * Conversions between calibration caches and the forms people edit or feed elsewhere: JSON
 * (`{ tensorrt, algorithm, tensors: { name: { scale, amax, hex } } }`), dynamic-range lists for
 * `ITensor::setDynamicRange` users, and amax lists (JSON `{ name: amax }` or CSV `name,amax`) to a cache.
 */
import { invalidOption, TrtCalibratorError } from '../errors';
import {
  cacheFormatError,
  checkAlgorithm,
  createCache,
  hexToScale,
  isCacheAlgorithm,
  makeCacheEntry,
  show,
  CACHE_ALGORITHMS,
  type CacheAlgorithm,
  type CacheEntry,
  type CalibrationCache,
} from './format';
import { shortestFloat32 } from './decode';
import { OrderedObject, parseOrderedJson } from './json';
import { formatTensorRTVersion, parseTensorRTVersion, type TensorRTVersionLike } from './version';

/** A JSON number, or `"Infinity"`, `"-Infinity"`, `"NaN"` for the values JSON cannot hold. */
export type JsonNumber = number | 'Infinity' | '-Infinity' | 'NaN';

/** One tensor in {@link CacheJson}. */
export interface CacheJsonTensor {
  /** Float32 scale (shortest decimal that reads back to the same float32). */
  scale?: JsonNumber;
  /** Dynamic range = scale × 127 (9 significant digits; informative: `hex`, then `scale` win when present). */
  amax?: JsonNumber;
  /** The exact hex of the cache line (kept so cache → JSON → cache is byte-exact). */
  hex?: string;
}

/** The JSON form of a cache. */
export interface CacheJson {
  /** TensorRT version, `'8.6.1'`. May be absent in hand-written JSON (then a version must be given). */
  tensorrt?: string;
  /** Calibration algorithm. Defaults to `'EntropyCalibration2'` when reading. */
  algorithm?: string;
  /** Tensors by name, in cache order. */
  tensors: Record<string, CacheJsonTensor>;
  /** Only for caches not written the TensorRT way: `{ lineEnding: '\r\n', trailingNewline: false }`. */
  format?: {
    /** The cache's line ending. Defaults to LF. */
    lineEnding?: '\n' | '\r\n';
    /** Whether the last line ends with one. Defaults to true. */
    trailingNewline?: boolean;
  };
}

/** Number to JSON (non-finite as strings). */
export function toJsonNumber(x: number): JsonNumber {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return x;
}

/** JSON number (or `"Infinity"`, `"-Infinity"`, `"NaN"`) to a number, else undefined. */
export function fromJsonNumber(x: unknown): number | undefined {
  if (typeof x === 'number') return x;
  if (x === 'Infinity') return Infinity;
  if (x === '-Infinity') return -Infinity;
  if (x === 'NaN') return NaN;
  return undefined;
}

function amaxOf(scale: number): number {
  const amax = scale * 127;
  return Number.isFinite(amax) && amax !== 0 ? Number(amax.toPrecision(9)) : amax;
}

/** The JSON form of a cache (tensors in file order, with scale, amax and the exact hex). */
export function cacheToJson(cache: CalibrationCache): CacheJson {
  const tensors: Record<string, CacheJsonTensor> = {};
  for (const e of cache.entries)
    tensors[e.name] = {
      scale: toJsonNumber(shortestFloat32(e.scale)),
      amax: toJsonNumber(amaxOf(e.scale)),
      hex: e.hex,
    };
  const json: CacheJson = { tensorrt: formatTensorRTVersion(cache.tensorrt), algorithm: cache.algorithm, tensors };
  if (cache.lineEnding !== '\n' || !cache.trailingNewline)
    json.format = { lineEnding: cache.lineEnding, trailingNewline: cache.trailingNewline };
  return json;
}

/**
 * The JSON text of a cache, 2-space indented, tensors in file order. (Write this rather than
 * `JSON.stringify(cacheToJson(c))`'s object when names look like integers: JS objects enumerate those first.)
 */
export function cacheToJsonText(cache: CalibrationCache): string {
  const json = cacheToJson(cache);
  const head = { tensorrt: json.tensorrt, algorithm: json.algorithm };
  const lines = [`${JSON.stringify(head, null, 2).slice(0, -2)},`, '  "tensors": {'];
  cache.entries.forEach((e, i) => {
    lines.push(
      `    ${JSON.stringify(e.name)}: ${JSON.stringify(json.tensors[e.name])}${i < cache.entries.length - 1 ? ',' : ''}`,
    );
  });
  lines.push(json.format ? `  },\n  "format": ${JSON.stringify(json.format)}\n}` : '  }\n}');
  return `${lines.join('\n')}\n`;
}

/** Options of {@link cacheFromJson}. */
export interface CacheFromJsonOptions {
  /** TensorRT version for the header; required when the JSON has none. Defaults to the JSON's `tensorrt`. */
  tensorrt?: TensorRTVersionLike;
  /** Algorithm for the header. Defaults to the JSON's `algorithm`, else `'EntropyCalibration2'`. */
  algorithm?: CacheAlgorithm;
  /** Allow `tensorrt`/`algorithm` to replace different values in the JSON. Defaults to false. */
  force?: boolean;
  /** File named in errors. Defaults to none. */
  file?: string;
}

/**
 * A cache from its JSON form (text — keeps key order and finds duplicate names — or a parsed object). Per tensor
 * `hex` wins, else `scale`, else `amax` (scale = float32(amax / 127)); values given together must agree. A
 * `tensorrt` option that differs from the JSON's throws ERR_CACHE_VERSION (ERR_CACHE_ALGORITHM for the
 * algorithm) unless `force`. Malformed content throws ERR_CACHE_FORMAT with file and line.
 */
export function cacheFromJson(input: string | CacheJson, options: CacheFromJsonOptions = {}): CalibrationCache {
  const file = options.file;
  const doc = typeof input === 'string' ? parseOrderedJson(input, file) : toOrdered(input);
  const fail = (line: number | undefined, reason: string, extra: Record<string, unknown> = {}): TrtCalibratorError =>
    line === undefined
      ? new TrtCalibratorError(
          'ERR_CACHE_FORMAT',
          `Invalid cache JSON${file === undefined ? '' : ` ${file}`}: ${reason}`,
          {
            details: { ...(file === undefined ? {} : { file }), reason, ...extra },
          },
        )
      : cacheFormatError({ file, line }, reason, extra);
  if (!(doc instanceof OrderedObject)) throw fail(1, 'expected an object { "tensorrt", "algorithm", "tensors" }');
  lineOfKeys(doc, fail, ['tensorrt', 'algorithm', 'tensors', 'format']);

  let tensorrt = options.tensorrt === undefined ? undefined : parseTensorRTVersion(options.tensorrt);
  const jsonVersion = doc.get('tensorrt');
  if (jsonVersion !== undefined) {
    const line = doc.lines[doc.keys.indexOf('tensorrt')];
    if (typeof jsonVersion !== 'string')
      throw fail(line, `"tensorrt" must be a version string such as "8.6.1" but is ${JSON.stringify(jsonVersion)}`);
    let parsed;
    try {
      parsed = parseTensorRTVersion(jsonVersion);
    } catch {
      throw fail(line, `"tensorrt" ${show(jsonVersion)} is not a TensorRT version such as "8.6.1" or "10.3.0"`);
    }
    if (tensorrt && tensorrt.raw !== parsed.raw && !options.force) {
      throw new TrtCalibratorError(
        'ERR_CACHE_VERSION',
        `The JSON is for TensorRT ${formatTensorRTVersion(parsed)} but TensorRT ${formatTensorRTVersion(tensorrt)} was asked for; a cache is tied to its TensorRT version (force to rewrite the header anyway)`,
        {
          details: {
            ...(file === undefined ? {} : { file }),
            cacheVersion: formatTensorRTVersion(parsed),
            expectedVersion: formatTensorRTVersion(tensorrt),
          },
        },
      );
    }
    tensorrt ??= parsed;
  }
  if (!tensorrt)
    throw invalidOption(
      'tensorrt',
      'a TensorRT version such as "8.6.1" (the JSON has no "tensorrt")',
      options.tensorrt,
    );

  let algorithm = options.algorithm === undefined ? undefined : checkAlgorithm(options.algorithm);
  const jsonAlgorithm = doc.get('algorithm');
  if (jsonAlgorithm !== undefined) {
    const line = doc.lines[doc.keys.indexOf('algorithm')];
    if (!isCacheAlgorithm(jsonAlgorithm))
      throw fail(
        line,
        `unknown calibration algorithm ${JSON.stringify(jsonAlgorithm)} (known: ${CACHE_ALGORITHMS.join(', ')})`,
      );
    if (algorithm && algorithm !== jsonAlgorithm && !options.force) {
      throw new TrtCalibratorError(
        'ERR_CACHE_ALGORITHM',
        `The JSON is for ${jsonAlgorithm} but ${algorithm} was asked for (force to rewrite the header anyway)`,
        {
          details: {
            ...(file === undefined ? {} : { file }),
            cacheAlgorithm: jsonAlgorithm,
            expectedAlgorithm: algorithm,
          },
        },
      );
    }
    algorithm ??= jsonAlgorithm;
  }

  const tensors = doc.get('tensors');
  if (!(tensors instanceof OrderedObject))
    throw fail(
      doc.lines[doc.keys.indexOf('tensors')] ?? 1,
      '"tensors" must be an object { name: { scale, amax, hex } }',
    );
  const entries: CacheEntry[] = [];
  const seen = new Map<string, number | undefined>();
  tensors.keys.forEach((name, i) => {
    const line = tensors.lines[i];
    const t = tensors.values[i];
    if (seen.has(name))
      throw fail(
        line,
        `duplicate tensor name ${show(name)}${seen.get(name) ? ` (first on line ${seen.get(name)})` : ''}`,
        { tensor: name },
      );
    seen.set(name, line);
    if (name.length === 0 || name.includes('\n'))
      throw fail(line, `tensor name ${show(name)} is empty or has a line break`, { tensor: name });
    if (!(t instanceof OrderedObject))
      throw fail(line, `tensor ${show(name)} must be an object { "scale", "amax", "hex" }`, { tensor: name });
    entries.push(entryFromJson(name, t, line, fail));
  });

  const format = doc.get('format');
  let lineEnding: '\n' | '\r\n' = '\n';
  let trailingNewline = true;
  if (format !== undefined) {
    const line = doc.lines[doc.keys.indexOf('format')];
    const le = format instanceof OrderedObject ? format.get('lineEnding') : undefined;
    const tn = format instanceof OrderedObject ? format.get('trailingNewline') : undefined;
    if (
      !(format instanceof OrderedObject) ||
      (le !== undefined && le !== '\n' && le !== '\r\n') ||
      (tn !== undefined && typeof tn !== 'boolean')
    ) {
      throw fail(line, '"format" must be { "lineEnding": "\\n" | "\\r\\n", "trailingNewline": boolean }');
    }
    lineEnding = (le as '\n' | '\r\n' | undefined) ?? '\n';
    trailingNewline = (tn as boolean | undefined) ?? true;
  }
  return createCache(entries, { tensorrt, algorithm: algorithm ?? 'EntropyCalibration2', lineEnding, trailingNewline });
}

type Fail = (line: number | undefined, reason: string, extra?: Record<string, unknown>) => TrtCalibratorError;

function lineOfKeys(doc: OrderedObject, fail: Fail, known: readonly string[]): void {
  doc.keys.forEach((k, i) => {
    if (!known.includes(k))
      throw fail(doc.lines[i], `unknown key ${show(k)} (expected ${known.map((x) => `"${x}"`).join(', ')})`);
    if (doc.keys.indexOf(k) !== i) throw fail(doc.lines[i], `duplicate key ${show(k)}`);
  });
}

function entryFromJson(name: string, t: OrderedObject, line: number | undefined, fail: Fail): CacheEntry {
  t.keys.forEach((k, i) => {
    if (k !== 'scale' && k !== 'amax' && k !== 'hex')
      throw fail(t.lines[i] ?? line, `tensor ${show(name)}: unknown key ${show(k)} (expected "scale", "amax", "hex")`, {
        tensor: name,
      });
  });
  const hexValue = t.get('hex');
  const scaleValue = t.get('scale');
  const amaxValue = t.get('amax');
  const scale = scaleValue === undefined ? undefined : fromJsonNumber(scaleValue);
  const amax = amaxValue === undefined ? undefined : fromJsonNumber(amaxValue);
  if (scaleValue !== undefined && scale === undefined)
    throw fail(line, `tensor ${show(name)}: "scale" must be a number but is ${JSON.stringify(scaleValue)}`, {
      tensor: name,
    });
  if (amaxValue !== undefined && amax === undefined)
    throw fail(line, `tensor ${show(name)}: "amax" must be a number but is ${JSON.stringify(amaxValue)}`, {
      tensor: name,
    });
  let entry: CacheEntry;
  if (hexValue !== undefined) {
    if (typeof hexValue !== 'string' || !/^[0-9a-fA-F]{1,8}$/.test(hexValue)) {
      throw fail(
        line,
        `tensor ${show(name)}: "hex" must be 1 to 8 hexadecimal digits but is ${JSON.stringify(hexValue)}`,
        { tensor: name },
      );
    }
    entry = { name, hex: hexValue, scale: hexToScale(hexValue) };
    if (scale !== undefined && !sameFloat32(Math.fround(scale), entry.scale)) {
      throw fail(
        line,
        `tensor ${show(name)}: "hex" ${hexValue} is scale ${entry.scale} but "scale" is ${scale}; change or remove one`,
        { tensor: name },
      );
    }
  } else if (scale !== undefined) {
    entry = makeCacheEntry(name, scale);
  } else if (amax !== undefined) {
    entry = makeCacheEntry(name, scaleFromAmax(amax));
  } else {
    throw fail(line, `tensor ${show(name)} has none of "hex", "scale", "amax"`, { tensor: name });
  }
  if (amax !== undefined && (hexValue !== undefined || scale !== undefined) && !amaxAgrees(entry.scale, amax)) {
    throw fail(
      line,
      `tensor ${show(name)}: "amax" ${amax} does not match scale ${entry.scale} × 127 = ${entry.scale * 127}; change or remove one`,
      { tensor: name },
    );
  }
  return entry;
}

function sameFloat32(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || (a === 0 && b === 0);
}

function amaxAgrees(scale: number, amax: number): boolean {
  const want = scale * 127;
  if (sameFloat32(want, amax)) return true;
  return Number.isFinite(want) && Math.abs(want - amax) <= 1e-6 * Math.abs(want);
}

function toOrdered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toOrdered);
  if (value === null || typeof value !== 'object') return value;
  const obj = new OrderedObject();
  for (const [k, v] of Object.entries(value)) {
    obj.keys.push(k);
    obj.values.push(toOrdered(v));
  }
  return obj;
}

/**
 * The scale TensorRT derives from a dynamic range: amax / 127 rounded once to float32 (for a float32 amax this is
 * exactly TensorRT's float division). Throws ERR_INVALID_OPTION for NaN or negative amax; Infinity gives an
 * infinite scale (`7f800000`), as real caches have.
 */
export function scaleFromAmax(amax: number, option = 'amax'): number {
  if (typeof amax !== 'number') throw invalidOption(option, 'a number >= 0', amax, 'type');
  if (!(amax >= 0)) throw invalidOption(option, 'a number >= 0', amax, 'range');
  return Math.fround(amax / 127);
}

/** A tensor's dynamic range for `ITensor::setDynamicRange(-amax, amax)`. */
export interface DynamicRange {
  /** Tensor name. */
  readonly name: string;
  /** Dynamic range = scale × 127. */
  readonly amax: number;
}

/** The cache as a list of dynamic ranges (name, amax = scale × 127), in file order. */
export function toDynamicRanges(cache: CalibrationCache): DynamicRange[] {
  return cache.entries.map((e) => ({ name: e.name, amax: e.scale * 127 }));
}

/** Amax values by tensor name: an object, a Map, [name, amax] pairs or { name, amax } items. */
export type AmaxInput =
  | Readonly<Record<string, number>>
  | ReadonlyMap<string, number>
  | Iterable<readonly [string, number]>
  | Iterable<DynamicRange>;

/** Options of {@link cacheFromAmax}. */
export interface CacheFromAmaxOptions {
  /** TensorRT version of the header (`'8.6.1'`, `'10.3.0'`). Required. */
  tensorrt: TensorRTVersionLike;
  /** Algorithm of the header. Defaults to `'EntropyCalibration2'`. */
  algorithm?: CacheAlgorithm;
}

/**
 * A cache for a chosen TensorRT version from amax (dynamic range) values: scale = float32(amax / 127), hex of its
 * bits as TensorRT writes it. Order is kept. Throws ERR_INVALID_OPTION for bad amax values and ERR_CACHE_FORMAT
 * for duplicate names.
 */
export function cacheFromAmax(amax: AmaxInput, options: CacheFromAmaxOptions): CalibrationCache {
  if (options === null || typeof options !== 'object')
    throw invalidOption('options', 'an object with tensorrt', options);
  const pairs: [string, number][] = [];
  if (amax instanceof Map) {
    for (const [k, v] of amax) pairs.push([k, v]);
  } else if (amax !== null && typeof amax === 'object' && Symbol.iterator in amax) {
    for (const item of amax as Iterable<unknown>) {
      if (Array.isArray(item)) pairs.push([item[0] as string, item[1] as number]);
      else if (item !== null && typeof item === 'object')
        pairs.push([(item as DynamicRange).name, (item as DynamicRange).amax]);
      else throw invalidOption('amax', '[name, amax] pairs or { name, amax } items', item);
    }
  } else if (amax !== null && typeof amax === 'object') {
    for (const [k, v] of Object.entries(amax)) pairs.push([k, v as number]);
  } else {
    throw invalidOption('amax', 'an object, Map or list of amax values', amax);
  }
  const entries = pairs.map(([name, a]) => makeCacheEntry(name, scaleFromAmax(a, `amax[${JSON.stringify(name)}]`)));
  return createCache(entries, { tensorrt: options.tensorrt, algorithm: options.algorithm ?? 'EntropyCalibration2' });
}

/**
 * Parses an amax list file: JSON `{ "name": amax, … }` (order kept) or CSV lines `name,amax` (an optional header
 * `tensor,amax` or `name,amax`; names with commas or quotes in double quotes, as RFC 4180; otherwise split at
 * the last comma). Throws ERR_CACHE_FORMAT with file and line.
 */
export function parseAmaxList(text: string, file?: string): DynamicRange[] {
  const trimmed = text.replace(/^\uFEFF/, '');
  const out: DynamicRange[] = [];
  const seen = new Map<string, number>();
  const add = (name: string, amax: number, line: number): void => {
    if (seen.has(name))
      throw cacheFormatError({ file, line }, `duplicate tensor name ${show(name)} (first on line ${seen.get(name)})`, {
        tensor: name,
      });
    if (name.length === 0) throw cacheFormatError({ file, line }, 'empty tensor name');
    if (!(amax >= 0))
      throw cacheFormatError({ file, line }, `amax of ${show(name)} must be a number >= 0 but is ${amax}`, {
        tensor: name,
      });
    seen.set(name, line);
    out.push({ name, amax });
  };
  if (/^\s*\{/.test(trimmed)) {
    const doc = parseOrderedJson(trimmed, file);
    if (!(doc instanceof OrderedObject))
      throw cacheFormatError({ file, line: 1 }, 'expected a JSON object { "name": amax }');
    doc.keys.forEach((name, i) => {
      const amax = fromJsonNumber(doc.values[i]);
      if (amax === undefined)
        throw cacheFormatError(
          { file, line: doc.lines[i] },
          `amax of ${show(name)} must be a number but is ${JSON.stringify(doc.values[i])}`,
          { tensor: name },
        );
      add(name, amax, doc.lines[i]);
    });
    return out;
  }
  const lines = trimmed.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const n = i + 1;
    if (line.trim() === '') return;
    if (i === 0 && /^"?(tensor|name)"?\s*,\s*"?(amax|dynamic_?range)"?$/i.test(line)) return;
    let name: string;
    let rest: string;
    if (line.startsWith('"')) {
      const m = /^"((?:[^"]|"")*)",(.*)$/.exec(line);
      if (!m) throw cacheFormatError({ file, line: n }, `expected "name",amax but found ${show(line)}`);
      name = m[1].replace(/""/g, '"');
      rest = m[2];
    } else {
      const comma = line.lastIndexOf(',');
      if (comma < 0) throw cacheFormatError({ file, line: n }, `expected name,amax but found ${show(line)}`);
      name = line.slice(0, comma);
      rest = line.slice(comma + 1);
    }
    const value = rest.trim();
    const amax = /^(inf|infinity)$/i.test(value)
      ? Infinity
      : /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value)
        ? Number(value)
        : NaN;
    if (Number.isNaN(amax))
      throw cacheFormatError({ file, line: n }, `amax of ${show(name)} must be a number but is ${show(value)}`, {
        tensor: name,
      });
    add(name, amax, n);
  });
  if (out.length === 0) throw cacheFormatError({ file, line: 1 }, 'no name,amax lines');
  return out;
}

/** CSV `tensor,amax` lines of a cache's dynamic ranges (names quoted when needed), readable by {@link parseAmaxList}. */
export function dynamicRangesToCsv(ranges: readonly DynamicRange[]): string {
  return `tensor,amax\n${ranges.map((r) => `${csvField(r.name)},${r.amax === Infinity ? 'inf' : String(r.amax)}`).join('\n')}\n`;
}

/** A CSV field, quoted when it holds a comma, quote, line break or leading/trailing space. */
export function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
