#!/usr/bin/env node
/**
 * `hvspec`: the command line's entry (see program.ts for the commands and exit codes).
 * @module
 */
import { runCli } from './program.js';

// A reader that stops early (`hvspec replay … | head`) is not an error of ours: stop quietly, keeping
// the exit code the output so far has earned.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await runCli(process.argv);
