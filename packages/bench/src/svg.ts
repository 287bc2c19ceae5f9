/**
 * The HTML report's charts, written as SVG text by hand: no chart library, no script, nothing fetched,
 * so a report opens offline and reads the same with JavaScript off. Three kinds:
 *
 * - `histogramSvg`: a task's latency distribution (ns per unit) as a histogram from the fastest
 *   sample to p99, the slowest 1% in one overflow bar, the median and mean marked, and a box plot
 *   (min, quartiles, median, p99) under the axis. Latency samples have long right tails, so when p99
 *   is more than 4× the fastest sample the axis and the bins are logarithmic;
 * - `targetSvg`: one target's value against its bound, the allowed side shaded, each round's value
 *   as a dot;
 * - `historySvg`: a value across saved runs (full runs filled, quick runs hollow, this run ringed),
 *   with the target's bound when there is one.
 *
 * Every mark carries a `<title>`, which browsers show as a tooltip without any script.
 * @module
 */
import { quantile } from './stats.js';

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

export const COLORS = {
  bar: '#4a78b5',
  overflow: '#b0863a',
  pass: '#2e7d32',
  fail: '#c62828',
  na: '#8a8a8a',
  passZone: '#e3f1e3',
  failZone: '#f8e1e1',
  axis: '#555',
  grid: '#e4e4e4',
  text: '#222',
  median: '#111',
  mean: '#7b3fa0',
} as const;

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** A number rounded for SVG coordinates (two decimals are plenty at these sizes). */
function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function text(
  x: number,
  y: number,
  s: string,
  opts: {
    anchor?: 'start' | 'middle' | 'end';
    size?: number;
    fill?: string;
    weight?: string;
    halo?: boolean;
  } = {},
): string {
  return `<text x="${n(x)}" y="${n(y)}" font-size="${opts.size ?? 11}" fill="${opts.fill ?? COLORS.text}"${
    opts.anchor ? ` text-anchor="${opts.anchor}"` : ''
  }${opts.weight ? ` font-weight="${opts.weight}"` : ''}${
    opts.halo ? ' stroke="#fff" stroke-width="3" paint-order="stroke"' : ''
  }>${escapeXml(s)}</text>`;
}

function svgOpen(w: number, h: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeXml(label)}" ${FONT}><title>${escapeXml(label)}</title>`;
}

/** Drops trailing zeros after a decimal point, for axis labels: `40.0 ns` → `40 ns`, `1.050×` → `1.05×`. */
export function compact(label: string): string {
  return label.replace(/\.(\d*?)0+(?=\D|$)/g, (_, d: string) => (d ? `.${d}` : ''));
}

/** Round, evenly spaced tick values covering [lo, hi] (1, 2, 5 × 10^k steps), about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi <= lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++)
    out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** Tick values for a logarithmic axis over [lo, hi]: 1, 2, 5 × 10^k inside the range. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0 && hi > lo)) return [lo];
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  return out;
}

/** A linear or logarithmic map from a value domain onto [a, b] pixels. */
export interface Scale {
  (v: number): number;
  readonly log: boolean;
  readonly ticks: readonly number[];
}

export function linearScale(d0: number, d1: number, a: number, b: number, tickCount = 5): Scale {
  const span = d1 - d0 || 1;
  const f = ((v: number) => a + ((v - d0) / span) * (b - a)) as Scale;
  return Object.assign(f, { log: false, ticks: niceTicks(d0, d1, tickCount) });
}

export function logScale(d0: number, d1: number, a: number, b: number): Scale {
  const l0 = Math.log(d0);
  const span = Math.log(d1) - l0 || 1;
  const f = ((v: number) => a + ((Math.log(Math.max(v, d0 * 1e-3)) - l0) / span) * (b - a)) as Scale;
  return Object.assign(f, { log: true, ticks: logTicks(d0, d1) });
}

/** One histogram bin: [lo, hi) and how many samples fell in it. */
export interface Bin {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
}

/**
 * Bins ascending `samples` between `lo` and `hi` (inclusive), equal width on a linear axis or equal
 * ratio on a logarithmic one; samples above `hi` are not binned (the caller shows them apart).
 */
