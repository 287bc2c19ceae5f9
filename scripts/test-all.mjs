#!/usr/bin/env node
// `npm test`: every package's tests through turbo (`test` depends on `build`), read as they come and
// condensed: one line per package with its counts, the failing tests in full (their TAP diagnostics),
// the skipped ones with their reason, the full log of any other task that failed (a build), and at the
// end ONE line with the passed, failed and skipped tests across packages. The exit status is turbo's,
// and non-zero whenever a test failed.
//
//   npm test                     condensed
//   npm test -- --verbose        every line of every task, then the totals
//   npm test -- --filter=hvspec  other arguments go to `turbo run test`
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const turboArgs = args.filter((a) => a !== '--verbose');
const local = `${root}node_modules/.bin/turbo`;
const turbo = existsSync(local) ? local : 'turbo';

// --continue: a failing package does not cancel the others, so the totals cover every package.
const child = spawn(turbo, ['run', 'test', '--log-order=grouped', '--continue', ...turboArgs], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
});
// A Ctrl-C reaches turbo too (same process group); wait for it to stop, then report what ran.
process.on('SIGINT', () => {});

// Colour codes (ESC [ ... m), should a tool print them into a pipe anyway.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const PREFIX = /^([@\w./-]+):([\w-]+): ?(.*)$/;
const SUMMARY = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;
const totals = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0 };
const packages = [];
const out = (line) => process.stdout.write(`${line}\n`);

/** One task's lines, buffered until the next task's begin (turbo groups each task's output). */
let task;

function flush() {
  if (!task) return;
  const t = task;
  task = undefined;
  const failedTask = t.lines.some((l) => /ERROR: command finished with error|npm (ERR!|error) /.test(l));
  if (t.name !== 'test') {
    if (failedTask && !verbose) {
      out(`${t.pkg}#${t.name} failed:`);
      for (const l of t.lines) out(`  ${l}`);
    }
    return;
  }
  const counts = { pass: 0, fail: 0, skipped: 0, todo: 0, cancelled: 0, duration_ms: 0 };
  const shown = [];
  let block; // the indentation of a failing test's diagnostics being copied
  for (const l of t.lines) {
    const m = SUMMARY.exec(l);
    if (m) {
      if (m[1] in counts) counts[m[1]] += Number(m[2]);
      continue;
    }
    const indent = /^\s*/.exec(l)[0].length;
    if (block !== undefined) {
      if (indent > block || l.trim() === '') {
        shown.push(`    ${l}`);
        continue;
      }
      block = undefined;
    }
    if (/^\s*not ok \d+ /.test(l)) {
      shown.push(`    ${l}`);
      block = indent;
    } else if (/^\s*ok \d+ .*# SKIP/.test(l)) shown.push(`    ${l.trim()}`);
  }
  for (const k of Object.keys(totals)) totals[k] += counts[k];
  const seconds = (counts.duration_ms / 1000).toFixed(1);
  const extra = [counts.todo && `${counts.todo} todo`, counts.cancelled && `${counts.cancelled} cancelled`]
    .filter(Boolean)
    .map((s) => `, ${s}`)
    .join('');
  packages.push(t.pkg);
  if (verbose) return;
  out(
    `${t.pkg}: ${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped${extra} (${seconds} s)`,
  );
  for (const l of shown) out(l);
  // A test task that failed without a failing test (a crash before any ran, a missing file): all of it.
  if (failedTask && counts.fail === 0 && counts.cancelled === 0) for (const l of t.lines) out(`    ${l}`);
}

const rl = createInterface({ input: child.stdout });
rl.on('line', (raw) => {
  const line = raw.replace(ANSI, '');
  if (verbose) out(raw);
  const m = PREFIX.exec(line);
  if (!m) {
    flush();
    if (!verbose && line.trim() !== '') out(line);
    return;
  }
  const [, pkg, name, rest] = m;
  if (!task || task.pkg !== pkg || task.name !== name) {
    flush();
    task = { pkg, name, lines: [] };
  }
  task.lines.push(rest);
});

child.on('close', (code, signal) => {
  flush();
  const extra = [totals.todo && `${totals.todo} todo`, totals.cancelled && `${totals.cancelled} cancelled`]
    .filter(Boolean)
    .map((s) => `, ${s}`)
    .join('');
  out(
    `tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped${extra} (${packages.length} packages)`,
  );
  if (signal) process.exitCode = signal === 'SIGINT' ? 130 : 1;
  else process.exitCode = code !== 0 ? (code ?? 1) : totals.fail || totals.cancelled ? 1 : 0;
});
