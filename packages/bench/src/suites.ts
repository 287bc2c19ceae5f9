/**
 * The bench suites, measured side by side in one run (a few interleaved tinybench rounds) so that
 * every ratio compares numbers from the same machine at the same time (the CI host is noisy: 2 cores,
 * software KVM):
 *
 * - `model.<arch>.guest-throughput`: one run of a long loop of simple instructions per iteration →
 *   ns per guest instruction (instructions per second); `model.x86.long.guest-throughput` the same
 *   loop in 64-bit mode with 4-level paging.
 * - `model.<arch>.exit`: exit round trips of an `out`/`hvc` loop through the backend interface, as a
 *   VMM drives them → ns per exit.
 * - `native.<arch>.exit.js`: the same exit loop on the native backend through its JS API, with the
 *   vCPU owned by logical thread 0 (the JS thread: no thread hop, DESIGN.md "native backend").
 * - `native.<arch>.exit.c-baseline`: the same loop entirely in C inside the addon
 *   (`baselineExitLoop`), timed in C (CLOCK_MONOTONIC) and handed to tinybench as the sample.
 *
 * The native backend is optional: when `@hvspec/native` does not load or says it is unavailable
 * here, its tasks are listed as skipped with the reason, and the run goes on.
 * @module
 */
import { createModel } from '@hvspec/model';
import type { Arch, Arm64Backend, X86Backend } from '@hvspec/spec';
import { Bench, type FnReturnedObject } from 'tinybench';
import { type BenchClock, benchClock, type ClockName } from './clock.js';
import {
  type Arm64Guest,
  arm64ExitLoopProgram,
  arm64ExitRoundTrips,
  arm64ThroughputProgram,
  arm64ThroughputRun,
  setupArm64Guest,
  setupX86Guest,
  setupX86LongGuest,
  throughputInstructions,
  x86ExitLoopProgram,
  x86ExitRoundTrips,
  x86LongThroughputProgram,
  x86ThroughputProgram,
  x86ThroughputRun,
} from './guests.js';
import { mapUnmapPages, setupMapping } from './mapping.js';
import { buildReport, type MeasuredTask, type Measurement } from './measurement.js';
import { referenceWorkload } from './reference.js';
import {
  type BenchOptions,
  type BenchReport,
  type BenchUnit,
  describeMachine,
  type OtherExits,
  type SkippedTask,
} from './report.js';

/** Options of {@link runBench} and {@link measure}: how long and how often to measure, and which tasks. */
export interface RunOptions {
  /** Measuring time per task over all rounds, ms (default 3000; quick 600). */
  readonly timeMs?: number;
  /** Warm-up time per task, ms, spent before the first round (default 150; quick 50). */
  readonly warmupMs?: number;
  /**
   * Interleaved rounds, each running every task for timeMs / rounds (default 10; quick 6). The
   * samples of all rounds are pooled for the task statistics; the ratio targets take the median of
   * the per-round ratios.
   */
  readonly rounds?: number;
  /** Fewest iterations per task and round (default 4; quick 2). */
  readonly minIterations?: number;
  /** The samples' clock (default `cpu`: process CPU time; see clock.ts). */
  readonly clock?: ClockName;
  /**
   * The number of the first round (default 1): rounds with an even number run the tasks in reverse
   * order. Set by the forked runner, whose every process runs one round.
   */
  readonly firstRound?: number;
  /**
   * Which tasks this process runs (set by the forked runner): `model` the model's tasks, `hosts` every
   * other one (native, el2, the C libraries); default all. The two parts of a round run in separate
   * processes so that the bench loops' call sites each see one backend, as a VMM's do: a loop that
   * also drove another backend in the same process measured the model's x86 exit 10–25 ns slower.
   * No ratio target compares a task of one part with a task of the other.
   */
  readonly part?: 'model' | 'hosts';
  /** The quick defaults (for CI: every suite, fewer samples), and the report says so. */
  readonly quick?: boolean;
  /** Whether to try the native backend and el2 (default true; false: model tasks only). */
  readonly native?: boolean;
  /** Only tasks whose name contains one of these strings (default: all). */
  readonly filter?: readonly string[];
  /**
   * For tests of `compare` only: run the named task's body `factor` times per iteration while
   * counting its units once, so it measures `factor`× slower. The report records it.
   */
  readonly slowdown?: { readonly task: string; readonly factor: number };
  /** Progress messages (task started/finished). */
  readonly log?: (message: string) => void;
}