export function binSamples(
  samples: readonly number[],
  lo: number,
  hi: number,
  bins: number,
  log: boolean,
): Bin[] {
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++)
    edges.push(log ? lo * (hi / lo) ** (i / bins) : lo + ((hi - lo) * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of samples) {
    if (v < lo || v > hi) continue;
    let i = log
      ? Math.floor((Math.log(v / lo) / Math.log(hi / lo)) * bins)
      : Math.floor(((v - lo) / (hi - lo)) * bins);
    if (!Number.isFinite(i)) i = 0;
    counts[Math.min(bins - 1, Math.max(0, i))]! += 1;
  }
  return counts.map((count, i) => ({ lo: edges[i]!, hi: edges[i + 1]!, count }));
}

/** What the histogram needs of a task. */
export interface HistogramInput {
  readonly name: string;
  /** Ascending, ns per unit. */
  readonly samples: readonly number[];
  readonly mean: number;
  readonly unit: string;
}

/** A task's latency distribution; see the module comment. `format` renders a value in ns. */
export function histogramSvg(t: HistogramInput, format: (ns: number) => string): string {
  const W = 680;
  const H = 250;
  const L = 58;
  const R = 72; // room for the overflow bar
  const T = 36;
  const plotBottom = H - 88;
  const s = t.samples;
  const label = `${t.name}: distribution of ${s.length} samples, ns per ${t.unit}`;
  if (s.length === 0) return `${svgOpen(W, 40, label)}${text(L, 24, 'no samples')}</svg>`;
  const min = s[0]!;
  const max = s[s.length - 1]!;
  const p25 = quantile(s, 0.25);
  const p50 = quantile(s, 0.5);
  const p75 = quantile(s, 0.75);
  const p99 = quantile(s, 0.99);
  let lo = min;
  let hi = p99 > min ? p99 : max;
  if (!(hi > lo)) {
    // Every sample equal (or one sample): a narrow window around it.
    lo = min * 0.95;
    hi = min * 1.05 || 1;
  }
  const log = lo > 0 && hi / lo > 4;
  const inside = s.filter((v) => v >= lo && v <= hi).length;
  const overflow = s.filter((v) => v > hi).length;
  const nBins = Math.min(40, Math.max(8, Math.ceil(Math.sqrt(inside))));
  const bins = binSamples(s, lo, hi, nBins, log);
  const x = log ? logScale(lo, hi, L, W - R) : linearScale(lo, hi, L, W - R, 6);
  const maxCount = Math.max(1, overflow, ...bins.map((b) => b.count));
  const y = linearScale(0, maxCount, plotBottom, T, 4);
  const out: string[] = [svgOpen(W, H, label)];
  // Grid and y axis (counts).
  for (const v of y.ticks.filter((v) => Number.isInteger(v))) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="${COLORS.grid}"/>`,
      text(L - 6, y(v) + 4, String(v), { anchor: 'end', size: 10 }),
    );
  }
  out.push(text(8, T - 8, 'samples', { size: 10, fill: COLORS.axis }));
  // Bars.
  for (const b of bins) {
    if (b.count === 0) continue;
    const x0 = x(b.lo);
    const x1 = x(b.hi);
    out.push(
      `<rect x="${n(x0 + 0.5)}" y="${n(y(b.count))}" width="${n(Math.max(1, x1 - x0 - 1))}" height="${n(plotBottom - y(b.count))}" fill="${COLORS.bar}"><title>${escapeXml(`${format(b.lo)} – ${format(b.hi)}: ${b.count} samples`)}</title></rect>`,
    );
  }
  // The slowest 1%, apart: their values would stretch the axis and hide the body.
  const ox = W - R + 14;
  if (overflow > 0) {
    out.push(
      `<rect x="${ox}" y="${n(y(overflow))}" width="26" height="${n(plotBottom - y(overflow))}" fill="${COLORS.overflow}"><title>${escapeXml(`${overflow} samples above p99 (${format(hi)}), up to ${format(max)}`)}</title></rect>`,
    );
  }
  out.push(
    text(ox + 13, plotBottom + 14, '> p99', { anchor: 'middle', size: 10 }),
    text(ox + 13, plotBottom + 26, String(overflow), { anchor: 'middle', size: 10, fill: COLORS.axis }),
  );
  // x axis.
  out.push(
    `<line x1="${L}" x2="${W - R}" y1="${plotBottom}" y2="${plotBottom}" stroke="${COLORS.axis}"/>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${plotBottom}" stroke="${COLORS.axis}"/>`,
  );
  const xt = x.ticks.length > 9 ? x.ticks.filter((_, i) => i % 2 === 0) : x.ticks;
  for (const v of xt) {
    out.push(
      `<line x1="${n(x(v))}" x2="${n(x(v))}" y1="${plotBottom}" y2="${plotBottom + 4}" stroke="${COLORS.axis}"/>`,
      text(x(v), plotBottom + 15, compact(format(v)), { anchor: 'middle', size: 10 }),
    );
  }
  out.push(
    text((L + W - R) / 2, plotBottom + 30, `ns per ${t.unit}${log ? ' (log scale)' : ''}`, {
      anchor: 'middle',
      size: 10,
      fill: COLORS.axis,
    }),
  );
  // Median and mean.
  const marker = (v: number, color: string, name: string, dash: string, row: number): void => {
    if (v < lo || v > hi) {
      out.push(
        text(W - R, 12 + row * 12, `${name} ${format(v)} (off the axis)`, {
          anchor: 'end',
          size: 10,
          fill: color,
        }),
      );
      return;
    }
    out.push(
      `<line x1="${n(x(v))}" x2="${n(x(v))}" y1="${T - 4}" y2="${plotBottom}" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''}><title>${escapeXml(`${name} ${format(v)}`)}</title></line>`,
    );
    const right = x(v) < (L + W - R) / 2;
    out.push(
      text(x(v) + (right ? 4 : -4), 12 + row * 12, `${name} ${format(v)}`, {
        anchor: right ? 'start' : 'end',
        size: 10,
        fill: color,
      }),
    );
  };
  marker(p50, COLORS.median, 'p50', '', 0);
  marker(t.mean, COLORS.mean, 'mean', '4 3', 1);
  // Box plot under the axis: whiskers min–p99, box p25–p75, median.
  const by = plotBottom + 50;
  const clampX = (v: number): number => x(Math.min(hi, Math.max(lo, v)));
  out.push(
    `<g><title>${escapeXml(`min ${format(min)}, p25 ${format(p25)}, p50 ${format(p50)}, p75 ${format(p75)}, p99 ${format(p99)}, max ${format(max)}`)}</title>`,
    `<line x1="${n(clampX(min))}" x2="${n(clampX(p99))}" y1="${by}" y2="${by}" stroke="${COLORS.axis}"/>`,
    `<line x1="${n(clampX(min))}" x2="${n(clampX(min))}" y1="${by - 5}" y2="${by + 5}" stroke="${COLORS.axis}"/>`,
    `<line x1="${n(clampX(p99))}" x2="${n(clampX(p99))}" y1="${by - 5}" y2="${by + 5}" stroke="${COLORS.axis}"/>`,
    `<rect x="${n(clampX(p25))}" y="${by - 8}" width="${n(Math.max(1, clampX(p75) - clampX(p25)))}" height="16" fill="#dfe8f4" stroke="${COLORS.bar}"/>`,
    `<line x1="${n(clampX(p50))}" x2="${n(clampX(p50))}" y1="${by - 8}" y2="${by + 8}" stroke="${COLORS.median}" stroke-width="2"/>`,
    '</g>',
    text(
      L,
      by + 22,
      `min ${format(min)} · p25 ${format(p25)} · p50 ${format(p50)} · p75 ${format(p75)} · p99 ${format(p99)} · max ${format(max)}`,
      {
        size: 10,
        fill: COLORS.axis,
      },
    ),
  );
  out.push('</svg>');
  return out.join('');
}

