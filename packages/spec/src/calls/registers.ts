/**
 * What the spec predicts when a register or VMCS field written by the VMM is read back.
 * @module
 */
import { HV_X86_REG, VMCS, vmcsFieldWidth } from '../vocabulary/x86.js';

/**
 * x86 registers that read back exactly what was written: the GPRs and RIP (Apple's XNU test writes all
 * GPRs, runs, and reads them back [T]). Others have architecturally fixed or reserved bits (RFLAGS bit
 * 1, DR6/DR7 fixed bits — also in the XNU test [T]) or depend on VMX fixed bits (CR0/CR4): the spec
 * compares only the bits listed in {@link X86_REG_SIGNIFICANT}, or nothing.
 */
export const X86_REG_EXACT: ReadonlySet<number> = new Set([
  HV_X86_REG.HV_X86_RIP,
  HV_X86_REG.HV_X86_RAX,
  HV_X86_REG.HV_X86_RCX,
  HV_X86_REG.HV_X86_RDX,
  HV_X86_REG.HV_X86_RBX,
  HV_X86_REG.HV_X86_RSI,
  HV_X86_REG.HV_X86_RDI,
  HV_X86_REG.HV_X86_RSP,
  HV_X86_REG.HV_X86_RBP,
  HV_X86_REG.HV_X86_R8,
  HV_X86_REG.HV_X86_R9,
  HV_X86_REG.HV_X86_R10,
  HV_X86_REG.HV_X86_R11,
  HV_X86_REG.HV_X86_R12,
  HV_X86_REG.HV_X86_R13,
  HV_X86_REG.HV_X86_R14,
  HV_X86_REG.HV_X86_R15,
]);

/** Registers with a known set of significant (writable, non-fixed) bits. */
export const X86_REG_SIGNIFICANT: ReadonlyMap<number, bigint> = new Map([
  // RFLAGS: CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID; bit 1 reads as 1; 3, 5, 15, 22-63 reserved.
  [HV_X86_REG.HV_X86_RFLAGS, 0x3f7fd5n],
]);

/** VMCS guest fields that are the same storage as an `hv_x86_reg_t` (writes to one are reads of the other). */
export const VMCS_REG_ALIAS: ReadonlyMap<number, number> = new Map([
  // The XNU test sets RIP through VMCS_GUEST_RIP and QEMU through hv_vcpu_write_register(HV_X86_RIP) [T].
  [VMCS.VMCS_GUEST_RIP, HV_X86_REG.HV_X86_RIP],
  [VMCS.VMCS_GUEST_RSP, HV_X86_REG.HV_X86_RSP],
  [VMCS.VMCS_GUEST_RFLAGS, HV_X86_REG.HV_X86_RFLAGS],
]);

/**
 * VMCS fields whose storage may be shared with a register in a way the spec does not pin down
 * (CR0/CR3/CR4 vs their shadows, segment selectors, descriptor-table bases, DR7): a write to either
 * side makes the other unknown.
 */
export const VMCS_REG_MAYBE_ALIAS: ReadonlyMap<number, number> = new Map([
  [VMCS.VMCS_GUEST_CR0, HV_X86_REG.HV_X86_CR0],
  [VMCS.VMCS_GUEST_CR3, HV_X86_REG.HV_X86_CR3],
  [VMCS.VMCS_GUEST_CR4, HV_X86_REG.HV_X86_CR4],
  [VMCS.VMCS_GUEST_CS, HV_X86_REG.HV_X86_CS],
  [VMCS.VMCS_GUEST_SS, HV_X86_REG.HV_X86_SS],
  [VMCS.VMCS_GUEST_DS, HV_X86_REG.HV_X86_DS],
  [VMCS.VMCS_GUEST_ES, HV_X86_REG.HV_X86_ES],
  [VMCS.VMCS_GUEST_FS, HV_X86_REG.HV_X86_FS],
  [VMCS.VMCS_GUEST_GS, HV_X86_REG.HV_X86_GS],
  [VMCS.VMCS_GUEST_LDTR, HV_X86_REG.HV_X86_LDTR],
  [VMCS.VMCS_GUEST_TR, HV_X86_REG.HV_X86_TR],
  [VMCS.VMCS_GUEST_GDTR_BASE, HV_X86_REG.HV_X86_GDT_BASE],
  [VMCS.VMCS_GUEST_GDTR_LIMIT, HV_X86_REG.HV_X86_GDT_LIMIT],
  [VMCS.VMCS_GUEST_IDTR_BASE, HV_X86_REG.HV_X86_IDT_BASE],
  [VMCS.VMCS_GUEST_IDTR_LIMIT, HV_X86_REG.HV_X86_IDT_LIMIT],
  [VMCS.VMCS_GUEST_LDTR_BASE, HV_X86_REG.HV_X86_LDT_BASE],
  [VMCS.VMCS_GUEST_LDTR_LIMIT, HV_X86_REG.HV_X86_LDT_LIMIT],
  [VMCS.VMCS_GUEST_LDTR_AR, HV_X86_REG.HV_X86_LDT_AR],
  [VMCS.VMCS_GUEST_TR_BASE, HV_X86_REG.HV_X86_TSS_BASE],
  [VMCS.VMCS_GUEST_TR_LIMIT, HV_X86_REG.HV_X86_TSS_LIMIT],
  [VMCS.VMCS_GUEST_TR_AR, HV_X86_REG.HV_X86_TSS_AR],
  [VMCS.VMCS_GUEST_DR7, HV_X86_REG.HV_X86_DR7],
]);

