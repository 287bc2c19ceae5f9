/**
 * The bench's command line, shared by `node packages/bench/dist/main.js` and `hvspec bench`:
 * `runBenchCli(argv)` takes the arguments after `bench`, prints, and resolves to the exit code
 * (0 done / no regression, 1 a regression or, with `--enforce`, a missed target, 2 usage or I/O
 * error). It never throws for a user's mistake and never prints a stack trace for one.
 * @module
 */
import { readFileSync } from 'node:fs';
import { compare, renderComparison } from './compare.js';
import { RoundError, runBenchForked } from './fork.js';
import { renderHtml } from './html.js';
import {
  checkWritableDirectory,
  checkWritableFile,
  htmlPathFor,
  loadHistory,
  OutputError,
  saveToHistory,
  writeFileAtomic,
} from './output.js';
import { type BenchReport, checkReport, renderReport, verdictTag } from './report.js';
import { type RunOptions, runBench } from './suites.js';

/** The text `bench --help` prints: every command and option with its default. */
export const BENCH_USAGE = `usage:
  bench [--quick] [--out FILE] [--history DIR] [--filter S]... [--enforce] [--json]
        [--time MS] [--warmup MS] [--rounds N] [--min-iterations N] [--no-native]
        [--in-process] [--wall-clock]
  bench compare BASELINE.json CURRENT.json [--alpha 0.01] [--min-effect 0.05] [--json]

run (the default):
  --quick             every suite with fewer samples, for CI (22-40 s on a loaded 2-core host);
                      the report says so
  --out FILE          write the JSON report to FILE and the HTML report (SVG charts) beside it,
                      FILE with .html for .json
  --history DIR       keep this run's JSON in DIR (created if missing) and plot every run in DIR
                      in the HTML report
  --filter S          only tasks whose name contains S (repeatable)
  --enforce           exit 1 when a target is missed (FAIL; n/a does not count)
  --json              print the JSON report instead of the table
  --time MS           measuring time per task over all rounds (default 3000, quick 600)
  --warmup MS         warm-up per task in each round's process (default 150, quick 50)
  --rounds N          rounds, each in a fresh process running every task (default 10, quick 6);
                      ratio targets and the round test of compare need 5
  --min-iterations N  fewest iterations per task and round (default 4, quick 2)
  --no-native         model tasks only
  --in-process        run every round in this process (faster; hides run-to-run JIT variance)
  --wall-clock        time with the wall clock instead of the process's CPU time

compare: regression = one-sided Mann-Whitney U p < ALPHA and the median at least MIN-EFFECT slower
  --alpha A           significance level (default 0.01)
  --min-effect E      smallest relative slowdown that counts (default 0.05 = 5%)
  --json              print the comparison as JSON

exit codes: 0 done / no regression, 1 regression found or (--enforce) a target missed,
            2 usage or I/O error
environment: HVSPEC_BENCH_SLOWDOWN=TASK:FACTOR runs TASK's body FACTOR times per iteration, to
             test that compare flags a slowdown (the report marks it)`;

/** A mistake in the arguments: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function numberArg(flag: string, v: string | undefined, opts: { min: number; integer?: boolean }): number {
  const n = Number(v);
  if (
    v === undefined ||
    v.trim() === '' ||
    !Number.isFinite(n) ||
    n < opts.min ||
    (opts.integer && !Number.isInteger(n))
  )
    throw new UsageError(
      `${flag} needs ${opts.integer ? 'an integer' : 'a number'} ≥ ${opts.min}${v === undefined ? '' : `, got ${JSON.stringify(v)}`}`,
    );
  return n;
}

function stringArg(flag: string, v: string | undefined): string {
  if (v === undefined || v === '' || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  return v;
}

function readReport(path: string): BenchReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new OutputError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const problem = checkReport(parsed);
  if (problem) throw new OutputError(`${path} is not a bench report: ${problem}`);
  return parsed as BenchReport;
}

/** `TASK:FACTOR` from HVSPEC_BENCH_SLOWDOWN. */
export function parseSlowdown(v: string): { task: string; factor: number } {
  const m = /^(.+):(\d+)$/.exec(v);
  const factor = m ? Number(m[2]) : Number.NaN;
  if (!m || !(Number.isInteger(factor) && factor >= 1 && factor <= 1000))
    throw new UsageError(
      `HVSPEC_BENCH_SLOWDOWN must be TASK:FACTOR with an integer factor in [1, 1000], got ${JSON.stringify(v)}`,
    );
  return { task: m[1]!, factor };
}

/** Where the CLI writes: stdout and stderr by default; tests pass their own. */
export interface CliIo {
  /** Reports, JSON and the usage text; one call per block of text, without the trailing newline. */
  readonly out: (text: string) => void;
  /** Progress (lines starting with `#`), missed targets and errors. */
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
};

