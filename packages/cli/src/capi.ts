/**
 * `hvspec cflags`, `hvspec libs` and `hvspec lint`: building a C VMM against hvspec's headers and
 * libraries, and judging what it recorded (packages/capi: the libraries, the flags, the linter).
 * @module
 */
import type { Command } from 'commander';
import { EXIT_USAGE, messageOf, withExitCodes } from './common.js';

// Held in a variable: the C libraries' package is not a build dependency of the CLI (as the backends).
const CAPI_PACKAGE: string = '@hvspec/capi';

interface CapiModule {
  cflags(options: { arch?: string }): string;
  libs(options: { backend: string; arch?: string }): string;
  FlagsError: new (...args: never[]) => Error;
  runLintCli(argv: readonly string[]): Promise<number>;
}

async function load(what: string): Promise<CapiModule | undefined> {
  try {
    return (await import(CAPI_PACKAGE)) as CapiModule;
  } catch (e) {
    process.stderr.write(
      `hvspec ${what}: ${CAPI_PACKAGE} does not load (${messageOf(e)}); run \`npm run build\`\n`,
    );
    return undefined;
  }
}

/** Prints flags; a bad --arch or --backend is one line and exit 2. */
async function printFlags(what: string, make: (m: CapiModule) => string): Promise<number> {
  const m = await load(what);
  if (!m) return EXIT_USAGE;
  try {
    process.stdout.write(`${make(m)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof m.FlagsError) {
      process.stderr.write(`hvspec ${what}: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

/** Registers `cflags`, `libs` and `lint` on the program. */
export function registerCapi(program: Command): void {
  const cflags = program
    .command('cflags')
    .description("compiler flags for a C VMM written against Apple's <Hypervisor/Hypervisor.h>")
    .option('--arch <arch>', 'the API flavour to build for: x86_64 or arm64 (default: the target)')
    .addHelpText('after', '\nExample:\n  cc vmm.c $(npx hvspec cflags) $(npx hvspec libs --backend model)');
  withExitCodes(cflags).action(async (o: { arch?: string }) => {
    process.exitCode = await printFlags('cflags', (m) =>
      m.cflags(o.arch === undefined ? {} : { arch: o.arch }),
    );
  });

  const libs = program
    .command('libs')
    .description(
      'linker flags for a C VMM: libhvspec-model (the model, both flavours) or libhvspec-kvm (x86 on KVM)',
    )
    .requiredOption('--backend <backend>', 'model or kvm')
    .option('--arch <arch>', 'x86_64 or arm64 (default: the host; kvm is x86_64 only)');
  withExitCodes(libs).action(async (o: { backend: string; arch?: string }) => {
    process.exitCode = await printFlags('libs', (m) =>
      m.libs(o.arch === undefined ? { backend: o.backend } : { backend: o.backend, arch: o.arch }),
    );
  });

  const lint = program
    .command('lint')
    .description('judge recorded traces (HVSPEC_TRACE=FILE) call by call against the spec')
    .argument('<file...>', 'trace files')
    .option('--json', 'print the findings as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 clean (warnings allowed), 1 errors found, 2 unreadable input or usage error.\n\nExample:\n  HVSPEC_TRACE=t.json ./vmm && npx hvspec lint t.json',
    );
  lint.action(async (files: string[], o: { json?: boolean }) => {
    const m = await load('lint');
    process.exitCode = m ? await m.runLintCli([...(o.json ? ['--json'] : []), ...files]) : EXIT_USAGE;
  });
}
