/**
 * How the model turns an engine stop into the read-only VMCS exit fields a VMM reads with
 * `hv_vmx_vcpu_read_vmcs` (VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC, VMCS_GUEST_PHYSICAL_ADDRESS,
 * VMCS_RO_GUEST_LIN_ADDR, VMCS_RO_VMEXIT_INSTR_LEN, VMCS_RO_VMEXIT_IRQ_INFO / _IRQ_ERROR), and what a
 * guest exception becomes under the VMM's exception bitmap and the guest's IDTR. Written independently of the spec's encoders
 * (packages/spec/src/guest/x86/exits.ts) so that the two can be checked against each other.
 * @module
 */
import { EPT_QUAL, HV_MEMORY, IO_QUAL, IRQ_INFO, VMX_REASON } from '@hvspec/spec';
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
  /** VMCS_RO_VMEXIT_IRQ_INFO (exception exits, reason 0). */
  readonly irqInfo?: number;
  /** VMCS_RO_VMEXIT_IRQ_ERROR (exception exits whose exception pushes an error code). */
  readonly irqError?: number;
}

/** The controls and guest state that decide what a guest exception becomes. */
export interface X86ExceptionControls {
  /** VMCS_CTRL_EXC_BITMAP. */
  readonly excBitmap: number;
  /** VMCS_GUEST_IDTR_LIMIT. */
  readonly idtrLimit: number;
}

/** The canonical setup's values: every exception exits, IDTR limit 0 (hvf-facts.md §1.8 [T]). */
export const X86_CANONICAL_EXCEPTION_CONTROLS: X86ExceptionControls = {
  excBitmap: 0xffff_ffff,
  idtrLimit: 0,
};

/** What a guest exception becomes. */
export type X86ExceptionOutcome =
  | { readonly kind: 'exit'; readonly vector: number; readonly errorCode?: number }
  | { readonly kind: 'triple-fault' }
  | { readonly kind: 'unsupported'; readonly reason: string };

const DF = 8;
const GP = 13;
const intercepted = (c: X86ExceptionControls, vector: number): boolean =>
  ((c.excBitmap >>> vector) & 1) === 1;
/** Whether the IDT holds the 8-byte gate of `vector` (Intel SDM Vol. 3 §6.10: else delivery raises #GP). */
const hasGate = (c: X86ExceptionControls, vector: number): boolean => c.idtrLimit >= vector * 8 + 7;

/**
 * A guest exception under the VMM's controls. Its bit in the exception bitmap makes it exit with
 * reason 0 (Intel SDM "Exceptions"; hvf-facts.md §1.6, §1.8 [T]). Otherwise the guest delivers it
 * through its IDT. The model does not walk guest IDTs; it knows only the case of the canonical setup,
 * an IDT without the gate: delivery raises #GP, whose delivery fails the same way, which makes a #DF,
 * whose failure is a triple fault (Intel SDM Vol. 3 §6.15, interrupts 8 and 13). When #GP or #DF is
 * intercepted on the way, or a gate exists, the outcome is `unsupported` (the model would need
 * IDT-vectoring information or guest IDT delivery).
 */
export function x86ExceptionOutcome(
  vector: number,
  errorCode: number | undefined,
  c: X86ExceptionControls,
): X86ExceptionOutcome {
  if (intercepted(c, vector))
    return { kind: 'exit', vector, ...(errorCode !== undefined ? { errorCode } : {}) };
  for (const v of [vector, GP, DF]) {
    if (hasGate(c, v))
      return {
        kind: 'unsupported',
        reason: `delivery of vector ${v} through the guest IDT is outside the model`,
      };
    if (v !== vector && intercepted(c, v))
      return {
        kind: 'unsupported',
        reason: `vector ${v} raised while delivering vector ${vector} exits with IDT-vectoring information, outside the model`,
      };
  }
  return { kind: 'triple-fault' };
}

/** Vectors whose hardware exceptions push an error code (Intel SDM Vol. 3 Table 6-1). */
const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** VMCS_RO_VMEXIT_IRQ_INFO of a hardware exception: vector | type 3 << 8 | error valid << 11 | valid << 31. */
export function x86ExceptionIrqInfo(vector: number, errorCode: number | undefined): number {
  const errorValid = errorCode !== undefined && HAS_ERROR_CODE.has(vector);
  return (
    (IRQ_INFO.IRQ_INFO_VALID +
      IRQ_INFO.IRQ_INFO_HARD_EXC +
      (errorValid ? IRQ_INFO.IRQ_INFO_ERROR_VALID : 0) +
      (vector & 0xff)) >>>
    0
  );
}

/**
 * The exit fields for a stop, or undefined for stops that are not VM exits (`unsupported`, `budget`, an
 * exception the model cannot deliver).
 * EPT qualification: access bit, the mapping's R/W/X as bits 3–5, and bits 7 + 8 (the guest-linear
 * address is valid and was translated; with paging off every access is the translation of a linear
 * address). Bits 6 and 9–11 are 0: the model behaves like a CPU without mode-based execute control and
 * without advanced EPT-violation information (the spec leaves those bits unpinned).
 * A guest exception is decided by `controls` (default: the canonical setup's, where it always exits);
 * the instruction length of a hardware-exception exit is not defined (Intel SDM) and is left out.
 */
export function x86ExitFields(
  stop: X86Stop,
  controls: X86ExceptionControls = X86_CANONICAL_EXCEPTION_CONTROLS,
): X86ExitFields | undefined {
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
    case 'exception': {
      const o = x86ExceptionOutcome(stop.vector, stop.errorCode, controls);
      if (o.kind === 'unsupported') return undefined;
      if (o.kind === 'triple-fault') return { reason: VMX_REASON.VMX_REASON_TRIPLE_FAULT, qualification: 0n };
      const irqInfo = x86ExceptionIrqInfo(o.vector, o.errorCode);
      return {
        reason: VMX_REASON.VMX_REASON_EXC_NMI,
        qualification: 0n,
        irqInfo,
        ...(irqInfo & IRQ_INFO.IRQ_INFO_ERROR_VALID ? { irqError: o.errorCode ?? 0 } : {}),
      };
    }
    case 'unsupported':
    case 'budget':
      return undefined;
  }
}
