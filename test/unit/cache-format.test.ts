import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CACHE_ALGORITHMS,
  createCache,
  decodeCache,
  decodeTensorRTVersion,
  encodeTensorRTVersion,
  formatCache,
  formatNumber,
  hexToScale,
  makeCacheEntry,
  parseCache,
  parseTensorRTVersion,
  readCache,
  scaleToHex,
  writeCache,
} from '../../lib/cache';
import { TrtCalibratorError } from '../../lib/errors';

/** The excerpt of a real TensorRT 8.6.1 cache shown in the README ("Calibration cache tools"). */
const EXCERPT =
  'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n/model.0/conv/Conv_output_0: 3e6e18b7\n(Unnamed Layer* 22) [Constant]_output: 3a4b050c\n';

function formatError(fn: () => unknown): TrtCalibratorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrtCalibratorError);
    expect((err as TrtCalibratorError).code).toBe('ERR_CACHE_FORMAT');
    return err as TrtCalibratorError;
  }
  throw new Error('expected ERR_CACHE_FORMAT');
}

describe('TensorRT version tokens', () => {
  it.each([
    ['8601', 8, 6, 1],
    ['8205', 8, 2, 5],
    ['7103', 7, 1, 3],
    ['9300', 9, 3, 0],
    ['100300', 10, 3, 0],
    ['100801', 10, 8, 1],
    ['101300', 10, 13, 0],
  ])('decodes %s as %i.%i.%i and encodes it back', (token, major, minor, patch) => {
    expect(decodeTensorRTVersion(token)).toEqual({ major, minor, patch, raw: token });
    expect(encodeTensorRTVersion(`${major}.${minor}.${patch}`)).toBe(token);
    expect(encodeTensorRTVersion({ major, minor, patch })).toBe(token);
  });

  it('takes "10.3" as 10.3.0 and header tokens as versions', () => {
    expect(parseTensorRTVersion('10.3')).toEqual({ major: 10, minor: 3, patch: 0, raw: '100300' });
    expect(parseTensorRTVersion('8601')).toEqual({ major: 8, minor: 6, patch: 1, raw: '8601' });
  });

  it.each(['86010', '861', '0861', '1003000', 'abcd', ''])('refuses the token %j', (token) => {
    expect(decodeTensorRTVersion(token)).toBeUndefined();
  });

  it('refuses versions with no encoding, as ERR_INVALID_OPTION RangeError', () => {
    for (const v of ['8.10.0', '0.1.0', '100.0.0', '8.6.100', 'eight']) {
      expect(() => parseTensorRTVersion(v)).toThrow(RangeError);
      expect(() => parseTensorRTVersion(v)).toThrow(/Expected a TensorRT version .* for tensorrt but received/);
    }
    expect(() => parseTensorRTVersion(8.6 as unknown as string)).toThrow(TypeError);
  });
});

