/**
 * arm64 vocabulary of Hypervisor.framework: `hv_reg_t`, the `hv_sys_reg_t` subset, exit reasons,
 * interrupt types, feature registers, IPA granules and ESR_EL2 decoding constants.
 * Values from hvf-facts.md §2 ([H] unless noted).
 * @module
 */

/** `hv_reg_t` (hvf-facts.md §2.1, [H]). X29 is also HV_REG_FP, X30 HV_REG_LR. SP is not an `hv_reg_t`. */
export const HV_REG = {
  HV_REG_X0: 0,
  HV_REG_X1: 1,
  HV_REG_X2: 2,
  HV_REG_X3: 3,
  HV_REG_X4: 4,
  HV_REG_X5: 5,
  HV_REG_X6: 6,
  HV_REG_X7: 7,
  HV_REG_X8: 8,
  HV_REG_X9: 9,
  HV_REG_X10: 10,
  HV_REG_X11: 11,
  HV_REG_X12: 12,
  HV_REG_X13: 13,
  HV_REG_X14: 14,
  HV_REG_X15: 15,
  HV_REG_X16: 16,
  HV_REG_X17: 17,
  HV_REG_X18: 18,
  HV_REG_X19: 19,
  HV_REG_X20: 20,
  HV_REG_X21: 21,
  HV_REG_X22: 22,
  HV_REG_X23: 23,
  HV_REG_X24: 24,
  HV_REG_X25: 25,
  HV_REG_X26: 26,
  HV_REG_X27: 27,
  HV_REG_X28: 28,
  HV_REG_X29: 29,
  HV_REG_X30: 30,
  /** HV_REG_X0 + 31 is the PC, not XZR: the "Rt = 31" bug magnet (hvf-facts.md §2.8, [T]). */
  HV_REG_PC: 31,
  HV_REG_FPCR: 32,
  HV_REG_FPSR: 33,
  HV_REG_CPSR: 34,
} as const;
/** An `hv_reg_t` name (`HV_REG_X0` … `HV_REG_CPSR`). */
export type HvRegName = keyof typeof HV_REG;
/** `HV_REG_FP`: the frame pointer, an alias Apple's header defines for X29. */
export const HV_REG_FP = HV_REG.HV_REG_X29;
/** `HV_REG_LR`: the link register, an alias Apple's header defines for X30. */
export const HV_REG_LR = HV_REG.HV_REG_X30;
/** One past the last `hv_reg_t`. */
export const HV_REG_COUNT = 35;