/** What the target chart needs. */
export interface TargetInput {
  readonly text: string;
  readonly op: '>=' | '<=';
  readonly bound: number;
  readonly value?: number;
  readonly rounds?: readonly number[];
  readonly pass: boolean | null;
}

/** One target: its value as a bar, its bound as a line, the allowed side shaded, rounds as dots. */
export function targetSvg(q: TargetInput, format: (v: number) => string): string {
  const W = 680;
  const H = 74;
  const L = 24;
  const R = 24;
  const top = 18;
  const barH = 16;
  const label = `${q.text}: ${q.value === undefined ? 'not measured' : format(q.value)}, needs ${q.op} ${format(q.bound)}`;
  const values = [q.bound, ...(q.value !== undefined ? [q.value] : []), ...(q.rounds ?? [])].filter((v) =>
    Number.isFinite(v),
  );
  const xmax = Math.max(...values) * 1.18 || 1;
  const x = linearScale(0, xmax, L, W - R, 6);
  const color = q.pass === null ? COLORS.na : q.pass ? COLORS.pass : COLORS.fail;
  const out: string[] = [svgOpen(W, H, label)];
  const bx = x(q.bound);
  const [okFrom, okTo] = q.op === '<=' ? [L, bx] : [bx, W - R];
  const [badFrom, badTo] = q.op === '<=' ? [bx, W - R] : [L, bx];
  out.push(
    `<rect x="${n(okFrom)}" y="${top - 6}" width="${n(okTo - okFrom)}" height="${barH + 20}" fill="${COLORS.passZone}"><title>meets the target</title></rect>`,
    `<rect x="${n(badFrom)}" y="${top - 6}" width="${n(badTo - badFrom)}" height="${barH + 20}" fill="${COLORS.failZone}"><title>misses the target</title></rect>`,
  );
  if (q.value !== undefined && Number.isFinite(q.value)) {
    out.push(
      `<rect x="${L}" y="${top}" width="${n(Math.max(1, x(q.value) - L))}" height="${barH}" fill="${color}"><title>${escapeXml(format(q.value))}</title></rect>`,
    );
    // Right of the bar's end, or inside it near the right edge; a white halo keeps it readable
    // where it crosses the bound's line.
    const inside = x(q.value) > W - R - 70;
    out.push(
      text(inside ? x(q.value) - 4 : x(q.value) + 4, top + 12, format(q.value), {
        anchor: inside ? 'end' : 'start',
        fill: inside ? '#fff' : COLORS.text,
        weight: 'bold',
        halo: !inside,
      }),
    );
  } else {
    out.push(text(L + 4, top + 12, 'not measured here', { fill: COLORS.na }));
  }
  (q.rounds ?? []).forEach((v, i) => {
    out.push(
      `<circle cx="${n(x(v))}" cy="${top + barH + 7}" r="3" fill="#fff" stroke="${COLORS.text}"><title>${escapeXml(`round ${i + 1}: ${format(v)}`)}</title></circle>`,
    );
  });
  out.push(
    `<line x1="${n(bx)}" x2="${n(bx)}" y1="${top - 10}" y2="${top + barH + 16}" stroke="${COLORS.text}" stroke-width="2" stroke-dasharray="5 3"/>`,
    text(bx, top - 11, `target ${q.op === '<=' ? '≤' : '≥'} ${compact(format(q.bound))}`, {
      anchor: bx > W - 120 ? 'end' : 'middle',
      size: 10,
    }),
    `<line x1="${L}" x2="${W - R}" y1="${top + barH + 14}" y2="${top + barH + 14}" stroke="${COLORS.axis}"/>`,
  );
  for (const v of x.ticks)
    out.push(text(x(v), H - 4, compact(format(v)), { anchor: 'middle', size: 9, fill: COLORS.axis }));
  out.push('</svg>');
  return out.join('');
}