/** Whether `--filter` wants task `name`: no filter wants every task, else one of its strings is in the name. */
export function filterWants(filter: readonly string[] | undefined, name: string): boolean {
  return !filter || filter.length === 0 || filter.some((f) => name.includes(f));
}

/** The usage error of a filter that names no task of the run. */
export function noTaskMatches(filter: readonly string[]): TypeError {
  return new TypeError(`no task matches the filter ${filter.map((f) => JSON.stringify(f)).join(', ')}`);
}

/** The measuring defaults of a full run and of a quick one (`RunOptions` fields override them). */
export const FULL_DEFAULTS = { timeMs: 3000, warmupMs: 150, rounds: 10, minIterations: 4 } as const;
/** The measuring defaults of a `--quick` run (CI: every suite, fewer samples). */
export const QUICK_DEFAULTS = { timeMs: 600, warmupMs: 50, rounds: 6, minIterations: 2 } as const;

/**
 * Loop iterations of the throughput programs: 30 002 guest instructions per `hv_vcpu_run`, so the
 * one run call per iteration is well under 0.1% of the time, and a slow interpreter still gives
 * several samples per round. (arm64 `movz` takes at most 16 bits.)
 */
export const THROUGHPUT_ITERATIONS = 10_000;
/** Exits per tinybench iteration on the model (~1 ms each, far above the timer's resolution). */
export const MODEL_EXITS_PER_ITERATION = 1000;
/** Exits per tinybench iteration on the native backend (~6–20 µs each under PVM). */
export const NATIVE_EXITS_PER_ITERATION = 100;
/** The page counts of the mapping tasks (`<backend>.<arch>.map-unmap.10k` / `.100k`). */
export const MAP_PAGES = { '10k': 10_000, '100k': 100_000 } as const;
/**
 * Rounds the native 100,000-page task runs in (full / quick): one iteration takes about ten seconds on
 * KVM here, where every other task's takes under a second.
 */
export const NATIVE_MAP_100K_ROUNDS = { full: 3, quick: 1 } as const;

/** What the bench needs of `@hvspec/native`, typed here so that the bench builds without it. */
interface NativeModule {
  nativeAvailability(): {
    available: boolean;
    arch?: string;
    backend?: string;
    reason?: string;
    fix?: string;
  };
  createNativeBackend(arch?: Arch): X86Backend | Arm64Backend;
}
/** The addon's C baseline loop, present on native backends that have one. */
interface WithBaseline {
  baselineExitLoop(t: number, vcpu: number, iterations: number): { ret: number; exits: number; ns: number };
}

/** A task to measure: its report metadata and its body (one tinybench iteration). */
interface PlannedTask {
  readonly name: string;
  readonly description: string;
  readonly unit: BenchUnit;
  readonly unitsPerIteration: number;
  readonly fn: () => undefined | FnReturnedObject;
  /** Notes for the report, read after the run. */
  readonly notes?: () => string[];
  /** Exits of another kind than the benchmarked one, read after the run (exit tasks). */
  readonly exits?: () => OtherExits;
  /** Tasks with the same key take turns iteration by iteration (the two sides of a ratio target). */
  readonly interleave?: string;
  /**
   * Exactly this many iterations per round, with no warm-up and no time budget: for tasks whose one
   * iteration takes a second or more (the mapping tasks).
   */
  readonly iterations?: number;
  /** Runs only in rounds 1..rounds (a task too slow for every round); default every round. */
  readonly rounds?: number;
}

