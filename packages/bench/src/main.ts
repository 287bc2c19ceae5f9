#!/usr/bin/env node
/**
 * `node dist/main.js [run] [--out results.json] [--time ms] [--warmup ms] [--rounds n] [--no-native] [--filter s]…`
 *   runs the suites, writes the JSON report and prints the table.
 * `node dist/main.js compare base.json new.json [--alpha 0.01] [--min-effect 0.05]`
 *   prints per-task verdicts.
 * Exit codes (as `hvspec`'s): 0 all good, 1 a regression, 2 usage or environment error.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { compare, renderComparison } from './compare.js';
import { type BenchReport, checkReport, renderReport } from './report.js';
import { runBench } from './suites.js';

const USAGE = `usage:
  main.js [run] [--out results.json] [--time ms] [--warmup ms] [--rounds n] [--no-native] [--filter substring]...
  main.js compare baseline.json current.json [--alpha 0.01] [--min-effect 0.05]`;

class UsageError extends Error {}

function positiveNumber(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} needs a positive number`);
  return n;
}

function readReport(path: string): BenchReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const problem = checkReport(parsed);
  if (problem) throw new UsageError(`${path} is not a bench report: ${problem}`);
  return parsed as BenchReport;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const command = args[0] && !args[0].startsWith('-') ? args.shift()! : 'run';
  if (command === 'help' || args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (command === 'compare') {
    const files: string[] = [];
    let alpha: number | undefined;
    let minEffect: number | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--alpha') alpha = positiveNumber(a, args[++i]);
      else if (a === '--min-effect') minEffect = positiveNumber(a, args[++i]);
      else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
      else files.push(a);
    }
    if (files.length !== 2) throw new UsageError('compare needs two files: baseline.json current.json');
    if (alpha !== undefined && alpha >= 1) throw new UsageError('--alpha must be below 1');
    const result = compare(readReport(files[0]!), readReport(files[1]!), {
      ...(alpha !== undefined ? { alpha } : {}),
      ...(minEffect !== undefined ? { minEffect } : {}),
    });
    console.log(renderComparison(result));
    return result.regression ? 1 : 0;
  }
  if (command !== 'run') throw new UsageError(`unknown command ${command}`);
  let out = 'bench-results.json';
  let timeMs: number | undefined;
  let warmupMs: number | undefined;
  let rounds: number | undefined;
  let native = true;
  const filter: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') {
      const v = args[++i];
      if (!v) throw new UsageError('--out needs a file name');
      out = v;
    } else if (a === '--time') timeMs = positiveNumber(a, args[++i]);
    else if (a === '--warmup') warmupMs = positiveNumber(a, args[++i]);
    else if (a === '--rounds') rounds = Math.ceil(positiveNumber(a, args[++i]));
    else if (a === '--no-native') native = false;
    else if (a === '--filter') {
      const v = args[++i];
      if (!v) throw new UsageError('--filter needs a substring');
      filter.push(v);
    } else throw new UsageError(`unknown option ${a}`);
  }
  const report = await runBench({
    ...(timeMs !== undefined ? { timeMs } : {}),
    ...(warmupMs !== undefined ? { warmupMs } : {}),
    ...(rounds !== undefined ? { rounds } : {}),
    native,
    filter,
    log: (m) => process.stderr.write(`# ${m}\n`),
  });
  writeFileSync(out, `${JSON.stringify(report)}\n`);
  console.log(renderReport(report));
  console.log(`\nwrote ${out}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n${USAGE}`);
    } else {
      console.error(e);
    }
    process.exitCode = 2;
  },
);
