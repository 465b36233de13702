import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isTrtCalibratorError } from '../../lib/errors';
import { readReport, writeReport } from '../../lib/report/write';
import { syntheticReport } from '../report/fixture';

describe('writeReport', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trtc-report-unit-'));
  });
  afterEach(async () => {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  });

  test('creates nested directories and writes report.json and report.html, leaving no temporary files', async () => {
    const report = syntheticReport({ tensors: 5 });
    const dir = path.join(tmp, 'a', 'b');
    const written = await writeReport(dir, report);
    expect(written).toEqual({ json: path.join(dir, 'report.json'), html: path.join(dir, 'report.html') });
    expect((await fs.promises.readdir(dir)).sort()).toEqual(['report.html', 'report.json']);
    expect(await readReport(written.json)).toEqual(report);
    expect(await fs.promises.readFile(written.html, 'utf8')).toMatch(/^<!DOCTYPE html>/);
  });

  test('rejects an invalid report with ERR_REPORT_FORMAT before writing anything', async () => {
    const report = syntheticReport({ tensors: 5 });
    report.timings.totalMs = Number.POSITIVE_INFINITY;
    const dir = path.join(tmp, 'never');
    await expect(writeReport(dir, report)).rejects.toMatchObject({
      code: 'ERR_REPORT_FORMAT',
      message: expect.stringContaining('timings.totalMs'),
    });
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('a directory path that is a file is ERR_IO naming it', async () => {
    const file = path.join(tmp, 'file');
    await fs.promises.writeFile(file, 'x');
    const err: unknown = await writeReport(file, syntheticReport({ tensors: 3 })).catch((e: unknown) => e);
    expect(isTrtCalibratorError(err, 'ERR_IO')).toBe(true);
    expect((err as Error).message).toContain(file);
  });

  test('readReport refuses a file that is not JSON or not a report', async () => {
    const bad = path.join(tmp, 'bad.json');
    await fs.promises.writeFile(bad, '{');
    await expect(readReport(bad)).rejects.toMatchObject({ code: 'ERR_REPORT_FORMAT' });
    await fs.promises.writeFile(bad, '{"schemaVersion":1}');
    await expect(readReport(bad)).rejects.toMatchObject({
      code: 'ERR_REPORT_FORMAT',
      message: expect.stringContaining('tool'),
    });
    await expect(readReport(path.join(tmp, 'missing.json'))).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});
