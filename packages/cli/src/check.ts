/**
 * `hvspec check`: property-based conformance of a backend against the spec, with a coverage summary
 * and, on failure, the shrunk counterexample as a call list, a replay line and a trace file.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Arch,
  type Backend,
  type ConformanceReport,
  type DifferenceGroup,
  diffBackends,
  runConformance,
  type Shard,
  shardRun,
} from '@hvspec/spec';
import type { Command } from 'commander';
import { BACKEND_NAMES, type BackendName, hostArchs, openBackend, reportUsageFailure } from './backends.js';
import {
  checkOutputDir,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  integer,
  jsonText,
  makeDir,
  messageOf,
  parseShard,
  positiveInteger,
  UsageError,
  withExitCodes,
} from './common.js';
import { startProgress } from './progress.js';

/** Options of one check run. */
export interface CheckOptions {
  readonly backend: BackendName;
  readonly arch: Arch;
  readonly runs: number;
  readonly seed?: number;
  readonly path?: string;
  readonly replayPath?: string;
  /** Differential mode: the second backend. */
  readonly diff?: BackendName;
  /** Where counterexample traces go. */
  readonly outDir: string;
  readonly progress: boolean;
  /** Run one shard of the run (see `shardRun` in the spec's harness). */
  readonly shard?: Shard;
}

/**
 * The model under check gets small limits — 3 vCPUs, 3 address spaces — so that a run of a few dozen
 * calls can reach the rules that apply at those limits. Its behaviour is otherwise the default model's.
 */
export const CHECK_MODEL_OPTIONS = { maxVcpus: 3, maxAddressSpaces: 3 } as const;

/** Model options that describe the same host as another backend's capabilities (for differential runs). */
export function modelLike(caps: Backend['capabilities']): Record<string, unknown> {
  return {
    maxVcpus: caps.maxVcpus,
    ...(caps.maxAddressSpaces !== undefined ? { maxAddressSpaces: caps.maxAddressSpaces } : {}),
    ...(caps.vmxCapabilities ? { vmxCapabilities: caps.vmxCapabilities } : {}),
    ...(caps.maxIpaSize !== undefined ? { maxIpaSize: caps.maxIpaSize } : {}),
    ...(caps.ipaGranule4k !== undefined ? { ipaGranule4k: caps.ipaGranule4k } : {}),
    ...(caps.arch === 'arm64' ? { gic: caps.gic ?? false, el2Supported: caps.el2Supported ?? false } : {}),
  };
}

/** fast-check's counterexample path: run indices separated by colons (`12:3:0`). */
const PATH_SYNTAX = /^\d+(:\d+)*$/;
/** fast-check's commands replay path: two base64 runs around a colon. */
const REPLAY_PATH_SYNTAX = /^[A-Za-z0-9+/]*:[A-Za-z0-9+/]*$/;

/** Runs one check and returns its report (the backends are closed afterwards). */
export async function runCheck(opts: CheckOptions): Promise<ConformanceReport> {
  let backend: Backend;
  if (opts.diff) {
    // A model in a differential run is told it runs on the other backend's host (limits, VMX
    // capabilities), so that the two differ only in behaviour, not in host description.
    const pair = [opts.backend, opts.diff] as const;
    const realName = pair.find((n) => n !== 'model');
    const real = realName ? await openBackend(realName, opts.arch) : undefined;
    const modelOptions = real ? modelLike(real.capabilities) : CHECK_MODEL_OPTIONS;
    const open = async (name: BackendName): Promise<Backend> =>
      name === realName && real ? real : openBackend(name, opts.arch, { model: modelOptions });
    const a = await open(opts.backend);
    const b =
      opts.diff === realName && a === real ? await openBackend(opts.diff, opts.arch) : await open(opts.diff);
    backend = diffBackends(a, b);
  } else {
    backend = await openBackend(opts.backend, opts.arch, { model: CHECK_MODEL_OPTIONS });
  }
  const label = `${opts.arch} ${opts.diff ? `${opts.backend}+${opts.diff}` : opts.backend}`;
  const total = opts.shard ? shardRun(opts.runs, 0, opts.shard).runs : opts.runs;
  const progress = opts.progress ? startProgress({ label, total, unit: 'runs' }) : undefined;
  try {
    const report = await runConformance(backend, {
      runs: opts.runs,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.path ? { path: opts.path } : {}),
      ...(opts.replayPath ? { replayPath: opts.replayPath } : {}),
      ...(opts.shard ? { shard: opts.shard } : {}),
      ...(progress ? { onRun: (n: number) => progress.update(n) } : {}),
    });
    // fast-check reports a replay path that does not fit the run as a failure of the property.
    if (opts.replayPath && report.failure && /replayPath/.test(report.failure.message)) {
      throw new UsageError(
        `--replay-path does not fit this run (${report.failure.message}); use the --seed, --path and --replay-path of one replay line`,
      );
    }
    return report;
  } catch (e) {
    if (opts.path && /Unable to replay/.test(messageOf(e)))
      throw new UsageError(`--path ${opts.path} does not fit this run (${messageOf(e)})`);
    throw e;
  } finally {
    progress?.finish();
    await backend.close();
  }
}

