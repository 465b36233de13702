/**
 * Renders a {@link CalibrationReport} as one self-contained HTML page: inline CSS, inline SVG plots generated
 * here, one small inline script for sorting/filtering the tensor table. No network, fonts or plotting library.
 */
import { REPORT_ALGORITHMS, type CalibrationReport, type ReportAlgorithm, type ReportTensor } from './schema';

/** Marker colours per algorithm (colour-blind-safe Tableau-like set). */
const COLORS: Record<ReportAlgorithm, string> = {
  entropy: '#1f77b4',
  minmax: '#d62728',
  percentile: '#2ca02c',
  mse: '#9467bd',
};

/** Skipped images listed in the page; the rest are counted and left to report.json. */
const MAX_SKIPPED_SHOWN = 1000;

/** Escapes text for HTML/SVG element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );
}

/** Formats a number for display: 4 significant digits, exponent form for very large/small magnitudes. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3).replace(/\.?0+e/, 'e');
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

function formatShare(v: number): string {
  if (v === 0) return '0 %';
  const pct = v * 100;
  if (pct < 0.01) return '&lt;0.01 %';
  return `${pct < 10 ? pct.toFixed(2) : pct.toFixed(1)} %`;
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Three to five round tick values covering [0, max]. */
function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => max / s <= 5) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = 0; t <= max * (1 + 1e-9); t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const PLOT = { w: 460, h: 128, left: 34, right: 8, top: 6, bottom: 20 };

