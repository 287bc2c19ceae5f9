// GENERATED FILE — do not edit. Argument checks of every hv_* method, from the registry.
// Regenerate with `npm run generate` (packages/spec); a test fails when this file is stale.
/**
 * The JS-type checks of every `hv_*` method, one function per registry entry and flavour: each throws a
 * `TypeError` naming the parameter. Every backend calls them first, so the messages are the same
 * everywhere; a well-typed but illegal value is left to the spec's rules.
 * @module
 */
import {
  checkBool,
  checkNull,
  checkThread,
  checkU32,
  checkU64,
  checkU128,
  checkUva,
  checkVcpuList,
} from '../validate.js';

/** The x86_64 flavour's argument checks, by function name. */
export const X86_ARG_CHECKS = {
  hv_capability(t: unknown, capability: unknown): void {
    checkThread(t);
    checkU32('capability', capability);
  },
  hv_vm_create(t: unknown, flags: unknown): void {
    checkThread(t);
    checkU64('flags', flags);
  },
  hv_vm_destroy(t: unknown): void {
    checkThread(t);
  },
  hv_vm_space_create(t: unknown): void {
    checkThread(t);
  },
  hv_vm_space_destroy(t: unknown, asid: unknown): void {
    checkThread(t);
    checkU32('asid', asid);
  },
  hv_vm_map(t: unknown, uva: unknown, gpa: unknown, size: unknown, flags: unknown): void {
    checkThread(t);
    checkUva('uva', uva);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vm_unmap(t: unknown, gpa: unknown, size: unknown): void {
    checkThread(t);
    checkU64('gpa', gpa);
    checkU64('size', size);
  },
  hv_vm_protect(t: unknown, gpa: unknown, size: unknown, flags: unknown): void {
    checkThread(t);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vm_map_space(
    t: unknown,
    asid: unknown,
    uva: unknown,
    gpa: unknown,
    size: unknown,
    flags: unknown,
  ): void {
    checkThread(t);
    checkU32('asid', asid);
    checkUva('uva', uva);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vm_unmap_space(t: unknown, asid: unknown, gpa: unknown, size: unknown): void {
    checkThread(t);
    checkU32('asid', asid);
    checkU64('gpa', gpa);
    checkU64('size', size);
  },
  hv_vm_protect_space(t: unknown, asid: unknown, gpa: unknown, size: unknown, flags: unknown): void {
    checkThread(t);
    checkU32('asid', asid);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vcpu_create(t: unknown, flags: unknown): void {
    checkThread(t);
    checkU64('flags', flags);
  },
  hv_vcpu_destroy(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_set_space(t: unknown, vcpu: unknown, asid: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('asid', asid);
  },
  hv_vcpu_read_register(t: unknown, vcpu: unknown, reg: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
  },
  hv_vcpu_write_register(t: unknown, vcpu: unknown, reg: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
  },
  hv_vmx_read_capability(t: unknown, field: unknown): void {
    checkThread(t);
    checkU32('field', field);
  },
  hv_vmx_vcpu_read_vmcs(t: unknown, vcpu: unknown, field: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('field', field);
  },
  hv_vmx_vcpu_write_vmcs(t: unknown, vcpu: unknown, field: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('field', field);
    checkU64('value', value);
  },
  hv_vcpu_run(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_run_until(t: unknown, vcpu: unknown, deadline: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU64('deadline', deadline);
  },
  hv_vcpu_interrupt(t: unknown, vcpus: unknown, vcpu_count: unknown): void {
    checkThread(t);
    checkVcpuList('vcpus', vcpus, 'vcpu_count', vcpu_count);
  },
  hv_vcpu_get_exec_time(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
} as const;

/** The arm64 flavour's argument checks, by function name. */
export const ARM64_ARG_CHECKS = {
  hv_vm_get_max_vcpu_count(t: unknown): void {
    checkThread(t);
  },
  hv_vm_config_get_max_ipa_size(t: unknown): void {
    checkThread(t);
  },
  hv_vm_config_get_default_ipa_size(t: unknown): void {
    checkThread(t);
  },
  hv_vm_config_create(t: unknown): void {
    checkThread(t);
  },
  hv_vm_config_set_ipa_size(t: unknown, config: unknown, ipa_bit_length: unknown): void {
    checkThread(t);
    checkU32('config', config);
    checkU32('ipa_bit_length', ipa_bit_length);
  },
  hv_vm_config_get_ipa_size(t: unknown, config: unknown): void {
    checkThread(t);
    checkU32('config', config);
  },
  hv_vm_config_set_ipa_granule(t: unknown, config: unknown, granule: unknown): void {
    checkThread(t);
    checkU32('config', config);
    checkU32('granule', granule);
  },
  hv_vm_config_get_ipa_granule(t: unknown, config: unknown): void {
    checkThread(t);
    checkU32('config', config);
  },
  hv_vm_create(t: unknown, config: unknown): void {
    checkThread(t);
    if (config !== null) checkU32('config', config);
  },
  hv_vm_destroy(t: unknown): void {
    checkThread(t);
  },
  hv_vm_map(t: unknown, uva: unknown, ipa: unknown, size: unknown, flags: unknown): void {
    checkThread(t);
    checkUva('uva', uva);
    checkU64('ipa', ipa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vm_unmap(t: unknown, ipa: unknown, size: unknown): void {
    checkThread(t);
    checkU64('ipa', ipa);
    checkU64('size', size);
  },
  hv_vm_protect(t: unknown, ipa: unknown, size: unknown, flags: unknown): void {
    checkThread(t);
    checkU64('ipa', ipa);
    checkU64('size', size);
    checkU32('flags', flags);
  },
  hv_vcpu_create(t: unknown, config: unknown): void {
    checkThread(t);
    checkNull('config', config);
  },
  hv_vcpu_destroy(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_get_reg(t: unknown, vcpu: unknown, reg: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
  },
  hv_vcpu_set_reg(t: unknown, vcpu: unknown, reg: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
  },
  hv_vcpu_get_simd_fp_reg(t: unknown, vcpu: unknown, reg: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
  },
  hv_vcpu_set_simd_fp_reg(t: unknown, vcpu: unknown, reg: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU128('value', value);
  },
  hv_vcpu_get_sys_reg(t: unknown, vcpu: unknown, reg: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
  },
  hv_vcpu_set_sys_reg(t: unknown, vcpu: unknown, reg: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
  },
  hv_vcpu_get_pending_interrupt(t: unknown, vcpu: unknown, type: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('type', type);
  },
  hv_vcpu_set_pending_interrupt(t: unknown, vcpu: unknown, type: unknown, pending: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('type', type);
    checkBool('pending', pending);
  },
  hv_vcpu_get_vtimer_mask(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_set_vtimer_mask(t: unknown, vcpu: unknown, vtimer_is_masked: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('vtimer_is_masked', vtimer_is_masked);
  },
  hv_vcpu_get_vtimer_offset(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_set_vtimer_offset(t: unknown, vcpu: unknown, vtimer_offset: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU64('vtimer_offset', vtimer_offset);
  },
  hv_vcpu_get_trap_debug_exceptions(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_set_trap_debug_exceptions(t: unknown, vcpu: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('value', value);
  },
  hv_vcpu_get_trap_debug_reg_accesses(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpu_set_trap_debug_reg_accesses(t: unknown, vcpu: unknown, value: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('value', value);
  },
  hv_vcpu_run(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
  hv_vcpus_exit(t: unknown, vcpus: unknown, vcpu_count: unknown): void {
    checkThread(t);
    checkVcpuList('vcpus', vcpus, 'vcpu_count', vcpu_count);
  },
  hv_vcpu_get_exec_time(t: unknown, vcpu: unknown): void {
    checkThread(t);
    checkU32('vcpu', vcpu);
  },
} as const;
