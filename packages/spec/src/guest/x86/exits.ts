/**
 * Pure encoders and decoders of x86 VM-exit information: the exit-qualification layouts of I/O exits
 * and EPT violations (Intel SDM; hvf-facts.md §1.6 [T]), the VM-exit interruption information of
 * exception exits (§1.4 [H], §1.6), and the basic exit reason (hvf-facts.md §1.5 [H]).
 * Nothing here touches a backend; the prediction, the model and the harness all encode through these.
 * @module
 */

import { HV_MEMORY } from '../../vocabulary/memory.js';
import {
  EPT_QUAL,
  IO_QUAL,
  IRQ_INFO,
  VMX_REASON,
  VMX_REASON_ENTRY_FAILURE,
  type VmxReasonName,
} from '../../vocabulary/x86.js';

/** Throws a TypeError unless a qualification field's value is an integer in [0, max]. */
function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    const shown = max > 15 ? `0x${max.toString(16)}` : String(max);
    throw new TypeError(`${name} must be in [0, ${shown}], got ${value}`);
  }
}

/** The fields of an I/O exit qualification (reason 30). */
export interface IoQualification {
  /** Access size in bytes. */
  readonly size: 1 | 2 | 4;
  /** Direction: true = IN (bit 3 set), false = OUT. */
  readonly in: boolean;
  /** INS/OUTS (bit 4). */
  readonly string: boolean;
  /** REP prefix (bit 5). */
  readonly rep: boolean;
  /** Operand encoding (bit 6): true = port is an imm8 (E4–E7), false = port in DX. */
  readonly imm: boolean;
  /** Port number (bits 31:16). */
  readonly port: number;
}

/** Encodes an I/O exit qualification: bits 2:0 size−1, bit 3 IN, bit 4 string, bit 5 REP, bit 6 imm8, bits 31:16 port. */
export function ioQualification(q: IoQualification): bigint {
  if (q.size !== 1 && q.size !== 2 && q.size !== 4)
    throw new TypeError(`size must be 1, 2 or 4, got ${String(q.size)}`);
  checkField('port', q.port, 0xffff);
  let v = q.size - 1;
  if (q.in) v |= IO_QUAL.IN;
  if (q.string) v |= IO_QUAL.STRING;
  if (q.rep) v |= IO_QUAL.REP;
  if (q.imm) v |= IO_QUAL.IMMEDIATE;
  return BigInt(v) | (BigInt(q.port) << BigInt(IO_QUAL.PORT_SHIFT));
}

/**
 * Decodes an I/O exit qualification. A size field other than 0, 1 or 3 is not a defined encoding
 * (Intel SDM) and decodes to `undefined`.
 */
export function decodeIoQualification(qual: bigint): IoQualification | undefined {
  const v = Number(qual & 0xffff_ffffn);
  const sizeField = v & IO_QUAL.SIZE_MASK;
  const size = sizeField === 0 ? 1 : sizeField === 1 ? 2 : sizeField === 3 ? 4 : undefined;
  if (size === undefined) return undefined;
  return {
    size,
    in: (v & IO_QUAL.IN) !== 0,
    string: (v & IO_QUAL.STRING) !== 0,
    rep: (v & IO_QUAL.REP) !== 0,
    imm: (v & IO_QUAL.IMMEDIATE) !== 0,
    port: (v >>> IO_QUAL.PORT_SHIFT) & 0xffff,
  };
}

/** The access that caused an EPT violation. */
export type EptAccess = 'read' | 'write' | 'fetch';

/** The fields of an EPT-violation exit qualification (reason 48) the spec models. */
export interface EptQualification {
  readonly access: EptAccess;
  /**
   * The `hv_memory_flags_t` of the GPA (READ/WRITE/EXEC; 0 when unmapped). They become bits 3/4/5
   * ("GPA was readable/writable/executable"), assuming HVF maps READ→EPT R, WRITE→EPT W, EXEC→EPT X [U].
   */
  readonly perms: number;
  /** Bit 7: the guest-linear-address field is valid. */
  readonly glaValid: boolean;
  /** Bit 8 (only meaningful with bit 7): the access was to the translation of a linear address. */
  readonly glaTranslated: boolean;
}

