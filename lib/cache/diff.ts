/** Comparing two calibration caches tensor by tensor. */
import { invalidOption } from '../errors';
import type { CalibrationCache } from './format';
import { formatTensorRTVersion } from './version';

/** One tensor present in both caches. */
export interface ScaleChange {
  /** Tensor name. */
  readonly name: string;
  /** Scale in the first cache. */
  readonly a: number;
  /** Scale in the second cache. */
  readonly b: number;
  /**
   * (b − a) / |a|; 0 when the bits are equal; ±Infinity when a is 0, inf or NaN and b differs (NaN against
   * anything else counts as +Infinity).
   */
  readonly relative: number;
}

/** The difference of two caches. */
export interface CacheDiff {
  /** TensorRT versions (`'8.6.1'`) of the two headers. */
  readonly tensorrt: readonly [string, string];
  /** Algorithms of the two headers. */
  readonly algorithm: readonly [string, string];
  /** True when version or algorithm differ. */
  readonly headerDiffers: boolean;
  /** Tensors only in the first cache, in its order. */
  readonly onlyInA: readonly string[];
  /** Tensors only in the second cache, in its order. */
  readonly onlyInB: readonly string[];
  /** Tensors in both, sorted by |relative| (largest first; ties in the first cache's order). */
  readonly changes: readonly ScaleChange[];
}

/** Relative change of scale from `a` to `b` (see {@link ScaleChange.relative}). */
export function relativeChange(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || (a === 0 && b === 0)) return 0;
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  if (a === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return b > a ? Infinity : -Infinity;
  return (b - a) / Math.abs(a);
}

/** Compares two caches: header, tensors only in one, and per-tensor relative change of scale. */
export function diffCaches(a: CalibrationCache, b: CalibrationCache): CacheDiff {
  const inB = new Map(b.entries.map((e) => [e.name, e]));
  const inA = new Set(a.entries.map((e) => e.name));
  const changes: (ScaleChange & { order: number })[] = [];
  const onlyInA: string[] = [];
  a.entries.forEach((e, order) => {
    const other = inB.get(e.name);
    if (!other) onlyInA.push(e.name);
    else
      changes.push({ name: e.name, a: e.scale, b: other.scale, relative: relativeChange(e.scale, other.scale), order });
  });
  changes.sort((x, y) => Math.abs(y.relative) - Math.abs(x.relative) || x.order - y.order);
  const va = formatTensorRTVersion(a.tensorrt);
  const vb = formatTensorRTVersion(b.tensorrt);
  return {
    tensorrt: [va, vb],
    algorithm: [a.algorithm, b.algorithm],
    headerDiffers: va !== vb || a.algorithm !== b.algorithm,
    onlyInA,
    onlyInB: b.entries.filter((e) => !inA.has(e.name)).map((e) => e.name),
    changes: changes.map(({ name, a: sa, b: sb, relative }) => ({ name, a: sa, b: sb, relative })),
  };
}

/**
 * True when the caches differ beyond `tolerance` (a relative change of scale; defaults to 0: any difference):
 * a header difference, a tensor in only one, or |relative| > tolerance for some tensor.
 */
export function cachesDiffer(diff: CacheDiff, tolerance = 0): boolean {
  if (typeof tolerance !== 'number' || !(tolerance >= 0))
    throw invalidOption('tolerance', 'a number >= 0', tolerance, typeof tolerance === 'number' ? 'range' : 'type');
  return (
    diff.headerDiffers ||
    diff.onlyInA.length > 0 ||
    diff.onlyInB.length > 0 ||
    diff.changes.some((c) => Math.abs(c.relative) > tolerance)
  );
}
