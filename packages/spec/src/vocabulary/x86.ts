/**
 * x86_64 vocabulary of Hypervisor.framework: `hv_x86_reg_t`, VMCS field encodings, VMX exit reasons,
 * capabilities and control bits. Values from hvf-facts.md §1 (Apple headers [H]; Intel encodings).
 * @module
 */

/** `hv_x86_reg_t`, a sequential enum from 0 (hvf-facts.md §1.3, [H]). */
export const HV_X86_REG = {
  HV_X86_RIP: 0,
  HV_X86_RFLAGS: 1,
  HV_X86_RAX: 2,
  HV_X86_RCX: 3,
  HV_X86_RDX: 4,
  HV_X86_RBX: 5,
  HV_X86_RSI: 6,
  HV_X86_RDI: 7,
  HV_X86_RSP: 8,
  HV_X86_RBP: 9,
  HV_X86_R8: 10,
  HV_X86_R9: 11,
  HV_X86_R10: 12,
  HV_X86_R11: 13,
  HV_X86_R12: 14,
  HV_X86_R13: 15,
  HV_X86_R14: 16,
  HV_X86_R15: 17,
  HV_X86_CS: 18,
  HV_X86_SS: 19,
  HV_X86_DS: 20,
  HV_X86_ES: 21,
  HV_X86_FS: 22,
  HV_X86_GS: 23,
  HV_X86_IDT_BASE: 24,
  HV_X86_IDT_LIMIT: 25,
  HV_X86_GDT_BASE: 26,
  HV_X86_GDT_LIMIT: 27,
  HV_X86_LDTR: 28,
  HV_X86_LDT_BASE: 29,
  HV_X86_LDT_LIMIT: 30,
  HV_X86_LDT_AR: 31,
  HV_X86_TR: 32,
  HV_X86_TSS_BASE: 33,
  HV_X86_TSS_LIMIT: 34,
  HV_X86_TSS_AR: 35,
  HV_X86_CR0: 36,
  HV_X86_CR1: 37,
  HV_X86_CR2: 38,
  HV_X86_CR3: 39,
  HV_X86_CR4: 40,
  HV_X86_DR0: 41,
  HV_X86_DR1: 42,
  HV_X86_DR2: 43,
  HV_X86_DR3: 44,
  HV_X86_DR4: 45,
  HV_X86_DR5: 46,
  HV_X86_DR6: 47,
  HV_X86_DR7: 48,
  HV_X86_TPR: 49,
  HV_X86_XCR0: 50,
  /** One past the last register; not a register. */
  HV_X86_REGISTERS_MAX: 51,
} as const;
/** An `hv_x86_reg_t` name (`HV_X86_RIP`, `HV_X86_CR0`, …). */
export type HvX86RegName = keyof typeof HV_X86_REG;

/** `hv_vm_options_t` (hvf-facts.md §1.1, [H]). */
export const HV_VM_OPTIONS = {
  HV_VM_DEFAULT: 0,
  HV_VM_SPECIFY_MITIGATIONS: 1 << 0,
  HV_VM_MITIGATION_A_ENABLE: 1 << 1,
  HV_VM_MITIGATION_B_ENABLE: 1 << 2,
  HV_VM_MITIGATION_C_ENABLE: 1 << 3,
  HV_VM_MITIGATION_D_ENABLE: 1 << 4,
  HV_VM_MITIGATION_E_ENABLE: 1 << 6,
  HV_VM_ACCEL_APIC: 1 << 10,
} as const;

/** `hv_vcpu_options_t` (hvf-facts.md §1.1, [H]). */
export const HV_VCPU_OPTIONS = {
  HV_VCPU_DEFAULT: 0,
  HV_VCPU_ACCEL_RDPMC: 1 << 0,
  HV_VCPU_TSC_RELATIVE: 1 << 1,
} as const;

