/**
 * Batches given in parts through the JS HistogramSet (beginBatch / endPass / abandonBatch, as the ONNX Runtime
 * worker drives them): any cut of a batch gives byte for byte the set of one add per tensor of the whole batch,
 * derived tensors included; continued histograms need the bin count with the width; the guards of an open batch
 * and the argument checks.
 */
import { HistogramSet } from '../../lib/histogram';
import type { DerivedTensor } from '../../lib/backends/builtin/derived';
import { seededRandom } from '../../lib/util/random';

function values(n: number, scale: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() - 0.5) * scale;
  return out;
}

/** `data` cut at the given offsets. */
function cut(data: Float32Array, at: readonly number[]): Float32Array[] {
  const points = [0, ...at, data.length];
  return points.slice(1).map((end, i) => data.subarray(points[i], end));
}

const bytes = (set: HistogramSet) => Buffer.from(set.serialize());

describe('HistogramSet: one batch in parts', () => {
  it('gives the set of whole-batch adds for any cut, with the widths from the first batch over all its parts', () => {
    const random = seededRandom(5);
    // Scales that grow, shrink and grow past 32x (coarsening); values snapped to a coarse grid so that many sit
    // on bin edges.
    const batches = [1, 40, 3, 200, 7000].map((scale) =>
      values(3000, scale, random).map((v) => Math.round((v / scale) * 64) * (scale / 64)),
    );
    const whole = new HistogramSet();
    for (const b of batches) whole.add('t', b);
    for (const cuts of [[1], [1500], [10, 20, 2999], [0, 0, 3000]]) {
      const parts = new HistogramSet();
      const passes: number[] = [];
      for (const b of batches) {
        parts.beginBatch(['t']);
        let n = 0;
        do {
          n++;
          for (const p of cut(b, cuts)) parts.add('t', p);
        } while (parts.endPass());
        passes.push(n);
        // The first batch's max over all its parts (the later growth past 32x then doubles it 8 times).
        if (b === batches[0]) expect(parts.stats('t').binWidth).toBe(Math.max(...batches[0].map(Math.abs)) / 2048);
      }
      expect({ cuts, passes }).toEqual({ cuts, passes: [2, 1, 1, 1, 1] });
      expect(parts.stats('t').binWidth).toBe((Math.max(...batches[0].map(Math.abs)) / 2048) * 256);
      expect(bytes(parts).equals(bytes(whole))).toBe(true);
    }
  });

  it('with addAll and a derivation plan, as the worker adds each run', () => {
    const random = seededRandom(9);
    const plan: Array<string | DerivedTensor> = [
      'r',
      { name: 'r6', root: 'r', op: 'Clip', inputs: ['r', 0, 6] },
      { name: 'half', root: 'r', op: 'Mul', inputs: ['r6', 0.5] },
      'q',
    ];
    const names = ['r', 'r6', 'half', 'q'];
    const batches = [0, 1, 2].map(() => [values(4000, 20, random), values(4000, 3, random)]);
    const whole = new HistogramSet();
    for (const [r, q] of batches) whole.addAll(['r', 'q'], [r, q], plan);
    const parts = new HistogramSet();
    for (const [r, q] of batches) {
      expect(parts.beginBatch(names)).toBe(batches[0][0] === r); // only the first batch finds tensors without a width
      do {
        for (const [a, b] of [
          [0, 1000],
          [1000, 1001],
          [1001, 4000],
        ])
          parts.addAll(['r', 'q'], [r.subarray(a, b), q.subarray(a, b)], plan);
      } while (parts.endPass());
    }
    expect(parts.names()).toEqual(names);
    expect(bytes(parts).equals(bytes(whole))).toBe(true);
  });

  it('continues a set only with its bin counts as well as its widths: a top-edge value lands where the set puts it', () => {
    const base = new HistogramSet();
    base.add('t', new Float32Array([2048])); // width 1
    base.add('t', new Float32Array([2999.5])); // 3000 bins
    const next = new Float32Array([2500, 1, 2]); // 2500 is its own top edge
    const direct = new HistogramSet(base.serialize());
    direct.add('t', next);
    const shard = new HistogramSet();
    shard.setBinWidth('t', base.stats('t').binWidth, base.stats('t').nbins);
    shard.add('t', next);
    const merged = new HistogramSet(base.serialize());
    merged.merge(shard);
    expect(bytes(merged).equals(bytes(direct))).toBe(true);
    const narrow = new HistogramSet();
    narrow.setBinWidth('t', 1);
    narrow.add('t', next);
    expect(narrow.counts('t')[2499]).toBe(1);
    expect(direct.counts('t')[2500]).toBe(1);
  });

  it('refuses serialize, merge, setBinWidth and a second beginBatch while a batch is open; abandonBatch closes it', () => {
    const set = new HistogramSet();
    set.add('t', new Float32Array([1, -2]));
    set.beginBatch(['t']);
    set.add('t', new Float32Array([3]));
    for (const f of [
      () => set.serialize(),
      () => set.merge(new HistogramSet()),
      () => set.setBinWidth('u', 1),
      () => set.beginBatch(['t']),
    ])
      expect(f).toThrow(expect.objectContaining({ code: 'ERR_HISTOGRAM' }));
    set.abandonBatch();
    expect(set.stats('t').count).toBe(3);
    expect(set.serialize().length).toBeGreaterThan(0);
    expect(set.endPass()).toBe(false);
  });

  it('validates beginBatch names and setBinWidth bins with the house messages', () => {
    const set = new HistogramSet();
    expect(() => set.beginBatch('t' as unknown as string[])).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION', option: 'names' }),
    );
    expect(() => set.beginBatch(['t', 3 as unknown as string])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', option: 'names' }),
    );
    expect(() => set.setBinWidth('t', 1, '2048' as unknown as number)).toThrow(
      expect.objectContaining({ name: 'TypeError', option: 'bins' }),
    );
    for (const bins of [0, 1.5, 65537, NaN])
      expect(() => set.setBinWidth('t', 1, bins)).toThrow(
        expect.objectContaining({ name: 'RangeError', option: 'bins' }),
      );
    set.setBinWidth('t', 1, 65536);
    expect(set.stats('t').nbins).toBe(65536);
  });
});
