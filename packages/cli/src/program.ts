/**
 * The `hvspec` program: subcommands, their options and exit codes (DESIGN.md, "CLI"): 0 all good, 1 a
 * check or trace failed, 2 usage or environment error (commander's own usage errors included).
 * @module
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.js';
import { registerDoctor } from './doctor.js';
import { EXIT_ENVIRONMENT, registerReplay } from './replay.js';

/**
 * Runs the command line on `argv` (as `process.argv`: node, script, then the arguments) and resolves to
 * the exit code. Output goes to the process's stdout and stderr.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command('hvspec')
    .description("the executable specification of Apple's Hypervisor.framework hv_* API")
    // Before any subcommand is added, so that they inherit it: usage errors must exit 2, not commander's 1.
    .exitOverride();
  registerReplay(program);
  registerCheck(program);
  registerDoctor(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // An explicit --help or --version is not an error; commander has already printed what it had to say.
    // Everything else (unknown option, missing argument, no command) is a usage error.
    const benign = e.code === 'commander.helpDisplayed' || e.code === 'commander.version';
    return benign ? 0 : EXIT_ENVIRONMENT;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