/** `hv_capability_t` for `hv_capability()` (10.15+, [H]). */
export const HV_CAP = {
  HV_CAP_VCPUMAX: 0,
  HV_CAP_ADDRSPACEMAX: 1,
} as const;

/** `HV_VM_SPACE_DEFAULT`: the default guest-physical address space. */
export const HV_VM_SPACE_DEFAULT = 0;

/** `HV_DEADLINE_FOREVER` = ~0ull. */
export const HV_DEADLINE_FOREVER = 0xffff_ffff_ffff_ffffn;

/** `hv_vmx_capability_t` (hvf-facts.md §1.2, [H]; 5..16 are 11.0+). */
export const HV_VMX_CAP = {
  HV_VMX_CAP_PINBASED: 0,
  HV_VMX_CAP_PROCBASED: 1,
  HV_VMX_CAP_PROCBASED2: 2,
  HV_VMX_CAP_ENTRY: 3,
  HV_VMX_CAP_EXIT: 4,
  HV_VMX_CAP_BASIC: 5,
  HV_VMX_CAP_TRUE_PINBASED: 6,
  HV_VMX_CAP_TRUE_PROCBASED: 7,
  HV_VMX_CAP_TRUE_ENTRY: 8,
  HV_VMX_CAP_TRUE_EXIT: 9,
  HV_VMX_CAP_MISC: 10,
  HV_VMX_CAP_CR0_FIXED0: 11,
  HV_VMX_CAP_CR0_FIXED1: 12,
  HV_VMX_CAP_CR4_FIXED0: 13,
  HV_VMX_CAP_CR4_FIXED1: 14,
  HV_VMX_CAP_VMCS_ENUM: 15,
  HV_VMX_CAP_EPT_VPID_CAP: 16,
  HV_VMX_CAP_PREEMPTION_TIMER: 32,
} as const;