/** `hv_sys_reg_t` values the spec models (encoding op0<<14|op1<<11|CRn<<7|CRm<<3|op2; hvf-facts.md §2.2, [H]). */
export const HV_SYS_REG = {
  HV_SYS_REG_DBGBVR0_EL1: 0x8004,
  HV_SYS_REG_DBGBCR0_EL1: 0x8005,
  HV_SYS_REG_DBGWVR0_EL1: 0x8006,
  HV_SYS_REG_DBGWCR0_EL1: 0x8007,
  HV_SYS_REG_DBGBVR1_EL1: 0x800c,
  HV_SYS_REG_DBGBCR1_EL1: 0x800d,
  HV_SYS_REG_DBGWVR1_EL1: 0x800e,
  HV_SYS_REG_DBGWCR1_EL1: 0x800f,
  HV_SYS_REG_MDCCINT_EL1: 0x8010,
  HV_SYS_REG_MDSCR_EL1: 0x8012,
  HV_SYS_REG_MIDR_EL1: 0xc000,
  HV_SYS_REG_MPIDR_EL1: 0xc005,
  HV_SYS_REG_ID_AA64PFR0_EL1: 0xc020,
  HV_SYS_REG_ID_AA64PFR1_EL1: 0xc021,
  HV_SYS_REG_ID_AA64DFR0_EL1: 0xc028,
  HV_SYS_REG_ID_AA64DFR1_EL1: 0xc029,
  HV_SYS_REG_ID_AA64ISAR0_EL1: 0xc030,
  HV_SYS_REG_ID_AA64ISAR1_EL1: 0xc031,
  HV_SYS_REG_ID_AA64MMFR0_EL1: 0xc038,
  HV_SYS_REG_ID_AA64MMFR1_EL1: 0xc039,
  HV_SYS_REG_ID_AA64MMFR2_EL1: 0xc03a,
  HV_SYS_REG_SCTLR_EL1: 0xc080,
  HV_SYS_REG_CPACR_EL1: 0xc082,
  HV_SYS_REG_TTBR0_EL1: 0xc100,
  HV_SYS_REG_TTBR1_EL1: 0xc101,
  HV_SYS_REG_TCR_EL1: 0xc102,
  HV_SYS_REG_APIAKEYLO_EL1: 0xc108,
  HV_SYS_REG_APIAKEYHI_EL1: 0xc109,
  HV_SYS_REG_APIBKEYLO_EL1: 0xc10a,
  HV_SYS_REG_APIBKEYHI_EL1: 0xc10b,
  HV_SYS_REG_APDAKEYLO_EL1: 0xc110,
  HV_SYS_REG_APDAKEYHI_EL1: 0xc111,
  HV_SYS_REG_APDBKEYLO_EL1: 0xc112,
  HV_SYS_REG_APDBKEYHI_EL1: 0xc113,
  HV_SYS_REG_APGAKEYLO_EL1: 0xc118,
  HV_SYS_REG_APGAKEYHI_EL1: 0xc119,
  HV_SYS_REG_SPSR_EL1: 0xc200,
  HV_SYS_REG_ELR_EL1: 0xc201,
  HV_SYS_REG_SP_EL0: 0xc208,
  HV_SYS_REG_AFSR0_EL1: 0xc288,
  HV_SYS_REG_AFSR1_EL1: 0xc289,
  HV_SYS_REG_ESR_EL1: 0xc290,
  HV_SYS_REG_FAR_EL1: 0xc300,
  HV_SYS_REG_PAR_EL1: 0xc3a0,
  HV_SYS_REG_MAIR_EL1: 0xc510,
  HV_SYS_REG_AMAIR_EL1: 0xc518,
  HV_SYS_REG_VBAR_EL1: 0xc600,
  HV_SYS_REG_CONTEXTIDR_EL1: 0xc681,
  HV_SYS_REG_TPIDR_EL1: 0xc684,
  HV_SYS_REG_SCXTNUM_EL1: 0xc687,
  HV_SYS_REG_CNTKCTL_EL1: 0xc708,
  HV_SYS_REG_CSSELR_EL1: 0xd000,
  HV_SYS_REG_TPIDR_EL0: 0xde82,
  HV_SYS_REG_TPIDRRO_EL0: 0xde83,
  HV_SYS_REG_TPIDR2_EL0: 0xde85,
  HV_SYS_REG_SCXTNUM_EL0: 0xde87,
  HV_SYS_REG_CNTV_CTL_EL0: 0xdf19,
  HV_SYS_REG_CNTV_CVAL_EL0: 0xdf1a,
  HV_SYS_REG_SP_EL1: 0xe208,
} as const;
/** An `hv_sys_reg_t` name the spec models (`HV_SYS_REG_SCTLR_EL1`, …). */
export type HvSysRegName = keyof typeof HV_SYS_REG;

/** ID registers: readable, and in the spec's model read-only from the guest's view. */
export const HV_SYS_REG_ID_REGISTERS: readonly number[] = [
  HV_SYS_REG.HV_SYS_REG_ID_AA64PFR0_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64PFR1_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64DFR0_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64DFR1_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64ISAR0_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64ISAR1_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR0_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR1_EL1,
  HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR2_EL1,
];

const SYS_REG_NAMES = new Map<number, HvSysRegName>(
  (Object.entries(HV_SYS_REG) as [HvSysRegName, number][]).map(([name, value]) => [value, name]),
);
/** The Apple name of an `hv_sys_reg_t`, or its hex spelling. */
export function sysRegName(reg: number): string {
  return SYS_REG_NAMES.get(reg) ?? `0x${reg.toString(16)}`;
}
/** True when the spec models this system register. */
export function isKnownSysReg(reg: number): boolean {
  return SYS_REG_NAMES.has(reg);
}

/** `hv_exit_reason_t` (hvf-facts.md §2.1, [H]). */
export const HV_EXIT_REASON = {
  HV_EXIT_REASON_CANCELED: 0,
  HV_EXIT_REASON_EXCEPTION: 1,
  HV_EXIT_REASON_VTIMER_ACTIVATED: 2,
  HV_EXIT_REASON_UNKNOWN: 3,
} as const;
/** An `hv_exit_reason_t` name (`HV_EXIT_REASON_CANCELED`, …). */
export type HvExitReasonName = keyof typeof HV_EXIT_REASON;

/** `hv_interrupt_type_t`: IRQ = 0, FIQ = 1 (applevisor's enum has them swapped — a binding bug [H]). */
export const HV_INTERRUPT_TYPE = {
  HV_INTERRUPT_TYPE_IRQ: 0,
  HV_INTERRUPT_TYPE_FIQ: 1,
} as const;

