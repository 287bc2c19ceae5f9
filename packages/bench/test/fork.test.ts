/**
 * Rounds in separate processes: a short forked run of one model task comes back as one report with a
 * median per round and the process count; options naming no task are reported as such.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RoundError, runBenchForked } from '../src/fork.js';
import { checkReport } from '../src/report.js';

test('a forked run: one process per round, merged', async () => {
  const logs: string[] = [];
  const r = await runBenchForked({
    rounds: 2,
    timeMs: 20,
    warmupMs: 5,
    minIterations: 2,
    native: false,
    filter: ['model.arm64.exit'],
    log: (m) => logs.push(m),
  });
  assert.equal(checkReport(JSON.parse(JSON.stringify(r))), undefined);
  assert.equal(r.options.processes, 2);
  assert.equal(r.options.rounds, 2);
  assert.equal(r.options.timeMs, 20);
  assert.deepEqual(
    r.tasks.map((t) => t.name),
    ['model.arm64.exit'],
  );
  const t = r.tasks[0]!;
  assert.equal(t.roundP50s?.length, 2);
  assert.ok(t.hostSlowed!.of >= 4, 'at least two iterations in each round');
  assert.equal(t.samplesCount, t.hostSlowed!.of - t.hostSlowed!.excluded, 'those on a slowed host left out');
  assert.equal(t.otherExits?.count, 0);
  assert.ok(r.ratios.some((q) => q.name === 'arm64.model-exit-round-trip'));
  assert.ok(logs.includes('round 2/2 done'));
});

test('a round is two processes, the model tasks apart from the others, merged into one report', async () => {
  const r = await runBenchForked({
    rounds: 2,
    timeMs: 20,
    warmupMs: 5,
    minIterations: 2,
    filter: ['model.arm64.exit', 'native.'],
  });
  assert.equal(checkReport(JSON.parse(JSON.stringify(r))), undefined);
  assert.equal(r.options.processes, 4);
  assert.ok(r.tasks.some((t) => t.name === 'model.arm64.exit'));
  // The native tasks are measured where the host has the backend, and skipped with the reason elsewhere.
  const native = [...r.tasks, ...r.skipped].filter((t) => t.name.startsWith('native.'));
  assert.ok(native.length > 0, 'the other part ran');
  for (const t of r.tasks) assert.equal(t.roundP50s?.length ?? 2, 2, t.name);
});

test('a filter naming no task is a usage error from the round process', async () => {
  await assert.rejects(
    runBenchForked({ rounds: 1, timeMs: 1, native: false, filter: ['no-such-task'] }),
    (e: Error) => {
      assert.ok(e instanceof RoundError);
      assert.equal(e.usage, true);
      assert.match(e.message, /no task matches the filter "no-such-task"/);
      return true;
    },
  );
});
