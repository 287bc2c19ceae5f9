/**
 * The report's JSON shape and rendering, from a real (very short) run of one model task and from
 * synthetic tasks for the ratios. No timing assertions: only structure and arithmetic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BENCH_SCHEMA,
  type BenchReport,
  checkReport,
  computeRatios,
  describeMachine,
  formatNs,
  renderReport,
  type TaskReport,
  taskReport,
} from '../src/report.js';
import { nativeTaskNames, runBench } from '../src/suites.js';

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
  assert.equal('notes' in t, false);
});

function synthetic(name: string, p50: number): TaskReport {
  return taskReport({ name, description: name, unit: 'exit', unitsPerIteration: 1 }, [p50 / 1e6]);
}

test('ratios: values, targets and pass/fail; n/a with the reason when a side is missing', () => {
  // Only the flavours whose native task was measured or skipped are reported.
  assert.deepEqual(computeRatios([synthetic('model.x86.exit', 100)], []), []);
  const ratios = computeRatios(
    [
      synthetic('model.x86.exit', 100),
      synthetic('native.x86.exit.js', 5000),
      synthetic('native.x86.exit.c-baseline', 4900),
    ],
    [],
  );
  const byName = Object.fromEntries(ratios.map((r) => [r.name, r]));
  assert.equal(byName['x86.model-vs-native-exit']!.value, 50);
  assert.equal(byName['x86.model-vs-native-exit']!.pass, true);
  assert.ok(Math.abs(byName['x86.native-js-vs-c-baseline']!.value! - 5000 / 4900) < 1e-12);
  assert.equal(byName['x86.native-js-vs-c-baseline']!.pass, true);

  const failing = computeRatios(
    [
      synthetic('model.x86.exit', 1000),
      synthetic('native.x86.exit.js', 5000),
      synthetic('native.x86.exit.c-baseline', 4000),
    ],
    [],
  );
  assert.deepEqual(
    failing.map((r) => r.pass),
    [false, false],
  );

  // The model's long-mode throughput against the flat one: reported when the flat task ran.
  const throughput = computeRatios(
    [synthetic('model.x86.guest-throughput', 30), synthetic('model.x86.guest-throughput.long64', 50)],
    [],
  );
  assert.deepEqual(
    throughput.map((r) => [r.name, r.value, r.pass]),
    [['x86.long64-vs-flat-throughput', 0.6, true]],
  );
  assert.equal(
    computeRatios(
      [synthetic('model.x86.guest-throughput', 30), synthetic('model.x86.guest-throughput.long64', 70)],
      [],
    )[0]!.pass,
    false,
  );

  const missing = computeRatios(
    [synthetic('model.x86.exit', 100)],
    [{ name: 'native.x86.exit.js', reason: 'native: not available here (no /dev/kvm)' }],
  );
  for (const r of missing) {
    assert.equal(r.pass, null);
    assert.equal(r.value, undefined);
    assert.match(r.reason!, /native: not available here \(no \/dev\/kvm\)/);
  }
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
  const report = await runBench({ timeMs: 1, warmupMs: 1, native: false, filter: ['model.x86.exit'] });
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
  assert.equal(t.notes, undefined, 'every run was an I/O exit');
  // Native was not requested: its tasks are skipped with the reason, and the ratios are n/a.
  assert.deepEqual(
    parsed.skipped.map((s) => s.name),
    [host.js, host.c],
  );
  assert.equal(parsed.ratios.length, 2);
  for (const r of parsed.ratios) assert.equal(r.pass, null);

  const text = renderReport(parsed);
  assert.match(text, /model\.x86\.exit/);
  assert.match(text, /mean ns per exit/);
  assert.match(
    text,
    new RegExp(`\\[n/a \\] ${flavour}: model exit round trip at least 20× faster than native`),
  );
  assert.ok(text.includes(`not measured here:\n  ${host.js}: native: not requested`));
});

test('checkReport names what is wrong', () => {
  assert.match(checkReport({ schema: 'other' })!, /schema/);
  assert.match(checkReport({ schema: BENCH_SCHEMA, tasks: [{ name: 't' }] })!, /mean is not a number/);
  assert.equal(checkReport(null), 'not an object');
});

test('formatNs picks a readable unit', () => {
  assert.equal(formatNs(512), '512 ns');
  assert.equal(formatNs(6234), '6.23 µs');
  assert.equal(formatNs(2_500_000), '2.50 ms');
});
