// GENERATED FILE — do not edit. The hv_* methods of the backend interfaces, from the registry.
// Regenerate with `npm run generate` (packages/spec); a test fails when this file is stale.
/**
 * The `hv_*` methods of the backend interfaces, one per registry entry, in C parameter order after the
 * logical thread. `backend.ts` extends these with host memory and lifecycle.
 * @module
 */
import type { AddressSpace, Arm64Exit, Result, ThreadId, Uva, Vcpu, VmConfig } from '../backend.js';

/** The x86_64 flavour's `hv_*` functions. */
export interface X86Calls {
  /**
   * `hv_capability` — Reads a capability of the host: the maximum number of vCPUs or of address spaces.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_capability.ok`, `hv_capability.unknown`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param capability HV_CAP_VCPUMAX or HV_CAP_ADDRSPACEMAX (C: `hv_capability_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the capability value
   */
  hv_capability(t: ThreadId, capability: number): Result<bigint>;
  /**
   * `hv_vm_create` — Creates the VM of the current process.
   *
   * macOS 10.10; any thread of the process.
   * Rules: `hv_vm_create.vm-exists`, `hv_vm_create.bad-options`, `hv_vm_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param flags HV_VM_DEFAULT or mitigation/APIC options (C: `hv_vm_options_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_create(t: ThreadId, flags: bigint): Result;
  /**
   * `hv_vm_destroy` — Destroys the VM of the current process.
   *
   * macOS 10.10; any thread of the process.
   * Rules: `hv_vm_destroy.no-vm`, `hv_vm_destroy.live-vcpus`, `hv_vm_destroy.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t`
   */
  hv_vm_destroy(t: ThreadId): Result;
  /**
   * `hv_vm_space_create` — Creates an additional guest-physical address space.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_vm_space_create.no-vm`, `hv_vm_space_create.limit`, `hv_vm_space_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t` and, on HV_SUCCESS, asid: the new address space
   */
  hv_vm_space_create(t: ThreadId): Result<AddressSpace>;
  /**
   * `hv_vm_space_destroy` — Destroys an additional address space.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_vm_space_destroy.no-vm`, `hv_vm_space_destroy.default-or-unknown`,
   * `hv_vm_space_destroy.in-use`, `hv_vm_space_destroy.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param asid the address space (C: `hv_vm_space_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_space_destroy(t: ThreadId, asid: AddressSpace): Result;
  /**
   * `hv_vm_map` — Maps host memory into the default guest-physical address space.
   *
   * macOS 10.10; any thread of the process.
   * Rules: `hv_vm_map.no-vm`, `hv_vm_map.size-zero`, `hv_vm_map.misaligned`, `hv_vm_map.out-of-range`,
   * `hv_vm_map.bad-flags`, `hv_vm_map.uva-out-of-buffer`, `hv_vm_map.above-39-bits`, `hv_vm_map.overlap`,
   * `hv_vm_map.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param uva host address: a host_alloc buffer and offset (page aligned; size bytes of it are mapped) (C:
   *   `hv_uvaddr_t`)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_map(t: ThreadId, uva: Uva, gpa: bigint, size: bigint, flags: number): Result;
  /**
   * `hv_vm_unmap` — Unmaps a range of the default guest-physical address space.
   *
   * macOS 10.10; any thread of the process.
   * Rules: `hv_vm_unmap.no-vm`, `hv_vm_unmap.size-zero`, `hv_vm_unmap.misaligned`,
   * `hv_vm_unmap.out-of-range`, `hv_vm_unmap.not-fully-mapped`, `hv_vm_unmap.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_unmap(t: ThreadId, gpa: bigint, size: bigint): Result;
  /**
   * `hv_vm_protect` — Changes the permissions of a mapped range of the default address space.
   *
   * macOS 10.10; any thread of the process.
   * Rules: `hv_vm_protect.no-vm`, `hv_vm_protect.size-zero`, `hv_vm_protect.misaligned`,
   * `hv_vm_protect.out-of-range`, `hv_vm_protect.bad-flags`, `hv_vm_protect.above-39-bits`,
   * `hv_vm_protect.not-fully-mapped`, `hv_vm_protect.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_protect(t: ThreadId, gpa: bigint, size: bigint, flags: number): Result;
  /**
   * `hv_vm_map_space` — Maps host memory into a given address space.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_vm_map_space.no-vm`, `hv_vm_map_space.bad-space`, `hv_vm_map_space.size-zero`,
   * `hv_vm_map_space.misaligned`, `hv_vm_map_space.out-of-range`, `hv_vm_map_space.bad-flags`,
   * `hv_vm_map_space.uva-out-of-buffer`, `hv_vm_map_space.above-39-bits`, `hv_vm_map_space.overlap`,
   * `hv_vm_map_space.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param asid the address space (C: `hv_vm_space_t`)
   * @param uva host address: a host_alloc buffer and offset (page aligned; size bytes of it are mapped) (C:
   *   `hv_uvaddr_t`)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_map_space(
    t: ThreadId,
    asid: AddressSpace,
    uva: Uva,
    gpa: bigint,
    size: bigint,
    flags: number,
  ): Result;
  /**
   * `hv_vm_unmap_space` — Unmaps a range of a given address space.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_vm_unmap_space.no-vm`, `hv_vm_unmap_space.bad-space`, `hv_vm_unmap_space.size-zero`,
   * `hv_vm_unmap_space.misaligned`, `hv_vm_unmap_space.out-of-range`, `hv_vm_unmap_space.not-fully-mapped`,
   * `hv_vm_unmap_space.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param asid the address space (C: `hv_vm_space_t`)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_unmap_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint): Result;
  /**
   * `hv_vm_protect_space` — Changes the permissions of a mapped range of a given address space.
   *
   * macOS 10.15; any thread of the process.
   * Rules: `hv_vm_protect_space.no-vm`, `hv_vm_protect_space.bad-space`, `hv_vm_protect_space.size-zero`,
   * `hv_vm_protect_space.misaligned`, `hv_vm_protect_space.out-of-range`, `hv_vm_protect_space.bad-flags`,
   * `hv_vm_protect_space.above-39-bits`, `hv_vm_protect_space.not-fully-mapped`, `hv_vm_protect_space.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param asid the address space (C: `hv_vm_space_t`)
   * @param gpa guest-physical address, page aligned (C: `hv_gpaddr_t`)
   * @param size size in bytes, a multiple of the page size (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_protect_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint, flags: number): Result;
  /**
   * `hv_vcpu_create` — Creates a vCPU bound to the calling thread.
   *
   * macOS 10.10; any thread.
   * Rules: `hv_vcpu_create.no-vm`, `hv_vcpu_create.bad-options`, `hv_vcpu_create.limit`,
   * `hv_vcpu_create.thread-owns-one`, `hv_vcpu_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param flags HV_VCPU_DEFAULT or options (C: `hv_vcpu_options_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, vcpu: the new vCPU
   */
  hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu>;
  /**
   * `hv_vcpu_destroy` — Destroys a vCPU.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vcpu_destroy.bad-handle`, `hv_vcpu_destroy.wrong-thread`, `hv_vcpu_destroy.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result;
  /**
   * `hv_vcpu_set_space` — Sets the address space a vCPU uses.
   *
   * macOS 10.15; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_space.bad-handle`, `hv_vcpu_set_space.wrong-thread`, `hv_vcpu_set_space.bad-space`,
   * `hv_vcpu_set_space.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param asid the address space (C: `hv_vm_space_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_space(t: ThreadId, vcpu: Vcpu, asid: AddressSpace): Result;
  /**
   * `hv_vcpu_read_register` — Reads an architectural register of a vCPU.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vcpu_read_register.bad-handle`, `hv_vcpu_read_register.wrong-thread`,
   * `hv_vcpu_read_register.bad-reg`, `hv_vcpu_read_register.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param reg the register (C: `hv_x86_reg_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the value
   */
  hv_vcpu_read_register(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint>;
  /**
   * `hv_vcpu_write_register` — Writes an architectural register of a vCPU.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vcpu_write_register.bad-handle`, `hv_vcpu_write_register.wrong-thread`,
   * `hv_vcpu_write_register.bad-reg`, `hv_vcpu_write_register.gpr`, `hv_vcpu_write_register.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param reg the register (C: `hv_x86_reg_t`)
   * @param value the value (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result;
  /**
   * `hv_vmx_read_capability` — Reads a VMX capability of the host (allowed-0 / allowed-1 settings of the
   * controls).
   *
   * macOS 10.10 (ids 5–16 macOS 11.0); any thread of the process.
   * Rules: `hv_vmx_read_capability.ok`, `hv_vmx_read_capability.unknown`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param field the capability (C: `hv_vmx_capability_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the capability value
   */
  hv_vmx_read_capability(t: ThreadId, field: number): Result<bigint>;
  /**
   * `hv_vmx_vcpu_read_vmcs` — Reads a field of a vCPU's VMCS.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vmx_vcpu_read_vmcs.bad-handle`, `hv_vmx_vcpu_read_vmcs.wrong-thread`,
   * `hv_vmx_vcpu_read_vmcs.eptp`, `hv_vmx_vcpu_read_vmcs.not-accessible`, `hv_vmx_vcpu_read_vmcs.exit-info`,
   * `hv_vmx_vcpu_read_vmcs.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param field the VMCS field encoding (C: `uint32_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the value
   */
  hv_vmx_vcpu_read_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint>;
  /**
   * `hv_vmx_vcpu_write_vmcs` — Writes a field of a vCPU's VMCS.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vmx_vcpu_write_vmcs.bad-handle`, `hv_vmx_vcpu_write_vmcs.wrong-thread`,
   * `hv_vmx_vcpu_write_vmcs.not-writable`, `hv_vmx_vcpu_write_vmcs.control-violates-capability`,
   * `hv_vmx_vcpu_write_vmcs.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param field the VMCS field encoding (C: `uint32_t`)
   * @param value the value (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result;
  /**
   * `hv_vcpu_run` — Runs a vCPU until its next exit, including exits the kernel handled (deprecated in macOS
   * 11).
   *
   * macOS 10.10, deprecated 11.0; only the vCPU's owning thread. Deprecated (macOS 11.0: use
   * hv_vcpu_run_until).
   * Rules: `hv_vcpu_run.bad-handle`, `hv_vcpu_run.wrong-thread`, `hv_vcpu_run.canceled`, `hv_vcpu_run.guest`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result;
  /**
   * `hv_vcpu_run` started on logical thread `t` without blocking the caller, so that another thread can
   * cancel it.
   */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result>;
  /**
   * `hv_vcpu_run_until` — Runs a vCPU until an exit the framework did not handle, or a deadline.
   *
   * macOS 10.15; only the vCPU's owning thread.
   * Rules: `hv_vcpu_run_until.bad-handle`, `hv_vcpu_run_until.wrong-thread`, `hv_vcpu_run_until.canceled`,
   * `hv_vcpu_run_until.guest`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @param deadline mach absolute time, or HV_DEADLINE_FOREVER (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_run_until(t: ThreadId, vcpu: Vcpu, deadline: bigint): Result;
  /**
   * `hv_vcpu_interrupt` — Forces the listed vCPUs to exit; callable from any thread.
   *
   * macOS 10.10; any thread.
   * Rules: `hv_vcpu_interrupt.empty`, `hv_vcpu_interrupt.stale-handle`, `hv_vcpu_interrupt.unknown-handle`,
   * `hv_vcpu_interrupt.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpus the vCPUs (C: `hv_vcpuid_t *`)
   * @param vcpu_count how many (C: `unsigned int`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_interrupt(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result;
  /**
   * `hv_vcpu_get_exec_time` — Reads a vCPU's cumulative execution time, in nanoseconds.
   *
   * macOS 10.10; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_exec_time.bad-handle`, `hv_vcpu_get_exec_time.wrong-thread`,
   * `hv_vcpu_get_exec_time.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpuid_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, time: the guest time so far
   */
  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint>;
}

/** The arm64 flavour's `hv_*` functions. */
export interface Arm64Calls {
  /**
   * `hv_vm_get_max_vcpu_count` — Reads the maximum number of vCPUs of a VM.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_get_max_vcpu_count.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the maximum vCPU count
   */
  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number>;
  /**
   * `hv_vm_config_get_max_ipa_size` — Reads the largest IPA size this host supports.
   *
   * macOS 13.0; any thread of the process.
   * Rules: `hv_vm_config_get_max_ipa_size.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the maximum IPA size in bits
   */
  hv_vm_config_get_max_ipa_size(t: ThreadId): Result<number>;
  /**
   * `hv_vm_config_get_default_ipa_size` — Reads the IPA size a VM gets by default.
   *
   * macOS 13.0; any thread of the process.
   * Rules: `hv_vm_config_get_default_ipa_size.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the default IPA size in bits
   */
  hv_vm_config_get_default_ipa_size(t: ThreadId): Result<number>;
  /**
   * `hv_vm_config_create` — Creates a VM configuration object with default values.
   *
   * macOS 13.0; any thread of the process.
   * Rules: `hv_vm_config_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t` and, on HV_SUCCESS, config: the new configuration
   */
  hv_vm_config_create(t: ThreadId): Result<VmConfig>;
  /**
   * `hv_vm_config_set_ipa_size` — Sets the IPA size of the VM a configuration creates.
   *
   * macOS 13.0; any thread of the process.
   * Rules: `hv_vm_config_set_ipa_size.bad-config`, `hv_vm_config_set_ipa_size.above-max`,
   * `hv_vm_config_set_ipa_size.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config a configuration object (C: `hv_vm_config_t`)
   * @param ipa_bit_length IPA size in bits (C: `uint32_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_config_set_ipa_size(t: ThreadId, config: VmConfig, ipa_bit_length: number): Result;
  /**
   * `hv_vm_config_get_ipa_size` — Reads the IPA size a configuration holds.
   *
   * macOS 13.0; any thread of the process.
   * Rules: `hv_vm_config_get_ipa_size.bad-config`, `hv_vm_config_get_ipa_size.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config a configuration object (C: `hv_vm_config_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, ipa_bit_length: IPA size in bits
   */
  hv_vm_config_get_ipa_size(t: ThreadId, config: VmConfig): Result<number>;
  /**
   * `hv_vm_config_set_ipa_granule` — Sets the stage-2 granule (4 KiB or 16 KiB) of the VM a configuration
   * creates.
   *
   * macOS 26.0; any thread of the process.
   * Rules: `hv_vm_config_set_ipa_granule.bad-config`, `hv_vm_config_set_ipa_granule.bad-granule`,
   * `hv_vm_config_set_ipa_granule.no-4k`, `hv_vm_config_set_ipa_granule.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config a configuration object (C: `hv_vm_config_t`)
   * @param granule HV_IPA_GRANULE_4KB or _16KB (C: `hv_ipa_granule_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_config_set_ipa_granule(t: ThreadId, config: VmConfig, granule: number): Result;
  /**
   * `hv_vm_config_get_ipa_granule` — Reads the granule a configuration holds.
   *
   * macOS 26.0; any thread of the process.
   * Rules: `hv_vm_config_get_ipa_granule.bad-config`, `hv_vm_config_get_ipa_granule.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config a configuration object (C: `hv_vm_config_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, granule: the granule
   */
  hv_vm_config_get_ipa_granule(t: ThreadId, config: VmConfig): Result<number>;
  /**
   * `hv_vm_create` — Creates the VM of the current process.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_create.bad-config`, `hv_vm_create.vm-exists`, `hv_vm_create.ipa-size-zero`,
   * `hv_vm_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config NULL for defaults, or a configuration (C: `hv_vm_config_t _Nullable`)
   * @returns the `hv_return_t`
   */
  hv_vm_create(t: ThreadId, config: VmConfig | null): Result;
  /**
   * `hv_vm_destroy` — Destroys the VM of the current process.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_destroy.no-vm`, `hv_vm_destroy.live-vcpus`, `hv_vm_destroy.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @returns the `hv_return_t`
   */
  hv_vm_destroy(t: ThreadId): Result;
  /**
   * `hv_vm_map` — Maps host memory into the guest's IPA space.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_map.no-vm`, `hv_vm_map.size-zero`, `hv_vm_map.misaligned`, `hv_vm_map.out-of-range`,
   * `hv_vm_map.bad-flags`, `hv_vm_map.uva-out-of-buffer`, `hv_vm_map.overlap`, `hv_vm_map.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param uva host address: a host_alloc buffer and offset (granule aligned; size bytes of it are mapped)
   *   (C: `void *`)
   * @param ipa intermediate physical address, granule aligned (C: `hv_ipa_t`)
   * @param size size in bytes, a multiple of the granule (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result;
  /**
   * `hv_vm_unmap` — Unmaps a range of the IPA space.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_unmap.no-vm`, `hv_vm_unmap.size-zero`, `hv_vm_unmap.misaligned`,
   * `hv_vm_unmap.out-of-range`, `hv_vm_unmap.not-fully-mapped`, `hv_vm_unmap.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param ipa intermediate physical address, granule aligned (C: `hv_ipa_t`)
   * @param size size in bytes, a multiple of the granule (C: `size_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_unmap(t: ThreadId, ipa: bigint, size: bigint): Result;
  /**
   * `hv_vm_protect` — Changes the permissions of a mapped IPA range.
   *
   * macOS 11.0; any thread of the process.
   * Rules: `hv_vm_protect.no-vm`, `hv_vm_protect.size-zero`, `hv_vm_protect.misaligned`,
   * `hv_vm_protect.out-of-range`, `hv_vm_protect.bad-flags`, `hv_vm_protect.not-fully-mapped`,
   * `hv_vm_protect.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param ipa intermediate physical address, granule aligned (C: `hv_ipa_t`)
   * @param size size in bytes, a multiple of the granule (C: `size_t`)
   * @param flags HV_MEMORY_READ | _WRITE | _EXEC (C: `hv_memory_flags_t`)
   * @returns the `hv_return_t`
   */
  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result;
  /**
   * `hv_vcpu_create` — Creates a vCPU bound to the calling thread and returns its exit record.
   *
   * macOS 11.0; any thread.
   * Rules: `hv_vcpu_create.no-vm`, `hv_vcpu_create.thread-owns-one`, `hv_vcpu_create.limit`,
   * `hv_vcpu_create.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param config NULL for defaults (C: `hv_vcpu_config_t _Nullable`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, vcpu: the new vCPU
   */
  hv_vcpu_create(t: ThreadId, config: null): Result<Vcpu>;
  /**
   * `hv_vcpu_destroy` — Destroys a vCPU.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_destroy.bad-handle`, `hv_vcpu_destroy.wrong-thread`, `hv_vcpu_destroy.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result;
  /**
   * `hv_vcpu_get_reg` — Reads a general register (X0–X30, PC, FPCR, FPSR, CPSR).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_reg.bad-handle`, `hv_vcpu_get_reg.wrong-thread`, `hv_vcpu_get_reg.bad-selector`,
   * `hv_vcpu_get_reg.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_reg_t value (0–34) (C: `hv_reg_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the value
   */
  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint>;
  /**
   * `hv_vcpu_set_reg` — Writes a general register (X0–X30, PC, FPCR, FPSR, CPSR).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_reg.bad-handle`, `hv_vcpu_set_reg.wrong-thread`, `hv_vcpu_set_reg.bad-selector`,
   * `hv_vcpu_set_reg.ok`, `hv_vcpu_set_reg.other`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_reg_t value (0–34) (C: `hv_reg_t`)
   * @param value the value (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result;
  /**
   * `hv_vcpu_get_simd_fp_reg` — Reads a SIMD/FP register (Q0–Q31, 128 bits).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_simd_fp_reg.bad-handle`, `hv_vcpu_get_simd_fp_reg.wrong-thread`,
   * `hv_vcpu_get_simd_fp_reg.bad-selector`, `hv_vcpu_get_simd_fp_reg.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_simd_fp_reg_t value (0–31) (C: `hv_simd_fp_reg_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the 128-bit value
   */
  hv_vcpu_get_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint>;
  /**
   * `hv_vcpu_set_simd_fp_reg` — Writes a SIMD/FP register (Q0–Q31, 128 bits).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_simd_fp_reg.bad-handle`, `hv_vcpu_set_simd_fp_reg.wrong-thread`,
   * `hv_vcpu_set_simd_fp_reg.bad-selector`, `hv_vcpu_set_simd_fp_reg.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_simd_fp_reg_t value (0–31) (C: `hv_simd_fp_reg_t`)
   * @param value the 128-bit value (C: `hv_simd_fp_uchar16_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result;
  /**
   * `hv_vcpu_get_sys_reg` — Reads a system register.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_sys_reg.bad-handle`, `hv_vcpu_get_sys_reg.wrong-thread`,
   * `hv_vcpu_get_sys_reg.bad-selector`, `hv_vcpu_get_sys_reg.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_sys_reg_t value the spec models (C: `hv_sys_reg_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: the value
   */
  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint>;
  /**
   * `hv_vcpu_set_sys_reg` — Writes a system register.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_sys_reg.bad-handle`, `hv_vcpu_set_sys_reg.wrong-thread`,
   * `hv_vcpu_set_sys_reg.bad-selector`, `hv_vcpu_set_sys_reg.ok`, `hv_vcpu_set_sys_reg.other`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param reg an hv_sys_reg_t value the spec models (C: `hv_sys_reg_t`)
   * @param value the value (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result;
  /**
   * `hv_vcpu_get_pending_interrupt` — Reads a pending virtual interrupt line (IRQ or FIQ).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_pending_interrupt.bad-handle`, `hv_vcpu_get_pending_interrupt.wrong-thread`,
   * `hv_vcpu_get_pending_interrupt.bad-selector`, `hv_vcpu_get_pending_interrupt.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param type HV_INTERRUPT_TYPE_IRQ (0) or _FIQ (1) (C: `hv_interrupt_type_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, pending: whether the line is asserted
   */
  hv_vcpu_get_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number): Result<boolean>;
  /**
   * `hv_vcpu_set_pending_interrupt` — Writes a pending virtual interrupt line (IRQ or FIQ).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_pending_interrupt.bad-handle`, `hv_vcpu_set_pending_interrupt.wrong-thread`,
   * `hv_vcpu_set_pending_interrupt.bad-selector`, `hv_vcpu_set_pending_interrupt.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param type HV_INTERRUPT_TYPE_IRQ (0) or _FIQ (1) (C: `hv_interrupt_type_t`)
   * @param pending whether the line is asserted (C: `bool`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number, pending: boolean): Result;
  /**
   * `hv_vcpu_get_vtimer_mask` — Reads the virtual-timer mask.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_vtimer_mask.bad-handle`, `hv_vcpu_get_vtimer_mask.wrong-thread`,
   * `hv_vcpu_get_vtimer_mask.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, vtimer_is_masked: whether the vtimer is masked
   */
  hv_vcpu_get_vtimer_mask(t: ThreadId, vcpu: Vcpu): Result<boolean>;
  /**
   * `hv_vcpu_set_vtimer_mask` — Writes the virtual-timer mask.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_vtimer_mask.bad-handle`, `hv_vcpu_set_vtimer_mask.wrong-thread`,
   * `hv_vcpu_set_vtimer_mask.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param vtimer_is_masked whether the vtimer is masked (C: `bool`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_vtimer_mask(t: ThreadId, vcpu: Vcpu, vtimer_is_masked: boolean): Result;
  /**
   * `hv_vcpu_get_vtimer_offset` — Reads the virtual-timer offset (CNTVOFF_EL2).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_vtimer_offset.bad-handle`, `hv_vcpu_get_vtimer_offset.wrong-thread`,
   * `hv_vcpu_get_vtimer_offset.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, vtimer_offset: the offset
   */
  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint>;
  /**
   * `hv_vcpu_set_vtimer_offset` — Writes the virtual-timer offset (CNTVOFF_EL2).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_vtimer_offset.bad-handle`, `hv_vcpu_set_vtimer_offset.wrong-thread`,
   * `hv_vcpu_set_vtimer_offset.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param vtimer_offset the offset (C: `uint64_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result;
  /**
   * `hv_vcpu_get_trap_debug_exceptions` — Reads whether guest debug exceptions exit to the VMM.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_trap_debug_exceptions.bad-handle`, `hv_vcpu_get_trap_debug_exceptions.wrong-thread`,
   * `hv_vcpu_get_trap_debug_exceptions.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: trap or not
   */
  hv_vcpu_get_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu): Result<boolean>;
  /**
   * `hv_vcpu_set_trap_debug_exceptions` — Writes whether guest debug exceptions exit to the VMM.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_trap_debug_exceptions.bad-handle`, `hv_vcpu_set_trap_debug_exceptions.wrong-thread`,
   * `hv_vcpu_set_trap_debug_exceptions.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param value trap or not (C: `bool`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu, value: boolean): Result;
  /**
   * `hv_vcpu_get_trap_debug_reg_accesses` — Reads whether guest debug-register accesses exit to the VMM.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_trap_debug_reg_accesses.bad-handle`,
   * `hv_vcpu_get_trap_debug_reg_accesses.wrong-thread`, `hv_vcpu_get_trap_debug_reg_accesses.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, value: trap or not
   */
  hv_vcpu_get_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu): Result<boolean>;
  /**
   * `hv_vcpu_set_trap_debug_reg_accesses` — Writes whether guest debug-register accesses exit to the VMM.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_set_trap_debug_reg_accesses.bad-handle`,
   * `hv_vcpu_set_trap_debug_reg_accesses.wrong-thread`, `hv_vcpu_set_trap_debug_reg_accesses.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @param value trap or not (C: `bool`)
   * @returns the `hv_return_t`
   */
  hv_vcpu_set_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu, value: boolean): Result;
  /**
   * `hv_vcpu_run` — Runs a vCPU until its next exit; fills the exit record.
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_run.bad-handle`, `hv_vcpu_run.wrong-thread`, `hv_vcpu_run.canceled`, `hv_vcpu_run.guest`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, exit: the exit record (in C: behind the pointer
   *   hv_vcpu_create returned)
   */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit>;
  /**
   * `hv_vcpu_run` started on logical thread `t` without blocking the caller, so that another thread can
   * cancel it.
   */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>>;
  /**
   * `hv_vcpus_exit` — Forces the listed vCPUs to exit; callable from any thread.
   *
   * macOS 11.0; any thread.
   * Rules: `hv_vcpus_exit.empty`, `hv_vcpus_exit.stale-handle`, `hv_vcpus_exit.unknown-handle`,
   * `hv_vcpus_exit.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpus the vCPUs (C: `hv_vcpu_t *`)
   * @param vcpu_count how many (C: `uint32_t`)
   * @returns the `hv_return_t`
   */
  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result;
  /**
   * `hv_vcpu_get_exec_time` — Reads a vCPU's cumulative execution time (mach_absolute_time units per the
   * header; nanoseconds per Apple's web page).
   *
   * macOS 11.0; only the vCPU's owning thread.
   * Rules: `hv_vcpu_get_exec_time.bad-handle`, `hv_vcpu_get_exec_time.wrong-thread`,
   * `hv_vcpu_get_exec_time.ok`.
   * @param t the logical thread making the call (0 is the caller's own)
   * @param vcpu the vCPU (C: `hv_vcpu_t`)
   * @returns the `hv_return_t` and, on HV_SUCCESS, time: the guest time so far
   */
  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint>;
}
