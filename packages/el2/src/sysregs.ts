/**
 * Which system registers a vCPU context holds and how the EL2 runtime treats each (see
 * {@link SYSREG_CLASS}). The table is every `hv_sys_reg_t` the spec names: a register the runtime
 * knows to be a plain EL1/EL0 register of QEMU's `-cpu max` is saved and restored with MRS/MSR; the
 * identification registers are emulated; anything else the spec may add later (EL2 registers, the
 * physical timer, SME) is only stored, so that a new name in the spec can never make the runtime
 * write an EL2 register from guest state.
 * @module
 */
import { HV_SYS_REG } from '@hvspec/spec';
import { MAX_SYSREGS, SYSREG_CLASS, type SysRegClass } from './abi.js';

/**
 * EL1/EL0 registers that QEMU's `-cpu max,sve=off,sme=off` implements and that EL2 may read and
 * write for the guest (Arm ARM D23, "AArch64 system register descriptions"; encodings as
 * `hv_sys_reg_t`: op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2).
 */
const EL1_REGISTERS: ReadonlySet<number> = new Set([
  // DBGBVR/BCR/WVR/WCR 0 and 1, MDCCINT_EL1, MDSCR_EL1
  0x8004, 0x8005, 0x8006, 0x8007, 0x800c, 0x800d, 0x800e, 0x800f, 0x8010, 0x8012,
  // SCTLR_EL1, ACTLR_EL1, CPACR_EL1, TTBR0_EL1, TTBR1_EL1, TCR_EL1
  0xc080, 0xc081, 0xc082, 0xc100, 0xc101, 0xc102,
  // pointer-authentication keys (HCR_EL2.APK = 1: the guest owns them)
  0xc108, 0xc109, 0xc10a, 0xc10b, 0xc110, 0xc111, 0xc112, 0xc113, 0xc118, 0xc119,
  // SPSR_EL1, ELR_EL1, SP_EL0, AFSR0/1_EL1, ESR_EL1, FAR_EL1, PAR_EL1, MAIR_EL1, AMAIR_EL1, VBAR_EL1
  0xc200, 0xc201, 0xc208, 0xc288, 0xc289, 0xc290, 0xc300, 0xc3a0, 0xc510, 0xc518, 0xc600,
  // CONTEXTIDR_EL1, TPIDR_EL1, SCXTNUM_EL1, CNTKCTL_EL1, CSSELR_EL1
  0xc681, 0xc684, 0xc687, 0xc708, 0xd000,
  // TPIDR_EL0, TPIDRRO_EL0, SCXTNUM_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, SP_EL1
  0xde82, 0xde83, 0xde87, 0xdf19, 0xdf1a, 0xe208,
]);

/** The AArch64 ID register space HCR_EL2.TID3 traps: op0 3, op1 0, CRn 0, CRm 1..7 (Arm ARM D19.2.x). */
export function isTid3Register(reg: number): boolean {
  const op0 = reg >> 14;
  const op1 = (reg >> 11) & 7;
  const crn = (reg >> 7) & 15;
  const crm = (reg >> 3) & 15;
  return op0 === 3 && op1 === 0 && crn === 0 && crm >= 1 && crm <= 7;
}

/** One entry of the runtime's table. */
export interface SysRegEntry {
  readonly reg: number;
  readonly name: string;
  readonly cls: SysRegClass;
}

/** How a register is handled (see the module notes). */
export function classify(reg: number): SysRegClass {
  if (reg === HV_SYS_REG.HV_SYS_REG_MIDR_EL1) return SYSREG_CLASS.VPIDR;
  if (reg === HV_SYS_REG.HV_SYS_REG_MPIDR_EL1) return SYSREG_CLASS.VMPIDR;
  if (isTid3Register(reg)) return SYSREG_CLASS.ID;
  return EL1_REGISTERS.has(reg) ? SYSREG_CLASS.EL1 : SYSREG_CLASS.SOFT;
}

/** The table the runtime is built with: every `hv_sys_reg_t` the spec names, in the spec's order. */
export function sysRegTable(): SysRegEntry[] {
  const table = (Object.entries(HV_SYS_REG) as [string, number][]).map(([name, reg]) => ({
    reg,
    name,
    cls: classify(reg),
  }));
  if (table.length > MAX_SYSREGS)
    throw new Error(`the spec names ${table.length} system registers; the slot holds ${MAX_SYSREGS}`);
  return table;
}

