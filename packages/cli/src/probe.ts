/**
 * `hvspec probe`: what this machine's native backend answers where the spec's rows are `unverified`.
 * The conformance harness drives the native backend with the spec as the model, as `check` does, and
 * records, for every unverified row it reaches, the codes the backend returned and the shortest call
 * sequence that reached the row. A backend answering outside such a row's loose rule (HV_SUCCESS where
 * the row says "not HV_SUCCESS") ends that sequence quietly: that is what a probe is for. Rows marked
 * dangerous are never called (the harness never makes them on real hardware).
 *
 * On a Mac the native backend is Apple's framework, and what it answers is evidence to promote a row
 * from `unverified` to `tested`. On Linux it is hvspec's KVM provider, whose answers are its own
 * choices (packages/native/provider/README.md): the output says so.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Arch,
  type Backend,
  type CallSpec,
  callSpecs,
  envFromCapabilities,
  hvReturnName,
  type LogEntry,
  logToTrace,
  type Observation,
  parseTrace,
  type Row,
  runConformance,
  type SpecEnv,
  showRet,
  type TraceJson,
} from '@hvspec/spec';
import type { Command } from 'commander';
import { hostArchs, openBackend, reportUsageFailure } from './backends.js';
import {
  checkOutputDir,
  EXIT_FAILED,
  EXIT_OK,
  integer,
  jsonText,
  makeDir,
  positiveInteger,
  UsageError,
  withExitCodes,
} from './common.js';
import { startProgress } from './progress.js';

/** An unverified row of the plan. */
export interface PlannedRow {
  readonly id: string;
  readonly function: string;
  readonly when: string;
  /** What the spec says: `not HV_SUCCESS (state unchanged)`, a code, `any code`. */
  readonly spec: string;
  readonly source: string;
  /** The row applies only on some hosts (it has an environment condition). */
  readonly hostDependent: boolean;
  /** Why it is never made on real hardware, for dangerous rows (not probed). */
  readonly dangerous?: string;
}

/** The unverified rows of a flavour, in table order. */
export function probePlan(arch: Arch): PlannedRow[] {
  return callSpecs(arch).flatMap((spec: CallSpec) =>
    spec.rows
      .filter((r: Row) => r.evidence === 'unverified')
      .map((r) => ({
        id: `${spec.name}.${r.id}`,
        function: spec.name,
        when: r.when,
        spec: showRet(r.ret),
        source: r.source,
        hostDependent: r.requires !== undefined,
        ...(r.dangerous ? { dangerous: r.dangerous } : {}),
      })),
  );
}

/** What the backend answered on one row. */
export interface ProbedRow extends PlannedRow {
  readonly reached: boolean;
  /** The row cannot apply on this host (its environment condition does not hold). */
  readonly notApplicable?: boolean;
  /** Each code returned, by name, with how often. */
  readonly observed: readonly { readonly ret: string; readonly count: number }[];
  /** Calls the spec judged against the row and found outside it. */
  readonly outside: number;
  /** The trace written for the row (with --out). */
  readonly trace?: string;
}

export interface ProbeReport {
  readonly arch: Arch;
  readonly backend: string;
  readonly runs: number;
  readonly seed: number;
  readonly rows: readonly ProbedRow[];
  /** The backend broke a row that is not unverified: the run stopped there. */
  readonly failure?: string;
}

interface Seen {
  codes: Map<string, number>;
  outside: number;
  shortest?: { log: LogEntry[]; ret: number };
}

/** The shortest call sequence that reached a row, as a trace whose last step expects what was observed. */
export function probeTrace(
  arch: Arch,
  backend: string,
  row: PlannedRow,
  log: readonly LogEntry[],
  ret: number,
): TraceJson {
  const name = hvReturnName(ret);
  const trace = logToTrace(
    arch,
    `${row.id}: ${backend} returned ${name}`,
    log,
    `Recorded by hvspec probe on ${backend}. The spec's row (${row.source}): when ${row.when} → ${row.spec}.`,
  );
  const last = trace.steps.at(-1) as { expect?: Record<string, unknown> } | undefined;
  if (last) last.expect = { ret: name };
  // A row reached while a guest run was in flight (the kick of a spinning vCPU): the trace ends by
  // awaiting it, as the format requires, without expectations (the probed call was the point).
  const steps = trace.steps as { async?: boolean; label?: string; call: string; args?: { label?: string } }[];
  const awaited = new Set(steps.filter((st) => st.call === 'await').map((st) => st.args?.label));
  for (const st of steps)
    if (st.async && st.label !== undefined && !awaited.has(st.label))
      trace.steps.push({ call: 'await', args: { label: st.label } });
  return trace;
}

