/**
 * What the C library tests share: building a C VMM against the libraries with the package's own
 * `cflags` / `libs` (the two-command build of the README), running it, and looking at processes.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Arch } from '@hvspec/spec';
import { type CBackend, cflags, libs } from '../src/flags.ts';

export const ROOT = join(import.meta.dirname, '..');
export const EXAMPLES = join(ROOT, 'examples');
const work = mkdtempSync(join(tmpdir(), 'hvspec-capi-test-'));
// The binaries and traces of a test file go when its process ends.
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Whether /dev/kvm can be used here; the reason when not. */
export function kvmSkip(): string | false {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return false;
  } catch (e) {
    return `/dev/kvm is not usable here (${(e as Error).message}): the KVM library cannot run`;
  }
}

/** `cc SOURCE $(hvspec cflags) $(hvspec libs --backend B [--arch A]) -lpthread`; the binary's path. */
export function build(source: string, backend: CBackend, arch?: Arch): string {
  const name = `${source.replace(/.*\//, '').replace(/\.c$/, '')}-${backend}${arch ? `-${arch}` : ''}`;
  const out = join(work, name);
  if (existsSync(out)) return out;
  const flags = [...cflags().split(' '), ...libs({ backend, ...(arch ? { arch } : {}) }).split(' ')];
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...flags, '-lpthread', '-o', out], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return out;
}

/** A file in the test's scratch directory. */
export function scratch(name: string): string {
  return join(work, name);
}

export interface Ran {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a VMM to its end (with a time limit), with extra environment. */
export function run(
  bin: string,
  args: string[] = [],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  onSpawn?: (pid: number) => void,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The children of a process (from /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(' ').map(Number));
    }
  } catch {
    // The process is gone.
  }
  return out;
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** The processes that hold a descriptor whose link text contains `needle` (memfd names, socket inodes). */
export function holders(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`).includes(needle)) {
          out.push(Number(entry));
          break;
        }
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return out;
}

/** The processes that map a file whose name contains `needle` (memfds show as /memfd:NAME). */
export function mappers(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/maps`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The sockets a process holds (`socket:[inode]`) besides its stdio (which node's spawn makes sockets). */
export function socketsOf(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    if (Number(fd) <= 2) continue;
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:')) out.push(link);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/** The model server started by a VMM: its child running the server script. */
export function serverOf(vmm: number): number | undefined {
  return childrenOf(vmm).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server/main.js');
    } catch {
      return false;
    }
  });
}

/** Waits until `check` holds, up to `ms`. */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}
