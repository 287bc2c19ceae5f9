/**
 * `hvspec lint FILE...`: judges recorded traces against the spec (`lintTrace`) and prints, per trace,
 * each finding with its rule id, evidence and step. `--json` prints the reports as JSON instead.
 * Exit codes: 0 every trace is clean (warnings allowed), 1 a trace has errors, 2 usage error or an
 * unreadable or malformed trace (the others are still linted).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { formatLintReport, type LintReport, lintTrace, parseTrace, TraceError } from '@hvspec/spec';

/** Exit code: every trace is clean (warnings allowed), or `--help`. */
export const LINT_OK = 0;
/** Exit code: a trace has at least one error finding. */
export const LINT_ERRORS = 1;
/** Exit code: a usage error, or a file that could not be read or parsed as a trace (the others are still linted). */
export const LINT_UNREADABLE = 2;

/** Where {@link runLintCli} writes (default: stdout and stderr, a newline after each text). */
export interface LintIo {
  /** Reports, the JSON output and the usage text asked for with `--help`. */
  readonly out: (text: string) => void;
  /** Usage errors and unreadable traces. */
  readonly err: (text: string) => void;
}

const defaultIo: LintIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

const USAGE = 'usage: hvspec lint [--json] FILE...';

/** Lints the files and resolves to the exit code. `argv` are the arguments after `lint`. */
export async function runLintCli(argv: readonly string[], io: LintIo = defaultIo): Promise<number> {
  let json = false;
  const files: string[] = [];
  for (const a of argv) {
    if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') {
      io.out(USAGE);
      return LINT_OK;
    } else if (a.startsWith('-')) {
      io.err(`hvspec lint: unknown option ${a}\n${USAGE}`);
      return LINT_UNREADABLE;
    } else files.push(a);
  }
  if (files.length === 0) {
    io.err(`hvspec lint: no trace given\n${USAGE}`);
    return LINT_UNREADABLE;
  }
  const reports: LintReport[] = [];
  const unreadable: { file: string; error: string }[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      unreadable.push({ file, error: `${file}: ${(e as Error).message}` });
      continue;
    }
    try {
      reports.push(lintTrace(parseTrace(text, file), { file }));
    } catch (e) {
      if (!(e instanceof TraceError)) throw e;
      unreadable.push({ file, error: e.message });
    }
  }
  if (json) io.out(JSON.stringify({ reports, unreadable }, null, 2));
  else {
    for (const r of reports) io.out(formatLintReport(r));
    for (const u of unreadable) io.err(`ERROR ${u.error}`);
  }
  if (unreadable.length) return LINT_UNREADABLE;
  return reports.some((r) => r.errors > 0) ? LINT_ERRORS : LINT_OK;
}
