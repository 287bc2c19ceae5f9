/**
 * `hvspec bench [ARGS...]`: the benchmark suites of packages/bench. The suites, their options, their
 * reports and `compare` live there; this command only hands the arguments over: to `runBenchCli(argv)`
 * when `@hvspec/bench` exports it, otherwise to the package's own command line (`dist/main.js`) in a
 * child process with the same arguments and the same standard streams.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { EXIT_USAGE, messageOf, withExitCodes } from './common.js';

// Held in a variable: the bench package is not a build dependency of the CLI (as the backends).
const BENCH_PACKAGE: string = '@hvspec/bench';

interface BenchModule {
  /** The bench command line on its arguments (those after `bench`); resolves to the exit code. */
  runBenchCli?: (argv: readonly string[]) => number | Promise<number>;
}

/** packages/bench/dist/main.js of this repository, when the CLI runs from inside it. */
function benchMain(): string | undefined {
  const path = fileURLToPath(new URL('../../bench/dist/main.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

function runChild(main: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' });
    // A Ctrl-C reaches the child too (same process group): wait for it to finish its own way.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    child.on('error', (e) => {
      process.removeListener('SIGINT', ignore);
      process.stderr.write(`hvspec bench: cannot run ${main}: ${messageOf(e)}\n`);
      resolve(EXIT_USAGE);
    });
    child.on('exit', (code, signal) => {
      process.removeListener('SIGINT', ignore);
      resolve(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : EXIT_USAGE));
    });
  });
}

/** Runs the bench command line on `args` (what follows `bench`) and resolves to its exit code. */
export async function runBench(args: readonly string[]): Promise<number> {
  let mod: BenchModule | undefined;
  let loadError: unknown;
  try {
    mod = (await import(BENCH_PACKAGE)) as BenchModule;
  } catch (e) {
    loadError = e;
  }
  if (typeof mod?.runBenchCli === 'function') return await mod.runBenchCli(args);
  const main = benchMain();
  if (main) return runChild(main, args);
  process.stderr.write(
    `hvspec bench: the benchmarks are not available: ${BENCH_PACKAGE} ${
      loadError ? `does not load (${messageOf(loadError)})` : 'has no runBenchCli'
    } and packages/bench/dist/main.js is not built; run \`npm run build\` in the repository\n`,
  );
  return EXIT_USAGE;
}

/** Registers `hvspec bench` on the program. */
export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .description(
      'run the benchmark suites of packages/bench (arguments are passed on; `hvspec bench help` lists them)',
    )
    .argument('[args...]', 'the bench command line: [run] [--out FILE] ..., or compare BASE.json NEW.json')
    .allowUnknownOption()
    .addHelpText(
      'after',
      `
Examples:
  hvspec bench --out results.json            run the suites, write the JSON report
  hvspec bench compare base.json new.json    A/B: exit 1 on a regression
  hvspec bench help                          the bench command line's own options`,
    );
  withExitCodes(cmd).action(async (args: string[]) => {
    process.exitCode = await runBench(args);
  });
}
