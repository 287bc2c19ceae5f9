/**
 * The bench's results: a JSON document (per task: mean, p50, p99, sample count, ops/s and the raw
 * samples; the machine; the ratios against the performance targets of DESIGN.md) and its plain-text
 * rendering with a bar chart.
 *
 * Every task's samples are **nanoseconds per unit** (one exit round trip, or one guest instruction),
 * one sample per tinybench iteration divided by the units that iteration did. Lower is better for
 * every task, which is what `compare` assumes.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { formatNs, formatRate } from './format.js';
import { quantile, summarize } from './stats.js';
import { formatTargetValue, type RatioReport } from './targets.js';

/**
 * Version of the JSON layout this bench writes. Version 2 added per-round medians, absolute targets
 * (a ratio without a denominator) and the quick flag; every field of version 1 kept its meaning, so
 * version 1 reports are still read (history, `compare`).
 */
export const BENCH_SCHEMA = 'hvspec-bench/2';
/** The layouts `checkReport` accepts. */
export const READABLE_SCHEMAS: readonly string[] = ['hvspec-bench/1', BENCH_SCHEMA];

/** What one sample measures. */
/** What a sample's ns are per: an exit round trip, a guest instruction, or one page mapped and unmapped. */
export type BenchUnit = 'exit' | 'instruction' | 'page';

/** One measured task. */
export interface TaskReport {
  /** Stable id, e.g. `model.x86.exit`. `compare` matches tasks by it. */
  readonly name: string;
  readonly description: string;
  readonly unit: BenchUnit;
  /** Units one iteration does (exits, or guest instructions); each sample is one iteration's ns / this. */
  readonly unitsPerIteration: number;
  /** Iterations measured. */
  readonly samplesCount: number;
  /** ns per unit. */
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  /** Standard deviation of the samples (n − 1), ns per unit. */
  readonly sd: number;
  /** Units per second: 1e9 / mean. */
  readonly opsPerSecond: number;
  /** ns per unit, one per iteration, ascending (tinybench sorts them). */
  readonly samples: readonly number[];
  /**
   * Median of each interleaved round's samples, ns per unit, in round order: the ratio targets take
   * their value round by round from these (absent in schema 1 reports).
   */
  readonly roundP50s?: readonly number[];
  /**
   * Iterations left out because the host ran slowed when they were taken (the reference workload
   * before them above HOST_SLOW_FACTOR × its floor; reference.ts), of all iterations; and the rounds
   * that had no iteration at full speed, whose iterations were all kept.
   */
  readonly hostSlowed?: {
    readonly excluded: number;
    readonly of: number;
    readonly roundsWithoutFullSpeed: number;
  };
  /** Facts noticed while measuring. */
  readonly notes?: readonly string[];
  /** Exit tasks: how many of the exits were not the benchmarked kind (they still count as exits). */
  readonly otherExits?: OtherExits;
}

/** `count` of the `of` exits a task made were not `kind` exits (host interrupts, spurious cancels). */
export interface OtherExits {
  readonly count: number;
  readonly of: number;
  readonly kind: string;
}

/** A task's notes for a reader, with the other-exits and slowed-host counts in words. */
export function taskNotes(t: Pick<TaskReport, 'notes' | 'otherExits' | 'hostSlowed'>): string[] {
  const o = t.otherExits;
  const h = t.hostSlowed;
  return [
    ...(t.notes ?? []),
    ...(o && o.count > 0
      ? [`${o.count} of ${o.of} exits were not ${o.kind} exits (host interrupts; they count as exits)`]
      : []),
    ...(h && h.excluded > 0
      ? [
          `${h.excluded} of ${h.of} iterations left out: taken while the host ran slowed (the reference workload above ${HOST_SLOW_FACTOR}× its floor)`,
        ]
      : []),
    ...(h && h.roundsWithoutFullSpeed > 0
      ? [`${h.roundsWithoutFullSpeed} rounds ran entirely on a slowed host; their iterations were kept`]
      : []),
  ];
}

/** A task that did not run here, and why. */
export interface SkippedTask {
  readonly name: string;
  readonly reason: string;
}

