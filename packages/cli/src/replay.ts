/**
 * `hvspec replay FILE|DIR...`: replays traces on a backend and prints one line per file:
 * `PASS <file>`, `FAIL <file>: step N (call): expected … got …`, `UNSUPPORTED <file>: step N: <why>`
 * (naming the backend's declared deviation when one is the reason), or, for a file that cannot be
 * read or parsed, its error; then a count of each. Directories are searched for `*.json` traces. A bad
 * file does not stop the batch. Exit code 0 when every trace passes or is unsupported only by a
 * declared deviation (`--strict`: only when every one passes; `--allow-unsupported`: also when
 * unsupported for another reason), 1 when one failed, 2 for usage errors, unreadable or malformed
 * files and unavailable backends (DESIGN.md, "CLI").
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, jsonText, messageOf, withExitCodes } from './common.js';

export { EXIT_FAILED, EXIT_OK } from './common.js';
/** Usage or environment error (the name replay.ts has always exported). */
export const EXIT_ENVIRONMENT = EXIT_USAGE;

export interface ReplayCommandOptions {
  readonly backend: BackendName;
  readonly expand?: boolean;
  readonly json?: boolean;
  /** Exit 0 also when a trace is unsupported for a reason other than a declared deviation. */
  readonly allowUnsupported?: boolean;
  /** Exit 1 when any trace is unsupported, even by a declared deviation. */
  readonly strict?: boolean;
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

/** The declared deviation that made a report unsupported, if one did. */
export function deviationOf(report: TraceReport): string | undefined {
  return report.status === 'unsupported' ? report.firstProblem?.deviation : undefined;
}

/** The one-line verdict of a report; `name` is how the trace is named (its file, or its title). */
export function reportLine(report: TraceReport, name: string = report.title): string {
  const p = report.firstProblem;
  if (report.status === 'pass') {
    const spurious = report.spuriousExits
      ? ` (${report.spuriousExits} spurious VMX_REASON_IRQ exits skipped)`
      : '';
    return `PASS ${name}${spurious}`;
  }
  if (report.status === 'unsupported') {
    const deviation = deviationOf(report);
    const by = deviation ? ` (declared deviation ${deviation})` : '';
    return `UNSUPPORTED ${name}: step ${p?.index}${by}: ${p?.message}`;
  }
  return `FAIL ${name}: step ${p?.index} (${p?.call}): ${p?.message}`;
}

/** A trace as JSON with one step per line, the way DESIGN.md writes them, so an expansion stays readable. */
export function formatTrace(trace: Trace): string {
  const head = Object.entries(trace)
    .filter(([key]) => key !== 'steps')
    .map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
  const steps = trace.steps.map((step) => `    ${JSON.stringify(step)}`).join(',\n');
  return `{\n${head.join('\n')}\n  "steps": [\n${steps}\n  ]\n}`;
}

/** The trace files an argument names: the file itself, or every `*.json` under a directory, sorted. */
async function traceFiles(arg: string): Promise<string[]> {
  if (!(await stat(arg)).isDirectory()) return [arg];
  const out: string[] = [];
  const entries = (await readdir(arg, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const path = join(arg, e.name);
    if (e.isDirectory()) out.push(...(await traceFiles(path)));
    else if (e.name.endsWith('.json')) out.push(path);
  }
  return out;
}

/** One file of the batch: a trace to replay, or why it is not one. */
type Loaded =
  | { readonly file: string; readonly trace: Trace }
  | { readonly file: string; readonly error: string };

async function load(args: readonly string[]): Promise<Loaded[]> {
  const loaded: Loaded[] = [];
  for (const arg of args) {
    let files: string[];
    try {
      files = await traceFiles(arg);
    } catch (e) {
      loaded.push({ file: arg, error: `${arg}: cannot read: ${messageOf(e)}` });
      continue;
    }
    if (!files.length) loaded.push({ file: arg, error: `${arg}: no .json traces in this directory` });
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        loaded.push({ file, error: `${file}: cannot read: ${messageOf(e)}` });
        continue;
      }
      try {
        loaded.push({ file, trace: parseTrace(text, file) });
      } catch (e) {
        if (!(e instanceof TraceError)) throw e;
        loaded.push({ file, error: e.message });
      }
    }
  }
  return loaded;
}

/** One entry of `--json`: the report with its file, or the file's error. */
type JsonEntry =
  | (TraceReport & { readonly file: string })
  | { file: string; status: 'error'; message: string };

