/**
 * Runs the real `hvspec` entry point (the TypeScript source through tsx) as a child process, the way a
 * user runs the command: arguments, environment, exit code, stdout and stderr.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..');
export const MAIN = join(CLI, 'src/main.ts');
export const ROOT = join(CLI, '../..');

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

/** Whether this process may run a command as `nobody`: root, with util-linux's setpriv. */
export function canDropToNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('setpriv', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** `hvspec ...args`; CI is unset unless `env` sets it, so that output does not depend on the runner. */
export function hvspec(args: readonly string[], opts: RunOptions = {}): Run {
  const env = { ...process.env };
  delete env.CI;
  const node = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const [cmd, ...argv] = opts.asNobody
    ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...node]
    : node;
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
