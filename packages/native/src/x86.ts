/**
 * The x86 flavour of the native backend: the KVM provider on Linux, Hypervisor.framework on Intel
 * Macs. The `hv_*` methods come from the registry (generated/calls.ts); this class adds the ones that
 * keep the wrapper's own state: vCPU exit-record slots and the exit record a run fills.
 * @module
 */
import {
  type Capabilities,
  checkU64,
  HV,
  type Result,
  type ThreadId,
  type Vcpu,
  VMCS,
  X86_ARG_CHECKS,
  type X86Backend,
} from '@hvspec/spec';
import type { X86Addon } from './addon.js';
import { OK } from './base.js';
import { X86Calls } from './generated/calls.js';

// The exit fields of a vCPU's exit-record slot (addon/hv_x86_calls.cc), as module constants: each
// read compares its field against these, and V8 folds a module `const` into the compiled code where
// a property of `VMCS` would be loaded and checked on every call.
const EXIT_REASON = VMCS.VMCS_RO_EXIT_REASON;
const EXIT_QUALIFIC = VMCS.VMCS_RO_EXIT_QUALIFIC;
const GUEST_PHYSICAL_ADDRESS = VMCS.VMCS_GUEST_PHYSICAL_ADDRESS;
const VMEXIT_INSTR_LEN = VMCS.VMCS_RO_VMEXIT_INSTR_LEN;
const GUEST_RIP = VMCS.VMCS_GUEST_RIP;

/**
 * The word of a vCPU's exit-record slot that holds `field`, or 0: word 0 is a mask (bit k = word k
 * is valid), words 1..5 what hv_vmx_vcpu_read_vmcs returned for these fields right after the run
 * (or, for RIP, a deferred write since), word 6 the writes deferred to the addon.
 */
function exitWord(field: number): number {
  return field === EXIT_REASON
    ? 1
    : field === VMEXIT_INSTR_LEN
      ? 4
      : field === GUEST_RIP
        ? 5
        : field === EXIT_QUALIFIC
          ? 2
          : field === GUEST_PHYSICAL_ADDRESS
            ? 3
            : 0;
}
const SUCCESS = HV.HV_SUCCESS;
const RIP_WORD = 5;
const RIP_BIT = 1 << RIP_WORD;
/** The deferred-writes word (kDeferredWord in addon/core.h) and its VMCS_GUEST_RIP flag. */
const DEFERRED_WORD = 6;
const DEFERRED_RIP = 1;