/** Loads `@hvspec/native` by a computed specifier, so that neither tsc nor the bench needs it installed. */
async function loadNative(): Promise<{ mod: NativeModule } | { reason: string }> {
  const specifier = '@hvspec/native';
  try {
    const mod = (await import(specifier)) as Partial<NativeModule>;
    if (typeof mod.nativeAvailability !== 'function' || typeof mod.createNativeBackend !== 'function')
      return { reason: '@hvspec/native does not export nativeAvailability/createNativeBackend' };
    return { mod: mod as NativeModule };
  } catch (e) {
    return { reason: `@hvspec/native does not load: ${(e as Error).message}` };
  }
}

/** Plans a task; a setup that fails (a model bug) skips that task with the reason instead of aborting the run. */
function plan(tasks: PlannedTask[], skipped: SkippedTask[], name: string, make: () => PlannedTask): void {
  try {
    tasks.push(make());
  } catch (e) {
    skipped.push({ name, reason: `setup failed: ${(e as Error).message}` });
  }
}

function modelTasks(skipped: SkippedTask[]): PlannedTask[] {
  const tasks: PlannedTask[] = [];

  plan(tasks, skipped, 'model.x86.guest-throughput', () => {
    const x86Throughput = setupX86Guest(
      createModel('x86_64'),
      0,
      x86ThroughputProgram(THROUGHPUT_ITERATIONS),
    );
    return {
      name: 'model.x86.guest-throughput',
      description: `model x86 interpreter: mov ecx, ${THROUGHPUT_ITERATIONS}; L: add eax, 1; dec ecx; jnz L; out 0x10, al — one hv_vcpu_run per iteration`,
      unit: 'instruction',
      unitsPerIteration: throughputInstructions(THROUGHPUT_ITERATIONS),
      fn: () => {
        x86ThroughputRun(x86Throughput);
      },
    };
  });

  plan(tasks, skipped, 'model.x86.long.guest-throughput', () => {
    const long = setupX86LongGuest(createModel('x86_64'), 0, x86LongThroughputProgram(THROUGHPUT_ITERATIONS));
    return {
      name: 'model.x86.long.guest-throughput',
      description: `model x86 interpreter in IA-32e mode with 4-level paging (the spec's long64 setup, 2 MiB pages): mov ecx, ${THROUGHPUT_ITERATIONS}; L: add eax, 1; dec ecx; jnz L; out 0x10, al — one hv_vcpu_run per iteration`,
      unit: 'instruction',
      unitsPerIteration: throughputInstructions(THROUGHPUT_ITERATIONS),
      fn: () => {
        x86ThroughputRun(long);
      },
    };
  });

  plan(tasks, skipped, 'model.arm64.guest-throughput', () => {
    const arm64Throughput = setupArm64Guest(
      createModel('arm64'),
      0,
      arm64ThroughputProgram(THROUGHPUT_ITERATIONS),
    );
    return {
      name: 'model.arm64.guest-throughput',
      description: `model arm64 interpreter: movz x1, #${THROUGHPUT_ITERATIONS}; L: add x0, x0, #1; subs x1, x1, #1; b.ne L; hvc #0 — one hv_vcpu_run per iteration`,
      unit: 'instruction',
      unitsPerIteration: throughputInstructions(THROUGHPUT_ITERATIONS),
      fn: () => {
        arm64ThroughputRun(arm64Throughput);
      },
    };
  });

  plan(tasks, skipped, 'model.x86.exit', () => {
    const x86Exit = setupX86Guest(createModel('x86_64'), 0, x86ExitLoopProgram());
    let x86Io = 0;
    let x86Runs = 0;
    return {
      name: 'model.x86.exit',
      description:
        'model x86 exit round trip: L: out 0x10, al; jmp L — hv_vcpu_run, read exit reason, instruction length and RIP, write VMCS_GUEST_RIP',
      unit: 'exit',
      unitsPerIteration: MODEL_EXITS_PER_ITERATION,
      fn: () => {
        x86Io += x86ExitRoundTrips(x86Exit, MODEL_EXITS_PER_ITERATION);
        x86Runs += MODEL_EXITS_PER_ITERATION;
      },
      exits: () => otherExits(x86Io, x86Runs, 'I/O'),
    };
  });

  plan(tasks, skipped, 'model.arm64.exit', () => {
    const arm64Exit: Arm64Guest = setupArm64Guest(createModel('arm64'), 0, arm64ExitLoopProgram());
    let hvc = 0;
    let arm64Runs = 0;
    return {
      name: 'model.arm64.exit',
      description:
        'model arm64 exit round trip: L: hvc #0; b L — hv_vcpu_run, check reason and exception class',
      unit: 'exit',
      unitsPerIteration: MODEL_EXITS_PER_ITERATION,
      fn: () => {
        hvc += arm64ExitRoundTrips(arm64Exit, MODEL_EXITS_PER_ITERATION);
        arm64Runs += MODEL_EXITS_PER_ITERATION;
      },
      exits: () => otherExits(hvc, arm64Runs, 'HVC'),
    };
  });

  for (const arch of ['x86_64', 'arm64'] as const) {
    const a = arch === 'x86_64' ? 'x86' : 'arm64';
    for (const [label, pages] of Object.entries(MAP_PAGES)) {
      const name = `model.${a}.map-unmap.${label}`;
      plan(tasks, skipped, name, () => {
        const w = setupMapping(createModel(arch), pages, true);
        return mapTask(name, `model ${a}: ${mapDescription(pages)}`, pages, () => mapUnmapPages(w));
      });
    }
  }
  return tasks;
}

