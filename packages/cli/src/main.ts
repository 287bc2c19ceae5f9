#!/usr/bin/env node
/**
 * `hvspec`: the command line. Exit codes (DESIGN.md, "CLI"): 0 all good, 1 a check or trace failed,
 * 2 usage or environment error (commander's own usage errors included).
 * @module
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.js';
import { registerDoctor } from './doctor.js';
import { EXIT_ENVIRONMENT, registerReplay } from './replay.js';

// A reader that stops early (`hvspec replay … | head`) is not an error of ours: stop quietly, keeping
// the exit code the output so far has earned.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

const program = new Command('hvspec')
  .description("the executable specification of Apple's Hypervisor.framework hv_* API")
  // Before any subcommand is added, so that they inherit it: usage errors must exit 2, not commander's 1.
  .exitOverride();
registerReplay(program);
registerCheck(program);
registerDoctor(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  // An explicit --help or --version is not an error; commander has already printed what it had to say.
  // Everything else (unknown option, missing argument, no command) is a usage error.
  const benign = e.code === 'commander.helpDisplayed' || e.code === 'commander.version';
  process.exitCode = benign ? 0 : EXIT_ENVIRONMENT;
}