/** Runs `hvspec replay` and returns its exit code. */
export async function runReplay(
  args: readonly string[],
  options: ReplayCommandOptions,
  io: ReplayIo = defaultIo,
): Promise<number> {
  const loaded = await load(args);
  const entries: JsonEntry[] = [];
  let errors = 0;
  const error = (file: string, message: string): void => {
    errors++;
    entries.push({ file, status: 'error', message });
    io.err(message);
  };

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
      for (const l of loaded) {
        if (!('trace' in l)) {
          error(l.file, l.error);
          continue;
        }
        let expanded = l.trace;
        if (l.trace.arch === 'x86_64') {
          const b = await backendFor(l.trace.arch);
          if (b.arch !== 'x86_64')
            throw new BackendUnavailable(`the ${options.backend} backend is not x86_64`);
          expanded = expandTrace(l.trace, (id) => {
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
      return errors ? EXIT_USAGE : EXIT_OK;
    }
    // A backend that cannot open one architecture (the native backend on a host of the other flavour)
    // does not stop the traces of the other: they run, and the exit code still says "environment".
    const unavailable = new Map<Arch, string>();
    let broken = false;
    const reports: TraceReport[] = [];
    for (const l of loaded) {
      if (!('trace' in l)) {
        error(l.file, l.error);
        continue;
      }
      const { file, trace } = l;
      const why = unavailable.get(trace.arch);
      if (why !== undefined) {
        entries.push({ file, status: 'error', message: `not replayed: ${why}` });
        continue;
      }
      let backend: Backend;
      try {
        backend = await backendFor(trace.arch);
      } catch (e) {
        if (!(e instanceof BackendUnavailable)) throw e;
        unavailable.set(trace.arch, e.message);
        const skipped = loaded.filter((x) => 'trace' in x && x.trace.arch === trace.arch).length;
        io.err(
          `hvspec replay: ${e.message} (${skipped} ${trace.arch} trace${skipped === 1 ? '' : 's'} not replayed)`,
        );
        entries.push({ file, status: 'error', message: `not replayed: ${e.message}` });
        continue;
      }
      let report: TraceReport;
      try {
        report = await replayTrace(trace, backend);
      } catch (e) {
        // Step-level problems are in the report; a throw here means the backend itself broke
        // (for example its reset failed): an environment error, not a verdict on the trace.
        io.err(`hvspec replay: ${file}: ${messageOf(e)}`);
        entries.push({ file, status: 'error', message: messageOf(e) });
        broken = true;
        continue;
      }
      reports.push(report);
      entries.push({ file, ...report });
      if (!options.json) io.out(reportLine(report, file));
    }

    const count = (s: TraceReport['status']): number => reports.filter((r) => r.status === s).length;
    const byDeviation = reports.filter((r) => deviationOf(r) !== undefined);
    const otherUnsupported = count('unsupported') - byDeviation.length;
    if (options.json) io.out(jsonText(entries));
    else if (loaded.length > 1) {
      const parts = [`${count('pass')} passed`, `${count('fail')} failed`];
      if (byDeviation.length) {
        const ids = [...new Set(byDeviation.map(deviationOf))].join(', ');
        parts.push(`${byDeviation.length} unsupported by a declared deviation (${ids})`);
      }
      if (otherUnsupported) parts.push(`${otherUnsupported} unsupported`);
      const notRun = entries.filter((e) => e.status === 'error').length;
      if (notRun) parts.push(`${notRun} not replayed (errors above)`);
      io.out(`${loaded.length} traces: ${parts.join(', ')}`);
    }
    if (errors || unavailable.size || broken) return EXIT_USAGE;
    const unsupportedFails =
      (otherUnsupported > 0 && !options.allowUnsupported) || (byDeviation.length > 0 && options.strict);
    return count('fail') || unsupportedFails ? EXIT_FAILED : EXIT_OK;
  } catch (e) {
    if (e instanceof BackendUnavailable) {
      io.err(`hvspec replay: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  } finally {
    for (const b of backends.values()) await b.close();
  }
}

/** Adds `replay` to the program. */
export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .description('replay hvspec-trace/1 files on a backend; one PASS/FAIL/UNSUPPORTED line per file')
    .argument('<file-or-dir...>', 'trace files (JSON), or directories to search for *.json traces')
    .addOption(
      new Option('--backend <name>', 'the backend to replay on').choices(BACKEND_NAMES).default('model'),
    )
    .option(
      '--expand',
      'print the traces with x86_setup expanded into its hv_vmx_vcpu_write_vmcs calls, without replaying',
    )
    .option('--json', 'print the reports (with their files) as JSON instead of one line per trace')
    .option('--strict', 'fail (exit 1) also on traces unsupported by a deviation the backend declares')
    .option(
      '--allow-unsupported',
      'exit 0 also when a trace is unsupported for another reason (no guest execution, a missing call)',
    );
  withExitCodes(cmd).action(async (files: string[], options: ReplayCommandOptions) => {
    process.exitCode = await runReplay(files, options);
  });
}