/** What the bench needs of `@hvspec/el2`, typed here so that the bench builds without it. */
interface El2Module {
  el2Availability(): { available: boolean; reason?: string; fix?: string };
  createEl2Backend(options?: { ramMiB?: number }): Arm64Backend & { close(): void };
  shutdownEl2Machines(): void;
}

/** The el2 mapping task names. */
export const EL2_MAP_TASKS: readonly string[] = Object.keys(MAP_PAGES).map((l) => `el2.arm64.map-unmap.${l}`);

/**
 * The mapping tasks on el2 (arm64 on QEMU under hvspec's EL2 runtime), where QEMU and the runtime are
 * here: the stage-2 tables are kept by the host side, so this measures the backend's bookkeeping, not
 * QEMU. 100,000 pages of the default 16 KiB granule need 1.6 GiB of the machine's RAM for host pages.
 */
async function el2Tasks(
  skipped: SkippedTask[],
): Promise<{ tasks: PlannedTask[]; close: () => Promise<void> }> {
  const none = { tasks: [], close: async () => {} };
  const skipAll = (reason: string): typeof none => {
    skipped.push(...EL2_MAP_TASKS.map((name) => ({ name, reason })));
    return none;
  };
  let mod: El2Module;
  try {
    const specifier = '@hvspec/el2';
    mod = (await import(specifier)) as El2Module;
  } catch (e) {
    return skipAll(`el2: does not load (${(e as Error).message})`);
  }
  const a = mod.el2Availability();
  if (!a.available)
    return skipAll(
      `el2: not available here (${a.reason ?? 'no reason given'}${a.fix ? `; fix: ${a.fix}` : ''})`,
    );
  const backends: Array<{ close(): void }> = [];
  const tasks: PlannedTask[] = [];
  for (const [label, pages] of Object.entries(MAP_PAGES)) {
    const name = `el2.arm64.map-unmap.${label}`;
    plan(tasks, skipped, name, () => {
      const b = mod.createEl2Backend({ ramMiB: 2048 });
      backends.push(b);
      const w = setupMapping(b, pages, true);
      return mapTask(name, `el2 arm64: ${mapDescription(pages)}`, pages, () => mapUnmapPages(w));
    });
  }
  return {
    tasks,
    close: async () => {
      for (const b of backends) b.close();
      mod.shutdownEl2Machines();
    },
  };
}

function mapDescription(pages: number): string {
  return `hv_vm_map of ${pages.toLocaleString('en')} single pages one call at a time (consecutive guest-physical addresses from 4 GiB, consecutive host pages, RWX), then hv_vm_unmap of each`;
}