describe('parseCache / formatCache', () => {
  it('decodes the real excerpt: 3c010a14 -> 0.0078759 -> 1.00024', () => {
    const cache = parseCache(EXCERPT);
    expect(cache.tensorrt).toEqual({ major: 8, minor: 6, patch: 1, raw: '8601' });
    expect(cache.algorithm).toBe('EntropyCalibration2');
    expect(cache.entries.map((e) => e.name)).toEqual([
      'input',
      '/model.0/conv/Conv_output_0',
      '(Unnamed Layer* 22) [Constant]_output',
    ]);
    const [input] = decodeCache(cache).tensors;
    expect(input.hex).toBe('3c010a14');
    expect(input.scale.toPrecision(5)).toBe('0.0078759');
    expect(input.dynamicRange.toPrecision(6)).toBe('1.00024');
    expect(formatNumber(input.dynamicRange)).toBe('1.00024');
    expect(formatCache(cache)).toBe(EXCERPT);
  });

  it('reads the special values of real files: 0, inf and FLT_MAX/127', () => {
    const cache = parseCache('TRT-8601-MinMaxCalibration\nconst: 0\nlog: 7f800000\nmask: 7c010204\n');
    expect(cache.entries.map((e) => e.scale)).toEqual([0, Infinity, Math.fround(3.4028234663852886e38 / 127)]);
    expect(cache.entries[2].scale * 127).toBeCloseTo(3.4028234663852886e38, -32);
    expect(decodeCache(cache).summary).toEqual({ tensors: 3, zero: 1, inf: 1, huge: 1, nan: 0, negative: 0 });
  });

  it('writes hex as TensorRT does (std::hex of the bits, no zero padding)', () => {
    expect(scaleToHex(0)).toBe('0');
    expect(scaleToHex(hexToScale('3c010a14'))).toBe('3c010a14');
    expect(scaleToHex(Infinity)).toBe('7f800000');
    expect(scaleToHex(Math.fround(3.4028234663852886e38 / 127))).toBe('7c010204');
    expect(scaleToHex(1e-40)).toBe('116c2'); // a subnormal: fewer than 8 digits
    expect(hexToScale('116c2')).toBe(Math.fround(1e-40));
    expect(makeCacheEntry('x', 1.00024 / 127)).toEqual({
      name: 'x',
      hex: scaleToHex(1.00024 / 127),
      scale: Math.fround(1.00024 / 127),
    });
  });

  it('splits at the last ": " so names keep colons, spaces, parentheses and slashes', () => {
    const text =
      'TRT-100300-EntropyCalibration2\nblock: 1/attn: q (proj): x: 3e6e18b7\n: : 0\n(Unnamed Layer* 4) [Fully Connected]_output: 3a4b050c\n';
    const cache = parseCache(text);
    expect(cache.tensorrt).toEqual({ major: 10, minor: 3, patch: 0, raw: '100300' });
    expect(cache.entries.map((e) => e.name)).toEqual([
      'block: 1/attn: q (proj): x',
      ': ',
      '(Unnamed Layer* 4) [Fully Connected]_output',
    ]);
    expect(formatCache(cache)).toBe(text);
  });

  it.each([
    ['LF with trailing newline', 'TRT-8601-EntropyCalibration2\na: 3c010a14\nb: 0\n'],
    ['LF without trailing newline', 'TRT-8601-EntropyCalibration2\na: 3c010a14\nb: 0'],
    ['CRLF', 'TRT-8601-EntropyCalibration2\r\na: 3c010a14\r\nb: 0\r\n'],
    ['CRLF without trailing newline', 'TRT-8601-EntropyCalibration2\r\na: 3c010a14\r\nb: 0'],
    ['mixed line endings', 'TRT-8601-EntropyCalibration2\r\na: 3c010a14\nb: 0\r\n'],
    ['header only', 'TRT-8601-LegacyCalibration\n'],
    ['header only, no newline', 'TRT-8601-EntropyCalibration'],
    ['uppercase and padded hex kept as written', 'TRT-8601-EntropyCalibration2\na: 3C010A14\nb: 00000000\n'],
  ])('round-trips byte-exact: %s', (_what, text) => {
    const bytes = Buffer.from(text);
    const cache = parseCache(bytes);
    expect(Buffer.from(formatCache(cache)).equals(bytes)).toBe(true);
    expect(parseCache(formatCache(cache))).toEqual(cache);
  });

  it('knows the four algorithms', () => {
    for (const a of CACHE_ALGORITHMS) expect(parseCache(`TRT-8601-${a}\n`).algorithm).toBe(a);
  });

  it('names line and reason for bad input, never returning a partial cache', () => {
    const cases: [string, number, RegExp][] = [
      ['', 1, /empty/],
      ['input: 3c010a14\n', 1, /expected a "TRT-<version>-<Algorithm>" header/],
      ['\uFEFFTRT-8601-EntropyCalibration2\n', 1, /byte order mark/],
      ['TRT-86010-EntropyCalibration2\n', 1, /not a TensorRT version token/],
      [
        'TRT-8601-Entropy\n',
        1,
        /unknown calibration algorithm "Entropy" \(known: EntropyCalibration2, EntropyCalibration, MinMaxCalibration, LegacyCalibration\)/,
      ],
      ['TRT-8601-EntropyCalibration2\na: 3c010a14\nb 3c010a14\n', 3, /expected "<tensor name>: <hex>"/],
      ['TRT-8601-EntropyCalibration2\na: 3c010a1g\n', 2, /hexadecimal/],
      ['TRT-8601-EntropyCalibration2\na: 3c010a140\n', 2, /hexadecimal/],
      ['TRT-8601-EntropyCalibration2\na: \n', 2, /hexadecimal/],
      ['TRT-8601-EntropyCalibration2\na: 3c010a14 \n', 2, /hexadecimal/],
      ['TRT-8601-EntropyCalibration2\n: 3c010a14\n', 2, /empty tensor name/],
      ['TRT-8601-EntropyCalibration2\na: 1\n\nb: 2\n', 3, /empty line/],
      ['TRT-8601-EntropyCalibration2\na: 1\n\n', 3, /empty line/],
      ['TRT-8601-EntropyCalibration2\na: 1\nb: 2\na: 3\n', 4, /duplicate tensor name "a" \(first on line 2\)/],
      ['TRT-8601-EntropyCalibration2\na: 1\r', 2, /hexadecimal/],
    ];
    for (const [text, line, reason] of cases) {
      const err = formatError(() => parseCache(text, { file: 'model.cache' }));
      expect(err.message).toMatch(reason);
      expect(err.message).toContain(`model.cache line ${line}:`);
      expect(err.details).toMatchObject({ file: 'model.cache', line });
    }
    expect(formatError(() => parseCache('x')).message).toMatch(/^Invalid calibration cache line 1: /);
  });

  it('refuses bytes that are not UTF-8 with the line', () => {
    const bytes = Buffer.concat([
      Buffer.from('TRT-8601-EntropyCalibration2\na: 1\nb'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(': 2\n'),
    ]);
    expect(formatError(() => parseCache(bytes)).details).toMatchObject({ line: 3, reason: 'not valid UTF-8 text' });
  });

  it('validates cache objects before formatting', () => {
    const cache = parseCache(EXCERPT);
    expect(() => formatCache({ ...cache, tensorrt: { ...cache.tensorrt, minor: 7 } })).toThrow(
      /raw header token matches/,
    );
    expect(() => formatCache({ ...cache, algorithm: 'Entropy' as never })).toThrow(RangeError);
    expect(() => formatCache({ ...cache, entries: [{ name: 'a\nb', hex: '0', scale: 0 }] })).toThrow(
      /without line breaks/,
    );
    expect(() => formatCache({ ...cache, entries: [{ name: 'a', hex: '3c010a14', scale: 0.5 }] })).toThrow(
      /float32 of hex 3c010a14/,
    );
    expect(() => formatCache({ ...cache, entries: [cache.entries[0], cache.entries[0]] })).toThrow(TrtCalibratorError);
    expect(() => createCache([makeCacheEntry('a', 1)], { tensorrt: '8.10' })).toThrow(RangeError);
    expect(
      formatCache(
        createCache([makeCacheEntry('a', 0), makeCacheEntry('b', Infinity)], {
          tensorrt: '10.3.0',
          algorithm: 'MinMaxCalibration',
        }),
      ),
    ).toBe('TRT-100300-MinMaxCalibration\na: 0\nb: 7f800000\n');
  });

  it('reads and writes files, naming the file in errors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-cache-'));
    try {
      const file = path.join(dir, 'model.cache');
      await writeCache(file, parseCache(EXCERPT));
      expect(fs.readFileSync(file, 'utf8')).toBe(EXCERPT);
      expect((await readCache(file)).entries).toHaveLength(3);
      fs.writeFileSync(file, 'TRT-8601-EntropyCalibration2\nbad line\n');
      await expect(readCache(file)).rejects.toMatchObject({ code: 'ERR_CACHE_FORMAT', details: { file, line: 2 } });
      await expect(readCache(path.join(dir, 'missing.cache'))).rejects.toMatchObject({ code: 'ERR_IO' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
