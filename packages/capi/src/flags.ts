/**
 * `hvspec cflags` and `hvspec libs`: what to add to a C compiler's command line so that a VMM written
 * against Apple's headers builds against hvspec:
 *
 *   cc vmm.c $(npx hvspec cflags) $(npx hvspec libs --backend model)
 *
 * The headers are the ones generated from the registry (packages/native/include/Hypervisor); the flavour
 * is the target's unless `--arch` names one (`-DHVSPEC_API_ARM64` builds an arm64 VMM on an x86_64
 * host against the model). The libraries are built by this package's build into dist/lib, and the
 * VMM finds them at run time through an rpath.
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arch } from '@hvspec/spec';

/**
 * The library a VMM links against: `model` (libhvspec-model-<flavour>.so: the calls go to the TypeScript
 * model in a server process; either flavour) or `kvm` (libhvspec-kvm.so: hvspec's KVM provider, x86_64 only).
 */
export type CBackend = 'model' | 'kvm';

/** Options of {@link cflags} (`hvspec cflags [--arch A]`). */
export interface FlagOptions {
  /** The API flavour; default the host's. */
  readonly arch?: Arch;
}

/** Options of {@link libs} (`hvspec libs --backend B [--arch A]`). */
export interface LibOptions extends FlagOptions {
  /** Which library to link; required (FlagsError for anything but `model` or `kvm`). */
  readonly backend: CBackend;
}

/** A usage or environment problem: the message says what and how to fix it (the CLI exits 2). */
export class FlagsError extends Error {
  override readonly name = 'FlagsError';
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The built libraries (packages/capi/dist/lib), from the built module and from its source alike.
 * `HVSPEC_CAPI_LIB_DIR` names another build of them (scripts/sanitize.sh: its ASan+UBSan build).
 */
export function libraryDir(): string {
  return process.env.HVSPEC_CAPI_LIB_DIR || resolve(here, '..', 'dist', 'lib');
}

/** The directory that holds `Hypervisor/Hypervisor.h`. */
export function includeDir(): string {
  const entry = createRequire(import.meta.url).resolve('@hvspec/native');
  return resolve(dirname(entry), '..', 'include');
}

/** The host's flavour. */
export function hostArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

function checkArch(arch: unknown): Arch {
  if (arch === undefined) return hostArch();
  if (arch !== 'x86_64' && arch !== 'arm64')
    throw new FlagsError(`--arch must be x86_64 or arm64, got ${JSON.stringify(arch)}`);
  return arch;
}

const define = (arch: Arch): string => (arch === 'arm64' ? '-DHVSPEC_API_ARM64' : '-DHVSPEC_API_X86_64');

const quote = (path: string): string =>
  /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;

/** Compiler flags: the include directory, and the flavour when `arch` is given. */
export function cflags(options: FlagOptions = {}): string {
  const dir = includeDir();
  if (!existsSync(join(dir, 'Hypervisor', 'Hypervisor.h')))
    throw new FlagsError(`${dir}/Hypervisor/Hypervisor.h is missing: build first (npm run build)`);
  const flags = [`-I${quote(dir)}`];
  if (options.arch !== undefined) flags.push(define(checkArch(options.arch)));
  return flags.join(' ');
}

/** The library file of a backend and flavour. */
export function libraryFile(backend: CBackend, arch: Arch): string {
  return join(libraryDir(), backend === 'kvm' ? 'libhvspec-kvm.so' : `libhvspec-model-${arch}.so`);
}

/**
 * Linker flags for a backend (and the flavour's define when `arch` is given, so that a one-step
 * `cc vmm.c ... libs --arch arm64` compiles the arm64 API too): `-L`, `-l` and an rpath.
 */
export function libs(options: LibOptions): string {
  const backend = options.backend as unknown;
  if (backend !== 'model' && backend !== 'kvm')
    throw new FlagsError(`--backend must be model or kvm, got ${JSON.stringify(backend)}`);
  const arch = checkArch(options.arch);
  if (backend === 'kvm' && arch !== 'x86_64')
    throw new FlagsError('the KVM backend implements the x86_64 API only (use --backend model for arm64)');
  if (process.platform !== 'linux')
    throw new FlagsError('the libraries are built on Linux; on macOS link -framework Hypervisor');
  const file = libraryFile(backend, arch);
  if (!existsSync(file)) throw new FlagsError(`${file} is missing: build first (npm run build)`);
  const dir = quote(libraryDir());
  const name = backend === 'kvm' ? 'hvspec-kvm' : `hvspec-model-${arch}`;
  const flags = [`-L${dir}`, `-l${name}`, `-Wl,-rpath,${dir}`];
  if (options.arch !== undefined) flags.unshift(define(arch));
  return flags.join(' ');
}
