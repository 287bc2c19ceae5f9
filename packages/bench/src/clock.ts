/**
 * The clock the samples are taken with. On a shared host (CI: 2 cores, other jobs) the bench thread
 * is often runnable but waiting for a core; wall-clock samples then measure the neighbours as much as
 * the code. Here, under a load average of 4 to 9, a 20 ms iteration of the arm64 interpreter
 * measured 29 ms of wall time and 22 ms of CPU time (medians), and in a 0.3 ms busy loop the wall
 * clock's p99 was 15× its median where the CPU clock's was 2×.
 *
 * The `cpu` clock is the process's CPU time, user plus system (`process.cpuUsage()`, getrusage:
 * microseconds, exact on Linux, monotonic). It counts what wall time counts while the thread holds
 * a core — its GC pauses, page faults and, for the native tasks, the guest's time inside KVM_RUN,
 * which runs on the calling thread — and not the time spent waiting for one. It also counts the
 * process's other threads; in the bench those are idle (the vCPU is owned by thread 0, the JS thread)
 * except V8's GC and compiler helpers, which after the warm-up added nothing measurable: on this
 * host the CPU and wall medians of the model's exit loop agreed within about 1%. (The per-thread run-queue wait in /proc/thread-self/schedstat was tried first and
 * dropped: it is stamped with per-CPU run-queue clocks, and wall time minus it went backwards by up
 * to 40 ms here.)
 *
 * `wall` is performance.now(), for a host where CPU time would mislead (a bench that sleeps).
 * @module
 */

/** Which clock a run's samples were taken with. */
export type ClockName = 'cpu' | 'wall';

/** A clock samples are taken with, and how to bring a wall-clock span onto it (see the module comment). */
export interface BenchClock {
  readonly name: ClockName;
  /** Milliseconds on this clock; monotonic. */
  readonly now: () => number;
  /**
   * Converts a span measured on the wall clock (by C code, say) into this clock: the wall span less
   * the time the process was off the CPU meanwhile (`cpu`), given the wall and clock readings taken
   * around it. Identity for `wall`.
   */
  readonly fromWall: (wallSpanMs: number, wallDeltaMs: number, clockDeltaMs: number) => number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

const CLOCKS: Record<ClockName, BenchClock> = {
  cpu: {
    name: 'cpu',
    now: cpuNow,
    // Off-CPU time is what the wall clock saw and the CPU clock did not; when helper threads made CPU
    // time run ahead of the wall clock there was none to take off.
    fromWall: (span, wallDelta, clockDelta) => Math.max(0, span - Math.max(0, wallDelta - clockDelta)),
  },
  wall: {
    name: 'wall',
    now: () => performance.now(),
    fromWall: (span) => span,
  },
};

/** The clock of that name (default `cpu`). */
export function benchClock(name: ClockName = 'cpu'): BenchClock {
  return CLOCKS[name];
}
