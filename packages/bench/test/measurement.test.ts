/**
 * A run's raw measurement: merging rounds measured apart, the reference workload's floor, and the
 * report built from it, which leaves out iterations taken while the host ran slowed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReport, type MeasuredTask, mergeMeasurements, referenceFloorMs } from '../src/measurement.js';
import { HOST_SLOW_FACTOR, taskReport } from '../src/report.js';
import { summarize } from '../src/stats.js';
import { syntheticReport } from './helpers.js';

const task = (
  name: string,
  rounds: { body: number[]; reference: number[] }[],
  other?: number,
): MeasuredTask => ({
  name,
  description: name,
  unit: 'exit',
  unitsPerIteration: 1,
  notes: [],
  ...(other !== undefined ? { otherExits: { count: other, of: 100, kind: 'I/O' } } : {}),
  rounds,
});
const ms = (ns: number[]): number[] => ns.map((x) => x / 1e6);
const run = syntheticReport([]);

test('mergeMeasurements: rounds in order, exit counts summed, skipped where never measured', () => {
  const m = mergeMeasurements([
    { tasks: [task('a', [{ body: ms([10]), reference: ms([50]) }], 1)], skipped: [] },
    {
      tasks: [task('a', [{ body: ms([20]), reference: ms([50]) }], 2)],
      skipped: [{ name: 'native.x86.exit.c-baseline', reason: 'C baseline: not available' }],
    },
    { tasks: [], skipped: [{ name: 'a', reason: 'error: boom' }] },
  ]);
  assert.deepEqual(
    m.tasks[0]!.rounds.map((r) => r.body[0]! * 1e6),
    [10, 20],
  );
  assert.deepEqual(m.tasks[0]!.otherExits, { count: 3, of: 200, kind: 'I/O' });
  assert.deepEqual(m.tasks[0]!.notes, ['not measured in 1 of 3 rounds: error: boom']);
  assert.deepEqual(m.skipped, [{ name: 'native.x86.exit.c-baseline', reason: 'C baseline: not available' }]);
});

test('the reference floor is the 10th percentile of every reference time', () => {
  const refs = Array.from({ length: 100 }, (_, i) => 40 + i);
  const m = { tasks: [task('a', [{ body: ms(refs), reference: ms(refs) }])], skipped: [] };
  assert.ok(Math.abs(referenceFloorMs(m) * 1e6 - 49.9) < 1e-6);
  assert.ok(Number.isNaN(referenceFloorMs({ tasks: [], skipped: [] })));
});

test('buildReport leaves out iterations taken on a slowed host; a round with none at full speed keeps its own', () => {
  // The host runs at full speed (reference 40 ns) or at half speed (reference 80 ns), and the task
  // takes 100 ns or 190 ns accordingly. Round 2 ran entirely at half speed.
  const full = { body: 100, reference: 40 };
  const slow = { body: 190, reference: 80 };
  const mk = (xs: { body: number; reference: number }[]) => ({
    body: ms(xs.map((x) => x.body)),
    reference: ms(xs.map((x) => x.reference)),
  });
  const m = {
    tasks: [
      task('model.x86.exit', [
        mk([full, full, slow, full, slow, full, full, full, full, full]),
        mk([slow, slow, slow]),
        mk([full, slow, full, full]),
      ]),
    ],
    skipped: [],
  };
  const r = buildReport(m, run);
  const t = r.tasks[0]!;
  assert.equal(r.options.reference!.floorNs.toFixed(0), '40');
  assert.equal(r.options.reference!.slowFactor, HOST_SLOW_FACTOR);
  assert.deepEqual(t.hostSlowed, { excluded: 3, of: 17, roundsWithoutFullSpeed: 1 });
  assert.deepEqual(t.roundP50s, [100, 190, 100]);
  assert.equal(t.samplesCount, 8 + 3 + 3);
  assert.equal(t.p50, summarize([...Array(11).fill(100), 190, 190, 190]).p50);
  assert.equal(t.p50, 100);
  // Its notes say so; the target on the model exit is judged on the kept samples.
  assert.ok(r.ratios.find((q) => q.name === 'x86.model-exit-round-trip')!.value === 100);
});

test('taskReport without a reference keeps every iteration', () => {
  const t = taskReport({ name: 'x', description: 'd', unit: 'exit', unitsPerIteration: 1 }, [ms([1, 2, 3])]);
  assert.equal(t.hostSlowed, undefined);
  assert.equal(t.samplesCount, 3);
});
