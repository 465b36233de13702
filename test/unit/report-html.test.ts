import { escapeHtml, formatNumber, renderHistogramSvg, renderReportHtml } from '../../lib/report/html';
import { syntheticReport } from '../report/fixture';

describe('renderReportHtml', () => {
  test('a tensor named </script><b>x stays text everywhere', () => {
    const html = renderReportHtml(syntheticReport({ tensors: 10 }));
    expect(html).not.toContain('</script><b>x');
    expect(html).not.toContain('<b>x');
    expect(html).toContain('&lt;/script&gt;&lt;b&gt;x');
    // the only script element is ours, opened and closed once
    expect(html.match(/<script/gi)).toHaveLength(1);
    expect(html.match(/<\/script/gi)).toHaveLength(1);
    // quotes and ampersands in names are escaped inside attributes too (aria-label of the plot)
    expect(html).toContain(
      'aria-label="Histogram of |x| for /model.0/conv/Conv_output_0 &amp; &#39;q&#39; &quot;dq&quot;"',
    );
    expect(html).toContain('ns:tensor&lt;int&gt;');
    expect(html).toContain('images/&lt;evil&gt;.png');
  });

  test('is self-contained: no external scripts, styles, fonts, images or links', () => {
    const html = renderReportHtml(syntheticReport({ tensors: 10 }));
    const urls = html.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>]*/gi) ?? [];
    expect(urls.filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual([]);
    expect(html).not.toMatch(/<link|<img|<iframe|@import|url\(|\ssrc=/i);
    expect(html).toContain("default-src 'none'");
  });

  test('300 tensors stay under 3 MB', () => {
    const report = syntheticReport({ tensors: 300 });
    const bytes = Buffer.byteLength(renderReportHtml(report));
    console.log(
      `report.html for 300 tensors: ${(bytes / 1e6).toFixed(2)} MB; report.json: ${(Buffer.byteLength(JSON.stringify(report, null, 1)) / 1e6).toFixed(2)} MB`,
    );
    expect(bytes).toBeLessThan(3_000_000);
    expect(renderReportHtml(report).match(/<svg class="plot"/g)).toHaveLength(300);
  });

  test('shows the accuracy section only when the report has one', () => {
    expect(renderReportHtml(syntheticReport({ tensors: 6 }))).toContain('id="accuracy"');
    expect(renderReportHtml(syntheticReport({ tensors: 6, accuracy: false }))).not.toContain('id="accuracy"');
  });

  test('lists tensors without scale and skipped images with their reasons', () => {
    const html = renderReportHtml(syntheticReport({ tensors: 8 }));
    expect(html).toContain('Tensors without a scale (3)');
    expect(html).toContain('only NaN/Inf values seen (4000 NaN)');
    expect(html).toContain('<td><code>/Shape_output_0</code></td><td>int64 tensor</td>');
    expect(html).toContain('<td><code>/head/mask/Mul_output_0</code></td><td>all values were 0</td>');
    expect(html).toContain('Skipped images (2)');
    expect(html).toContain('VipsJpeg: Premature end of input file');
  });
});

describe('renderHistogramSvg', () => {
  test('draws a marker per threshold and emphasizes the chosen algorithm', () => {
    const report = syntheticReport({ tensors: 6, algorithm: 'mse' });
    const svg = renderHistogramSvg(report.tensors[0], 'mse');
    expect(svg.match(/<line [^>]*class="marker( chosen)?"/g)).toHaveLength(4);
    expect(svg.match(/class="marker chosen"/g)).toHaveLength(1);
    expect(svg).toMatch(/class="marker chosen" stroke="#9467bd"><title>mse \(chosen\)/);
    expect(svg).toContain('class="bars"');
  });

  test('a tensor without histogram data draws a labelled empty frame', () => {
    const report = syntheticReport({ tensors: 6 });
    const zero = report.tensors.find((t) => t.status === 'degenerate-zero');
    expect(zero).toBeDefined();
    const svg = renderHistogramSvg(zero!, 'entropy');
    expect(svg).toContain('no histogram (degenerate-zero)');
    expect(svg).not.toContain('class="bars"');
  });
});

describe('formatting helpers', () => {
  test('escapeHtml escapes the five markup characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  test('formatNumber keeps 4 significant digits and switches to exponent form at the extremes', () => {
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(Number.NaN)).toBe('—');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(3.14159)).toBe('3.142');
    expect(formatNumber(12)).toBe('12');
    expect(formatNumber(0.0001234)).toBe('1.234e-4');
    expect(formatNumber(123456)).toBe('1.235e+5');
  });
});
