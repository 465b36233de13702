/**
 * NumPy .npy files (format version 1.0), little-endian, C order: enough to hand tensors to Python
 * (`numpy.load`) and to read golden files back.
 */
import { writeFileAtomic } from './fs';

/** Typed arrays .npy files can hold here. A Uint16Array is written as float16 bits when `dtype` says so. */
export type NpyArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int8Array;

const DESCR: Record<string, string> = {
  Float32Array: '<f4',
  Float64Array: '<f8',
  Int32Array: '<i4',
  Uint8Array: '|u1',
  Int8Array: '|i1',
  Uint16Array: '<u2',
};

/** Encodes an array as .npy bytes. `float16: true` labels a Uint16Array's bits as `<f2`. */
export function encodeNpy(data: NpyArray, shape: readonly number[], options: { float16?: boolean } = {}): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new RangeError(`shape [${shape.join(', ')}] has ${count} elements, array has ${data.length}`);
  let descr = DESCR[data.constructor.name];
  if (options.float16) {
    if (!(data instanceof Uint16Array))
      throw new TypeError('float16 data must be a Uint16Array of half-precision bits');
    descr = '<f2';
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    head,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

/** Writes an array to a .npy file (atomically: temp file + rename). */
export async function writeNpy(
  file: string,
  data: NpyArray,
  shape: readonly number[],
  options: { float16?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(file, encodeNpy(data, shape, options));
}

/** A decoded .npy file. float16 data comes back as a Uint16Array of bits with `descr` '<f2'. */
export interface NpyContent {
  descr: string;
  shape: number[];
  data: NpyArray;
}

/** Decodes .npy bytes (version 1.x/2.x, little-endian, C order). */
export function decodeNpy(bytes: Buffer): NpyContent {
  if (bytes.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new TypeError('not a .npy file');
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined || /'fortran_order':\s*True/.test(header))
    throw new TypeError(`unsupported .npy header: ${header}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const body = bytes.subarray(start + headerLen);
  const copy = new Uint8Array(body).buffer; // aligned copy
  const types: Record<string, new (b: ArrayBuffer) => NpyArray> = {
    '<f4': Float32Array,
    '<f8': Float64Array,
    '<i4': Int32Array,
    '|u1': Uint8Array,
    '|i1': Int8Array,
    '<u2': Uint16Array,
    '<f2': Uint16Array,
  };
  const T = types[descr];
  if (!T) throw new TypeError(`unsupported .npy dtype ${descr}`);
  return { descr, shape, data: new T(copy) };
}
