// Builds the EL2 runtime (src/runtime) with Debian's aarch64 cross compiler into dist/runtime/el2.elf,
// with the ABI and system-register headers generated from the compiled TypeScript (dist/abi.js,
// dist/sysregs.js), so the runtime and the host agree by construction. Without the cross compiler it
// says how to install it and leaves no runtime behind: the backend then reports itself unavailable.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'runtime');
const src = join(root, 'src', 'runtime');
const cc = process.env.HVSPEC_EL2_CC || 'aarch64-linux-gnu-gcc';

const { abiHeader } = await import(join(root, 'dist', 'abi.js'));
const { sysRegHeader, sysRegTable } = await import(join(root, 'dist', 'sysregs.js'));

function found(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

rmSync(join(out, 'el2.elf'), { force: true });
if (!found(cc)) {
  process.stderr.write(
    `@hvspec/el2: ${cc} not found, the EL2 runtime is not built; ` +
      'install it with `apt-get update && apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu` ' +
      '(packages/el2/scripts/install-tools.sh) and run `npm run build` again\n',
  );
  process.exit(0);
}
mkdirSync(join(out, 'gen'), { recursive: true });
writeFileSync(join(out, 'gen', 'abi.h'), abiHeader());
writeFileSync(join(out, 'gen', 'sysregs.h'), sysRegHeader(sysRegTable()));
const flags = [
  '-O2',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-ffreestanding',
  '-fno-builtin',
  '-fno-tree-loop-distribute-patterns',
  '-fno-stack-protector',
  '-fno-pic',
  // The runtime runs with the MMU off (Device memory: no unaligned accesses) and must not touch
  // FP/SIMD registers, which hold the guest's state between a trap and its exit.
  '-mstrict-align',
  '-mgeneral-regs-only',
  '-nostdlib',
  '-nostartfiles',
  '-static',
  '-Wl,--build-id=none',
  '-Wl,--no-warn-rwx-segments',
  `-I${out}`,
  `-T${join(src, 'el2.ld')}`,
];
execFileSync(cc, [...flags, '-o', join(out, 'el2.elf'), join(src, 'start.S'), join(src, 'el2.c')], {
  stdio: 'inherit',
});
if (!existsSync(join(out, 'el2.elf'))) process.exit(1);
