/**
 * ESR_EL2 (the `exception.syndrome` of an arm64 `hv_vcpu_exit_t`) as a VMM sees it: pure encoders
 * for the exits the spec predicts, and one decoder with an exhaustive switch and an `unknown` case.
 *
 * Layout (hvf-facts.md §2.8, Arm ARM D24 "ESR_EL2"): EC = bits[31:26], IL = bit 25, ISS = bits[24:0]
 * (ISS2 in bits[55:32] on newer cores; the spec never produces ISS2 and ignores it when decoding).
 * Values are `bigint` because the exit record's `syndrome` is a 64-bit field.
 * @module
 */

import { ESR_EC } from '../../vocabulary/arm64.js';

/** Exception classes the guest-program spec needs beyond the vocabulary's (Arm ARM D19 "ESR_ELx"). */
export const ARM64_EC = {
  ...ESR_EC,
  ILLEGAL_STATE: 0x0e,
  SVC64: 0x15,
} as const;

const bit = (b: boolean): number => (b ? 1 : 0);
const u32 = (v: number): bigint => BigInt(v >>> 0);

function checkField(name: string, value: number, bits: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new TypeError(`${name} must be an integer in [0, ${2 ** bits - 1}], got ${value}`);
  }
  return value;
}

function header(ec: number, il: boolean): number {
  return (ec << 26) | (bit(il) << 25);
}

/** Fields of a data-abort ISS (EC 0x24 / 0x25), hvf-facts.md §2.8. */
export interface DataAbortFields {
  /** ISS bit 24: bits 23:14 hold a valid instruction syndrome (0 for LDP/STP, writeback, SIMD, atomics). */
  readonly isv: boolean;
  /** Access size, log2 of bytes: 0 = 1 B, 1 = 2 B, 2 = 4 B, 3 = 8 B. */
  readonly sas: number;
  /** Sign-extending load. */
  readonly sse: boolean;
  /** Transfer register; 31 is XZR/WZR, never SP (hvf-facts.md §2.8 [T]). */
  readonly srt: number;
  /** The instruction's register is 64-bit (X), not W. */
  readonly sf: boolean;
  /** Acquire/release semantics (LDAR/STLR). */
  readonly ar: boolean;
  /** Write, not read. */
  readonly wnr: boolean;
  /** Data fault status code, bits[5:0] (translation fault 0x04+level, permission 0x0c+level). */
  readonly dfsc: number;
  /** Instruction length bit: 1 for every A64 instruction. Defaults to true. */
  readonly il?: boolean;
  /** Exception class: lower EL (0x24, the default; what a guest produces) or same EL (0x25). */
  readonly ec?: number;
  /** FAR not valid (bit 10), external abort (bit 9), cache maintenance (bit 8), stage-1 walk (bit 7). */
  readonly fnv?: boolean;
  readonly ea?: boolean;
  readonly cm?: boolean;
  readonly s1ptw?: boolean;
}

/** ESR of a data abort. Fields SAS..AR are written only when `isv` (the Arm ARM makes them RES0 otherwise). */
export function esrDataAbort(f: DataAbortFields): bigint {
  const ec = f.ec ?? ESR_EC.DABT_LOWER;
  let iss = 0;
  if (f.isv) {
    iss |= 1 << 24;
    iss |= checkField('sas', f.sas, 2) << 22;
    iss |= bit(f.sse) << 21;
    iss |= checkField('srt', f.srt, 5) << 16;
    iss |= bit(f.sf) << 15;
    iss |= bit(f.ar) << 14;
  }
  iss |= bit(f.fnv ?? false) << 10;
  iss |= bit(f.ea ?? false) << 9;
  iss |= bit(f.cm ?? false) << 8;
  iss |= bit(f.s1ptw ?? false) << 7;
  iss |= bit(f.wnr) << 6;
  iss |= checkField('dfsc', f.dfsc, 6);
  return u32(header(ec, f.il ?? true) | iss);
}

/** ESR of an instruction abort (EC 0x20 from a lower EL by default). */
export function esrInstructionAbort(f: {
  readonly ifsc: number;
  readonly il?: boolean;
  readonly ec?: number;
  readonly s1ptw?: boolean;
  readonly ea?: boolean;
  readonly fnv?: boolean;
}): bigint {
  const ec = f.ec ?? ESR_EC.IABT_LOWER;
  const iss =
    (bit(f.fnv ?? false) << 10) |
    (bit(f.ea ?? false) << 9) |
    (bit(f.s1ptw ?? false) << 7) |
    checkField('ifsc', f.ifsc, 6);
  return u32(header(ec, f.il ?? true) | iss);
}

