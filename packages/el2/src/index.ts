/**
 * `@hvspec/el2` — an arm64 `hv_*` backend whose guests run on QEMU's implementation of the Arm
 * architecture (TCG, `-M virt,virtualization=on -cpu max`), under a small EL2 hypervisor of the
 * project's own: the project's independent oracle for arm64 exits, syndromes and addresses.
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { El2Backend, type El2BackendOptions, type MachineSource } from './backend.js';
import { Machine } from './machine.js';

export * as el2Abi from './abi.js';
export { EL2_DEVIATIONS, El2Backend, type El2BackendOptions } from './backend.js';
export { type SysRegEntry, sysRegTable } from './sysregs.js';

/** The Debian packages the backend needs, and the command that installs them. */
export const EL2_INSTALL_COMMAND =
  'apt-get update && apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu';

/** Whether the el2 backend can run here, and if not why and how to fix it. */
export interface El2Availability {
  readonly available: boolean;
  readonly reason?: string;
  readonly fix?: string;
  /** `qemu-system-aarch64 --version`, first line. */
  readonly qemuVersion?: string;
  /** The runtime image the backend boots. */
  readonly image?: string;
}

/** Options of {@link createEl2Backend}. */
export interface CreateEl2Options extends El2BackendOptions {
  /** Machine RAM in MiB (the host buffers come out of it). Default 1024. */
  readonly ramMiB?: number;
  /** The qemu-system-aarch64 to run (default: from PATH). */
  readonly qemu?: string;
  /** How long QEMU may stay silent (no answer, no heartbeat) before it counts as gone. Default 20 s. */
  readonly silenceMs?: number;
}

function runtimeImage(): string | undefined {
  for (const rel of ['./runtime/el2.elf', '../dist/runtime/el2.elf']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

function version(cmd: string): string | undefined {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(
      '\n',
    )[0];
  } catch {
    return undefined;
  }
}

/** Checks for Linux, QEMU, setpriv and the built runtime (does not start QEMU). */
export function el2Availability(qemu = 'qemu-system-aarch64'): El2Availability {
  const fix = `${EL2_INSTALL_COMMAND} (as root; packages/el2/scripts/install-tools.sh does it), then npm run build`;
  if (process.platform !== 'linux')
    return { available: false, reason: `the el2 backend runs on Linux (this is ${process.platform})` };
  const qemuVersion = version(qemu);
  if (!qemuVersion)
    return { available: false, reason: `${qemu} is not installed (Debian: qemu-system-arm)`, fix };
  if (!version('setpriv'))
    return {
      available: false,
      reason: 'setpriv (util-linux) is not installed',
      fix: 'apt-get install -y util-linux',
    };
  const image = runtimeImage();
  if (!image)
    return {
      available: false,
      qemuVersion,
      reason: 'the EL2 runtime is not built (the aarch64 cross compiler was missing at build time)',
      fix,
    };
  return { available: true, qemuVersion, image };
}

/** Idle machines, kept for the next backend of this process (QEMU boots once per process). */
const idle: Machine[] = [];

function pool(image: string, ramSize: number, qemu?: string, silenceMs?: number): MachineSource {
  return {
    acquire(): Machine {
      for (const gone of idle.filter((m) => m.gone !== undefined)) {
        idle.splice(idle.indexOf(gone), 1);
        gone.kill();
      }
      const i = idle.findIndex((m) => m.ramSize === ramSize && m.silenceLimitMs === (silenceMs ?? 20_000));
      if (i >= 0) return idle.splice(i, 1)[0] as Machine;
      return Machine.start({
        image,
        ramSize,
        ...(qemu ? { qemu } : {}),
        ...(silenceMs ? { silenceMs } : {}),
      });
    },
    release(m: Machine): void {
      if (m.gone === undefined) idle.push(m);
      else m.kill();
    },
  };
}

/**
 * The el2 backend. Throws an Error saying why (and how to fix it) when it cannot run here; QEMU itself
 * starts at the first call that needs it, once per process (closed backends hand their machine on).
 */
export function createEl2Backend(options: CreateEl2Options = {}): El2Backend {
  const ramMiB = options.ramMiB ?? 1024;
  if (!Number.isSafeInteger(ramMiB) || ramMiB < 128 || ramMiB > 3072 || ramMiB % 2 !== 0)
    throw new TypeError('options.ramMiB must be an even integer in [128, 3072]');
  if (
    options.silenceMs !== undefined &&
    (!Number.isSafeInteger(options.silenceMs) || options.silenceMs < 100)
  )
    throw new TypeError('options.silenceMs must be an integer of at least 100');
  const a = el2Availability(options.qemu);
  if (!a.available || !a.image) throw new Error(`${a.reason}${a.fix ? `; fix: ${a.fix}` : ''}`);
  return new El2Backend(pool(a.image, ramMiB * 1024 * 1024, options.qemu, options.silenceMs), options);
}

/** Kills the idle QEMU machines of this process (they also die with the process). */
export function shutdownEl2Machines(): void {
  for (const m of idle.splice(0)) m.kill();
}
