/** The calibration report: schema, HTML rendering, writing. */
export * from './schema';
export { renderReportHtml, renderHistogramSvg, escapeHtml } from './html';
export { writeReport, readReport } from './write';
export type { WrittenReport } from './write';
