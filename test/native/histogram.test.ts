/**
 * Native histograms and thresholds against plain, slow reference implementations written here from
 * the README's "Calibration algorithms" (entropy, percentile, mse) and direct sorts of the data. The references read the SAME bin counts the native set holds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HistogramSet, formatCacheText, amaxUsable } from '../../lib/histogram';
import type { DerivedTensor } from '../../lib/backends/builtin/derived';
import { scaleToHex } from '../../lib/cache/format';
import { isTrtCalibratorError } from '../../lib/errors';
import { referenceEntropyBin } from '../helpers/reference-entropy';
import { seededRandom } from '../../lib/util/random';

// Math's methods (and Infinity) through local names: a global lookup inside jest's VM context costs ~0.4 µs, which
// makes the O(nbins^2) references below take seconds instead of milliseconds.
const { floor, log, min, max, abs, sqrt, cos, PI } = Math;

// ---- seeded data ----
const rng = seededRandom;
function gaussian(random: () => number): () => number {
  return () => {
    const u = 1 - random();
    const v = random();
    return sqrt(-2 * log(u)) * cos(2 * PI * v);
  };
}
function batch(n: number, f: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

// ---- references (straightforward loops, no cleverness) ----

/** Smallest k >= 1 with sum(counts[0..k-1]) >= percentile/100 * total. */
function referencePercentileBin(counts: Float64Array, percentile: number): number {
  let total = 0;
  for (const c of counts) total += c;
  const target = (percentile / 100) * total;
  let cumulative = 0;
  for (let k = 0; k < counts.length; k++) {
    cumulative += counts[k];
    if (cumulative >= target) return k + 1;
  }
  return counts.length;
}

/** Brute-force INT8 error for amax = k * width over bin centres; q = round-half-even(c / step), at most 127. */
function referenceMseError(counts: Float64Array, width: number, k: number): number {
  const step = (k * width) / 127;
  let err = 0;
  for (let j = 0; j < counts.length; j++) {
    if (counts[j] === 0) continue;
    const c = (j + 0.5) * width;
    // c / step = (2j + 1) * 127 / (2k) exactly: round half to even in integers.
    const num = (2 * j + 1) * 127;
    const den = 2 * k;
    let q = floor(num / den);
    const rem = num - q * den;
    if (2 * rem > den || (2 * rem === den && q % 2 === 1)) q += 1;
    q = min(q, 127);
    const d = q * step - c;
    err += counts[j] * d * d;
  }
  return err;
}

function absMaxOf(...batches: Float32Array[]): number {
  let m = 0;
  for (const b of batches) for (const v of b) if (Number.isFinite(v)) m = max(m, abs(v));
  return m;
}

// ---- distributions ----
interface Case {
  name: string;
  batches: Float32Array[];
}
function cases(): Case[] {
  const g = gaussian(rng(1));
  const u = rng(2);
  const h = gaussian(rng(3));
  const r = gaussian(rng(4));
  const m = gaussian(rng(5));
  const px = rng(6);
  return [
    { name: 'gaussian', batches: [0, 1, 2, 3].map(() => batch(20000, g)) },
    {
      name: "relu'd gaussian (zero spike)",
      batches: [0, 1, 2].map(() => batch(20000, () => Math.max(0, r() * 0.8 + 0.1))),
    },
    {
      name: 'heavy tail (student-t like)',
      batches: [0, 1, 2].map(() => batch(20000, () => h() / Math.sqrt(Math.max(1e-3, -Math.log(1 - u()) * 0.5)))),
    },
    { name: 'uniform', batches: [0, 1].map(() => batch(30000, () => u() * 4 - 2)) },
    {
      name: 'multi-batch growth (extends bins)',
      batches: [0, 1, 2, 3].map((k) => batch(15000, () => m() * (1 + 0.5 * k))),
    },
    {
      name: 'normalized 8-bit pixels (sparse bins)',
      batches: [0, 1].map(() => batch(30000, () => (Math.floor(px() * 256) / 255 - 0.485) / 0.229)),
    },
  ];
}

