/** File helpers shared by every writer of outputs (cache, engine, Q/DQ model, report). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrtCalibratorError } from '../errors';

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory, fsync, then rename. A failed or
 * interrupted write never leaves a truncated `file` (the temporary is removed on failure).
 * Throws ERR_IO naming the file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, file);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw new TrtCalibratorError('ERR_IO', `Could not write ${file}: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
}

/** Synchronous {@link writeFileAtomic}, for exit paths where no event loop turn is left. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new TrtCalibratorError('ERR_IO', `Could not write ${file}: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
}

/** Reads a file, turning ENOENT and friends into ERR_IO naming the file and what it was for. */
export async function readFileOrThrow(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new TrtCalibratorError('ERR_IO', `Could not read ${what} ${file}: ${why}`, { cause: err, details: { file } });
  }
}
