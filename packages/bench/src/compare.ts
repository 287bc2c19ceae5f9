/**
 * A/B comparison of two bench reports, as Firecracker's A/B tests decide a regression: a task
 * regressed only when the difference is both statistically significant and large enough to matter.
 * On a noisy host either condition alone misleads: thousands of samples make a 0.5% shift
 * "significant", and one slow run makes a large difference that is not.
 *
 * Per task (matched by name; every sample is ns per unit, lower is better):
 * - with at least `minRounds` rounds on both sides: the one-sided Mann-Whitney U test on the
 *   rounds (exact for small counts) and the relative change of their medians. Each round ran in its
 *   own process, so this is the test whose replicates carry the run-to-run variance; on the pooled
 *   samples, two runs of the same build on a shared host differed "significantly" by 10–100%;
 * - otherwise, with raw samples on both sides (≥ `minSamples` each): the same test on the pooled
 *   samples and the relative change of their medians (reports of schema 1, or too few rounds);
 * - otherwise, from summary statistics: Welch's t-test and the relative change of the means.
 * Regression: p(current slower) < `alpha` and change ≥ `minEffect`. Improvement: the mirror image.
 * @module
 */
import type { BenchReport, TaskReport } from './report.js';
import { mannWhitney, mannWhitneySmall, type OneSidedTest, quantile, welch } from './stats.js';

/** The thresholds of {@link compare}; the defaults are the module comment's. */
export interface CompareOptions {
  /** Significance level of the one-sided test (default 0.01). */
  readonly alpha?: number;
  /** Minimum relative change that counts, e.g. 0.05 = 5% (default 0.05). */
  readonly minEffect?: number;
  /** Fewest raw samples per side for the rank test; below it, Welch on the summaries (default 8). */
  readonly minSamples?: number;
  /**
   * Fewest rounds per side for the test on round medians (default 5: with 5 against 5, complete
   * separation has p = 1/252, under the default alpha); below it, the test on the pooled samples.
   */
  readonly minRounds?: number;
}

/**
 * A task's verdict: `regression` / `improvement` when the change is both significant (p < alpha) and at
 * least minEffect; `no-change` otherwise; `missing` (only in the baseline) and `new` (only in the current
 * report) are never regressions.
 */
export type Verdict = 'regression' | 'improvement' | 'no-change' | 'missing' | 'new';

/** One task of a {@link Comparison}: its verdict, and the test and numbers behind it. */
export interface TaskComparison {
  readonly name: string;
  readonly verdict: Verdict;
  /** Which test decided: on the round medians, on the pooled samples, or Welch on the summaries. */
  readonly test?: 'mann-whitney-rounds' | 'mann-whitney' | 'welch';
  /**
   * Baseline and current location, ns per unit: the median of the round medians (rounds), the
   * median of the samples (pooled), or the mean (Welch).
   */
  readonly baseline?: number;
  readonly current?: number;
  /** current / baseline − 1: +0.10 is 10% slower. */
  readonly change?: number;
  /** One-sided p-value of the direction of the change (slower if change ≥ 0, faster otherwise). */
  readonly p?: number;
  /** Why the verdict is what it is, in words. */
  readonly why: string;
}

/** What {@link compare} decided, task by task, with the thresholds it used. */
export interface Comparison {
  readonly alpha: number;
  readonly minEffect: number;
  readonly tasks: readonly TaskComparison[];
  /** Whether any task regressed. */
  readonly regression: boolean;
  /** Reasons the two reports may not be comparable (other machine, load, quick vs full, injected slowdown). */
  readonly warnings: readonly string[];
}

/** What makes two runs not like with like: the verdicts stand, but the reader should know. */
function comparabilityWarnings(baseline: BenchReport, current: BenchReport): string[] {
  const w: string[] = [];
  const b = baseline.machine;
  const c = current.machine;
  if (
    b.cpuModel !== c.cpuModel ||
    b.cpuCount !== c.cpuCount ||
    b.platform !== c.platform ||
    b.arch !== c.arch
  )
    w.push(
      `different machines: ${b.cpuModel} × ${b.cpuCount} (${b.platform} ${b.arch}) vs ${c.cpuModel} × ${c.cpuCount} (${c.platform} ${c.arch})`,
    );
  if (b.node !== c.node) w.push(`different Node.js: ${b.node} vs ${c.node}`);
  for (const [side, r] of [
    ['baseline', baseline],
    ['current', current],
  ] as const) {
    const load = r.machine.loadAverage[0] ?? 0;
    if (load > r.machine.cpuCount)
      w.push(`${side}: load average ${load} above the ${r.machine.cpuCount} CPUs when it started (noisy)`);
    if (r.options.injectedSlowdown)
      w.push(
        `${side}: slowdown injected on ${r.options.injectedSlowdown.task} (×${r.options.injectedSlowdown.factor}), a test run`,
      );
  }
  if ((baseline.options.quick === true) !== (current.options.quick === true))
    w.push(
      `one run is quick and the other full: ${baseline.options.quick ? 'baseline' : 'current'} has fewer samples`,
    );
  return w;
}

