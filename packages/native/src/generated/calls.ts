// GENERATED FILE — do not edit. The native backend's hv_* methods and the addon's method types, from the registry.
// Regenerate with `npm run generate` (packages/native/scripts/codegen.ts); a test fails when this file is stale.
/**
 * The native backend's `hv_*` methods and the addon's method types, one per registry entry.
 * @module
 */
import {
  type AddressSpace,
  ARM64_ARG_CHECKS,
  type Arm64Exit,
  type Result,
  type ThreadId,
  type Uva,
  type Vcpu,
  type VmConfig,
  X86_ARG_CHECKS,
} from '@hvspec/spec';
import type { NativeAddon } from '../addon.js';
import { NativeBase } from '../base.js';

const MASK64 = (1n << 64n) - 1n;

/** The x86_64 addon's `hv_*` functions: logical thread first, the `hv_return_t` as an unsigned number. */
export interface X86AddonCalls {
  hv_capability(t: number, capability: number): number;
  hv_vm_create(t: number, flags: bigint): number;
  hv_vm_destroy(t: number): number;
  hv_vm_space_create(t: number): number;
  hv_vm_space_destroy(t: number, asid: number): number;
  hv_vm_map(t: number, uva_mem: number, uva_offset: number, gpa: bigint, size: bigint, flags: number): number;
  hv_vm_unmap(t: number, gpa: bigint, size: bigint): number;
  hv_vm_protect(t: number, gpa: bigint, size: bigint, flags: number): number;
  hv_vm_map_space(
    t: number,
    asid: number,
    uva_mem: number,
    uva_offset: number,
    gpa: bigint,
    size: bigint,
    flags: number,
  ): number;
  hv_vm_unmap_space(t: number, asid: number, gpa: bigint, size: bigint): number;
  hv_vm_protect_space(t: number, asid: number, gpa: bigint, size: bigint, flags: number): number;
  hv_vcpu_create(t: number, flags: bigint): number;
  hv_vcpu_destroy(t: number, vcpu: number): number;
  hv_vcpu_set_space(t: number, vcpu: number, asid: number): number;
  hv_vcpu_read_register(t: number, vcpu: number, reg: number): number;
  hv_vcpu_write_register(t: number, vcpu: number, reg: number, value: bigint): number;
  hv_vmx_read_capability(t: number, field: number): number;
  hv_vmx_vcpu_read_vmcs(t: number, vcpu: number, field: number): number;
  hv_vmx_vcpu_write_vmcs(t: number, vcpu: number, field: number, value: bigint): number;
  hv_vcpu_run(t: number, vcpu: number): number;
  hv_vcpu_run_async(t: number, vcpu: number): Promise<number>;
  hv_vcpu_run_until(t: number, vcpu: number, deadline: bigint): number;
  hv_vcpu_interrupt(t: number, vcpus: readonly number[], vcpu_count: number): number;
  hv_vcpu_get_exec_time(t: number, vcpu: number): number;
}

/**
 * The x86_64 flavour's `hv_*` methods over the addon: each checks its arguments' JS types (the spec's
 * checks), converts them (a uva to buffer id and offset), calls the addon and builds the `Result`. The native
 * backend class adds what needs its own state: `hv_vcpu_create`, `hv_vcpu_destroy`, `hv_vcpu_write_register`,
 * `hv_vmx_vcpu_read_vmcs`, `hv_vmx_vcpu_write_vmcs`, `hv_vcpu_run`, `hv_vcpu_run_async`.
 */