/**
 * VMCS fields the spec predicts read back exactly (truncated to the field width): the control fields
 * a VMM owns and plain guest-state fields without fixed bits. Others (CR0/CR4 with VMX fixed bits,
 * access rights with reserved bits, activity/interruptibility state) are "success, value unspecified".
 */
export const VMCS_EXACT: ReadonlySet<number> = new Set([
  VMCS.VMCS_CTRL_EXC_BITMAP,
  VMCS.VMCS_CTRL_PF_ERROR_MASK,
  VMCS.VMCS_CTRL_PF_ERROR_MATCH,
  VMCS.VMCS_CTRL_CR0_MASK,
  VMCS.VMCS_CTRL_CR4_MASK,
  VMCS.VMCS_CTRL_CR0_SHADOW,
  VMCS.VMCS_CTRL_CR4_SHADOW,
  VMCS.VMCS_CTRL_TSC_OFFSET,
  VMCS.VMCS_CTRL_TPR_THRESHOLD,
  VMCS.VMCS_GUEST_RIP,
  VMCS.VMCS_GUEST_RSP,
  VMCS.VMCS_GUEST_ES_BASE,
  VMCS.VMCS_GUEST_CS_BASE,
  VMCS.VMCS_GUEST_SS_BASE,
  VMCS.VMCS_GUEST_DS_BASE,
  VMCS.VMCS_GUEST_FS_BASE,
  VMCS.VMCS_GUEST_GS_BASE,
  VMCS.VMCS_GUEST_ES_LIMIT,
  VMCS.VMCS_GUEST_CS_LIMIT,
  VMCS.VMCS_GUEST_SS_LIMIT,
  VMCS.VMCS_GUEST_DS_LIMIT,
  VMCS.VMCS_GUEST_FS_LIMIT,
  VMCS.VMCS_GUEST_GS_LIMIT,
  VMCS.VMCS_GUEST_GDTR_BASE,
  VMCS.VMCS_GUEST_IDTR_BASE,
  VMCS.VMCS_GUEST_SYSENTER_ESP,
  VMCS.VMCS_GUEST_SYSENTER_EIP,
  VMCS.VMCS_GUEST_IA32_SYSENTER_CS,
]);

/** Truncates a value to a VMCS field's width. */
export function truncateToField(field: number, value: bigint): bigint {
  const width = vmcsFieldWidth(field);
  return value & ((1n << BigInt(width)) - 1n);
}

/** The VMX control fields whose writes are constrained by hv_vmx_read_capability (hvf-facts §1.2 [H]). */
export const VMCS_CONTROL_CAPABILITY: ReadonlyMap<number, number> = new Map([
  [VMCS.VMCS_CTRL_PIN_BASED, 0],
  [VMCS.VMCS_CTRL_CPU_BASED, 1],
  [VMCS.VMCS_CTRL_CPU_BASED2, 2],
  [VMCS.VMCS_CTRL_VMENTRY_CONTROLS, 3],
  [VMCS.VMCS_CTRL_VMEXIT_CONTROLS, 4],
]);
