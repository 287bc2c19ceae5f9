/**
 * The x86 flavour of the native backend: the KVM provider on Linux, Hypervisor.framework on Intel
 * Macs. The `hv_*` methods come from the registry (generated/calls.ts); this class adds the ones that
 * keep the wrapper's own state: vCPU exit-record slots and the exit record a run fills.
 * @module
 */
import {
  type Capabilities,
  HV,
  type Result,
  type ThreadId,
  type Vcpu,
  VMCS,
  X86_ARG_CHECKS,
  type X86Backend,
} from '@hvspec/spec';
import type { X86Addon } from './addon.js';
import { X86Calls } from './generated/calls.js';

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

export class NativeX86Backend extends X86Calls<X86Addon> implements X86Backend {
  readonly arch = 'x86_64' as const;

  /**
   * Built by {@link createNativeBackend}, which loads the addon and probes the host.
   * @internal
   */
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

  hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu> {
    X86_ARG_CHECKS.hv_vcpu_create(t, flags);
    const ret = this.addon.hv_vcpu_create(t, flags);
    return ret === HV.HV_SUCCESS ? { ret, value: this.created(t) as Vcpu } : { ret };
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    X86_ARG_CHECKS.hv_vcpu_destroy(t, vcpu);
    const ret = this.addon.hv_vcpu_destroy(t, vcpu);
    if (ret === HV.HV_SUCCESS) this.vcpus.delete(vcpu);
    return { ret };
  }

  hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    X86_ARG_CHECKS.hv_vcpu_write_register(t, vcpu, reg, value);
    this.forgetRip(vcpu);
    return { ret: this.addon.hv_vcpu_write_register(t, vcpu, reg, value) };
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
    X86_ARG_CHECKS.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
    const word = exitWord(field);
    if (word !== 0) {
      const v = this.vcpus.get(vcpu);
      if (v !== undefined && v.owner === t && (this.busy.size === 0 || !this.busy.has(t))) {
        const base = v.slot * this.slotWords;
        if ((this.rec32[base * 2] ?? 0) & (1 << word))
          return { ret: HV.HV_SUCCESS, value: this.rec[base + word] ?? 0n };
      }
    }
    return this.outU64(this.addon.hv_vmx_vcpu_read_vmcs(t, vcpu, field));
  }

  hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    X86_ARG_CHECKS.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value);
    this.forgetRip(vcpu);
    return { ret: this.addon.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value) };
  }

  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result {
    X86_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    const ret = this.addon.hv_vcpu_run(t, vcpu);
    return ret === HV.HV_SUCCESS ? OK : { ret };
  }

  /** Needs a logical thread > 0: thread 0 is the JS thread, which must not block in the guest. */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result> {
    return this.startAsync(t, vcpu).then((ret) => ({ ret }));
  }

  /** A register or VMCS write may change RIP: later RIP reads go to the API. */
  private forgetRip(vcpu: number): void {
    const v = this.vcpus.get(vcpu);
    if (v === undefined || (this.busy.size !== 0 && this.busy.has(v.owner))) return;
    const mask = v.slot * this.slotWords * 2;
    this.rec32[mask] = (this.rec32[mask] ?? 0) & ~RIP_BIT;
  }
}
