/**
 * The bench suites, measured side by side in one run (a few interleaved tinybench rounds) so that
 * every ratio compares numbers from the same machine at the same time (the CI host is noisy: 2 cores,
 * software KVM):
 *
 * - `model.<arch>.guest-throughput`: one run of a long loop of simple instructions per iteration →
 *   ns per guest instruction (instructions per second); `model.x86.guest-throughput.long64` the same
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
import {
  BENCH_SCHEMA,
  type BenchReport,
  type BenchUnit,
  computeRatios,
  describeMachine,
  type SkippedTask,
  type TaskReport,
  taskReport,
} from './report.js';

export interface RunOptions {
  /** Measuring time per task, ms (default 2000). */
  readonly timeMs?: number;
  /** Warm-up time per task, ms (default 250). */
  readonly warmupMs?: number;
  /** Rounds the tasks are run in, each for timeMs / rounds; samples of all rounds are pooled (default 3). */
  readonly rounds?: number;
  /** Whether to try the native backend (default true). */
  readonly native?: boolean;
  /** Only tasks whose name contains one of these strings (default: all). */
  readonly filter?: readonly string[];
  /** Progress messages (task started/finished). */
  readonly log?: (message: string) => void;
}

/** Loop iterations of the throughput programs (arm64 `movz` takes at most 16 bits). */
export const THROUGHPUT_ITERATIONS = 50_000;
/** Exits per tinybench iteration on the model (~1 ms each, far above the timer's resolution). */
export const MODEL_EXITS_PER_ITERATION = 1000;
/** Exits per tinybench iteration on the native backend (~6–20 µs each under PVM). */
export const NATIVE_EXITS_PER_ITERATION = 100;

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

  plan(tasks, skipped, 'model.x86.guest-throughput.long64', () => {
    const long = setupX86LongGuest(createModel('x86_64'), 0, x86LongThroughputProgram(THROUGHPUT_ITERATIONS));
    return {
      name: 'model.x86.guest-throughput.long64',
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
      notes: () => kindNotes(x86Io, x86Runs, 'I/O'),
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
      notes: () => kindNotes(hvc, arm64Runs, 'HVC'),
    };
  });
  return tasks;
}

/** A note when some exits were not the benchmarked kind (host interrupts, spurious cancels). */
function kindNotes(expected: number, runs: number, kind: string): string[] {
  return expected === runs
    ? []
    : [`${runs - expected} of ${runs} exits were not ${kind} exits (host interrupts; they count as exits)`];
}

/** The host's hv_* flavour as Node names it, for naming native tasks before the addon says. */
function hostArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** The two native task names of a flavour. */
export function nativeTaskNames(arch: Arch): { js: string; c: string } {
  const a = arch === 'x86_64' ? 'x86' : 'arm64';
  return { js: `native.${a}.exit.js`, c: `native.${a}.exit.c-baseline` };
}

/**
 * The native tasks of this host's flavour (x86 on Linux and Intel Macs, arm64 on Apple Silicon), or
 * the reasons they cannot run. The vCPU is owned by logical thread 0: the JS thread calls
 * hv_vcpu_run directly, the fast path of DESIGN.md.
 */
async function nativeTasks(
  skipped: SkippedTask[],
): Promise<{ tasks: PlannedTask[]; close: () => Promise<void> }> {
  const none = { tasks: [], close: async () => {} };
  let names = nativeTaskNames(hostArch());
  const skipBoth = (reason: string): typeof none => {
    skipped.push({ name: names.js, reason }, { name: names.c, reason });
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
        description: `native (${label}) x86 exit round trip through the JS API on thread 0: the same loop and calls as model.x86.exit`,
        unit: 'exit',
        unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
        fn: () => {
          expected += x86ExitRoundTrips(guest, NATIVE_EXITS_PER_ITERATION);
          runs += NATIVE_EXITS_PER_ITERATION;
        },
        notes: () => kindNotes(expected, runs, 'I/O'),
      });
    } else {
      const guest = setupArm64Guest(backend, 0, arm64ExitLoopProgram());
      vcpu = guest.vcpu;
      tasks.push({
        name: names.js,
        description: `native (${label}) arm64 exit round trip through the JS API on thread 0: the same loop and calls as model.arm64.exit`,
        unit: 'exit',
        unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
        fn: () => {
          expected += arm64ExitRoundTrips(guest, NATIVE_EXITS_PER_ITERATION);
          runs += NATIVE_EXITS_PER_ITERATION;
        },
        notes: () => kindNotes(expected, runs, 'HVC'),
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
      description:
        arch === 'x86_64'
          ? `native (${label}) x86 exit round trip entirely in C in the addon (run; read reason, length, RIP; write RIP), timed in C`
          : `native (${label}) arm64 exit round trip entirely in C in the addon (run over the hvc loop), timed in C`,
      unit: 'exit',
      unitsPerIteration: NATIVE_EXITS_PER_ITERATION,
      fn: () => {
        const r = loop(0, vcpu, NATIVE_EXITS_PER_ITERATION);
        if (r.ret !== 0) throw new Error(`baselineExitLoop returned 0x${(r.ret >>> 0).toString(16)}`);
        cExpected += r.exits;
        cRuns += NATIVE_EXITS_PER_ITERATION;
        // The C clock, not tinybench's: the sample excludes the one JS→C call around the loop.
        return { overriddenDuration: r.ns / 1e6 } satisfies FnReturnedObject;
      },
      notes: () => kindNotes(cExpected, cRuns, arch === 'x86_64' ? 'I/O' : 'HVC'),
    });
  } else {
    skipped.push({
      name: names.c,
      reason: 'C baseline: not available (this @hvspec/native has no baselineExitLoop)',
    });
  }
  return { tasks, close: () => backend.reset() };
}

