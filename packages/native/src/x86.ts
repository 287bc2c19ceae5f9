/**
 * The x86 flavour of the native backend: the KVM provider on Linux, Hypervisor.framework on Intel
 * Macs. Argument checks follow `@hvspec/spec`'s validate.ts; everything else is the C call's code.
 * @module
 */
import {
  type AddressSpace,
  type Capabilities,
  checkThread,
  checkU32,
  checkU64,
  checkVcpuList,
  HV,
  type Result,
  type ThreadId,
  type Uva,
  type Vcpu,
  VMCS,
  type X86Backend,
} from '@hvspec/spec';
import type { X86Addon } from './addon.js';
import { NativeBase } from './base.js';

const OK: Result = Object.freeze({ ret: HV.HV_SUCCESS });

/**
 * Words of a vCPU's exit-record slot (addon/hv_x86_calls.cc): word 0 is a mask (bit k = word k is
 * valid), words 1..5 what hv_vmx_vcpu_read_vmcs returned for these fields right after the run.
 */
function exitWord(field: number): number {
  switch (field) {
    case VMCS.VMCS_RO_EXIT_REASON:
      return 1;
    case VMCS.VMCS_RO_EXIT_QUALIFIC:
      return 2;
    case VMCS.VMCS_GUEST_PHYSICAL_ADDRESS:
      return 3;
    case VMCS.VMCS_RO_VMEXIT_INSTR_LEN:
      return 4;
    case VMCS.VMCS_GUEST_RIP:
      return 5;
    default:
      return 0;
  }
}
const RIP_BIT = 1 << 5;

export class NativeX86Backend extends NativeBase<X86Addon> implements X86Backend {
  readonly arch = 'x86_64' as const;

  constructor(
    addon: X86Addon,
    readonly capabilities: Capabilities,
    private readonly closed: () => void,
  ) {
    super(addon);
  }

  protected onClose(): void {
    this.closed();
  }

  private value(ret: number): Result<bigint> {
    return ret === HV.HV_SUCCESS ? { ret, value: this.out[0] ?? 0n } : { ret };
  }

  hv_capability(t: ThreadId, capability: number): Result<bigint> {
    checkThread(t);
    checkU32('capability', capability);
    return this.value(this.addon.hv_capability(t, capability));
  }

  hv_vm_create(t: ThreadId, flags: bigint): Result {
    checkThread(t);
    checkU64('flags', flags);
    return { ret: this.addon.hv_vm_create(t, flags) };
  }

  hv_vm_destroy(t: ThreadId): Result {
    checkThread(t);
    return { ret: this.addon.hv_vm_destroy(t) };
  }

  hv_vm_space_create(t: ThreadId): Result<AddressSpace> {
    checkThread(t);
    const ret = this.addon.hv_vm_space_create(t);
    return ret === HV.HV_SUCCESS ? { ret, value: Number(this.out[0]) as AddressSpace } : { ret };
  }

  hv_vm_space_destroy(t: ThreadId, asid: AddressSpace): Result {
    checkThread(t);
    checkU32('asid', asid);
    return { ret: this.addon.hv_vm_space_destroy(t, asid) };
  }

