/** Writes the calibration report files. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrtCalibratorError } from '../errors';
import { readFileOrThrow, writeFileAtomic } from '../util/fs';
import { renderReportHtml } from './html';
import { validateReport, type CalibrationReport } from './schema';

/** Paths of the files {@link writeReport} wrote. */
export interface WrittenReport {
  /** Absolute path of report.json. */
  json: string;
  /** Absolute path of report.html. */
  html: string;
}

/**
 * Validates `report` ({@link validateReport}: a NaN or a missing field is ERR_REPORT_FORMAT before anything is
 * written), creates `dir` (and parents) if needed, then writes `dir/report.json` (pretty-printed) and
 * `dir/report.html` ({@link renderReportHtml}), each atomically (temporary file, fsync, rename). Throws ERR_IO
 * naming the path when the directory or a file cannot be written.
 */
export async function writeReport(dir: string, report: CalibrationReport): Promise<WrittenReport> {
  validateReport(report);
  const root = path.resolve(dir);
  try {
    await fs.promises.mkdir(root, { recursive: true });
  } catch (err) {
    throw new TrtCalibratorError('ERR_IO', `Could not create report directory ${root}: ${(err as Error).message}`, {
      cause: err,
      details: { file: root },
    });
  }
  const json = path.join(root, 'report.json');
  const html = path.join(root, 'report.html');
  await writeFileAtomic(json, `${JSON.stringify(report, null, 1)}\n`);
  await writeFileAtomic(html, renderReportHtml(report));
  return { json, html };
}

/** Reads and validates a report.json written by {@link writeReport}. Throws ERR_IO or ERR_REPORT_FORMAT. */
export async function readReport(file: string): Promise<CalibrationReport> {
  const text = (await readFileOrThrow(file, 'calibration report')).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TrtCalibratorError('ERR_REPORT_FORMAT', `${file} is not JSON: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
  return validateReport(parsed, file);
}
