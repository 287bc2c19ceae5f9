/**
 * The report's JSON shape and rendering, from a real (very short) run of one model task and from
 * per-round samples. No timing assertions: only structure and arithmetic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNs } from '../src/format.js';
import {
  BENCH_SCHEMA,
  type BenchReport,
  checkReport,
  describeMachine,
  renderReport,
  taskReport,
} from '../src/report.js';
import { EL2_MAP_TASKS, nativeTaskNames, runBench } from '../src/suites.js';

test('taskReport converts per-iteration ms to sorted ns per unit with consistent statistics', () => {
  const t = taskReport(
    { name: 'x', description: 'd', unit: 'exit', unitsPerIteration: 100 },
    [0.3, 0.1, 0.2],
  );
  assert.deepEqual(t.samples, [1000, 2000, 3000]);
  assert.equal(t.samplesCount, 3);
  assert.equal(t.mean, 2000);
  assert.equal(t.p50, 2000);
  assert.ok(Math.abs(t.p99 - 2980) < 1e-9);
  assert.equal(t.sd, 1000);
  assert.equal(t.opsPerSecond, 500_000);
  assert.deepEqual(t.roundP50s, [2000]);
  assert.equal('notes' in t, false);
});

test('taskReport keeps the median of each round and pools the samples', () => {
  const t = taskReport({ name: 'x', description: 'd', unit: 'exit', unitsPerIteration: 1 }, [
    [0.001, 0.003, 0.002],
    [0.01, 0.02],
    [],
  ]);
  assert.deepEqual(t.roundP50s, [2000, 15000], 'an empty round has no median');
  assert.deepEqual(t.samples, [1000, 2000, 3000, 10000, 20000]);
  assert.equal(t.p50, 3000);
});

test('describeMachine reports the host without throwing', () => {
  const m = describeMachine();
  assert.ok(m.cpuCount >= 1);
  assert.equal(m.node, process.version);
  assert.equal(typeof m.devKvm, 'boolean');
  assert.ok(m.kvmPvm === null || typeof m.kvmPvm === 'boolean');
});

test('a short run of one model task produces a well-formed JSON report', async () => {
  // The native tasks are named after this host's flavour.
  const flavour = process.arch === 'arm64' ? 'arm64' : 'x86';
  const host = nativeTaskNames(process.arch === 'arm64' ? 'arm64' : 'x86_64');
  const report = await runBench({
    timeMs: 1,
    warmupMs: 1,
    rounds: 1,
    native: false,
    filter: ['model.x86.exit'],
  });
  const parsed = JSON.parse(JSON.stringify(report)) as BenchReport;
  assert.equal(checkReport(parsed), undefined);
  assert.equal(parsed.schema, BENCH_SCHEMA);
  assert.ok(!Number.isNaN(Date.parse(parsed.date)));
  assert.deepEqual(Object.keys(parsed.machine).sort(), [
    'arch',
    'cpuCount',
    'cpuModel',
    'devKvm',
    'kvmPvm',
    'loadAverage',
    'node',
    'osRelease',
    'platform',
    'totalMemoryBytes',
  ]);
  assert.deepEqual(
    parsed.tasks.map((t) => t.name),
    ['model.x86.exit'],
  );
  const t = parsed.tasks[0]!;
  assert.equal(t.unit, 'exit');
  assert.ok(t.samplesCount >= 1);
  assert.equal(t.samples.length, t.samplesCount);
  for (let i = 1; i < t.samples.length; i++)
    assert.ok(t.samples[i - 1]! <= t.samples[i]!, 'samples ascending');
  assert.ok(t.p50 <= t.p99);
  assert.ok(t.mean > 0 && t.opsPerSecond > 0);
  assert.ok(Math.abs(t.opsPerSecond - 1e9 / t.mean) / t.opsPerSecond < 1e-9);
  assert.equal(t.notes, undefined);
  assert.deepEqual(
    t.otherExits,
    { count: 0, of: t.otherExits!.of, kind: 'I/O' },
    'every run was an I/O exit',
  );
  assert.ok(t.otherExits!.of >= 1000);
  assert.deepEqual(t.roundP50s?.length, 1);
  assert.equal(parsed.options.rounds, 1);
  assert.equal(parsed.options.quick, false);
  assert.equal(parsed.options.clock, 'cpu');
  // Native was not requested: its tasks are skipped with the reason, and its target is n/a; the
  // model exit target is judged (PASS or FAIL: this test does not time anything).
  assert.deepEqual(
    parsed.skipped.map((s) => s.name),
    [host.js, host.c, ...host.map, ...EL2_MAP_TASKS],
  );
  const byName = new Map(parsed.ratios.map((q) => [q.name, q]));
  assert.deepEqual(
    [...byName.keys()].sort(),
    [
      `${flavour}.native-js-vs-c-baseline`,
      'x86.model-exit-round-trip',
      `native.${flavour}.map-unmap-100k`,
      `native.${flavour}.map-unmap-scaling`,
      'el2.arm64.map-unmap-100k',
      'el2.arm64.map-unmap-scaling',
    ].sort(),
  );
  assert.equal(byName.get(`${flavour}.native-js-vs-c-baseline`)!.pass, null);
  const exitTarget = byName.get('x86.model-exit-round-trip')!;
  assert.equal(exitTarget.value, t.p50);
  assert.equal(exitTarget.pass, t.p50 <= 100);

  const text = renderReport(parsed);
  assert.match(text, /model\.x86\.exit/);
  assert.match(text, /median ns per exit/);
  assert.match(
    text,
    new RegExp(`\\[n/a \\] ${flavour}: native exit loop through the JS API within 1\\.05× of the C loop`),
  );
  assert.match(text, /\[(PASS|FAIL)\] x86: model exit round trip within 100 ns: .* \(needs <= 100 ns\)/);
  assert.ok(text.includes(`not measured here:\n  ${host.js}: native: not requested`));
});

test('checkReport names what is wrong, and reads schema 1 reports', () => {
  const ok = {
    schema: BENCH_SCHEMA,
    date: '2026-01-01T00:00:00.000Z',
    machine: {},
    options: {},
    skipped: [],
    ratios: [],
    tasks: [],
  };
  assert.equal(checkReport(ok), undefined);
  assert.equal(checkReport({ ...ok, schema: 'hvspec-bench/1' }), undefined);
  assert.match(checkReport({ ...ok, schema: 'other' })!, /schema/);
  assert.match(checkReport({ ...ok, date: 'yesterday' })!, /date/);
  assert.match(checkReport({ ...ok, tasks: [{ name: 't' }] })!, /mean is not a number/);
  assert.equal(checkReport(null), 'not an object');
});

test('formatNs picks a readable unit', () => {
  assert.equal(formatNs(512), '512 ns');
  assert.equal(formatNs(6234), '6.23 µs');
  assert.equal(formatNs(2_500_000), '2.50 ms');
});
