/**
 * Assembler for the arm64 guest-action language: real A64 machine code, little-endian 32-bit words.
 * Encodings follow the Arm ARM (A64 "Loads and Stores", "Data Processing -- Immediate", "Branches,
 * Exception Generating and System instructions"); the tests pin them byte for byte and cross-check
 * against `llvm-mc` when it is installed.
 *
 * The assembler also returns, for every action, where its instructions start and which instruction
 * is the one that may exit, so the prediction never has to decode machine code.
 * @module
 */

import {
  ARM64_END_MARKER_IMM,
  ARM64_REPORT_IMM,
  ARM64_SYSREG_ENC,
  ARM64_SYSREGS,
  ARM64_VECTOR_OFFSET,
  type Arm64Action,
  type Arm64RegNum,
  type Arm64StartMode,
} from './actions.js';

/** Raw instruction encoders (each returns one 32-bit word). */
export const A64 = {
  /** MOVZ Xd, #imm16, LSL #(16*hw). */
  movz: (rd: number, imm16: number, hw: number): number =>
    (0xd2800000 | (hw << 21) | (imm16 << 5) | rd) >>> 0,
  /** MOVK Xd, #imm16, LSL #(16*hw). */
  movk: (rd: number, imm16: number, hw: number): number =>
    (0xf2800000 | (hw << 21) | (imm16 << 5) | rd) >>> 0,
  /** MOV Xd, Xm (ORR Xd, XZR, Xm). */
  movReg: (rd: number, rm: number): number => (0xaa0003e0 | (rm << 16) | rd) >>> 0,
  /** ADD Xd, Xn, #imm12. */
  addImm: (rd: number, rn: number, imm12: number): number =>
    (0x91000000 | (imm12 << 10) | (rn << 5) | rd) >>> 0,
  /** HVC #imm16: from EL1 it exits to the VMM with EC 0x16, ISS[15:0] = imm16, and PC already past it (hvf-facts §2.8). */
  hvc: (imm16: number): number => (0xd4000002 | (imm16 << 5)) >>> 0,
  /** SVC #imm16: a supervisor call, taken by the guest's own EL1 vector (EC 0x15); it does not exit by itself. */
  svc: (imm16: number): number => (0xd4000001 | (imm16 << 5)) >>> 0,
  /** SMC #imm16: exits with EC 0x17 only if HCR_EL2.TSC traps it, which is unverified for HVF (hvf-facts §2.8 [U]). */
  smc: (imm16: number): number => (0xd4000003 | (imm16 << 5)) >>> 0,
  /** BRK #imm16: a software breakpoint, EC 0x3C with ISS[15:0] = imm16; PC stays at the instruction (hvf-facts §2.8). */
  brk: (imm16: number): number => (0xd4200000 | (imm16 << 5)) >>> 0,
  /** UDF #imm16: the permanently undefined encoding (top 16 bits zero). */
  udf: (imm16: number): number => imm16 & 0xffff,
  /** WFI: trapped to the VMM as EC 0x01 with ISS TI = 0 when no GIC is created (hvf-facts §2.8). */
  wfi: (): number => 0xd503207f,
  /** WFE: EC 0x01 with ISS TI = 1 when trapped; returns at once if the event register is set (see `sevl`). */
  wfe: (): number => 0xd503205f,
  /** SEVL: sets this PE's event register, so that the next WFE completes without waiting. */
  sevl: (): number => 0xd50320bf,
  /** NOP (the HINT #0 encoding). */
  nop: (): number => 0xd503201f,
  /** ERET: returns from EL1 to the state in SPSR_EL1 at ELR_EL1. */
  eret: (): number => 0xd69f03e0,
  /** MSR DAIFSet / DAIFClr, #imm4. */
  msrDaif: (set: boolean, imm4: number): number =>
    (0xd50340df | ((imm4 & 0xf) << 8) | (set ? 0 : 1 << 5)) >>> 0,
  /** ADR Xd, #offset (bytes, ±1 MiB). */
  adr: (rd: number, offset: number): number =>
    (0x10000000 | ((offset & 3) << 29) | (((offset >> 2) & 0x7ffff) << 5) | rd) >>> 0,
  /** BR Xn: an indirect branch to the address in Xn. */
  br: (rn: number): number => (0xd61f0000 | (rn << 5)) >>> 0,
  /** MRS Xt, <sysreg> with the sysreg as op0<<14|op1<<11|CRn<<7|CRm<<3|op2 (op0 is 2 or 3). */
  mrs: (rt: number, enc: number): number => (0xd5300000 | ((enc & 0x7fff) << 5) | rt) >>> 0,
  /** MSR <sysreg>, Xt, with the sysreg encoded as for `mrs`. */
  msr: (enc: number, rt: number): number => (0xd5100000 | ((enc & 0x7fff) << 5) | rt) >>> 0,
  /** TBZ Rt, #bit, label (offset in bytes, a multiple of 4). */
  tbz: (rt: number, bitNum: number, offset: number): number =>
    (0x36000000 | ((bitNum >> 5) << 31) | ((bitNum & 0x1f) << 19) | (((offset >> 2) & 0x3fff) << 5) | rt) >>>
    0,
  /**
   * LDR/STR (unsigned offset) family: size (log2) in bits[31:30], opc in bits[23:22]
   * (00 store, 01 zero-extending load, 10 sign-extend to X, 11 sign-extend to W).
   */
  ldstUimm: (sizeLog2: number, opc: number, rt: number, rn: number, imm12: number): number =>
    (0x39000000 | (sizeLog2 << 30) | (opc << 22) | (imm12 << 10) | (rn << 5) | rt) >>> 0,
  /** LDARB/LDARH/LDAR (size log2 in bits[31:30]). */
  ldar: (sizeLog2: number, rt: number, rn: number): number =>
    (0x08dffc00 | (sizeLog2 << 30) | (rn << 5) | rt) >>> 0,
  /** STLRB/STLRH/STLR. */
  stlr: (sizeLog2: number, rt: number, rn: number): number =>
    (0x089ffc00 | (sizeLog2 << 30) | (rn << 5) | rt) >>> 0,
} as const;