/** Encodes an EPT-violation qualification (Intel SDM Table 28-7; hvf-facts.md §1.6 [T]). */
export function eptQualification(q: EptQualification): bigint {
  let v = q.access === 'read' ? EPT_QUAL.READ : q.access === 'write' ? EPT_QUAL.WRITE : EPT_QUAL.FETCH;
  if (q.perms & HV_MEMORY.READ) v |= EPT_QUAL.READABLE;
  if (q.perms & HV_MEMORY.WRITE) v |= EPT_QUAL.WRITABLE;
  if (q.perms & HV_MEMORY.EXEC) v |= EPT_QUAL.EXECUTABLE;
  if (q.glaValid) v |= EPT_QUAL.GLA_VALID;
  if (q.glaValid && q.glaTranslated) v |= EPT_QUAL.GLA_TRANSLATED;
  return BigInt(v);
}

/**
 * The bits of an EPT-violation qualification the spec pins. Left out, because they depend on the host
 * CPU rather than on the API:
 * - bit 6: with mode-based execute control it is the user-mode-execute permission, else 0 (Apple's
 *   newer `HV_MEMORY_UEXEC` suggests the framework may enable it) [U];
 * - bits 9–11: "advanced VM-exit information for EPT violations" (IA32_VMX_EPT_VPID_CAP bit 22); with
 *   CR0.PG = 0 a CPU that has it reports bit 9 = 1 (user-mode address) and bit 10 = 1 (writable)
 *   (Intel SDM 28.2.1), a CPU without it reports 0 [U].
 * Everything else (0–5, 7, 8, 12 and the reserved/newer bits above, which are 0 for these accesses) is pinned.
 */
export const EPT_QUALIFICATION_MASK = 0xffff_ffff_ffff_f1bfn;

/** Decodes the modelled fields of an EPT-violation qualification. Several access bits at once decode to the first. */
export function decodeEptQualification(qual: bigint): EptQualification & { readonly nmiUnblocking: boolean } {
  const v = Number(qual & 0xffff_ffffn);
  const access: EptAccess = v & EPT_QUAL.READ ? 'read' : v & EPT_QUAL.WRITE ? 'write' : 'fetch';
  let perms = 0;
  if (v & EPT_QUAL.READABLE) perms |= HV_MEMORY.READ;
  if (v & EPT_QUAL.WRITABLE) perms |= HV_MEMORY.WRITE;
  if (v & EPT_QUAL.EXECUTABLE) perms |= HV_MEMORY.EXEC;
  return {
    access,
    perms,
    glaValid: (v & EPT_QUAL.GLA_VALID) !== 0,
    glaTranslated: (v & EPT_QUAL.GLA_TRANSLATED) !== 0,
    nmiUnblocking: (v & EPT_QUAL.NMI_UNBLOCKING) !== 0,
  };
}

/** The event types of an interruption-information field (bits 10:8; Intel SDM Table 25-17, hvf-facts.md §1.4 [H]). */
export type InterruptionType =
  | 'external-interrupt'
  | 'nmi'
  | 'hardware-exception'
  | 'software-interrupt'
  | 'privileged-software-exception'
  | 'software-exception';

const INTERRUPTION_TYPES: ReadonlyArray<readonly [InterruptionType, number]> = [
  ['external-interrupt', IRQ_INFO.IRQ_INFO_EXT_IRQ],
  ['nmi', IRQ_INFO.IRQ_INFO_NMI],
  ['hardware-exception', IRQ_INFO.IRQ_INFO_HARD_EXC],
  ['software-interrupt', IRQ_INFO.IRQ_INFO_SOFT_IRQ],
  ['privileged-software-exception', IRQ_INFO.IRQ_INFO_PRIV_SOFT_EXC],
  ['software-exception', IRQ_INFO.IRQ_INFO_SOFT_EXC],
];

