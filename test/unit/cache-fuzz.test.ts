/**
 * Property / fuzz test of the cache parser: thousands of random and mutated inputs, each either parses (and then
 * format/parse round-trips byte-exact) or throws TrtCalibratorError ERR_CACHE_FORMAT. Seeded, with a fixed number
 * of inputs, so every run checks the same inputs and a failure reproduces.
 */
import {
  CACHE_ALGORITHMS,
  cacheFromJson,
  cacheToJsonText,
  formatCache,
  parseCache,
  scaleToHex,
  type CalibrationCache,
} from '../../lib/cache';
import { TrtCalibratorError } from '../../lib/errors';
import { seededRandom } from '../../lib/util/random';

const prng = seededRandom;

const rand = prng(0x7472_7463);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const NAME_PARTS = [
  'input',
  '/model.0/conv/Conv_output_0',
  '(Unnamed Layer* 22) [Constant]_output',
  'a: b',
  ': ',
  'x:y',
  ' ',
  'ONNXTRT_Broadcast_191_output',
  '1',
  'input.1',
  '\r',
  '-',
  'TRT-8601-EntropyCalibration2',
];

function randomUnicode(): string {
  const len = 1 + int(6);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rand();
    if (r < 0.5) s += String.fromCharCode(0x20 + int(0x5f));
    else if (r < 0.8) s += String.fromCodePoint(0xa0 + int(0x2fff));
    else if (r < 0.95) s += String.fromCodePoint(0x1f300 + int(0x300));
    else s += String.fromCharCode(0xd800 + int(0x800)); // lone surrogate (only survives string input)
  }
  return s;
}

function randomName(): string {
  const parts = 1 + int(3);
  let s = '';
  for (let i = 0; i < parts; i++) s += rand() < 0.6 ? pick(NAME_PARTS) : randomUnicode();
  return s;
}

function randomHex(): string {
  const r = rand();
  if (r < 0.1) return '0';
  if (r < 0.15) return pick(['7f800000', '7c010204', 'ff800000', '7fc00000', '80000000']);
  view.setFloat32(0, rand() * 2 ** (int(60) - 40));
  return view.getUint32(0).toString(16);
}
const view = new DataView(new ArrayBuffer(4));

function randomValidText(): string {
  const version = pick(['8601', '8205', '7103', '100300', '100801', '101300']);
  const eol = rand() < 0.7 ? '\n' : '\r\n';
  const lines = [`TRT-${version}-${pick(CACHE_ALGORITHMS)}`];
  const n = int(12);
  const names = new Set<string>();
  for (let i = 0; i < n; i++) {
    const name = randomName();
    if (names.has(name) || name.includes('\n')) continue;
    names.add(name);
    lines.push(`${name}: ${randomHex()}`);
  }
  return lines.join(eol) + (rand() < 0.8 ? eol : '');
}

function mutate(text: string): string {
  let s = text;
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(s.length + 1);
    switch (int(9)) {
      case 0: {
        // bit flip in one UTF-16 unit
        if (s.length === 0) break;
        const i = int(s.length);
        s = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << int(8))) + s.slice(i + 1);
        break;
      }
      case 1:
        s = s.slice(0, at); // truncation
        break;
      case 2:
        s = s.slice(0, at) + ': ' + s.slice(at);
        break;
      case 3:
        s = s.slice(0, at) + pick(['\r\n', '\n', '\r']) + s.slice(at);
        break;
      case 4:
        s = s.replace(/\n/g, () => (rand() < 0.5 ? '\r\n' : '\n')).replace(/\r\r\n/g, '\r\n'); // CRLF mixing
        break;
      case 5:
        s = s.slice(0, at) + randomUnicode() + s.slice(at);
        break;
      case 6: {
        const lines = s.split('\n');
        const i = int(lines.length);
        lines.splice(int(lines.length), 0, lines[i]); // duplicate a line
        s = lines.join('\n');
        break;
      }
      case 7:
        s = s.slice(0, at) + s.slice(at + 1 + int(4)); // deletion
        break;
      default:
        s = s.slice(0, at) + pick(['0', 'f', 'g', ' ', '-', 'TRT-', '100300', '\uFEFF', '\u2028']) + s.slice(at);
    }
  }
  return s;
}

