/**
 * compare() and its statistics on synthetic samples: a clear regression is found, noise is not
 * flagged, a significant but small effect is not flagged, an improvement is reported as such, and the
 * Welch fallback works from summaries alone. Distributions come from a seeded PRNG, so every run sees
 * the same numbers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@hvspec/spec';
import { compare, renderComparison } from '../src/compare.js';
import { buildReport, type Measurement, mergeMeasurements } from '../src/measurement.js';
import { type BenchReport, describeMachine, type TaskReport, taskReport } from '../src/report.js';
import {
  mannWhitney,
  mannWhitneyCounts,
  mannWhitneySmall,
  normalUpperTail,
  studentUpperTail,
  summarize,
  welch,
} from '../src/stats.js';
import { measure } from '../src/suites.js';
import { syntheticReport } from './helpers.js';

/** `n` samples of a latency-like distribution: normal around `mean` (sd `sd`) plus a rare long tail. */
function latencies(seed: number, n: number, mean: number, sd: number): number[] {
  const r = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const tail = r() < 0.02 ? mean * 3 * r() : 0;
    out.push(Math.max(1, mean + sd * z + tail));
  }
  return out;
}

/** A task report whose samples are ns per unit (unitsPerIteration 1, iteration ms = ns / 1e6). */
function task(name: string, ns: number[]): TaskReport {
  return taskReport(
    { name, description: name, unit: 'exit', unitsPerIteration: 1 },
    ns.map((x) => x / 1e6),
  );
}

