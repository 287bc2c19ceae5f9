/**
 * Opening a backend by name. All are loaded lazily, so that `hvspec replay --backend model` works
 * where the native addon was never built, and a missing or unusable native backend becomes an
 * environment error (exit code 2) that says why instead of a stack trace.
 * @module
 */
import type { Arch, Backend } from '@hvspec/spec';
import { EXIT_USAGE, UsageError } from './common.js';
import { hostFix } from './host.js';

/** The backends the CLI knows. */
export type BackendName = 'model' | 'native' | 'el2';
export const BACKEND_NAMES: readonly BackendName[] = ['model', 'native', 'el2'];

/** No backend of that name can run here; the message says why and how to fix it. */
export class BackendUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailable';
  }
}

interface ModelModule {
  createModel?: (arch: Arch, options?: Record<string, unknown>) => Backend | Promise<Backend>;
}

/** Options for opening a backend. */
export interface OpenOptions {
  /** Options for the model (e.g. small limits so that the limit rules are reachable in a check). */
  readonly model?: Record<string, unknown>;
}
interface NativeModule {
  createNativeBackend?: (arch: Arch) => Backend | Promise<Backend>;
  nativeAvailability?: () => { available: boolean; arch?: Arch; reason?: string; fix?: string };
}
interface El2Module {
  createEl2Backend?: () => Backend;
}

// Specifiers held in variables: the packages are optional at build time (the native addon may not be
// built at all), and TypeScript must not try to resolve them.
const MODEL_PACKAGE: string = '@hvspec/model';
const NATIVE_PACKAGE: string = '@hvspec/native';
const EL2_PACKAGE: string = '@hvspec/el2';

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function load<T>(specifier: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (e) {
    throw new BackendUnavailable(
      `${what}: cannot load ${specifier} (${why(e)}); build it with \`npm run build\``,
    );
  }
}

/** Opens the named backend for `arch`, or throws {@link BackendUnavailable}. */
export async function openBackend(
  name: BackendName,
  arch: Arch,
  options: OpenOptions = {},
): Promise<Backend> {
  let backend: Backend;
  if (name === 'model') {
    const mod = await load<ModelModule>(MODEL_PACKAGE, 'the model backend is not available');
    if (typeof mod.createModel !== 'function') {
      throw new BackendUnavailable(
        `the model backend is not available: ${MODEL_PACKAGE} does not export createModel`,
      );
    }
    backend = await mod.createModel(arch, options.model);
  } else if (name === 'native') {
    const mod = await load<NativeModule>(NATIVE_PACKAGE, 'the native backend is not available');
    if (typeof mod.createNativeBackend !== 'function') {
      throw new BackendUnavailable(
        `the native backend is not available: ${NATIVE_PACKAGE} does not export createNativeBackend`,
      );
    }
    try {
      backend = await mod.createNativeBackend(arch);
    } catch (e) {
      throw new BackendUnavailable(`the native ${arch} backend is not available here: ${why(e)}`);
    }
  } else if (name === 'el2') {
    // arm64 guests under hvspec's EL2 runtime in QEMU (packages/el2); QEMU starts at the first call.
    if (arch !== 'arm64') throw new BackendUnavailable('the el2 backend is arm64 only');
    const mod = await load<El2Module>(EL2_PACKAGE, 'the el2 backend is not available');
    if (typeof mod.createEl2Backend !== 'function') {
      throw new BackendUnavailable(
        `the el2 backend is not available: ${EL2_PACKAGE} does not export createEl2Backend`,
      );
    }
    try {
      backend = mod.createEl2Backend();
    } catch (e) {
      throw new BackendUnavailable(`the el2 backend is not available here: ${why(e)}`);
    }
  } else {
    throw new BackendUnavailable(
      `unknown backend ${JSON.stringify(name)} (expected ${BACKEND_NAMES.join(' or ')})`,
    );
  }
  if (backend.capabilities.arch !== arch) {
    throw new BackendUnavailable(
      `the ${name} backend opened for ${arch} reports ${backend.capabilities.arch}`,
    );
  }
  return backend;
}

/**
 * The architectures the named backend can run on this host: the model runs both; the native backend
 * runs the host's own flavour of the hv_* API (x86_64 over /dev/kvm on Linux, the Mac's own on macOS).
 * Throws {@link BackendUnavailable}, saying why and how to fix it, when it cannot run here at all.
 */
export async function hostArchs(name: BackendName): Promise<Arch[]> {
  if (name === 'el2') return ['arm64'];
  if (name !== 'native') return ['x86_64', 'arm64'];
  const mod = await load<NativeModule>(NATIVE_PACKAGE, 'the native backend is not available');
  const a = mod.nativeAvailability?.();
  if (!a?.available || !a.arch) {
    const advice = hostFix(a?.fix);
    const fix = advice ? `; fix: ${advice}` : '';
    throw new BackendUnavailable(
      `the native backend is not available here: ${a?.reason ?? 'unknown reason'}${fix} (see hvspec doctor)`,
    );
  }
  return [a.arch];
}

/**
 * What a command does with an error that ends it: a usage error or a backend that cannot run here is
 * reported as `hvspec <command>: …` with exit code 2; anything else is a bug and propagates.
 */
export function reportUsageFailure(command: string, e: unknown): void {
  if (!(e instanceof UsageError || e instanceof BackendUnavailable)) throw e;
  process.stderr.write(`hvspec ${command}: ${e.message}\n`);
  process.exitCode = EXIT_USAGE;
}