const LOG2: Record<number, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

function checkReg(name: string, r: Arm64RegNum, allow31: boolean): void {
  if (!Number.isInteger(r) || r < 0 || r > (allow31 ? 31 : 30))
    throw new TypeError(`${name} must be a register 0..${allow31 ? 31 : 30}, got ${r}`);
}

/** MOVZ/MOVK words that put `value` (taken modulo 2^64) in Xrd: MOVZ of chunk 0, MOVK of each other nonzero chunk. */
export function movSequence(rd: number, value: bigint): number[] {
  checkReg('rd', rd, false);
  const v = BigInt.asUintN(64, value);
  const chunk = (hw: number): number => Number((v >> BigInt(16 * hw)) & 0xffffn);
  const words = [A64.movz(rd, chunk(0), 0)];
  for (let hw = 1; hw < 4; hw++) if (chunk(hw) !== 0) words.push(A64.movk(rd, chunk(hw), hw));
  return words;
}

/** Where one action's code sits in the program. */
export interface Arm64ActionLayout {
  /** Index of the action in the program (the end marker has index = actions.length). */
  readonly index: number;
  /** Address of the action's first instruction. */
  readonly start: bigint;
  /** Address of the instruction that can exit (the load, store, hvc, wfi, brk, mrs/msr, br); for vtimer the wait loop. */
  readonly at: bigint;
  /** Address after the action's last instruction. */
  readonly end: bigint;
}

/** An assembled program. */
export interface Arm64Program {
  readonly base: bigint;
  readonly words: readonly number[];
  /** The little-endian bytes of `words`. */
  readonly bytes: Uint8Array;
  readonly layout: readonly Arm64ActionLayout[];
  /** Address of the end marker (`hvc #0xffff` at EL1, `svc #0xffff` at EL0). */
  readonly endMarker: bigint;
  /** Whether the program ends at EL0 (its end marker is then an SVC the vectors report). */
  readonly endsAtEl0: boolean;
  /** VBAR_EL1: `base` + ARM64_VECTOR_OFFSET. */
  readonly vbar: bigint;
  /** The vector table's bytes, written at `vbar`. */
  readonly vectors: Uint8Array;
}

