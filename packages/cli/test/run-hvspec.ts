/**
 * Runs the real `hvspec` command as a child process, the way a user runs it: arguments, environment,
 * exit code, stdout and stderr. That is the committed shim `bin/hvspec.js` over the build (`npm test`
 * builds first); when a source file is newer than the last build (a test run by hand after an edit),
 * the source entry through tsx instead, so a test never judges a stale build.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..');
export const MAIN = join(CLI, 'src/main.ts');
export const ROOT = join(CLI, '../..');
const BIN = join(CLI, 'bin/hvspec.js');

function built(): boolean {
  let buildTime: number;
  try {
    buildTime = statSync(join(CLI, 'dist/.tsbuildinfo')).mtimeMs;
  } catch {
    return false;
  }
  return readdirSync(join(CLI, 'src')).every((f) => statSync(join(CLI, 'src', f)).mtimeMs <= buildTime);
}

/** The node arguments that run `hvspec`. */
export const ENTRY: readonly string[] = built() ? [BIN] : ['--import', 'tsx', MAIN];

export interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill after this many milliseconds (a hang is then a failure with signal SIGTERM). */
  readonly timeout?: number;
  /** Run as the unprivileged user `nobody` (through setpriv; see {@link canDropToNobody}). */
  readonly asNobody?: boolean;
}

const NOBODY = 65534;

const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
let nobodyCanRun: boolean | undefined;

/**
 * Whether this process may run `hvspec` as `nobody`: root, with util-linux's setpriv, and a checkout
 * `nobody` can read (a clone under a private directory, such as one made by `mktemp -d`, is not).
 */
export function canDropToNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  nobodyCanRun ??=
    spawnSync(AS_NOBODY[0] as string, [...AS_NOBODY.slice(1), 'test', '-r', ENTRY.at(-1) as string])
      .status === 0;
  return nobodyCanRun;
}

/** `hvspec ...args`; CI is unset unless `env` sets it, so that output does not depend on the runner. */
export function hvspec(args: readonly string[], opts: RunOptions = {}): Run {
  const env = { ...process.env };
  delete env.CI;
  const node = [process.execPath, ...ENTRY, ...args];
  const [cmd, ...argv] = opts.asNobody ? [...AS_NOBODY, ...node] : node;
  const r = spawnSync(cmd as string, argv, {
    cwd: opts.cwd ?? CLI,
    encoding: 'utf8',
    env: { ...env, ...(opts.asNobody ? { HOME: '/tmp' } : {}), ...opts.env },
    timeout: opts.timeout ?? 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts the shape of a usage error: exit 2, nothing on stdout, one line on stderr naming the command. */
export function usageError(r: Run, command: string): string {
  const lines = r.stderr.trimEnd().split('\n');
  if (
    r.status !== 2 ||
    r.stdout !== '' ||
    lines.length !== 1 ||
    !lines[0]?.startsWith(`hvspec ${command}: `)
  ) {
    throw new Error(
      `expected a one-line usage error of hvspec ${command} (exit 2), got exit ${r.status}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
  return lines[0];
}