export abstract class X86Calls<A extends NativeAddon & X86AddonCalls> extends NativeBase<A> {
  hv_capability(t: ThreadId, capability: number): Result<bigint> {
    X86_ARG_CHECKS.hv_capability(t, capability);
    return this.outU64(this.addon.hv_capability(t, capability));
  }
  hv_vm_create(t: ThreadId, flags: bigint): Result {
    X86_ARG_CHECKS.hv_vm_create(t, flags);
    return { ret: this.addon.hv_vm_create(t, flags) };
  }
  hv_vm_destroy(t: ThreadId): Result {
    X86_ARG_CHECKS.hv_vm_destroy(t);
    return { ret: this.addon.hv_vm_destroy(t) };
  }
  hv_vm_space_create(t: ThreadId): Result<AddressSpace> {
    X86_ARG_CHECKS.hv_vm_space_create(t);
    return this.outNumber<AddressSpace>(this.addon.hv_vm_space_create(t));
  }
  hv_vm_space_destroy(t: ThreadId, asid: AddressSpace): Result {
    X86_ARG_CHECKS.hv_vm_space_destroy(t, asid);
    return { ret: this.addon.hv_vm_space_destroy(t, asid) };
  }
  hv_vm_map(t: ThreadId, uva: Uva, gpa: bigint, size: bigint, flags: number): Result {
    X86_ARG_CHECKS.hv_vm_map(t, uva, gpa, size, flags);
    const uvam = this.mem(uva.mem, 'uva.mem');
    return { ret: this.addon.hv_vm_map(t, uvam.id, uva.offset, gpa, size, flags) };
  }
  hv_vm_unmap(t: ThreadId, gpa: bigint, size: bigint): Result {
    X86_ARG_CHECKS.hv_vm_unmap(t, gpa, size);
    return { ret: this.addon.hv_vm_unmap(t, gpa, size) };
  }
  hv_vm_protect(t: ThreadId, gpa: bigint, size: bigint, flags: number): Result {
    X86_ARG_CHECKS.hv_vm_protect(t, gpa, size, flags);
    return { ret: this.addon.hv_vm_protect(t, gpa, size, flags) };
  }
  hv_vm_map_space(
    t: ThreadId,
    asid: AddressSpace,
    uva: Uva,
    gpa: bigint,
    size: bigint,
    flags: number,
  ): Result {
    X86_ARG_CHECKS.hv_vm_map_space(t, asid, uva, gpa, size, flags);
    const uvam = this.mem(uva.mem, 'uva.mem');
    return { ret: this.addon.hv_vm_map_space(t, asid, uvam.id, uva.offset, gpa, size, flags) };
  }
  hv_vm_unmap_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint): Result {
    X86_ARG_CHECKS.hv_vm_unmap_space(t, asid, gpa, size);
    return { ret: this.addon.hv_vm_unmap_space(t, asid, gpa, size) };
  }
  hv_vm_protect_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint, flags: number): Result {
    X86_ARG_CHECKS.hv_vm_protect_space(t, asid, gpa, size, flags);
    return { ret: this.addon.hv_vm_protect_space(t, asid, gpa, size, flags) };
  }
  abstract hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu>;
  abstract hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result;
  hv_vcpu_set_space(t: ThreadId, vcpu: Vcpu, asid: AddressSpace): Result {
    X86_ARG_CHECKS.hv_vcpu_set_space(t, vcpu, asid);
    return { ret: this.addon.hv_vcpu_set_space(t, vcpu, asid) };
  }
  hv_vcpu_read_register(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    X86_ARG_CHECKS.hv_vcpu_read_register(t, vcpu, reg);
    return this.outU64(this.addon.hv_vcpu_read_register(t, vcpu, reg));
  }
  abstract hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result;
  hv_vmx_read_capability(t: ThreadId, field: number): Result<bigint> {
    X86_ARG_CHECKS.hv_vmx_read_capability(t, field);
    return this.outU64(this.addon.hv_vmx_read_capability(t, field));
  }
  abstract hv_vmx_vcpu_read_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint>;
  abstract hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result;
  abstract hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result;
  abstract hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result>;
  hv_vcpu_run_until(t: ThreadId, vcpu: Vcpu, deadline: bigint): Result {
    X86_ARG_CHECKS.hv_vcpu_run_until(t, vcpu, deadline);
    return { ret: this.addon.hv_vcpu_run_until(t, vcpu, deadline) };
  }
  hv_vcpu_interrupt(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    X86_ARG_CHECKS.hv_vcpu_interrupt(t, vcpus, vcpu_count);
    return { ret: this.addon.hv_vcpu_interrupt(t, vcpus, vcpu_count) };
  }
  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    X86_ARG_CHECKS.hv_vcpu_get_exec_time(t, vcpu);
    return this.outU64(this.addon.hv_vcpu_get_exec_time(t, vcpu));
  }
}