/** The instructions of one action (without the end marker). `at` is the index of the exiting word. */
export function assembleAction(a: Arm64Action): { words: number[]; at: number } {
  switch (a.op) {
    case 'ldr':
    case 'str': {
      checkReg('base', a.base, false);
      checkReg('rt', a.rt, true);
      const log2 = LOG2[a.size];
      if (log2 === undefined) throw new TypeError(`size must be 1, 2, 4 or 8, got ${a.size}`);
      const offset = a.offset ?? 0;
      if (a.acquire && offset !== 0) throw new TypeError('acquire/release accesses take no offset');
      if (!Number.isInteger(offset) || offset < 0 || offset % a.size !== 0 || offset / a.size > 4095) {
        throw new TypeError(`offset must be a multiple of ${a.size} in [0, ${4095 * a.size}], got ${offset}`);
      }
      const words = movSequence(a.base, a.ipa - BigInt(offset));
      if (a.op === 'str' && a.value !== undefined && a.rt !== 31) {
        if (a.rt === a.base) throw new TypeError('a store with a value needs rt != base');
        words.push(...movSequence(a.rt, a.value));
      }
      let word: number;
      if (a.op === 'ldr') {
        if (a.acquire) {
          if (a.signed) throw new TypeError('there is no sign-extending LDAR');
          word = A64.ldar(log2, a.rt, a.base);
        } else {
          let opc = 1;
          if (a.signed === 'x') {
            if (a.size === 8) throw new TypeError('no sign-extending 8-byte load');
            opc = 2;
          } else if (a.signed === 'w') {
            if (a.size >= 4)
              throw new TypeError('LDRSW has no W form; sign-extending to W needs size 1 or 2');
            opc = 3;
          }
          word = A64.ldstUimm(log2, opc, a.rt, a.base, offset / a.size);
        }
      } else {
        word = a.acquire
          ? A64.stlr(log2, a.rt, a.base)
          : A64.ldstUimm(log2, 0, a.rt, a.base, offset / a.size);
      }
      words.push(word);
      return { words, at: words.length - 1 };
    }
    case 'hvc':
      if (a.imm === ARM64_END_MARKER_IMM || (a.imm & 0xfff0) === ARM64_REPORT_IMM)
        throw new TypeError(
          'hvc #0xffff and #0xfe00–#0xfe0f are reserved for the end marker and the vectors',
        );
      return { words: [A64.hvc(a.imm & 0xffff)], at: 0 };
    case 'svc':
      if (a.imm === ARM64_END_MARKER_IMM)
        throw new TypeError('svc #0xffff is reserved for the EL0 end marker');
      return { words: [A64.svc(a.imm & 0xffff)], at: 0 };
    case 'smc':
      return { words: [A64.smc(a.imm & 0xffff)], at: 0 };
    case 'udf':
      return { words: [A64.udf(a.imm)], at: 0 };
    case 'wfi':
      return { words: [A64.wfi()], at: 0 };
    case 'wfe':
      return { words: [A64.sevl(), A64.wfe(), A64.wfe()], at: 2 };
    case 'brk':
      return { words: [A64.brk(a.imm & 0xffff)], at: 0 };
    case 'daif':
      if (!Number.isInteger(a.imm) || a.imm < 0 || a.imm > 15)
        throw new TypeError(`imm must be 0..15, got ${a.imm}`);
      return { words: [A64.msrDaif(a.set, a.imm)], at: 0 };
    case 'eret': {
      checkReg('reg', a.reg, false);
      if (!Number.isInteger(a.daif) || a.daif < 0 || a.daif > 15)
        throw new TypeError(`daif must be 0..15, got ${a.daif}`);
      const words = [
        A64.movz(a.reg, eretSpsr(a), 0),
        A64.msr(ARM64_SYSREG_ENC.SPSR_EL1, a.reg),
        A64.adr(a.reg, 12),
        A64.msr(ARM64_SYSREG_ENC.ELR_EL1, a.reg),
        A64.eret(),
      ];
      return { words, at: 4 };
    }
    case 'sysreg': {
      checkReg('rt', a.rt, true);
      const enc = ARM64_SYSREGS[a.reg ?? 'PMCR_EL0'].enc;
      const words: number[] = [];
      if (!a.read && a.value !== undefined && a.rt !== 31) words.push(...movSequence(a.rt, a.value));
      words.push(a.read ? A64.mrs(a.rt, enc) : A64.msr(enc, a.rt));
      return { words, at: words.length - 1 };
    }
    case 'branch': {
      checkReg('reg', a.reg, false);
      const words = movSequence(a.reg, a.ipa);
      words.push(A64.br(a.reg));
      return { words, at: words.length - 1 };
    }
    case 'vtimer': {
      if (!Number.isInteger(a.delta) || a.delta < 0 || a.delta > 4095)
        throw new TypeError(`delta must be 0..4095, got ${a.delta}`);
      const words = [
        A64.mrs(16, ARM64_SYSREG_ENC.CNTVCT_EL0),
        A64.addImm(16, 16, a.delta),
        A64.msr(ARM64_SYSREG_ENC.CNTV_CVAL_EL0, 16),
        A64.movz(17, 1, 0),
        A64.msr(ARM64_SYSREG_ENC.CNTV_CTL_EL0, 17),
        A64.mrs(16, ARM64_SYSREG_ENC.CNTV_CTL_EL0),
        A64.tbz(16, 2, -4),
      ];
      return { words, at: 5 };
    }
    case 'mov':
      return { words: movSequence(a.rd, a.value), at: 0 };
  }
}

