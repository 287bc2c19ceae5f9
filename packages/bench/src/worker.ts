/**
 * One round of a forked run (fork.ts): receives the run options over IPC, runs the suites in this
 * fresh process, sends the raw measurement back, and exits. Started only by `runBenchForked`.
 * @module
 */
import type { WorkerMessage, WorkerRequest } from './fork.js';
import { measure } from './suites.js';

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

if (!process.send) {
  process.stderr.write('worker.js is started by @hvspec/bench for one round of a run; run main.js instead\n');
  process.exitCode = 2;
} else {
  let finished = false;
  // The parent went away (killed mid-run): nobody will read this round, so stop now.
  process.on('disconnect', () => {
    if (!finished) process.exit(1);
  });
  process.once('message', async (request: WorkerRequest) => {
    try {
      const { measurement, options } = await measure({
        ...request,
        log: (message) => void send({ type: 'log', message }),
      });
      await send({ type: 'measurement', measurement, options });
      process.exitCode = 0;
    } catch (e) {
      // runBench throws TypeError for options naming no task (a filter, a slowdown): the user's mistake.
      await send({ type: 'error', usage: e instanceof TypeError, message: (e as Error).message });
      process.exitCode = 1;
    }
    finished = true;
    process.disconnect();
  });
}