/** A mapping task: one iteration per round (it takes up to seconds); unit = one map and one unmap. */
function mapTask(
  name: string,
  description: string,
  pages: number,
  fn: () => void,
  rounds?: number,
): PlannedTask {
  return {
    name,
    description,
    unit: 'page',
    unitsPerIteration: pages,
    iterations: 1,
    ...(rounds !== undefined ? { rounds } : {}),
    fn: () => {
      fn();
    },
    notes: () => [
      `one iteration per round, no warm-up${rounds !== undefined ? `, in the first ${rounds} round${rounds === 1 ? '' : 's'} only` : ''}: a sample is the whole ${pages.toLocaleString('en')}-page run divided by its pages`,
    ],
  };
}

/** How many exits were not the benchmarked kind (host interrupts, spurious cancels). */
function otherExits(expected: number, runs: number, kind: string): OtherExits {
  return { count: runs - expected, of: runs, kind };
}

/** The host's hv_* flavour as Node names it, for naming native tasks before the addon says. */
function hostArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** The native task names of a flavour. */
export function nativeTaskNames(arch: Arch): { js: string; c: string; map: readonly string[] } {
  const a = arch === 'x86_64' ? 'x86' : 'arm64';
  return {
    js: `native.${a}.exit.js`,
    c: `native.${a}.exit.c-baseline`,
    map: Object.keys(MAP_PAGES).map((label) => `native.${a}.map-unmap.${label}`),
  };
}

/**
 * The native tasks of this host's flavour (x86 on Linux and Intel Macs, arm64 on Apple Silicon), or
 * the reasons they cannot run. The vCPU is owned by logical thread 0: the JS thread calls
 * hv_vcpu_run directly, the fast path of DESIGN.md.
 */