/** The fields of VMCS_RO_VMEXIT_IRQ_INFO (or VMCS_RO_IDT_VECTOR_INFO) when it is valid. */
export interface InterruptionInfo {
  /** Bits 7:0. */
  readonly vector: number;
  /** Bits 10:8. */
  readonly type: InterruptionType;
  /** Bit 11: an error code was pushed (it is in VMCS_RO_VMEXIT_IRQ_ERROR). */
  readonly errorCodeValid: boolean;
}

/**
 * Encodes a valid interruption-information field: vector | type << 8 | error-code-valid << 11 | 1 << 31
 * (hvf-facts.md §1.6). Bit 12 (NMI unblocking due to IRET) is 0: none of the spec's exits come from an
 * IRET. A #UD exit is 0x80000306; the XNU test checks `& 0x800003ff == 0x8000030e` for #PF (§1.8 [T]).
 */
export function interruptionInfo(q: InterruptionInfo): number {
  checkField('vector', q.vector, 0xff);
  const type = INTERRUPTION_TYPES.find(([n]) => n === q.type);
  if (!type) throw new TypeError(`type must be an interruption type name, got ${String(q.type)}`);
  return (
    (IRQ_INFO.IRQ_INFO_VALID +
      type[1] +
      (q.errorCodeValid ? IRQ_INFO.IRQ_INFO_ERROR_VALID : 0) +
      q.vector) >>>
    0
  );
}

/**
 * The bits of VMCS_RO_VMEXIT_IRQ_INFO the spec pins: all but bit 12. Bit 12 ("NMI unblocking due to
 * IRET") is undefined when NMI exiting is 1 and virtual NMIs is 0 (Intel SDM, "Information for VM Exits
 * Due to Vectored Events"), which is what the canonical setup gets on a host whose pin-based must-be-1
 * bits include NMI exiting, as the model's capabilities say HVF's do [U]. Bits 30:13 are always 0.
 */
export const VMEXIT_IRQ_INFO_MASK = 0xffff_efff;

/** Decodes an interruption-information field; `undefined` when bit 31 (valid) is clear or the type is reserved (1, 7). */
export function decodeInterruptionInfo(info: bigint | number): InterruptionInfo | undefined {
  const v = Number(BigInt(info) & 0xffff_ffffn);
  if (v < IRQ_INFO.IRQ_INFO_VALID) return undefined;
  const type = INTERRUPTION_TYPES.find(([, t]) => t === (v & 0x700));
  if (!type) return undefined;
  return { vector: v & 0xff, type: type[0], errorCodeValid: (v & IRQ_INFO.IRQ_INFO_ERROR_VALID) !== 0 };
}

/** The basic exit reason: the low 16 bits of VMCS_RO_EXIT_REASON (hvf-facts.md §1.5 [H]). */
export function basicExitReason(exitReason: bigint | number): number {
  return Number(BigInt(exitReason) & 0xffffn);
}

/** Bit 31 of VMCS_RO_EXIT_REASON: the exit is a VM-entry failure. */
export function isEntryFailure(exitReason: bigint | number): boolean {
  return (BigInt(exitReason) & BigInt(VMX_REASON_ENTRY_FAILURE)) !== 0n;
}

const REASON_NAMES = new Map<number, VmxReasonName>(
  (Object.entries(VMX_REASON) as [VmxReasonName, number][]).map(([n, v]) => [v, n]),
);

/** `VMX_REASON_*` name of a basic reason, or its decimal spelling. */
export function exitReasonName(exitReason: bigint | number): string {
  const basic = basicExitReason(exitReason);
  const name = REASON_NAMES.get(basic) ?? String(basic);
  return isEntryFailure(exitReason) ? `${name}|ENTRY_FAILURE` : name;
}

/**
 * Exits a VMM loops over without treating them as guest events: a host interrupt (VMX_REASON_IRQ) can
 * end any run [T: XNU test loops over it, hvf-facts.md §1.7].
 */