test('the distributions: normal and Student tails match tabulated values', () => {
  assert.ok(Math.abs(normalUpperTail(1.959964) - 0.025) < 1e-6);
  assert.ok(Math.abs(normalUpperTail(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalUpperTail(-2.326348) - 0.99) < 1e-6);
  // t tables: t(0.975, 10) = 2.228139; t(0.99, 5) = 3.364930; t(0.95, 1) = 6.313752.
  assert.ok(Math.abs(studentUpperTail(2.228139, 10) - 0.025) < 1e-6);
  assert.ok(Math.abs(studentUpperTail(3.36493, 5) - 0.01) < 1e-6);
  assert.ok(Math.abs(studentUpperTail(6.313752, 1) - 0.05) < 1e-6);
  assert.ok(Math.abs(studentUpperTail(-2.228139, 10) - 0.975) < 1e-6);
});

test('Mann-Whitney on a tiny hand-checked case', () => {
  // a = 1 2 3, b = 4 5 6: U_b = 9 (every b above every a), mean 4.5, variance 9·7/12 = 5.25.
  const r = mannWhitney([1, 2, 3], [4, 5, 6]);
  assert.ok(Math.abs(r.statistic - 4.5 / Math.sqrt(5.25)) < 1e-12);
  assert.ok(r.pGreater < 0.05 && r.pLess > 0.95);
  // Identical samples: all ties, no evidence either way.
  const same = mannWhitney([5, 5, 5, 5], [5, 5, 5, 5]);
  assert.equal(same.pGreater, 1);
  assert.equal(same.pLess, 1);
});

test('Welch from summaries agrees in direction with the rank test', () => {
  const a = summarize(latencies(1, 200, 1000, 50));
  const b = summarize(latencies(2, 200, 1100, 50));
  const w = welch(a, b);
  assert.ok(w.statistic > 0 && w.pGreater < 0.01 && w.pLess > 0.99);
  assert.ok(w.df !== undefined && w.df > 100 && w.df < 400);
});

test('a clear regression (20% slower) is detected', () => {
  const base = syntheticReport([task('model.x86.exit', latencies(11, 500, 2000, 100))]);
  const cur = syntheticReport([task('model.x86.exit', latencies(12, 500, 2400, 100))]);
  const c = compare(base, cur);
  assert.equal(c.regression, true);
  const t = c.tasks[0]!;
  assert.equal(t.verdict, 'regression');
  assert.equal(t.test, 'mann-whitney');
  assert.ok(t.change! > 0.15 && t.change! < 0.25, `change ${t.change}`);
  assert.ok(t.p! < 1e-10);
  assert.match(renderComparison(c), /REGRESSION\s+model\.x86\.exit/);
  assert.match(renderComparison(c), /result: REGRESSION/);
});

test('noise is not flagged: two draws of the same distribution', () => {
  for (const seed of [21, 22, 23, 24, 25]) {
    const base = syntheticReport([task('t', latencies(seed, 400, 5000, 800))]);
    const cur = syntheticReport([task('t', latencies(seed + 100, 400, 5000, 800))]);
    const c = compare(base, cur);
    assert.equal(c.regression, false, `seed ${seed}: ${c.tasks[0]!.why}`);
    assert.equal(c.tasks[0]!.verdict, 'no-change');
  }
});

test('a small but significant effect (2% slower, many samples) is not flagged', () => {
  const base = syntheticReport([task('t', latencies(31, 20000, 1000, 10))]);
  const cur = syntheticReport([task('t', latencies(32, 20000, 1020, 10))]);
  const c = compare(base, cur);
  const t = c.tasks[0]!;
  assert.ok(t.p! < 0.01, 'the shift is statistically significant');
  assert.equal(t.verdict, 'no-change');
  assert.match(t.why, /below the 5\.0% threshold/);
  assert.equal(c.regression, false);
  // The same data with a 1% threshold is a regression.
  assert.equal(compare(base, cur, { minEffect: 0.01 }).regression, true);
});

test('a large difference on too few noisy samples is not flagged', () => {
  const base = syntheticReport([task('t', [100, 300, 120, 280, 90, 310, 150, 260])]);
  const cur = syntheticReport([task('t', [130, 320, 140, 290, 110, 330, 170, 300])]);
  const c = compare(base, cur);
  assert.equal(c.tasks[0]!.verdict, 'no-change');
});

test('an improvement is reported and is not a regression', () => {
  const base = syntheticReport([task('t', latencies(41, 300, 10000, 300))]);
  const cur = syntheticReport([task('t', latencies(42, 300, 8000, 300))]);
  const c = compare(base, cur);
  assert.equal(c.tasks[0]!.verdict, 'improvement');
  assert.equal(c.regression, false);
});

test('without raw samples, Welch on the summaries decides', () => {
  const strip = (t: TaskReport): TaskReport => ({ ...t, samples: [] });
  const base = syntheticReport([strip(task('t', latencies(51, 300, 1000, 40)))]);
  const cur = syntheticReport([strip(task('t', latencies(52, 300, 1200, 40)))]);
  const c = compare(base, cur);
  assert.equal(c.tasks[0]!.test, 'welch');
  assert.equal(c.tasks[0]!.verdict, 'regression');
  const same = compare(base, syntheticReport([strip(task('t', latencies(53, 300, 1000, 40)))]));
  assert.equal(same.tasks[0]!.verdict, 'no-change');
});

test('tasks missing on one side are reported, not counted as regressions', () => {
  const base = syntheticReport([task('a', latencies(61, 50, 100, 5)), task('b', latencies(62, 50, 100, 5))]);
  const cur = {
    ...syntheticReport([task('b', latencies(63, 50, 100, 5)), task('c', latencies(64, 50, 100, 5))]),
  };
  const withSkip: BenchReport = {
    ...cur,
    skipped: [{ name: 'a', reason: 'native: not available here (test)' }],
  };
  const c = compare(base, withSkip);
  assert.deepEqual(
    c.tasks.map((t) => [t.name, t.verdict]),
    [
      ['a', 'missing'],
      ['b', 'no-change'],
      ['c', 'new'],
    ],
  );
  assert.match(c.tasks[0]!.why, /native: not available here/);
  assert.equal(c.regression, false);
});

test('compare rejects nonsensical options', () => {
  const r = syntheticReport([]);
  assert.throws(() => compare(r, r, { alpha: 0 }), TypeError);
  assert.throws(() => compare(r, r, { alpha: 1.5 }), TypeError);
  assert.throws(() => compare(r, r, { minEffect: -1 }), TypeError);
});

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

test('the exact Mann-Whitney distribution: C(m+n, m) orderings, symmetric, tabulated tails', () => {
  for (const [m, n] of [
    [1, 1],
    [3, 3],
    [5, 5],
    [4, 7],
    [10, 10],
  ] as const) {
    const c = mannWhitneyCounts(m, n);
    assert.equal(c.length, m * n + 1);
    assert.equal(
      c.reduce((a, b) => a + b, 0),
      binomial(m + n, m),
    );
    for (let u = 0; u <= m * n; u++) assert.equal(c[u], c[m * n - u], `symmetric at ${u}`);
  }
  assert.deepEqual(mannWhitneyCounts(2, 2), [1, 1, 2, 1, 1]);
  // Complete separation of 5 against 5: p = 1/252; of 3 against 3: 1/20.
  const sep = mannWhitneySmall([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
  assert.equal(sep.pGreater, 1 / 252);
  assert.equal(sep.pLess, 1);
  assert.equal(mannWhitneySmall([1, 2, 3], [4, 5, 6]).pGreater, 1 / 20);
  // One inversion of 5 against 5: P(U ≥ 24) = 2/252.
  assert.equal(mannWhitneySmall([1, 2, 3, 4, 6], [5, 7, 8, 9, 10]).pGreater, 2 / 252);
  // Ties fall back to the normal approximation.
  assert.deepEqual(mannWhitneySmall([1, 2, 2], [2, 3, 4]), mannWhitney([1, 2, 2], [2, 3, 4]));
});

/**
 * A task with `rounds` rounds of `perRound` samples. Each round's level is `mean` ± 5%, or, with
 * probability `slowRounds`, 1.5–2× slower: what rounds in fresh processes on a shared host showed
 * (a process's JIT luck, a busy stretch of the host).
 */
function roundsTask(
  name: string,
  seed: number,
  rounds: number,
  perRound: number,
  mean: number,
  slowRounds: number,
): TaskReport {
  const r = seededRandom(seed);
  const iterationMs: number[][] = [];
  for (let i = 0; i < rounds; i++) {
    const level = mean * (r() < slowRounds ? 1.5 + 0.5 * r() : 1 + 0.05 * (2 * r() - 1));
    iterationMs.push(latencies(seed * 100 + i, perRound, level, level * 0.05).map((ns) => ns / 1e6));
  }
  return taskReport({ name, description: name, unit: 'exit', unitsPerIteration: 1 }, iterationMs);
}

test('with five rounds or more, the rounds are the replicates: run-to-run drift is not a regression', () => {
  // Two runs of the same build where some rounds are 1.5–2× slow: the pooled samples call several
  // of them "significantly" different; the round medians do not.
  let pooledFlags = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const base = syntheticReport([roundsTask('t', seed, 5, 200, 1000, 0.3)]);
    const cur = syntheticReport([roundsTask('t', seed + 50, 5, 200, 1000, 0.3)]);
    const c = compare(base, cur);
    assert.equal(c.tasks[0]!.test, 'mann-whitney-rounds');
    assert.equal(c.regression, false, `seed ${seed}: ${c.tasks[0]!.why}`);
    if (compare(base, cur, { minRounds: 1000 }).regression) pooledFlags++;
  }
  assert.ok(pooledFlags >= 2, `the pooled test flags drift as regressions (${pooledFlags} of 8)`);
});

test('with five rounds, a doubled distribution is a regression', () => {
  const base = syntheticReport([roundsTask('model.x86.exit', 91, 5, 200, 400, 0.3)]);
  const cur = syntheticReport([roundsTask('model.x86.exit', 92, 5, 200, 800, 0.3)]);
  const c = compare(base, cur);
  const t = c.tasks[0]!;
  assert.equal(t.test, 'mann-whitney-rounds');
  assert.equal(t.verdict, 'regression');
  assert.equal(t.p, 1 / 252);
  assert.ok(t.change! > 0.6 && t.change! < 1.5, `change ${t.change}`);
});

test('comparability warnings: other machine, load, quick against full, injected slowdown', () => {
  const a = syntheticReport([]);
  const b: BenchReport = {
    ...a,
    machine: { ...a.machine, cpuModel: 'other', loadAverage: [5, 5, 5] },
    options: { ...a.options, quick: true, injectedSlowdown: { task: 't', factor: 2 } },
  };
  const w = compare(a, b).warnings.join('\n');
  assert.match(w, /different machines/);
  assert.match(w, /current: load average 5 above the 2 CPUs/);
  assert.match(w, /one run is quick and the other full: current has fewer samples/);
  assert.match(w, /current: slowdown injected on t \(×2\)/);
  assert.deepEqual(compare(a, a).warnings, []);
});

test('real runs: compare flags an injected 2× slowdown and passes two runs of the same build', async () => {
  // Three "builds" of one model task, their rounds interleaved in time so that the host's drift
  // lands on all three alike: A, A again, and A with the task's body run twice per iteration.
  const rounds = 15;
  const parts: Record<'a' | 'again' | 'slow', Measurement[]> = { a: [], again: [], slow: [] };
  const order = ['a', 'again', 'slow'] as const;
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < order.length; k++) {
      const which = order[(k + round) % order.length]!;
      const { measurement } = await measure({
        rounds: 1,
        firstRound: round,
        timeMs: 25,
        warmupMs: 5,
        minIterations: 4,
        native: false,
        filter: ['model.x86.exit'],
        ...(which === 'slow' ? { slowdown: { task: 'model.x86.exit', factor: 2 } } : {}),
      });
      parts[which].push(measurement);
    }
  }
  const machine = describeMachine();
  const merged = (which: keyof typeof parts): BenchReport =>
    buildReport(mergeMeasurements(parts[which]), {
      date: new Date().toISOString(),
      machine,
      options: { timeMs: 25 * rounds, warmupMs: 5, rounds, processes: 1, clock: 'cpu' },
    });
  const a = merged('a');
  assert.equal(a.tasks[0]!.roundP50s?.length, rounds);
  assert.ok(a.options.reference && a.options.reference.floorNs > 0);
  // Between two runs of the same build a false alarm happens at the rate alpha by construction; the
  // A/A check uses alpha 0.001 so that this test fails spuriously once in a thousand runs, not once
  // in a hundred. The slowdown is judged at the default alpha, as `bench compare` judges it.
  const same = compare(a, merged('again'), { alpha: 0.001 });
  assert.equal(same.regression, false, renderComparison(same));
  const slowRun = merged('slow');
  const slow = compare(a, slowRun);
  const t = slow.tasks[0]!;
  assert.equal(t.test, 'mann-whitney-rounds');
  assert.equal(t.verdict, 'regression', renderComparison(slow));
  assert.ok(t.change! > 0.5, `about 2×: ${t.change}`);
  assert.match(slowRun.tasks[0]!.notes!.join('\n'), /injected slowdown: the body ran 2× per iteration/);
});