function differenceLines(r: ConformanceReport): string[] {
  if (!r.differences.length) return [];
  const [a, b] = r.backend.split('+');
  const lines = [
    `  where the spec is loose, ${a} and ${b} answered differently (count, rule: ${a} vs ${b}):`,
  ];
  const group = (kind: DifferenceGroup['kind']): DifferenceGroup[] =>
    r.differences.filter((d) => d.kind === kind);
  const outcome = group('outcome');
  const code = group('code');
  const value = group('value');
  if (outcome.length) {
    lines.push('    one succeeded, the other failed:');
    for (const d of outcome) lines.push(`      ${d.count}× ${d.ruleId}: ${d.a} vs ${d.b}`);
  }
  if (code.length) {
    lines.push('    both failed, with different codes:');
    for (const d of code) lines.push(`      ${d.count}× ${d.ruleId}: ${d.a} vs ${d.b}`);
  }
  if (value.length) {
    lines.push(
      `    both succeeded, with values the spec does not predict: ${value.map((d) => `${d.count}× ${d.ruleId}`).join(', ')}`,
    );
  }
  return lines;
}

/** The one-line summary of a report, and the lines under it. */
export function formatReport(
  r: ConformanceReport,
  opts: { verbose?: boolean; replay?: string } = {},
): string {
  const lines: string[] = [];
  const covered = r.rulesCovered.filter((id) => r.rulesTotal.includes(id)).length;
  const shard = r.shard
    ? ` (shard ${r.shard.index}/${r.shard.count} of ${r.shard.runs}, base seed ${r.shard.seed})`
    : '';
  lines.push(
    `${r.ok ? 'PASS' : 'FAIL'} ${r.arch} ${r.backend}: ${r.runs} runs${shard}, seed ${r.seed}, rules covered ${covered}/${r.rulesTotal.length}` +
      (r.exitKinds.length ? `, exit kinds ${r.exitKinds.length}` : '') +
      (r.skippedDangerous ? `, ${r.skippedDangerous} dangerous calls not made` : ''),
  );
  const uncovered = r.rulesTotal.filter((id) => !r.rulesCovered.includes(id));
  if (uncovered.length && (opts.verbose || r.ok)) lines.push(`  not covered: ${uncovered.join(', ')}`);
  if (r.exitKinds.length) lines.push(`  exits: ${r.exitKinds.join(', ')}`);
  lines.push(...differenceLines(r));
  if (r.failure) {
    lines.push(`  ${r.failure.message}`);
    lines.push('  counterexample (shrunk):');
    for (const l of r.failure.commands.split('\n')) lines.push(`    ${l}`);
    const replay = [`--seed ${r.seed}`, `--path ${r.failure.path}`];
    if (r.failure.replayPath) replay.push(`--replay-path '${r.failure.replayPath}'`);
    lines.push(
      `  replay: hvspec check ${opts.replay ?? `--backend ${r.backend}`} --arch ${r.arch} ${replay.join(' ')}`,
    );
  }
  return lines.join('\n');
}

function isBackendName(v: string): v is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(v);
}

/** What `check` was asked to do, validated: every usage error is found here, before any work. */
interface CheckPlan {
  readonly backend: BackendName;
  readonly diff?: BackendName;
  readonly archs: readonly Arch[];
  readonly runs: number;
  readonly seed?: number;
  readonly path?: string;
  readonly replayPath?: string;
  readonly shard?: Shard;
  readonly out: string;
}

