/**
 * The model's `hv_vmx_read_capability` table: the host the x86 model pretends to be.
 *
 * Control capabilities use the VMX encoding the header documents (hvf-facts.md §1.2 [H/T]): low 32 bits =
 * bits that must be 1, high 32 bits = bits that may be 1, with must ⊆ may. Their shape follows a real
 * Intel host under Hypervisor.framework:
 *  - pin-based: external-interrupt and NMI exiting are forced (the framework owns host interrupts);
 *  - CPU-based: unconditional I/O exiting is forced — Apple's test requests no I/O exiting and I/O still
 *    exits (hvf-facts.md §1.8 [T]) — and so are secondary controls; HLT, CR8 load/store etc. may be set;
 *    I/O and MSR bitmaps are not offered (the framework owns MSRs; I/O always exits);
 *  - CPU-based 2: EPT is forced (the framework owns EPT; hvf-facts.md §1.2: VMCS_CTRL_EPTP is
 *    inaccessible [T]); unrestricted guest, RDTSCP, INVPCID, VMCS shadowing and friends may be set;
 *  - entry / exit: the Intel default-1 bits, "host address-space size" forced on exit (64-bit host).
 *
 * The other ids are not must/may pairs on hardware (BASIC, MISC, CR0/CR4 fixed bits, VMCS_ENUM,
 * EPT_VPID_CAP, PREEMPTION_TIMER). The spec checks low ⊆ high for every id, so the model gives values that
 * satisfy it: CR0/CR4 FIXED0 and FIXED1 both describe the register as a must/may pair; BASIC keeps the
 * real high half (VMCS size 4 KiB, write-back, TRUE controls) with revision id 0 (no hardware VMCS);
 * MISC, VMCS_ENUM, EPT_VPID_CAP and PREEMPTION_TIMER are 0 (the model offers no activity states, CR3
 * targets, EPT/VPID features to the VMM, or preemption timer).
 * @module
 */
import { CPU_BASED, CPU_BASED2, HV_VMX_CAP, PIN_BASED, VMENTRY, VMEXIT } from '@hvspec/spec';

function pair(must: number, may: number): bigint {
  return (BigInt((may | must) >>> 0) << 32n) | BigInt(must >>> 0);
}

/** Intel "default1" bits of each control (SDM Appendix A): must be 1 unless the TRUE_* MSR says otherwise. */
const PIN_DEFAULT1 = (1 << 1) | (1 << 2) | (1 << 4);
const PROC_DEFAULT1 =
  (1 << 1) |
  (1 << 4) |
  (1 << 5) |
  (1 << 6) |
  (1 << 8) |
  (1 << 13) |
  (1 << 14) |
  (1 << 15) |
  (1 << 16) |
  (1 << 26);
const ENTRY_DEFAULT1 = 0x1ff | (1 << 12);
const EXIT_DEFAULT1 = 0x1ff | (1 << 10) | (1 << 11) | (1 << 13) | (1 << 14) | (1 << 16) | (1 << 17);

const PIN_MUST = PIN_DEFAULT1 | PIN_BASED.PIN_BASED_INTR | PIN_BASED.PIN_BASED_NMI;
const PIN_MAY = PIN_MUST | PIN_BASED.PIN_BASED_VIRTUAL_NMI;

const PROC_MUST = PROC_DEFAULT1 | CPU_BASED.CPU_BASED_UNCOND_IO | CPU_BASED.CPU_BASED_SECONDARY_CTLS;
const PROC_MAY =
  PROC_MUST |
  CPU_BASED.CPU_BASED_IRQ_WND |
  CPU_BASED.CPU_BASED_TSC_OFFSET |
  CPU_BASED.CPU_BASED_HLT |
  CPU_BASED.CPU_BASED_INVLPG |
  CPU_BASED.CPU_BASED_MWAIT |
  CPU_BASED.CPU_BASED_RDPMC |
  CPU_BASED.CPU_BASED_RDTSC |
  CPU_BASED.CPU_BASED_CR8_LOAD |
  CPU_BASED.CPU_BASED_CR8_STORE |
  CPU_BASED.CPU_BASED_TPR_SHADOW |
  CPU_BASED.CPU_BASED_VIRTUAL_NMI_WND |
  CPU_BASED.CPU_BASED_MOV_DR |
  CPU_BASED.CPU_BASED_MTF |
  CPU_BASED.CPU_BASED_MONITOR |
  CPU_BASED.CPU_BASED_PAUSE;
/** TRUE_PROCBASED lets CR3-load/store exiting be cleared (SDM A.3.2). */
const TRUE_PROC_MUST = PROC_MUST & ~(CPU_BASED.CPU_BASED_CR3_LOAD | CPU_BASED.CPU_BASED_CR3_STORE);