/** PSTATE.M of each `eret` target (EL2h for the illegal return), in SPSR layout. */
const ERET_M = { el0: 0b0000, el1t: 0b0100, el1h: 0b0101, illegal: 0b1001 } as const;

/** The SPSR_EL1 value an `eret` action writes: the target mode and DAIF. */
export function eretSpsr(a: { readonly to: keyof typeof ERET_M; readonly daif: number }): number {
  return ERET_M[a.to] | (a.daif << 6);
}

/** The EL a program is at after each action (`eret` moves it; an illegal return does not). */
export function arm64ElAfter(start: Arm64StartMode, actions: readonly Arm64Action[]): (0 | 1)[] {
  let el: 0 | 1 = start === 'el0' ? 0 : 1;
  return actions.map((a) => {
    if (a.op === 'eret' && a.to !== 'illegal') el = a.to === 'el0' ? 0 : 1;
    return el;
  });
}

/**
 * The guest's vector table (VBAR_EL1, 2 KiB): in each of the 16 slots `hvc #(ARM64_REPORT_IMM | slot)`
 * (the report the VMM answers) and `eret`; the rest of each slot is zero.
 */
export function arm64VectorWords(): number[] {
  const words = new Array<number>(ARM64_VECTOR_OFFSET / 4).fill(0);
  for (let slot = 0; slot < 16; slot++) {
    words[slot * 32] = A64.hvc(ARM64_REPORT_IMM | slot);
    words[slot * 32 + 1] = A64.eret();
  }
  return words;
}

/** Little-endian bytes of instruction words. */
export function wordsToBytes(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => {
    view.setUint32(i * 4, w >>> 0, true);
  });
  return out;
}

/**
 * Assembles a program at `base` (2 KiB aligned), followed by the end marker, with the vector table at
 * `base` + ARM64_VECTOR_OFFSET. `start` is the mode the program starts in (default EL1h).
 */
export function assembleArm64(
  actions: readonly Arm64Action[],
  base: bigint,
  start: Arm64StartMode = 'el1h',
): Arm64Program {
  if (typeof base !== 'bigint' || (base & 0x7ffn) !== 0n)
    throw new TypeError('base must be a 2 KiB aligned bigint');
  const words: number[] = [];
  const layout: Arm64ActionLayout[] = [];
  actions.forEach((a, index) => {
    const { words: w, at } = assembleAction(a);
    const start = base + BigInt(words.length * 4);
    layout.push({ index, start, at: start + BigInt(at * 4), end: start + BigInt(w.length * 4) });
    words.push(...w);
  });
  const endMarker = base + BigInt(words.length * 4);
  layout.push({ index: actions.length, start: endMarker, at: endMarker, end: endMarker + 4n });
  const els = arm64ElAfter(start, actions);
  const endsAtEl0 = (actions.length ? els[actions.length - 1] : start === 'el0' ? 0 : 1) === 0;
  words.push(endsAtEl0 ? A64.svc(ARM64_END_MARKER_IMM) : A64.hvc(ARM64_END_MARKER_IMM));
  if (words.length * 4 > ARM64_VECTOR_OFFSET)
    throw new TypeError(`the program (${words.length * 4} bytes) must fit below the vectors at +0x800`);
  const vbar = base + BigInt(ARM64_VECTOR_OFFSET);
  return {
    base,
    words,
    bytes: wordsToBytes(words),
    layout,
    endMarker,
    endsAtEl0,
    vbar,
    vectors: wordsToBytes(arm64VectorWords()),
  };
}