/** `S<op0>_<op1>_C<n>_C<m>_<op2>`: the assembler's generic name of a system register. */
export function genericName(reg: number): string {
  return `S${reg >> 14}_${(reg >> 11) & 7}_C${(reg >> 7) & 15}_C${(reg >> 3) & 15}_${reg & 7}`;
}

/** The C header with the save/restore code and the ID-register lookup for the runtime. */
export function sysRegHeader(table: readonly SysRegEntry[]): string {
  const out = ['/* Generated from packages/el2/src/sysregs.ts by scripts/build-runtime.mjs. Do not edit. */'];
  out.push('#pragma once', '#include "abi.h"', `#define NSYSREGS ${table.length}`);
  out.push('static const unsigned long long sysreg_table[NSYSREGS] = {');
  for (const e of table) out.push(`  0x${e.reg.toString(16)}ULL | (${e.cls}ULL << 16), /* ${e.name} */`);
  out.push('};');
  out.push('static inline void sysregs_save(volatile unsigned long long *s) {');
  table.forEach((e, i) => {
    if (e.cls === SYSREG_CLASS.EL1)
      out.push(
        `  { unsigned long long v; __asm__ volatile("mrs %0, ${genericName(e.reg)}" : "=r"(v)); s[${i}] = v; }`,
      );
  });
  out.push('}');
  out.push('static inline void sysregs_load(const volatile unsigned long long *s) {');
  table.forEach((e, i) => {
    // Only changed values: QEMU flushes its TLBs on some writes (TCR_EL1) even when nothing changes.
    if (e.cls === SYSREG_CLASS.EL1)
      out.push(
        `  { unsigned long long v; __asm__ volatile("mrs %0, ${genericName(e.reg)}" : "=r"(v)); if (v != s[${i}]) __asm__ volatile("msr ${genericName(e.reg)}, %0" :: "r"(s[${i}])); }`,
      );
    else if (e.cls === SYSREG_CLASS.VPIDR)
      out.push(`  __asm__ volatile("msr vpidr_el2, %0" :: "r"(s[${i}]));`);
    else if (e.cls === SYSREG_CLASS.VMPIDR)
      out.push(`  __asm__ volatile("msr vmpidr_el2, %0" :: "r"(s[${i}]));`);
  });
  out.push('}');
  out.push('/* The index of an ID register in the table (by hv_sys_reg_t encoding), or -1. */');
  out.push('static inline int sysreg_id_index(unsigned enc) {', '  switch (enc) {');
  table.forEach((e, i) => {
    if (e.cls === SYSREG_CLASS.ID) out.push(`  case 0x${e.reg.toString(16)}: return ${i};`);
  });
  out.push('  default: return -1;', '  }', '}');
  // Debug registers the guest owns (op0 2, context-switched): MDCR_EL2.TDE makes their accesses trap
  // even when the host did not ask for that (TDA behaves as 1 while TDE is 1, Arm ARM D19, MDCR_EL2).
  out.push('/* Reads (write = 0) or writes a context-switched debug register by encoding; 0 if not one. */');
  out.push(
    'static inline int sysreg_debug_access(unsigned enc, int write, unsigned long long *v) {',
    '  switch (enc) {',
  );
  for (const e of table) {
    if (e.cls !== SYSREG_CLASS.EL1 || e.reg >> 14 !== 2) continue;
    const g = genericName(e.reg);
    out.push(
      `  case 0x${e.reg.toString(16)}: if (write) __asm__ volatile("msr ${g}, %0" :: "r"(*v)); else __asm__ volatile("mrs %0, ${g}" : "=r"(*v)); return 1; /* ${e.name} */`,
    );
  }
  out.push('  default: return 0;', '  }', '}');
  out.push('/* Reads the hardware value of the identification registers at boot. */');
  out.push('static inline void sysregs_boot(volatile unsigned long long *s) {');
  table.forEach((e, i) => {
    if (e.cls === SYSREG_CLASS.ID || e.cls === SYSREG_CLASS.VPIDR || e.cls === SYSREG_CLASS.VMPIDR) {
      const name =
        e.cls === SYSREG_CLASS.VPIDR
          ? 'midr_el1'
          : e.cls === SYSREG_CLASS.VMPIDR
            ? 'mpidr_el1'
            : genericName(e.reg);
      out.push(`  { unsigned long long v; __asm__ volatile("mrs %0, ${name}" : "=r"(v)); s[${i}] = v; }`);
    }
  });
  out.push('}');
  return `${out.join('\n')}\n`;
}