/** One run's value in a history chart. */
export interface HistoryPoint {
  readonly date: string;
  /** Absent when the run did not measure it (the line breaks there). */
  readonly value?: number;
  readonly quick: boolean;
  /** The run this report is about. */
  readonly current: boolean;
  /** A run with an injected slowdown (a test of compare): drawn as a cross, off the line. */
  readonly injected?: boolean;
  /** Tooltip text beyond the date and value (machine, load). */
  readonly detail: string;
}

/** A value across runs, oldest first. */
export function historySvg(
  title: string,
  points: readonly HistoryPoint[],
  format: (v: number) => string,
  threshold?: { readonly op: '>=' | '<='; readonly bound: number },
): string {
  const W = 680;
  const H = 160;
  const L = 64;
  const R = 20;
  const T = 16;
  const B = H - 40;
  const label = `${title} across ${points.length} runs`;
  const vals = points.map((p) => p.value).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (vals.length === 0)
    return `${svgOpen(W, 40, label)}${text(L, 24, 'not measured in any saved run')}</svg>`;
  const ymax = Math.max(...vals, threshold?.bound ?? 0) * 1.15 || 1;
  const y = linearScale(0, ymax, B, T, 4);
  const step = points.length > 1 ? (W - L - R - 20) / (points.length - 1) : 0;
  const px = (i: number): number => (points.length > 1 ? L + 10 + i * step : (L + W - R) / 2);
  const out: string[] = [svgOpen(W, H, label)];
  for (const v of y.ticks)
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="${COLORS.grid}"/>`,
      text(L - 6, y(v) + 4, compact(format(v)), { anchor: 'end', size: 10 }),
    );
  out.push(
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${B}" stroke="${COLORS.axis}"/>`,
    `<line x1="${L}" x2="${W - R}" y1="${B}" y2="${B}" stroke="${COLORS.axis}"/>`,
  );
  if (threshold) {
    const ty = y(threshold.bound);
    // At the left, away from the newest run's ring, and on the side of the line the values are not
    // (above it when below would run into the axis).
    const middle = quantile(
      [...vals].sort((a, b) => a - b),
      0.5,
    );
    const below = middle > threshold.bound && ty + 14 < B;
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${n(ty)}" y2="${n(ty)}" stroke="${COLORS.fail}" stroke-dasharray="5 3"/>`,
      text(
        L + 24,
        ty + (below ? 12 : -4),
        `target ${threshold.op === '<=' ? '≤' : '≥'} ${compact(format(threshold.bound))}`,
        {
          size: 10,
          fill: COLORS.fail,
          halo: true,
        },
      ),
    );
  }
  // The line, broken where a run did not measure the value; runs with an injected slowdown are
  // tests of compare, not measurements, and stay off it.
  const onLine = (p: HistoryPoint): p is HistoryPoint & { value: number } =>
    p.value !== undefined && Number.isFinite(p.value) && !p.injected;
  let path = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.injected) return;
    if (!onLine(p)) {
      pen = false;
      return;
    }
    path += `${pen ? 'L' : 'M'}${n(px(i))} ${n(y(p.value))} `;
    pen = true;
  });
  if (path) out.push(`<path d="${path.trim()}" fill="none" stroke="${COLORS.bar}" stroke-width="1.5"/>`);
  points.forEach((p, i) => {
    if (p.value === undefined || !Number.isFinite(p.value)) return;
    const tip = `${p.date}${p.quick ? ' (quick)' : ''}${p.injected ? ' (injected slowdown: a test run)' : ''}${p.current ? ' — this run' : ''}: ${format(p.value)}; ${p.detail}`;
    const cx = px(i);
    const cy = y(p.value);
    if (p.injected) {
      out.push(
        `<path d="M${n(cx - 4)} ${n(cy - 4)} L${n(cx + 4)} ${n(cy + 4)} M${n(cx - 4)} ${n(cy + 4)} L${n(cx + 4)} ${n(cy - 4)}" stroke="${COLORS.fail}" stroke-width="2"><title>${escapeXml(tip)}</title></path>`,
      );
    } else {
      const fill = p.quick ? '#fff' : COLORS.bar;
      out.push(
        `<circle cx="${n(cx)}" cy="${n(cy)}" r="${p.current ? 5 : 3.5}" fill="${fill}" stroke="${COLORS.bar}" stroke-width="1.5"><title>${escapeXml(tip)}</title></circle>`,
      );
    }
    if (p.current)
      out.push(
        `<circle cx="${n(cx)}" cy="${n(cy)}" r="8.5" fill="none" stroke="${COLORS.median}" stroke-width="1"/>`,
      );
  });
  // Date labels: at most six, always the first and the last; with seconds when minutes repeat.
  const every = Math.max(1, Math.ceil(points.length / 6));
  const minutes = points.map((p) => shortDate(p.date));
  const seconds = new Set(minutes).size < minutes.length;
  points.forEach((p, i) => {
    if (i % every !== 0 && i !== points.length - 1) return;
    if (i !== points.length - 1 && points.length - 1 - i < every / 2) return;
    const anchor =
      points.length > 1 && i === 0
        ? 'start'
        : points.length > 1 && i === points.length - 1
          ? 'end'
          : 'middle';
    out.push(
      text(px(i) + (anchor === 'start' ? -6 : anchor === 'end' ? 6 : 0), B + 14, shortDate(p.date, seconds), {
        anchor,
        size: 9,
        fill: COLORS.axis,
      }),
    );
  });
  out.push(
    text(
      (L + W - R) / 2,
      H - 6,
      'saved runs, oldest first (filled: full run, hollow: quick run, ×: injected slowdown, ringed: this run)',
      {
        anchor: 'middle',
        size: 10,
        fill: COLORS.axis,
      },
    ),
    '</svg>',
  );
  return out.join('');
}

/** `2026-12-07T02:38:47.478Z` → `12-07 02:38`, or `12-07 02:38:47` with seconds (UTC). */
export function shortDate(iso: string, withSeconds = false): string {
  const m = /^\d{4}-(\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?/.exec(iso);
  return m ? `${m[1]} ${m[2]}${withSeconds ? (m[3] ?? '') : ''}` : iso;
}