/** ESR of `hvc #imm16` from AArch64 (EC 0x16, ISS[15:0] = imm16). */
export function esrHvc64(imm16: number): bigint {
  return u32(header(ESR_EC.HVC64, true) | checkField('imm16', imm16, 16));
}

/** ESR of `brk #comment` (EC 0x3C, ISS[15:0] = comment). */
export function esrBrk64(comment: number): bigint {
  return u32(header(ESR_EC.BRK64, true) | checkField('comment', comment, 16));
}

/** ESR of `svc #imm16` from AArch64 (EC 0x15, ISS[15:0] = imm16). */
export function esrSvc64(imm16: number): bigint {
  return u32(header(ARM64_EC.SVC64, true) | checkField('imm16', imm16, 16));
}

/** ESR of a trapped `smc #imm16` from AArch64 (EC 0x17, ISS[15:0] = imm16). */
export function esrSmc64(imm16: number): bigint {
  return u32(header(ESR_EC.SMC64, true) | checkField('imm16', imm16, 16));
}

/**
 * ESR of an exception whose ISS is 0 and IL is 1: Unknown reason (EC 0x00: UNDEFINED instructions),
 * Illegal Execution state (0x0E), PC alignment (0x22), SP alignment (0x26).
 */
export function esrNoIss(ec: number): bigint {
  return u32(header(checkField('ec', ec, 6), true));
}

/** TI values of a WFx trap (ISS bits[1:0]). */
export const WFX_TI = { WFI: 0, WFE: 1, WFIT: 2, WFET: 3 } as const;

/**
 * ESR of a trapped WFI/WFE (EC 0x01). For exceptions from AArch64 the Arm ARM sets CV = 1 and
 * COND = 0b1110 ("always"); whether HVF's syndrome carries them is not in the facts [U], so
 * predictions compare only EC, IL and TI against hardware (see predict.ts).
 */
export function esrWfx(f: { readonly ti: number; readonly cv?: boolean; readonly cond?: number }): bigint {
  const cv = f.cv ?? true;
  const cond = f.cond ?? 0xe;
  return u32(
    header(ESR_EC.WFX, true) |
      (bit(cv) << 24) |
      (checkField('cond', cond, 4) << 20) |
      checkField('ti', f.ti, 2),
  );
}

/** Fields of a trapped MSR/MRS (EC 0x18), hvf-facts.md §2.8. */
export interface SysregTrapFields {
  readonly op0: number;
  readonly op1: number;
  readonly crn: number;
  readonly crm: number;
  readonly op2: number;
  readonly rt: number;
  /** True for MRS (read, Direction = 1), false for MSR. */
  readonly read: boolean;
}

/** ESR of a trapped system-register access: Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10] Rt[9:5] CRm[4:1] Dir[0]. */
export function esrSysreg(f: SysregTrapFields): bigint {
  const iss =
    (checkField('op0', f.op0, 2) << 20) |
    (checkField('op2', f.op2, 3) << 17) |
    (checkField('op1', f.op1, 3) << 14) |
    (checkField('crn', f.crn, 4) << 10) |
    (checkField('rt', f.rt, 5) << 5) |
    (checkField('crm', f.crm, 4) << 1) |
    bit(f.read);
  return u32(header(ESR_EC.SYSREG, true) | iss);
}

/**
 * Mask of the ISS fields that identify the register of a sysreg trap (Op0, Op2, Op1, CRn, CRm), as
 * QEMU keys its sysreg switch (hvf-facts.md §2.8 [T]).
 */
export const SYSREG_ISS_KEY_MASK = 0x3ffc1en;

/** Splits an `hv_sys_reg_t`-style encoding (op0<<14|op1<<11|CRn<<7|CRm<<3|op2, hvf-facts.md §2.2) into fields. */
export function sysRegFields(enc: number): {
  op0: number;
  op1: number;
  crn: number;
  crm: number;
  op2: number;
} {
  return {
    op0: (enc >> 14) & 3,
    op1: (enc >> 11) & 7,
    crn: (enc >> 7) & 0xf,
    crm: (enc >> 3) & 0xf,
    op2: enc & 7,
  };
}

/** The exception classes whose ISS is a 16-bit immediate (ISS[15:0]), by the kind they decode to. */
const IMM16_KINDS = {
  [ESR_EC.HVC64]: 'hvc64',
  [ARM64_EC.SVC64]: 'svc64',
  [ESR_EC.SMC64]: 'smc64',
} as const;

