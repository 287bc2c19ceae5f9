/**
 * Exit values spelt out in named fields, from the spec's vocabulary: return codes, arm64 syndromes
 * (ESR_EL2 by exception class), x86 exit reasons, exit qualifications by reason, and interruption
 * information. The exit judge renders mismatches with them, and `hvspec explain` prints them.
 * @module
 */
import { type DecodedEsr, decodeEsr, describeFsc } from '../guest/arm64/esr.js';
import {
  basicExitReason,
  decodeEptQualification,
  decodeInterruptionInfo,
  decodeIoQualification,
  exitReasonName,
  isEntryFailure,
} from '../guest/x86/exits.js';
import { ESR_EC, HV_EXIT_REASON } from '../vocabulary/arm64.js';
import { hvReturnName } from '../vocabulary/returns.js';
import { VMX_REASON } from '../vocabulary/x86.js';

const hex = (v: number | bigint): string => `0x${BigInt(v).toString(16)}`;
const bit = (b: boolean): string => (b ? '1' : '0');

const SAS = ['byte', 'halfword', 'word', 'doubleword'] as const;

const EC_NAMES = new Map<number, string>([
  [0x00, 'unknown reason'],
  [ESR_EC.WFX, 'WFI/WFE trapped'],
  [0x07, 'SIMD/FP access trapped'],
  [0x12, 'HVC from AArch32'],
  [0x13, 'SMC from AArch32'],
  [0x15, 'SVC from AArch64'],
  [ESR_EC.HVC64, 'HVC from AArch64'],
  [0x17, 'SMC from AArch64'],
  [ESR_EC.SYSREG, 'MSR/MRS/system instruction trapped'],
  [0x19, 'SVE access trapped'],
  [0x1d, 'SME access trapped'],
  [ESR_EC.IABT_LOWER, 'instruction abort from a lower EL'],
  [ESR_EC.IABT_CURRENT, 'instruction abort from the same EL'],
  [0x22, 'PC alignment fault'],
  [ESR_EC.DABT_LOWER, 'data abort from a lower EL'],
  [ESR_EC.DABT_CURRENT, 'data abort from the same EL'],
  [0x26, 'SP alignment fault'],
  [0x2c, 'floating-point exception'],
  [0x2f, 'SError'],
  [0x30, 'breakpoint from a lower EL'],
  [0x31, 'breakpoint from the same EL'],
  [0x32, 'software step from a lower EL'],
  [0x33, 'software step from the same EL'],
  [0x34, 'watchpoint from a lower EL'],
  [0x35, 'watchpoint from the same EL'],
  [0x38, 'BKPT (AArch32)'],
  [ESR_EC.BRK64, 'BRK (AArch64)'],
]);

/** The name of an exception class. */
export function exceptionClassName(ec: number): string {
  return EC_NAMES.get(ec) ?? 'reserved or unmodelled class';
}

/** Whether the spec names the exception class of an ESR (class 0, "unknown reason", counts as named). */
export function isNamedExceptionClass(ec: number): boolean {
  return EC_NAMES.has(ec);
}

function fsc(name: string, v: number): string {
  const d = describeFsc(v);
  const type = d.type === 'other' ? 'other fault' : `${d.type.replace('-', ' ')} fault`;
  return `${name}=${hex(v)} (${type}${d.level === undefined ? '' : `, level ${d.level}`})`;
}

function issFields(d: DecodedEsr): string[] {
  switch (d.kind) {
    case 'data-abort':
      return [
        `ISV=${bit(d.isv)}`,
        ...(d.isv
          ? [
              `SAS=${SAS[d.sas]} (${d.size} byte${d.size > 1 ? 's' : ''})`,
              `SSE=${bit(d.sse)}`,
              `SRT=${d.srt}${d.srt === 31 ? ' (XZR)' : ''}`,
              `SF=${bit(d.sf)}`,
              `AR=${bit(d.ar)}`,
            ]
          : []),
        ...(d.fnv ? ['FnV=1 (FAR not valid)'] : []),
        ...(d.ea ? ['EA=1'] : []),
        ...(d.cm ? ['CM=1 (cache maintenance)'] : []),
        ...(d.s1ptw ? ['S1PTW=1 (stage-2 fault on a stage-1 walk)'] : []),
        `WnR=${d.wnr ? 'write' : 'read'}`,
        fsc('DFSC', d.dfsc),
      ];
    case 'instruction-abort':
      return [...(d.s1ptw ? ['S1PTW=1 (stage-2 fault on a stage-1 walk)'] : []), fsc('IFSC', d.ifsc)];
    case 'hvc64':
    case 'svc64':
    case 'smc64':
      return [`imm16=${hex(d.imm16)}`];
    case 'brk64':
      return [`comment=${hex(d.comment)}`];
    case 'wfx':
      return [`TI=${['WFI', 'WFE', 'WFIT', 'WFET'][d.ti]}`, ...(d.cv ? [`CV=1, COND=${hex(d.cond)}`] : [])];
    case 'sysreg':
      return [
        `${d.read ? 'MRS (read)' : 'MSR (write)'}`,
        `op0=${d.op0} op1=${d.op1} CRn=${d.crn} CRm=${d.crm} op2=${d.op2}`,
        `Rt=${d.rt}${d.rt === 31 ? ' (XZR)' : ''}`,
      ];
    case 'unknown':
      return [`ISS=${hex(d.iss)}`];
  }
}

/**
 * An ESR_EL2 value field by field: the exception class, IL, then the ISS fields its class defines
 * (`0x93810040` → "data abort from a lower EL (EC 0x24)", "IL=1", "ISV=1", "SAS=word (4 bytes)", ...).
 */