/** VMCS field encodings by Apple's names (hvf-facts.md §1.4, [H]; values are Intel encodings). */
export const VMCS = {
  // Controls
  VMCS_VPID: 0x0000,
  VMCS_CTRL_POSTED_INT_N_VECTOR: 0x0002,
  VMCS_CTRL_EPTP_INDEX: 0x0004,
  VMCS_CTRL_IO_BITMAP_A: 0x2000,
  VMCS_CTRL_IO_BITMAP_B: 0x2002,
  VMCS_CTRL_MSR_BITMAPS: 0x2004,
  VMCS_CTRL_VMEXIT_MSR_STORE_ADDR: 0x2006,
  VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR: 0x2008,
  VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR: 0x200a,
  VMCS_CTRL_EXECUTIVE_VMCS_PTR: 0x200c,
  VMCS_CTRL_TSC_OFFSET: 0x2010,
  VMCS_CTRL_VIRTUAL_APIC: 0x2012,
  VMCS_CTRL_APIC_ACCESS: 0x2014,
  VMCS_CTRL_EPTP: 0x201a,
  VMCS_CTRL_PIN_BASED: 0x4000,
  VMCS_CTRL_CPU_BASED: 0x4002,
  VMCS_CTRL_EXC_BITMAP: 0x4004,
  VMCS_CTRL_PF_ERROR_MASK: 0x4006,
  VMCS_CTRL_PF_ERROR_MATCH: 0x4008,
  VMCS_CTRL_CR3_COUNT: 0x400a,
  VMCS_CTRL_VMEXIT_CONTROLS: 0x400c,
  VMCS_CTRL_VMEXIT_MSR_STORE_COUNT: 0x400e,
  VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT: 0x4010,
  VMCS_CTRL_VMENTRY_CONTROLS: 0x4012,
  VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT: 0x4014,
  VMCS_CTRL_VMENTRY_IRQ_INFO: 0x4016,
  VMCS_CTRL_VMENTRY_EXC_ERROR: 0x4018,
  VMCS_CTRL_VMENTRY_INSTR_LEN: 0x401a,
  VMCS_CTRL_TPR_THRESHOLD: 0x401c,
  VMCS_CTRL_CPU_BASED2: 0x401e,
  VMCS_CTRL_PLE_GAP: 0x4020,
  VMCS_CTRL_PLE_WINDOW: 0x4022,
  VMCS_CTRL_CR0_MASK: 0x6000,
  VMCS_CTRL_CR4_MASK: 0x6002,
  VMCS_CTRL_CR0_SHADOW: 0x6004,
  VMCS_CTRL_CR4_SHADOW: 0x6006,
  VMCS_CTRL_CR3_VALUE0: 0x6008,
  VMCS_CTRL_CR3_VALUE1: 0x600a,
  VMCS_CTRL_CR3_VALUE2: 0x600c,
  VMCS_CTRL_CR3_VALUE3: 0x600e,
  // Guest state
  VMCS_GUEST_ES: 0x0800,
  VMCS_GUEST_CS: 0x0802,
  VMCS_GUEST_SS: 0x0804,
  VMCS_GUEST_DS: 0x0806,
  VMCS_GUEST_FS: 0x0808,
  VMCS_GUEST_GS: 0x080a,
  VMCS_GUEST_LDTR: 0x080c,
  VMCS_GUEST_TR: 0x080e,
  VMCS_GUEST_LINK_POINTER: 0x2800,
  VMCS_GUEST_IA32_DEBUGCTL: 0x2802,
  VMCS_GUEST_IA32_PAT: 0x2804,
  VMCS_GUEST_IA32_EFER: 0x2806,
  VMCS_GUEST_IA32_PERF_GLOBAL_CTRL: 0x2808,
  VMCS_GUEST_PDPTE0: 0x280a,
  VMCS_GUEST_PDPTE1: 0x280c,
  VMCS_GUEST_PDPTE2: 0x280e,
  VMCS_GUEST_PDPTE3: 0x2810,
  VMCS_GUEST_ES_LIMIT: 0x4800,
  VMCS_GUEST_CS_LIMIT: 0x4802,
  VMCS_GUEST_SS_LIMIT: 0x4804,
  VMCS_GUEST_DS_LIMIT: 0x4806,
  VMCS_GUEST_FS_LIMIT: 0x4808,
  VMCS_GUEST_GS_LIMIT: 0x480a,
  VMCS_GUEST_LDTR_LIMIT: 0x480c,
  VMCS_GUEST_TR_LIMIT: 0x480e,
  VMCS_GUEST_GDTR_LIMIT: 0x4810,
  VMCS_GUEST_IDTR_LIMIT: 0x4812,
  VMCS_GUEST_ES_AR: 0x4814,
  VMCS_GUEST_CS_AR: 0x4816,
  VMCS_GUEST_SS_AR: 0x4818,
  VMCS_GUEST_DS_AR: 0x481a,
  VMCS_GUEST_FS_AR: 0x481c,
  VMCS_GUEST_GS_AR: 0x481e,
  VMCS_GUEST_LDTR_AR: 0x4820,
  VMCS_GUEST_TR_AR: 0x4822,
  VMCS_GUEST_IGNORE_IRQ: 0x4824,
  VMCS_GUEST_ACTIVITY_STATE: 0x4826,
  VMCS_GUEST_SMBASE: 0x4828,
  VMCS_GUEST_IA32_SYSENTER_CS: 0x482a,
  VMCS_GUEST_VMX_TIMER_VALUE: 0x482e,
  VMCS_GUEST_CR0: 0x6800,
  VMCS_GUEST_CR3: 0x6802,
  VMCS_GUEST_CR4: 0x6804,
  VMCS_GUEST_ES_BASE: 0x6806,
  VMCS_GUEST_CS_BASE: 0x6808,
  VMCS_GUEST_SS_BASE: 0x680a,
  VMCS_GUEST_DS_BASE: 0x680c,
  VMCS_GUEST_FS_BASE: 0x680e,
  VMCS_GUEST_GS_BASE: 0x6810,
  VMCS_GUEST_LDTR_BASE: 0x6812,
  VMCS_GUEST_TR_BASE: 0x6814,
  VMCS_GUEST_GDTR_BASE: 0x6816,
  VMCS_GUEST_IDTR_BASE: 0x6818,
  VMCS_GUEST_DR7: 0x681a,
  VMCS_GUEST_RSP: 0x681c,
  VMCS_GUEST_RIP: 0x681e,
  VMCS_GUEST_RFLAGS: 0x6820,
  VMCS_GUEST_DEBUG_EXC: 0x6822,
  VMCS_GUEST_SYSENTER_ESP: 0x6824,
  VMCS_GUEST_SYSENTER_EIP: 0x6826,
  // Read-only exit information
  VMCS_GUEST_PHYSICAL_ADDRESS: 0x2400,
  VMCS_RO_INSTR_ERROR: 0x4400,
  VMCS_RO_EXIT_REASON: 0x4402,
  VMCS_RO_VMEXIT_IRQ_INFO: 0x4404,
  VMCS_RO_VMEXIT_IRQ_ERROR: 0x4406,
  VMCS_RO_IDT_VECTOR_INFO: 0x4408,
  VMCS_RO_IDT_VECTOR_ERROR: 0x440a,
  VMCS_RO_VMEXIT_INSTR_LEN: 0x440c,
  VMCS_RO_VMX_INSTR_INFO: 0x440e,
  VMCS_RO_EXIT_QUALIFIC: 0x6400,
  VMCS_RO_IO_RCX: 0x6402,
  VMCS_RO_IO_RSI: 0x6404,
  VMCS_RO_IO_RDI: 0x6406,
  VMCS_RO_IO_RIP: 0x6408,
  VMCS_RO_GUEST_LIN_ADDR: 0x640a,
  // Host state (framework-owned)
  VMCS_HOST_ES: 0x0c00,
  VMCS_HOST_CS: 0x0c02,
  VMCS_HOST_SS: 0x0c04,
  VMCS_HOST_DS: 0x0c06,
  VMCS_HOST_FS: 0x0c08,
  VMCS_HOST_GS: 0x0c0a,
  VMCS_HOST_TR: 0x0c0c,
  VMCS_HOST_IA32_PAT: 0x2c00,
  VMCS_HOST_IA32_EFER: 0x2c02,
  VMCS_HOST_IA32_PERF_GLOBAL_CTRL: 0x2c04,
  VMCS_HOST_IA32_SYSENTER_CS: 0x4c00,
  VMCS_HOST_CR0: 0x6c00,
  VMCS_HOST_CR3: 0x6c02,
  VMCS_HOST_CR4: 0x6c04,
  VMCS_HOST_FS_BASE: 0x6c06,
  VMCS_HOST_GS_BASE: 0x6c08,
  VMCS_HOST_TR_BASE: 0x6c0a,
  VMCS_HOST_GDTR_BASE: 0x6c0c,
  VMCS_HOST_IDTR_BASE: 0x6c0e,
  VMCS_HOST_IA32_SYSENTER_ESP: 0x6c10,
  VMCS_HOST_IA32_SYSENTER_EIP: 0x6c12,
  VMCS_HOST_RSP: 0x6c14,
  VMCS_HOST_RIP: 0x6c16,
  VMCS_MAX: 0x6c18,
} as const;
/** A VMCS field name of the spec's vocabulary (`VMCS_GUEST_RIP`, `VMCS_RO_EXIT_REASON`, …). */
export type VmcsFieldName = keyof typeof VMCS;

