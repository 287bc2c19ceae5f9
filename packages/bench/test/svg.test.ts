/**
 * The chart primitives: ticks, scales, binning, label compaction, and that every chart is one
 * well-formed <svg> element with no script and nothing fetched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNs } from '../src/format.js';
import {
  binSamples,
  compact,
  escapeXml,
  histogramSvg,
  historySvg,
  linearScale,
  logScale,
  logTicks,
  niceTicks,
  shortDate,
  targetSvg,
} from '../src/svg.js';
import { assertWellFormedSvg } from './helpers.js';

test('niceTicks: round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 1.2, 6), [0, 0.2, 0.4, 0.6, 0.8, 1, 1.2]);
  assert.deepEqual(niceTicks(3, 3), [3]);
  for (const t of niceTicks(348, 2480, 6)) assert.ok(t >= 348 && t <= 2480);
});

test('logTicks and scales map the domain onto the pixels', () => {
  assert.deepEqual(logTicks(348, 2480), [500, 1000, 2000]);
  const lin = linearScale(0, 100, 10, 110);
  assert.equal(lin(0), 10);
  assert.equal(lin(50), 60);
  assert.equal(lin.log, false);
  const log = logScale(10, 1000, 0, 200);
  assert.equal(log(10), 0);
  assert.ok(Math.abs(log(100) - 100) < 1e-9);
  assert.ok(Math.abs(log(1000) - 200) < 1e-9);
});

test('binSamples counts every sample in range exactly once, linear and logarithmic', () => {
  const s = Array.from({ length: 1000 }, (_, i) => 100 + i).sort((a, b) => a - b);
  for (const log of [false, true]) {
    const bins = binSamples(s, 100, 1099, 20, log);
    assert.equal(bins.length, 20);
    assert.equal(
      bins.reduce((a, b) => a + b.count, 0),
      1000,
    );
    assert.equal(bins[0]!.lo, 100);
    assert.ok(Math.abs(bins[19]!.hi - 1099) < 1e-9);
    for (let i = 1; i < bins.length; i++) assert.ok(Math.abs(bins[i]!.lo - bins[i - 1]!.hi) < 1e-9);
  }
  const lin = binSamples(s, 100, 1099, 20, false);
  assert.ok(
    lin.every((b) => b.count >= 49 && b.count <= 51),
    'uniform samples, equal-width bins',
  );
  assert.equal(
    binSamples(s, 200, 299, 4, false).reduce((a, b) => a + b.count, 0),
    100,
    'samples outside the range are left out',
  );
});

test('compact drops trailing zeros only', () => {
  assert.equal(compact('40.0 ns'), '40 ns');
  assert.equal(compact('1.050×'), '1.05×');
  assert.equal(compact('0.000×'), '0×');
  assert.equal(compact('2.50 ms'), '2.5 ms');
  assert.equal(compact('1.104×'), '1.104×');
  assert.equal(compact('100 ns'), '100 ns');
});

test('escapeXml and shortDate', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(shortDate('2026-12-07T02:38:47.478Z'), '12-07 02:38');
});

test('histogram: well-formed; long tails go logarithmic with the slowest 1% apart', () => {
  const tail = Array.from({ length: 970 }, (_, i) => 370 + (i % 30)).concat(
    Array.from({ length: 30 }, (_, i) => 2000 + i * 1000),
  );
  const svg = histogramSvg({ name: 'model.x86.exit', samples: tail, mean: 600, unit: 'exit' }, formatNs);
  assertWellFormedSvg(svg);
  assert.match(svg, /\(log scale\)/);
  assert.match(svg, />p50 3\d\d ns</);
  assert.match(svg, /samples above p99/);
  // Every bar's count is in its tooltip; with the overflow bar they add up to the samples.
  const counts = [...svg.matchAll(/: (\d+) samples<\/title>/g)].map((m) => Number(m[1]));
  const over = Number(/(\d+) samples above p99/.exec(svg)![1]);
  assert.equal(counts.reduce((a, b) => a + b, 0) + over, tail.length);

  const narrow = histogramSvg(
    { name: 't', samples: [100, 101, 102, 103, 104], mean: 102, unit: 'instruction' },
    formatNs,
  );
  assertWellFormedSvg(narrow);
  assert.doesNotMatch(narrow, /log scale/);
  assertWellFormedSvg(histogramSvg({ name: 't', samples: [5], mean: 5, unit: 'exit' }, formatNs));
  assertWellFormedSvg(histogramSvg({ name: 't', samples: [], mean: Number.NaN, unit: 'exit' }, formatNs));
});

test('target chart: bound, value, rounds and verdict colour', () => {
  const fmt = (v: number): string => `${v.toFixed(3)}×`;
  const fail = targetSvg(
    { text: 'x', op: '<=', bound: 1.05, value: 1.1, rounds: [1.1, 1.2, 1.0, 1.1, 1.3], pass: false },
    fmt,
  );
  assertWellFormedSvg(fail);
  assert.match(fail, /target ≤ 1\.05×/);
  assert.match(fail, /#c62828/, 'a miss is red');
  assert.equal([...fail.matchAll(/<circle /g)].length, 5, 'one dot per round');
  const pass = targetSvg({ text: 'y', op: '>=', bound: 1, value: 2, pass: true }, fmt);
  assertWellFormedSvg(pass);
  assert.match(pass, /target ≥ 1×/);
  assert.match(pass, /fill="#2e7d32"><title>2\.000×/, 'a pass is green');
  const na = targetSvg({ text: 'z', op: '<=', bound: 1.05, pass: null }, fmt);
  assertWellFormedSvg(na);
  assert.match(na, /not measured here/);
});

test('history chart: a point per run that measured it, the line broken where one did not', () => {
  const points = [
    { date: '2026-01-01T00:00:00.000Z', value: 100, quick: false, current: false, detail: 'm' },
    { date: '2026-01-02T00:00:00.000Z', quick: true, current: false, detail: 'm' },
    { date: '2026-01-03T00:00:00.000Z', value: 120, quick: true, current: false, detail: 'm' },
    { date: '2026-01-04T00:00:00.000Z', value: 110, quick: false, current: true, detail: 'm' },
  ];
  const svg = historySvg('t', points, formatNs, { op: '<=', bound: 100 });
  assertWellFormedSvg(svg);
  assert.equal([...svg.matchAll(/<circle [^>]*><title>/g)].length, 3);
  assert.match(svg, /d="M[\d.]+ [\d.]+ M[\d.]+ [\d.]+ L[\d.]+ [\d.]+"/, 'a gap at the run without it');
  assert.match(svg, /this run/);
  assert.match(svg, /\(quick\)/);
  assert.match(svg, /target ≤ 100 ns/);
  assertWellFormedSvg(historySvg('t', [], formatNs));
});