export function esrFields(esr: bigint): string[] {
  const d = decodeEsr(esr);
  return [`${exceptionClassName(d.ec)} (EC ${hex(d.ec)})`, `IL=${bit(d.il)}`, ...issFields(d)];
}

/** An ESR_EL2 value in words: `0x93810040` → "data abort from a lower EL (EC 0x24), IL=1, ISV=1, ...". */
export function describeEsr(esr: bigint): string {
  return esrFields(esr).join(', ');
}

/** An arm64 exit reason by name. */
export function describeArm64Reason(reason: number): string {
  const name = Object.entries(HV_EXIT_REASON).find(([, v]) => v === reason)?.[0];
  return name ?? `unknown exit reason ${reason}`;
}

/** VMCS_RO_EXIT_REASON in words: the basic reason's name and the entry-failure bit. */
export function describeExitReason(exitReason: bigint | number): string {
  const failure = isEntryFailure(exitReason) ? ', VM-entry failure (bit 31)' : '';
  return `${exitReasonName(basicExitReason(exitReason))} (basic reason ${basicExitReason(exitReason)})${failure}`;
}

const GPR = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'];
const gpr = (n: number): string => GPR[n] ?? `R${n}`;

/**
 * VMCS_RO_EXIT_QUALIFIC field by field, given the basic exit reason it belongs to (Intel SDM Vol. 3C,
 * "Exit Qualification for ..." tables); a reason whose qualification the spec does not decode gives the
 * value alone.
 */
export function qualificationFields(reason: number, qual: bigint): string[] {
  switch (reason) {
    case VMX_REASON.VMX_REASON_IO: {
      const q = decodeIoQualification(qual);
      if (!q) return [`${hex(qual)} (not a valid I/O qualification)`];
      return [
        `${q.in ? 'IN' : 'OUT'} of ${q.size} byte${q.size > 1 ? 's' : ''}`,
        `port ${hex(q.port)}`,
        q.imm ? 'port in imm8' : 'port in DX',
        ...(q.string ? ['string'] : []),
        ...(q.rep ? ['REP'] : []),
      ];
    }
    case VMX_REASON.VMX_REASON_EPT_VIOLATION: {
      const q = decodeEptQualification(qual);
      const allowed =
        [q.perms & 1 ? 'R' : '', q.perms & 2 ? 'W' : '', q.perms & 4 ? 'X' : ''].join('') || 'none';
      return [
        `${q.access}`,
        `the page allows ${allowed}`,
        q.glaValid
          ? q.glaTranslated
            ? 'linear address valid, a translated access'
            : 'linear address valid, a paging-structure access'
          : 'no linear address',
        ...(q.nmiUnblocking ? ['NMI unblocking due to IRET'] : []),
      ];
    }
    case VMX_REASON.VMX_REASON_MOV_CR: {
      const n = Number(qual & 0xfn);
      const type = Number((qual >> 4n) & 3n);
      const reg = Number((qual >> 8n) & 0xfn);
      if (type === 0) return [`MOV to CR${n}`, `from ${gpr(reg)}`];
      if (type === 1) return [`MOV from CR${n}`, `to ${gpr(reg)}`];
      if (type === 2) return ['CLTS'];
      return ['LMSW', `source data ${hex((qual >> 16n) & 0xffffn)}`];
    }
    case VMX_REASON.VMX_REASON_MOV_DR: {
      const n = Number(qual & 7n);
      const reg = Number((qual >> 8n) & 0xfn);
      return (qual >> 4n) & 1n
        ? [`MOV from DR${n}`, `to ${gpr(reg)}`]
        : [`MOV to DR${n}`, `from ${gpr(reg)}`];
    }
    case VMX_REASON.VMX_REASON_EXC_NMI:
      return [`the faulting linear address for #PF, debug conditions for #DB (${hex(qual)})`];
    case VMX_REASON.VMX_REASON_INVLPG:
      return [`linear address ${hex(qual)}`];
    default:
      return [hex(qual)];
  }
}

/** VMCS_RO_EXIT_QUALIFIC in words, given the basic exit reason it belongs to (Intel SDM tables). */
export function describeQualification(reason: number, qual: bigint): string {
  return qualificationFields(reason, qual).join(', ');
}

/**
 * An exit as a VMM reads it, VMCS_RO_EXIT_REASON and (when given) VMCS_RO_EXIT_QUALIFIC together:
 * "VMX_REASON_IO (basic reason 30): OUT of 1 byte, port 0x10, port in imm8".
 */
export function describeVmxExit(exitReason: bigint | number, qual?: bigint): string {
  const head = describeExitReason(exitReason);
  return qual === undefined ? head : `${head}: ${describeQualification(basicExitReason(exitReason), qual)}`;
}

/** An interruption-information field (VMCS_RO_VMEXIT_IRQ_INFO, VMCS_RO_IDT_VECTOR_INFO) in words. */
export function describeInterruptionInfo(info: bigint | number): string {
  const d = decodeInterruptionInfo(info);
  if (!d) return `${hex(info)} (not valid)`;
  return `vector ${d.vector} (${hex(d.vector)}), ${d.type.replace(/-/g, ' ')}${d.errorCodeValid ? ', error code valid' : ''}`;
}

/** A return code by name, with its value. */
export function describeReturn(ret: number): string {
  const name = hvReturnName(ret);
  return name.startsWith('0x') ? name : `${name} (${hex(ret >>> 0)})`;
}