/** The arm64 addon's `hv_*` functions: logical thread first, the `hv_return_t` as an unsigned number. */
export interface Arm64AddonCalls {
  hv_vm_get_max_vcpu_count(t: number): number;
  hv_vm_config_get_max_ipa_size(t: number): number;
  hv_vm_config_get_default_ipa_size(t: number): number;
  hv_vm_config_create(t: number): number;
  hv_vm_config_set_ipa_size(t: number, config: number, ipa_bit_length: number): number;
  hv_vm_config_get_ipa_size(t: number, config: number): number;
  hv_vm_config_set_ipa_granule(t: number, config: number, granule: number): number;
  hv_vm_config_get_ipa_granule(t: number, config: number): number;
  hv_vm_create(t: number, config: number | null): number;
  hv_vm_destroy(t: number): number;
  hv_vm_map(t: number, uva_mem: number, uva_offset: number, ipa: bigint, size: bigint, flags: number): number;
  hv_vm_unmap(t: number, ipa: bigint, size: bigint): number;
  hv_vm_protect(t: number, ipa: bigint, size: bigint, flags: number): number;
  hv_vcpu_create(t: number, config: number | null): number;
  hv_vcpu_destroy(t: number, vcpu: number): number;
  hv_vcpu_get_reg(t: number, vcpu: number, reg: number): number;
  hv_vcpu_set_reg(t: number, vcpu: number, reg: number, value: bigint): number;
  hv_vcpu_get_simd_fp_reg(t: number, vcpu: number, reg: number): number;
  hv_vcpu_set_simd_fp_reg(
    t: number,
    vcpu: number,
    reg: number,
    value_low: bigint,
    value_high: bigint,
  ): number;
  hv_vcpu_get_sys_reg(t: number, vcpu: number, reg: number): number;
  hv_vcpu_set_sys_reg(t: number, vcpu: number, reg: number, value: bigint): number;
  hv_vcpu_get_pending_interrupt(t: number, vcpu: number, type: number): number;
  hv_vcpu_set_pending_interrupt(t: number, vcpu: number, type: number, pending: boolean): number;
  hv_vcpu_get_vtimer_mask(t: number, vcpu: number): number;
  hv_vcpu_set_vtimer_mask(t: number, vcpu: number, vtimer_is_masked: boolean): number;
  hv_vcpu_get_vtimer_offset(t: number, vcpu: number): number;
  hv_vcpu_set_vtimer_offset(t: number, vcpu: number, vtimer_offset: bigint): number;
  hv_vcpu_get_trap_debug_exceptions(t: number, vcpu: number): number;
  hv_vcpu_set_trap_debug_exceptions(t: number, vcpu: number, value: boolean): number;
  hv_vcpu_get_trap_debug_reg_accesses(t: number, vcpu: number): number;
  hv_vcpu_set_trap_debug_reg_accesses(t: number, vcpu: number, value: boolean): number;
  hv_vcpu_run(t: number, vcpu: number): number;
  hv_vcpu_run_async(t: number, vcpu: number): Promise<number>;
  hv_vcpus_exit(t: number, vcpus: readonly number[], vcpu_count: number): number;
  hv_vcpu_get_exec_time(t: number, vcpu: number): number;
}

/**
 * The arm64 flavour's `hv_*` methods over the addon: each checks its arguments' JS types (the spec's checks),
 * converts them (a uva to buffer id and offset), calls the addon and builds the `Result`. The native backend
 * class adds what needs its own state: `hv_vm_config_create`, `hv_vcpu_create`, `hv_vcpu_destroy`,
 * `hv_vcpu_run`, `hv_vcpu_run_async`.
 */
