/**
 * How the model turns an engine stop into the read-only VMCS exit fields a VMM reads with
 * `hv_vmx_vcpu_read_vmcs`: VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC, VMCS_GUEST_PHYSICAL_ADDRESS,
 * VMCS_RO_GUEST_LIN_ADDR, VMCS_RO_VMEXIT_INSTR_LEN, VMCS_RO_VMEXIT_IRQ_INFO / _IRQ_ERROR and
 * VMCS_RO_IDT_VECTOR_INFO / _ERROR (Intel SDM Vol. 3 §28.2; hvf-facts.md §1.5, §1.6). The engine has
 * already decided what each guest event becomes (interp.ts). Written independently of the spec's encoders
 * (packages/spec/src/guest/x86/exits.ts) so that the two can be checked against each other.
 * @module
 */
import { EPT_QUAL, HV_MEMORY, IO_QUAL, IRQ_INFO, VMX_REASON } from '@hvspec/spec';
import type { X86EventInfo, X86Stop } from '../engine.js';

/** The exit-information fields of one exit. */
export interface X86ExitFields {
  /** VMCS_RO_EXIT_REASON (basic reason; bit 31 clear). */
  readonly reason: number;
  /** VMCS_RO_EXIT_QUALIFIC. */
  readonly qualification: bigint;
  /** VMCS_GUEST_PHYSICAL_ADDRESS (EPT violations). */
  readonly gpa?: bigint;
  /** VMCS_RO_GUEST_LIN_ADDR (EPT violations, INS/OUTS). */
  readonly gla?: bigint;
  /**
   * VMCS_RO_VMEXIT_INSTR_LEN where VMX defines it: instruction exits, software exceptions, and exits
   * during the delivery of a software event (SDM §28.2.4, §28.2.5). Undefined for EPT violations and
   * hardware exceptions (hvf-facts.md §1.6): the model's API layer reports 0 there, as the KVM provider
   * does (kvm-provider-notes §4).
   */
  readonly instrLen?: number;
  /** VMCS_RO_VMEXIT_IRQ_INFO (exception exits, reason 0). */
  readonly irqInfo?: number;
  /** VMCS_RO_VMEXIT_IRQ_ERROR (exception exits whose exception delivers an error code). */
  readonly irqError?: number;
  /** VMCS_RO_IDT_VECTOR_INFO: the event being delivered when the exit happened (valid bit set), else 0. */
  readonly idtVectorInfo?: number;
  /** VMCS_RO_IDT_VECTOR_ERROR (when the IDT-vectoring information has the error-code-valid bit). */
  readonly idtVectorError?: number;
}

/** Interruption types (bits 10:8 of the interruption-information fields; Intel SDM Table 25-17). */
const TYPE_BITS: Record<X86EventInfo['type'], number> = {
  'hardware-exception': IRQ_INFO.IRQ_INFO_HARD_EXC,
  'software-interrupt': IRQ_INFO.IRQ_INFO_SOFT_IRQ,
  'privileged-software-exception': IRQ_INFO.IRQ_INFO_PRIV_SOFT_EXC,
  'software-exception': IRQ_INFO.IRQ_INFO_SOFT_EXC,
};

/**
 * An interruption-information field (VM-exit or IDT-vectoring): vector | type << 8 | error-code valid
 * << 11 | valid << 31. Bit 12 (NMI unblocking due to IRET) is 0: no exit of the model comes from an IRET.
 */
export function x86InterruptionInfo(e: X86EventInfo): number {
  return (
    (IRQ_INFO.IRQ_INFO_VALID +
      TYPE_BITS[e.type] +
      (e.errorCode !== undefined ? IRQ_INFO.IRQ_INFO_ERROR_VALID : 0) +
      (e.vector & 0xff)) >>>
    0
  );
}

