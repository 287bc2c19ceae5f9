/**
 * Rounds in separate processes. A JIT compiles the same code differently from one process to the
 * next (inlining and tiering decisions follow the timing of the feedback), and here that alone moved
 * the arm64 interpreter's median by more than 40% between two runs of the same build. Rounds inside
 * one process all share that process's luck, so they cannot show it; rounds in fresh processes can,
 * and `compare` then tests the runs' round medians against each other (as JMH runs its forks).
 *
 * Each round is two child processes (`worker.ts`), one for the model's tasks and one for the others
 * (`RunOptions.part`: a bench loop's call sites then see one backend), each running its tasks once, in
 * alternating order,
 * and sends its raw measurement back over the IPC channel (merged here, so that one floor of the
 * reference workload judges the host's speed across the whole run); the rounds run one after another, never together
 * (the host has two cores, and each round owns the native backend while it runs). A child that
 * fails or outlives its time is killed and the run fails with its error output: a crash is a finding,
 * not noise.
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildReport, type Measurement, mergeMeasurements } from './measurement.js';
import { type BenchOptions, type BenchReport, describeMachine } from './report.js';
import { FULL_DEFAULTS, filterWants, noTaskMatches, QUICK_DEFAULTS, type RunOptions } from './suites.js';

/** What the parent sends a round's process: `RunOptions` without the log function. */
export type WorkerRequest = Omit<RunOptions, 'log'>;

/** What a round's process sends back. */
export type WorkerMessage =
  | { readonly type: 'log'; readonly message: string }
  | {
      readonly type: 'measurement';
      readonly measurement: Measurement;
      readonly options: Omit<BenchOptions, 'reference'>;
    }
  | { readonly type: 'error'; readonly usage: boolean; readonly message: string };

/** The worker module beside this one: `worker.js` in dist, `worker.ts` when run from source (tsx). */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.replace(/fork\.([cm]?[jt]s)$/, 'worker.$1');
}

/** A round's process could not be run; `usage` when it rejected the options (filter, slowdown). */
export class RoundError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
    this.name = 'RoundError';
  }
}

/** What a round's process measured, and the options it used. */
type RoundResult = Extract<WorkerMessage, { type: 'measurement' }>;

/** Runs one round in a child process and resolves to its measurement. */
function runRound(request: WorkerRequest, timeoutMs: number, log: (m: string) => void): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    // The child inherits the loaders (tsx under the tests) but not a debugger's port.
    const execArgv = process.execArgv.filter((a) => !/^--(inspect|debug)/.test(a));
    let child: ChildProcess;
    try {
      child = fork(workerPath(), [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    } catch (e) {
      reject(new RoundError(`cannot start a round's process: ${(e as Error).message}`, false));
      return;
    }
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let result: RoundResult | undefined;
    let failure: RoundError | undefined;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    // A parent that exits mid-round (an exception, process.exit) takes the child with it.
    process.once('exit', kill);
    const timer = setTimeout(() => {
      failure = new RoundError(
        `a round's process ran longer than ${Math.round(timeoutMs / 1000)} s and was killed`,
        false,
      );
      kill();
    }, timeoutMs);
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'log') log(m.message);
      else if (m.type === 'measurement') result = m;
      else failure = new RoundError(m.message, m.usage);
    });
    child.on('error', (e) => {
      failure ??= new RoundError(`a round's process failed: ${e.message}`, false);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', kill);
      if (failure) return reject(failure);
      if (result && code === 0) return resolve(result);
      reject(
        new RoundError(
          `a round's process exited with ${signal ?? `code ${code}`} before sending its report${stderr ? `:\n${stderr.trimEnd()}` : ''}`,
          false,
        ),
      );
    });
    child.send(request);
  });
}

/**
 * Runs the suites with every round in its own process (see the module comment) and returns the
 * merged report. Options and defaults as `runBench`; `rounds` is also the number of processes.
 */
export async function runBenchForked(options: RunOptions = {}): Promise<BenchReport> {
  const defaults = options.quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const timeMs = options.timeMs ?? defaults.timeMs;
  const warmupMs = options.warmupMs ?? defaults.warmupMs;
  const rounds = Math.max(1, Math.ceil(options.rounds ?? defaults.rounds));
  const minIterations = Math.max(1, Math.ceil(options.minIterations ?? defaults.minIterations));
  const log = options.log ?? (() => {});
  const date = new Date().toISOString();
  const machine = describeMachine();
  const { log: _, ...rest } = options;
  // Generous: a round on a loaded 2-core host takes several times its measuring time.
  const timeoutMs = 120_000 + 20 * 8 * (timeMs / rounds + warmupMs);
  const parts: RoundResult[] = [];
  log(
    `running ${rounds} rounds, each in its own process, ${timeMs} ms per task in all${options.quick ? ' (quick)' : ''}`,
  );
  const split: readonly ('model' | 'hosts')[] = options.native === false ? ['model'] : ['model', 'hosts'];
  for (let round = 1; round <= rounds; round++) {
    // Every other round runs the parts in reverse order, as a process runs its tasks.
    for (const part of round % 2 === 0 ? [...split].reverse() : split) {
      const request: WorkerRequest = {
        ...rest,
        timeMs: timeMs / rounds,
        warmupMs,
        rounds: 1,
        minIterations,
        firstRound: round,
        part,
      };
      parts.push(await runRound(request, timeoutMs, () => {}));
    }
    log(`round ${round}/${rounds} done`);
  }
  const merged = mergeMeasurements(
    parts.map((p) => p.measurement),
    rounds,
  );
  if (
    options.filter?.length &&
    ![...merged.tasks, ...merged.skipped].some((t) => filterWants(options.filter, t.name))
  )
    throw new RoundError(noTaskMatches(options.filter).message, true);
  const first = parts[0]!;
  return buildReport(merged, {
    date,
    machine,
    options: { ...first.options, timeMs, warmupMs, rounds, minIterations, processes: parts.length },
  });
}
