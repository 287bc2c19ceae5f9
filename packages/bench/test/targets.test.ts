/**
 * The targets from synthetic tasks: which are listed (by subject task), how ratio targets take the
 * median of per-round ratios, the 5-round minimum, absolute bounds, throughput ratios' direction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TaskReport, taskReport } from '../src/report.js';
import { computeRatios, formatTargetValue, RATIO_DEFINITIONS } from '../src/targets.js';

/** A task whose rounds each have one sample of the given ns per unit (so each round's p50 is it). */
function task(name: string, roundNs: number[], unit: 'exit' | 'instruction' = 'exit'): TaskReport {
  return taskReport(
    { name, description: name, unit, unitsPerIteration: 1 },
    roundNs.map((ns) => [ns / 1e6]),
  );
}

const byName = (tasks: TaskReport[], skipped: { name: string; reason: string }[] = []) =>
  new Map(computeRatios(tasks, skipped).map((q) => [q.name, q]));

test('every target names its tasks and a bound; names are unique', () => {
  const names = RATIO_DEFINITIONS.map((d) => d.name);
  assert.equal(new Set(names).size, names.length);
  for (const d of RATIO_DEFINITIONS) {
    assert.ok(d.target.bound > 0, d.name);
    assert.ok(d.target.text.length > 0);
    if ((d.target.unit ?? 'ratio') === 'ns')
      assert.equal(d.denominator, undefined, `${d.name}: an absolute bound`);
    else assert.ok(d.denominator, `${d.name}: a ratio`);
  }
});

test('JS vs C: the median of the per-round ratios, not the ratio of pooled medians', () => {
  // Round by round the JS loop is 1.02–1.04× the C loop while the host drifts 3× between rounds.
  const js = task('native.x86.exit.js', [10200, 20800, 10300, 31200, 10400]);
  const c = task('native.x86.exit.c-baseline', [10000, 20000, 10000, 30000, 10000]);
  const q = byName([js, c]).get('x86.native-js-vs-c-baseline')!;
  assert.equal(q.method, 'median-of-rounds');
  assert.deepEqual(
    q.rounds!.map((r) => Math.round(r * 1000) / 1000),
    [1.02, 1.04, 1.03, 1.04, 1.04],
  );
  assert.ok(Math.abs(q.value! - 1.04) < 1e-12);
  assert.equal(q.pass, true);
});

test('JS vs C needs five rounds for a verdict; the value is still given', () => {
  const js = task('native.x86.exit.js', [10200, 10300, 10400]);
  const c = task('native.x86.exit.c-baseline', [10000, 10000, 10000]);
  const q = byName([js, c]).get('x86.native-js-vs-c-baseline')!;
  assert.equal(q.pass, null);
  assert.ok(q.value! > 1.02 && q.value! < 1.04);
  assert.match(q.reason!, /at least 5 interleaved rounds; this run had 3/);
});

test('a missed JS vs C target fails', () => {
  const js = task('native.x86.exit.js', [11000, 11000, 11000, 11000, 11000]);
  const c = task('native.x86.exit.c-baseline', [10000, 10000, 10000, 10000, 10000]);
  assert.equal(byName([js, c]).get('x86.native-js-vs-c-baseline')!.pass, false);
});

test('model exit round trip: an absolute bound of 100 ns on the pooled median', () => {
  const fast = byName([task('model.x86.exit', [80, 90, 95])]).get('x86.model-exit-round-trip')!;
  assert.equal(fast.value, 90);
  assert.equal(fast.method, 'pooled-p50');
  assert.deepEqual(fast.rounds, [80, 90, 95]);
  assert.equal(fast.pass, true);
  const slow = byName([task('model.arm64.exit', [170, 180, 177])]).get('arm64.model-exit-round-trip')!;
  assert.equal(slow.pass, false);
  assert.equal(formatTargetValue(slow, slow.value!), '177 ns');
});

test('arm64 vs x86 interpreter: a throughput ratio, at least 1', () => {
  const x86 = task('model.x86.guest-throughput', [50, 50, 50], 'instruction');
  const slowArm = task('model.arm64.guest-throughput', [400, 400, 400], 'instruction');
  const q = byName([x86, slowArm]).get('model.arm64-vs-x86-throughput')!;
  assert.equal(q.value, 0.125, 'arm64 runs at an eighth of the x86 instruction rate');
  assert.equal(q.pass, false);
  const fastArm = task('model.arm64.guest-throughput', [40, 40, 40], 'instruction');
  assert.equal(byName([x86, fastArm]).get('model.arm64-vs-x86-throughput')!.pass, true);
});

test('targets appear with their subject task: long mode and the C library only when measured or skipped', () => {
  const base = [task('model.x86.exit', [90]), task('model.x86.guest-throughput', [50], 'instruction')];
  const without = byName(base);
  assert.equal(without.has('model.x86.long-vs-flat-throughput'), false);
  assert.equal(without.has('clib.model.x86.exit-round-trip'), false);
  assert.equal(without.has('x86.native-js-vs-c-baseline'), false, 'no native task here');
  assert.equal(without.has('model.arm64-vs-x86-throughput'), false, 'no arm64 throughput task');

  const long = task('model.x86.long.guest-throughput', [80], 'instruction');
  const q = byName([...base, long]).get('model.x86.long-vs-flat-throughput')!;
  assert.equal(q.value, 50 / 80);
  assert.equal(q.pass, true, 'long mode at 62.5% of flat 32-bit');
  assert.equal(
    byName([...base, task('model.x86.long.guest-throughput', [120], 'instruction')]).get(
      'model.x86.long-vs-flat-throughput',
    )!.pass,
    false,
  );

  const clib = byName([...base, task('clib.model.x86.exit', [25_000])]).get(
    'clib.model.x86.exit-round-trip',
  )!;
  assert.equal(clib.pass, false);
  assert.equal(formatTargetValue(clib, clib.value!), '25.0 µs');

  const skipped = byName(base, [
    { name: 'native.x86.exit.js', reason: 'native: not available here (no /dev/kvm)' },
  ]);
  const na = skipped.get('x86.native-js-vs-c-baseline')!;
  assert.equal(na.pass, null);
  assert.equal(na.value, undefined);
  assert.match(na.reason!, /native\.x86\.exit\.js: native: not available here \(no \/dev\/kvm\)/);
  assert.match(na.reason!, /native\.x86\.exit\.c-baseline: not measured in this run/);
});

test('without per-round medians (schema 1 reports), a ratio is the ratio of the pooled medians', () => {
  const strip = (t: TaskReport): TaskReport => {
    const { roundP50s: _, ...rest } = t;
    return rest;
  };
  const js = strip(task('native.x86.exit.js', [10500]));
  const c = strip(task('native.x86.exit.c-baseline', [10000]));
  const q = byName([js, c]).get('x86.native-js-vs-c-baseline')!;
  assert.equal(q.method, 'pooled-p50');
  assert.ok(Math.abs(q.value! - 1.05) < 1e-12);
  assert.equal(q.pass, null, 'no rounds: no verdict on a target that needs five');
});
