/**
 * The interpreter's slow path: data-processing instructions that guest code uses but that no hot loop
 * of the spec or the bench depends on (bitfield moves, EXTR, extended-register add/sub, ADC/SBC,
 * CCMP/CCMN, the one- and two-source group, multiply and divide), executed on BigInts. Semantics from
 * the Arm ARM's pseudocode of each instruction.
 * @module
 */

import { condHolds } from './conditions.js';
import { fld, SLOW } from './decode.js';

const M64 = (1n << 64n) - 1n;
const ones = (n: number): bigint => (1n << BigInt(n)) - 1n;

/** What a slow op reads and writes: X registers with 31 as XZR or SP as the instruction says, and NZCV. */
export interface SlowRegs {
  /** Xn; 31 reads as XZR, or as SP when `sp`. */
  get(n: number, sp?: boolean): bigint;
  /** Xn; 31 discards, or writes SP when `sp`. */
  set(n: number, v: bigint, sp?: boolean): void;
  nzcv: number;
}

function ror(v: bigint, amount: number, width: number): bigint {
  const a = amount % width;
  if (a === 0) return v & ones(width);
  return ((v >> BigInt(a)) | (v << BigInt(width - a))) & ones(width);
}

function addWithCarry(x: bigint, y: bigint, carry: bigint, width: number): { result: bigint; nzcv: number } {
  const mask = ones(width);
  const unsignedSum = (x & mask) + (y & mask) + carry;
  const result = unsignedSum & mask;
  const signedSum = BigInt.asIntN(width, x & mask) + BigInt.asIntN(width, y & mask) + carry;
  const n = Number((result >> BigInt(width - 1)) & 1n);
  const z = result === 0n ? 1 : 0;
  const c = unsignedSum === result ? 0 : 1;
  const v = BigInt.asIntN(width, result) === signedSum ? 0 : 1;
  return { result, nzcv: (n << 3) | (z << 2) | (c << 1) | v };
}

/** Arm ARM DecodeBitMasks returning (wmask, tmask), for the bitfield instructions. */
function bitMasks(n: number, imms: number, immr: number, width: number): [bigint, bigint] {
  const len = 31 - Math.clz32((n << 6) | (~imms & 0x3f));
  const levels = (1 << len) - 1;
  const s = imms & levels;
  const r = immr & levels;
  const diff = (s - r) & levels;
  const esize = 1 << len;
  const d = diff & levels;
  const welem = ones(s + 1);
  const telem = ones(d + 1);
  const rep = (e: bigint): bigint => {
    let out = 0n;
    for (let i = 0; i < width; i += esize) out |= e << BigInt(i);
    return out & ones(width);
  };
  return [rep(ror(welem, r, esize)), rep(telem)];
}

function extendReg(v: bigint, option: number, shift: number, width: number): bigint {
  let x: bigint;
  switch (option) {
    case 0:
      x = v & 0xffn;
      break;
    case 1:
      x = v & 0xffffn;
      break;
    case 2:
      x = v & 0xffff_ffffn;
      break;
    case 3:
      x = v & M64;
      break;
    case 4:
      x = BigInt.asUintN(64, BigInt.asIntN(8, v));
      break;
    case 5:
      x = BigInt.asUintN(64, BigInt.asIntN(16, v));
      break;
    case 6:
      x = BigInt.asUintN(64, BigInt.asIntN(32, v));
      break;
    default:
      x = v & M64;
  }
  return (x << BigInt(shift)) & ones(width);
}

