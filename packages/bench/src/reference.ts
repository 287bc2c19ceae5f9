/**
 * The reference workload: a fixed piece of plain JavaScript, unrelated to hvspec, timed just before
 * every iteration of every task, so that each sample can also be read relative to how fast the host
 * ran at that moment.
 *
 * Why: on this shared host the CPU time of the same work doubled for stretches of a second or more
 * (a busy neighbour on the core; the CPU clock excludes waiting for a core, not running slower on
 * it). Every task slowed together, and the medians of 100 ms rounds of the model's exit loop varied
 * 2.1× within one minute of one process. The same loop divided, iteration by iteration, by the time
 * of this workload run just before it varied 1.08× over the same stretch. `compare` tests those
 * ratios, so a host that runs slower for a while does not look like a regression, and a task that got
 * slower still does; the ratio targets use them too. The nanosecond numbers, the histograms and the
 * absolute targets stay raw.
 *
 * The workload is a small switch-dispatch interpreter over a byte array with property updates: the
 * same kind of work as the model's interpreters (branchy dispatch, small loads and stores), with no
 * allocation and no I/O. It must never change: reports are only comparable while it stays the same
 * (REFERENCE_VERSION names it).
 * @module
 */

/** Names the workload; reports with another version are not compared on the relative numbers. */
export const REFERENCE_VERSION = 1;

const CODE = (() => {
  const code = new Uint8Array(1024);
  for (let i = 0; i < code.length; i++) code[i] = (i * 7 + 3) % 5;
  return code;
})();

const regs = { a: 0, b: 1, c: 2 };

/** Passes over the code per call: about 40 µs here, well above the CPU clock's 1 µs resolution. */
const PASSES = 20;

/** Runs the reference workload once; returns a value so that the work cannot be optimised away. */
export function referenceWorkload(): number {
  let acc = 0;
  for (let k = 0; k < PASSES; k++) {
    for (let pc = 0; pc < CODE.length; pc++) {
      switch (CODE[pc]) {
        case 0:
          regs.a += pc;
          break;
        case 1:
          regs.b ^= regs.a;
          break;
        case 2:
          regs.c = (regs.c + regs.b) | 0;
          break;
        case 3:
          acc += regs.c & 7;
          break;
        default:
          regs.a >>>= 1;
      }
    }
  }
  return acc;
}