/** Runs every suite and returns the report. Never throws for a missing native backend or a failing task. */
export async function runBench(options: RunOptions = {}): Promise<BenchReport> {
  const timeMs = options.timeMs ?? 2000;
  const warmupMs = options.warmupMs ?? 250;
  const log = options.log ?? (() => {});
  const date = new Date().toISOString();
  const machine = describeMachine();
  const skipped: SkippedTask[] = [];
  const wanted = (name: string): boolean =>
    !options.filter || options.filter.length === 0 || options.filter.some((f) => name.includes(f));

  const planned = modelTasks(skipped);
  const hostNames = nativeTaskNames(hostArch());
  const nativeWanted = options.native !== false && [hostNames.js, hostNames.c].some(wanted);
  const native = nativeWanted ? await nativeTasks(skipped) : undefined;
  if (options.native === false)
    skipped.push(
      { name: hostNames.js, reason: 'native: not requested (--no-native)' },
      { name: hostNames.c, reason: 'native: not requested (--no-native)' },
    );
  if (native) planned.push(...native.tasks);

  const chosen = planned.filter((t) => wanted(t.name));
  // Rounds interleave the tasks in time: a noisy stretch of the shared host then lands on every task
  // rather than on whichever task happened to be running, which keeps the ratios honest.
  const rounds = options.rounds ?? 3;
  const perRound = Math.max(1, timeMs / rounds);
  const samples = new Map<string, number[]>(chosen.map((t) => [t.name, []]));
  const failed = new Map<string, string>();
  const tasks: TaskReport[] = [];
  try {
    log(`running ${chosen.length} tasks, ${timeMs} ms each in ${rounds} rounds`);
    for (let round = 1; round <= rounds; round++) {
      const live = chosen.filter((t) => !failed.has(t.name));
      if (live.length === 0) break;
      const bench = new Bench({
        time: perRound,
        warmupTime: warmupMs / rounds,
        iterations: 8,
        warmupIterations: 2,
        retainSamples: true,
        throws: false,
      });
      for (const t of live) bench.add(t.name, t.fn);
      await bench.run();
      for (const t of live) {
        const result = bench.getTask(t.name)?.result;
        if (!result || result.state === 'errored') {
          failed.set(
            t.name,
            `error: ${result && result.state === 'errored' ? result.error.message : 'did not run'}`,
          );
        } else if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
          failed.set(t.name, `task ${result.state}`);
        } else {
          samples.get(t.name)?.push(...(result.latency.samples ?? []));
        }
      }
      log(`round ${round}/${rounds} done`);
    }
    for (const t of chosen) {
      const reason = failed.get(t.name);
      if (reason !== undefined) {
        skipped.push({ name: t.name, reason });
        continue;
      }
      tasks.push(
        taskReport(
          {
            name: t.name,
            description: t.description,
            unit: t.unit,
            unitsPerIteration: t.unitsPerIteration,
            notes: t.notes?.() ?? [],
          },
          samples.get(t.name) ?? [],
        ),
      );
    }
  } finally {
    await native?.close();
  }
  return {
    schema: BENCH_SCHEMA,
    date,
    machine,
    options: { timeMs, warmupMs, rounds },
    tasks,
    skipped,
    ratios: computeRatios(tasks, skipped),
  };
}