/** Probes the unverified rows on an opened backend. */
export async function runProbe(
  backend: Backend,
  opts: { runs: number; seed?: number; out?: string; progress?: boolean },
): Promise<ProbeReport> {
  const arch = backend.arch;
  const caps = backend.capabilities;
  const env: SpecEnv = envFromCapabilities(caps);
  const plan = probePlan(arch);
  const unverified = new Set(plan.map((r) => r.id));
  const seen = new Map<string, Seen>();
  const observe = (o: Observation): void => {
    if (!unverified.has(o.ruleId)) return;
    let s = seen.get(o.ruleId);
    if (!s) {
      s = { codes: new Map(), outside: 0 };
      seen.set(o.ruleId, s);
    }
    const name = hvReturnName(o.outcome.ret);
    s.codes.set(name, (s.codes.get(name) ?? 0) + 1);
    if (!o.judgement.ok) s.outside++;
    if (!s.shortest || o.log.length < s.shortest.log.length)
      s.shortest = { log: [...o.log], ret: o.outcome.ret };
  };
  const progress = opts.progress
    ? startProgress({ label: `probe ${arch} ${caps.backend}`, total: opts.runs, unit: 'runs' })
    : undefined;
  let report: Awaited<ReturnType<typeof runConformance>>;
  try {
    report = await runConformance(backend, {
      runs: opts.runs,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      observe,
      tolerate: (j) => j.row.evidence === 'unverified',
      ...(progress ? { onRun: (n: number) => progress.update(n) } : {}),
    });
  } finally {
    progress?.finish();
  }
  const applicable = new Set(
    callSpecs(arch).flatMap((c) =>
      c.rows.filter((r) => !r.requires || r.requires(env)).map((r) => `${c.name}.${r.id}`),
    ),
  );
  if (opts.out) makeDir('--out', opts.out);
  const rows: ProbedRow[] = plan.map((p) => {
    const s = seen.get(p.id);
    const observed = s
      ? [...s.codes].map(([ret, count]) => ({ ret, count })).sort((a, b) => b.count - a.count)
      : [];
    let trace: string | undefined;
    if (s?.shortest && opts.out) {
      const json = probeTrace(arch, caps.backend, p, s.shortest.log, s.shortest.ret);
      // What probe writes must be a trace replay accepts: parse it before it goes to disk.
      parseTrace(JSON.stringify(json), p.id);
      trace = join(opts.out, `${arch}-${p.id}.json`);
      try {
        writeFileSync(trace, `${JSON.stringify(json, null, 2)}\n`);
      } catch (e) {
        throw new UsageError(
          `--out ${opts.out}: cannot write ${trace} (${(e as NodeJS.ErrnoException).code})`,
        );
      }
    }
    return {
      ...p,
      reached: s !== undefined,
      ...(applicable.has(p.id) ? {} : { notApplicable: true }),
      observed,
      outside: s?.outside ?? 0,
      ...(trace ? { trace } : {}),
    };
  });
  return {
    arch,
    backend: caps.backend,
    runs: report.runs,
    seed: report.seed,
    rows,
    ...(report.failure ? { failure: `${report.failure.message}\n${report.failure.commands}` } : {}),
  };
}

function grouped<T extends { function: string }>(rows: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) m.set(r.function, [...(m.get(r.function) ?? []), r]);
  return m;
}

/** The lines of `--dry-run`: the unverified rows by function, and the dangerous ones never made. */
export function planLines(arch: Arch, plan: readonly PlannedRow[]): string[] {
  const probed = plan.filter((r) => !r.dangerous);
  const dangerous = plan.filter((r) => r.dangerous);
  const lines = [
    `probe plan, ${arch}: ${probed.length} unverified rows of ${grouped(probed).size} functions, on the native backend` +
      (dangerous.length ? `; ${dangerous.length} dangerous rows never called` : ''),
  ];
  for (const [fn, rows] of grouped(probed)) {
    lines.push(fn);
    for (const r of rows)
      lines.push(`  ${r.id}: ${r.when} → ${r.spec}${r.hostDependent ? ' (only on some hosts)' : ''}`);
  }
  if (dangerous.length) {
    lines.push('never called (dangerous on real hardware):');
    for (const r of dangerous) lines.push(`  ${r.id}: ${r.dangerous}`);
  }
  return lines;
}