/** Executes one K.SLOW op (the sub-kind is `kind`, the instruction `w`). */
export function executeSlow(kind: number, w: number, regs: SlowRegs): void {
  const sf = fld(w, 31, 31) === 1;
  const width = sf ? 64 : 32;
  const mask = ones(width);
  const rd = fld(w, 4, 0);
  const rn = fld(w, 9, 5);
  const rm = fld(w, 20, 16);
  switch (kind) {
    case SLOW.BITFIELD: {
      const opc = fld(w, 30, 29);
      const immr = fld(w, 21, 16);
      const imms = fld(w, 15, 10);
      const [wmask, tmask] = bitMasks(fld(w, 22, 22), imms, immr, width);
      const src = regs.get(rn) & mask;
      const dst = opc === 1 ? regs.get(rd) & mask : 0n;
      const bot = (dst & ~wmask) | (ror(src, immr, width) & wmask);
      let top: bigint;
      if (opc === 0)
        top = (src >> BigInt(imms)) & 1n ? mask : 0n; // SBFM: replicate bit S
      else top = opc === 1 ? dst : 0n;
      regs.set(rd, ((top & ~tmask) | (bot & tmask)) & mask);
      return;
    }
    case SLOW.EXTR: {
      const lsb = fld(w, 15, 10);
      const concat = ((regs.get(rn) & mask) << BigInt(width)) | (regs.get(rm) & mask);
      regs.set(rd, (concat >> BigInt(lsb)) & mask);
      return;
    }
    case SLOW.ADDSUBX: {
      const sub = fld(w, 30, 30) === 1;
      const s = fld(w, 29, 29) === 1;
      const op2 = extendReg(regs.get(rm), fld(w, 15, 13), fld(w, 12, 10), width);
      const x = regs.get(rn, true) & mask;
      const r = sub ? addWithCarry(x, ~op2 & mask, 1n, width) : addWithCarry(x, op2, 0n, width);
      if (s) {
        regs.nzcv = r.nzcv;
        regs.set(rd, r.result);
      } else regs.set(rd, r.result, true);
      return;
    }
    case SLOW.ADC: {
      const sub = fld(w, 30, 30) === 1;
      const carry = BigInt((regs.nzcv >> 1) & 1);
      const y = regs.get(rm) & mask;
      const r = addWithCarry(regs.get(rn), sub ? ~y & mask : y, carry, width);
      if (fld(w, 29, 29)) regs.nzcv = r.nzcv;
      regs.set(rd, r.result);
      return;
    }
    case SLOW.CCMP: {
      const sub = fld(w, 30, 30) === 1;
      const cond = fld(w, 15, 12);
      if (condHolds(cond, regs.nzcv)) {
        const y = fld(w, 11, 11) ? BigInt(rm) : regs.get(rm) & mask;
        regs.nzcv = (
          sub ? addWithCarry(regs.get(rn), ~y & mask, 1n, width) : addWithCarry(regs.get(rn), y, 0n, width)
        ).nzcv;
      } else regs.nzcv = fld(w, 3, 0);
      return;
    }
    case SLOW.DP1: {
      const x = regs.get(rn) & mask;
      let v = 0n;
      switch (fld(w, 15, 10)) {
        case 0: // RBIT
          for (let i = 0; i < width; i++) if ((x >> BigInt(i)) & 1n) v |= 1n << BigInt(width - 1 - i);
          break;
        case 1: // REV16
          for (let i = 0; i < width; i += 16) {
            const h = (x >> BigInt(i)) & 0xffffn;
            v |= (((h & 0xffn) << 8n) | (h >> 8n)) << BigInt(i);
          }
          break;
        case 2: // REV32 (sf) / REV (32-bit)
          for (let i = 0; i < width; i += 32) {
            const word = (x >> BigInt(i)) & 0xffff_ffffn;
            let r = 0n;
            for (let b = 0; b < 4; b++) r |= ((word >> BigInt(8 * b)) & 0xffn) << BigInt(8 * (3 - b));
            v |= r << BigInt(i);
          }
          break;
        case 3: // REV (64-bit)
          for (let b = 0; b < 8; b++) v |= ((x >> BigInt(8 * b)) & 0xffn) << BigInt(8 * (7 - b));
          break;
        case 4: {
          // CLZ
          let n = 0;
          while (n < width && ((x >> BigInt(width - 1 - n)) & 1n) === 0n) n++;
          v = BigInt(n);
          break;
        }
        default: {
          // CLS
          const top = (x >> BigInt(width - 1)) & 1n;
          let n = 0;
          while (n < width - 1 && ((x >> BigInt(width - 2 - n)) & 1n) === top) n++;
          v = BigInt(n);
        }
      }
      regs.set(rd, v & mask);
      return;
    }
    case SLOW.DP2: {
      const x = regs.get(rn) & mask;
      const y = regs.get(rm) & mask;
      let v: bigint;
      switch (fld(w, 15, 10)) {
        case 2: // UDIV: division by zero gives 0
          v = y === 0n ? 0n : x / y;
          break;
        case 3: {
          // SDIV: rounds towards zero; division by zero gives 0
          const a = BigInt.asIntN(width, x);
          const b = BigInt.asIntN(width, y);
          v = b === 0n ? 0n : BigInt.asUintN(width, a / b);
          break;
        }
        case 8:
          v = x << (y % BigInt(width));
          break;
        case 9:
          v = x >> (y % BigInt(width));
          break;
        case 10:
          v = BigInt.asUintN(width, BigInt.asIntN(width, x) >> (y % BigInt(width)));
          break;
        default:
          v = ror(x, Number(y % BigInt(width)), width);
      }
      regs.set(rd, v & mask);
      return;
    }
    default: {
      // DP3: MADD/MSUB, SMADDL/SMSUBL, SMULH, UMADDL/UMSUBL, UMULH.
      const op31 = fld(w, 23, 21);
      const o0 = fld(w, 15, 15);
      const ra = fld(w, 14, 10);
      const x = regs.get(rn);
      const y = regs.get(rm);
      const a = regs.get(ra);
      let v: bigint;
      if (op31 === 0) {
        const p = (x & mask) * (y & mask);
        v = o0 ? a - p : a + p;
      } else if (op31 === 1 || op31 === 5) {
        const sx = op31 === 1;
        const ext = (n: bigint): bigint => (sx ? BigInt.asIntN(32, n) : n & 0xffff_ffffn);
        const p = ext(x) * ext(y);
        v = o0 ? a - p : a + p;
      } else if (op31 === 2) v = (BigInt.asIntN(64, x) * BigInt.asIntN(64, y)) >> 64n;
      else v = ((x & M64) * (y & M64)) >> 64n;
      regs.set(rd, BigInt.asUintN(width, v));
    }
  }
}