function randomBytes(): Uint8Array {
  const bytes = new Uint8Array(int(64));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rand() < 0.3 ? pick([0x0a, 0x0d, 0x3a, 0x20]) : int(256);
  if (rand() < 0.5) bytes.set(Buffer.from('TRT-8601-EntropyCalibration2\n').subarray(0, Math.min(bytes.length, 29)));
  return bytes;
}

function sameCache(a: CalibrationCache, b: CalibrationCache): boolean {
  const key = (c: CalibrationCache): string =>
    JSON.stringify([
      c.tensorrt,
      c.algorithm,
      c.lineEnding,
      c.trailingNewline,
      c.lineEndings ?? null,
      c.entries.map((e) => [e.name, e.hex, Object.is(e.scale, -0) ? '-0' : String(e.scale)]),
    ]);
  return key(a) === key(b);
}

type Outcome = 'parsed' | 'refused';

function check(input: string | Uint8Array): Outcome {
  let cache: CalibrationCache;
  try {
    cache = parseCache(input);
  } catch (err) {
    if (!(err instanceof TrtCalibratorError) || err.code !== 'ERR_CACHE_FORMAT') throw err;
    if (typeof err.details.line !== 'number') throw new Error(`no line in ${err.message}`, { cause: err });
    return 'refused';
  }
  const text = formatCache(cache);
  const original = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  if (text !== original) throw new Error(`round trip changed ${JSON.stringify(original)} into ${JSON.stringify(text)}`);
  if (!sameCache(parseCache(text), cache)) throw new Error(`reparse differs for ${JSON.stringify(text)}`);
  if (typeof input !== 'string' && !Buffer.from(text).equals(Buffer.from(input)))
    throw new Error(`byte round trip failed for ${JSON.stringify(original)}`);
  for (const e of cache.entries) {
    // every scale agrees with its hex; TensorRT-written hex (lowercase, unpadded) is reproduced from the scale
    if (/^(0|[1-9a-f][0-9a-f]*)$/.test(e.hex) && !Number.isNaN(e.scale) && scaleToHex(e.scale) !== e.hex)
      throw new Error(`hex ${e.hex} != scale ${e.scale}`);
  }
  return 'parsed';
}

describe('cache parser under random and mutated input', () => {
  it('either parses and round-trips byte-exact, or throws ERR_CACHE_FORMAT with a line (seeded, 2500 rounds)', () => {
    // A fixed number of inputs from a fixed seed: every run checks the same 8750 inputs, whatever the machine's
    // speed (2500 rounds of 3 inputs, plus a random-bytes input every 4th round and a mutated byte input every
    // 4th round).
    const ROUNDS = 2500;
    const counts = { parsed: 0, refused: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const valid = randomValidText();
      counts[check(valid)]++;
      counts[check(Buffer.from(valid))]++;
      counts[check(mutate(valid))]++;
      if (round % 4 === 0) counts[check(randomBytes())]++;
      if (round % 4 === 1) counts[check(Buffer.from(mutate(valid)))]++;
    }
    expect(counts.parsed + counts.refused).toBe(ROUNDS * 3 + ROUNDS / 2);
    // Both outcomes must be exercised in quantity, or the generators are broken.
    expect(counts.parsed).toBeGreaterThan(ROUNDS * 2);
    expect(counts.refused).toBeGreaterThan(ROUNDS / 2);
    process.stdout.write(`fuzz: ${ROUNDS} rounds, ${counts.parsed} parsed, ${counts.refused} refused\n`);
  });

  it('valid random caches survive cache -> JSON -> cache byte-exact (TensorRT-written hex)', () => {
    let n = 0;
    for (let i = 0; i < 500; i++) {
      const text = randomValidText();
      const cache = parseCache(text);
      if (cache.lineEndings) continue;
      const back = cacheFromJson(cacheToJsonText(cache));
      expect(formatCache(back)).toBe(text);
      n++;
    }
    expect(n).toBeGreaterThan(400);
  });
});
