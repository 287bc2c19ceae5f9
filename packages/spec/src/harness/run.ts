/**
 * The conformance run: fast-check model-based testing of a backend against the spec, with coverage of
 * rule rows and exit kinds, and counterexamples turned into traces.
 * @module
 */
import fc from 'fast-check';
import type { Arch, Backend } from '../backend.js';
import { allRuleIds } from '../calls/registry.js';
import type { Judgement } from '../calls/types.js';
import { envFromCapabilities, initialState } from '../state.js';
import { lifecycleCommands, type Weighted } from './commands.js';
import type { LogEntry, Model, Observation, OpenDifference, Real } from './context.js';
import { SequenceEnd } from './execute.js';
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
  /**
   * Run one shard of the whole run (`runs`, `seed`): see {@link shardRun}. The report's `runs` and
   * `seed` are then the shard's, and `shard` names it.
   */
  readonly shard?: Shard;
  /** Called after every judged call (see Real.observe). */
  readonly observe?: (o: Observation) => void;
  /** Mismatches to tolerate: the sequence ends there, the run goes on (see Real.tolerate). */
  readonly tolerate?: (j: Judgement) => boolean;
}

/** Shard `index` (from 1) of `count`: how a CI matrix splits one long run across machines. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * The runs and the seed of one shard of a run of `runs` with base seed `seed`. The shards' runs add up
 * to `runs` (the first `runs % count` shards take one more), and each shard's seed is a function of
 * the base seed and the shard's index alone, so any shard can be re-run on its own. Shard 1/1 is the
 * whole run, with the base seed itself.
 */
export function shardRun(runs: number, seed: number, shard: Shard): { runs: number; seed: number } {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 1 || index > count)
    throw new RangeError(`shard ${index}/${count}: the index must be between 1 and the count`);
  const share = Math.floor(runs / count) + (index <= runs % count ? 1 : 0);
  if (count === 1) return { runs: share, seed };
  // A 32-bit integer hash (murmur3's finaliser) of the base seed mixed with the index.
  let h = (seed ^ Math.imul(index, 0x9e3779b1)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return { runs: share, seed: (h ^ (h >>> 16)) | 0 };
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
  /**
   * Differential mode: behaviour the spec leaves open on which the backends differ, grouped by rule and
   * by what each answered, with counts; one backend succeeding where the other failed first.
   */
  readonly differences: readonly DifferenceGroup[];
  /** When the run was one shard of a larger one: which, and the whole run's runs and base seed. */
  readonly shard?: Shard & { readonly runs: number; readonly seed: number };
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
  try {
    for (const c of cmds) {
      if (await c.check(model)) await c.run(model, real);
    }
  } catch (e) {
    if (!(e instanceof SequenceEnd)) throw e;
  }
}

function freshModel(
  backend: Backend,
  coverage: Set<string>,
  exits: Set<string>,
  differences: OpenDifference[] = [],
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
  const baseRuns = opts.runs ?? 100;
  const baseSeed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const { runs, seed } = opts.shard
    ? shardRun(baseRuns, baseSeed, opts.shard)
    : { runs: baseRuns, seed: baseSeed };
  const allowDangerous = opts.allowDangerous ?? backend.capabilities.backend === 'model';
  const coverage = new Set<string>();
  const exits = new Set<string>();
  const differences: OpenDifference[] = [];
  let skipped = 0;
  const sources = opts.extraCommands ?? [guestCommands];
  const env = envFromCapabilities(backend.capabilities);
  const arbs = [...lifecycleCommands(arch, env), ...sources.flatMap((src) => src(arch, backend))];
  let done = 0;
  const observers = {
    ...(opts.observe ? { observe: opts.observe } : {}),
    ...(opts.tolerate ? { tolerate: opts.tolerate } : {}),
  };
  const property = fc.asyncProperty(
    fc.commands([fc.oneof(...arbs)], {
      maxCommands: opts.maxCommands ?? 60,
      size: 'max',
      ...(opts.replayPath ? { replayPath: opts.replayPath } : {}),
    }),
    async (cmds) => {
      const real: Real = { backend, log: [], allowDangerous, ...observers };
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
    ...(opts.shard ? { shard: { ...opts.shard, runs: baseRuns, seed: baseSeed } } : {}),
  };
  await backend.reset();
  if (!details.failed || !details.counterexample) return { ...base, ok: true };
  const [cmds] = details.counterexample;
  const text = String(cmds);
  const replayPath = /replayPath="([^"]*)"/.exec(text)?.[1];
  // Re-run the shrunk counterexample once more, logging, to write its trace.
  const real: Real = {
    backend,
    log: [],
    allowDangerous,
    ...(opts.tolerate ? { tolerate: opts.tolerate } : {}),
  };
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

/** Differences of one kind on one rule, counted. */
export interface DifferenceGroup {
  readonly ruleId: string;
  readonly kind: OpenDifference['kind'];
  /** What each backend answered: code names (one group per pair), or, for values, the first example. */
  readonly a: string;
  readonly b: string;
  readonly count: number;
  /** The first call of the group and its difference, on one line. */
  readonly what: string;
}

const KIND_ORDER: Record<OpenDifference['kind'], number> = { outcome: 0, code: 1, value: 2 };

/**
 * Groups differences by rule and by the codes each backend returned (values, which the spec does not
 * predict, by rule alone), so that one divergence seen a hundred times is one line. One backend
 * succeeding where the other failed comes first: it is a difference in behaviour, where two error
 * codes for one misuse are the looseness the spec allows.
 */
function summariseDifferences(ds: readonly OpenDifference[]): DifferenceGroup[] {
  const byKey = new Map<string, DifferenceGroup>();
  for (const d of ds) {
    const key = d.kind === 'value' ? `${d.ruleId}|value` : `${d.ruleId}|${d.a}|${d.b}`;
    const e = byKey.get(key);
    byKey.set(key, e ? { ...e, count: e.count + 1 } : { ...d, count: 1 });
  }
  return [...byKey.values()].sort(
    (x, y) =>
      KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || y.count - x.count || x.ruleId.localeCompare(y.ruleId),
  );
}