const VMCS_NAMES = new Map<number, VmcsFieldName>(
  (Object.entries(VMCS) as [VmcsFieldName, number][])
    .filter(([name]) => name !== 'VMCS_MAX')
    .map(([name, value]) => [value, name]),
);

/** The Apple name of a VMCS field encoding, or its hex spelling. */
export function vmcsFieldName(field: number): string {
  return VMCS_NAMES.get(field) ?? `0x${field.toString(16)}`;
}

/** True when the encoding names a field the spec knows. */
export function isKnownVmcsField(field: number): boolean {
  return VMCS_NAMES.has(field);
}

/**
 * Fields that belong to the framework and that a VMM cannot read or write. The XNU test asserts that
 * reading `VMCS_CTRL_EPTP` returns HV_BAD_ARGUMENT [T]; the host-state area is framework-owned by
 * construction (the framework loads it on every entry) [U].
 */
export const VMCS_FRAMEWORK_OWNED: readonly number[] = [VMCS.VMCS_CTRL_EPTP];

/** The read-only exit-information fields (Intel: encodings with bits 11:10 = 01). */
export function isVmcsReadOnly(field: number): boolean {
  return ((field >> 10) & 3) === 1;
}

/** True for the host-state area (Intel: encodings with bits 11:10 = 11). */
export function isVmcsHostState(field: number): boolean {
  return ((field >> 10) & 3) === 3;
}

