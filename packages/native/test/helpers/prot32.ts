/**
 * The spec's canonical x86 guest setup for tests of the native backend: 32-bit flat protected mode,
 * paging off, written with VMCS writes on the vCPU's owner thread.
 */
import assert from 'node:assert/strict';
import {
  CPU_BASED,
  canonicalizeControl,
  HV,
  HV_MEMORY,
  HV_VMX_CAP,
  hvReturnName,
  type Vcpu,
  VMCS,
  type X86Backend,
} from '@hvspec/spec';

/** A setup call that did not return HV_SUCCESS: which one, and its code (fault tests read both). */
export class SetupFailed extends assert.AssertionError {
  constructor(
    readonly call: string,
    readonly ret: number,
  ) {
    super({
      message: `${call}: ${hvReturnName(ret)}`,
      actual: ret,
      expected: HV.HV_SUCCESS,
      operator: '===',
    });
  }
}

/** Guest RAM mapped readable, writable and executable: how these tests map the RAM the setup runs in. */
export const RWX = HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC;

function ok(r: { ret: number }, what: string): void {
  if (r.ret !== HV.HV_SUCCESS) throw new SetupFailed(what, r.ret);
}

/** The vCPU's full exit reason (VMCS_RO_EXIT_REASON), read on its owner thread; SetupFailed if the read fails. */
export function exitReason(b: X86Backend, t: number, vcpu: Vcpu): bigint {
  const r = b.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_EXIT_REASON);
  ok(r, 'hv_vmx_vcpu_read_vmcs(VMCS_RO_EXIT_REASON)');
  return r.value!;
}

/** Writes a VMCS field on the vCPU's owner thread and insists on success. */
function vmcs(b: X86Backend, t: number, vcpu: Vcpu, field: number, value: bigint | number): void {
  ok(b.hv_vmx_vcpu_write_vmcs(t, vcpu, field, BigInt(value)), `write VMCS 0x${field.toString(16)}`);
}

/**
 * 32-bit flat protected mode, paging off, as Apple's own x86 test sets it up (hvf-facts.md §1.8 [T]):
 * controls canonicalised against hv_vmx_read_capability with HLT exiting, CR0 0x21, CR4 0x2000,
 * flat segments (AR 0xc093 data, 0xc09b code), TR AR 0x8b, LDTR unusable, RFLAGS 0x2.
 */
export function setupProt32(b: X86Backend, t: number, vcpu: Vcpu, rip: bigint): void {
  const cap = (id: number): bigint => {
    const r = b.hv_vmx_read_capability(t, id);
    ok(r, `hv_vmx_read_capability(${id})`);
    return r.value!;
  };
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_PIN_BASED, canonicalizeControl(cap(HV_VMX_CAP.HV_VMX_CAP_PINBASED), 0));
  vmcs(
    b,
    t,
    vcpu,
    VMCS.VMCS_CTRL_CPU_BASED,
    canonicalizeControl(
      cap(HV_VMX_CAP.HV_VMX_CAP_PROCBASED),
      CPU_BASED.CPU_BASED_HLT | CPU_BASED.CPU_BASED_CR8_LOAD | CPU_BASED.CPU_BASED_CR8_STORE,
    ),
  );
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_CPU_BASED2, canonicalizeControl(cap(HV_VMX_CAP.HV_VMX_CAP_PROCBASED2), 0));
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_VMENTRY_CONTROLS, canonicalizeControl(cap(HV_VMX_CAP.HV_VMX_CAP_ENTRY), 0));
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_VMEXIT_CONTROLS, canonicalizeControl(cap(HV_VMX_CAP.HV_VMX_CAP_EXIT), 0));
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_EXC_BITMAP, 0xffffffff);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_CR0, 0x21);
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_CR0_MASK, 0xffff_ffff_ffff_ffffn);
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_CR0_SHADOW, 0x21);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_CR3, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_CR4, 0x2000);
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_CR4_MASK, 0xffff_ffff_ffff_ffffn);
  vmcs(b, t, vcpu, VMCS.VMCS_CTRL_CR4_SHADOW, 0);
  for (const [sel, base, limit, ar, value, arValue] of [
    [
      VMCS.VMCS_GUEST_ES,
      VMCS.VMCS_GUEST_ES_BASE,
      VMCS.VMCS_GUEST_ES_LIMIT,
      VMCS.VMCS_GUEST_ES_AR,
      0x8,
      0xc093,
    ],
    [
      VMCS.VMCS_GUEST_SS,
      VMCS.VMCS_GUEST_SS_BASE,
      VMCS.VMCS_GUEST_SS_LIMIT,
      VMCS.VMCS_GUEST_SS_AR,
      0x8,
      0xc093,
    ],
    [
      VMCS.VMCS_GUEST_DS,
      VMCS.VMCS_GUEST_DS_BASE,
      VMCS.VMCS_GUEST_DS_LIMIT,
      VMCS.VMCS_GUEST_DS_AR,
      0x8,
      0xc093,
    ],
    [
      VMCS.VMCS_GUEST_FS,
      VMCS.VMCS_GUEST_FS_BASE,
      VMCS.VMCS_GUEST_FS_LIMIT,
      VMCS.VMCS_GUEST_FS_AR,
      0x8,
      0xc093,
    ],
    [
      VMCS.VMCS_GUEST_GS,
      VMCS.VMCS_GUEST_GS_BASE,
      VMCS.VMCS_GUEST_GS_LIMIT,
      VMCS.VMCS_GUEST_GS_AR,
      0x8,
      0xc093,
    ],
    [
      VMCS.VMCS_GUEST_CS,
      VMCS.VMCS_GUEST_CS_BASE,
      VMCS.VMCS_GUEST_CS_LIMIT,
      VMCS.VMCS_GUEST_CS_AR,
      0x10,
      0xc09b,
    ],
  ] as const) {
    vmcs(b, t, vcpu, sel, value);
    vmcs(b, t, vcpu, base, 0);
    vmcs(b, t, vcpu, limit, 0xffffffff);
    vmcs(b, t, vcpu, ar, arValue);
  }
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_TR, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_TR_BASE, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_TR_LIMIT, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_TR_AR, 0x8b);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_LDTR, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_LDTR_BASE, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_LDTR_LIMIT, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_LDTR_AR, 0x10000);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_GDTR_BASE, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_GDTR_LIMIT, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_IDTR_BASE, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_IDTR_LIMIT, 0);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_RFLAGS, 0x2);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_RSP, 0x8000);
  vmcs(b, t, vcpu, VMCS.VMCS_GUEST_RIP, rip);
}
