import {
  cacheFromAmax,
  cacheFromJson,
  cachesDiffer,
  cacheToJson,
  cacheToJsonText,
  checkCacheCompatibility,
  decodeCache,
  diffCaches,
  dynamicRangesToCsv,
  formatCache,
  formatDecodeSummary,
  formatNumber,
  parseAmaxList,
  parseCache,
  relativeChange,
  shortestFloat32,
  toDynamicRanges,
} from '../../lib/cache';
import { TrtCalibratorError } from '../../lib/errors';

const EXCERPT =
  'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n/model.0/conv/Conv_output_0: 3e6e18b7\n(Unnamed Layer* 22) [Constant]_output: 3a4b050c\n';
const SPECIAL = 'TRT-100300-MinMaxCalibration\n2: 3c010a14\n1: 0\nlog: 7f800000\nmask: 7c010204\n';

describe('checkCacheCompatibility', () => {
  const cache = parseCache(EXCERPT);

  it('accepts the same major.minor whatever the patch, and the same algorithm', () => {
    expect(checkCacheCompatibility(cache, { tensorrt: '8.6' })).toEqual({ compatible: true, warnings: [] });
    expect(checkCacheCompatibility(cache, { tensorrt: '8.6.3', algorithm: 'EntropyCalibration2' })).toEqual({
      compatible: true,
      warnings: [],
    });
  });

  it('rejects a cache written by another TensorRT version, naming both', () => {
    expect(() => checkCacheCompatibility(cache, { tensorrt: '10.3' })).toThrow(TrtCalibratorError);
    expect(() => checkCacheCompatibility(cache, { tensorrt: '10.3.0' })).toThrow(
      expect.objectContaining({
        code: 'ERR_CACHE_VERSION',
        details: { cacheVersion: '8.6.1', expectedVersion: '10.3' },
        message: expect.stringMatching(/TensorRT 8\.6\.1 \(header TRT-8601\) but TensorRT 10\.3 will read it/),
      }),
    );
  });

  it('rejects a cache written by another algorithm, naming both', () => {
    expect(() => checkCacheCompatibility(cache, { tensorrt: '8.6', algorithm: 'MinMaxCalibration' })).toThrow(
      expect.objectContaining({
        code: 'ERR_CACHE_ALGORITHM',
        message: expect.stringMatching(/written by EntropyCalibration2 but the calibrator is MinMaxCalibration/),
      }),
    );
  });

  it('force returns warnings instead of throwing', () => {
    const r = checkCacheCompatibility(cache, { tensorrt: '10.3', algorithm: 'MinMaxCalibration', force: true });
    expect(r.compatible).toBe(false);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[0]).toMatch(/^ERR_CACHE_VERSION: .*\(forced\)$/);
    expect(r.warnings[1]).toMatch(/^ERR_CACHE_ALGORITHM: /);
  });

  it('validates its options', () => {
    expect(() => checkCacheCompatibility(cache, { tensorrt: '8.x' })).toThrow(RangeError);
    expect(() => checkCacheCompatibility(cache, { tensorrt: '8.6', algorithm: 'Entropy' as never })).toThrow(
      /one of EntropyCalibration2, EntropyCalibration, MinMaxCalibration, LegacyCalibration/,
    );
    expect(() => checkCacheCompatibility(cache, { tensorrt: '8.6', froce: true } as never)).toThrow(
      /did you mean "force"/,
    );
    expect(() => checkCacheCompatibility(cache, { tensorrt: '8.6', force: 'yes' as never })).toThrow(TypeError);
  });
});

