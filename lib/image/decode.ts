/**
 * Image decoding with sharp (libvips), made to give the pixels cv2.imread(file, IMREAD_COLOR) gives:
 * EXIF orientation applied, alpha dropped (not composited), 16-bit samples reduced to their high byte,
 * first frame of animations. Grayscale images stay one channel (cv2 would replicate the value into three
 * equal channels; the preprocessing does that later, which gives identical numbers with a third of the work).
 */
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';

/** Decoded 8-bit pixels, interleaved, in RGB order (or one gray channel). */
export interface DecodedImage {
  /** Interleaved pixels, `width * height * channels` bytes. */
  data: Uint8Array;
  /** Width after EXIF orientation. */
  width: number;
  /** Height after EXIF orientation. */
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Bits per sample in the file (8 or 16) before the reduction to 8 bits. */
  sourceDepth: 8 | 16;
}

/** Why an image could not be used, as a short reason for the skip list. */
export class ImageDecodeFailure extends Error {}

sharp.cache(false);

/**
 * Decodes one image file. Throws {@link ImageDecodeFailure} (message = the reason) for unreadable,
 * truncated or non-image files.
 */
export async function decodeImage(file: string): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new ImageDecodeFailure(`unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (bytes.length === 0) throw new ImageDecodeFailure('empty file');
  return decodeImageBuffer(bytes);
}

/** Decodes an encoded image held in memory; see {@link decodeImage}. */
export async function decodeImageBuffer(bytes: Buffer): Promise<DecodedImage> {
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    // failOn 'error' refuses truncated and corrupt files (cv2 would return a partly grey image with a warning).
    out = await sharp(bytes, { failOn: 'error', pages: 1 })
      .rotate()
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageDecodeFailure(`not a decodable image: ${(err as Error).message.split('\n')[0]}`);
  }
  const info = out.info as sharp.OutputInfo & { depth?: string };
  const channels = info.channels;
  if (channels !== 1 && channels !== 3) throw new ImageDecodeFailure(`unsupported channel count ${channels}`);
  const pixels = info.width * info.height * channels;
  let data: Uint8Array;
  let sourceDepth: 8 | 16 = 8;
  if (info.depth === 'uchar') {
    data = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  } else if (info.depth === 'ushort') {
    // cv2.imread(IMREAD_COLOR) keeps the high byte of 16-bit samples (libpng strip_16): v >> 8.
    sourceDepth = 16;
    const aligned = out.data.byteOffset % 2 === 0 ? out.data : Buffer.from(out.data);
    const wide = new Uint16Array(aligned.buffer, aligned.byteOffset, pixels);
    data = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) data[i] = wide[i] >> 8;
  } else {
    throw new ImageDecodeFailure(`unsupported sample format ${info.depth}`);
  }
  if (data.length !== pixels) throw new ImageDecodeFailure(`decoder returned ${data.length} bytes, expected ${pixels}`);
  return { data, width: info.width, height: info.height, channels, sourceDepth };
}

/**
 * The size an image will have once decoded (EXIF orientation applied), read from its header without decoding the
 * pixels; undefined when the file cannot be read as an image (it will be skipped later with the reason).
 */
export async function imageSize(file: string): Promise<{ width: number; height: number } | undefined> {
  try {
    const m = await sharp(file, { pages: 1 }).metadata();
    if (!m.width || !m.height) return undefined;
    // EXIF orientations 5-8 turn the image by 90°: width and height swap once it is rotated upright.
    const turned = (m.orientation ?? 1) >= 5;
    return turned ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
  } catch {
    return undefined;
  }
}