/** Width in bits of a VMCS field from its encoding (Intel: bits 14:13; bit 0 = high half of 64-bit). */
export function vmcsFieldWidth(field: number): 16 | 32 | 64 {
  switch ((field >> 13) & 3) {
    case 0:
      return 16;
    case 2:
      return 32;
    default:
      // 1 = 64-bit (bit 0 set = access to the high 32 bits), 3 = natural width (64 on x86_64).
      return field & 1 && ((field >> 13) & 3) === 1 ? 32 : 64;
  }
}

/** `VMX_REASON_*`: basic exit reasons, the low 16 bits of VMCS_RO_EXIT_REASON (hvf-facts.md §1.5, [H]). */
export const VMX_REASON = {
  VMX_REASON_EXC_NMI: 0,
  VMX_REASON_IRQ: 1,
  VMX_REASON_TRIPLE_FAULT: 2,
  VMX_REASON_INIT: 3,
  VMX_REASON_SIPI: 4,
  VMX_REASON_IO_SMI: 5,
  VMX_REASON_OTHER_SMI: 6,
  VMX_REASON_IRQ_WND: 7,
  VMX_REASON_VIRTUAL_NMI_WND: 8,
  VMX_REASON_TASK: 9,
  VMX_REASON_CPUID: 10,
  VMX_REASON_GETSEC: 11,
  VMX_REASON_HLT: 12,
  VMX_REASON_INVD: 13,
  VMX_REASON_INVLPG: 14,
  VMX_REASON_RDPMC: 15,
  VMX_REASON_RDTSC: 16,
  VMX_REASON_RSM: 17,
  VMX_REASON_VMCALL: 18,
  VMX_REASON_VMCLEAR: 19,
  VMX_REASON_VMLAUNCH: 20,
  VMX_REASON_VMPTRLD: 21,
  VMX_REASON_VMPTRST: 22,
  VMX_REASON_VMREAD: 23,
  VMX_REASON_VMRESUME: 24,
  VMX_REASON_VMWRITE: 25,
  VMX_REASON_VMOFF: 26,
  VMX_REASON_VMON: 27,
  VMX_REASON_MOV_CR: 28,
  VMX_REASON_MOV_DR: 29,
  VMX_REASON_IO: 30,
  VMX_REASON_RDMSR: 31,
  VMX_REASON_WRMSR: 32,
  VMX_REASON_VMENTRY_GUEST: 33,
  VMX_REASON_VMENTRY_MSR: 34,
  VMX_REASON_MWAIT: 36,
  VMX_REASON_MTF: 37,
  VMX_REASON_MONITOR: 39,
  VMX_REASON_PAUSE: 40,
  VMX_REASON_VMENTRY_MC: 41,
  VMX_REASON_TPR_THRESHOLD: 43,
  VMX_REASON_APIC_ACCESS: 44,
  VMX_REASON_VIRTUALIZED_EOI: 45,
  VMX_REASON_GDTR_IDTR: 46,
  VMX_REASON_LDTR_TR: 47,
  VMX_REASON_EPT_VIOLATION: 48,
  VMX_REASON_EPT_MISCONFIG: 49,
  VMX_REASON_EPT_INVEPT: 50,
  VMX_REASON_RDTSCP: 51,
  VMX_REASON_VMX_TIMER_EXPIRED: 52,
  VMX_REASON_INVVPID: 53,
  VMX_REASON_WBINVD: 54,
  VMX_REASON_XSETBV: 55,
  VMX_REASON_APIC_WRITE: 56,
  VMX_REASON_RDRAND: 57,
  VMX_REASON_INVPCID: 58,
  VMX_REASON_VMFUNC: 59,
  VMX_REASON_RDSEED: 61,
  VMX_REASON_XSAVES: 63,
  VMX_REASON_XRSTORS: 64,
} as const;
/** A basic exit reason name (`VMX_REASON_IO`, `VMX_REASON_EPT_VIOLATION`, …). */
export type VmxReasonName = keyof typeof VMX_REASON;