function r1(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/**
 * The histogram plot of one tensor: |x| on a linear x axis, counts on a log y axis (drawn as one step path),
 * a vertical marker per algorithm's threshold (the chosen algorithm's solid and thick), and the clipped range
 * (above amax) shaded.
 */
export function renderHistogramSvg(t: ReportTensor, chosen: ReportAlgorithm): string {
  const { w, h, left, right, top, bottom } = PLOT;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const counts = t.histogram.counts;
  const binWidth = t.histogram.binWidth;
  const label = `Histogram of |x| for ${t.name}`;
  const open = `<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(label)}">`;
  let maxCount = 0;
  for (const c of counts) if (c > maxCount) maxCount = c;
  if (!(binWidth > 0) || maxCount === 0) {
    return `${open}<rect x="${left}" y="${top}" width="${pw}" height="${ph}" class="frame"/><text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle" class="empty">no histogram (${escapeHtml(t.status)})</text></svg>`;
  }
  const thresholdValues = REPORT_ALGORITHMS.map((a) => t.thresholds[a]).filter((v): v is number => v !== null);
  const xMax = Math.max(counts.length * binWidth, ...thresholdValues, t.amax ?? 0);
  const x = (v: number): number => left + (v / xMax) * pw;
  // log scale: 10^-0.3 ≈ 0.5 at the baseline so a bin holding one value still shows.
  const yLo = -0.3;
  const yHi = Math.max(1, Math.ceil(Math.log10(maxCount)));
  const y = (c: number): number => (c <= 0 ? top + ph : top + ph - ((Math.log10(c) - yLo) / (yHi - yLo)) * ph);
  const parts: string[] = [open];
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" class="frame"/>`);
  if (t.amax !== null && x(t.amax) < left + pw) {
    parts.push(
      `<rect x="${r1(x(t.amax))}" y="${top}" width="${r1(left + pw - x(t.amax))}" height="${ph}" class="clip"><title>clipped: ${formatShare(t.clippedShare)} of values above amax</title></rect>`,
    );
  }
  // y grid and labels at powers of ten
  const yStep = yHi > 6 ? 2 : 1;
  for (let e = 0; e <= yHi; e += yStep) {
    const yy = r1(y(10 ** e));
    parts.push(`<line x1="${left}" x2="${left + pw}" y1="${yy}" y2="${yy}" class="grid"/>`);
    parts.push(
      `<text x="${left - 3}" y="${yy}" dy="3" text-anchor="end" class="tick">${e === 0 ? '1' : e <= 3 ? String(10 ** e) : `1e${e}`}</text>`,
    );
  }
  for (const tv of niceTicks(xMax)) {
    const xx = r1(x(tv));
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${top + ph}" y2="${top + ph + 3}" class="axis"/>`);
    parts.push(`<text x="${xx}" y="${h - 6}" text-anchor="middle" class="tick">${formatNumber(tv)}</text>`);
  }
  // one step path for all bins
  const base = top + ph;
  let d = `M${r1(x(0))} ${r1(base)}`;
  for (let i = 0; i < counts.length; i++) d += `V${r1(y(counts[i]))}H${r1(x((i + 1) * binWidth))}`;
  d += `V${r1(base)}Z`;
  parts.push(`<path d="${d}" class="bars"/>`);
  // markers: others first, chosen last so it is on top; a tensor without a scale has no chosen marker
  const order = REPORT_ALGORITHMS.filter((a) => a !== chosen).concat([chosen]);
  for (const a of order) {
    const v = t.thresholds[a];
    if (v === null) continue;
    const xx = r1(Math.min(x(v), left + pw - 0.5));
    const isChosen = a === chosen && t.amax !== null;
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${top}" y2="${base}" class="${isChosen ? 'marker chosen' : 'marker'}" stroke="${COLORS[a]}"><title>${a}${isChosen ? ' (chosen)' : ''}: amax ${formatNumber(v)}</title></line>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

function legendHtml(chosen: ReportAlgorithm, percentile: number | null): string {
  const items = REPORT_ALGORITHMS.map((a) => {
    const name = a === 'percentile' && percentile !== null ? `percentile ${formatNumber(percentile)}` : a;
    const cls = a === chosen ? 'legend-item chosen' : 'legend-item';
    return `<span class="${cls}"><svg width="22" height="10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" stroke="${COLORS[a]}" class="${a === chosen ? 'marker chosen' : 'marker'}"/></svg>${escapeHtml(name)}${a === chosen ? ' (chosen)' : ''}</span>`;
  });
  items.push(
    '<span class="legend-item"><span class="swatch bars-swatch"></span>count of |x| per bin (log scale)</span>',
  );
  items.push('<span class="legend-item"><span class="swatch clip-swatch"></span>clipped (above amax)</span>');
  return `<div class="legend">${items.join('')}</div>`;
}

function statusBadge(status: string): string {
  return `<span class="badge status-${escapeHtml(status)}">${escapeHtml(status)}</span>`;
}

function num(v: number | null): string {
  return v === null ? '' : String(v);
}

function tensorRow(t: ReportTensor, index: number, chosen: ReportAlgorithm): string {
  const thr = REPORT_ALGORITHMS.map((a) => {
    const v = t.thresholds[a];
    const cls = a === chosen ? ' class="chosen"' : '';
    return `<div${cls}><span class="dot" style="background:${COLORS[a]}"></span>${a} ${formatNumber(v)}</div>`;
  }).join('');
  const nonFinite =
    t.nanCount + t.infCount > 0
      ? `<div class="bad">NaN ${formatCount(t.nanCount)} · Inf ${formatCount(t.infCount)}</div>`
      : '';
  return [
    `<tr id="tensor-${index}" data-name="${escapeHtml(t.name.toLowerCase())}">`,
    `<td data-v="${index}">${index + 1}</td>`,
    `<td class="name" data-v="${escapeHtml(t.name)}"><code>${escapeHtml(t.name)}</code><div>${statusBadge(t.status)} <span class="kind">${t.kind}</span></div></td>`,
    `<td class="n" data-v="${num(t.amax)}">${formatNumber(t.amax)}<div class="sub">scale ${formatNumber(t.scale)}</div></td>`,
    `<td class="n" data-v="${num(t.max)}">${formatNumber(t.min)} … ${formatNumber(t.max)}</td>`,
    `<td class="n" data-v="${t.clippedShare}">${formatShare(t.clippedShare)}</td>`,
    `<td class="n" data-v="${t.count}">${formatCount(t.count)}${nonFinite}</td>`,
    `<td class="thr">${thr}</td>`,
    `<td class="plotcell">${renderHistogramSvg(t, chosen)}</td>`,
    '</tr>',
  ].join('');
}

function summaryHtml(r: CalibrationReport): string {
  const withScale = r.tensors.filter((t) => t.scale !== null).length;
  const algorithm = r.requestedAlgorithm === 'auto' ? `${r.algorithm} (chosen by auto)` : r.algorithm;
  const items: Array<[string, string]> = [
    ['Model', `<code>${escapeHtml(r.model.path)}</code>`],
    [
      'Inputs',
      r.model.inputs
        .map((i) => `<code>${escapeHtml(i.name)}</code> ${escapeHtml(i.dtype)}[${i.shape.join('×')}]`)
        .join('<br>') || '—',
    ],
    ['Backend', escapeHtml(r.backend)],
    [
      'Algorithm',
      escapeHtml(algorithm) +
        (r.percentile !== null ? ` <span class="sub">(percentile ${formatNumber(r.percentile)})</span>` : ''),
    ],
    ['Target TensorRT', escapeHtml(r.tensorrtVersion)],
    ['Batch size × batches', `${r.batchSize} × ${r.batches}`],
    [
      'Images used',
      formatCount(r.imagesUsed) +
        (r.skippedImages.length ? ` <span class="bad">(${formatCount(r.skippedImages.length)} skipped)</span>` : ''),
    ],
    [
      'Tensors with a scale',
      `${withScale} of ${r.tensors.length} calibrated` +
        (r.tensorsWithoutScale.length
          ? ` <span class="bad">(${r.tensorsWithoutScale.length} without scale)</span>`
          : ''),
    ],
    ['Total time', formatMs(r.timings.totalMs)],
    ['Created', `${escapeHtml(r.createdAt)} by ${escapeHtml(r.tool.name)} ${escapeHtml(r.tool.version)}`],
  ];
  return `<dl class="summary">${items.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
}

function timingsHtml(r: CalibrationReport): string {
  const t = r.timings;
  const rows: Array<[string, number]> = [
    ['Inference (FP32 model / TensorRT builder)', t.inferenceMs],
    ['Histograms', t.histogramMs],
    ['Thresholds (all algorithms)', t.thresholdsMs],
    ['Other (decode, preprocessing, I/O)', Math.max(0, t.totalMs - t.inferenceMs - t.histogramMs - t.thresholdsMs)],
    ['Total', t.totalMs],
  ];
  const total = t.totalMs > 0 ? t.totalMs : 1;
  const body = rows
    .map(
      ([k, v]) =>
        `<tr><td>${k}</td><td class="num">${formatMs(v)}</td><td><div class="bar" style="width:${Math.min(100, (v / total) * 100).toFixed(1)}%"></div></td></tr>`,
    )
    .join('');
  return `<table class="timings"><tbody>${body}</tbody></table>`;
}

function accuracyHtml(r: CalibrationReport): string {
  const a = r.accuracy;
  if (!a) return '';
  const parts: string[] = [
    `<section id="accuracy"><h2>Accuracy: FP32 vs INT8 (${formatCount(a.images)} held-out images)</h2>`,
  ];
  if (a.labelAccuracy) {
    parts.push(
      `<p>Top-1 accuracy with labels: FP32 ${formatShare(a.labelAccuracy.fp32)}, INT8 ${formatShare(a.labelAccuracy.int8)}.</p>`,
    );
  }
  parts.push(
    '<table><thead><tr><th>Output</th><th>Top-1 agreement</th><th>Cosine</th><th>Max |error|</th><th>Mean |error|</th></tr></thead><tbody>',
  );
  for (const o of a.perOutput) {
    parts.push(
      `<tr><td><code>${escapeHtml(o.name)}</code></td><td class="num">${o.top1Agreement === undefined ? '—' : formatShare(o.top1Agreement)}</td><td class="num">${formatNumber(o.cosine)}</td><td class="num">${formatNumber(o.maxAbsError)}</td><td class="num">${formatNumber(o.meanAbsError)}</td></tr>`,
    );
  }
  parts.push('</tbody></table>');
  if (a.algorithmComparison && a.algorithmComparison.length > 0) {
    const metricNames = [...new Set(a.algorithmComparison.flatMap((c) => Object.keys(c.metrics)))];
    parts.push('<h3>Algorithms compared</h3><table><thead><tr><th>Algorithm</th>');
    parts.push(metricNames.map((m) => `<th>${escapeHtml(m)}</th>`).join(''));
    parts.push('<th>Why</th></tr></thead><tbody>');
    for (const c of a.algorithmComparison) {
      parts.push(
        `<tr${c.chosen ? ' class="chosen-row"' : ''}><td><span class="dot" style="background:${COLORS[c.algorithm]}"></span>${escapeHtml(c.algorithm)}${c.chosen ? ' <b>(chosen)</b>' : ''}</td>`,
      );
      parts.push(metricNames.map((m) => `<td class="num">${formatNumber(c.metrics[m])}</td>`).join(''));
      parts.push(`<td>${escapeHtml(c.why)}</td></tr>`);
    }
    parts.push('</tbody></table>');
  }
  if (a.worstTensors.length > 0) {
    parts.push(
      `<h3>Tensors with the largest quantization error</h3><p class="sub">error = ${escapeHtml(a.errorMetric)}</p><table><thead><tr><th>Tensor</th><th>Error</th></tr></thead><tbody>`,
    );
    const index = new Map(r.tensors.map((t, i) => [t.name, i]));
    for (const w of a.worstTensors) {
      const i = index.get(w.name);
      const name = `<code>${escapeHtml(w.name)}</code>`;
      parts.push(
        `<tr><td>${i === undefined ? name : `<a href="#tensor-${i}">${name}</a>`}</td><td class="num">${formatNumber(w.error)}</td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  }
  parts.push('</section>');
  return parts.join('');
}

function nameReasonTable(rows: Array<{ name: string; reason: string }>, header: string): string {
  return `<table><thead><tr><th>${header}</th><th>Reason</th></tr></thead><tbody>${rows.map((x) => `<tr><td><code>${escapeHtml(x.name)}</code></td><td>${escapeHtml(x.reason)}</td></tr>`).join('')}</tbody></table>`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#5d6778;--line:#d9dee7;--bg:#fff;--soft:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;padding:20px 28px 60px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
code{font:12.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.sub{color:var(--muted);font-size:12px}.bad{color:#b42318}
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:8px;margin:14px 0}
.summary div{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:7px 10px}
.summary dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}.summary dd{margin:2px 0 0}
.warnings{background:#fff8e1;border:1px solid #f1c40f;border-radius:6px;padding:8px 14px 8px 30px;margin:12px 0}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;font-size:12.5px}td.num{text-align:right;font-variant-numeric:tabular-nums}
.timings td:last-child{width:260px}.bar{height:10px;background:#6c8ebf;border-radius:2px;margin-top:4px}
#tensors th[data-sort]{cursor:pointer;user-select:none}#tensors th[data-sort]:hover{background:#e8ecf2}
#tensors th.asc::after{content:" ▲"}#tensors th.desc::after{content:" ▼"}
#tensors td.name{max-width:300px}#tensors td.thr{font-size:12px;white-space:nowrap}#tensors td.thr .chosen{font-weight:700}
#tensors{width:100%}#tensors td.n{white-space:nowrap}#tensors td.plotcell{padding:2px 4px;width:468px}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px}
.badge{display:inline-block;font-size:11px;padding:0 6px;border-radius:9px;background:#e4f4e8;color:#1e6b34}
.badge.status-constant{background:#fff3cd;color:#7a5b00}
.badge.status-degenerate-zero,.badge.status-nan,.badge.status-inf,.badge.status-empty{background:#fde2e1;color:#b42318}
.kind{font-size:11px;color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0;font-size:12.5px}.legend-item{display:inline-flex;align-items:center;gap:5px}.legend-item.chosen{font-weight:700}
.swatch{display:inline-block;width:16px;height:10px}.bars-swatch{background:#8ea3bf}.clip-swatch{background:rgba(214,39,40,.12);border:1px solid rgba(214,39,40,.4)}
svg.plot{display:block;font:10px system-ui,sans-serif}
svg .frame{fill:#fbfcfd;stroke:#cfd5df}svg .grid{stroke:#e6e9ef}svg .axis{stroke:#8a93a3}svg .tick{fill:#5d6778}
svg .bars{fill:#8ea3bf;stroke:#5f7799;stroke-width:.6}svg .clip{fill:rgba(214,39,40,.09)}
svg .marker{stroke-width:1.3;stroke-dasharray:4 3}svg .marker.chosen{stroke-width:2.6;stroke-dasharray:none}
svg .empty{fill:#8a93a3;font-size:12px}
.filter{margin:6px 0 8px;padding:5px 8px;width:320px;border:1px solid var(--line);border-radius:4px;font:inherit}
.chosen-row{background:#eef6ee}
`;

/** Sorting by header click and filtering by name; reads only data-* attributes, never the report's strings. */
const SCRIPT = `
(function(){
  var table=document.getElementById('tensors');
  if(!table)return;
  var body=table.tBodies[0];
  var heads=table.querySelectorAll('th[data-sort]');
  Array.prototype.forEach.call(heads,function(th){
    th.addEventListener('click',function(){
      var col=Number(th.getAttribute('data-col'));
      var numeric=th.getAttribute('data-sort')==='num';
      var asc=!th.classList.contains('asc');
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute('data-v'),y=b.cells[col].getAttribute('data-v');
        var c;
        if(numeric){
          var nx=x===''?-Infinity:Number(x),ny=y===''?-Infinity:Number(y);
          c=nx<ny?-1:nx>ny?1:0;
        }else{c=x<y?-1:x>y?1:0;}
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  var filter=document.getElementById('tensor-filter');
  if(filter)filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase();
    Array.prototype.forEach.call(body.rows,function(r){r.style.display=(r.getAttribute('data-name')||'').indexOf(q)>=0?'':'none';});
  });
})();
`;

/**
 * Renders the report as one self-contained HTML page (no network access, no external resources). All names and
 * messages from the report are escaped. Size is about 4–5 KB per tensor (one SVG path of at most 256 steps).
 */
export function renderReportHtml(report: CalibrationReport): string {
  const r = report;
  const chosen = r.algorithm;
  const out: string[] = [];
  out.push('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">');
  out.push(
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
  );
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>Calibration report — ${escapeHtml(r.model.path)}</title><style>${CSS}</style></head><body>`);
  out.push(`<h1>INT8 calibration report</h1><div class="sub"><code>${escapeHtml(r.model.path)}</code></div>`);
  out.push(summaryHtml(r));
  if (r.warnings.length > 0)
    out.push(
      `<section id="warnings"><h2>Warnings (${r.warnings.length})</h2><ul class="warnings">${r.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>`,
    );
  out.push(accuracyHtml(r));
  out.push(`<section id="tensors-section"><h2>Tensors (${r.tensors.length})</h2>`);
  out.push(
    `<p class="sub">Histograms are of |x| over all calibration data (at most 256 bins shown; adjacent bins summed). Markers show the amax each algorithm would pick; the scale is amax / 127 of the <b>${escapeHtml(chosen)}</b> algorithm. Click a column header to sort.</p>`,
  );
  out.push(legendHtml(chosen, r.percentile));
  out.push(
    '<input id="tensor-filter" class="filter" type="search" placeholder="Filter tensors by name…" aria-label="Filter tensors by name">',
  );
  out.push('<table id="tensors"><thead><tr>');
  const heads: Array<[string, string | null]> = [
    ['#', 'num'],
    ['Tensor', 'text'],
    ['amax / scale', 'num'],
    ['min … max', 'num'],
    ['Clipped', 'num'],
    ['Values', 'num'],
    ['Thresholds (amax)', null],
    ['Histogram of |x| (log count)', null],
  ];
  heads.forEach(([label, sort], col) =>
    out.push(
      sort ? `<th data-sort="${sort}" data-col="${col}">${escapeHtml(label)}</th>` : `<th>${escapeHtml(label)}</th>`,
    ),
  );
  out.push('</tr></thead><tbody>');
  r.tensors.forEach((t, i) => out.push(tensorRow(t, i, chosen)));
  out.push('</tbody></table></section>');
  out.push(`<section id="without-scale"><h2>Tensors without a scale (${r.tensorsWithoutScale.length})</h2>`);
  out.push(
    r.tensorsWithoutScale.length === 0
      ? '<p>Every calibrated tensor has a scale.</p>'
      : `<p class="sub">TensorRT runs these in higher precision (FP16/FP32): "Missing scale and zero-point for tensor …".</p>${nameReasonTable(r.tensorsWithoutScale, 'Tensor')}`,
  );
  out.push('</section>');
  out.push(`<section id="skipped"><h2>Skipped images (${formatCount(r.skippedImages.length)})</h2>`);
  if (r.skippedImages.length === 0) out.push('<p>No image was skipped.</p>');
  else {
    out.push(
      nameReasonTable(
        r.skippedImages.slice(0, MAX_SKIPPED_SHOWN).map((s) => ({ name: s.file, reason: s.reason })),
        'File',
      ),
    );
    if (r.skippedImages.length > MAX_SKIPPED_SHOWN)
      out.push(
        `<p class="sub">… and ${formatCount(r.skippedImages.length - MAX_SKIPPED_SHOWN)} more in report.json.</p>`,
      );
  }
  out.push('</section>');
  out.push(`<section id="timings"><h2>Timings</h2>${timingsHtml(r)}</section>`);
  out.push(`<script>${SCRIPT}</script></body></html>\n`);
  return out.join('');
}