const PROC2_MUST = CPU_BASED2.CPU_BASED2_EPT;
const PROC2_MAY =
  PROC2_MUST |
  CPU_BASED2.CPU_BASED2_VIRTUAL_APIC |
  CPU_BASED2.CPU_BASED2_DESC_TABLE |
  CPU_BASED2.CPU_BASED2_RDTSCP |
  CPU_BASED2.CPU_BASED2_X2APIC |
  CPU_BASED2.CPU_BASED2_WBINVD |
  CPU_BASED2.CPU_BASED2_UNRESTRICTED |
  CPU_BASED2.CPU_BASED2_PAUSE_LOOP |
  CPU_BASED2.CPU_BASED2_RDRAND |
  CPU_BASED2.CPU_BASED2_INVPCID |
  CPU_BASED2.CPU_BASED2_VMCS_SHADOW |
  CPU_BASED2.CPU_BASED2_RDSEED |
  CPU_BASED2.CPU_BASED2_XSAVES_XRSTORS;

const ENTRY_MUST = ENTRY_DEFAULT1;
const ENTRY_MAY =
  ENTRY_MUST | VMENTRY.VMENTRY_GUEST_IA32E | VMENTRY.VMENTRY_LOAD_IA32_PAT | VMENTRY.VMENTRY_LOAD_EFER;
/** TRUE_ENTRY lets "load debug controls" be cleared (SDM A.5). */
const TRUE_ENTRY_MUST = ENTRY_MUST & ~VMENTRY.VMENTRY_LOAD_DBG_CONTROLS;

const EXIT_MUST = EXIT_DEFAULT1 | VMEXIT.VMEXIT_HOST_IA32E;
const EXIT_MAY =
  EXIT_MUST |
  VMEXIT.VMEXIT_LOAD_IA32_PERF_GLOBAL_CTRL |
  VMEXIT.VMEXIT_ACK_INTR |
  VMEXIT.VMEXIT_SAVE_IA32_PAT |
  VMEXIT.VMEXIT_LOAD_IA32_PAT |
  VMEXIT.VMEXIT_SAVE_EFER |
  VMEXIT.VMEXIT_LOAD_EFER;
/** TRUE_EXIT lets "save debug controls" be cleared (SDM A.4). */
const TRUE_EXIT_MUST = EXIT_MUST & ~VMEXIT.VMEXIT_SAVE_DBG_CONTROLS;

/** CR0: NE must be 1 (PE/PG may be 0 with unrestricted guest); every defined bit may be 1. */
const CR0_PAIR = pair(0x20, 0xe005_003f);
/** CR4: VMXE must be 1; the defined bits VMX allows may be 1 (no LA57, no SMXE). */
const CR4_PAIR = pair(0x2000, 0x0077_2fff);

/** `hv_vmx_read_capability` values by `hv_vmx_capability_t`. */
export const MODEL_VMX_CAPABILITIES: Readonly<Record<number, bigint>> = Object.freeze({
  [HV_VMX_CAP.HV_VMX_CAP_PINBASED]: pair(PIN_MUST, PIN_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_PROCBASED]: pair(PROC_MUST, PROC_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_PROCBASED2]: pair(PROC2_MUST, PROC2_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_ENTRY]: pair(ENTRY_MUST, ENTRY_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_EXIT]: pair(EXIT_MUST, EXIT_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_BASIC]: 0x00d8_1000n << 32n,
  [HV_VMX_CAP.HV_VMX_CAP_TRUE_PINBASED]: pair(PIN_BASED.PIN_BASED_INTR | PIN_BASED.PIN_BASED_NMI, PIN_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_TRUE_PROCBASED]: pair(TRUE_PROC_MUST, PROC_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_TRUE_ENTRY]: pair(TRUE_ENTRY_MUST, ENTRY_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_TRUE_EXIT]: pair(TRUE_EXIT_MUST, EXIT_MAY),
  [HV_VMX_CAP.HV_VMX_CAP_MISC]: 0n,
  [HV_VMX_CAP.HV_VMX_CAP_CR0_FIXED0]: CR0_PAIR,
  [HV_VMX_CAP.HV_VMX_CAP_CR0_FIXED1]: CR0_PAIR,
  [HV_VMX_CAP.HV_VMX_CAP_CR4_FIXED0]: CR4_PAIR,
  [HV_VMX_CAP.HV_VMX_CAP_CR4_FIXED1]: CR4_PAIR,
  [HV_VMX_CAP.HV_VMX_CAP_VMCS_ENUM]: 0n,
  [HV_VMX_CAP.HV_VMX_CAP_EPT_VPID_CAP]: 0n,
  [HV_VMX_CAP.HV_VMX_CAP_PREEMPTION_TIMER]: 0n,
});

/** True when a 32-bit control value honours a capability's must-be-1 / may-be-1 masks. */
export function controlAllowed(capability: bigint, value: number): boolean {
  const must = Number(capability & 0xffff_ffffn);
  const may = Number(capability >> 32n);
  return (value & must) >>> 0 === must >>> 0 && (value & ~may) >>> 0 === 0;
}
