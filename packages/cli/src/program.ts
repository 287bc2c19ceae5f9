/**
 * The `hvspec` program: subcommands, their options and exit codes (DESIGN.md, "CLI"): 0 all good, 1 a
 * check or trace failed, 2 usage or environment error (commander's own usage errors included).
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBench } from './bench.js';
import { registerCapi } from './capi.js';
import { registerCheck } from './check.js';
import { EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE } from './common.js';
import { registerDoctor } from './doctor.js';
import { registerExplain } from './explain.js';
import { registerProbe } from './probe.js';
import { registerReplay } from './replay.js';
import { registerRules } from './rules.js';

/** The version of the `hvspec` package (its package.json, one level above dist/ and src/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Runs the command line on `argv` (as `process.argv`: node, script, then the arguments) and resolves to
 * the exit code. Output goes to the process's stdout and stderr.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command('hvspec')
    .description("the executable specification of Apple's Hypervisor.framework hv_* API")
    .version(version(), '-V, --version', 'print the version')
    // Before any subcommand is added, so that they inherit it: usage errors must exit 2, not commander's 1.
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}

Each command's --help lists its options. The README's "Using it" section is the manual.`,
    );
  registerCheck(program);
  registerReplay(program);
  registerProbe(program);
  registerRules(program);
  registerExplain(program);
  registerDoctor(program);
  registerBench(program);
  registerCapi(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // An explicit --help or --version is not an error; commander has already printed what it had to say.
    // Everything else (unknown option, missing argument, no command) is a usage error.
    const benign = e.code === 'commander.helpDisplayed' || e.code === 'commander.version';
    return benign ? EXIT_OK : EXIT_USAGE;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}
