/**
 * `hvspec doctor`: which backends can run on this machine, and for the native and el2 ones, why not and
 * how to fix it; where the native one runs, its declared capabilities and deviations. The exit code
 * says whether the native backend runs here.
 * @module
 */
import type { Command } from 'commander';

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

/** The el2 line(s): whether QEMU and the EL2 runtime are here (without starting QEMU). */
async function el2Lines(): Promise<string[]> {
  let mod: El2Module;
  try {
    mod = (await import(EL2_PACKAGE)) as El2Module;
  } catch (e) {
    return [
      `el2: not available: ${EL2_PACKAGE} does not load (${e instanceof Error ? e.message : String(e)})`,
    ];
  }
  const a = mod.el2Availability?.();
  if (!a?.available) {
    const lines = [`el2: not available here (arm64 under QEMU): ${a?.reason ?? 'unknown reason'}`];
    if (a?.fix) lines.push(`  fix: ${a.fix}`);
    return lines;
  }
  return [`el2: available (arm64): guests run on the architecture as QEMU implements it (${a.qemuVersion})`];
}
const PERMS = ['NONE', 'R', 'W', 'RW', 'X', 'RX', 'WX', 'RWX'];

/** The doctor's report as lines; exit code 0 when a native backend is usable here, 2 otherwise. */
export async function doctor(): Promise<{ lines: string[]; code: number }> {
  const lines = ['model: available (x86_64, arm64): the pure TypeScript backend needs nothing from the host'];
  lines.push(...(await el2Lines()));
  let mod: NativeModule;
  try {
    mod = (await import(NATIVE_PACKAGE)) as NativeModule;
  } catch (e) {
    lines.push(
      `native: not available: ${NATIVE_PACKAGE} does not load (${e instanceof Error ? e.message : String(e)})`,
    );
    return { lines, code: 2 };
  }
  const a = mod.nativeAvailability?.();
  if (!a?.available) {
    lines.push(
      `native: not available here${a?.backend ? ` (${a.backend})` : ''}: ${a?.reason ?? 'unknown reason'}`,
    );
    if (a?.fix) lines.push(`  fix: ${a.fix}`);
    return { lines, code: 2 };
  }
  const b = mod.createNativeBackend?.(a.arch);
  if (!b) return { lines: [...lines, 'native: the package has no createNativeBackend'], code: 2 };
  const c = b.capabilities;
  lines.push(
    `native: available: ${c.backend}, ${c.arch}, page size ${c.pageSize}, up to ${c.maxVcpus} vCPUs`,
  );
  lines.push(`  permissions enforced exactly: ${c.enforcedPermissions.map((p) => PERMS[p] ?? p).join(', ')}`);
  if (c.deviations.length) {
    lines.push('  declared deviations from the spec:');
    for (const d of c.deviations) lines.push(`    ${d.id}: ${d.description}`);
  }
  await b.close();
  return { lines, code: 0 };
}

/** Registers `hvspec doctor` on the program. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('which backends can run here; why not, and how to fix it')
    .action(async () => {
      const { lines, code } = await doctor();
      process.stdout.write(`${lines.join('\n')}\n`);
      process.exitCode = code;
    });
}
