/**
 * Merging the reports of rounds run apart (one process per round) into the report of one run: the
 * samples are pooled, the per-round medians kept in round order, the statistics and the targets
 * recomputed from the pooled data.
 * @module
 */
import {
  BENCH_SCHEMA,
  type BenchOptions,
  type BenchReport,
  type MachineInfo,
  type SkippedTask,
  type TaskReport,
} from './report.js';
import { summarize } from './stats.js';
import { computeRatios } from './targets.js';

/** Merges `parts` (rounds of one run, in round order) under the run's own date, machine and options. */
export function mergeRounds(
  parts: readonly BenchReport[],
  run: { readonly date: string; readonly machine: MachineInfo; readonly options: BenchOptions },
): BenchReport {
  const order: string[] = [];
  const measured = new Map<string, TaskReport[]>();
  const skippedIn = new Map<string, string[]>();
  for (const part of parts) {
    for (const t of part.tasks) {
      if (!measured.has(t.name) && !skippedIn.has(t.name)) order.push(t.name);
      measured.set(t.name, [...(measured.get(t.name) ?? []), t]);
    }
    for (const s of part.skipped) {
      if (!measured.has(s.name) && !skippedIn.has(s.name)) order.push(s.name);
      skippedIn.set(s.name, [...(skippedIn.get(s.name) ?? []), s.reason]);
    }
  }
  const tasks: TaskReport[] = [];
  const skipped: SkippedTask[] = [];
  for (const name of order) {
    const runs = measured.get(name);
    const reasons = skippedIn.get(name) ?? [];
    if (!runs) {
      skipped.push({ name, reason: reasons[0] ?? 'not measured' });
      continue;
    }
    const first = runs[0]!;
    const samples = runs.flatMap((t) => t.samples).sort((a, b) => a - b);
    const s = summarize(samples);
    const notes = [...new Set(runs.flatMap((t) => t.notes ?? []))];
    const counted = runs.map((t) => t.otherExits).filter((o) => o !== undefined);
    const otherExits =
      counted.length > 0
        ? {
            count: counted.reduce((a, o) => a + o.count, 0),
            of: counted.reduce((a, o) => a + o.of, 0),
            kind: counted[0]!.kind,
          }
        : undefined;
    if (reasons.length > 0)
      notes.push(
        `not measured in ${reasons.length} of ${parts.length} rounds: ${[...new Set(reasons)].join('; ')}`,
      );
    tasks.push({
      name,
      description: first.description,
      unit: first.unit,
      unitsPerIteration: first.unitsPerIteration,
      samplesCount: s.n,
      mean: s.mean,
      p50: s.p50,
      p99: s.p99,
      sd: s.sd,
      opsPerSecond: s.mean > 0 ? 1e9 / s.mean : 0,
      samples,
      roundP50s: runs.flatMap((t) => t.roundP50s ?? []),
      ...(notes.length ? { notes } : {}),
      ...(otherExits ? { otherExits } : {}),
    });
  }
  return {
    schema: BENCH_SCHEMA,
    date: run.date,
    machine: run.machine,
    options: run.options,
    tasks,
    skipped,
    ratios: computeRatios(tasks, skipped),
  };
}