async function nativeTasks(
  skipped: SkippedTask[],
  clock: BenchClock,
  quick: boolean,
): Promise<{ tasks: PlannedTask[]; close: () => Promise<void> }> {
  const none = { tasks: [], close: async () => {} };
  let names = nativeTaskNames(hostArch());
  const skipBoth = (reason: string): typeof none => {
    skipped.push(
      { name: names.js, reason },
      { name: names.c, reason },
      ...names.map.map((name) => ({ name, reason })),
    );
    return none;
  };
  const loaded = await loadNative();
  if ('reason' in loaded) return skipBoth(`native: not available here (${loaded.reason})`);
  const availability = loaded.mod.nativeAvailability();
  if (availability.arch === 'x86_64' || availability.arch === 'arm64')
    names = nativeTaskNames(availability.arch);
  if (!availability.available)
    return skipBoth(
      `native: not available here (${availability.reason ?? 'no reason given'}${availability.fix ? `; fix: ${availability.fix}` : ''})`,
    );
  const arch: Arch = availability.arch === 'arm64' ? 'arm64' : 'x86_64';
  let backend: X86Backend | Arm64Backend;
  try {
    backend = loaded.mod.createNativeBackend(arch);
  } catch (e) {
    return skipBoth(`native: not available here (${(e as Error).message})`);
  }
  await backend.reset();
  const label = availability.backend ?? backend.capabilities.backend;
  const tasks: PlannedTask[] = [];
  let vcpu: number;
  let expected = 0;
  let runs = 0;
  try {
    if (backend.arch === 'x86_64') {
      const guest = setupX86Guest(backend, 0, x86ExitLoopProgram());
      vcpu = guest.vcpu;
      tasks.push({
        name: names.js,
        interleave: 'native',
        description: `native (${label}) x86 exit round trip through the JS API on thread 0: the same loop and calls as model.x86.exit`,
        unit: 'exit',
        unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
        fn: () => {
          expected += x86ExitRoundTrips(guest, NATIVE_EXITS_PER_ITERATION);
          runs += NATIVE_EXITS_PER_ITERATION;
        },
        exits: () => otherExits(expected, runs, 'I/O'),
      });
    } else {
      const guest = setupArm64Guest(backend, 0, arm64ExitLoopProgram());
      vcpu = guest.vcpu;
      tasks.push({
        name: names.js,
        interleave: 'native',
        description: `native (${label}) arm64 exit round trip through the JS API on thread 0: the same loop and calls as model.arm64.exit`,
        unit: 'exit',
        unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
        fn: () => {
          expected += arm64ExitRoundTrips(guest, NATIVE_EXITS_PER_ITERATION);
          runs += NATIVE_EXITS_PER_ITERATION;
        },
        exits: () => otherExits(expected, runs, 'HVC'),
      });
    }
  } catch (e) {
    await backend.reset();
    return skipBoth(`native: guest setup failed (${(e as Error).message})`);
  }

  const withBaseline = backend as typeof backend & Partial<WithBaseline>;
  if (typeof withBaseline.baselineExitLoop === 'function') {
    const loop = withBaseline.baselineExitLoop.bind(backend);
    let cExpected = 0;
    let cRuns = 0;
    tasks.push({
      name: names.c,
      interleave: 'native',
      description:
        arch === 'x86_64'
          ? `native (${label}) x86 exit round trip entirely in C in the addon (run; read reason, length, RIP; write RIP), timed in C`
          : `native (${label}) arm64 exit round trip entirely in C in the addon (run over the hvc loop), timed in C`,
      unit: 'exit',
      unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
      fn: () => {
        const w0 = performance.now();
        const c0 = clock.now();
        const r = loop(0, vcpu, NATIVE_EXITS_PER_ITERATION);
        const c1 = clock.now();
        const w1 = performance.now();
        if (r.ret !== 0) throw new Error(`baselineExitLoop returned 0x${(r.ret >>> 0).toString(16)}`);
        cExpected += r.exits;
        cRuns += NATIVE_EXITS_PER_ITERATION;
        // The C clock, not tinybench's: the sample excludes the one JS→C call around the loop. On the
        // cpu clock the time off the CPU during the call comes off, as it does for every other task.
        return {
          overriddenDuration: clock.fromWall(r.ns / 1e6, w1 - w0, c1 - c0),
        } satisfies FnReturnedObject;
      },
      exits: () => otherExits(cExpected, cRuns, arch === 'x86_64' ? 'I/O' : 'HVC'),
    });
  } else {
    skipped.push({
      name: names.c,
      reason: 'C baseline: not available (this @hvspec/native has no baselineExitLoop)',
    });
  }

  // The mapping tasks share the process's one VM with the exit loop (GPAs from 4 GiB, clear of it).
  const pageCounts = Object.values(MAP_PAGES);
  names.map.forEach((name, i) => {
    const pages = pageCounts[i]!;
    plan(tasks, skipped, name, () => {
      const w = setupMapping(backend, pages, false);
      const rounds = pages >= 100_000 ? NATIVE_MAP_100K_ROUNDS[quick ? 'quick' : 'full'] : undefined;
      return mapTask(
        name,
        `native (${label}): ${mapDescription(pages)}`,
        pages,
        () => mapUnmapPages(w),
        rounds,
      );
    });
  });
  return { tasks, close: () => backend.reset() };
}

/** Wraps a task's body to run `factor` times per iteration (an injected slowdown, for tests of compare). */
function slowed(t: PlannedTask, factor: number): PlannedTask {
  return {
    ...t,
    fn: () => {
      let overridden: number | undefined;
      for (let k = 0; k < factor; k++) {
        const r = t.fn();
        if (r?.overriddenDuration !== undefined) overridden = (overridden ?? 0) + r.overriddenDuration;
      }
      return overridden === undefined ? undefined : { overriddenDuration: overridden };
    },
    notes: () => [
      ...(t.notes?.() ?? []),
      `injected slowdown: the body ran ${factor}× per iteration (a test of compare, not a measurement)`,
    ],
  };
}

/**
 * The tasks of a round as the bench runs them: alone, or, for tasks with the same `interleave` key,
 * together, taking turns iteration by iteration, so that both sides of a ratio target see the same
 * host at the same moment (in order of first appearance).
 */
function interleaveGroups(tasks: readonly PlannedTask[]): PlannedTask[][] {
  const groups: PlannedTask[][] = [];
  const byKey = new Map<string, PlannedTask[]>();
  for (const t of tasks) {
    const existing = t.interleave === undefined ? undefined : byKey.get(t.interleave);
    if (existing) existing.push(t);
    else {
      const g = [t];
      groups.push(g);
      if (t.interleave !== undefined) byKey.set(t.interleave, g);
    }
  }
  return groups;
}