export abstract class Arm64Calls<A extends NativeAddon & Arm64AddonCalls> extends NativeBase<A> {
  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number> {
    ARM64_ARG_CHECKS.hv_vm_get_max_vcpu_count(t);
    return this.outNumber<number>(this.addon.hv_vm_get_max_vcpu_count(t));
  }
  hv_vm_config_get_max_ipa_size(t: ThreadId): Result<number> {
    ARM64_ARG_CHECKS.hv_vm_config_get_max_ipa_size(t);
    return this.outNumber<number>(this.addon.hv_vm_config_get_max_ipa_size(t));
  }
  hv_vm_config_get_default_ipa_size(t: ThreadId): Result<number> {
    ARM64_ARG_CHECKS.hv_vm_config_get_default_ipa_size(t);
    return this.outNumber<number>(this.addon.hv_vm_config_get_default_ipa_size(t));
  }
  abstract hv_vm_config_create(t: ThreadId): Result<VmConfig>;
  hv_vm_config_set_ipa_size(t: ThreadId, config: VmConfig, ipa_bit_length: number): Result {
    ARM64_ARG_CHECKS.hv_vm_config_set_ipa_size(t, config, ipa_bit_length);
    return { ret: this.addon.hv_vm_config_set_ipa_size(t, config, ipa_bit_length) };
  }
  hv_vm_config_get_ipa_size(t: ThreadId, config: VmConfig): Result<number> {
    ARM64_ARG_CHECKS.hv_vm_config_get_ipa_size(t, config);
    return this.outNumber<number>(this.addon.hv_vm_config_get_ipa_size(t, config));
  }
  hv_vm_config_set_ipa_granule(t: ThreadId, config: VmConfig, granule: number): Result {
    ARM64_ARG_CHECKS.hv_vm_config_set_ipa_granule(t, config, granule);
    return { ret: this.addon.hv_vm_config_set_ipa_granule(t, config, granule) };
  }
  hv_vm_config_get_ipa_granule(t: ThreadId, config: VmConfig): Result<number> {
    ARM64_ARG_CHECKS.hv_vm_config_get_ipa_granule(t, config);
    return this.outNumber<number>(this.addon.hv_vm_config_get_ipa_granule(t, config));
  }
  hv_vm_create(t: ThreadId, config: VmConfig | null): Result {
    ARM64_ARG_CHECKS.hv_vm_create(t, config);
    return { ret: this.addon.hv_vm_create(t, config) };
  }
  hv_vm_destroy(t: ThreadId): Result {
    ARM64_ARG_CHECKS.hv_vm_destroy(t);
    return { ret: this.addon.hv_vm_destroy(t) };
  }
  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result {
    ARM64_ARG_CHECKS.hv_vm_map(t, uva, ipa, size, flags);
    const uvam = this.mem(uva.mem, 'uva.mem');
    return { ret: this.addon.hv_vm_map(t, uvam.id, uva.offset, ipa, size, flags) };
  }
  hv_vm_unmap(t: ThreadId, ipa: bigint, size: bigint): Result {
    ARM64_ARG_CHECKS.hv_vm_unmap(t, ipa, size);
    return { ret: this.addon.hv_vm_unmap(t, ipa, size) };
  }
  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result {
    ARM64_ARG_CHECKS.hv_vm_protect(t, ipa, size, flags);
    return { ret: this.addon.hv_vm_protect(t, ipa, size, flags) };
  }
  abstract hv_vcpu_create(t: ThreadId, config: null): Result<Vcpu>;
  abstract hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result;
  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    ARM64_ARG_CHECKS.hv_vcpu_get_reg(t, vcpu, reg);
    return this.outU64(this.addon.hv_vcpu_get_reg(t, vcpu, reg));
  }
  hv_vcpu_set_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_reg(t, vcpu, reg, value);
    return { ret: this.addon.hv_vcpu_set_reg(t, vcpu, reg, value) };
  }
  hv_vcpu_get_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    ARM64_ARG_CHECKS.hv_vcpu_get_simd_fp_reg(t, vcpu, reg);
    return this.outU128(this.addon.hv_vcpu_get_simd_fp_reg(t, vcpu, reg));
  }
  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_simd_fp_reg(t, vcpu, reg, value);
    return { ret: this.addon.hv_vcpu_set_simd_fp_reg(t, vcpu, reg, value & MASK64, value >> 64n) };
  }
  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    ARM64_ARG_CHECKS.hv_vcpu_get_sys_reg(t, vcpu, reg);
    return this.outU64(this.addon.hv_vcpu_get_sys_reg(t, vcpu, reg));
  }
  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_sys_reg(t, vcpu, reg, value);
    return { ret: this.addon.hv_vcpu_set_sys_reg(t, vcpu, reg, value) };
  }
  hv_vcpu_get_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number): Result<boolean> {
    ARM64_ARG_CHECKS.hv_vcpu_get_pending_interrupt(t, vcpu, type);
    return this.outBool(this.addon.hv_vcpu_get_pending_interrupt(t, vcpu, type));
  }
  hv_vcpu_set_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number, pending: boolean): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_pending_interrupt(t, vcpu, type, pending);
    return { ret: this.addon.hv_vcpu_set_pending_interrupt(t, vcpu, type, pending) };
  }
  hv_vcpu_get_vtimer_mask(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    ARM64_ARG_CHECKS.hv_vcpu_get_vtimer_mask(t, vcpu);
    return this.outBool(this.addon.hv_vcpu_get_vtimer_mask(t, vcpu));
  }
  hv_vcpu_set_vtimer_mask(t: ThreadId, vcpu: Vcpu, vtimer_is_masked: boolean): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_vtimer_mask(t, vcpu, vtimer_is_masked);
    return { ret: this.addon.hv_vcpu_set_vtimer_mask(t, vcpu, vtimer_is_masked) };
  }
  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    ARM64_ARG_CHECKS.hv_vcpu_get_vtimer_offset(t, vcpu);
    return this.outU64(this.addon.hv_vcpu_get_vtimer_offset(t, vcpu));
  }
  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_vtimer_offset(t, vcpu, vtimer_offset);
    return { ret: this.addon.hv_vcpu_set_vtimer_offset(t, vcpu, vtimer_offset) };
  }
  hv_vcpu_get_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    ARM64_ARG_CHECKS.hv_vcpu_get_trap_debug_exceptions(t, vcpu);
    return this.outBool(this.addon.hv_vcpu_get_trap_debug_exceptions(t, vcpu));
  }
  hv_vcpu_set_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_trap_debug_exceptions(t, vcpu, value);
    return { ret: this.addon.hv_vcpu_set_trap_debug_exceptions(t, vcpu, value) };
  }
  hv_vcpu_get_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    ARM64_ARG_CHECKS.hv_vcpu_get_trap_debug_reg_accesses(t, vcpu);
    return this.outBool(this.addon.hv_vcpu_get_trap_debug_reg_accesses(t, vcpu));
  }
  hv_vcpu_set_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    ARM64_ARG_CHECKS.hv_vcpu_set_trap_debug_reg_accesses(t, vcpu, value);
    return { ret: this.addon.hv_vcpu_set_trap_debug_reg_accesses(t, vcpu, value) };
  }
  abstract hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit>;
  abstract hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>>;
  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    ARM64_ARG_CHECKS.hv_vcpus_exit(t, vcpus, vcpu_count);
    return { ret: this.addon.hv_vcpus_exit(t, vcpus, vcpu_count) };
  }
  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    ARM64_ARG_CHECKS.hv_vcpu_get_exec_time(t, vcpu);
    return this.outU64(this.addon.hv_vcpu_get_exec_time(t, vcpu));
  }
}