describe('decode helpers', () => {
  it('counts zero, inf and huge scales', () => {
    const d = decodeCache(parseCache(SPECIAL));
    expect(d.summary).toEqual({ tensors: 4, zero: 1, inf: 1, huge: 1, nan: 0, negative: 0 });
    expect(formatDecodeSummary(d.summary)).toBe('4 tensors: 1 zero scale, 1 inf, 1 huge (>= 1e30)');
    expect(d.tensors.map((t) => t.name)).toEqual(['2', '1', 'log', 'mask']);
  });

  it('formats numbers like %g', () => {
    expect(formatNumber(0.007875937968492508)).toBe('0.00787594');
    expect(formatNumber(1.0002441219985485)).toBe('1.00024');
    expect(formatNumber(2.6793887059314005e36)).toBe('2.67939e+36');
    expect(formatNumber(0.000774458)).toBe('0.000774458');
    expect(formatNumber(0.0000123)).toBe('1.23e-05');
    expect(formatNumber(100)).toBe('100');
    expect(formatNumber(Infinity)).toBe('inf');
    expect(formatNumber(NaN)).toBe('nan');
    expect(shortestFloat32(0.007875937968492508)).toBe(0.007875938);
  });
});

describe('JSON conversion', () => {
  it('writes { tensorrt, algorithm, tensors: { name: { scale, amax, hex } } }', () => {
    const json = cacheToJson(parseCache(SPECIAL));
    expect(json).toEqual({
      tensorrt: '10.3.0',
      algorithm: 'MinMaxCalibration',
      tensors: {
        '2': { scale: 0.007875938, amax: 1.00024412, hex: '3c010a14' },
        '1': { scale: 0, amax: 0, hex: '0' },
        log: { scale: 'Infinity', amax: 'Infinity', hex: '7f800000' },
        mask: { scale: 2.6793887e36, amax: 3.40282366e38, hex: '7c010204' },
      },
    });
  });

  it('round-trips cache -> JSON text -> cache byte-exact, keeping integer-like names in file order', () => {
    for (const text of [EXCERPT, SPECIAL, 'TRT-8601-EntropyCalibration2\r\na: 0', 'TRT-8601-LegacyCalibration\n']) {
      expect(formatCache(cacheFromJson(cacheToJsonText(parseCache(text))))).toBe(text);
    }
    // A parsed object loses that order (JS enumerates integer-like keys first) but keeps the values.
    const fromObject = cacheFromJson(cacheToJson(parseCache(SPECIAL)));
    expect(fromObject.entries.map((e) => e.name)).toEqual(['1', '2', 'log', 'mask']);
  });

  it('computes hex from scale, or from amax, when hex is absent', () => {
    const cache = cacheFromJson(
      '{ "tensorrt": "8.6.1", "tensors": { "a": { "scale": 0.007875938 }, "b": { "amax": 1.00024412 }, "c": { "amax": "Infinity" } } }',
    );
    expect(cache.algorithm).toBe('EntropyCalibration2');
    expect(cache.entries.map((e) => e.hex)).toEqual(['3c010a14', '3c010a14', '7f800000']);
  });

  it('needs a TensorRT version from the JSON or the options, and refuses a different one without force', () => {
    const json = '{ "tensors": { "a": { "scale": 0.5 } } }';
    expect(() => cacheFromJson(json)).toThrow(/the JSON has no "tensorrt"/);
    expect(formatCache(cacheFromJson(json, { tensorrt: '10.3.0' }))).toBe(
      'TRT-100300-EntropyCalibration2\na: 3f000000\n',
    );
    const withVersion =
      '{ "tensorrt": "8.6.1", "algorithm": "MinMaxCalibration", "tensors": { "a": { "scale": 0.5 } } }';
    expect(() => cacheFromJson(withVersion, { tensorrt: '10.3.0' })).toThrow(
      expect.objectContaining({ code: 'ERR_CACHE_VERSION' }),
    );
    expect(() => cacheFromJson(withVersion, { algorithm: 'EntropyCalibration2' })).toThrow(
      expect.objectContaining({ code: 'ERR_CACHE_ALGORITHM' }),
    );
    expect(cacheFromJson(withVersion, { tensorrt: '10.3.0', force: true }).tensorrt.raw).toBe('100300');
  });

  it('refuses malformed JSON with file and line', () => {
    const cases: [string, RegExp, number | undefined][] = [
      [
        '{ "tensorrt": "8.6.1", "tensors": {\n "a": { "scale": 0.5 },\n "a": { "scale": 0.25 } } }',
        /duplicate tensor name "a" \(first on line 2\)/,
        3,
      ],
      [
        '{ "tensorrt": "8.6.1", "tensors": {\n "a": { "hex": "3c010a14", "scale": 0.5 } } }',
        /"hex" 3c010a14 is scale .* but "scale" is 0.5/,
        2,
      ],
      ['{ "tensorrt": "8.6.1", "tensors": {\n "a": { "scale": 0.5, "amax": 1 } } }', /"amax" 1 does not match/, 2],
      ['{ "tensorrt": "8.6.1", "tensors": {\n "a": { "hex": "xyz" } } }', /1 to 8 hexadecimal digits/, 2],
      ['{ "tensorrt": "8.6.1", "tensors": {\n "a": { "scale": "big" } } }', /"scale" must be a number/, 2],
      ['{ "tensorrt": "8.6.1", "tensors": {\n "a": {} } }', /none of "hex", "scale", "amax"/, 2],
      ['{ "tensorrt": "8.6.1", "tensor": {} }', /unknown key "tensor"/, 1],
      ['{ "tensorrt": "8.60.1", "tensors": {} }', /not a TensorRT version/, 1],
      [
        '{ "tensorrt": "8.6.1",\n  "algorithm": "Entropy", "tensors": {} }',
        /unknown calibration algorithm "Entropy"/,
        2,
      ],
      ['[]', /expected an object/, 1],
    ];
    for (const [text, reason, line] of cases) {
      let err: unknown;
      try {
        cacheFromJson(text, { file: 'x.json' });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'ERR_CACHE_FORMAT', details: { file: 'x.json', line } });
      expect((err as Error).message).toMatch(reason);
      expect((err as Error).message).toContain(`x.json line ${line}`);
    }
    expect(() => cacheFromJson('{ "tensors": ', { file: 'x.json' })).toThrow(
      expect.objectContaining({ code: 'ERR_CACHE_FORMAT', message: expect.stringContaining('Invalid JSON in x.json') }),
    );
  });
});