/** Bit 31 of VMCS_RO_EXIT_REASON: the exit was a VM-entry failure. */
export const VMX_REASON_ENTRY_FAILURE = 0x8000_0000;

/** Pin-based control bits (Apple header, [H]). */
export const PIN_BASED = {
  PIN_BASED_INTR: 1 << 0,
  PIN_BASED_NMI: 1 << 3,
  PIN_BASED_VIRTUAL_NMI: 1 << 5,
  PIN_BASED_PREEMPTION_TIMER: 1 << 6,
  PIN_BASED_POSTED_INTR: 1 << 7,
} as const;

/** Primary processor-based control bits (Apple header, [H]). */
export const CPU_BASED = {
  CPU_BASED_IRQ_WND: 1 << 2,
  CPU_BASED_TSC_OFFSET: 1 << 3,
  CPU_BASED_HLT: 1 << 7,
  CPU_BASED_INVLPG: 1 << 9,
  CPU_BASED_MWAIT: 1 << 10,
  CPU_BASED_RDPMC: 1 << 11,
  CPU_BASED_RDTSC: 1 << 12,
  CPU_BASED_CR3_LOAD: 1 << 15,
  CPU_BASED_CR3_STORE: 1 << 16,
  CPU_BASED_CR8_LOAD: 1 << 19,
  CPU_BASED_CR8_STORE: 1 << 20,
  CPU_BASED_TPR_SHADOW: 1 << 21,
  CPU_BASED_VIRTUAL_NMI_WND: 1 << 22,
  CPU_BASED_MOV_DR: 1 << 23,
  CPU_BASED_UNCOND_IO: 1 << 24,
  CPU_BASED_IO_BITMAPS: 1 << 25,
  CPU_BASED_MTF: 1 << 27,
  CPU_BASED_MSR_BITMAPS: 1 << 28,
  CPU_BASED_MONITOR: 1 << 29,
  CPU_BASED_PAUSE: 1 << 30,
  CPU_BASED_SECONDARY_CTLS: 2 ** 31,
} as const;

/** Secondary processor-based control bits (Apple header, [H]). */
export const CPU_BASED2 = {
  CPU_BASED2_VIRTUAL_APIC: 1 << 0,
  CPU_BASED2_EPT: 1 << 1,
  CPU_BASED2_DESC_TABLE: 1 << 2,
  CPU_BASED2_RDTSCP: 1 << 3,
  CPU_BASED2_X2APIC: 1 << 4,
  CPU_BASED2_VPID: 1 << 5,
  CPU_BASED2_WBINVD: 1 << 6,
  CPU_BASED2_UNRESTRICTED: 1 << 7,
  CPU_BASED2_APIC_REG_VIRT: 1 << 8,
  CPU_BASED2_VIRT_INTR_DELIVERY: 1 << 9,
  CPU_BASED2_PAUSE_LOOP: 1 << 10,
  CPU_BASED2_RDRAND: 1 << 11,
  CPU_BASED2_INVPCID: 1 << 12,
  CPU_BASED2_VMFUNC: 1 << 13,
  CPU_BASED2_VMCS_SHADOW: 1 << 14,
  CPU_BASED2_RDSEED: 1 << 16,
  CPU_BASED2_EPT_VE: 1 << 18,
  CPU_BASED2_XSAVES_XRSTORS: 1 << 20,
} as const;

