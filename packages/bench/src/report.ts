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
import { summarize } from './stats.js';

/** Version of the JSON layout; `compare` refuses other versions. */
export const BENCH_SCHEMA = 'hvspec-bench/1';

/** What one sample measures. */
export type BenchUnit = 'exit' | 'instruction';

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
  /** Facts noticed while measuring (e.g. spurious exits seen). */
  readonly notes?: readonly string[];
}

/** A task that did not run here, and why. */
export interface SkippedTask {
  readonly name: string;
  readonly reason: string;
}

/** A performance target of DESIGN.md: `value` of the ratio must satisfy `op bound`. */
export interface Target {
  readonly op: '>=' | '<=';
  readonly bound: number;
  readonly text: string;
}

/** A ratio of two tasks measured in the same run, with its target. */
export interface RatioReport {
  readonly name: string;
  readonly description: string;
  /** The task whose p50 is divided. */
  readonly numerator: string;
  /** The task whose p50 divides. */
  readonly denominator: string;
  readonly target: Target;
  /** p50(numerator) / p50(denominator); absent when either task did not run. */
  readonly value?: number;
  /** true / false against the target; null when it could not be measured here. */
  readonly pass: boolean | null;
  readonly reason?: string;
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

export interface BenchReport {
  readonly schema: typeof BENCH_SCHEMA;
  /** ISO 8601, when the run started. */
  readonly date: string;
  readonly machine: MachineInfo;
  readonly options: { readonly timeMs: number; readonly warmupMs: number; readonly rounds: number };
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

/** Builds a task's report from its per-iteration samples in milliseconds (as tinybench records them). */
export function taskReport(
  meta: {
    name: string;
    description: string;
    unit: BenchUnit;
    unitsPerIteration: number;
    notes?: readonly string[];
  },
  iterationMs: readonly number[],
): TaskReport {
  const samples = iterationMs.map((ms) => (ms * 1e6) / meta.unitsPerIteration).sort((a, b) => a - b);
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
    ...(meta.notes?.length ? { notes: meta.notes } : {}),
  };
}

/**
 * The ratio definitions: the performance targets of DESIGN.md, each between two tasks of one run, for
 * each flavour. A ratio is reported when its numerator task was measured or skipped here (so Linux
 * shows the x86 native ones, Apple Silicon the arm64 ones; the model's long-mode throughput ratio
 * wherever the flat x86 throughput task ran).
 */
export const RATIO_DEFINITIONS: ReadonlyArray<Omit<RatioReport, 'value' | 'pass' | 'reason'>> = (
  ['x86', 'arm64'] as const
)
  .flatMap((a) => [
    {
      name: `${a}.model-vs-native-exit`,
      description: `native ns per exit / model ns per exit (${a} exit round trip, same VMM loop)`,
      numerator: `native.${a}.exit.js`,
      denominator: `model.${a}.exit`,
      target: {
        op: '>=' as const,
        bound: 20,
        text: `${a}: model exit round trip at least 20× faster than native`,
      },
    },
    {
      name: `${a}.native-js-vs-c-baseline`,
      description: `native ns per exit through the JS API / ns per exit of the C baseline loop in the addon (${a})`,
      numerator: `native.${a}.exit.js`,
      denominator: `native.${a}.exit.c-baseline`,
      target: {
        op: '<=' as const,
        bound: 1.05,
        text: `${a}: native exit loop through the JS API within 1.05× of the C baseline`,
      },
    },
  ])
  .concat([
    {
      name: 'x86.long64-vs-flat-throughput',
      description:
        'model ns per instruction, flat 32-bit / long mode with 4-level paging (the long-mode speed as a fraction of the flat one)',
      numerator: 'model.x86.guest-throughput',
      denominator: 'model.x86.guest-throughput.long64',
      target: {
        op: '>=' as const,
        bound: 0.5,
        text: 'x86: model guest throughput in long mode with paging at least half the flat 32-bit one',
      },
    },
  ]);

/** Computes the ratios from the tasks of one run (medians: robust to the host's noise). */
export function computeRatios(tasks: readonly TaskReport[], skipped: readonly SkippedTask[]): RatioReport[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const seen = (name: string): boolean => byName.has(name) || skipped.some((s) => s.name === name);
  return RATIO_DEFINITIONS.filter((def) => seen(def.numerator)).map((def) => {
    const num = byName.get(def.numerator);
    const den = byName.get(def.denominator);
    if (!num || !den || !(den.p50 > 0)) {
      const missing = [def.numerator, def.denominator].filter((n) => !byName.has(n));
      const why = missing
        .map((n) => `${n}: ${skipped.find((s) => s.name === n)?.reason ?? 'not measured'}`)
        .join('; ');
      return { ...def, pass: null, reason: why || 'denominator is zero' };
    }
    const value = num.p50 / den.p50;
    const pass = def.target.op === '>=' ? value >= def.target.bound : value <= def.target.bound;
    return { ...def, value, pass };
  });
}

/** Checks that `x` looks like a BenchReport of this schema; returns what is wrong, or undefined. */
export function checkReport(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const r = x as Record<string, unknown>;
  if (r.schema !== BENCH_SCHEMA) return `schema is ${JSON.stringify(r.schema)}, expected ${BENCH_SCHEMA}`;
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

/** Formats a duration in ns with a unit that keeps three significant digits. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toPrecision(3)} ns`;
}

/** Formats a rate with an SI prefix. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return String(perSecond);
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toPrecision(3)} G/s`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toPrecision(3)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toPrecision(3)} k/s`;
  return `${perSecond.toPrecision(3)} /s`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const BAR = 40;

/**
 * Plain text: the machine, a table of every task (ns per unit, ops/s), a bar chart of the mean per
 * unit kind (bars share one linear scale per kind), the skipped tasks with their reasons, and the
 * ratios with their targets.
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
  lines.push(
    `time per task: ${r.options.timeMs} ms (+ ${r.options.warmupMs} ms warm-up) in ${r.options.rounds} interleaved rounds`,
  );
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
  for (const unit of ['exit', 'instruction'] as const) {
    const group = r.tasks.filter((t) => t.unit === unit);
    if (group.length === 0) continue;
    lines.push('');
    lines.push(`mean ns per ${unit} (shorter is faster):`);
    const max = Math.max(...group.map((t) => t.mean));
    for (const t of group) {
      const n = max > 0 ? Math.max(1, Math.round((t.mean / max) * BAR)) : 0;
      lines.push(`  ${pad(t.name, nameW)} ${'█'.repeat(n)}${' '.repeat(BAR - n)} ${formatNs(t.mean)}`);
    }
  }
  if (r.skipped.length) {
    lines.push('');
    lines.push('not measured here:');
    for (const s of r.skipped) lines.push(`  ${s.name}: ${s.reason}`);
  }
  lines.push('');
  lines.push('targets (ratios of medians in this run):');
  for (const q of r.ratios) {
    const verdict = q.pass === null ? 'n/a ' : q.pass ? 'PASS' : 'FAIL';
    const value = q.value === undefined ? 'not measured' : `${q.value.toFixed(q.value >= 10 ? 1 : 3)}×`;
    lines.push(`  [${verdict}] ${q.target.text}: ${value} (needs ${q.target.op} ${q.target.bound}×)`);
    if (q.reason) lines.push(`         ${q.reason}`);
  }
  return lines.join('\n');
}