export class NativeX86Backend extends X86Calls<X86Addon> implements X86Backend {
  readonly arch = 'x86_64' as const;
  /** The shared run call's first u32 in `rec32` (the vCPU; the hv_return_t follows), and its function. */
  private readonly runCall: number;
  private readonly runShared: () => void;

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
    this.runCall = addon.runCallWord * 2;
    this.runShared = addon.run_shared;
  }

  protected onClose(): void {
    this.closed();
  }

  hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu> {
    X86_ARG_CHECKS.hv_vcpu_create(t, flags);
    return this.created(t, this.addon.hv_vcpu_create(t, flags));
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    X86_ARG_CHECKS.hv_vcpu_destroy(t, vcpu);
    return this.destroyed(vcpu, this.addon.hv_vcpu_destroy(t, vcpu));
  }

  hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    X86_ARG_CHECKS.hv_vcpu_write_register(t, vcpu, reg, value);
    this.forgetRip(vcpu);
    return this.result(this.addon.hv_vcpu_write_register(t, vcpu, reg, value));
  }

  /**
   * The exit fields a VMM reads after every exit (reason, qualification, GPA, instruction length)
   * and VMCS_GUEST_RIP come from the exit record that hv_vcpu_run filled on the owner thread — no
   * crossing into C — as long as the caller is the owner thread (any other thread gets the C
   * call's own code) and, for RIP, nothing was written since the run but a deferred RIP write.
   * (The addon records VMCS_GUEST_PHYSICAL_ADDRESS only after EPT exits, the only ones where it means
   * something; other reads of it ask the API, which answers the same.)
   */
  hv_vmx_vcpu_read_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint> {
    const word = exitWord(field);
    // The fast pair passed the checks before, and `field` is one of the record's: nothing to check.
    // (The rest is a method of its own, so that V8 inlines this part into the VMM's loop.)
    if (word !== 0 && vcpu === this.fastVcpu && t === this.fastThread) {
      const base = this.fastBase;
      if (((this.rec32[base * 2] as number) & (1 << word)) !== 0) return this.recorded(base + word);
    }
    return this.readVmcs(t, vcpu, field, word);
  }

  private readVmcs(t: ThreadId, vcpu: Vcpu, field: number, word: number): Result<bigint> {
    X86_ARG_CHECKS.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
    const base = word === 0 ? -1 : this.ownedSlot(t, vcpu);
    if (base >= 0 && ((this.rec32[base * 2] as number) & (1 << word)) !== 0)
      return this.recorded(base + word);
    return this.outU64(this.addon.hv_vmx_vcpu_read_vmcs(t, vcpu, field));
  }

  /**
   * A write of VMCS_GUEST_RIP by the vCPU's owner — what a VMM does after every exit that it
   * emulates — is answered here and left in the exit record for the addon, which makes the same
   * hv_vmx_vcpu_write_vmcs call on the owner thread before the vCPU's next call of any kind
   * (addon/core.h kDeferredWord): one crossing into C per exit instead of two. The answer is the
   * spec's: HV_SUCCESS for a guest-state field of a live vCPU on its owner thread (the `ok` row,
   * [T]), and later reads of RIP see the value. Other writes, and other threads, go to the API.
   */
  hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    if (field === GUEST_RIP && vcpu === this.fastVcpu && t === this.fastThread) {
      checkU64('value', value);
      return this.deferRip(this.fastBase, value);
    }
    return this.writeVmcs(t, vcpu, field, value);
  }

  private writeVmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    X86_ARG_CHECKS.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value);
    const base = field === GUEST_RIP ? this.ownedSlot(t, vcpu) : -1;
    if (base >= 0) return this.deferRip(base, value);
    this.forgetRip(vcpu);
    return this.result(this.addon.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value));
  }

  /** Leaves `value` as the slot's RIP, valid for reads, and owed to the API (kDeferredWord). */
  private deferRip(base: number, value: bigint): Result {
    this.rec[base + RIP_WORD] = value;
    this.rec32[base * 2] = (this.rec32[base * 2] as number) | RIP_BIT;
    this.rec32[(base + DEFERRED_WORD) * 2] =
      (this.rec32[(base + DEFERRED_WORD) * 2] as number) | DEFERRED_RIP;
    return OK;
  }

  /** On thread 0 through the shared run call (addon/core.h kRunCallWord): the one crossing of every exit. */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result {
    if (t !== 0 || vcpu !== this.fastVcpu || t !== this.fastThread) return this.run(t, vcpu);
    this.rec32[this.runCall] = vcpu;
    this.runShared();
    const ret = this.rec32[this.runCall + 1] as number;
    return ret === SUCCESS ? OK : { ret };
  }

  private run(t: ThreadId, vcpu: Vcpu): Result {
    X86_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    return this.result(t === 0 ? this.runOnZero(vcpu) : this.addon.hv_vcpu_run(t, vcpu));
  }

  private runOnZero(vcpu: Vcpu): number {
    this.rec32[this.runCall] = vcpu;
    this.runShared();
    return this.rec32[this.runCall + 1] as number;
  }

  /** Needs a logical thread > 0: thread 0 is the JS thread, which must not block in the guest. */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result> {
    return this.startAsync(t, vcpu).then((ret) => ({ ret }));
  }

  /** A register or VMCS write may change RIP: later RIP reads go to the API. */
  private forgetRip(vcpu: number): void {
    const v = this.vcpus.get(vcpu);
    if (v === undefined || this.busy.has(v.owner)) return;
    const mask = v.slot * this.slotWords * 2;
    this.rec32[mask] = (this.rec32[mask] ?? 0) & ~RIP_BIT;
  }
}