/**
 * One iteration of a group as tinybench runs it: each member in turn (alternating the order from
 * one iteration to the next) runs the reference workload and then its body, each timed on the run's
 * clock. A member's sample is its body's time (or the time the body reports itself, as the C
 * baseline does); both times are kept, in order, for the host-speed filter (reference.ts).
 */
function turns(
  group: readonly PlannedTask[],
  clock: BenchClock,
  into: readonly { body: number[]; reference: number[] }[],
): () => FnReturnedObject {
  let k = 0;
  return () => {
    let total = 0;
    const reverse = k++ % 2 === 1;
    for (let j = 0; j < group.length; j++) {
      const i = reverse ? group.length - 1 - j : j;
      const r0 = clock.now();
      referenceWorkload();
      const r1 = clock.now();
      const out = group[i]!.fn();
      const b1 = clock.now();
      const ms = out?.overriddenDuration ?? b1 - r1;
      into[i]!.body.push(ms);
      into[i]!.reference.push(r1 - r0);
      total += ms;
    }
    return { overriddenDuration: total };
  };
}

/** Runs every suite and returns the report. Never throws for a missing native backend or a failing task. */
export async function runBench(options: RunOptions = {}): Promise<BenchReport> {
  const date = new Date().toISOString();
  const machine = describeMachine();
  const { measurement, options: used } = await measure(options);
  return buildReport(measurement, { date, machine, options: used });
}

/**
 * Runs every suite in this process and returns the raw measurement and the options it used (the
 * defaults filled in). Throws TypeError only for options naming no task (a filter, a slowdown).
 */
