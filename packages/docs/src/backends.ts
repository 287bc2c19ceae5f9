/**
 * What each backend declares about itself, as it declares it when it loads on the machine that builds
 * the site: the model's capabilities (both flavours); the native backend's (its deviations are the ones
 * the KVM provider or the framework computes when it starts); the el2 backend's (arm64 under QEMU).
 * A backend that does not load here is listed with the reason and how to get it, never with facts
 * gathered some other way.
 * @module
 */
import { createModel } from '@hvspec/model';
import type { Arch, CallSpec, Capabilities, Deviation } from '@hvspec/spec';

/** One backend as the reference describes it. */
export interface BackendInfo {
  /** `model`, `native-kvm`, `native-hvf`, `el2`; `native` while the addon does not load. */
  readonly backend: string;
  /** The flavour it implements; undefined for a native backend that did not load (the host decides). */
  readonly arch?: Arch;
  /** What the backend is, in a line. */
  readonly what: string;
  /** Where the facts come from, in words. */
  readonly source: string;
  /** The full capabilities, when the backend was instantiated here. */
  readonly capabilities?: Capabilities;
  /** The declared deviations; empty when the backend did not load (see `unavailable`). */
  readonly deviations: readonly Deviation[];
  /** Why the backend could not be instantiated here, when it could not. */
  readonly unavailable?: string;
  /** How to make it available, when it is not. */
  readonly fix?: string;
}

/**
 * Whether a deviation touches a function, from what the deviation declares: it names the function; it
 * concerns permission sets (the mapping calls and the run calls); it rules out exit reasons or speaks of
 * exits or guests (the run calls); it speaks of the VMCS, its controls or fields (the VMCS calls); it
 * speaks of the counter or the timer (the vtimer calls).
 */
export function deviationTouches(d: Deviation, spec: CallSpec): boolean {
  const text = d.description;
  if (d.calls?.includes(spec.name)) return true;
  if (new RegExp(`\\b${spec.name}\\b`).test(text)) return true;
  const takesFlags = spec.params.some((p) => p.dir === 'in' && p.type.kind === 'flags');
  if (d.permissions && d.permissions.length > 0 && (takesFlags || spec.runsGuest)) return true;
  if (spec.runsGuest && ((d.exitReasons?.length ?? 0) > 0 || /\bexits?\b|\bguests?\b/i.test(text)))
    return true;
  if (/\bVMCS|\bcontrols?\b|\bfields?\b/.test(text) && /vmcs/.test(spec.name)) return true;
  if (/\bcounter\b|\btimer\b/i.test(text) && /vtimer/.test(spec.name)) return true;
  return false;
}

/** What {@link describeBackends} needs of `@hvspec/native` (replaceable in tests). */
export type NativeModule = Pick<
  typeof import('@hvspec/native'),
  'nativeAvailability' | 'createNativeBackend'
>;

/** What {@link describeBackends} needs of `@hvspec/el2` (replaceable in tests). */
export interface El2Module {
  /** Whether QEMU and the EL2 runtime are here (does not start QEMU); if not, why and how to fix it. */
  el2Availability(): { available: boolean; reason?: string; fix?: string; qemuVersion?: string };
  /** Does not start QEMU: the machine starts at the first call that needs it. */
  createEl2Backend(): {
    readonly capabilities: Capabilities;
    /** Releases the backend (and hands its machine on, had one started). */
    close(): Promise<void>;
  };
  /** The apt-get command that installs what el2 needs. */
  readonly EL2_INSTALL_COMMAND?: string;
}

/** How the backends are loaded (the defaults import the workspace packages). */
export interface BackendLoaders {
  /** Loads `@hvspec/native` (a rejection stands for an addon that is not built). */
  readonly native?: () => Promise<NativeModule>;
  /** Loads `@hvspec/el2` (a rejection stands for a package that is not built). */
  readonly el2?: () => Promise<El2Module>;
}

// Names in variables, so that a package that is not built is a load failure at run time, not a build error.
const NATIVE_PACKAGE: string = '@hvspec/native';
const EL2_PACKAGE: string = '@hvspec/el2';

