/**
 * The calibration report page in real headless Chromium (Debian's package): it loads with no page error, no
 * console error and no request beyond its own file, every tensor's SVG plot has a size, hostile tensor names
 * stay text, sorting works, and a screenshot is taken (set TRTC_REPORT_SCREENSHOT=<file.png> to keep it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeReport } from '../../lib/report/write';
import { ChromiumBrowser, describeBrowser, type ChromiumPage } from '../helpers/chromium';
import { syntheticReport } from './fixture';

describeBrowser('calibration report in headless Chromium', () => {
  let dir: string;
  let browser: ChromiumBrowser | undefined;
  let page: ChromiumPage;
  let url: string;
  const report = syntheticReport({ tensors: 50 });

  beforeAll(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trtc-report-'));
    const written = await writeReport(dir, report);
    url = pathToFileURL(written.html).href;
    browser = await ChromiumBrowser.launch();
    page = await browser.newPage(1280, 1000);
    await page.goto(url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
  });

  test('loads with no page errors, console errors or outside requests', () => {
    expect(page.log.pageErrors).toEqual([]);
    expect(page.log.consoleErrors).toEqual([]);
    expect(page.log.requests.length).toBeGreaterThan(0);
    expect(page.log.requests.filter((u) => u !== url)).toEqual([]);
  });

  test('draws one histogram plot per tensor, each with a non-zero size and its threshold markers', async () => {
    const plots = await page.evaluate<
      Array<{ w: number; h: number; barsW: number; barsH: number; markers: number; chosen: number; empty: boolean }>
    >(`
      Array.from(document.querySelectorAll('#tensors svg.plot')).map(function (svg) {
        var r = svg.getBoundingClientRect();
        var bars = svg.querySelector('path.bars');
        var bb = bars ? bars.getBBox() : { width: 0, height: 0 };
        return { w: r.width, h: r.height, barsW: bb.width, barsH: bb.height,
                 markers: svg.querySelectorAll('line.marker').length, chosen: svg.querySelectorAll('line.marker.chosen').length,
                 empty: !!svg.querySelector('text.empty') };
      })`);
    expect(plots).toHaveLength(report.tensors.length);
    for (const [i, p] of plots.entries()) {
      const t = report.tensors[i];
      expect(p.w).toBeGreaterThan(100);
      expect(p.h).toBeGreaterThan(50);
      if (t.histogram.binWidth === 0 || t.histogram.counts.every((c) => c === 0)) {
        expect(t.status).not.toBe('ok');
        expect(p.empty).toBe(true);
        continue;
      }
      expect(p.barsW).toBeGreaterThan(10);
      expect(p.barsH).toBeGreaterThan(10);
      expect(p.markers).toBe(Object.values(t.thresholds).filter((v) => v !== null).length);
      expect(p.chosen).toBe(t.thresholds.entropy === null || t.amax === null ? 0 : 1);
    }
  });

  test('hostile tensor names are shown as text, never parsed as markup', async () => {
    const r = await page.evaluate<{ shown: boolean; boldInNames: number; title: string }>(`({
      shown: Array.from(document.querySelectorAll('#tensors td.name code')).some(function (c) { return c.textContent === '</script><b>x'; }),
      boldInNames: document.querySelectorAll('#tensors td.name b').length,
      title: document.title })`);
    expect(r).toEqual({ shown: true, boldInNames: 0, title: 'Calibration report — models/resnet <small>.onnx' });
  });

  test('clicking a column header sorts the tensor table', async () => {
    const values = await page.evaluate<number[]>(`(function () {
      var th = Array.from(document.querySelectorAll('#tensors th')).find(function (h) { return h.textContent === 'Clipped'; });
      th.click();
      return Array.from(document.querySelectorAll('#tensors tbody tr')).map(function (r) { return Number(r.cells[4].getAttribute('data-v')); });
    })()`);
    expect(values).toHaveLength(report.tensors.length);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    await page.evaluate(`document.querySelector('#tensors th').click()`); // back to network order
    expect(page.log.pageErrors).toEqual([]);
  });

  test('takes a screenshot that shows the plots', async () => {
    const top = await page.evaluate<number>(
      `document.getElementById('tensors-section').getBoundingClientRect().top + window.scrollY`,
    );
    const png = await page.screenshot({ x: 0, y: 0, width: 1280, height: Math.round(top) + 640 });
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.length).toBeGreaterThan(20_000);
    const keep = process.env.TRTC_REPORT_SCREENSHOT;
    await fs.promises.writeFile(keep ?? path.join(dir, 'screenshot.png'), png);
  });
});
