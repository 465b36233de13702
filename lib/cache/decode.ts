/**
 * Decoding a cache for people: per tensor the hex, the float32 scale and the dynamic range (scale × 127, the
 * amax TensorRT quantizes to ±127), plus counts of the scales that usually mean trouble.
 */
import { formatColumns } from '../util/columns';
import { formatTensorRTVersion } from './version';
import type { CacheAlgorithm, CalibrationCache } from './format';

/** Scales at or above this are counted as "huge" (e.g. `7c010204` = FLT_MAX / 127 from masked tensors). */
export const HUGE_SCALE = 1e30;

/** One decoded tensor. */
export interface DecodedTensor {
  /** Tensor name. */
  readonly name: string;
  /** Hex text as in the file. */
  readonly hex: string;
  /** Float32 scale. */
  readonly scale: number;
  /** Dynamic range (amax) = scale × 127, computed in double precision. */
  readonly dynamicRange: number;
}

/** Counts over a decoded cache. */
export interface DecodeSummary {
  /** Number of tensors. */
  readonly tensors: number;
  /** Tensors with a zero scale (constant-zero tensors; TensorRT writes `0`). */
  readonly zero: number;
  /** Tensors with an infinite scale (`7f800000`, e.g. MinMax over log(0)). */
  readonly inf: number;
  /** Tensors with a finite scale >= {@link HUGE_SCALE}. */
  readonly huge: number;
  /** Tensors whose hex is a NaN. */
  readonly nan: number;
  /** Tensors with a negative scale (never written by TensorRT). */
  readonly negative: number;
}

/** A decoded cache. */
export interface DecodedCache {
  /** TensorRT version as `'8.6.1'`. */
  readonly tensorrt: string;
  /** The header token, e.g. `'8601'`. */
  readonly header: string;
  /** Calibration algorithm. */
  readonly algorithm: CacheAlgorithm;
  /** Tensors in file order. */
  readonly tensors: readonly DecodedTensor[];
  /** Counts. */
  readonly summary: DecodeSummary;
}

/** Decodes every entry of a cache into scale and dynamic range, in file order, with a summary. */
export function decodeCache(cache: CalibrationCache): DecodedCache {
  const tensors = cache.entries.map((e) => ({ name: e.name, hex: e.hex, scale: e.scale, dynamicRange: e.scale * 127 }));
  const summary = { tensors: tensors.length, zero: 0, inf: 0, huge: 0, nan: 0, negative: 0 };
  for (const t of tensors) {
    if (t.scale === 0) summary.zero++;
    else if (Number.isNaN(t.scale)) summary.nan++;
    else if (!Number.isFinite(t.scale)) summary.inf++;
    else if (Math.abs(t.scale) >= HUGE_SCALE) summary.huge++;
    if (t.scale < 0) summary.negative++;
  }
  return {
    tensorrt: formatTensorRTVersion(cache.tensorrt),
    header: cache.tensorrt.raw,
    algorithm: cache.algorithm,
    tensors,
    summary,
  };
}

/** The summary as one line: `3 tensors: 1 zero scale, 0 inf, 1 huge (>= 1e30)` (NaN/negative only when present). */
export function formatDecodeSummary(s: DecodeSummary): string {
  let line = `${s.tensors} tensor${s.tensors === 1 ? '' : 's'}: ${s.zero} zero scale${s.zero === 1 ? '' : 's'}, ${s.inf} inf, ${s.huge} huge (>= 1e30)`;
  if (s.nan) line += `, ${s.nan} NaN`;
  if (s.negative) line += `, ${s.negative} negative`;
  return line;
}

/**
 * A number with `digits` significant digits like C's `%g` (trailing zeros dropped, exponent below 1e-4 and
 * from 1e`digits`); `inf`, `-inf`, `nan` for the others. Defaults to 6 digits.
 */
export function formatNumber(x: number, digits = 6): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(digits)))));
  if (exp < -4 || exp >= digits) {
    const [m, e] = x.toExponential(digits - 1).split('e');
    return `${trimZeros(m)}e${e[0] === '-' ? '-' : '+'}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return trimZeros(x.toFixed(Math.max(0, digits - 1 - exp)));
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * The shortest decimal that rounds back to the same float32 (`0.0078759375` → `0.007875938`), as a number, so
 * that JSON written from a cache reads back to the same bits. Non-finite values are returned unchanged.
 */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/**
 * The decode table for people: a header line, then one row per tensor (tensor, hex, scale, dynamic range; file
 * order, 6 significant digits), then the summary line.
 */
export function formatDecodeTable(decoded: DecodedCache): string {
  const rows = decoded.tensors.map((t) => [t.name, t.hex, formatNumber(t.scale), formatNumber(t.dynamicRange)]);
  const head = ['tensor', 'hex', 'scale', 'dynamic range'];
  return [
    `TRT-${decoded.header}-${decoded.algorithm} (TensorRT ${decoded.tensorrt}, ${decoded.algorithm})`,
    ...formatColumns([head, ...rows], ['left', 'left', 'left', 'left']),
    formatDecodeSummary(decoded.summary),
    '',
  ].join('\n');
}

/**
 * The decode table as CSV: `tensor,hex,scale,dynamic_range`, names quoted when needed, scale as the shortest
 * decimal of the float32, dynamic range in double precision, `inf`/`nan` for non-finite values.
 */
export function decodeToCsv(decoded: DecodedCache): string {
  const num = (x: number): string =>
    Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : String(x);
  const quote = (s: string): string => (/[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [
    'tensor,hex,scale,dynamic_range',
    ...decoded.tensors.map((t) => `${quote(t.name)},${t.hex},${num(shortestFloat32(t.scale))},${num(t.dynamicRange)}`),
  ];
  return `${lines.join('\n')}\n`;
}