export function isSpuriousExitReason(exitReason: bigint | number): boolean {
  return basicExitReason(exitReason) === VMX_REASON.VMX_REASON_IRQ && !isEntryFailure(exitReason);
}

/**
 * The bits of an EPT-violation qualification the spec pins when the access that faulted was to a
 * paging structure (bit 8 clear): as {@link EPT_QUALIFICATION_MASK}, and also without bits 0–2. The CPU
 * reads paging-structure entries as data reads, but with "EPT accessed and dirty flags" enabled it
 * treats them as writes (Intel SDM Vol. 3 §29.3.3.2, footnote to Table 28-7); whether the framework
 * enables them is not known [U]. Bits 3–5 (what the GPA allows), 7 (set) and 8 (clear) are pinned.
 */
export const EPT_STRUCTURE_QUALIFICATION_MASK = EPT_QUALIFICATION_MASK & ~0x7n;

/** What MOV CR and MOV DR qualifications share: bits 11:8 name the general-purpose register. */
interface MovRegisterQualification {
  /** Bits 11:8: the general-purpose register, in Intel encoding order (0 = RAX … 15 = R15). */
  readonly gpr: number;
}

/** The fields of a control-register-access exit qualification (reason 28; hvf-facts.md §1.6, Intel SDM Table 28-3). */
export interface CrAccessQualification extends MovRegisterQualification {
  /** Bits 3:0: the control register (0, 3, 4 or 8). */
  readonly cr: number;
  /** Bits 5:4: 0 MOV to CR, 1 MOV from CR (2 CLTS and 3 LMSW are not generated). */
  readonly type: 'to' | 'from';
}

/** The fields of a debug-register-access exit qualification (reason 29; Intel SDM Table 28-4). */
export interface DrAccessQualification extends MovRegisterQualification {
  /** Bits 2:0: the debug register. */
  readonly dr: number;
  /** Bit 4: 0 MOV to DR, 1 MOV from DR. */
  readonly direction: 'to' | 'from';
}

/** The layout both share (Tables 28-3 and 28-4): register | from << 4 | gpr << 8. */
function movRegisterQualification(field: string, register: number, max: number, from: boolean, gpr: number) {
  checkField(field, register, max);
  checkField('gpr', gpr, 15);
  return BigInt(register | ((from ? 1 : 0) << 4) | (gpr << 8));
}

/** Encodes a MOV CR exit qualification: cr | type << 4 | gpr << 8. */
export function crAccessQualification(q: CrAccessQualification): bigint {
  return movRegisterQualification('cr', q.cr, 15, q.type === 'from', q.gpr);
}

/** Encodes a MOV DR exit qualification: dr | direction << 4 | gpr << 8. */
export function drAccessQualification(q: DrAccessQualification): bigint {
  return movRegisterQualification('dr', q.dr, 7, q.direction === 'from', q.gpr);
}

/**
 * The bits of the qualification of a #DB exception exit the spec pins: all but B3–B0 (bits 3:0), which
 * "may be set even if [the] corresponding enabling bit in DR7 is not set" (Intel SDM Table 28-1), so a
 * #DB from `int1` may report breakpoint conditions nobody asked for. BD (13) and BS (14) are pinned.
 */
export const DEBUG_QUALIFICATION_MASK = 0xffff_ffff_ffff_fff0n;

/**
 * The bits of VMCS_RO_IDT_VECTOR_INFO the spec pins: the same as {@link VMEXIT_IRQ_INFO_MASK} (bit 12 is
 * undefined in this field, Intel SDM Table 25-20). When bit 31 is clear only bit 31 is pinned: the rest
 * of an invalid field is not defined.
 */
export const IDT_VECTOR_INFO_MASK = 0xffff_efff;
/** The mask of an invalid IDT-vectoring information field: only the valid bit (31). */
export const IDT_VECTOR_INFO_INVALID_MASK = 0x8000_0000;
