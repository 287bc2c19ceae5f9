/**
 * Writes every file the packages derive from the spec's registry (ARCHITECTURE.md, "Derived from the
 * registry"): the backend method interfaces and argument checks (`packages/spec/src/generated/`), the C
 * headers (`packages/native/include/Hypervisor/`), the addon's argument table and the provider's VMCS
 * field list (`packages/native/addon/generated/`) and the native wrapper's methods (`packages/native/src/generated/`).
 * The packages' build scripts run it first (the native addon's install script too), so the files are
 * never committed and never stale.
 *
 *   node --import tsx scripts/generate.ts            write what changed
 *   node --import tsx scripts/generate.ts --check    write nothing; exit 1 naming each file that would change
 *   ... [--only spec|native|capi]                    one package's files
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { capiSources } from '../packages/capi/scripts/codegen.ts';
import { addonCallsSource, vmcsFieldsSource, wrapperSource } from '../packages/native/scripts/codegen.ts';
import { cHeaders } from '../packages/spec/src/codegen/c-headers.ts';
import { argChecksSource, backendMethodsSource } from '../packages/spec/src/codegen/typescript.ts';

const root = join(import.meta.dirname, '..');

/** Generated file (relative to the repository) → its source text. */
export const GENERATED: Record<string, Record<string, () => string>> = {
  spec: {
    'packages/spec/src/generated/backend-methods.ts': backendMethodsSource,
    'packages/spec/src/generated/arg-checks.ts': argChecksSource,
  },
  native: {
    ...Object.fromEntries(
      Object.entries(cHeaders()).map(([file, text]) => [
        `packages/native/include/Hypervisor/${file}`,
        () => text,
      ]),
    ),
    'packages/native/addon/generated/calls_x86_64.inc': () => addonCallsSource('x86_64'),
    'packages/native/addon/generated/calls_arm64.inc': () => addonCallsSource('arm64'),
    'packages/native/addon/generated/vmcs_fields.inc': vmcsFieldsSource,
    'packages/native/src/generated/calls.ts': wrapperSource,
  },
  capi: Object.fromEntries(
    Object.entries(capiSources()).map(([file, text]) => [`packages/capi/dist/generated/${file}`, () => text]),
  ),
};

const args = process.argv.slice(2);
const check = args.includes('--check');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
let stale = 0;
for (const [pkg, files] of Object.entries(GENERATED)) {
  if (only && only !== pkg) continue;
  for (const [file, make] of Object.entries(files)) {
    const path = join(root, file);
    const want = make();
    let have: string | undefined;
    try {
      have = readFileSync(path, 'utf8');
    } catch {
      have = undefined;
    }
    if (have === want) continue;
    stale++;
    if (check) console.error(`stale: ${file} (run: npm run generate)`);
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, want);
      console.log(`wrote ${relative(root, path)}`);
    }
  }
}
if (check && stale) process.exit(1);