const NATIVE_WHAT =
  'The hv_* C API through the Node addon: Hypervisor.framework on macOS (native-hvf), the KVM provider on Linux (native-kvm, x86_64)';
const EL2_WHAT =
  "Arm64 guests on QEMU's implementation of the Arm architecture (TCG), under hvspec's own EL2 hypervisor: the project's arm64 oracle without a Mac";
const BUILT_HERE = 'the capabilities it declared on the machine that built this site';

/** How one loadable backend (native or el2) is asked about itself. */
interface Probe<M> {
  readonly pkg: string;
  /** The backend's name while it cannot be instantiated. */
  readonly name: string;
  readonly arch?: Arch;
  readonly what: string;
  readonly availability: (mod: M) => {
    available: boolean;
    reason?: string;
    fix?: string;
    qemuVersion?: string;
  };
  readonly create: (mod: M) => { readonly capabilities: Capabilities; close(): Promise<void> };
  /** The fix when the availability names none. */
  readonly defaultFix?: (mod: M) => string | undefined;
}

async function loadedBackend<M>(load: () => Promise<M>, probe: Probe<M>): Promise<BackendInfo> {
  let why: string;
  let fix: string | undefined;
  try {
    const mod = await load();
    const avail = probe.availability(mod);
    if (avail.available) {
      const b = probe.create(mod);
      try {
        return {
          backend: b.capabilities.backend,
          arch: b.capabilities.arch,
          what: `${probe.what}${avail.qemuVersion ? ` (${avail.qemuVersion})` : ''}`,
          source: BUILT_HERE,
          capabilities: b.capabilities,
          deviations: b.capabilities.deviations,
        };
      } finally {
        await b.close();
      }
    }
    why = avail.reason ?? 'unavailable';
    fix = avail.fix ?? probe.defaultFix?.(mod);
  } catch (e) {
    why = `${probe.pkg} does not load: ${(e as Error).message}`;
  }
  return {
    backend: probe.name,
    ...(probe.arch ? { arch: probe.arch } : {}),
    what: probe.what,
    source: 'nothing: it did not load on the machine that built this site',
    deviations: [],
    unavailable: why,
    ...(fix ? { fix } : {}),
  };
}

const NATIVE_PROBE: Probe<NativeModule> = {
  pkg: NATIVE_PACKAGE,
  name: 'native',
  what: NATIVE_WHAT,
  availability: (mod) => mod.nativeAvailability(),
  create: (mod) => mod.createNativeBackend(),
};

const EL2_PROBE: Probe<El2Module> = {
  pkg: EL2_PACKAGE,
  name: 'el2',
  arch: 'arm64',
  what: EL2_WHAT,
  availability: (mod) => mod.el2Availability(),
  create: (mod) => mod.createEl2Backend(),
  defaultFix: (mod) => mod.EL2_INSTALL_COMMAND,
};

/**
 * Every backend the reference describes: the model (both flavours), the native backend and el2. Never
 * throws for a backend that cannot load: it says why and how to fix it.
 */
export async function describeBackends(loaders: BackendLoaders = {}): Promise<BackendInfo[]> {
  const out: BackendInfo[] = [];
  for (const arch of ['x86_64', 'arm64'] as const) {
    const m = createModel(arch);
    out.push({
      backend: m.capabilities.backend,
      arch,
      what: 'The pure TypeScript model of the framework, with x86 and arm64 interpreters for guest code',
      source: 'the capabilities of @hvspec/model',
      capabilities: m.capabilities,
      deviations: m.capabilities.deviations,
    });
    await m.close();
  }
  out.push(
    await loadedBackend(
      loaders.native ?? (() => import(NATIVE_PACKAGE) as Promise<NativeModule>),
      NATIVE_PROBE,
    ),
  );
  out.push(await loadedBackend(loaders.el2 ?? (() => import(EL2_PACKAGE) as Promise<El2Module>), EL2_PROBE));
  return out;
}