function runCompare(args: string[], io: CliIo): number {
  const files: string[] = [];
  let alpha: number | undefined;
  let minEffect: number | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--alpha') alpha = numberArg(a, args[++i], { min: Number.MIN_VALUE });
    else if (a === '--min-effect') minEffect = numberArg(a, args[++i], { min: 0 });
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} for compare`);
    else files.push(a);
  }
  if (files.length !== 2)
    throw new UsageError(`compare needs two files, BASELINE.json CURRENT.json; got ${files.length}`);
  if (alpha !== undefined && alpha >= 1) throw new UsageError('--alpha must be below 1');
  const result = compare(readReport(files[0]!), readReport(files[1]!), {
    ...(alpha !== undefined ? { alpha } : {}),
    ...(minEffect !== undefined ? { minEffect } : {}),
  });
  io.out(json ? JSON.stringify(result, null, 2) : renderComparison(result));
  return result.regression ? 1 : 0;
}

async function runRun(args: string[], io: CliIo): Promise<number> {
  let out: string | undefined;
  let history: string | undefined;
  let json = false;
  let enforce = false;
  let inProcess = false;
  const options: { -readonly [K in keyof RunOptions]: RunOptions[K] } = {};
  const filter: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') out = stringArg(a, args[++i]);
    else if (a === '--history') history = stringArg(a, args[++i]);
    else if (a === '--filter') filter.push(stringArg(a, args[++i]));
    else if (a === '--quick') options.quick = true;
    else if (a === '--enforce') enforce = true;
    else if (a === '--json') json = true;
    else if (a === '--no-native') options.native = false;
    else if (a === '--in-process') inProcess = true;
    else if (a === '--wall-clock') options.clock = 'wall';
    else if (a === '--time') options.timeMs = numberArg(a, args[++i], { min: 1 });
    else if (a === '--warmup') options.warmupMs = numberArg(a, args[++i], { min: 0 });
    else if (a === '--rounds') options.rounds = numberArg(a, args[++i], { min: 1, integer: true });
    else if (a === '--min-iterations')
      options.minIterations = numberArg(a, args[++i], { min: 1, integer: true });
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else throw new UsageError(`unexpected argument ${JSON.stringify(a)} (the commands are run and compare)`);
  }
  const slowdownEnv = io.env.HVSPEC_BENCH_SLOWDOWN;
  if (slowdownEnv) options.slowdown = parseSlowdown(slowdownEnv);
  options.filter = filter;

  // Every output path is checked before a minute of measuring is spent.
  const htmlPath = out === undefined ? undefined : htmlPathFor(out);
  if (out !== undefined && htmlPath !== undefined) {
    checkWritableFile(out, '--out');
    checkWritableFile(htmlPath, '--out (HTML report)');
  }
  if (history !== undefined) checkWritableDirectory(history, '--history');

  let report: BenchReport;
  try {
    const run = inProcess ? runBench : runBenchForked;
    report = await run({ ...options, log: (m) => io.err(`# ${m}`) });
  } catch (e) {
    // Options naming no task (a filter, a slowdown) are the user's mistake; a round that crashed is not.
    if (e instanceof TypeError || (e instanceof RoundError && e.usage)) throw new UsageError(e.message);
    if (e instanceof RoundError) throw new OutputError(e.message);
    throw e;
  }

  const wrote: string[] = [];
  if (out !== undefined) {
    writeFileAtomic(out, `${JSON.stringify(report)}\n`);
    wrote.push(out);
  }
  let saved: ReturnType<typeof loadHistory> | undefined;
  if (history !== undefined) {
    wrote.push(saveToHistory(history, report));
    saved = loadHistory(history);
    for (const p of saved.problems) io.err(`# history: skipped ${p}`);
  }
  if (htmlPath !== undefined) {
    writeFileAtomic(
      htmlPath,
      renderHtml(
        report,
        saved && history !== undefined
          ? { dir: history, entries: saved.entries, problems: saved.problems }
          : undefined,
        out,
      ),
    );
    wrote.push(htmlPath);
  }
  if (json) io.out(JSON.stringify(report, null, 2));
  else io.out(renderReport(report));
  for (const w of wrote) (json ? io.err : io.out)(`wrote ${w}`);

  const missed = report.ratios.filter((q) => verdictTag(q) === 'FAIL');
  if (enforce && missed.length > 0) {
    io.err(`targets missed: ${missed.map((q) => q.name).join(', ')}`);
    return 1;
  }
  return 0;
}

/**
 * Runs the bench command line: `argv` is what follows `bench` (or `main.js`). Prints to stdout and
 * stderr and resolves to the exit code: 0 done / no regression, 1 regression found or (with
 * `--enforce`) a target missed, 2 usage or I/O error.
 */
export async function runBenchCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const args = [...argv];
  try {
    if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
      io.out(BENCH_USAGE);
      return 0;
    }
    const command = args[0] === 'compare' || args[0] === 'run' ? args.shift()! : 'run';
    return command === 'compare' ? runCompare(args, io) : await runRun(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n(bench --help lists the options)`);
      return 2;
    }
    if (e instanceof OutputError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    io.err(`error: ${(e as Error)?.stack ?? String(e)}`);
    return 2;
  }
}
