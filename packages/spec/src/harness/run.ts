/**
 * The conformance run: fast-check model-based testing of a backend against the spec, with coverage of
 * rule rows and exit kinds, and counterexamples turned into traces.
 * @module
 */
import fc from 'fast-check';
import type { Arch, Backend } from '../backend.js';
import { allRuleIds } from '../calls/registry.js';
import { envFromCapabilities, initialState } from '../state.js';
import { lifecycleCommands, type Weighted } from './commands.js';
import type { LogEntry, Model, Real } from './context.js';
import { guestCommands } from './guest.js';
import { logToTrace, type TraceJson } from './to-trace.js';

/** Extra command sources (guest programs add theirs here). */
export type CommandSource = (arch: Arch, backend: Backend) => Weighted[];

/** Options of a conformance run. */
export interface ConformanceOptions {
  /** Number of generated command sequences (fast-check runs). Default 100. */
  readonly runs?: number;
  readonly seed?: number;
  /** Replay a failure: fast-check's counterexample path. */
  readonly path?: string;
  /** Replay a failure: the commands' replay path. */
  readonly replayPath?: string;
  /** Longest command sequence. Default 60. */
  readonly maxCommands?: number;
  /** Allow calls the spec marks dangerous. Only the model should. Default: backend is the model. */
  readonly allowDangerous?: boolean;
  /** More command sources. Default: the guest programs (when the backend executes guest code). */
  readonly extraCommands?: readonly CommandSource[];
  /** Called after each run with the number done. */
  readonly onRun?: (done: number) => void;
}

/** What a conformance run found. */
export interface ConformanceReport {
  readonly arch: Arch;
  readonly backend: string;
  readonly runs: number;
  readonly seed: number;
  readonly ok: boolean;
  /**
   * Rule ids the run hit, and the rule ids that can apply here: those of rows that need another host
   * environment, and dangerous rows on real hardware, are not counted.
   */
  readonly rulesCovered: readonly string[];
  readonly rulesTotal: readonly string[];
  /** Guest exit kinds observed (guest programs). */
  readonly exitKinds: readonly string[];
  /** Calls skipped because the spec marks them dangerous on real hardware. */
  readonly skippedDangerous: number;
  /** Differential mode: behaviour the spec leaves open on which the backends differ, by rule, with counts. */
  readonly differences: readonly { ruleId: string; what: string; count: number }[];
  readonly failure?: {
    readonly message: string;
    readonly path: string;
    readonly replayPath?: string;
    /** The shrunk counterexample as a call list (one line per call). */
    readonly commands: string;
    readonly trace: TraceJson;
  };
}

/** Runs the commands of one sequence on a freshly reset backend. */
async function runSequence(
  backend: Backend,
  cmds: Iterable<fc.AsyncCommand<Model, Real, boolean>>,
  real: Real,
  model: Model,
): Promise<void> {
  await backend.reset();
  for (const c of cmds) {
    if (await c.check(model)) await c.run(model, real);
  }
}

function freshModel(
  backend: Backend,
  coverage: Set<string>,
  exits: Set<string>,
  differences: { ruleId: string; what: string }[] = [],
): Model {
  return {
    state: initialState(envFromCapabilities(backend.capabilities)),
    mems: new Map(),
    codeMems: new Set(),
    coverage,
    exits,
    differences,
  };
}

/** Runs the conformance suite against a backend. */
export async function runConformance(
  backend: Backend,
  opts: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const arch = backend.arch;
  const runs = opts.runs ?? 100;
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const allowDangerous = opts.allowDangerous ?? backend.capabilities.backend === 'model';
  const coverage = new Set<string>();
  const exits = new Set<string>();
  const differences: { ruleId: string; what: string }[] = [];
  let skipped = 0;
  const sources = opts.extraCommands ?? [guestCommands];
  const arbs = [...lifecycleCommands(arch), ...sources.flatMap((src) => src(arch, backend))];
  let done = 0;
  const property = fc.asyncProperty(
    fc.commands([fc.oneof(...arbs)], {
      maxCommands: opts.maxCommands ?? 60,
      size: 'max',
      ...(opts.replayPath ? { replayPath: opts.replayPath } : {}),
    }),
    async (cmds) => {
      const real: Real = { backend, log: [], allowDangerous };
      const model = freshModel(backend, coverage, exits, differences);
      try {
        await runSequence(backend, cmds, real, model);
      } finally {
        skipped += real.log.filter((e) => e.kind === 'skipped').length;
        opts.onRun?.(++done);
      }
    },
  );
  const details = await fc.check(property, {
    numRuns: runs,
    seed,
    ...(opts.path ? { path: opts.path } : {}),
  });
  const base = {
    arch,
    backend: backend.capabilities.backend,
    runs: details.numRuns,
    seed: details.seed,
    rulesCovered: [...coverage].sort(),
    rulesTotal: allRuleIds(arch, envFromCapabilities(backend.capabilities), { dangerous: allowDangerous }),
    exitKinds: [...exits].sort(),
    skippedDangerous: skipped,
    differences: summariseDifferences(differences),
  };
  await backend.reset();
  if (!details.failed || !details.counterexample) return { ...base, ok: true };
  const [cmds] = details.counterexample;
  const text = String(cmds);
  const replayPath = /replayPath="([^"]*)"/.exec(text)?.[1];
  // Re-run the shrunk counterexample once more, logging, to write its trace.
  const real: Real = { backend, log: [], allowDangerous };
  let message =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  try {
    await runSequence(backend, cmds, real, freshModel(backend, new Set(), new Set()));
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  await backend.reset();
  const trace = logToTrace(
    arch,
    `counterexample: ${message}`,
    real.log as LogEntry[],
    `seed ${details.seed}, path ${details.counterexamplePath}`,
  );
  return {
    ...base,
    ok: false,
    failure: {
      message,
      path: details.counterexamplePath ?? '',
      ...(replayPath ? { replayPath } : {}),
      commands: [...cmds].map(String).join('\n'),
      trace,
    },
  };
}

function summariseDifferences(
  ds: readonly { ruleId: string; what: string }[],
): { ruleId: string; what: string; count: number }[] {
  const byKey = new Map<string, { ruleId: string; what: string; count: number }>();
  for (const d of ds) {
    // Group by rule and by the kind of difference, not by argument values.
    const kind = d.what.replace(/\(.*\)/, '(…)');
    const key = `${d.ruleId}|${kind}`;
    const e = byKey.get(key);
    if (e) e.count++;
    else byKey.set(key, { ruleId: d.ruleId, what: kind, count: 1 });
  }
  return [...byKey.values()].sort((x, y) => y.count - x.count);
}