/** VM-exit control bits (Apple header, [H]). */
export const VMEXIT = {
  VMEXIT_SAVE_DBG_CONTROLS: 1 << 2,
  VMEXIT_HOST_IA32E: 1 << 9,
  VMEXIT_LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 12,
  VMEXIT_ACK_INTR: 1 << 15,
  VMEXIT_SAVE_IA32_PAT: 1 << 18,
  VMEXIT_LOAD_IA32_PAT: 1 << 19,
  VMEXIT_SAVE_EFER: 1 << 20,
  VMEXIT_LOAD_EFER: 1 << 21,
  VMEXIT_SAVE_VMX_TIMER: 1 << 22,
} as const;

/** VM-entry control bits (Apple header, [H]). */
export const VMENTRY = {
  VMENTRY_LOAD_DBG_CONTROLS: 1 << 2,
  VMENTRY_GUEST_IA32E: 1 << 9,
  VMENTRY_SMM: 1 << 10,
  VMENTRY_DEACTIVATE_DUAL_MONITOR: 1 << 11,
  VMENTRY_LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 13,
  VMENTRY_LOAD_IA32_PAT: 1 << 14,
  VMENTRY_LOAD_EFER: 1 << 15,
} as const;

/** Interruption-information bits (VMCS_CTRL_VMENTRY_IRQ_INFO / VMCS_RO_VMEXIT_IRQ_INFO, [H]). */
export const IRQ_INFO = {
  IRQ_INFO_EXT_IRQ: 0 << 8,
  IRQ_INFO_NMI: 2 << 8,
  IRQ_INFO_HARD_EXC: 3 << 8,
  IRQ_INFO_SOFT_IRQ: 4 << 8,
  IRQ_INFO_PRIV_SOFT_EXC: 5 << 8,
  IRQ_INFO_SOFT_EXC: 6 << 8,
  IRQ_INFO_ERROR_VALID: 1 << 11,
  IRQ_INFO_VALID: 2 ** 31,
} as const;

/** Canonicalises a VMX control the way Apple's own test does (hvf-facts.md §1.2, [T]). */
export function canonicalizeControl(capability: bigint, want: number): number {
  const must = Number(capability & 0xffff_ffffn);
  const may = Number((capability >> 32n) & 0xffff_ffffn);
  return ((want | must) & may) >>> 0;
}

/** Exit-qualification bits of an EPT violation (Intel SDM; hvf-facts.md §1.6, [T]). */
export const EPT_QUAL = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  FETCH: 1 << 2,
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  GLA_VALID: 1 << 7,
  GLA_TRANSLATED: 1 << 8,
  NMI_UNBLOCKING: 1 << 12,
} as const;

/** Exit-qualification fields of an I/O exit (Intel SDM; hvf-facts.md §1.6, [T]). */
export const IO_QUAL = {
  SIZE_MASK: 0x7,
  IN: 1 << 3,
  STRING: 1 << 4,
  REP: 1 << 5,
  IMMEDIATE: 1 << 6,
  PORT_SHIFT: 16,
} as const;

/**
 * Model-specific registers the spec names (Intel SDM Vol. 4). The twelve after EFER are the ones Apple's
 * XNU test passes to `hv_vcpu_enable_native_msr` (hvf-facts.md §1.2, §5.16 [T]).
 */
