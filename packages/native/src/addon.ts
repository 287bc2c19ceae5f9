/**
 * Loading the compiled addon (`build/Release/hvspec_native.node`) and the shape of what it exports.
 * The addon's functions take the logical thread first and return the `hv_return_t` as an unsigned
 * number; out-values are left in the shared `out` words, exits in the shared exit record.
 * @module
 */
import { createRequire } from 'node:module';
import type { Arch } from '@hvspec/spec';

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
  readonly deviations: readonly { id: string; description: string; permissionsMask: number }[];
}

type Ret = number;
type Id = number;

/** The raw addon: what every flavour exports. */
export interface NativeAddon {
  readonly arch: Arch;
  /** The shared exit record: 256 slots of `slotWords` u64 words (see addon/core.h). */
  readonly records: ArrayBuffer;
  /** Out-values of the last synchronous call. */
  readonly out: ArrayBuffer;
  readonly slotWords: number;
  probe(): AddonProbe;
  reset(): void;
  /** Returns [id, rounded size]. */
  host_alloc(size: number): [number, number];
  host_write(id: number, offset: number, bytes: Uint8Array): void;
  host_read(id: number, offset: number, size: number): Uint8Array;
  hv_vcpu_run_async(t: number, vcpu: number): Promise<number>;
  /** The bench's C baseline exit loop: out[0] exits of the benchmarked kind, out[1] nanoseconds. */
  baseline_exit_loop(t: number, vcpu: number, iterations: number): Ret;
}

/** The x86 flavour's hv_* functions (addon/hv_x86_calls.cc); `uva` is passed as buffer id + offset. */
export interface X86Addon extends NativeAddon {
  hv_capability(t: number, capability: number): Ret;
  hv_vm_create(t: number, flags: bigint): Ret;
  hv_vm_destroy(t: number): Ret;
  hv_vm_space_create(t: number): Ret;
  hv_vm_space_destroy(t: number, asid: number): Ret;
  hv_vm_map(t: number, mem: Id, offset: number, gpa: bigint, size: bigint, flags: number): Ret;
  hv_vm_unmap(t: number, gpa: bigint, size: bigint): Ret;
  hv_vm_protect(t: number, gpa: bigint, size: bigint, flags: number): Ret;
  hv_vm_map_space(
    t: number,
    asid: number,
    mem: Id,
    offset: number,
    gpa: bigint,
    size: bigint,
    flags: number,
  ): Ret;
  hv_vm_unmap_space(t: number, asid: number, gpa: bigint, size: bigint): Ret;
  hv_vm_protect_space(t: number, asid: number, gpa: bigint, size: bigint, flags: number): Ret;
  hv_vcpu_create(t: number, flags: bigint): Ret;
  hv_vcpu_destroy(t: number, vcpu: number): Ret;
  hv_vcpu_set_space(t: number, vcpu: number, asid: number): Ret;
  hv_vcpu_read_register(t: number, vcpu: number, reg: number): Ret;
  hv_vcpu_write_register(t: number, vcpu: number, reg: number, value: bigint): Ret;
  hv_vmx_read_capability(t: number, field: number): Ret;
  hv_vmx_vcpu_read_vmcs(t: number, vcpu: number, field: number): Ret;
  hv_vmx_vcpu_write_vmcs(t: number, vcpu: number, field: number, value: bigint): Ret;
  hv_vcpu_run(t: number, vcpu: number): Ret;
  hv_vcpu_run_until(t: number, vcpu: number, deadline: bigint): Ret;
  hv_vcpu_interrupt(t: number, vcpus: readonly number[], vcpu_count: number): Ret;
}

/** The arm64 flavour's hv_* functions (addon/hv_arm64_calls.cc). */
export interface Arm64Addon extends NativeAddon {
  /** Whether the macOS 26 IPA-granule functions exist on this host. */
  readonly ipaGranuleAvailable: boolean;
  hv_vm_get_max_vcpu_count(t: number): Ret;
  hv_vm_config_get_max_ipa_size(t: number): Ret;
  hv_vm_config_get_default_ipa_size(t: number): Ret;
  hv_vm_config_create(t: number): Ret;
  hv_vm_config_set_ipa_size(t: number, config: number, bits: number): Ret;
  hv_vm_config_get_ipa_size(t: number, config: number): Ret;
  hv_vm_config_set_ipa_granule(t: number, config: number, granule: number): Ret;
  hv_vm_config_get_ipa_granule(t: number, config: number): Ret;
  hv_vm_create(t: number, config: number | null): Ret;
  hv_vm_destroy(t: number): Ret;
  hv_vm_map(t: number, mem: Id, offset: number, ipa: bigint, size: bigint, flags: number): Ret;
  hv_vm_unmap(t: number, ipa: bigint, size: bigint): Ret;
  hv_vm_protect(t: number, ipa: bigint, size: bigint, flags: number): Ret;
  hv_vcpu_create(t: number): Ret;
  hv_vcpu_destroy(t: number, vcpu: number): Ret;
  hv_vcpu_get_reg(t: number, vcpu: number, reg: number): Ret;
  hv_vcpu_set_reg(t: number, vcpu: number, reg: number, value: bigint): Ret;
  hv_vcpu_get_simd_fp_reg(t: number, vcpu: number, reg: number): Ret;
  hv_vcpu_set_simd_fp_reg(t: number, vcpu: number, reg: number, low: bigint, high: bigint): Ret;
  hv_vcpu_get_sys_reg(t: number, vcpu: number, reg: number): Ret;
  hv_vcpu_set_sys_reg(t: number, vcpu: number, reg: number, value: bigint): Ret;
  hv_vcpu_get_pending_interrupt(t: number, vcpu: number, type: number): Ret;
  hv_vcpu_set_pending_interrupt(t: number, vcpu: number, type: number, pending: boolean): Ret;
  hv_vcpu_get_vtimer_mask(t: number, vcpu: number): Ret;
  hv_vcpu_set_vtimer_mask(t: number, vcpu: number, masked: boolean): Ret;
  hv_vcpu_get_vtimer_offset(t: number, vcpu: number): Ret;
  hv_vcpu_set_vtimer_offset(t: number, vcpu: number, offset: bigint): Ret;
  hv_vcpu_get_trap_debug_exceptions(t: number, vcpu: number): Ret;
  hv_vcpu_set_trap_debug_exceptions(t: number, vcpu: number, value: boolean): Ret;
  hv_vcpu_get_trap_debug_reg_accesses(t: number, vcpu: number): Ret;
  hv_vcpu_set_trap_debug_reg_accesses(t: number, vcpu: number, value: boolean): Ret;
  hv_vcpu_run(t: number, vcpu: number): Ret;
  hv_vcpus_exit(t: number, vcpus: readonly number[], vcpu_count: number): Ret;
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
    // src/ and dist/ are both one level below the package root, next to build/.
    const require = createRequire(import.meta.url);
    const raw = require('../build/Release/hvspec_native.node') as NativeAddon;
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
