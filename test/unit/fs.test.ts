import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileOrThrow, writeFileAtomic, writeFileAtomicSync } from '../../lib/util/fs';

describe('atomic file writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-fs-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces the file and leaves no temporary behind', async () => {
    const file = path.join(dir, 'a.cache');
    fs.writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new contents');
    writeFileAtomicSync(path.join(dir, 'b.cache'), new Uint8Array([1, 2, 3]));
    expect(fs.readFileSync(file, 'utf8')).toBe('new contents');
    expect(fs.readFileSync(path.join(dir, 'b.cache'))).toEqual(Buffer.from([1, 2, 3]));
    expect(fs.readdirSync(dir).sort()).toEqual(['a.cache', 'b.cache']);
  });

  it('fails with ERR_IO and keeps the old file when the target cannot be replaced', async () => {
    const target = path.join(dir, 'sub');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toMatchObject({ code: 'ERR_IO' });
    expect(fs.readdirSync(dir)).toEqual(['sub']);
    await expect(writeFileAtomic(path.join(dir, 'missing-dir', 'f'), 'x')).rejects.toMatchObject({ code: 'ERR_IO' });
  });

  it('names the file and reason when reading fails', async () => {
    await expect(readFileOrThrow(path.join(dir, 'nope.onnx'), 'model')).rejects.toThrow(
      /Could not read model .*nope\.onnx: no such file/,
    );
  });
});
