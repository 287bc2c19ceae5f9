/**
 * A run's raw measurement before it becomes a report: for each task, each round's iteration times
 * and the reference workload's time before each of them (reference.ts), in order. Rounds measured
 * in separate processes are merged at this level, so that the host's speed is judged against one
 * floor for the whole run, and then turned into the report.
 * @module
 */

import { REFERENCE_VERSION } from './reference.js';
import {
  BENCH_SCHEMA,
  type BenchOptions,
  type BenchReport,
  type BenchUnit,
  HOST_SLOW_FACTOR,
  type MachineInfo,
  type OtherExits,
  type SkippedTask,
  type TaskReport,
  taskReport,
} from './report.js';
import { quantile } from './stats.js';
import { computeRatios } from './targets.js';

/** One task's iterations in one round: ms of each body, and of the reference before it. */
export interface RoundTimes {
  readonly body: readonly number[];
  readonly reference: readonly number[];
}

/** A measured task: what the report says of it, and its rounds. */
export interface MeasuredTask {
  readonly name: string;
  readonly description: string;
  readonly unit: BenchUnit;
  readonly unitsPerIteration: number;
  readonly notes: readonly string[];
  readonly otherExits?: OtherExits;
  readonly rounds: readonly RoundTimes[];
}

/** What one process measured: its tasks, and those it could not run. */
export interface Measurement {
  readonly tasks: readonly MeasuredTask[];
  readonly skipped: readonly SkippedTask[];
}

/**
 * Merges the measurements of rounds run apart, in round order: rounds concatenated, exit counts
 * summed, notes united; a task skipped in some parts and measured in others is measured, with a note.
 * `rounds` is how many rounds the parts make (a round may be several processes, each with a part of
 * the tasks; default one part a round).
 */
export function mergeMeasurements(parts: readonly Measurement[], rounds: number = parts.length): Measurement {
  const order: string[] = [];
  const measured = new Map<string, MeasuredTask[]>();
  const skippedIn = new Map<string, string[]>();
  const seen = (name: string): boolean => measured.has(name) || skippedIn.has(name);
  for (const part of parts) {
    for (const t of part.tasks) {
      if (!seen(t.name)) order.push(t.name);
      measured.set(t.name, [...(measured.get(t.name) ?? []), t]);
    }
    for (const s of part.skipped) {
      if (!seen(s.name)) order.push(s.name);
      skippedIn.set(s.name, [...(skippedIn.get(s.name) ?? []), s.reason]);
    }
  }
  const tasks: MeasuredTask[] = [];
  const skipped: SkippedTask[] = [];
  for (const name of order) {
    const runs = measured.get(name);
    const reasons = skippedIn.get(name) ?? [];
    if (!runs) {
      skipped.push({ name, reason: reasons[0] ?? 'not measured' });
      continue;
    }
    const first = runs[0]!;
    const notes = [...new Set(runs.flatMap((t) => t.notes))];
    if (reasons.length > 0)
      notes.push(
        `not measured in ${reasons.length} of ${rounds} rounds: ${[...new Set(reasons)].join('; ')}`,
      );
    const counted = runs.map((t) => t.otherExits).filter((o) => o !== undefined);
    tasks.push({
      name,
      description: first.description,
      unit: first.unit,
      unitsPerIteration: first.unitsPerIteration,
      notes,
      ...(counted.length > 0
        ? {
            otherExits: {
              count: counted.reduce((a, o) => a + o.count, 0),
              of: counted.reduce((a, o) => a + o.of, 0),
              kind: counted[0]!.kind,
            },
          }
        : {}),
      rounds: runs.flatMap((t) => t.rounds),
    });
  }
  return { tasks, skipped };
}

/**
 * The reference workload's floor in a measurement: the 10th percentile of its times before every
 * iteration of every task, ms (NaN without any). The host ran at full speed at least that often.
 */
export function referenceFloorMs(m: Measurement): number {
  const all = m.tasks.flatMap((t) => t.rounds.flatMap((r) => r.reference)).sort((a, b) => a - b);
  return all.length ? quantile(all, 0.1) : Number.NaN;
}

/** Turns a run's measurement into its report, leaving out iterations taken on a slowed host. */
export function buildReport(
  m: Measurement,
  run: {
    readonly date: string;
    readonly machine: MachineInfo;
    readonly options: Omit<BenchOptions, 'reference'>;
  },
): BenchReport {
  const floorMs = referenceFloorMs(m);
  const tasks: TaskReport[] = m.tasks.map((t) =>
    taskReport(
      {
        name: t.name,
        description: t.description,
        unit: t.unit,
        unitsPerIteration: t.unitsPerIteration,
        notes: t.notes,
        ...(t.otherExits ? { otherExits: t.otherExits } : {}),
      },
      t.rounds.map((r) => r.body),
      Number.isFinite(floorMs) ? { ms: t.rounds.map((r) => r.reference), floorMs } : undefined,
    ),
  );
  return {
    schema: BENCH_SCHEMA,
    date: run.date,
    machine: run.machine,
    options: {
      ...run.options,
      ...(Number.isFinite(floorMs)
        ? { reference: { version: REFERENCE_VERSION, floorNs: floorMs * 1e6, slowFactor: HOST_SLOW_FACTOR } }
        : {}),
    },
    tasks,
    skipped: m.skipped,
    ratios: computeRatios(tasks, m.skipped),
  };
}