describe('dynamic ranges and amax lists', () => {
  it('lists name and amax = scale x 127 in file order', () => {
    const ranges = toDynamicRanges(parseCache(EXCERPT));
    expect(ranges.map((r) => r.name)).toEqual([
      'input',
      '/model.0/conv/Conv_output_0',
      '(Unnamed Layer* 22) [Constant]_output',
    ]);
    expect(ranges[0].amax.toPrecision(6)).toBe('1.00024');
  });

  it('builds a cache from amax values for a chosen TensorRT version: scale = float32(amax / 127)', () => {
    const cache = cacheFromAmax(
      { input: 1.0002441219985485, zeros: 0, log: Infinity, mask: 3.4028234663852886e38 },
      { tensorrt: '10.3.0' },
    );
    expect(formatCache(cache)).toBe(
      'TRT-100300-EntropyCalibration2\ninput: 3c010a14\nzeros: 0\nlog: 7f800000\nmask: 7c010204\n',
    );
    expect(formatCache(cacheFromAmax([['a', 127]], { tensorrt: '8.6.1', algorithm: 'MinMaxCalibration' }))).toBe(
      'TRT-8601-MinMaxCalibration\na: 3f800000\n',
    );
    expect(formatCache(cacheFromAmax(new Map([['a', 127]]), { tensorrt: '8.6' }))).toBe(
      'TRT-8600-EntropyCalibration2\na: 3f800000\n',
    );
    expect(() => cacheFromAmax({ a: -1 }, { tensorrt: '8.6.1' })).toThrow(
      /Expected a number >= 0 for amax\["a"\] but received -1/,
    );
    expect(() => cacheFromAmax({ a: NaN }, { tensorrt: '8.6.1' })).toThrow(RangeError);
    expect(() =>
      cacheFromAmax(
        [
          { name: 'a', amax: 1 },
          { name: 'a', amax: 2 },
        ],
        { tensorrt: '8.6.1' },
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_CACHE_FORMAT' }));
  });

  it('cache -> ranges CSV -> cache reproduces every hex', () => {
    const cache = parseCache(SPECIAL);
    const csv = dynamicRangesToCsv(toDynamicRanges(cache));
    expect(csv.split('\n')[0]).toBe('tensor,amax');
    expect(formatCache(cacheFromAmax(parseAmaxList(csv), { tensorrt: '10.3.0', algorithm: 'MinMaxCalibration' }))).toBe(
      SPECIAL,
    );
  });

  it('reads JSON { name: amax } in order and CSV with quoted names', () => {
    expect(parseAmaxList('{ "b": 2, "1": 1 }')).toEqual([
      { name: 'b', amax: 2 },
      { name: '1', amax: 1 },
    ]);
    expect(parseAmaxList('name,amax\r\n"a, ""b""",1.5\r\nx,y,2e-3\r\n')).toEqual([
      { name: 'a, "b"', amax: 1.5 },
      { name: 'x,y', amax: 0.002 },
    ]);
    expect(() => parseAmaxList('a,1\nb,foo\n', 'r.csv')).toThrow(
      expect.objectContaining({
        code: 'ERR_CACHE_FORMAT',
        details: expect.objectContaining({ file: 'r.csv', line: 2 }),
      }),
    );
    expect(() => parseAmaxList('a,1\na,2\n')).toThrow(/duplicate tensor name "a" \(first on line 1\)/);
    expect(() => parseAmaxList('{ "a": -1 }')).toThrow(/must be a number >= 0/);
    expect(() => parseAmaxList('')).toThrow(/no name,amax lines/);
  });
});

describe('diffCaches', () => {
  const a = parseCache('TRT-8601-EntropyCalibration2\nx: 3f800000\ny: 40000000\nz: 0\nonlyA: 0\n');
  const b = parseCache('TRT-8601-EntropyCalibration2\nx: 3f800000\ny: 40200000\nz: 3f800000\nonlyB: 0\n');

  it('lists tensors only in one and relative changes sorted by size', () => {
    const d = diffCaches(a, b);
    expect(d.onlyInA).toEqual(['onlyA']);
    expect(d.onlyInB).toEqual(['onlyB']);
    expect(d.changes.map((c) => [c.name, c.relative])).toEqual([
      ['z', Infinity],
      ['y', 0.25],
      ['x', 0],
    ]);
    expect(d.headerDiffers).toBe(false);
    expect(cachesDiffer(d)).toBe(true);
  });

  it('uses the tolerance on relative change', () => {
    const c = parseCache('TRT-8601-EntropyCalibration2\nx: 3f800000\ny: 40000000\n');
    const d = parseCache('TRT-8601-EntropyCalibration2\nx: 3f810000\ny: 40000000\n');
    const diff = diffCaches(c, d);
    expect(diff.changes[0].relative).toBeCloseTo(0.0078125, 9);
    expect(cachesDiffer(diff, 0)).toBe(true);
    expect(cachesDiffer(diff, 0.01)).toBe(false);
    expect(cachesDiffer(diffCaches(c, c))).toBe(false);
    expect(
      cachesDiffer(diffCaches(c, parseCache('TRT-100300-EntropyCalibration2\nx: 3f800000\ny: 40000000\n')), 1),
    ).toBe(true);
    expect(() => cachesDiffer(diff, -1)).toThrow(RangeError);
  });

  it('defines relative change for zero, inf and NaN', () => {
    expect(relativeChange(0, 0)).toBe(0);
    expect(relativeChange(Infinity, Infinity)).toBe(0);
    expect(relativeChange(NaN, NaN)).toBe(0);
    expect(relativeChange(NaN, 1)).toBe(Infinity);
    expect(relativeChange(1, 0)).toBe(-1);
    expect(relativeChange(Infinity, 1)).toBe(-Infinity);
  });
});
