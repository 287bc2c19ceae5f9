/**
 * Merging rounds run in separate processes: pooled samples and recomputed statistics, round medians
 * in round order, summed exit counts, and tasks skipped in some rounds or all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeRounds } from '../src/merge.js';
import { taskReport } from '../src/report.js';
import { summarize } from '../src/stats.js';
import { syntheticReport } from './helpers.js';

const t = (name: string, ns: number[], io?: { count: number; of: number }) =>
  taskReport(
    {
      name,
      description: name,
      unit: 'exit',
      unitsPerIteration: 1,
      ...(io ? { otherExits: { ...io, kind: 'I/O' } } : {}),
    },
    ns.map((x) => x / 1e6),
  );

test('mergeRounds pools samples, keeps round medians in order and sums exit counts', () => {
  const r1 = syntheticReport([t('a', [10, 30, 20], { count: 1, of: 300 }), t('native.x86.exit.js', [5])]);
  const r2 = syntheticReport([t('a', [40, 50], { count: 2, of: 200 }), t('native.x86.exit.js', [6])], {
    skipped: [{ name: 'native.x86.exit.c-baseline', reason: 'C baseline: not available' }],
  });
  const m = mergeRounds([r1, r2], {
    date: '2026-03-03T00:00:00.000Z',
    machine: r1.machine,
    options: { timeMs: 2, warmupMs: 1, rounds: 2, processes: 2 },
  });
  assert.equal(m.date, '2026-03-03T00:00:00.000Z');
  assert.equal(m.options.processes, 2);
  const a = m.tasks.find((x) => x.name === 'a')!;
  assert.deepEqual(a.samples, [10, 20, 30, 40, 50]);
  assert.deepEqual(a.roundP50s, [20, 45]);
  const s = summarize([10, 20, 30, 40, 50]);
  assert.equal(a.mean, s.mean);
  assert.equal(a.p50, s.p50);
  assert.equal(a.sd, s.sd);
  assert.equal(a.samplesCount, 5);
  assert.deepEqual(a.otherExits, { count: 3, of: 500, kind: 'I/O' });
  assert.deepEqual(
    m.skipped.map((x) => x.name),
    ['native.x86.exit.c-baseline'],
  );
  // The targets are recomputed from the merged tasks: the JS task is there, its C side is not.
  const q = m.ratios.find((x) => x.name === 'x86.native-js-vs-c-baseline')!;
  assert.equal(q.pass, null);
  assert.match(q.reason!, /C baseline: not available/);
});

test('a task measured in some rounds and not others says so', () => {
  const r1 = syntheticReport([t('a', [10])]);
  const r2 = syntheticReport([], { skipped: [{ name: 'a', reason: 'error: boom' }] });
  const m = mergeRounds([r1, r2], { date: r1.date, machine: r1.machine, options: r1.options });
  assert.deepEqual(m.skipped, []);
  assert.deepEqual(m.tasks[0]!.notes, ['not measured in 1 of 2 rounds: error: boom']);
});
