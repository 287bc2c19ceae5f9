/**
 * `hvspec doctor`: which backends can run on this machine, and for the native one, why not and how to
 * fix it; where it runs, its declared capabilities and deviations.
 * @module
 */
import type { Command } from 'commander';
import { EXIT_OK, EXIT_USAGE, jsonText, messageOf, withExitCodes } from './common.js';
import { hostFix } from './host.js';

interface NativeModule {
  nativeAvailability?: () => {
    available: boolean;
    arch?: string;
    backend?: string;
    reason?: string;
    fix?: string;
  };
  createNativeBackend?: (arch?: string) => {
    capabilities: {
      backend: string;
      arch: string;
      pageSize: number;
      maxVcpus: number;
      enforcedPermissions: readonly number[];
      deviations: readonly { id: string; description: string }[];
    };
    close(): Promise<void>;
  };
}

const NATIVE_PACKAGE: string = '@hvspec/native';
const EL2_PACKAGE: string = '@hvspec/el2';

interface El2Module {
  el2Availability?: () => { available: boolean; reason?: string; fix?: string; qemuVersion?: string };
}

const PERMS = ['NONE', 'R', 'W', 'RW', 'X', 'RX', 'WX', 'RWX'];

/** What the doctor found about one backend. */
export interface BackendStatus {
  readonly name: string;
  readonly available: boolean;
  /** The architectures it runs here. */
  readonly archs: readonly string[];
  /** `native-kvm`, `native-hvf`, when known. */
  readonly backend?: string;
  readonly reason?: string;
  readonly fix?: string;
  readonly pageSize?: number;
  readonly maxVcpus?: number;
  readonly enforcedPermissions?: readonly string[];
  readonly deviations?: readonly { readonly id: string; readonly description: string }[];
}

/** The doctor's findings; `code` is 0 when a native backend is usable here, 2 otherwise. */
export interface DoctorReport {
  readonly backends: readonly BackendStatus[];
  readonly code: number;
}

/** A backend that cannot be used here, and why. */
function unavailable(
  name: BackendStatus['name'],
  reason: string,
  more: Pick<BackendStatus, 'backend' | 'fix'> = {},
): BackendStatus {
  return { name, available: false, archs: [], reason, ...more };
}

async function nativeStatus(): Promise<BackendStatus> {
  let mod: NativeModule;
  try {
    mod = (await import(NATIVE_PACKAGE)) as NativeModule;
  } catch (e) {
    return unavailable('native', `${NATIVE_PACKAGE} does not load (${messageOf(e)})`, {
      fix: 'build it: npm run build',
    });
  }
  const a = mod.nativeAvailability?.();
  if (!a?.available) {
    const fix = hostFix(a?.fix);
    return unavailable('native', a?.reason ?? 'unknown reason', {
      ...(a?.backend ? { backend: a.backend } : {}),
      ...(fix ? { fix } : {}),
    });
  }
  const b = mod.createNativeBackend?.(a.arch);
  if (!b) return unavailable('native', 'the package has no createNativeBackend');
  const c = b.capabilities;
  await b.close();
  return {
    name: 'native',
    available: true,
    archs: [c.arch],
    backend: c.backend,
    pageSize: c.pageSize,
    maxVcpus: c.maxVcpus,
    enforcedPermissions: c.enforcedPermissions.map((p) => PERMS[p] ?? String(p)),
    deviations: c.deviations.map((d) => ({ id: d.id, description: d.description })),
  };
}

/** Whether QEMU and the EL2 runtime are here, without starting QEMU. */
async function el2Status(): Promise<BackendStatus> {
  let mod: El2Module;
  try {
    mod = (await import(EL2_PACKAGE)) as El2Module;
  } catch (e) {
    return unavailable('el2', `${EL2_PACKAGE} does not load (${messageOf(e)})`);
  }
  const a = mod.el2Availability?.();
  if (!a?.available)
    return unavailable(
      'el2',
      `arm64 under QEMU: ${a?.reason ?? 'unknown reason'}`,
      a?.fix ? { fix: a.fix } : {},
    );
  return { name: 'el2', available: true, archs: ['arm64'], backend: `qemu ${a.qemuVersion ?? ''}`.trim() };
}

/** Looks at this machine. The exit code reflects the native backend only. */
export async function diagnose(): Promise<DoctorReport> {
  const model: BackendStatus = { name: 'model', available: true, archs: ['x86_64', 'arm64'] };
  const el2 = await el2Status();
  const native = await nativeStatus();
  return { backends: [model, el2, native], code: native.available ? EXIT_OK : EXIT_USAGE };
}

/** The report as the lines `hvspec doctor` prints. */
export function doctorLines(r: DoctorReport): string[] {
  const lines: string[] = [];
  for (const b of r.backends) {
    if (b.name === 'model') {
      lines.push(
        `model: available (${b.archs.join(', ')}): the pure TypeScript backend needs nothing from the host`,
      );
      continue;
    }
    if (!b.available) {
      lines.push(`${b.name}: not available here${b.backend ? ` (${b.backend})` : ''}: ${b.reason}`);
      if (b.fix) lines.push(`  fix: ${b.fix}`);
      continue;
    }
    if (b.name === 'el2') {
      lines.push(
        `el2: available (arm64): guests run on the architecture as QEMU implements it (${b.backend})`,
      );
      continue;
    }
    lines.push(
      `${b.name}: available: ${b.backend}, ${b.archs.join(', ')}, page size ${b.pageSize}, up to ${b.maxVcpus} vCPUs`,
    );
    if (b.enforcedPermissions)
      lines.push(`  permissions enforced exactly: ${b.enforcedPermissions.join(', ')}`);
    if (b.deviations?.length) {
      lines.push('  declared deviations from the spec:');
      for (const d of b.deviations) lines.push(`    ${d.id}: ${d.description}`);
    }
  }
  return lines;
}

/** The doctor's report as lines; exit code 0 when a native backend is usable here, 2 otherwise. */
export async function doctor(): Promise<{ lines: string[]; code: number }> {
  const r = await diagnose();
  return { lines: doctorLines(r), code: r.code };
}

/** Registers `hvspec doctor` on the program. */
export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('which backends can run here; why not, and how to fix it (exit 2: no native backend here)')
    .option('--json', 'print the findings as JSON');
  withExitCodes(cmd).action(async (o: { json?: boolean }) => {
    const r = await diagnose();
    process.stdout.write(o.json ? `${jsonText(r)}\n` : `${doctorLines(r).join('\n')}\n`);
    process.exitCode = r.code;
  });
}