export async function measure(
  options: RunOptions = {},
): Promise<{ measurement: Measurement; options: Omit<BenchOptions, 'reference'> }> {
  const defaults = options.quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const timeMs = options.timeMs ?? defaults.timeMs;
  const warmupMs = options.warmupMs ?? defaults.warmupMs;
  const rounds = Math.max(1, Math.ceil(options.rounds ?? defaults.rounds));
  const minIterations = Math.max(1, Math.ceil(options.minIterations ?? defaults.minIterations));
  const slowdown = options.slowdown;
  if (slowdown && !(Number.isInteger(slowdown.factor) && slowdown.factor >= 1))
    throw new TypeError(`slowdown.factor must be a positive integer, got ${slowdown.factor}`);
  const log = options.log ?? (() => {});
  const skipped: SkippedTask[] = [];
  const wanted = (name: string): boolean => filterWants(options.filter, name);

  const hostsToo = options.native !== false && options.part !== 'model';
  const planned = options.part === 'hosts' ? [] : modelTasks(skipped);
  const hostNames = nativeTaskNames(hostArch());
  const nativeWanted = hostsToo && [hostNames.js, hostNames.c, ...hostNames.map].some(wanted);
  const clock = benchClock(options.clock);
  const native = nativeWanted ? await nativeTasks(skipped, clock, options.quick === true) : undefined;
  if (options.native === false && options.part !== 'hosts')
    skipped.push(
      ...[hostNames.js, hostNames.c, ...hostNames.map].map((name) => ({
        name,
        reason: 'native: not requested (--no-native)',
      })),
      ...EL2_MAP_TASKS.map((name) => ({ name, reason: 'el2: not requested (--no-native)' })),
    );
  if (native) planned.push(...native.tasks);
  const el2 = hostsToo && EL2_MAP_TASKS.some(wanted) ? await el2Tasks(skipped) : undefined;
  if (el2) planned.push(...el2.tasks);

  const chosen = planned
    .filter((t) => wanted(t.name))
    .map((t) => (slowdown && t.name === slowdown.task ? slowed(t, slowdown.factor) : t));
  // Rounds interleave the tasks in time: a noisy stretch of the shared host then lands on every task
  // rather than on whichever task happened to be running, and each ratio target is taken round by
  // round between tasks that ran next to each other (the native JS loop and its C baseline even
  // take turns iteration by iteration). Every other round runs the tasks in reverse order.
  const perRound = Math.max(1, timeMs / rounds);
  const measured = new Map<string, { body: number[][]; reference: number[][] }>(
    chosen.map((t) => [t.name, { body: [], reference: [] }]),
  );
  const failed = new Map<string, string>();
  const tasks: MeasuredTask[] = [];
  try {
    // A part may match nothing that the other part matches: the forked runner checks the whole run.
    if (
      options.part === undefined &&
      options.filter?.length &&
      chosen.length === 0 &&
      !skipped.some((s) => wanted(s.name))
    )
      throw noTaskMatches(options.filter);
    if (slowdown && !chosen.some((t) => t.name === slowdown.task))
      throw new TypeError(`slowdown.task ${JSON.stringify(slowdown.task)} is not a task of this run`);
    log(
      `running ${chosen.length} tasks, ${timeMs} ms each in ${rounds} rounds${options.quick ? ' (quick)' : ''}`,
    );
    const first = options.firstRound ?? 1;
    for (let round = first; round < first + rounds; round++) {
      const live = chosen.filter(
        (t) => !failed.has(t.name) && (t.rounds === undefined || round < 1 + t.rounds),
      );
      if (live.length === 0) break;
      const groups = interleaveGroups(live);
      for (const group of round % 2 === 0 ? [...groups].reverse() : groups) {
        // A task with a fixed count (group of one) runs exactly that many iterations, without warm-up.
        const fixed = group.length === 1 ? group[0]!.iterations : undefined;
        const bench = new Bench({
          now: clock.now,
          // Each member of a group gets the time a task alone gets.
          time: fixed !== undefined ? 0 : perRound * group.length,
          iterations: fixed ?? minIterations,
          warmup: fixed === undefined && round === first,
          warmupTime: warmupMs * group.length,
          warmupIterations: 2,
          retainSamples: true,
          throws: false,
        });
        const buffers = group.map(() => ({ body: [] as number[], reference: [] as number[] }));
        const name = group.map((t) => t.name).join(' + ');
        bench.add(name, turns(group, clock, buffers));
        await bench.run();
        const result = bench.getTask(name)?.result;
        let reason: string | undefined;
        if (!result || result.state === 'errored')
          reason = `error: ${result && result.state === 'errored' ? result.error.message : 'did not run'}`;
        else if (result.state !== 'completed' && result.state !== 'aborted-with-statistics')
          reason = `task ${result.state}`;
        group.forEach((t, i) => {
          if (reason !== undefined || !result || !('latency' in result)) {
            failed.set(t.name, reason ?? 'did not run');
            return;
          }
          // The measured iterations are the last ones the task made (the warm-up came first).
          const n = result.latency.samples?.length ?? result.latency.samplesCount;
          const m = measured.get(t.name)!;
          m.body.push(buffers[i]!.body.slice(-n));
          m.reference.push(buffers[i]!.reference.slice(-n));
        });
      }
      log(`round ${round - first + 1}/${rounds} done`);
    }
    for (const t of chosen) {
      const reason = failed.get(t.name);
      if (reason !== undefined) {
        skipped.push({ name: t.name, reason });
        continue;
      }
      const m = measured.get(t.name)!;
      tasks.push({
        name: t.name,
        description: t.description,
        unit: t.unit,
        unitsPerIteration: t.unitsPerIteration,
        notes: t.notes?.() ?? [],
        ...(t.exits ? { otherExits: t.exits() } : {}),
        rounds: m.body.map((body, i) => ({ body, reference: m.reference[i] ?? [] })),
      });
    }
  } finally {
    await native?.close();
    await el2?.close();
  }
  return {
    measurement: { tasks, skipped },
    options: {
      timeMs,
      warmupMs,
      rounds,
      minIterations,
      clock: clock.name,
      processes: 1,
      quick: options.quick === true,
      ...(slowdown ? { injectedSlowdown: { task: slowdown.task, factor: slowdown.factor } } : {}),
    },
  };
}
