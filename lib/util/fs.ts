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

/**
 * Checks, before any work, that `file` could be written: its directory exists (or, with `createDirs`, the nearest
 * existing ancestor can hold it) and is writable, and `file` is not a directory. `what` names the output in the
 * message (`the cache (--cache)`). Throws ERR_IO.
 */
export async function checkWritable(file: string, what: string, options: { directory?: boolean } = {}): Promise<void> {
  const target = path.resolve(file);
  const fail = (why: string): never => {
    throw new TrtCalibratorError('ERR_IO', `Cannot write ${what} at ${file}: ${why}`, { details: { file } });
  };
  const st = await fs.promises.stat(target).catch(() => undefined);
  if (st) {
    if (options.directory ? !st.isDirectory() : st.isDirectory())
      fail(options.directory ? 'it is a file, not a directory' : 'it is a directory');
    await fs.promises
      .access(target, fs.constants.W_OK)
      .catch(() => fail(options.directory ? 'the directory is not writable' : 'the file is not writable'));
    return;
  }
  // The output does not exist yet: the nearest existing ancestor must be a writable directory (a report directory
  // is created with its parents; a file's own directory must exist).
  let dir = path.dirname(target);
  if (options.directory) {
    while (!(await fs.promises.stat(dir).catch(() => undefined)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  }
  const parent = await fs.promises.stat(dir).catch(() => undefined);
  if (!parent) fail(`the directory ${path.dirname(target)} does not exist`);
  if (!parent!.isDirectory()) fail(`${dir} is not a directory`);
  await fs.promises.access(dir, fs.constants.W_OK).catch(() => fail(`the directory ${dir} is not writable`));
}

/** Checks, before any work, that `file` exists and can be read; `what` names it in the message. Throws ERR_IO. */
export async function checkReadable(file: string, what: string, options: { directory?: boolean } = {}): Promise<void> {
  const What = what.charAt(0).toUpperCase() + what.slice(1);
  const st = await fs.promises.stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new TrtCalibratorError(
      'ERR_IO',
      err.code === 'ENOENT' || err.code === 'ENOTDIR'
        ? `${What} was not found: ${file}`
        : `Cannot read ${what} ${file}: ${err.message}`,
      { cause: err, details: { file } },
    );
  });
  if (options.directory && !st.isDirectory())
    throw new TrtCalibratorError('ERR_IO', `${What} is not a directory: ${file}`, { details: { file } });
  if (!options.directory && st.isDirectory())
    throw new TrtCalibratorError('ERR_IO', `${What} is a directory, not a file: ${file}`, { details: { file } });
  await fs.promises.access(file, fs.constants.R_OK).catch((err: Error) => {
    throw new TrtCalibratorError('ERR_IO', `Cannot read ${what} ${file}: ${err.message}`, {
      cause: err,
      details: { file },
    });
  });
}