async function plan(o: Record<string, unknown>): Promise<CheckPlan> {
  let backend = String(o.backend);
  let diff: BackendName | undefined;
  if (o.diff !== undefined) {
    const parts = String(o.diff).split(',');
    if (parts.length !== 2 || !parts.every(isBackendName)) {
      throw new UsageError(`--diff takes two backends, e.g. model,native; got ${JSON.stringify(o.diff)}`);
    }
    [backend, diff] = parts as [BackendName, BackendName];
  }
  if (!isBackendName(backend)) {
    throw new UsageError(`--backend must be ${BACKEND_NAMES.join(' or ')}, got ${JSON.stringify(backend)}`);
  }
  const runs = positiveInteger('--runs', o.runs);
  const seed = o.seed === undefined ? undefined : integer('--seed', o.seed);
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  if (shard && runs < shard.count)
    throw new UsageError(`--runs ${runs} cannot be split into ${shard.count} shards (each needs a run)`);
  const path = o.path === undefined ? undefined : String(o.path).trim();
  const replayPath = o.replayPath === undefined ? undefined : String(o.replayPath).trim();
  if (path !== undefined && !PATH_SYNTAX.test(path))
    throw new UsageError(
      `--path must be the path a failing run printed (like 12:3:0), got ${JSON.stringify(path)}`,
    );
  if (replayPath !== undefined && path === undefined)
    throw new UsageError('--replay-path replays a counterexample only together with its --seed and --path');
  if (replayPath !== undefined && !REPLAY_PATH_SYNTAX.test(replayPath))
    throw new UsageError(
      `--replay-path must be the replay path a failing run printed (like 'CD:A'), got ${JSON.stringify(replayPath)}`,
    );
  if (path !== undefined && seed === undefined)
    throw new UsageError('--path replays a counterexample only with the --seed it was printed with');
  if (path !== undefined && shard)
    throw new UsageError('--path replays one run: drop --shard (the replay line gives the shard its seed)');
  let archs: Arch[];
  if (o.arch === undefined) {
    // What the backend can run here: the native backend runs only the host's flavour.
    const real = [backend, diff].find((n) => n !== undefined && n !== 'model') as BackendName | undefined;
    archs = await hostArchs(real ?? 'model');
  } else if (o.arch === 'all') archs = ['x86_64', 'arm64'];
  else if (o.arch === 'x86_64' || o.arch === 'arm64') archs = [o.arch];
  else throw new UsageError(`--arch must be x86_64, arm64 or all, got ${JSON.stringify(o.arch)}`);
  if (path !== undefined && archs.length !== 1)
    throw new UsageError('--path replays one architecture: give --arch x86_64 or --arch arm64');
  const out = String(o.out);
  checkOutputDir('--out', out);
  return {
    backend,
    ...(diff ? { diff } : {}),
    archs,
    runs,
    ...(seed !== undefined ? { seed } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(replayPath !== undefined ? { replayPath } : {}),
    ...(shard ? { shard } : {}),
    out,
  };
}

/** Writes a failing report's counterexample trace; returns the file. */
function writeCounterexample(out: string, report: ConformanceReport): string {
  makeDir('--out', out);
  const file = join(out, `${report.arch}-${report.backend.replace('+', '-')}-${report.seed}.json`);
  try {
    writeFileSync(file, `${JSON.stringify(report.failure?.trace, null, 2)}\n`);
  } catch (e) {
    throw new UsageError(
      `--out ${out}: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? messageOf(e)})`,
    );
  }
  return file;
}

/** Registers `hvspec check` on the program. */
export function registerCheck(program: Command): void {
  const cmd = program
    .command('check')
    .description('property-based conformance of a backend against the spec (fast-check model-based testing)')
    .option('--backend <name>', `backend to check: ${BACKEND_NAMES.join(' or ')}`, 'model')
    .option('--arch <arch>', 'x86_64, arm64 or all (default: what the backend can run on this host)')
    .option('--runs <n>', 'number of generated call sequences, a positive integer', '1000')
    .option('--seed <n>', 'fast-check seed (printed on every run; random by default)')
    .option('--shard <i/n>', 'run shard i of n of the --runs (each with its own seed from --seed and i)')
    .option('--path <path>', 'replay: the counterexample path printed by a failing run (with its --seed)')
    .option('--replay-path <path>', 'replay: the commands replay path printed by a failing run (with --path)')
    .option(
      '--diff <a,b>',
      'differential mode: run every call on two backends and compare (e.g. model,native)',
    )
    .option('--out <dir>', 'where counterexample traces are written', 'hvspec-counterexamples')
    .option('--json', 'print the reports as JSON')
    .option('--verbose', 'list uncovered rules even on failure')
    .option('--no-progress', 'no progress bar or progress lines');
  withExitCodes(cmd).action(async (o) => {
    try {
      const p = await plan(o);
      const reports: (ConformanceReport & { counterexampleFile?: string })[] = [];
      let unwritten = false;
      for (const arch of p.archs) {
        const report = await runCheck({
          backend: p.backend,
          arch,
          runs: p.runs,
          ...(p.seed !== undefined ? { seed: p.seed } : {}),
          ...(p.path ? { path: p.path } : {}),
          ...(p.replayPath ? { replayPath: p.replayPath } : {}),
          ...(p.diff ? { diff: p.diff } : {}),
          ...(p.shard ? { shard: p.shard } : {}),
          outDir: p.out,
          progress: o.progress !== false && !o.json,
        });
        const replay = p.diff ? `--diff ${p.backend},${p.diff}` : `--backend ${p.backend}`;
        // The report first: a counterexample that cannot be written must not take the verdict with it.
        if (!o.json) process.stdout.write(`${formatReport(report, { ...o, replay })}\n`);
        if (report.failure) {
          try {
            const file = writeCounterexample(p.out, report);
            reports.push({ ...report, counterexampleFile: file });
            if (!o.json) process.stdout.write(`  trace: ${file} (hvspec replay ${file})\n`);
          } catch (e) {
            if (!(e instanceof UsageError)) throw e;
            process.stderr.write(`hvspec check: ${e.message}\n`);
            unwritten = true;
            reports.push(report);
          }
        } else reports.push(report);
      }
      if (o.json) process.stdout.write(`${jsonText(reports)}\n`);
      process.exitCode = unwritten ? EXIT_USAGE : reports.every((r) => r.ok) ? EXIT_OK : EXIT_FAILED;
    } catch (e) {
      reportUsageFailure('check', e);
    }
  });
}
