/**
 * How the model turns an engine stop into the read-only VMCS exit fields a VMM reads with
 * `hv_vmx_vcpu_read_vmcs` (VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC, VMCS_GUEST_PHYSICAL_ADDRESS,
 * VMCS_RO_GUEST_LIN_ADDR, VMCS_RO_VMEXIT_INSTR_LEN). Written independently of the spec's encoders
 * (packages/spec/src/guest/x86/exits.ts) so that the two can be checked against each other.
 * @module
 */
import { EPT_QUAL, HV_MEMORY, IO_QUAL, VMX_REASON } from '@hvspec/spec';
import type { X86Stop } from '../engine.js';

/** The exit-information fields of one exit. */
export interface X86ExitFields {
  /** VMCS_RO_EXIT_REASON (basic reason; bit 31 clear). */
  readonly reason: number;
  /** VMCS_RO_EXIT_QUALIFIC. */
  readonly qualification: bigint;
  /** VMCS_GUEST_PHYSICAL_ADDRESS (EPT violations). */
  readonly gpa?: bigint;
  /** VMCS_RO_GUEST_LIN_ADDR (EPT violations). */
  readonly gla?: bigint;
  /**
   * VMCS_RO_VMEXIT_INSTR_LEN for I/O and HLT. Undefined for EPT violations (Intel SDM; hvf-facts.md
   * §1.6): the model's API layer reports 0 there, as the KVM provider does (kvm-provider-notes §4).
   */
  readonly instrLen?: number;
}

/**
 * The exit fields for a stop, or undefined for stops that are not VM exits (`unsupported`, `budget`).
 * EPT qualification: access bit, the mapping's R/W/X as bits 3–5, and bits 7 + 8 (the guest-linear
 * address is valid and was translated; with paging off every access is the translation of a linear
 * address). Bits 6 and 9–11 are 0: the model behaves like a CPU without mode-based execute control and
 * without advanced EPT-violation information (the spec leaves those bits unpinned).
 */
export function x86ExitFields(stop: X86Stop): X86ExitFields | undefined {
  switch (stop.kind) {
    case 'io': {
      let q = stop.size - 1;
      if (stop.in) q |= IO_QUAL.IN;
      if (stop.string) q |= IO_QUAL.STRING;
      if (stop.rep) q |= IO_QUAL.REP;
      if (stop.imm) q |= IO_QUAL.IMMEDIATE;
      return {
        reason: VMX_REASON.VMX_REASON_IO,
        qualification: BigInt(q) | (BigInt(stop.port) << 16n),
        instrLen: stop.len,
      };
    }
    case 'hlt':
      return { reason: VMX_REASON.VMX_REASON_HLT, qualification: 0n, instrLen: stop.len };
    case 'ept': {
      const f = stop.fault;
      let q = f.access === 'read' ? EPT_QUAL.READ : f.access === 'write' ? EPT_QUAL.WRITE : EPT_QUAL.FETCH;
      if (f.perms & HV_MEMORY.READ) q |= EPT_QUAL.READABLE;
      if (f.perms & HV_MEMORY.WRITE) q |= EPT_QUAL.WRITABLE;
      if (f.perms & HV_MEMORY.EXEC) q |= EPT_QUAL.EXECUTABLE;
      q |= EPT_QUAL.GLA_VALID | EPT_QUAL.GLA_TRANSLATED;
      return {
        reason: VMX_REASON.VMX_REASON_EPT_VIOLATION,
        qualification: BigInt(q),
        gpa: f.gpa,
        gla: stop.gla,
      };
    }
    case 'triple-fault':
      return { reason: VMX_REASON.VMX_REASON_TRIPLE_FAULT, qualification: 0n };
    case 'unsupported':
    case 'budget':
      return undefined;
  }
}