/** The host the numbers come from. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly osRelease: string;
  readonly totalMemoryBytes: number;
  /**
   * 1, 5 and 15 minute load averages when the run started (os.loadavg; zeros on Windows). Above the
   * CPU count, other processes competed for the cores and the numbers are noisier than usual.
   */
  readonly loadAverage: readonly number[];
  /** Whether /dev/kvm exists (Linux). */
  readonly devKvm: boolean;
  /**
   * Whether KVM is PVM (software KVM, kvm-provider-notes.md §0): `kvm_pvm` in /proc/modules (or
   * /sys/module/kvm_pvm when /proc/modules is not readable, as in some containers). null: unknown.
   */
  readonly kvmPvm: boolean | null;
}

/** How the run was measured. */
export interface BenchOptions {
  /** Measuring time per task, ms, split over the rounds. */
  readonly timeMs: number;
  /** Warm-up time per task, ms (first round only). */
  readonly warmupMs: number;
  /** Interleaved rounds. */
  readonly rounds: number;
  /** Fewest iterations per task and round. */
  readonly minIterations?: number;
  /** The samples' clock: `cpu` (process CPU time) or `wall` (clock.ts). */
  readonly clock?: 'cpu' | 'wall';
  /** Processes the rounds ran in: one per round by default, 1 with `--in-process`. */
  readonly processes?: number;
  /**
   * The reference workload timed before every iteration (reference.ts): its version, its floor in
   * this run (10th percentile, ns) and the factor above the floor at which the host counts as slowed.
   */
  readonly reference?: { readonly version: number; readonly floorNs: number; readonly slowFactor: number };
  /** A `--quick` run: fewer samples, for CI; its numbers are noisier than a full run's. */
  readonly quick?: boolean;
  /** A slowdown injected on purpose (tests of `compare`): the task's body ran `factor` times per iteration. */
  readonly injectedSlowdown?: { readonly task: string; readonly factor: number };
}

/**
 * A bench run as written to JSON (schema {@link BENCH_SCHEMA}; version 1 is still read): the machine and
 * options, every task's samples and statistics (ns per unit), the tasks skipped with why, and the targets.
 */
export interface BenchReport {
  readonly schema: typeof BENCH_SCHEMA | 'hvspec-bench/1';
  /** ISO 8601, when the run started. */
  readonly date: string;
  readonly machine: MachineInfo;
  readonly options: BenchOptions;
  readonly tasks: readonly TaskReport[];
  readonly skipped: readonly SkippedTask[];
  readonly ratios: readonly RatioReport[];
}

/** Reads the machine description. Never throws: unreadable facts become false/null/'unknown'. */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  let kvmPvm: boolean | null = null;
  try {
    kvmPvm = /^kvm_pvm\s/m.test(readFileSync('/proc/modules', 'utf8'));
  } catch {
    try {
      kvmPvm = existsSync('/sys/module/kvm_pvm') ? true : existsSync('/sys/module/kvm') ? false : null;
    } catch {
      kvmPvm = null;
    }
  }
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cpuCount: cpus.length,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    totalMemoryBytes: os.totalmem(),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    devKvm: process.platform === 'linux' && existsSync('/dev/kvm'),
    kvmPvm,
  };
}

/**
 * How much slower than its floor the reference workload may run before the iteration after it counts
 * as taken on a slowed host (reference.ts): here the reference ran at its floor or at about 2× it.
 */
export const HOST_SLOW_FACTOR = 1.3;

/**
 * Builds a task's report from its per-iteration samples in milliseconds (as tinybench records them),
 * given as one array per interleaved round (or one array for a single round).
 *
 * With `reference` (the reference workload's time before each iteration, same layout, and the run's
 * floor of it, ms), iterations taken while the host ran slowed (reference above HOST_SLOW_FACTOR × the
 * floor) are left out of the statistics; a round with no other iteration keeps all of its own.
 */