/** `hv_feature_reg_t` (hvf-facts.md §2.1, [H]). */
export const HV_FEATURE_REG = {
  HV_FEATURE_REG_ID_AA64DFR0_EL1: 0,
  HV_FEATURE_REG_ID_AA64DFR1_EL1: 1,
  HV_FEATURE_REG_ID_AA64ISAR0_EL1: 2,
  HV_FEATURE_REG_ID_AA64ISAR1_EL1: 3,
  HV_FEATURE_REG_ID_AA64MMFR0_EL1: 4,
  HV_FEATURE_REG_ID_AA64MMFR1_EL1: 5,
  HV_FEATURE_REG_ID_AA64MMFR2_EL1: 6,
  HV_FEATURE_REG_ID_AA64PFR0_EL1: 7,
  HV_FEATURE_REG_ID_AA64PFR1_EL1: 8,
  HV_FEATURE_REG_CTR_EL0: 9,
  HV_FEATURE_REG_CLIDR_EL1: 10,
  HV_FEATURE_REG_DCZID_EL0: 11,
  HV_FEATURE_REG_ID_AA64SMFR0_EL1: 12,
  HV_FEATURE_REG_ID_AA64ZFR0_EL1: 13,
} as const;

/** `hv_ipa_granule_t` (macOS 26.0, [H]). */
export const HV_IPA_GRANULE = {
  HV_IPA_GRANULE_4KB: 0,
  HV_IPA_GRANULE_16KB: 1,
} as const;

/** `hv_simd_fp_reg_t`: Q0..Q31 = 0..31 ([H]). */
export const HV_SIMD_FP_REG_COUNT = 32;

/** `hv_cache_type_t` ([H]). */
export const HV_CACHE_TYPE = { HV_CACHE_TYPE_DATA: 0, HV_CACHE_TYPE_INSTRUCTION: 1 } as const;

/** ESR_ELx exception classes a VMM sees (hvf-facts.md §2.8; Arm ARM). */
export const ESR_EC = {
  UNKNOWN: 0x00,
  WFX: 0x01,
  FP_ASIMD: 0x07,
  HVC32: 0x12,
  SMC32: 0x13,
  HVC64: 0x16,
  SMC64: 0x17,
  SYSREG: 0x18,
  SVE: 0x19,
  SME: 0x1d,
  IABT_LOWER: 0x20,
  IABT_CURRENT: 0x21,
  PC_ALIGNMENT: 0x22,
  DABT_LOWER: 0x24,
  DABT_CURRENT: 0x25,
  SP_ALIGNMENT: 0x26,
  FP_EXC64: 0x2c,
  SERROR: 0x2f,
  BREAKPOINT_LOWER: 0x30,
  BREAKPOINT_CURRENT: 0x31,
  SOFTSTEP_LOWER: 0x32,
  SOFTSTEP_CURRENT: 0x33,
  WATCHPOINT_LOWER: 0x34,
  WATCHPOINT_CURRENT: 0x35,
  BKPT32: 0x38,
  BRK64: 0x3c,
} as const;

/** Data/instruction fault status codes (DFSC/IFSC) the spec produces (hvf-facts.md §2.8). */
export const FSC = {
  /** Translation fault at level L is 0x04 + L. Stage-2 faults for unmapped IPAs are reported at level 0..3. */
  TRANSLATION_L0: 0x04,
  TRANSLATION_L1: 0x05,
  TRANSLATION_L2: 0x06,
  TRANSLATION_L3: 0x07,
  /** Permission fault at level L is 0x0c + L; `hv_vm_protect` produces these. */
  PERMISSION_L1: 0x0d,
  PERMISSION_L2: 0x0e,
  PERMISSION_L3: 0x0f,
  ALIGNMENT: 0x21,
} as const;

/** CPSR value VMMs use for EL1h with DAIF masked (hvf-facts.md §2.6, [T/R]). */
export const CPSR_EL1H_DAIF = 0x3c5;

/** Default and maximum IPA sizes the spec assumes: 36 bits default [R]; max is host dependent [R]. */
export const IPA_SIZE_DEFAULT = 36;

/** `hv_allocate_flags_t`: the only flag (hvf-facts.md §2.1 [H]). */
export const HV_ALLOCATE_FLAGS = { HV_ALLOCATE_DEFAULT: 0 } as const;

/** `hv_gic_intid_t`: the INTIDs the framework reserves (macOS 15.0; hvf-facts.md §2.7 [H]). */
export const HV_GIC_INT = {
  HV_GIC_INT_PERFORMANCE_MONITOR: 23,
  HV_GIC_INT_MAINTENANCE: 25,
  HV_GIC_INT_EL2_PHYSICAL_TIMER: 26,
  HV_GIC_INT_EL1_VIRTUAL_TIMER: 27,
  HV_GIC_INT_EL1_PHYSICAL_TIMER: 30,
} as const;

/**
 * `hv_gic_distributor_reg_t`: "enum values are equal to the device register offsets defined in the ARM
 * GIC v3 specification" and other offsets of the register arrays may be used (hvf-facts.md §2.7 [H]).
 * The names are those VMMs use against the real framework; the offsets are the GICv3 distributor map
 * (Arm IHI 0069, "The GIC Distributor register map").
 */
