/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched) with the
 * run's machine and settings, the targets against their bounds, every task's latency distribution,
 * and each task's median and each target's value across the runs saved in the history directory.
 * @module
 */
import { formatNs, formatRate } from './format.js';
import type { HistoryEntry } from './output.js';
import {
  type BenchReport,
  describeOptions,
  formatBound,
  type TaskReport,
  taskNotes,
  verdictTag,
} from './report.js';
import { escapeXml as esc, type HistoryPoint, histogramSvg, historySvg, targetSvg } from './svg.js';
import { formatTargetValue, type RatioReport } from './targets.js';

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
  margin: 24px auto; max-width: 760px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 2px; font-family: ui-monospace, Menlo, Consolas, monospace; }
p { margin: 4px 0; }
.meta { color: #555; font-size: 13px; }
.banner { padding: 8px 12px; border-radius: 4px; margin: 10px 0; font-weight: 600; }
.quick { background: #fff4d6; border: 1px solid #e0b84a; }
.inject { background: #fde2e2; border: 1px solid #c62828; }
.load { background: #eef2f7; border: 1px solid #a9b8cc; font-weight: normal; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace; }
.tag { display: inline-block; min-width: 40px; text-align: center; border-radius: 3px; color: #fff;
  font-size: 12px; font-weight: 700; padding: 0 5px; margin-right: 6px; }
.PASS { background: #2e7d32; } .FAIL { background: #c62828; } .na { background: #8a8a8a; }
.desc { color: #555; font-size: 12px; }
.note { color: #8a5a00; font-size: 12px; }
svg { display: block; max-width: 100%; height: auto; margin: 4px 0; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
`;

/** The report's history: the saved runs (the current one among them or not) and where they live. */
export interface HtmlHistory {
  readonly dir: string;
  readonly entries: readonly HistoryEntry[];
  readonly problems?: readonly string[];
}

function tag(q: RatioReport): string {
  const v = verdictTag(q);
  return `<span class="tag ${v === 'n/a' ? 'na' : v}">${v}</span>`;
}

function taskTable(tasks: readonly TaskReport[]): string {
  const rows = tasks
    .map(
      (t) =>
        `<tr><td><a href="#task-${esc(t.name)}">${esc(t.name)}</a></td><td>${esc(t.unit)}</td><td>${formatNs(t.mean)}</td><td>${formatNs(t.p50)}</td><td>${formatNs(t.p99)}</td><td>${t.samplesCount}</td><td>${formatRate(t.opsPerSecond)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>task</th><th>unit</th><th>mean</th><th>p50</th><th>p99</th><th>samples</th><th>units/s</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function targetSection(q: RatioReport): string {
  const value = q.value === undefined ? 'not measured' : formatTargetValue(q, q.value);
  const how =
    q.method === 'median-of-rounds' && q.rounds
      ? `median of ${q.rounds.length} interleaved rounds (dots: each round)`
      : q.rounds && q.rounds.length > 1
        ? `p50 of the samples (dots: each round's p50)`
        : 'p50 of the samples';
  const format = (v: number): string => formatTargetValue(q, v);
  return [
    `<h3>${tag(q)}${esc(q.name)}</h3>`,
    `<p>${esc(q.target.text)}: <b>${esc(value)}</b>, needs ${esc(formatBound(q).replace('<=', '≤').replace('>=', '≥'))}; ${esc(how)}.</p>`,
    targetSvg(
      {
        text: q.target.text,
        op: q.target.op,
        bound: q.target.bound,
        ...(q.value !== undefined ? { value: q.value } : {}),
        ...(q.rounds ? { rounds: q.rounds } : {}),
        pass: q.pass,
      },
      format,
    ),
    `<p class="desc">${esc(q.description)}${q.denominator ? ` — ${esc(q.numerator)} / ${esc(q.denominator)}` : ` — ${esc(q.numerator)}`}</p>`,
    q.reason ? `<p class="note">${esc(q.reason)}</p>` : '',
  ].join('\n');
}

function taskSection(t: TaskReport): string {
  return [
    `<h3 id="task-${esc(t.name)}">${esc(t.name)}</h3>`,
    `<p class="desc">${esc(t.description)}</p>`,
    `<p>p50 <b>${formatNs(t.p50)}</b> per ${esc(t.unit)} (${formatRate(1e9 / t.p50)}), mean ${formatNs(t.mean)}, p99 ${formatNs(t.p99)}, ${t.samplesCount} samples of ${t.unitsPerIteration} ${esc(t.unit)}s each${t.roundP50s ? ` in ${t.roundP50s.length} rounds` : ''}.</p>`,
    histogramSvg({ name: t.name, samples: t.samples, mean: t.mean, unit: t.unit }, formatNs),
    ...taskNotes(t).map((n) => `<p class="note">${esc(n)}</p>`),
  ].join('\n');
}

function detail(r: BenchReport): string {
  return `${r.machine.cpuModel} × ${r.machine.cpuCount}, load ${r.machine.loadAverage[0] ?? '?'}${r.options.injectedSlowdown ? ', INJECTED SLOWDOWN' : ''}`;
}

/** The runs to plot: the saved ones plus the current one when it is not among them, oldest first. */
function runsOf(report: BenchReport, history: HtmlHistory): { report: BenchReport; current: boolean }[] {
  const runs = history.entries.map((e) => ({ report: e.report, current: e.report.date === report.date }));
  if (!runs.some((r) => r.current)) runs.push({ report, current: true });
  return runs.sort((a, b) => Date.parse(a.report.date) - Date.parse(b.report.date));
}

/** Most runs a history chart shows (the newest). */
export const HISTORY_LIMIT = 60;

function historySection(report: BenchReport, history: HtmlHistory): string {
  const all = runsOf(report, history);
  const runs = all.slice(-HISTORY_LIMIT);
  const out: string[] = [
    `<p>${all.length} run${all.length === 1 ? '' : 's'} in <code>${esc(history.dir)}</code>${all.length > runs.length ? `, the newest ${runs.length} shown` : ''}. Compare like with like: runs on other machines or under load (hover a point) are not comparable.</p>`,
  ];
  for (const p of history.problems ?? []) out.push(`<p class="note">skipped: ${esc(p)}</p>`);
  const point = (r: { report: BenchReport; current: boolean }, value: number | undefined): HistoryPoint => ({
    date: r.report.date,
    ...(value !== undefined ? { value } : {}),
    quick: r.report.options.quick === true,
    current: r.current,
    ...(r.report.options.injectedSlowdown ? { injected: true } : {}),
    detail: detail(r.report),
  });
  const taskNames = [...new Set(runs.flatMap((r) => r.report.tasks.map((t) => t.name)))];
  out.push('<h3>Task medians</h3>');
  for (const name of taskNames) {
    const unit = runs.flatMap((r) => r.report.tasks.filter((t) => t.name === name))[0]?.unit ?? 'unit';
    out.push(
      `<p><code>${esc(name)}</code>: p50 ns per ${esc(unit)}</p>`,
      historySvg(
        `${name}: p50 ns per ${unit}`,
        runs.map((r) => point(r, r.report.tasks.find((t) => t.name === name)?.p50)),
        formatNs,
      ),
    );
  }
  const targetNames = [...new Set(runs.flatMap((r) => r.report.ratios.map((q) => q.name)))];
  if (targetNames.length) out.push('<h3>Targets</h3>');
  for (const name of targetNames) {
    const def = [...runs].reverse().flatMap((r) => r.report.ratios.filter((q) => q.name === name))[0]!;
    out.push(
      `<p><code>${esc(name)}</code>: ${esc(def.target.text)}</p>`,
      historySvg(
        name,
        runs.map((r) => point(r, r.report.ratios.find((q) => q.name === name)?.value)),
        (v) => formatTargetValue(def, v),
        { op: def.target.op, bound: def.target.bound },
      ),
    );
  }
  return out.join('\n');
}

/**
 * The whole page. `history` is the saved runs (`--history DIR`); without it the history section says
 * how to keep one. `jsonName` names the JSON file the page was written beside.
 */
export function renderHtml(report: BenchReport, history?: HtmlHistory, jsonName?: string): string {
  const m = report.machine;
  const o = report.options;
  const out: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>hvspec bench — ${esc(report.date)}${o.quick ? ' (quick)' : ''}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>hvspec bench${o.quick ? ' — quick run' : ''}</h1>`,
    `<p class="meta">${esc(report.date)} · ${esc(m.cpuModel)} × ${m.cpuCount} · ${esc(m.platform)} ${esc(m.osRelease)} ${esc(m.arch)} · node ${esc(m.node)} · /dev/kvm ${m.devKvm ? 'present' : 'absent'} · KVM is PVM: ${m.kvmPvm === null ? 'unknown' : m.kvmPvm ? 'yes' : 'no'} · load average ${esc(m.loadAverage.join(' '))}</p>`,
    `<p class="meta">${esc(describeOptions({ ...o, quick: false, injectedSlowdown: undefined }))}${
      o.reference
        ? ` · reference workload floor ${esc(formatNs(o.reference.floorNs))}; iterations after it ran above ${o.reference.slowFactor}× that are left out`
        : ''
    }${jsonName ? ` · data: <code>${esc(jsonName)}</code>` : ''}</p>`,
  ];
  if (o.quick)
    out.push(
      `<p class="banner quick">Quick run: every suite measured with fewer samples (${o.timeMs} ms per task in ${o.rounds} rounds), for CI. Its numbers are noisier than a full run's.</p>`,
    );
  if (o.injectedSlowdown)
    out.push(
      `<p class="banner inject">Injected slowdown: ${esc(o.injectedSlowdown.task)} ran its body ${o.injectedSlowdown.factor}× per iteration. This run tests <code>compare</code>; it is not a measurement.</p>`,
    );
  if ((m.loadAverage[0] ?? 0) > m.cpuCount)
    out.push(
      `<p class="banner load">The load average (${m.loadAverage[0]}) was above the ${m.cpuCount} CPUs when the run started: other processes competed for the cores. The samples are CPU time, iterations taken while the host ran slowed are left out (each task says how many), and the ratio targets are taken round by round, but the absolute numbers may still be inflated.</p>`,
    );
  const summary = report.ratios.map((q) => verdictTag(q));
  out.push(
    '<h2>Targets</h2>',
    `<p>${summary.filter((v) => v === 'PASS').length} pass, ${summary.filter((v) => v === 'FAIL').length} fail, ${summary.filter((v) => v === 'n/a').length} not judged here. From DESIGN.md "Performance targets"; each bar is this run's value, the dashed line the bound, the green side meets it.</p>`,
    ...report.ratios.map(targetSection),
    '<h2>Tasks</h2>',
    "<p>Every sample is one iteration's time divided by the units it did (ns per exit, per guest instruction, or per page mapped and unmapped); lower is faster.</p>",
    taskTable(report.tasks),
    ...report.tasks.map(taskSection),
  );
  if (report.skipped.length)
    out.push(
      '<h2>Not measured here</h2>',
      `<ul>${report.skipped.map((s) => `<li><code>${esc(s.name)}</code>: ${esc(s.reason)}</li>`).join('')}</ul>`,
    );
  out.push('<h2>History</h2>');
  if (history) out.push(historySection(report, history));
  else
    out.push(
      "<p>No history: run with <code>--history DIR</code> to keep every run's JSON in DIR and plot each task across runs.</p>",
    );
  out.push(
    '<p class="meta">Written by @hvspec/bench. Charts are inline SVG; hover a mark for its numbers.</p>',
    '</body></html>',
    '',
  );
  return out.join('\n');
}