export function taskReport(
  meta: {
    name: string;
    description: string;
    unit: BenchUnit;
    unitsPerIteration: number;
    notes?: readonly string[];
    otherExits?: OtherExits;
  },
  iterationMs: readonly number[] | readonly (readonly number[])[],
  reference?: { readonly ms: readonly (readonly number[])[]; readonly floorMs: number },
): TaskReport {
  const rounds: (readonly number[])[] =
    iterationMs.length > 0 && Array.isArray(iterationMs[0])
      ? (iterationMs as readonly (readonly number[])[]).slice()
      : [iterationMs as readonly number[]];
  const perUnit = (ms: number): number => (ms * 1e6) / meta.unitsPerIteration;
  let excluded = 0;
  let of = 0;
  let roundsWithoutFullSpeed = 0;
  const chosen: number[][] = [];
  rounds.forEach((r, i) => {
    if (r.length === 0) return;
    const ref = reference?.ms[i];
    if (!reference || !ref || ref.length !== r.length) {
      chosen.push(r.map(perUnit));
      return;
    }
    const limit = HOST_SLOW_FACTOR * reference.floorMs;
    const fast = r.filter((_, j) => ref[j]! <= limit);
    of += r.length;
    if (fast.length === 0) {
      roundsWithoutFullSpeed++;
      chosen.push(r.map(perUnit));
    } else {
      excluded += r.length - fast.length;
      chosen.push(fast.map(perUnit));
    }
  });
  const roundP50s = chosen.map((r) =>
    quantile(
      [...r].sort((x, y) => x - y),
      0.5,
    ),
  );
  const samples = chosen.flat().sort((a, b) => a - b);
  const s = summarize(samples);
  return {
    name: meta.name,
    description: meta.description,
    unit: meta.unit,
    unitsPerIteration: meta.unitsPerIteration,
    samplesCount: s.n,
    mean: s.mean,
    p50: s.p50,
    p99: s.p99,
    sd: s.sd,
    opsPerSecond: s.mean > 0 ? 1e9 / s.mean : 0,
    samples,
    roundP50s,
    ...(reference ? { hostSlowed: { excluded, of, roundsWithoutFullSpeed } } : {}),
    ...(meta.notes?.length ? { notes: meta.notes } : {}),
    ...(meta.otherExits ? { otherExits: meta.otherExits } : {}),
  };
}