export const HV_GIC_DISTRIBUTOR_REG = {
  HV_GIC_DISTRIBUTOR_REG_GICD_CTLR: 0x0000,
  HV_GIC_DISTRIBUTOR_REG_GICD_TYPER: 0x0004,
  HV_GIC_DISTRIBUTOR_REG_GICD_IGROUPR0: 0x0080,
  HV_GIC_DISTRIBUTOR_REG_GICD_ISENABLER0: 0x0100,
  HV_GIC_DISTRIBUTOR_REG_GICD_ICENABLER0: 0x0180,
  HV_GIC_DISTRIBUTOR_REG_GICD_ISPENDR0: 0x0200,
  HV_GIC_DISTRIBUTOR_REG_GICD_ICPENDR0: 0x0280,
  HV_GIC_DISTRIBUTOR_REG_GICD_ISACTIVER0: 0x0300,
  HV_GIC_DISTRIBUTOR_REG_GICD_ICACTIVER0: 0x0380,
  HV_GIC_DISTRIBUTOR_REG_GICD_IPRIORITYR0: 0x0400,
  HV_GIC_DISTRIBUTOR_REG_GICD_ICFGR0: 0x0c00,
  HV_GIC_DISTRIBUTOR_REG_GICD_IROUTER32: 0x6100,
  HV_GIC_DISTRIBUTOR_REG_GICD_PIDR2: 0xffe8,
} as const;

/** `hv_gic_redistributor_reg_t`: offsets from RD_base; the SGI frame at 0x10000 (hvf-facts.md §2.7 [H]). */
export const HV_GIC_REDISTRIBUTOR_REG = {
  HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER: 0x0008,
  HV_GIC_REDISTRIBUTOR_REG_GICR_PIDR2: 0xffe8,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IGROUPR0: 0x10080,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ISENABLER0: 0x10100,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ICENABLER0: 0x10180,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ISPENDR0: 0x10200,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ICPENDR0: 0x10280,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ISACTIVER0: 0x10300,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ICACTIVER0: 0x10380,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR0: 0x10400,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR1: 0x10404,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR2: 0x10408,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR3: 0x1040c,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR4: 0x10410,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR5: 0x10414,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR6: 0x10418,
  HV_GIC_REDISTRIBUTOR_REG_GICR_IPRIORITYR7: 0x1041c,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ICFGR0: 0x10c00,
  HV_GIC_REDISTRIBUTOR_REG_GICR_ICFGR1: 0x10c04,
} as const;

/** `hv_gic_icc_reg_t`: the GIC CPU interface's system registers, in `hv_sys_reg_t` encoding (§2.7 [H]). */
export const HV_GIC_ICC_REG = {
  HV_GIC_ICC_REG_PMR_EL1: 0xc230,
  HV_GIC_ICC_REG_BPR0_EL1: 0xc643,
  HV_GIC_ICC_REG_AP0R0_EL1: 0xc644,
  HV_GIC_ICC_REG_AP1R0_EL1: 0xc648,
  HV_GIC_ICC_REG_RPR_EL1: 0xc65b,
  HV_GIC_ICC_REG_BPR1_EL1: 0xc663,
  HV_GIC_ICC_REG_CTLR_EL1: 0xc664,
  HV_GIC_ICC_REG_SRE_EL1: 0xc665,
  HV_GIC_ICC_REG_IGRPEN0_EL1: 0xc666,
  HV_GIC_ICC_REG_IGRPEN1_EL1: 0xc667,
  HV_GIC_ICC_REG_SRE_EL2: 0xe64d,
} as const;

/** `hv_gic_ich_reg_t`: the virtualization control registers, EL2 VMs only (§2.7 [H]). */
export const HV_GIC_ICH_REG = {
  HV_GIC_ICH_REG_AP0R0_EL2: 0xe640,
  HV_GIC_ICH_REG_AP1R0_EL2: 0xe648,
  HV_GIC_ICH_REG_HCR_EL2: 0xe658,
  HV_GIC_ICH_REG_VTR_EL2: 0xe659,
  HV_GIC_ICH_REG_MISR_EL2: 0xe65a,
  HV_GIC_ICH_REG_EISR_EL2: 0xe65b,
  HV_GIC_ICH_REG_ELRSR_EL2: 0xe65d,
  HV_GIC_ICH_REG_VMCR_EL2: 0xe65f,
  ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`HV_GIC_ICH_REG_LR${i}_EL2`, 0xe660 + i])),
} as Readonly<Record<string, number>>;

/** `hv_gic_msi_reg_t`: the MSI frame's registers, by offset (§2.7 [H]). */
export const HV_GIC_MSI_REG = {
  HV_GIC_REG_GICM_TYPER: 0x0008,
  HV_GIC_REG_GICM_SET_SPI_NSR: 0x0040,
} as const;
