/**
 * Where a calibration cache is read from and written to: a file path (written atomically: temp file, fsync,
 * rename) or a custom store for users who keep caches in a database or object store.
 */
import * as fs from 'node:fs';
import { TrtCalibratorError, invalidOption } from '../errors';
import { writeFileAtomic } from '../util/fs';

/** A custom cache store: `read` resolves with the cache bytes or null when there is none; `write` persists them. */
export interface CacheStore {
  /** Resolves with the stored cache, or null when there is none yet. */
  read(): Promise<Uint8Array | null>;
  /** Persists a finished cache. Called at most once per run, never for an aborted or failed run. */
  write(bytes: Uint8Array): Promise<void>;
}

/** A cache file path, or a {@link CacheStore}. */
export type CacheSource = string | CacheStore;

/** The normalized cache access a run uses. */
export interface CacheAccess {
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  /** For messages: the file path, or "cache store". */
  readonly description: string;
}

function isStore(value: unknown): value is CacheStore {
  const v = value as Partial<CacheStore> | null;
  return typeof v === 'object' && v !== null && typeof v.read === 'function' && typeof v.write === 'function';
}

/**
 * Validates `cache` (option name `option`) and returns its access. Undefined gives a store that never has a
 * cache and keeps nothing. A missing or empty file means "no cache"; other read failures are ERR_IO.
 */
export function cacheAccess(cache: CacheSource | undefined, option = 'cache'): CacheAccess {
  if (cache === undefined) {
    return { description: 'no cache', read: async () => null, write: async () => undefined };
  }
  if (typeof cache === 'string') {
    if (cache.length === 0)
      throw invalidOption(option, 'a non-empty file path or a { read, write } cache store', cache, 'range');
    return {
      description: cache,
      async read() {
        try {
          const bytes = await fs.promises.readFile(cache);
          return bytes.length === 0 ? null : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw new TrtCalibratorError(
            'ERR_IO',
            `Could not read the calibration cache ${cache}: ${(err as Error).message}`,
            {
              cause: err,
              details: { file: cache },
            },
          );
        }
      },
      write: (bytes) => writeFileAtomic(cache, bytes),
    };
  }
  if (!isStore(cache)) throw invalidOption(option, 'a file path or a { read(), write(bytes) } cache store', cache);
  return {
    description: 'cache store',
    async read() {
      let value: unknown;
      try {
        value = await cache.read();
      } catch (err) {
        throw new TrtCalibratorError(
          'ERR_IO',
          `The cache store's read() failed: ${(err as Error)?.message ?? String(err)}`,
          { cause: err },
        );
      }
      if (value === null || value === undefined) return null;
      if (!(value instanceof Uint8Array)) {
        throw new TrtCalibratorError(
          'ERR_IO',
          `The cache store's read() must resolve with a Uint8Array or null but resolved with ${typeof value}`,
        );
      }
      return value.length === 0 ? null : value;
    },
    async write(bytes) {
      try {
        await cache.write(bytes);
      } catch (err) {
        throw new TrtCalibratorError(
          'ERR_IO',
          `The cache store's write() failed: ${(err as Error)?.message ?? String(err)}`,
          { cause: err },
        );
      }
    },
  };
}
