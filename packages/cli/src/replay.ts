/**
 * `hvspec replay FILE...`: replays traces on a backend and prints one line per trace:
 * `PASS <title>`, `FAIL <title>: step N (call): expected … got …` or
 * `UNSUPPORTED <title>: step N: <why>`. Exit code 0 when every trace passes (or, with
 * `--allow-unsupported`, is unsupported by this backend), 1 when one did not, 2 for usage errors,
 * unreadable or malformed traces and unavailable backends (DESIGN.md, "CLI").
 * @module
 */
import { readFile } from 'node:fs/promises';
import {
  type Arch,
  type Backend,
  expandTrace,
  HV,
  parseTrace,
  replayTrace,
  type Trace,
  TraceError,
  type TraceReport,
} from '@hvspec/spec';
import { type Command, Option } from 'commander';
import { BACKEND_NAMES, type BackendName, BackendUnavailable, openBackend } from './backends.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_ENVIRONMENT = 2;

export interface ReplayCommandOptions {
  readonly backend: BackendName;
  readonly expand?: boolean;
  readonly json?: boolean;
  readonly allowUnsupported?: boolean;
}

/** Where output goes and how backends are opened; replaced in tests. */
export interface ReplayIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly open: (name: BackendName, arch: Arch) => Promise<Backend>;
}

const defaultIo: ReplayIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  open: openBackend,
};

/** The one-line verdict of a report. */
export function reportLine(report: TraceReport): string {
  const p = report.firstProblem;
  if (report.status === 'pass') {
    const spurious = report.spuriousExits
      ? ` (${report.spuriousExits} spurious VMX_REASON_IRQ exits skipped)`
      : '';
    return `PASS ${report.title}${spurious}`;
  }
  if (report.status === 'unsupported') return `UNSUPPORTED ${report.title}: step ${p?.index}: ${p?.message}`;
  return `FAIL ${report.title}: step ${p?.index} (${p?.call}): ${p?.message}`;
}

/** A trace as JSON with one step per line, the way DESIGN.md writes them, so an expansion stays readable. */
export function formatTrace(trace: Trace): string {
  const head = Object.entries(trace)
    .filter(([key]) => key !== 'steps')
    .map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
  const steps = trace.steps.map((step) => `    ${JSON.stringify(step)}`).join(',\n');
  return `{\n${head.join('\n')}\n  "steps": [\n${steps}\n  ]\n}`;
}

/** Runs `hvspec replay` and returns its exit code. */
export async function runReplay(
  files: readonly string[],
  options: ReplayCommandOptions,
  io: ReplayIo = defaultIo,
): Promise<number> {
  // Every file is read and validated before anything runs: a malformed trace is a usage error.
  const traces: Trace[] = [];
  let malformed = false;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      io.err(`${file}: cannot read: ${(e as Error).message}`);
      malformed = true;
      continue;
    }
    try {
      traces.push(parseTrace(text, file));
    } catch (e) {
      if (!(e instanceof TraceError)) throw e;
      io.err(e.message);
      malformed = true;
    }
  }
  if (malformed) return EXIT_ENVIRONMENT;

  const backends = new Map<Arch, Backend>();
  const backendFor = async (arch: Arch): Promise<Backend> => {
    let b = backends.get(arch);
    if (!b) {
      b = await io.open(options.backend, arch);
      backends.set(arch, b);
    }
    return b;
  };
  try {
    if (options.expand) {
      for (const trace of traces) {
        let expanded = trace;
        if (trace.arch === 'x86_64') {
          const b = await backendFor(trace.arch);
          if (b.arch !== 'x86_64')
            throw new BackendUnavailable(`the ${options.backend} backend is not x86_64`);
          expanded = expandTrace(trace, (id) => {
            const r = b.hv_vmx_read_capability(0, id);
            if (r.ret >>> 0 !== HV.HV_SUCCESS || r.value === undefined) {
              throw new BackendUnavailable(
                `hv_vmx_read_capability(${id}) failed on the ${options.backend} backend`,
              );
            }
            return r.value;
          });
        }
        io.out(formatTrace(expanded));
      }
      return EXIT_OK;
    }
    const reports: TraceReport[] = [];
    // A backend that cannot open one architecture (the native backend on a host of the other flavour)
    // does not stop the traces of the other: they run, and the exit code still says "environment".
    const unavailable = new Set<Arch>();
    let broken = false;
    for (const trace of traces) {
      if (unavailable.has(trace.arch)) continue;
      let backend: Backend;
      try {
        backend = await backendFor(trace.arch);
      } catch (e) {
        if (!(e instanceof BackendUnavailable)) throw e;
        unavailable.add(trace.arch);
        const skipped = traces.filter((t) => t.arch === trace.arch).length;
        io.err(
          `hvspec replay: ${e.message} (${skipped} ${trace.arch} trace${skipped === 1 ? '' : 's'} not replayed)`,
        );
        continue;
      }
      let report: TraceReport;
      try {
        report = await replayTrace(trace, backend);
      } catch (e) {
        // Step-level problems are in the report; a throw here means the backend itself broke
        // (for example its reset failed): an environment error, not a verdict on the trace.
        io.err(`hvspec replay: ${trace.title}: ${e instanceof Error ? e.message : String(e)}`);
        broken = true;
        continue;
      }
      reports.push(report);
      if (!options.json) io.out(reportLine(report));
    }
    if (options.json) io.out(JSON.stringify(reports, null, 2));
    if (unavailable.size || broken) return EXIT_ENVIRONMENT;
    const failed = reports.some((r) => r.status === 'fail');
    const unsupported = reports.some((r) => r.status === 'unsupported');
    return failed || (unsupported && !options.allowUnsupported) ? EXIT_FAILED : EXIT_OK;
  } catch (e) {
    if (e instanceof BackendUnavailable) {
      io.err(`hvspec replay: ${e.message}`);
      return EXIT_ENVIRONMENT;
    }
    throw e;
  } finally {
    for (const b of backends.values()) await b.close();
  }
}

/** Adds `replay` to the program. */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('replay hvspec-trace/1 files on a backend; one PASS/FAIL/UNSUPPORTED line per trace')
    .argument('<file...>', 'trace files (JSON)')
    .addOption(
      new Option('--backend <name>', 'the backend to replay on').choices(BACKEND_NAMES).default('model'),
    )
    .option(
      '--expand',
      'print the traces with x86_setup expanded into its hv_vmx_vcpu_write_vmcs calls, without replaying',
    )
    .option('--json', 'print the full reports as JSON instead of one line per trace')
    .option('--allow-unsupported', 'exit 0 when every trace passes or is unsupported by this backend')
    .action(async (files: string[], options: ReplayCommandOptions) => {
      process.exitCode = await runReplay(files, options);
    });
}
