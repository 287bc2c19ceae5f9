/**
 * `hvspec check`: property-based conformance of a backend against the spec, with a coverage summary
 * and, on failure, the shrunk counterexample as a call list, a replay line and a trace file.
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Arch, type Backend, type ConformanceReport, diffBackends, runConformance } from '@hvspec/spec';
import type { Command } from 'commander';
import { BACKEND_NAMES, type BackendName, BackendUnavailable, openBackend } from './backends.js';

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
}

/**
 * The model under check gets small limits — 3 vCPUs, 3 address spaces — so that a run of a few dozen
 * calls can reach the rules that apply at those limits. Its behaviour is otherwise the default model's.
 */
export const CHECK_MODEL_OPTIONS = { maxVcpus: 3, maxAddressSpaces: 3 } as const;

/** Model options that describe the same host as another backend's capabilities (for differential runs). */
function modelLike(caps: Backend['capabilities']): Record<string, unknown> {
  return {
    maxVcpus: caps.maxVcpus,
    ...(caps.maxAddressSpaces !== undefined ? { maxAddressSpaces: caps.maxAddressSpaces } : {}),
    ...(caps.vmxCapabilities ? { vmxCapabilities: caps.vmxCapabilities } : {}),
    ...(caps.maxIpaSize !== undefined ? { maxIpaSize: caps.maxIpaSize } : {}),
    ...(caps.ipaGranule4k !== undefined ? { ipaGranule4k: caps.ipaGranule4k } : {}),
  };
}

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
  const label = opts.diff ? `${opts.backend}+${opts.diff}` : opts.backend;
  const tty = opts.progress && process.stderr.isTTY;
  try {
    return await runConformance(backend, {
      runs: opts.runs,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.path ? { path: opts.path } : {}),
      ...(opts.replayPath ? { replayPath: opts.replayPath } : {}),
      onRun: tty
        ? (n) => {
            if (n % 10 === 0 || n === opts.runs)
              process.stderr.write(`\r${opts.arch} ${label}: ${n}/${opts.runs} runs`);
          }
        : undefined,
    });
  } finally {
    if (tty) process.stderr.write('\r\x1b[K');
    await backend.close();
  }
}

/** The one-line summary of a report, and the lines under it. */
export function formatReport(
  r: ConformanceReport,
  opts: { verbose?: boolean; replay?: string } = {},
): string {
  const lines: string[] = [];
  const covered = r.rulesCovered.filter((id) => r.rulesTotal.includes(id)).length;
  lines.push(
    `${r.ok ? 'PASS' : 'FAIL'} ${r.arch} ${r.backend}: ${r.runs} runs, seed ${r.seed}, rules covered ${covered}/${r.rulesTotal.length}` +
      (r.exitKinds.length ? `, exit kinds ${r.exitKinds.length}` : '') +
      (r.skippedDangerous ? `, ${r.skippedDangerous} dangerous calls not made` : ''),
  );
  const uncovered = r.rulesTotal.filter((id) => !r.rulesCovered.includes(id));
  if (uncovered.length && (opts.verbose || r.ok)) lines.push(`  not covered: ${uncovered.join(', ')}`);
  if (r.exitKinds.length) lines.push(`  exits: ${r.exitKinds.join(', ')}`);
  if (r.differences.length) {
    lines.push('  differences where the spec leaves the outcome open:');
    for (const d of r.differences) lines.push(`    ${d.count}× ${d.ruleId}: ${d.what}`);
  }
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

function parseArchs(v: string): Arch[] {
  if (v === 'all') return ['x86_64', 'arm64'];
  if (v === 'x86_64' || v === 'arm64') return [v];
  throw new UsageError(`--arch must be x86_64, arm64 or all, got ${JSON.stringify(v)}`);
}

class UsageError extends Error {}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Registers `hvspec check` on the program. */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('property-based conformance of a backend against the spec (fast-check model-based testing)')
    .option('--backend <name>', `backend to check: ${BACKEND_NAMES.join(' or ')}`, 'model')
    .option('--arch <arch>', 'x86_64, arm64 or all', 'all')
    .option('--runs <n>', 'number of generated call sequences', '1000')
    .option('--seed <n>', 'fast-check seed (printed on every run)')
    .option('--path <path>', 'replay: the counterexample path printed by a failing run')
    .option('--replay-path <path>', 'replay: the commands replay path printed by a failing run')
    .option(
      '--diff <a,b>',
      'differential mode: run every call on two backends and compare (e.g. model,native)',
    )
    .option('--out <dir>', 'where counterexample traces are written', 'hvspec-counterexamples')
    .option('--json', 'print the reports as JSON')
    .option('--verbose', 'list uncovered rules even on failure')
    .option('--no-progress', 'no progress line')
    .action(async (o) => {
      try {
        const archs = parseArchs(o.arch);
        let backend = o.backend as BackendName;
        let diff: BackendName | undefined;
        if (o.diff) {
          const parts = String(o.diff).split(',');
          if (parts.length !== 2 || !parts.every((p) => (BACKEND_NAMES as readonly string[]).includes(p))) {
            throw new UsageError(
              `--diff takes two backends, e.g. model,native; got ${JSON.stringify(o.diff)}`,
            );
          }
          [backend, diff] = parts as [BackendName, BackendName];
        }
        if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
          throw new UsageError(
            `--backend must be ${BACKEND_NAMES.join(' or ')}, got ${JSON.stringify(backend)}`,
          );
        }
        const reports: ConformanceReport[] = [];
        for (const arch of archs) {
          const report = await runCheck({
            backend,
            arch,
            runs: int('--runs', o.runs),
            ...(o.seed !== undefined ? { seed: int('--seed', o.seed) } : {}),
            ...(o.path ? { path: String(o.path) } : {}),
            ...(o.replayPath ? { replayPath: String(o.replayPath) } : {}),
            ...(diff ? { diff } : {}),
            outDir: String(o.out),
            progress: o.progress !== false && !o.json,
          });
          reports.push(report);
          if (report.failure) {
            mkdirSync(o.out, { recursive: true });
            const file = join(o.out, `${arch}-${report.backend.replace('+', '-')}-${report.seed}.json`);
            writeFileSync(file, `${JSON.stringify(report.failure.trace, null, 2)}\n`);
            const replay = diff ? `--diff ${backend},${diff}` : `--backend ${backend}`;
            if (!o.json)
              process.stdout.write(
                `${formatReport(report, { ...o, replay })}\n  trace: ${file} (hvspec replay ${file})\n`,
              );
          } else if (!o.json) {
            process.stdout.write(`${formatReport(report, o)}\n`);
          }
        }
        if (o.json)
          process.stdout.write(
            `${JSON.stringify(reports, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2)}\n`,
          );
        process.exitCode = reports.every((r) => r.ok) ? 0 : 1;
      } catch (e) {
        if (e instanceof UsageError || e instanceof BackendUnavailable) {
          process.stderr.write(`hvspec check: ${e.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
    });
}