export const X86_MSR = {
  MSR_IA32_TSC: 0x10,
  MSR_IA32_SYSENTER_CS: 0x174,
  MSR_IA32_SYSENTER_ESP: 0x175,
  MSR_IA32_SYSENTER_EIP: 0x176,
  MSR_IA32_EFER: 0xc000_0080,
  MSR_IA32_STAR: 0xc000_0081,
  MSR_IA32_LSTAR: 0xc000_0082,
  MSR_IA32_CSTAR: 0xc000_0083,
  MSR_IA32_FMASK: 0xc000_0084,
  MSR_IA32_FS_BASE: 0xc000_0100,
  MSR_IA32_GS_BASE: 0xc000_0101,
  MSR_IA32_KERNEL_GS_BASE: 0xc000_0102,
  MSR_IA32_TSC_AUX: 0xc000_0103,
} as const;

/** The MSRs Apple's own test makes native with `hv_vcpu_enable_native_msr`, successfully [T]. */
export const NATIVE_MSRS_TESTED: readonly number[] = [
  X86_MSR.MSR_IA32_STAR,
  X86_MSR.MSR_IA32_LSTAR,
  X86_MSR.MSR_IA32_CSTAR,
  X86_MSR.MSR_IA32_FMASK,
  X86_MSR.MSR_IA32_KERNEL_GS_BASE,
  X86_MSR.MSR_IA32_TSC,
  X86_MSR.MSR_IA32_TSC_AUX,
  X86_MSR.MSR_IA32_SYSENTER_CS,
  X86_MSR.MSR_IA32_SYSENTER_ESP,
  X86_MSR.MSR_IA32_SYSENTER_EIP,
  X86_MSR.MSR_IA32_FS_BASE,
  X86_MSR.MSR_IA32_GS_BASE,
];

/** `hv_shadow_flags_t` of `hv_vmx_vcpu_set_shadow_access` (hvf-facts.md §1.1 [H]). */
export const HV_SHADOW_VMCS = {
  HV_SHADOW_VMCS_NONE: 0,
  HV_SHADOW_VMCS_READ: 1 << 0,
  HV_SHADOW_VMCS_WRITE: 1 << 1,
} as const;

/** `hv_vmx_msr_info_t`: what `hv_vmx_get_msr_info` reports (hvf-facts.md §1.2 [H], macOS 11.0). */
export const HV_VMX_MSR_INFO = {
  HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES: 0,
  HV_VMX_INFO_MSR_IA32_PERF_CAPABILITIES: 1,
  HV_VMX_VALID_MSR_IA32_PERFEVNTSEL: 2,
  HV_VMX_VALID_MSR_IA32_FIXED_CTR_CTRL: 3,
  HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_CTRL: 4,
  HV_VMX_VALID_MSR_IA32_PERF_GLOBAL_STATUS: 5,
  HV_VMX_VALID_MSR_IA32_DEBUGCTL: 6,
  HV_VMX_VALID_MSR_IA32_SPEC_CTRL: 7,
  HV_VMX_NEED_MSR_IA32_SPEC_CTRL: 8,
} as const;

/**
 * The size of the floating-point state buffer QEMU's HVF accelerator passes to `hv_vcpu_read_fpstate`
 * and `hv_vcpu_write_fpstate` (it aborts when either fails, and asserts the host's XSAVE area,
 * CPUID.(EAX=0DH,ECX=0):ECX, fits in it): the size known to work on the real framework [T].
 */
export const HV_FPSTATE_SIZE_TESTED = 4096;

/**
 * The fields Apple's test shadows with `hv_vmx_vcpu_set_shadow_access(READ | WRITE)` and writes with
 * `hv_vmx_vcpu_write_shadow_vmcs`, successfully, on a host with VMCS shadowing (hvf-facts.md §1.8 [T]).
 */
export const SHADOW_FIELDS_TESTED: readonly number[] = [
  VMCS.VMCS_GUEST_ES,
  VMCS.VMCS_RO_EXIT_QUALIFIC,
  VMCS.VMCS_RO_IO_RCX,
];
