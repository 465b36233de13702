/**
 * Listing image files: the one place that decides which files of a directory are images and in which order they
 * are used (ImageBatchFactory, and calibrate()'s held-out split, which must see the same list).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TrtCalibratorError } from '../errors';
import { DEFAULT_IMAGE_EXTENSIONS } from '../options/preprocess';
import { mention } from '../options/voice';
import { seededRandom } from '../util/random';

/** Which files of an image source are used. */
export interface ImageListOptions {
  /** List subdirectories too. Defaults to false. */
  recursive?: boolean;
  /** Extensions listed (lower case, with the dot). Defaults to {@link DEFAULT_IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
  /** Shuffle the sorted list with a seeded generator. Defaults to false. */
  shuffle?: boolean;
  /** Seed of the shuffle. Defaults to 0. */
  seed?: number;
  /** Keep at most this many files (after sorting and shuffling). Defaults to all. */
  limit?: number;
}

/** Byte-order comparison of paths, as `LC_ALL=C sort`. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function walk(dir: string, recursive: boolean, extensions: readonly string[], out: string[]): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) await walk(p, recursive, extensions, out);
    } else if ((e.isFile() || e.isSymbolicLink()) && extensions.includes(path.extname(e.name).toLowerCase())) {
      out.push(p);
    }
  }
}

/**
 * The image files of `source` (a directory, or a list of files used as given), in the order they are used: sorted
 * by path in byte order, then optionally shuffled with a seed, then cut to `limit`. Rejects with ERR_IO for a
 * missing directory, a path that is not one, or one that cannot be read; ERR_NO_DATA when it holds no images.
 */
export async function listImageFiles(
  source: string | readonly string[],
  options: ImageListOptions = {},
): Promise<string[]> {
  let files: string[];
  if (typeof source === 'string') {
    const dir = source;
    const st = await fsp.stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
        throw new TrtCalibratorError('ERR_IO', `image directory not found: ${dir}`, { details: { path: dir } });
      throw new TrtCalibratorError('ERR_IO', `cannot read image directory ${dir}: ${err.message}`, {
        cause: err,
        details: { path: dir },
      });
    });
    if (!st.isDirectory())
      throw new TrtCalibratorError('ERR_IO', `not a directory: ${dir} (pass a list of files for single images)`, {
        details: { path: dir },
      });
    const exts = (options.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) =>
      (e.startsWith('.') ? e : `.${e}`).toLowerCase(),
    );
    files = [];
    try {
      await walk(dir, options.recursive ?? false, exts, files);
    } catch (err) {
      throw new TrtCalibratorError('ERR_IO', `cannot list image directory ${dir}: ${(err as Error).message}`, {
        cause: err,
        details: { path: dir },
      });
    }
    if (files.length === 0)
      throw new TrtCalibratorError(
        'ERR_NO_DATA',
        `No images in ${dir} (extensions ${exts.join(' ')}${options.recursive ? '' : `; subdirectories not searched: ${mention('recursive', { api: 'true' })} searches them`})`,
        { details: { path: dir } },
      );
  } else {
    files = [...source];
    if (files.length === 0) throw new TrtCalibratorError('ERR_NO_DATA', 'the image list is empty');
  }
  files.sort(byteOrder);
  if (options.shuffle) {
    const rnd = seededRandom(options.seed ?? 0);
    for (let i = files.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [files[i], files[j]] = [files[j], files[i]];
    }
  }
  return options.limit !== undefined ? files.slice(0, options.limit) : files;
}