/** A decoded syndrome: one variant per exception class the spec names, plus `unknown`. */
export type DecodedEsr =
  | {
      readonly kind: 'data-abort';
      readonly ec: number;
      readonly il: boolean;
      /** Lower EL (0x24, a guest access) rather than the same EL (0x25). */
      readonly lower: boolean;
      readonly isv: boolean;
      readonly sas: number;
      /** Access size in bytes (1 << SAS); meaningful only when `isv`. */
      readonly size: number;
      readonly sse: boolean;
      readonly srt: number;
      readonly sf: boolean;
      readonly ar: boolean;
      readonly vncr: boolean;
      readonly fnv: boolean;
      readonly ea: boolean;
      readonly cm: boolean;
      readonly s1ptw: boolean;
      readonly wnr: boolean;
      readonly dfsc: number;
    }
  | {
      readonly kind: 'instruction-abort';
      readonly ec: number;
      readonly il: boolean;
      readonly lower: boolean;
      readonly fnv: boolean;
      readonly ea: boolean;
      readonly s1ptw: boolean;
      readonly ifsc: number;
    }
  | {
      /** HVC, SVC and SMC: the immediate is the whole ISS[15:0]. */
      readonly kind: 'hvc64' | 'svc64' | 'smc64';
      readonly ec: number;
      readonly il: boolean;
      readonly imm16: number;
    }
  | { readonly kind: 'brk64'; readonly ec: number; readonly il: boolean; readonly comment: number }
  | {
      readonly kind: 'wfx';
      readonly ec: number;
      readonly il: boolean;
      readonly cv: boolean;
      readonly cond: number;
      readonly ti: number;
    }
  | ({ readonly kind: 'sysreg'; readonly ec: number; readonly il: boolean } & SysregTrapFields)
  | { readonly kind: 'unknown'; readonly ec: number; readonly il: boolean; readonly iss: number };

/** What a fault status code (DFSC/IFSC) says: the fault type and the translation-table level. */
export function describeFsc(fsc: number): {
  type: 'address-size' | 'translation' | 'access-flag' | 'permission' | 'external' | 'alignment' | 'other';
  level?: number;
} {
  if (fsc <= 0x03) return { type: 'address-size', level: fsc };
  if (fsc <= 0x07) return { type: 'translation', level: fsc - 0x04 };
  if (fsc <= 0x0b) return { type: 'access-flag', level: fsc - 0x08 };
  if (fsc <= 0x0f) return { type: 'permission', level: fsc - 0x0c };
  if (fsc === 0x10) return { type: 'external' };
  if (fsc === 0x21) return { type: 'alignment' };
  return { type: 'other' };
}

/** Decodes an ESR_EL2 value into named fields (hvf-facts.md §2.8). Never throws for any 64-bit input. */
export function decodeEsr(esr: bigint): DecodedEsr {
  const lo = Number(BigInt.asUintN(32, esr));
  const ec = (lo >>> 26) & 0x3f;
  const il = ((lo >>> 25) & 1) === 1;
  const iss = lo & 0x1ffffff;
  const b = (n: number): boolean => ((iss >>> n) & 1) === 1;
  // What data and instruction aborts share: FnV[10], EA[9], S1PTW[7]; the fault status code is ISS[5:0].
  const abort = (lowerEc: number) => ({ ec, il, lower: ec === lowerEc, fnv: b(10), ea: b(9), s1ptw: b(7) });
  switch (ec) {
    case ESR_EC.DABT_LOWER:
    case ESR_EC.DABT_CURRENT: {
      const sas = (iss >>> 22) & 3;
      return {
        kind: 'data-abort',
        ...abort(ESR_EC.DABT_LOWER),
        isv: b(24),
        sas,
        size: 1 << sas,
        sse: b(21),
        srt: (iss >>> 16) & 0x1f,
        sf: b(15),
        ar: b(14),
        vncr: b(13),
        cm: b(8),
        wnr: b(6),
        dfsc: iss & 0x3f,
      };
    }
    case ESR_EC.IABT_LOWER:
    case ESR_EC.IABT_CURRENT:
      return { kind: 'instruction-abort', ...abort(ESR_EC.IABT_LOWER), ifsc: iss & 0x3f };
    case ESR_EC.HVC64:
    case ARM64_EC.SVC64:
    case ESR_EC.SMC64:
      return { kind: IMM16_KINDS[ec], ec, il, imm16: iss & 0xffff };
    case ESR_EC.BRK64:
      return { kind: 'brk64', ec, il, comment: iss & 0xffff };
    case ESR_EC.WFX:
      return { kind: 'wfx', ec, il, cv: b(24), cond: (iss >>> 20) & 0xf, ti: iss & 3 };
    case ESR_EC.SYSREG:
      return {
        kind: 'sysreg',
        ec,
        il,
        op0: (iss >>> 20) & 3,
        op2: (iss >>> 17) & 7,
        op1: (iss >>> 14) & 7,
        crn: (iss >>> 10) & 0xf,
        rt: (iss >>> 5) & 0x1f,
        crm: (iss >>> 1) & 0xf,
        read: b(0),
      };
    default:
      return { kind: 'unknown', ec, il, iss };
  }
}