/** Checks that `x` looks like a BenchReport of this schema; returns what is wrong, or undefined. */
export function checkReport(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const r = x as Record<string, unknown>;
  if (typeof r.schema !== 'string' || !READABLE_SCHEMAS.includes(r.schema))
    return `schema is ${JSON.stringify(r.schema)}, expected one of ${READABLE_SCHEMAS.join(', ')}`;
  if (typeof r.date !== 'string' || Number.isNaN(Date.parse(r.date))) return 'date is not an ISO date';
  if (typeof r.machine !== 'object' || r.machine === null) return 'machine is not an object';
  if (typeof r.options !== 'object' || r.options === null) return 'options is not an object';
  if (!Array.isArray(r.skipped)) return 'skipped is not an array';
  if (!Array.isArray(r.ratios)) return 'ratios is not an array';
  if (!Array.isArray(r.tasks)) return 'tasks is not an array';
  for (const t of r.tasks as unknown[]) {
    const task = t as Record<string, unknown>;
    if (typeof task?.name !== 'string') return 'a task has no name';
    for (const k of ['mean', 'p50', 'p99', 'sd', 'samplesCount', 'opsPerSecond', 'unitsPerIteration'])
      if (typeof task[k] !== 'number') return `task ${task.name}: ${k} is not a number`;
    if (!Array.isArray(task.samples)) return `task ${task.name}: samples is not an array`;
  }
  return undefined;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const BAR = 40;

/** One line describing how a run was measured, with the quick and injected-slowdown warnings. */
export function describeOptions(o: BenchOptions): string {
  const parts = [
    `time per task: ${o.timeMs} ms (+ ${o.warmupMs} ms warm-up) in ${o.rounds} interleaved rounds` +
      (o.processes !== undefined
        ? o.processes > 1
          ? `, each in its own process`
          : ', in one process'
        : '') +
      (o.minIterations !== undefined ? `, at least ${o.minIterations} iterations per round` : '') +
      (o.clock ? `; clock: ${o.clock === 'cpu' ? 'process CPU time' : 'wall'}` : ''),
  ];
  if (o.quick) parts.push('QUICK run: fewer samples than a full run, noisier numbers (for CI)');
  if (o.injectedSlowdown)
    parts.push(
      `INJECTED SLOWDOWN: ${o.injectedSlowdown.task} ran its body ${o.injectedSlowdown.factor}× per iteration (a test of compare, not a measurement)`,
    );
  return parts.join('; ');
}

/** The verdict of a target as a tag. */
export function verdictTag(q: Pick<RatioReport, 'pass'>): 'PASS' | 'FAIL' | 'n/a' {
  return q.pass === null ? 'n/a' : q.pass ? 'PASS' : 'FAIL';
}

/** A target's bound as text, e.g. `<= 1.05×` or `<= 100 ns`. */
export function formatBound(q: Pick<RatioReport, 'target'>): string {
  const b = q.target.bound;
  return `${q.target.op} ${(q.target.unit ?? 'ratio') === 'ns' ? formatNs(b) : `${b}×`}`;
}

/**
 * Plain text: the machine, a table of every task (ns per unit, ops/s), a bar chart of the median per
 * unit kind (bars share one linear scale per kind), the skipped tasks with their reasons, and the
 * targets with their verdicts.
 */
export function renderReport(r: BenchReport): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`hvspec bench — ${r.date}`);
  lines.push(
    `machine: ${m.cpuModel} × ${m.cpuCount}, ${m.platform} ${m.osRelease} ${m.arch}, node ${m.node}, ` +
      `/dev/kvm ${m.devKvm ? 'present' : 'absent'}, KVM is PVM: ${m.kvmPvm === null ? 'unknown' : m.kvmPvm ? 'yes' : 'no'}, ` +
      `load average ${m.loadAverage.join(' ')}`,
  );
  lines.push(describeOptions(r.options));
  lines.push('');
  const nameW = Math.max(4, ...r.tasks.map((t) => t.name.length));
  const header = `${pad('task', nameW)}  ${pad('unit', 11)}  ${pad('mean', 10, true)}  ${pad('p50', 10, true)}  ${pad('p99', 10, true)}  ${pad('samples', 7, true)}  ${pad('units/s', 10, true)}`;
  lines.push(header);
  lines.push('-'.repeat(header.length));
  for (const t of r.tasks) {
    lines.push(
      `${pad(t.name, nameW)}  ${pad(t.unit, 11)}  ${pad(formatNs(t.mean), 10, true)}  ${pad(formatNs(t.p50), 10, true)}  ${pad(formatNs(t.p99), 10, true)}  ${pad(String(t.samplesCount), 7, true)}  ${pad(formatRate(t.opsPerSecond), 10, true)}`,
    );
  }
  for (const unit of ['exit', 'instruction', 'page'] as const) {
    const group = r.tasks.filter((t) => t.unit === unit);
    if (group.length === 0) continue;
    lines.push('');
    lines.push(`median ns per ${unit} (shorter is faster):`);
    const max = Math.max(...group.map((t) => t.p50));
    for (const t of group) {
      const n = max > 0 ? Math.max(1, Math.round((t.p50 / max) * BAR)) : 0;
      lines.push(`  ${pad(t.name, nameW)} ${'█'.repeat(n)}${' '.repeat(BAR - n)} ${formatNs(t.p50)}`);
    }
  }
  const noted = r.tasks.filter((t) => taskNotes(t).length > 0);
  if (noted.length) {
    lines.push('');
    lines.push('notes:');
    for (const t of noted) for (const note of taskNotes(t)) lines.push(`  ${t.name}: ${note}`);
  }
  if (r.skipped.length) {
    lines.push('');
    lines.push('not measured here:');
    for (const s of r.skipped) lines.push(`  ${s.name}: ${s.reason}`);
  }
  lines.push('');
  lines.push('targets (from this run):');
  for (const q of r.ratios) {
    const value = q.value === undefined ? 'not measured' : formatTargetValue(q, q.value);
    const how =
      q.method === 'median-of-rounds' && q.rounds
        ? `, median of ${q.rounds.length} rounds ranging ${formatTargetValue(q, Math.min(...q.rounds))}–${formatTargetValue(q, Math.max(...q.rounds))}`
        : '';
    lines.push(`  [${verdictTag(q).padEnd(4)}] ${q.target.text}: ${value} (needs ${formatBound(q)}${how})`);
    if (q.reason) lines.push(`         ${q.reason}`);
  }
  return lines.join('\n');
}
