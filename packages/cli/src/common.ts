/**
 * What every subcommand shares: the exit codes, usage errors, option parsing, JSON output, and the
 * checks on output paths that run before any work starts.
 * @module
 */
import { accessSync, constants, mkdirSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Shard } from '@hvspec/spec';
import type { Command } from 'commander';

/** Everything passed (or there was nothing to judge). */
export const EXIT_OK = 0;
/** A check, trace or regression failed. */
export const EXIT_FAILED = 1;
/** A usage or environment error: a bad option, an unreadable file, no backend here. */
export const EXIT_USAGE = 2;

/** The lines every `--help` ends with. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  all good
  1  a check, trace or comparison failed
  2  usage or environment error (bad option or file, backend not available here)`;

/** Adds the exit codes to a command's help. */
export function withExitCodes(cmd: Command): Command {
  return cmd.addHelpText('after', EXIT_CODES_HELP);
}

/** A usage error: the message is printed on one line after the command's name, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--flag` as an integer (decimal or 0x hex), or a usage error. */
export function integer(flag: string, v: unknown): number {
  const text = String(v).trim();
  const n = /^-?(0x[0-9a-f]+|\d+)$/i.test(text)
    ? text.startsWith('-')
      ? -Number(text.slice(1))
      : Number(text)
    : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** `--flag` as a positive integer, or a usage error. */
export function positiveInteger(flag: string, v: unknown): number {
  const text = String(v).trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** `--shard i/n`: shard i (from 1) of n. */
export function parseShard(v: unknown): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(String(v).trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count || !Number.isSafeInteger(count))
    throw new UsageError(`--shard must be i/n with 1 <= i <= n (e.g. 2/4), got ${JSON.stringify(v)}`);
  return { index, count };
}

/** JSON with bigints as hex strings (the trace format's spelling), indented. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2);
}

// Linux pseudo filesystems (statfs f_type, <linux/magic.h>): nothing can be written there, and
// Node's recursive mkdir spins on some of them (under /proc it loops on EEXIST/ENOENT forever).
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
]);

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? (e instanceof Error ? e.message : String(e));
}

/** The nearest existing ancestor of `path` (itself when it exists). */
function nearestExisting(path: string): string {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/**
 * Checks, before any work, that `dir` is or can become a writable directory, without creating it:
 * what exists of it must be directories this process may write into, on a filesystem that takes
 * files. `flag` names the option in the message.
 */
export function checkOutputDir(flag: string, dir: string): void {
  const abs = resolve(dir);
  const existing = nearestExisting(abs);
  if (process.platform === 'linux') {
    try {
      const fs = PSEUDO_FS.get(Number(statfsSync(existing).type));
      if (fs) throw new UsageError(`${flag} ${dir}: ${existing} is on ${fs}, where no file can be written`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
    }
  }
  if (!statSync(existing).isDirectory()) {
    throw new UsageError(`${flag} ${dir}: ${existing} is not a directory`);
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new UsageError(`${flag} ${dir}: cannot write in ${existing} (${errorText(e)})`);
  }
}

/** Checks, before any work, that the file `path` can be written (its directory as for checkOutputDir). */
export function checkOutputFile(flag: string, path: string): void {
  const abs = resolve(path);
  try {
    if (statSync(abs).isDirectory()) throw new UsageError(`${flag} ${path}: is a directory`);
    accessSync(abs, constants.W_OK);
    return;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new UsageError(`${flag} ${path}: cannot write (${errorText(e)})`);
  }
  checkOutputDir(flag, dirname(abs));
}

/**
 * Creates `dir` and its missing parents one level at a time (never the recursive mkdir, which spins on
 * some pseudo filesystems), or throws a {@link UsageError} naming the level that failed.
 */
export function makeDir(flag: string, dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) throw new UsageError(`${flag} ${dir}: ${p} is not a directory`);
      break;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      missing.unshift(p);
      if (dirname(p) === p) break;
    }
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UsageError(`${flag} ${dir}: cannot create ${p} (${errorText(e)})`);
    }
  }
}

/** The message of an error for a one-line report. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
