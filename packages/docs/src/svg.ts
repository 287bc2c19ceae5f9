/**
 * Draws a derived lifecycle as SVG: states left to right in the order the exploration found them, each a
 * box that also lists the rows that leave it unchanged; transitions to the right arc above the boxes,
 * transitions to the left arc below. Every label links to the row on its function page.
 * @module
 */
import { html, raw } from './html.js';
import { relUrl } from './layout.js';
import type { Lifecycle, LifeEdge } from './lifecycle.js';

const FONT = 12;
/** Advance of the monospace font (DejaVu Sans Mono and its kin: 0.6 em). */
const CHAR = FONT * 0.61;
const LINE = 16;
const TITLE_H = 30;

interface Placed {
  readonly from: number;
  readonly to: number;
  readonly edges: readonly LifeEdge[];
}

function edgeLabel(e: LifeEdge): string {
  return `${e.call} · ${e.row.id}${e.row.dangerous ? ' ⚠' : ''}`;
}

function loopLabel(e: LifeEdge): string {
  const ret = e.row.ret.kind === 'not-success' ? '✗' : e.row.ret.kind === 'any' ? '?' : '';
  const code = e.row.ret.kind === 'code' && e.ret !== 'HV_SUCCESS' ? ` → ${e.ret}` : '';
  return `${e.call} · ${e.row.id}${code}${ret ? ` ${ret}` : ''}${e.row.dangerous ? ' ⚠' : ''}`;
}

function edgeClass(e: LifeEdge): string {
  if (e.row.dangerous) return 'lbl danger';
  if (e.row.ret.kind === 'not-success') return 'lbl fail';
  if (e.row.ret.kind === 'code' && e.ret !== 'HV_SUCCESS') return 'lbl fail';
  if (e.row.ret.kind === 'any') return 'lbl any';
  return 'lbl ok';
}

/** The link of an edge's row, from the page that embeds the SVG. */
function rowHref(from: string, lc: Lifecycle, e: LifeEdge): string {
  return relUrl(from, `calls/${lc.arch}/${e.call}.html#row-${e.row.id}`);
}

