/**
 * Loading the compiled addon (`build/Release/hvspec_native.node`) and the shape of what it exports.
 * The addon's functions take the logical thread first and return the `hv_return_t` as an unsigned
 * number; out-values are left in the shared `out` words, exits in the shared exit record.
 * @module
 */
import { createRequire } from 'node:module';
import type { Arch } from '@hvspec/spec';
import type { Arm64AddonCalls, X86AddonCalls } from './generated/calls.js';

/** What `probe()` reports about this host (platform_linux.cc / platform_macos.cc). */
export interface AddonProbe {
  readonly available: boolean;
  readonly reason: string;
  readonly fix: string;
  readonly backend: string;
  readonly arch: Arch;
  readonly pageSize: number;
  /** Bit i set = memory flag set i (0..7) is enforced exactly. */
  readonly enforcedPermissionsMask: number;
  readonly deviations: readonly {
    id: string;
    description: string;
    permissionsMask: number;
    /** Basic exit reasons the backend never reports (the provider declares them). */
    exitReasons: readonly number[];
  }[];
}

type Ret = number;

/**
 * The addon's test-only fault injection (addon/faults.h): among the calls of kind `site` from now on,
 * the `nth` (1-based) fails with `errno` (0: the usual one); nth 0 only counts. Returns how many
 * matching calls the previous rule counted; `sites.none` disarms.
 */
export interface AddonTesting {
  inject_fault(site: number, nth: number, errno: number): number;
  readonly sites: {
    readonly none: number;
    readonly any: number;
    readonly thread: number;
    readonly alloc: number;
    readonly mmap: number;
    readonly tsfn: number;
    readonly tsfn_call: number;
  };
  /** What the addon holds: OS threads of logical threads, vCPUs, exit-record slots, host buffers, the VM. */
  counts(): { threads: number; vcpus: number; slots: number; buffers: number; vm: boolean };
  /** Linux: the KVM provider's hvkvm_inject_fault (`request` 0: any ioctl). */
  inject_provider_fault?(site: number, request: number, nth: number, errno: number): number;
  readonly provider_sites?: {
    readonly none: number;
    readonly any: number;
    readonly open: number;
    readonly mmap: number;
    readonly ioctl: number;
    readonly alloc: number;
  };
  readonly kvm?: Readonly<Record<string, number>>;
}

/** The raw addon: what every flavour exports. */
export interface NativeAddon {
  readonly arch: Arch;
  /**
   * The shared exit record: 256 slots of `slotWords` u64 words, of which the first `slotAddonWords`
   * are the addon's and the rest the wrapper's, then the shared run call (see addon/core.h).
   */
  readonly records: ArrayBuffer;
  readonly slotAddonWords: number;
  /** Out-values of the last synchronous call. */
  readonly out: ArrayBuffer;
  readonly slotWords: number;
  probe(): AddonProbe;
  reset(): void;
  /** Returns [id, rounded size]. */
  host_alloc(size: number): [number, number];
  /** The largest host buffer the addon allocates (HOST_ALLOC_MAX of `@hvspec/spec`). */
  readonly host_alloc_max: number;
  /** Test-only hooks: fault injection in the addon and (Linux) in the KVM provider. */
  readonly testing: AddonTesting;
  host_write(id: number, offset: number, bytes: Uint8Array): void;
  host_read(id: number, offset: number, size: number): Uint8Array;
  /** `hv_vcpu_run` on logical thread `t` > 0; the Promise settles with its `hv_return_t`. */
  hv_vcpu_run_async(t: number, vcpu: number): Promise<number>;
  /** The bench's C baseline exit loop: out[0] exits of the benchmarked kind, out[1] nanoseconds. */
  baseline_exit_loop(t: number, vcpu: number, iterations: number): Ret;
}

/** The x86 flavour of the addon: its `hv_*` functions are generated from the registry (addon/hv_x86_calls.cc). */
export interface X86Addon extends NativeAddon, X86AddonCalls {
  /** The u64 word of `records` that is the shared run call: the vCPU, then the `hv_return_t`, as u32 halves. */
  readonly runCallWord: number;
  /** `hv_vcpu_run` on thread 0 with its vCPU and result in the shared run call (the exit path: no N-API argument or result). */
  run_shared(): void;
}

/** The arm64 flavour of the addon (addon/hv_arm64_calls.cc). */
export interface Arm64Addon extends NativeAddon, Arm64AddonCalls {
  /** Whether the macOS 26 IPA-granule functions exist on this host. */
  readonly ipaGranuleAvailable: boolean;
  /** The bytes the last call returned (hv_gic_state_get_data), taken once. */
  take_bytes(): Uint8Array;
}

/** The addon, or why it could not be loaded. */
export type AddonLoad =
  | { readonly ok: true; readonly addon: NativeAddon }
  | { readonly ok: false; readonly error: string };

let cached: AddonLoad | undefined;

/** Loads the addon once per process. Never throws. */
export function loadAddon(): AddonLoad {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    cached = {
      ok: false,
      error: `no hv_* provider for platform ${process.platform} (Linux KVM and macOS only)`,
    };
    return cached;
  }
  try {
    // src/ and dist/ are both one level below the package root, next to build/. HVSPEC_NATIVE_ADDON
    // names another build of the same sources (scripts/sanitize.sh loads its ASan+UBSan build so).
    const require = createRequire(import.meta.url);
    const path = process.env.HVSPEC_NATIVE_ADDON || '../build/Release/hvspec_native.node';
    const raw = require(path) as NativeAddon;
    // The module's exports object gets its ~35 properties one by one from C (exports.Set), which
    // leaves it in V8's dictionary mode: every `addon.hv_*` load was then a hash lookup through the
    // generic LoadIC, on every call. A copy made by spread has fast properties, so optimised code
    // inlines the loads (measured: packages/bench native.x86.exit.js). The values are the same
    // functions and buffers; nothing reads the exports object itself again.
    cached = { ok: true, addon: { ...raw } };
  } catch (e) {
    cached = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  return cached;
}
