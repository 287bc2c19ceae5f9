/**
 * The register file of a fresh arm64 vCPU.
 *
 * Apple documents no initial state. What is observed: CPSR 0 (EL0t) and SCTLR_EL1 0 (hvf-facts.md §2.6,
 * §5.7 [T/R]); the model keeps every register 0 except the identification registers, which describe the
 * model's pretend host:
 *  - MIDR_EL1 0x410fd0f0: implementer Arm (0x41), architecture 0xf, a part number of no real core;
 *  - MPIDR_EL1 0x80000000 | vcpu id: RES1 bit 31, Aff0 = the vCPU id (VMMs overwrite it, §5.8 [T/H]);
 *  - ID_AA64PFR0_EL1 0x11: EL0 and EL1 AArch64 only, no EL2/EL3, FP and AdvSIMD implemented (fields 0);
 *  - ID_AA64DFR0_EL1 0x101006: Armv8 debug, 2 breakpoints and 2 watchpoints (the DBGB/W*0..1 registers
 *    of the HV_SYS_REG table);
 *  - ID_AA64MMFR0_EL1 0x0f100002: PARange 40 bits, 4 KiB and 16 KiB granules, no 64 KiB granule;
 *  - the other ID registers 0 (no optional features).
 * @module
 */
import { HV_SYS_REG as S } from '@hvspec/spec';
import type { Arm64Cpu } from '../engine.js';

/** Identification registers of the model's pretend host, besides MPIDR_EL1. */
export const MODEL_ID_REGISTERS: ReadonlyMap<number, bigint> = new Map([
  [S.HV_SYS_REG_MIDR_EL1, 0x410f_d0f0n],
  [S.HV_SYS_REG_ID_AA64PFR0_EL1, 0x11n],
  [S.HV_SYS_REG_ID_AA64DFR0_EL1, 0x10_1006n],
  [S.HV_SYS_REG_ID_AA64MMFR0_EL1, 0x0f10_0002n],
]);

/** A fresh vCPU's registers. */
export function initialArm64Cpu(vcpuId: number): Arm64Cpu {
  const sys = new Map<number, bigint>();
  for (const reg of Object.values(S)) sys.set(reg, 0n);
  for (const [reg, value] of MODEL_ID_REGISTERS) sys.set(reg, value);
  sys.set(S.HV_SYS_REG_MPIDR_EL1, 0x8000_0000n | BigInt(vcpuId & 0xff));
  return {
    x: Array.from({ length: 31 }, () => 0n),
    pc: 0n,
    cpsr: 0n,
    fpcr: 0n,
    fpsr: 0n,
    q: Array.from({ length: 32 }, () => 0n),
    sys,
  };
}