/** The qualification of an EPT violation: access bit, the mapping's R/W/X as bits 3–5, bits 7 and 8. */
export function x86EptQualification(stop: Extract<X86Stop, { kind: 'ept' }>): bigint {
  const f = stop.fault;
  let q = f.access === 'read' ? EPT_QUAL.READ : f.access === 'write' ? EPT_QUAL.WRITE : EPT_QUAL.FETCH;
  if (f.perms & HV_MEMORY.READ) q |= EPT_QUAL.READABLE;
  if (f.perms & HV_MEMORY.WRITE) q |= EPT_QUAL.WRITABLE;
  if (f.perms & HV_MEMORY.EXEC) q |= EPT_QUAL.EXECUTABLE;
  // Bit 7: every access of the model comes from a linear address; bit 8: it was to the translation of
  // one, not to a paging structure (SDM Table 28-7).
  q |= EPT_QUAL.GLA_VALID;
  if (!stop.structure) q |= EPT_QUAL.GLA_TRANSLATED;
  return BigInt(q);
}

/**
 * The exit fields for a stop, or undefined for stops that are not VM exits (`unsupported`, `budget`).
 * Bits 6 and 9–11 of an EPT qualification are 0: the model behaves like a CPU without mode-based
 * execute control and without advanced EPT-violation information (the spec leaves those bits unpinned).
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
        ...(stop.gla !== undefined ? { gla: stop.gla } : {}),
      };
    }
    case 'hlt':
      return { reason: VMX_REASON.VMX_REASON_HLT, qualification: 0n, instrLen: stop.len };
    case 'vmcall':
      return { reason: VMX_REASON.VMX_REASON_VMCALL, qualification: 0n, instrLen: stop.len };
    case 'cpuid':
      return { reason: VMX_REASON.VMX_REASON_CPUID, qualification: 0n, instrLen: stop.len };
    case 'rdmsr':
      return { reason: VMX_REASON.VMX_REASON_RDMSR, qualification: 0n, instrLen: stop.len };
    case 'wrmsr':
      return { reason: VMX_REASON.VMX_REASON_WRMSR, qualification: 0n, instrLen: stop.len };
    case 'mov-cr':
      // Bits 3:0 the CR, 5:4 the access type (0 MOV to CR, 1 MOV from CR), 11:8 the GPR (SDM Table 28-3).
      return {
        reason: VMX_REASON.VMX_REASON_MOV_CR,
        qualification: BigInt(stop.cr | ((stop.write ? 0 : 1) << 4) | (stop.gpr << 8)),
        instrLen: stop.len,
      };
    case 'mov-dr':
      // Bits 2:0 the DR, bit 4 the direction (0 MOV to DR, 1 MOV from DR), 11:8 the GPR (SDM Table 28-4).
      return {
        reason: VMX_REASON.VMX_REASON_MOV_DR,
        qualification: BigInt(stop.dr | ((stop.write ? 0 : 1) << 4) | (stop.gpr << 8)),
        instrLen: stop.len,
      };
    case 'ept':
      return {
        reason: VMX_REASON.VMX_REASON_EPT_VIOLATION,
        qualification: x86EptQualification(stop),
        gpa: stop.fault.gpa,
        gla: stop.gla,
        ...eventFields(stop.during),
      };
    case 'triple-fault':
      return { reason: VMX_REASON.VMX_REASON_TRIPLE_FAULT, qualification: 0n };
    case 'exception': {
      const e = stop.event;
      const len = e.len ?? stop.during?.len;
      return {
        reason: VMX_REASON.VMX_REASON_EXC_NMI,
        qualification: stop.qualification,
        irqInfo: x86InterruptionInfo(e),
        ...(e.errorCode !== undefined ? { irqError: e.errorCode } : {}),
        ...eventFields(stop.during),
        ...(len !== undefined ? { instrLen: len } : {}),
      };
    }
    case 'unsupported':
    case 'budget':
      return undefined;
  }
}

/** The IDT-vectoring fields for the event being delivered, if any (else the field is invalid: 0). */
function eventFields(during: X86EventInfo | undefined): { idtVectorInfo: number; idtVectorError?: number } {
  if (during === undefined) return { idtVectorInfo: 0 };
  return {
    idtVectorInfo: x86InterruptionInfo(during),
    ...(during.errorCode !== undefined ? { idtVectorError: during.errorCode } : {}),
  };
}