/** The lines of a probe: per function, the spec's expectation beside what this machine returned. */
export function probeLines(r: ProbeReport): string[] {
  const probed = r.rows.filter((x) => !x.dangerous);
  const reached = probed.filter((x) => x.reached);
  const lines = [
    `probe ${r.arch} ${r.backend}: ${r.runs} runs, seed ${r.seed}: ${reached.length} of ${probed.length} unverified rows reached`,
  ];
  if (r.backend === 'native-kvm') {
    lines.push(
      "  note: native-kvm is hvspec's KVM provider, not Apple's framework: its codes are its own choices",
      '  (packages/native/provider/README.md); only a probe on a Mac (native-hvf) is evidence for a row.',
    );
  }
  const width = Math.max(...probed.map((x) => x.id.length), 10);
  for (const [fn, rows] of grouped(probed)) {
    lines.push(fn);
    for (const x of rows) {
      const here = x.reached
        ? x.observed.map((o) => `${o.ret} ×${o.count}`).join(', ')
        : x.notApplicable
          ? 'cannot apply on this host'
          : 'not reached';
      const mark = x.outside ? '  ← outside the spec' : '';
      lines.push(`  ${x.id.padEnd(width)}  spec: ${x.spec.padEnd(32)}  here: ${here}${mark}`);
    }
  }
  const outside = probed.filter((x) => x.outside);
  if (outside.length)
    lines.push(
      `${outside.length} rows answered outside the spec's rule: ${outside.map((x) => x.id).join(', ')}`,
    );
  const dangerous = r.rows.filter((x) => x.dangerous);
  if (dangerous.length) lines.push(`never called (dangerous): ${dangerous.map((x) => x.id).join(', ')}`);
  const traces = r.rows.filter((x) => x.trace).length;
  if (traces) lines.push(`wrote ${traces} traces (replay them: hvspec replay --backend native DIR)`);
  if (r.failure)
    lines.push(
      `FAIL: the backend broke a rule that is not unverified; the run stopped:`,
      `  ${r.failure.replace(/\n/g, '\n  ')}`,
    );
  return lines;
}

function parseArchs(v: unknown): Arch[] | undefined {
  if (v === undefined) return undefined;
  if (v === 'all') return ['x86_64', 'arm64'];
  if (v === 'x86_64' || v === 'arm64') return [v];
  throw new UsageError(`--arch must be x86_64, arm64 or all, got ${JSON.stringify(v)}`);
}

/** Registers `hvspec probe` on the program. */
export function registerProbe(program: Command): void {
  const cmd = program
    .command('probe')
    .description(
      "run the spec's unverified rules on the native backend and print what this machine returns beside what the spec says",
    )
    .option('--runs <n>', 'generated call sequences, a positive integer', '300')
    .option('--seed <n>', 'fast-check seed (random by default)')
    .option(
      '--out <dir>',
      'write one trace per reached row: the shortest call sequence, expecting what was observed',
    )
    .option('--dry-run', 'print the plan (the unverified rows by function) without a backend')
    .option(
      '--arch <arch>',
      'with --dry-run: x86_64, arm64 or all (default: the native flavour here, else all)',
    )
    .option('--json', 'print the plan or the results as JSON')
    .option('--no-progress', 'no progress bar or progress lines');
  withExitCodes(cmd).action(async (o) => {
    try {
      const runs = positiveInteger('--runs', o.runs);
      const seed = o.seed === undefined ? undefined : integer('--seed', o.seed);
      const asked = parseArchs(o.arch);
      if (o.dryRun) {
        let archs = asked;
        if (!archs) {
          try {
            archs = await hostArchs('native');
          } catch {
            archs = ['x86_64', 'arm64'];
          }
        }
        const plans = archs.map((arch) => ({ arch, rows: probePlan(arch) }));
        process.stdout.write(
          o.json ? `${jsonText(plans)}\n` : `${plans.flatMap((p) => planLines(p.arch, p.rows)).join('\n')}\n`,
        );
        process.exitCode = EXIT_OK;
        return;
      }
      if (o.out !== undefined) checkOutputDir('--out', String(o.out));
      const here = await hostArchs('native');
      if (asked && !asked.every((a) => here.includes(a)))
        throw new UsageError(`the native backend runs ${here.join(', ')} here, not ${asked.join(', ')}`);
      const reports: ProbeReport[] = [];
      for (const arch of asked ?? here) {
        const backend = await openBackend('native', arch);
        try {
          const r = await runProbe(backend, {
            runs,
            ...(seed !== undefined ? { seed } : {}),
            ...(o.out !== undefined ? { out: String(o.out) } : {}),
            progress: o.progress !== false && !o.json,
          });
          reports.push(r);
          if (!o.json) process.stdout.write(`${probeLines(r).join('\n')}\n`);
        } finally {
          await backend.close();
        }
      }
      if (o.json) process.stdout.write(`${jsonText(reports)}\n`);
      process.exitCode = reports.some((r) => r.failure) ? EXIT_FAILED : EXIT_OK;
    } catch (e) {
      reportUsageFailure('probe', e);
    }
  });
}