  hv_vm_map(t: ThreadId, uva: Uva, gpa: bigint, size: bigint, flags: number): Result {
    checkThread(t);
    const src = this.uva(uva);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
    if (src === undefined) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: this.addon.hv_vm_map(t, src.id, src.offset, gpa, size, flags) };
  }

  hv_vm_unmap(t: ThreadId, gpa: bigint, size: bigint): Result {
    checkThread(t);
    checkU64('gpa', gpa);
    checkU64('size', size);
    return { ret: this.addon.hv_vm_unmap(t, gpa, size) };
  }

  hv_vm_protect(t: ThreadId, gpa: bigint, size: bigint, flags: number): Result {
    checkThread(t);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
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
    checkThread(t);
    checkU32('asid', asid);
    const src = this.uva(uva);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
    if (src === undefined) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: this.addon.hv_vm_map_space(t, asid, src.id, src.offset, gpa, size, flags) };
  }

  hv_vm_unmap_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint): Result {
    checkThread(t);
    checkU32('asid', asid);
    checkU64('gpa', gpa);
    checkU64('size', size);
    return { ret: this.addon.hv_vm_unmap_space(t, asid, gpa, size) };
  }

  hv_vm_protect_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint, flags: number): Result {
    checkThread(t);
    checkU32('asid', asid);
    checkU64('gpa', gpa);
    checkU64('size', size);
    checkU32('flags', flags);
    return { ret: this.addon.hv_vm_protect_space(t, asid, gpa, size, flags) };
  }

  hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu> {
    checkThread(t);
    checkU64('flags', flags);
    const ret = this.addon.hv_vcpu_create(t, flags);
    return ret === HV.HV_SUCCESS ? { ret, value: this.created(t) as Vcpu } : { ret };
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    const ret = this.addon.hv_vcpu_destroy(t, vcpu);
    if (ret === HV.HV_SUCCESS) this.vcpus.delete(vcpu);
    return { ret };
  }

  hv_vcpu_set_space(t: ThreadId, vcpu: Vcpu, asid: AddressSpace): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('asid', asid);
    return { ret: this.addon.hv_vcpu_set_space(t, vcpu, asid) };
  }

  hv_vcpu_read_register(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    return this.value(this.addon.hv_vcpu_read_register(t, vcpu, reg));
  }

  hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
    this.forgetRip(vcpu);
    return { ret: this.addon.hv_vcpu_write_register(t, vcpu, reg, value) };
  }

  hv_vmx_read_capability(t: ThreadId, field: number): Result<bigint> {
    checkThread(t);
    checkU32('field', field);
    return this.value(this.addon.hv_vmx_read_capability(t, field));
  }

  /**
   * The exit fields a VMM reads after every exit (reason, qualification, GPA, instruction length)
   * and VMCS_GUEST_RIP come from the exit record that hv_vcpu_run filled on the owner thread — no
   * crossing into C — as long as the caller is the owner thread (any other thread gets the C
   * call's own code) and, for RIP, nothing was written since the run. (The addon records
   * VMCS_GUEST_PHYSICAL_ADDRESS only after EPT exits, the only ones where it means something; other
   * reads of it ask the API, which answers the same.)
   */
  hv_vmx_vcpu_read_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('field', field);
    const word = exitWord(field);
    if (word !== 0) {
      const v = this.vcpus.get(vcpu);
      if (v !== undefined && v.owner === t && (this.busy.size === 0 || !this.busy.has(t))) {
        const base = v.slot * this.slotWords;
        if ((this.rec32[base * 2] ?? 0) & (1 << word))
          return { ret: HV.HV_SUCCESS, value: this.rec[base + word] ?? 0n };
      }
    }
    return this.value(this.addon.hv_vmx_vcpu_read_vmcs(t, vcpu, field));
  }

  hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('field', field);
    checkU64('value', value);
    this.forgetRip(vcpu);
    return { ret: this.addon.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value) };
  }

  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    const ret = this.addon.hv_vcpu_run(t, vcpu);
    return ret === HV.HV_SUCCESS ? OK : { ret };
  }

  hv_vcpu_run_until(t: ThreadId, vcpu: Vcpu, deadline: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU64('deadline', deadline);
    return { ret: this.addon.hv_vcpu_run_until(t, vcpu, deadline) };
  }

  /** Needs a logical thread > 0: thread 0 is the JS thread, which must not block in the guest. */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result> {
    return this.startAsync(t, vcpu).then((ret) => ({ ret }));
  }

  hv_vcpu_interrupt(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    checkThread(t);
    checkVcpuList('vcpus', vcpus, 'vcpu_count', vcpu_count);
    if (vcpu_count > vcpus.length)
      throw new TypeError(`vcpu_count ${vcpu_count} exceeds vcpus.length ${vcpus.length}`);
    return { ret: this.addon.hv_vcpu_interrupt(t, vcpus, vcpu_count) };
  }

  /** A register or VMCS write may change RIP: later RIP reads go to the API. */
  private forgetRip(vcpu: number): void {
    const v = this.vcpus.get(vcpu);
    if (v === undefined || (this.busy.size !== 0 && this.busy.has(v.owner))) return;
    const mask = v.slot * this.slotWords * 2;
    this.rec32[mask] = (this.rec32[mask] ?? 0) & ~RIP_BIT;
  }
}
