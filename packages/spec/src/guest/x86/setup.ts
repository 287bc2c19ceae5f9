/**
 * The canonical VMCS setup of a vCPU, exactly as Apple's own x86 test does it (XNU
 * `tests/hvtest_x86.m`, `setup_protected_mode`; hvf-facts.md §1.8 [T]). A trace's `x86_setup` step
 * expands to these `hv_vmx_vcpu_write_vmcs` calls, in this order.
 * @module
 */
import { CPU_BASED, canonicalizeControl, HV_VMX_CAP, VMCS } from '../../vocabulary/x86.js';

/** One `hv_vmx_vcpu_write_vmcs(vcpu, field, value)` call. */
export interface X86SetupStep {
  readonly field: number;
  readonly value: bigint;
}

/** The modes `x86_setup` knows. Only 32-bit protected mode with paging off so far. */
/** The modes `x86_setup` knows, each a canonical VMCS setup. */
export const X86_SETUP_MODES = ['prot32'] as const;
export type X86SetupMode = (typeof X86_SETUP_MODES)[number];

/**
 * The `hv_vmx_vcpu_write_vmcs` calls that put a vCPU into 32-bit flat protected mode with paging off
 * at `rip`. `readCapability(id)` is `hv_vmx_read_capability` on the backend under test (the controls
 * are canonicalised against the host's allowed-0/allowed-1 masks, hvf-facts.md §1.2 [T], §5.15).
 *
 * Sources of the values (all XNU `setup_protected_mode` [T] unless noted):
 * - controls: pin-based 0; CPU-based `CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE`
 *   (HLT exits; the CR8 bits are what Apple asks for too); CPU-based2 0; VM-entry 0; VM-exit 0. I/O
 *   instructions exit anyway: the framework's must-be-1 bits force I/O exiting (hvf-facts.md §1.8).
 * - `VMCS_GUEST_CR0` 0x21 (PE | NE), `VMCS_CTRL_CR0_MASK` 0xffffffff, `VMCS_CTRL_CR0_SHADOW` 0x21.
 *   Apple writes the mask as C `~0u`, an `unsigned int`: 0x00000000ffffffff, not ~0ull.
 * - `VMCS_GUEST_CR3` 0 (paging off).
 * - `VMCS_GUEST_CR4` 0x2000 (VMXE, required in VMX operation), mask `~0u` = 0xffffffff, shadow 0.
 * - TR selector 0, AR 0x8b (32-bit busy TSS); LDTR selector 0, AR 0x10000 (unusable).
 * - SS/DS/ES/FS/GS: selector 0x8, base 0, limit 0xffffffff, AR 0xc093 (present, writable data,
 *   accessed, 32-bit, 4 KiB granular). CS: selector 0x10, base 0, limit 0xffffffff, AR 0xc09b
 *   (present, readable code, accessed, 32-bit). Apple writes SS first, then CS, DS, ES, FS, GS.
 * - GDTR and IDTR base 0, limit 0 (no descriptor tables: the guest never loads a segment).
 * - `VMCS_GUEST_RFLAGS` 0x2 (bit 1 is reserved-1; IF = 0).
 * - `VMCS_CTRL_EXC_BITMAP` 0xffffffff: every guest exception exits with reason 0.
 * - `VMCS_GUEST_RIP` = `rip` (Apple writes it before the setup, in `wrap_monitor`; last here, so that
 *   the setup is one block followed by the entry point). Apple also writes `VMCS_GUEST_RSP`; the spec
 *   leaves RSP to the scenario's register writes.
 */
export function x86SetupSteps(
  readCapability: (id: number) => bigint,
  mode: 'prot32',
  rip: bigint,
): Array<{ field: number; value: bigint }> {
  if (mode !== 'prot32') throw new TypeError(`mode must be 'prot32', got ${JSON.stringify(mode)}`);
  if (typeof rip !== 'bigint' || rip < 0n || rip > 0xffff_ffff_ffff_ffffn)
    throw new TypeError('rip must be a bigint in [0, 2^64)');
  const control = (cap: number, want: number): bigint =>
    BigInt(canonicalizeControl(readCapability(cap), want));
  const steps: X86SetupStep[] = [
    { field: VMCS.VMCS_CTRL_PIN_BASED, value: control(HV_VMX_CAP.HV_VMX_CAP_PINBASED, 0) },
    {
      field: VMCS.VMCS_CTRL_CPU_BASED,
      value: control(
        HV_VMX_CAP.HV_VMX_CAP_PROCBASED,
        CPU_BASED.CPU_BASED_HLT | CPU_BASED.CPU_BASED_CR8_LOAD | CPU_BASED.CPU_BASED_CR8_STORE,
      ),
    },
    { field: VMCS.VMCS_CTRL_CPU_BASED2, value: control(HV_VMX_CAP.HV_VMX_CAP_PROCBASED2, 0) },
    { field: VMCS.VMCS_CTRL_VMENTRY_CONTROLS, value: control(HV_VMX_CAP.HV_VMX_CAP_ENTRY, 0) },
    { field: VMCS.VMCS_CTRL_VMEXIT_CONTROLS, value: control(HV_VMX_CAP.HV_VMX_CAP_EXIT, 0) },
    { field: VMCS.VMCS_GUEST_CR0, value: 0x21n },
    { field: VMCS.VMCS_CTRL_CR0_MASK, value: 0xffff_ffffn },
    { field: VMCS.VMCS_CTRL_CR0_SHADOW, value: 0x21n },
    { field: VMCS.VMCS_GUEST_CR3, value: 0n },
    { field: VMCS.VMCS_GUEST_CR4, value: 0x2000n },
    { field: VMCS.VMCS_CTRL_CR4_MASK, value: 0xffff_ffffn },
    { field: VMCS.VMCS_CTRL_CR4_SHADOW, value: 0n },
    { field: VMCS.VMCS_GUEST_TR, value: 0n },
    { field: VMCS.VMCS_GUEST_TR_AR, value: 0x8bn },
    { field: VMCS.VMCS_GUEST_LDTR, value: 0n },
    { field: VMCS.VMCS_GUEST_LDTR_AR, value: 0x10000n },
  ];
  const segments = [
    ['SS', 0x8n, 0xc093n],
    ['CS', 0x10n, 0xc09bn],
    ['DS', 0x8n, 0xc093n],
    ['ES', 0x8n, 0xc093n],
    ['FS', 0x8n, 0xc093n],
    ['GS', 0x8n, 0xc093n],
  ] as const;
  for (const [s, selector, ar] of segments) {
    steps.push(
      { field: VMCS[`VMCS_GUEST_${s}`], value: selector },
      { field: VMCS[`VMCS_GUEST_${s}_BASE`], value: 0n },
      { field: VMCS[`VMCS_GUEST_${s}_LIMIT`], value: 0xffff_ffffn },
      { field: VMCS[`VMCS_GUEST_${s}_AR`], value: ar },
    );
  }
  steps.push(
    { field: VMCS.VMCS_GUEST_GDTR_BASE, value: 0n },
    { field: VMCS.VMCS_GUEST_GDTR_LIMIT, value: 0n },
    { field: VMCS.VMCS_GUEST_IDTR_BASE, value: 0n },
    { field: VMCS.VMCS_GUEST_IDTR_LIMIT, value: 0n },
    { field: VMCS.VMCS_GUEST_RFLAGS, value: 0x2n },
    { field: VMCS.VMCS_CTRL_EXC_BITMAP, value: 0xffff_ffffn },
    { field: VMCS.VMCS_GUEST_RIP, value: rip },
  );
  return steps;
}