const median = (xs: readonly number[]): number =>
  quantile(
    [...xs].sort((x, y) => x - y),
    0.5,
  );

function compareTask(
  base: TaskReport,
  cur: TaskReport,
  alpha: number,
  minEffect: number,
  minSamples: number,
  minRounds: number,
): TaskComparison {
  let test: NonNullable<TaskComparison['test']>;
  let result: OneSidedTest;
  let b: number;
  let c: number;
  const br = base.roundP50s ?? [];
  const cr = cur.roundP50s ?? [];
  if (br.length >= minRounds && cr.length >= minRounds) {
    // The rounds are the replicates: each ran in its own process, so their spread holds the
    // run-to-run variance (JIT, host) that the samples within one process cannot show.
    test = 'mann-whitney-rounds';
    result = mannWhitneySmall(br, cr);
    b = median(br);
    c = median(cr);
  } else if (base.samples.length >= minSamples && cur.samples.length >= minSamples) {
    test = 'mann-whitney';
    result = mannWhitney(base.samples, cur.samples);
    b = base.p50;
    c = cur.p50;
  } else {
    test = 'welch';
    result = welch(
      { n: base.samplesCount, mean: base.mean, sd: base.sd },
      { n: cur.samplesCount, mean: cur.mean, sd: cur.sd },
    );
    b = base.mean;
    c = cur.mean;
  }
  const change = b > 0 ? c / b - 1 : 0;
  const slower = change >= 0;
  const p = slower ? result.pGreater : result.pLess;
  const significant = p < alpha;
  const large = Math.abs(change) >= minEffect;
  const pct = `${(change * 100).toFixed(1)}%`;
  let verdict: Verdict = 'no-change';
  let why: string;
  if (significant && large) {
    verdict = slower ? 'regression' : 'improvement';
    why = `${slower ? 'slower' : 'faster'} by ${pct.replace('-', '')}, p = ${p.toExponential(2)} < ${alpha}`;
  } else if (!significant) {
    why = `change ${pct} is not significant (p = ${p.toPrecision(3)} ≥ ${alpha})`;
  } else {
    why = `change ${pct} is significant (p = ${p.toExponential(2)}) but below the ${(minEffect * 100).toFixed(1)}% threshold`;
  }
  return {
    name: base.name,
    verdict,
    test,
    baseline: b,
    current: c,
    change,
    p,
    why,
  };
}

/**
 * Compares `current` against `baseline`. Pure: no I/O, no clocks. Tasks only in the baseline are
 * `missing`, only in the current report `new`; neither counts as a regression.
 */
export function compare(
  baseline: BenchReport,
  current: BenchReport,
  options: CompareOptions = {},
): Comparison {
  const alpha = options.alpha ?? 0.01;
  const minEffect = options.minEffect ?? 0.05;
  const minSamples = options.minSamples ?? 8;
  const minRounds = options.minRounds ?? 5;
  if (!(alpha > 0 && alpha < 1)) throw new TypeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(minEffect >= 0)) throw new TypeError(`minEffect must be ≥ 0, got ${minEffect}`);
  const cur = new Map(current.tasks.map((t) => [t.name, t]));
  const tasks: TaskComparison[] = [];
  for (const b of baseline.tasks) {
    const c = cur.get(b.name);
    if (!c) {
      const skip = current.skipped.find((s) => s.name === b.name);
      tasks.push({
        name: b.name,
        verdict: 'missing',
        why: skip ? `not measured: ${skip.reason}` : 'not in the current report',
      });
      continue;
    }
    if (c.unit !== b.unit) {
      tasks.push({
        name: b.name,
        verdict: 'missing',
        why: `unit changed from ${b.unit} to ${c.unit}: not comparable`,
      });
      continue;
    }
    tasks.push(compareTask(b, c, alpha, minEffect, minSamples, minRounds));
  }
  for (const c of current.tasks)
    if (!baseline.tasks.some((b) => b.name === c.name))
      tasks.push({ name: c.name, verdict: 'new', why: 'not in the baseline' });
  return {
    alpha,
    minEffect,
    tasks,
    regression: tasks.some((t) => t.verdict === 'regression'),
    warnings: comparabilityWarnings(baseline, current),
  };
}

/** One line per task: verdict, name, baseline → current, change, p, and the reason. */
export function renderComparison(c: Comparison): string {
  const w = Math.max(4, ...c.tasks.map((t) => t.name.length));
  const lines = [
    `A/B comparison: regression = slower by ≥ ${(c.minEffect * 100).toFixed(1)}% with one-sided p < ${c.alpha}`,
  ];
  for (const t of c.tasks) {
    const tag = t.verdict.toUpperCase().padEnd(11);
    const nums =
      t.baseline !== undefined && t.current !== undefined
        ? ` ${t.baseline.toPrecision(4)} → ${t.current.toPrecision(4)} ns/unit (${t.test})`
        : '';
    lines.push(`${tag} ${t.name.padEnd(w)}${nums}: ${t.why}`);
  }
  for (const w of c.warnings) lines.push(`warning: ${w}`);
  lines.push(c.regression ? 'result: REGRESSION' : 'result: no regression');
  return lines.join('\n');
}
