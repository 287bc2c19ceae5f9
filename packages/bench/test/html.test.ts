/**
 * The HTML report from synthetic runs: one self-contained page without script, a chart per target
 * and per task, history charts across saved runs, and the quick / injected / load banners.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderHtml } from '../src/html.js';
import { type BenchReport, type TaskReport, taskReport } from '../src/report.js';
import { computeRatios } from '../src/targets.js';
import { assertWellFormedSvg, syntheticReport } from './helpers.js';

function task(name: string, rounds: number[][], unit: 'exit' | 'instruction' = 'exit'): TaskReport {
  return taskReport(
    { name, description: `${name} <described>`, unit, unitsPerIteration: 1 },
    rounds.map((r) => r.map((ns) => ns / 1e6)),
  );
}

function run(date: string, scale: number, over: Partial<BenchReport> = {}): BenchReport {
  const tasks = [
    task('model.x86.exit', [
      [90 * scale, 95 * scale, 300 * scale],
      [92 * scale, 97 * scale],
    ]),
    task('native.x86.exit.js', [[10_400 * scale], [10_300 * scale]]),
    task('native.x86.exit.c-baseline', [[10_000 * scale], [10_000 * scale]]),
  ];
  return syntheticReport(tasks, { date, ratios: computeRatios(tasks, []), ...over });
}

const svgs = (html: string): string[] => [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);

test('one page: every chart well-formed, no script, nothing fetched, text escaped', () => {
  const r = run('2026-01-03T00:00:00.000Z', 1);
  const html = renderHtml(r, undefined, 'b.json');
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script|<link|<img|src=|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  assert.match(html, /model\.x86\.exit &lt;described&gt;/);
  const charts = svgs(html);
  for (const svg of charts) assertWellFormedSvg(svg);
  // Targets listed: the JS-vs-C ratio and the model exit bound; then one histogram per task.
  assert.equal(r.ratios.length, 2);
  assert.equal(charts.length, r.ratios.length + r.tasks.length);
  assert.match(html, /x86\.native-js-vs-c-baseline/);
  assert.match(html, /median of the per-round ratios|2 interleaved rounds/);
  assert.match(html, /run with <code>--history DIR<\/code>/);
  assert.match(html, /data: <code>b\.json<\/code>/);
  assert.doesNotMatch(html, /class="banner/);
});

test('history: each task and target across the saved runs, this run ringed', () => {
  const runs = [
    run('2026-01-01T00:00:00.000Z', 1),
    run('2026-01-02T00:00:00.000Z', 1.1, { options: { timeMs: 1, warmupMs: 1, rounds: 2, quick: true } }),
  ];
  const current = run('2026-01-03T00:00:00.000Z', 0.9);
  const html = renderHtml(current, {
    dir: '/tmp/h',
    entries: runs.map((report, i) => ({ file: `/tmp/h/${i}.json`, report })),
    problems: ['/tmp/h/x.json: not JSON'],
  });
  const charts = svgs(html);
  for (const svg of charts) assertWellFormedSvg(svg);
  const history = charts.filter((s) => /across \d+ runs/.test(s));
  assert.equal(history.length, current.tasks.length + current.ratios.length);
  for (const h of history) {
    assert.match(h, /across 3 runs/, 'the saved runs plus this one');
    assert.equal([...h.matchAll(/<circle [^>]*><title>/g)].length, 3);
    assert.match(h, /this run/);
    assert.match(h, /\(quick\)/);
  }
  assert.match(html, /3 runs in <code>\/tmp\/h<\/code>/);
  assert.match(html, /skipped: \/tmp\/h\/x\.json: not JSON/);
});

test('banners: quick run, injected slowdown, load above the CPU count', () => {
  const r = run('2026-01-03T00:00:00.000Z', 1, {
    options: {
      timeMs: 1000,
      warmupMs: 100,
      rounds: 5,
      quick: true,
      injectedSlowdown: { task: 'model.x86.exit', factor: 2 },
    },
  });
  const loaded = { ...r, machine: { ...r.machine, loadAverage: [7.5, 3, 2] } };
  const html = renderHtml(loaded);
  assert.match(html, /<h1>hvspec bench — quick run<\/h1>/);
  assert.match(
    html,
    /class="banner quick">Quick run: every suite measured with fewer samples \(1000 ms per task in 5 rounds\)/,
  );
  assert.match(
    html,
    /class="banner inject">Injected slowdown: model\.x86\.exit ran its body 2× per iteration/,
  );
  assert.match(html, /class="banner load">The load average \(7\.5\) was above the 2 CPUs/);
});