/** Renders a lifecycle as an inline SVG element, with links relative to the page at `from`. */
export function lifecycleSvg(lc: Lifecycle, from: string): string {
  const used = lc.states.filter((s) => lc.edges.some((e) => e.from === s.id || e.to === s.id));
  const index = new Map(used.map((s, i) => [s.id, i]));
  const loops = used.map((s) => lc.edges.filter((e) => e.from === s.id && e.to === s.id));
  const boxH = loops.map((l) => TITLE_H + (l.length > 0 ? 8 + l.length * LINE : 0) + 6);
  const widest = Math.max(0, ...loops.flat().map((e) => loopLabel(e).length));
  const BOX_W = Math.max(200, Math.ceil(widest * CHAR) + 28);
  const PITCH = BOX_W + 80;
  const cx = (i: number): number => 40 + BOX_W / 2 + i * PITCH;

  const pairs = new Map<string, Placed>();
  for (const e of lc.edges) {
    if (e.from === e.to) continue;
    const from = index.get(e.from) ?? 0;
    const to = index.get(e.to) ?? 0;
    const key = `${from}>${to}`;
    const p = pairs.get(key) ?? { from, to, edges: [] };
    pairs.set(key, { ...p, edges: [...p.edges, e] });
  }
  const forward = [...pairs.values()]
    .filter((p) => p.to > p.from)
    .sort((a, b) => a.to - a.from - (b.to - b.from));
  const backward = [...pairs.values()]
    .filter((p) => p.to < p.from)
    .sort((a, b) => a.from - a.to - (b.from - b.to));

  // Coordinates before the final shift: box tops at y = 0.
  const maxBottom = Math.max(...boxH);
  const arcs: string[] = [];
  const labels: string[] = [];
  let minY = 0;
  let maxY = maxBottom;

  const placeAll = (list: readonly Placed[], above: boolean): void => {
    const placed: { lo: number; hi: number; extent: number }[] = [];
    for (const p of list) {
      const x1 = cx(p.from) + (above ? BOX_W / 4 : -BOX_W / 4);
      const x2 = cx(p.to) + (above ? -BOX_W / 4 : BOX_W / 4);
      const lo = Math.min(cx(p.from), cx(p.to));
      const hi = Math.max(cx(p.from), cx(p.to));
      const y1 = above ? 0 : (boxH[p.from] ?? maxBottom);
      const y2 = above ? 0 : (boxH[p.to] ?? maxBottom);
      const inner = placed.filter((q) => q.lo >= lo - 1 && q.hi <= hi + 1).map((q) => q.extent);
      const base = above ? Math.min(0, ...inner) : Math.max(maxBottom, ...inner);
      const apex = above ? base - 26 : base + 26;
      const ctrl = 2 * apex - (y1 + y2) / 2;
      arcs.push(
        `<path class="arc" d="M ${x1} ${y1} Q ${(x1 + x2) / 2} ${ctrl} ${x2} ${y2}" marker-end="url(#arrow-${lc.arch}-${lc.id})"/>`,
      );
      const mid = (x1 + x2) / 2;
      p.edges.forEach((e, k) => {
        const y = above ? apex - 8 - (p.edges.length - 1 - k) * LINE : apex + 16 + k * LINE;
        const text = edgeLabel(e);
        const w = text.length * CHAR + 8;
        labels.push(
          `<a href="${escapeXml(rowHref(from, lc, e))}"><rect class="lblbg" x="${mid - w / 2}" y="${y - FONT}" width="${w}" height="${LINE}" rx="3"/><text class="${edgeClass(e)}" x="${mid}" y="${y}" text-anchor="middle">${escapeXml(text)}</text></a>`,
        );
      });
      const extent = above
        ? apex - 8 - (p.edges.length - 1) * LINE - FONT - 4
        : apex + 16 + (p.edges.length - 1) * LINE + 6;
      placed.push({ lo, hi, extent });
      if (above) minY = Math.min(minY, extent);
      else maxY = Math.max(maxY, extent);
    }
  };
  placeAll(forward, true);
  placeAll(backward, false);

  const boxes = used.map((s, i) => {
    const x = cx(i) - BOX_W / 2;
    const lines = (loops[i] ?? []).map((e, k) => {
      const text = loopLabel(e);
      return `<a href="${escapeXml(rowHref(from, lc, e))}"><text class="${edgeClass(e)} loop" x="${x + 12}" y="${TITLE_H + 18 + k * LINE}">${escapeXml(text)}</text></a>`;
    });
    const sep =
      lines.length > 0
        ? `<line class="sep" x1="${x + 8}" x2="${x + BOX_W - 8}" y1="${TITLE_H}" y2="${TITLE_H}"/>`
        : '';
    return `<g class="state${i === 0 ? ' initial' : ''}"><rect x="${x}" y="0" width="${BOX_W}" height="${boxH[i]}" rx="10"/><text class="name" x="${cx(i)}" y="20" text-anchor="middle">${escapeXml(s.label)}</text>${sep}${lines.join('')}</g>`;
  });
  const start = `<circle class="start" cx="${cx(0) - BOX_W / 2 - 26}" cy="15" r="6"/><path class="arc" d="M ${cx(0) - BOX_W / 2 - 20} 15 L ${cx(0) - BOX_W / 2 - 2} 15" marker-end="url(#arrow-${lc.arch}-${lc.id})"/>`;

  const width = 40 + (used.length - 1) * PITCH + BOX_W + 40;
  const top = minY - 12;
  const height = maxY - top + 12;
  const body = [...arcs, ...boxes, ...labels, start].join('\n');
  return html`<svg class="lifecycle" xmlns="http://www.w3.org/2000/svg" viewBox="0 ${top} ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${`t-${lc.arch}-${lc.id}`}">
<title id="${`t-${lc.arch}-${lc.id}`}">${lc.title}: states and the rows that move between them</title>
<defs><marker id="${`arrow-${lc.arch}-${lc.id}`}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="head"/></marker></defs>
${raw(body)}
</svg>`.value;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A standalone SVG document (styles inlined) for the same diagram, with links relative to `from`. */
export function standaloneSvg(lc: Lifecycle, from: string): string {
  const svg = lifecycleSvg(lc, from);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svg.replace('<defs>', `<style>${SVG_CSS}</style><defs>`)}\n`;
}

/** The diagram styles, shared by the site's stylesheet and the standalone files. */
export const SVG_CSS = `
svg.lifecycle{font-family:ui-monospace,SFMono-Regular,Menlo,"DejaVu Sans Mono",monospace;font-size:${FONT}px;max-width:100%;height:auto}
svg.lifecycle .state rect{fill:#f4f7fd;stroke:#3d5a99;stroke-width:1.5}
svg.lifecycle .state.initial rect{stroke-width:2.5}
svg.lifecycle .state .name{font-family:system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;font-weight:700;font-size:14px;fill:#14213d}
svg.lifecycle .sep{stroke:#c9d3e8}
svg.lifecycle .arc{fill:none;stroke:#3d5a99;stroke-width:1.5}
svg.lifecycle .head{fill:#3d5a99}
svg.lifecycle .start{fill:#14213d}
svg.lifecycle .lblbg{fill:#ffffff;opacity:.9}
svg.lifecycle .lbl{fill:#14213d}
svg.lifecycle .lbl.ok{fill:#166534}
svg.lifecycle .lbl.fail{fill:#9a3412}
svg.lifecycle .lbl.any{fill:#475569;font-style:italic}
svg.lifecycle .lbl.danger{fill:#b91c1c;font-weight:700}
svg.lifecycle a:hover text{text-decoration:underline}
`;