describe('native histograms', () => {
  const all = cases();
  const set = new HistogramSet();
  for (const c of all) for (const b of c.batches) set.add(c.name, b);

  it('extends the histogram at the same width when a later batch has a larger max', () => {
    const grown = set.stats('multi-batch growth (extends bins)');
    const first = all[4].batches[0];
    expect(grown.binWidth).toBe(absMaxOf(first) / 2048);
    expect(grown.nbins).toBe(Math.ceil(grown.absMax / grown.binWidth));
    expect(grown.nbins).toBeGreaterThan(2048);
  });

  it.each(all.map((c) => [c.name, c] as const))(
    'entropy amax equals the plain reference implementation: %s',
    (_, c) => {
      const counts = set.counts(c.name);
      const stats = set.stats(c.name);
      const result = set.computeAmax(c.name, 'entropy');
      expect(result.status).toBe('ok');
      const ref = referenceEntropyBin(counts);
      expect(result.bin).toBe(ref);
      expect(result.amax).toBe(ref * stats.binWidth);
    },
  );

  it.each(all.map((c) => [c.name, c] as const))('minmax amax equals the true max|x|: %s', (_, c) => {
    expect(set.computeAmax(c.name, 'minmax')).toEqual({ status: 'ok', amax: absMaxOf(...c.batches), bin: -1 });
  });

  it.each(all.map((c) => [c.name, c] as const))('percentile brackets the sorted |x| at that rank: %s', (_, c) => {
    const stats = set.stats(c.name);
    const sorted = Float64Array.from(c.batches.flatMap((b) => Array.from(b, Math.abs))).sort();
    for (const percentile of [99.99, 99.9, 50]) {
      const result = set.computeAmax(c.name, 'percentile', { percentile });
      expect(result.bin).toBe(referencePercentileBin(set.counts(c.name), percentile));
      const t = sorted[Math.ceil((percentile / 100) * sorted.length) - 1];
      const slack = stats.binWidth * 1e-5;
      expect(t).toBeLessThanOrEqual(result.amax + slack);
      expect(t).toBeGreaterThanOrEqual(result.amax - stats.binWidth - slack);
    }
  });

  it.each(all.map((c) => [c.name, c] as const))('mse amax is the brute-force minimum: %s', (_, c) => {
    const counts = set.counts(c.name);
    const { binWidth } = set.stats(c.name);
    let best = Infinity;
    let bestK = -1;
    for (let k = 1; k <= counts.length; k++) {
      const e = referenceMseError(counts, binWidth, k);
      if (e < best) {
        best = e;
        bestK = k;
      }
    }
    const result = set.computeAmax(c.name, 'mse');
    expect(result.status).toBe('ok');
    const chosen = referenceMseError(counts, binWidth, result.bin);
    expect(chosen).toBeLessThanOrEqual(best * (1 + 1e-9));
    expect(Math.abs(result.bin - bestK)).toBeLessThanOrEqual(counts.length / 100);
    expect(result.amax).toBe(result.bin * binWidth);
  });

  it('computes every tensor off the JS thread with computeAll', async () => {
    const results = await set.computeAll('entropy');
    expect(results.map((r) => r.name)).toEqual(set.names());
    for (const r of results) expect(r).toEqual({ name: r.name, ...set.computeAmax(r.name, 'entropy') });
  });

  it('addAll (tensors in parallel) builds exactly the histograms of one add per tensor, in the given order', () => {
    const random = rng(77);
    const g = gaussian(random);
    const batches = [0, 1, 2].map((k) => ({
      a: batch(5000, () => g() * (k + 1)),
      b: batch(300, () => random() * 4),
      c: batch(20000, () => max(0, g())),
    }));
    const one = new HistogramSet();
    const all = new HistogramSet();
    for (const x of batches) {
      for (const name of ['a', 'b', 'c'] as const) one.add(name, x[name]);
      all.addAll(['a', 'b', 'c'], [x.a, x.b, x.c]);
    }
    expect(all.names()).toEqual(['a', 'b', 'c']);
    expect(Buffer.from(all.serialize())).toEqual(Buffer.from(one.serialize()));
    expect(() => all.addAll(['a'], [])).toThrow(RangeError);
    expect(() => all.addAll(['a'], [new Float64Array(3) as unknown as Float32Array])).toThrow(TypeError);
  });

  it('merging two shards with a shared bin width equals one pass over both', () => {
    const c = all[4]; // grows: the second shard's max is larger than the first's
    const one = new HistogramSet();
    for (const b of c.batches) one.add('t', b);
    const a = new HistogramSet();
    a.add('t', c.batches[0]);
    a.add('t', c.batches[1]);
    const b = new HistogramSet();
    b.setBinWidth('t', a.stats('t').binWidth);
    b.add('t', c.batches[2]);
    b.add('t', c.batches[3]);
    a.merge(b);
    expect(a.stats('t')).toEqual(one.stats('t'));
    expect(a.counts('t')).toEqual(one.counts('t'));
    for (const algorithm of ['entropy', 'minmax', 'percentile', 'mse'] as const) {
      expect(a.computeAmax('t', algorithm)).toEqual(one.computeAmax('t', algorithm));
    }
  });

  it.each([1000, 1900])(
    'entropy keeps the LAST of tied minima when the bins above the data are empty (fixed width, data up to bin %i)',
    (top) => {
      // A width fixed before the data (the shard workflow's setBinWidth) leaves the bins above the data empty.
      // Nonzero bins 20 apart each sit alone in their level, so every candidate above `top` has KL exactly 0
      // (Q = P); the last of them is 2048, as the plain reference (and TensorRT's rule) says.
      const d = new HistogramSet();
      d.setBinWidth('t', 1 / 2048);
      const values: number[] = [];
      for (let j = 20, k = 1; j <= top; j += 20, k++)
        for (let r = 0; r < (k % 7) + 1; r++) values.push((j + 0.5) / 2048);
      d.add('t', Float32Array.from(values));
      const counts = d.counts('t');
      expect(counts.length).toBe(2048);
      let lastNonZero = -1;
      counts.forEach((c, j) => (lastNonZero = c > 0 ? j : lastNonZero));
      expect(lastNonZero).toBe(top);
      expect(referenceEntropyBin(counts)).toBe(2048);
      expect(d.computeAmax('t', 'entropy')).toEqual({ status: 'ok', amax: 1, bin: 2048 });
    },
  );

  it('merging a histogram that holds only zeros adds them to bin 0, either way round', () => {
    const withData = new HistogramSet();
    withData.add('t', Float32Array.of(1, 0.5, 0.25, 0));
    const zeros = new HistogramSet();
    zeros.add('t', new Float32Array(9));
    expect(zeros.stats('t')).toMatchObject({ binWidth: 0, pendingZeros: 9 });
    const expected = withData.counts('t');
    expected[0] += 9;
    const a = new HistogramSet(withData.serialize());
    a.merge(zeros);
    expect(a.counts('t')).toEqual(expected);
    expect(a.stats('t')).toMatchObject({ count: 13, pendingZeros: 0, binWidth: 1 / 2048 });
    const b = new HistogramSet(zeros.serialize());
    b.merge(withData);
    expect(b.counts('t')).toEqual(expected);
    expect(b.stats('t')).toMatchObject({ count: 13, pendingZeros: 0, binWidth: 1 / 2048 });
  });

  it('rejects merging histograms of unrelated bin widths and leaves the target unchanged', () => {
    const a = new HistogramSet();
    a.add('t', Float32Array.of(1, 0.5, 0.25));
    const b = new HistogramSet();
    b.add('t', Float32Array.of(3, 0.5));
    const before = a.counts('t');
    expect(() => a.merge(b)).toThrow(
      expect.objectContaining({ code: 'ERR_HISTOGRAM', message: expect.stringContaining('"t"') }),
    );
    expect(a.counts('t')).toEqual(before);
  });

  it('merges histograms whose widths differ by a power of two by coarsening the finer one', () => {
    const a = new HistogramSet();
    a.add('t', Float32Array.of(1, 0.5, 0.25));
    const b = new HistogramSet();
    b.add('t', Float32Array.of(4, 0.5));
    a.merge(b);
    const s = a.stats('t');
    expect(s.binWidth).toBe(4 / 2048);
    expect(s.count).toBe(5);
    expect(a.counts('t').reduce((x, y) => x + y, 0)).toBe(5);
  });

  it('round-trips through serialize, save and load', async () => {
    const copy = new HistogramSet(set.serialize());
    expect(copy.names()).toEqual(set.names());
    for (const name of set.names()) {
      expect(copy.stats(name)).toEqual(set.stats(name));
      expect(copy.counts(name)).toEqual(set.counts(name));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-hist-'));
    try {
      const shardA = path.join(dir, 'a.hist');
      const shardB = path.join(dir, 'b.hist');
      const a = new HistogramSet();
      a.add('x', all[0].batches[0]);
      await a.save(shardA);
      const b = new HistogramSet();
      b.setBinWidth('x', a.stats('x').binWidth);
      b.add('x', all[0].batches[1]);
      await b.save(shardB);
      const merged = await HistogramSet.loadAll([shardA, shardB]);
      const one = new HistogramSet();
      one.add('x', all[0].batches[0]);
      one.add('x', all[0].batches[1]);
      expect(merged.counts('x')).toEqual(one.counts('x'));
      await expect(HistogramSet.load(path.join(dir, 'missing.hist'))).rejects.toMatchObject({ code: 'ERR_IO' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed histogram bytes', () => {
    const bytes = set.serialize();
    const bad = (b: Uint8Array) => () => new HistogramSet(b);
    expect(bad(bytes.subarray(0, bytes.length - 3))).toThrow(expect.objectContaining({ code: 'ERR_HISTOGRAM' }));
    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[0] ^= 0xff;
    expect(bad(wrongMagic)).toThrow(/bad magic/);
    // Flip a low byte inside the first histogram's first count: the counts no longer add up.
    const tampered = Uint8Array.from(bytes);
    const firstName = set.names()[0];
    const histStart = 16 + 4 + Buffer.byteLength(firstName) + 8;
    tampered[histStart + 80] ^= 0x01;
    expect(bad(tampered)).toThrow(/do not add up/);
    expect(() => new HistogramSet('x' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });

  it('reports degenerate tensors with a status instead of a 0 or NaN amax', () => {
    const d = new HistogramSet();
    d.add('zeros', new Float32Array(1000));
    d.add('constant', new Float32Array(1000).fill(-3.5));
    d.add('nan-inf', Float32Array.of(NaN, Infinity, -Infinity, NaN));
    d.add('empty', new Float32Array(0));
    for (const algorithm of ['entropy', 'minmax', 'percentile', 'mse'] as const) {
      expect(d.computeAmax('zeros', algorithm)).toEqual({ status: 'all-zero', amax: 0, bin: -1 });
      expect(d.computeAmax('constant', algorithm)).toEqual({ status: 'constant', amax: 3.5, bin: -1 });
      expect(d.computeAmax('nan-inf', algorithm)).toEqual({ status: 'not-finite', amax: 0, bin: -1 });
      expect(d.computeAmax('empty', algorithm)).toEqual({ status: 'empty', amax: 0, bin: -1 });
    }
    expect(amaxUsable('constant')).toBe(true);
    expect(amaxUsable('all-zero')).toBe(false);
    expect(d.stats('nan-inf')).toMatchObject({
      count: 4,
      nanCount: 2,
      posInfCount: 1,
      negInfCount: 1,
      finiteCount: 0,
      nbins: 0,
    });
  });

  it('bins every value at min(floor(|x| * fround(1 / width)), last bin), as a per-value reference does', () => {
    // Batches large enough for the vectorized counting loop, with odd lengths (scalar tails), exact zeros, a
    // NaN, values on bin edges and a later batch that extends the bins.
    const g = gaussian(rng(31));
    const batches = [
      batch(40001, () => max(0, g())),
      batch(30003, () => g() * 1.5),
      Float32Array.from({ length: 20005 }, (_, i) => (i % 7 === 0 ? 0 : i === 11 ? NaN : g() * 3)),
      batch(9, () => g()),
    ];
    const d = new HistogramSet();
    let width = 0;
    let reference: number[] = [];
    for (const b of batches) {
      d.add('t', b);
      const absMax = absMaxOf(b);
      if (width === 0) {
        width = absMax / 2048;
        reference = new Array<number>(2048).fill(0);
      }
      const nbins = max(reference.length, Math.ceil(absMax / width));
      while (reference.length < nbins) reference.push(0);
      const inv = Math.fround(1 / width);
      const last = nbins - 1;
      for (const v of b) {
        if (!Number.isFinite(v)) continue;
        const x = Math.fround(abs(v) * inv);
        reference[x >= last ? last : floor(x)] += 1;
      }
    }
    expect(d.stats('t').binWidth).toBe(width);
    expect(d.stats('t').nbins).toBeGreaterThan(2048);
    expect(Array.from(d.counts('t'))).toEqual(reference);
  });

  it('counts NaN/Inf without binning them and keeps min/max over finite values', () => {
    const d = new HistogramSet();
    d.add('t', Float32Array.of(NaN, -2, Infinity, 1, 0, -Infinity, 0.5));
    expect(d.stats('t')).toMatchObject({
      count: 7,
      finiteCount: 4,
      nanCount: 1,
      posInfCount: 1,
      negInfCount: 1,
      min: -2,
      max: 1,
      absMax: 2,
    });
    expect(d.counts('t').reduce((x, y) => x + y, 0)).toBe(4);
    expect(d.computeAmax('t', 'minmax').amax).toBe(2);
  });

  it('keeps zeros seen before the first nonzero value and puts them in bin 0', () => {
    const d = new HistogramSet();
    d.add('t', new Float32Array(500));
    expect(d.stats('t')).toMatchObject({ binWidth: 0, nbins: 0, pendingZeros: 500 });
    d.add('t', Float32Array.of(1, 0, 0.5));
    const s = d.stats('t');
    expect(s).toMatchObject({ binWidth: 1 / 2048, nbins: 2048, pendingZeros: 0, count: 503 });
    const counts = d.counts('t');
    expect(counts[0]).toBe(501);
    expect(counts[1024]).toBe(1);
    expect(counts[2047]).toBe(1);
  });

  it('coarsens by powers of two instead of growing past 65536 bins', () => {
    const d = new HistogramSet();
    d.add('t', Float32Array.of(1, 0.5));
    d.add('t', Float32Array.of(100, 3));
    const s = d.stats('t');
    expect(s.nbins).toBeLessThanOrEqual(65536);
    expect(s.binWidth).toBe((1 / 2048) * 4);
    expect(s.nbins).toBe(Math.ceil(100 / s.binWidth));
    expect(d.counts('t').reduce((x, y) => x + y, 0)).toBe(4);
    expect(d.computeAmax('t', 'entropy').status).toBe('ok');
  });

  it('validates arguments with the house messages', () => {
    expect(() => set.computeAmax(all[0].name, 'kl' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', name: 'RangeError' }),
    );
    expect(() => set.computeAmax(all[0].name, 'percentile', { percentile: 0 })).toThrow(RangeError);
    expect(() => set.computeAmax(all[0].name, 'percentile', { percentil: 99 } as never)).toThrow(
      /did you mean "percentile"/,
    );
    expect(() => set.add('t', [1, 2] as never)).toThrow(/Expected a Float32Array for data/);
    expect(() => set.stats('nope')).toThrow(expect.objectContaining({ code: 'ERR_HISTOGRAM' }));
    let thrown: unknown;
    try {
      set.stats('nope');
    } catch (err) {
      thrown = err;
    }
    expect(isTrtCalibratorError(thrown, 'ERR_HISTOGRAM')).toBe(true);
  });
});

describe('native cache text', () => {
  it('writes the header and lines byte-exact, with unpadded lowercase hex of amax / 127', () => {
    const scale = new DataView(Uint32Array.of(0x3c010a14).buffer).getFloat32(0, true);
    const text = formatCacheText('8601', 'EntropyCalibration2', [
      { name: 'input', amax: scale * 127 },
      { name: '(Unnamed Layer* 22) [Constant]_output', amax: 0 },
      { name: 'a: b/c', amax: 1 },
      { name: 'tiny', amax: 1e-40 * 127 },
    ]);
    expect(text).toBe(
      'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n(Unnamed Layer* 22) [Constant]_output: 0\n' +
        `a: b/c: ${scaleToHex(Math.fround(1 / 127))}\ntiny: ${scaleToHex(Math.fround(1e-40))}\n`,
    );
    expect(text).toMatch(/\ntiny: [1-9a-f][0-9a-f]{0,6}\n/); // a denormal: no zero padding
  });

  it('matches the TypeScript cache toolkit for many amax values', () => {
    const random = rng(9);
    const entries = Array.from({ length: 500 }, (_, i) => ({
      name: `t${i}`,
      amax: random() * 10 ** (random() * 8 - 4),
    }));
    const lines = formatCacheText('100300', 'MinMaxCalibration', entries).split('\n');
    expect(lines[0]).toBe('TRT-100300-MinMaxCalibration');
    entries.forEach((e, i) => expect(lines[i + 1]).toBe(`${e.name}: ${scaleToHex(Math.fround(e.amax / 127))}`));
  });

  it('refuses NaN, negative or infinite amax and names with line breaks', () => {
    expect(() => formatCacheText('8601', 'EntropyCalibration2', [{ name: 'x', amax: NaN }])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => formatCacheText('8601', 'EntropyCalibration2', [{ name: 'x', amax: -1 }])).toThrow(RangeError);
    expect(() => formatCacheText('8601', 'EntropyCalibration2', [{ name: 'x', amax: Infinity }])).toThrow(RangeError);
    expect(() => formatCacheText('8601', 'EntropyCalibration2', [{ name: 'a\nb', amax: 1 }])).toThrow(RangeError);
    expect(() => formatCacheText('86-01', 'EntropyCalibration2', [])).toThrow(RangeError);
  });
});

describe('HistogramSet.addAll with a plan', () => {
  it('rejects a malformed or inconsistent plan with ERR_INVALID_OPTION naming the item', () => {
    const set = new HistogramSet();
    const data = [new Float32Array([1, 2, 3])];
    const bad: Array<[unknown, RegExp]> = [
      [[{ name: 'y', root: 'r', op: 'Mul', inputs: ['r', 2] }], /root "r" is not a fetched tensor listed before it/],
      [['r', { name: 'y', root: 'r', op: 'Pow', inputs: ['r', 2] }], /unsupported op "Pow"/],
      [['r', { name: 'y', root: 'r', op: 'Mul', inputs: ['r'] }], /Mul takes 2 inputs, got 1/],
      [
        ['r', { name: 'y', root: 'r', op: 'Mul', inputs: ['z', 2] }],
        /input "z" is neither its root "r" nor a tensor derived from it before/,
      ],
      [['r', { name: 'y', root: 'r', op: 'Clip', inputs: ['r', 'r', 6] }], /Clip bounds must be constants/],
      [['r', { name: 'y', root: 'r', op: 'Add', inputs: [1, 2] }], /every input is a constant/],
      [['r', 'r'], /tensor "r" is listed twice/],
      [
        ['r', { name: 'y', root: 'r', op: 'Add', inputs: ['r', {}] }],
        /item 1 has an input that is neither a name nor a number/,
      ],
      [['r', { root: 'r', op: 'Add', inputs: ['r', 1] }], /item 1 needs a string name/],
      [['r', 7], /item 1 is neither a name nor a derived tensor/],
    ];
    for (const [plan, message] of bad) {
      expect(() => set.addAll(['r'], data, plan as string[])).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(message) }),
      );
    }
    expect(() => set.addAll(['r'], data, 'r' as unknown as string[])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() =>
      set.addAll(['r', 'y'], [data[0], data[0]], ['r', { name: 'y', root: 'r', op: 'Relu', inputs: ['r'] }]),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/tensor "y" is derived by the plan/),
      }),
    );
    expect(set.names()).toEqual([]); // nothing added by a rejected call
    set.addAll(['r'], data, ['r', { name: 'y', root: 'r', op: 'Sub', inputs: [10, 'r'] }]);
    expect(set.names()).toEqual(['r', 'y']);
    expect(set.stats('y')).toMatchObject({ min: 7, max: 9, count: 3 });
  });

  it('derives tensors exactly as float32 steps computed here, in the plan order, across chunks', () => {
    // 10,000 values: chunks of 4096 plus a tail; special values spread through them
    const r = new Float32Array(10000);
    const rand = seededRandom(21);
    for (let i = 0; i < r.length; i++) r[i] = (rand() - 0.5) * 20;
    [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-45].forEach((v, i) => (r[i * 1237] = v));
    const f = Math.fround;
    const m = r.map((x) => f(x * f(0.3)));
    const c = m.map((x) => (x < 0 ? 0 : x > 6 ? 6 : x)); // NaN stays NaN, -0 stays -0
    const q = r.map((x, i) => f(x / f(c[i] + 1)));
    const plan: Array<string | DerivedTensor> = [
      'r',
      { name: 'm', root: 'r', op: 'Mul', inputs: ['r', f(0.3)] },
      { name: 'c', root: 'r', op: 'Clip', inputs: ['m', 0, 6] },
      { name: 'c1', root: 'r', op: 'Add', inputs: ['c', 1] },
      { name: 'q', root: 'r', op: 'Div', inputs: ['r', 'c1'] },
      'other',
    ];
    const viaPlan = new HistogramSet();
    viaPlan.addAll(['other', 'r'], [new Float32Array([1, 2]), r], plan);
    const direct = new HistogramSet();
    direct.add('r', r);
    direct.add('m', m);
    direct.add('c', c);
    direct.add(
      'c1',
      c.map((x) => f(x + 1)),
    );
    direct.add('q', q);
    direct.add('other', new Float32Array([1, 2]));
    expect(viaPlan.names()).toEqual(['r', 'm', 'c', 'c1', 'q', 'other']);
    for (const name of direct.names()) {
      expect({ name, stats: viaPlan.stats(name), counts: Array.from(viaPlan.counts(name)) }).toEqual({
        name,
        stats: direct.stats(name),
        counts: Array.from(direct.counts(name)),
      });
    }
    expect(direct.stats('q').nanCount).toBeGreaterThan(0);
  });
});
