/**
 * The canonical VMCS setups of a vCPU, exactly as Apple's own x86 test does them (XNU
 * `tests/hvtest_x86.m`, `setup_real_mode`, `setup_protected_mode`, `setup_long_mode`; hvf-facts.md
 * §1.8 [T]). A trace's `x86_setup` step expands to these `hv_vmx_vcpu_write_vmcs` calls, in this order.
 * @module
 */
import type { ThreadId, Vcpu, X86Backend } from '../../backend.js';
import { CPU_BASED, canonicalizeControl, HV_VMX_CAP, VMCS, VMENTRY } from '../../vocabulary/x86.js';
import { X86_MODES, type X86Mode } from './actions.js';

/** One `hv_vmx_vcpu_write_vmcs(vcpu, field, value)` call. */
export interface X86SetupStep {
  readonly field: number;
  readonly value: bigint;
}

/** The modes `x86_setup` knows (its `mode` word), each a canonical VMCS setup. */
export const X86_SETUP_MODES: readonly X86Mode[] = X86_MODES;
/**
 * A mode `x86_setup` can put a vCPU in: `real`, `prot32`, `prot32-paging` or `long64` (the same set as
 * the guest programs' {@link X86Mode}; see {@link x86SetupSteps} for the VMCS state of each).
 */
export type X86SetupMode = X86Mode;

/** The CPU-based controls every canonical setup asks for (Apple's test, all three setups [T]). */
export const X86_SETUP_CPU_BASED =
  CPU_BASED.CPU_BASED_HLT | CPU_BASED.CPU_BASED_CR8_LOAD | CPU_BASED.CPU_BASED_CR8_STORE;

/** The guest/host masks and read shadows of CR0 and CR4 a canonical setup writes. */
export interface X86CrControl {
  readonly cr0: bigint;
  readonly cr0Mask: bigint;
  readonly cr0Shadow: bigint;
  readonly cr4: bigint;
  readonly cr4Mask: bigint;
  readonly cr4Shadow: bigint;
}

/**
 * CR0 and CR4 of each mode. Apple writes the masks as C `~0u`, an `unsigned int`: 0x00000000ffffffff,
 * not ~0ull, so bits 63:32 are guest-owned (they are reserved and stay 0).
 * - real: CR0 0x20 (NE), shadow 0x20; CR4 0x2000 (VMXE, required in VMX operation), shadow 0 [T].
 * - prot32: CR0 0x21 (PE | NE), shadow 0x21; CR4 0x2000, shadow 0 [T].
 * - prot32-paging: not one of Apple's setups; prot32 with CR0.PG (0x80000021, shadow the same, as
 *   Apple's long mode does) and CR4.PSE (0x2010, shadow 0x10) so that the canonical page tables can use
 *   4 MiB pages (Intel SDM Vol. 3 §4.3).
 * - long64: CR0 0x80000021 (PG | NE | PE), shadow the same; CR4 0x2020 (PAE | VMXE), shadow 0x2020 [T].
 */
export function x86CrControl(mode: X86Mode): X86CrControl {
  const full = 0xffff_ffffn;
  switch (mode) {
    case 'real':
      return { cr0: 0x20n, cr0Mask: full, cr0Shadow: 0x20n, cr4: 0x2000n, cr4Mask: full, cr4Shadow: 0n };
    case 'prot32':
      return { cr0: 0x21n, cr0Mask: full, cr0Shadow: 0x21n, cr4: 0x2000n, cr4Mask: full, cr4Shadow: 0n };
    case 'prot32-paging':
      return {
        cr0: 0x8000_0021n,
        cr0Mask: full,
        cr0Shadow: 0x8000_0021n,
        cr4: 0x2010n,
        cr4Mask: full,
        cr4Shadow: 0x10n,
      };
    case 'long64':
      return {
        cr0: 0x8000_0021n,
        cr0Mask: full,
        cr0Shadow: 0x8000_0021n,
        cr4: 0x2020n,
        cr4Mask: full,
        cr4Shadow: 0x2020n,
      };
  }
}

/**
 * Where real-mode code at linear address `rip` (below 1 MiB) runs from: CS selector, base and the
 * 16-bit IP. Apple's real-mode guest is at 0x1000 + its offset, with CS selector 0 and base 0 [T]; code
 * above 64 KiB needs a CS base, which in real mode is the selector times 16 (Intel SDM Vol. 3 §20.1.1):
 * the setup takes the highest selector whose 64 KiB segment starts at a multiple of 64 KiB, so that
 * code below 64 KiB gets exactly Apple's values.
 */
export function x86RealModeCs(rip: bigint): { selector: number; base: bigint; ip: bigint } {
  if (rip < 0n || rip >= 0x10_0000n) throw new TypeError('a real-mode rip must be below 1 MiB');
  const base = rip & ~0xffffn;
  return { selector: Number(base >> 4n), base, ip: rip - base };
}

/**
 * The `hv_vmx_vcpu_write_vmcs` calls that put a vCPU into `mode` at `rip` (a linear address; in real
 * mode below 1 MiB, see {@link x86RealModeCs}). `readCapability(id)` is `hv_vmx_read_capability` on the
 * backend under test (the controls are canonicalised against the host's allowed-0/allowed-1 masks,
 * hvf-facts.md §1.2 [T], §5.15). `cr3` is what paging modes load into VMCS_GUEST_CR3 (Apple: the PML4's
 * GPA); a trace's `x86_setup` step has no `cr3` and writes 0, and the trace then writes VMCS_GUEST_CR3
 * itself.
 *
 * Sources of the values (all XNU [T] unless noted):
 * - controls: pin-based 0; CPU-based `CPU_BASED_HLT | CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE`
 *   (HLT exits; the CR8 bits are what Apple asks for too); CPU-based2 0; VM-entry 0, or
 *   `VMENTRY_GUEST_IA32E` in long mode; VM-exit 0. I/O instructions exit anyway: the framework's
 *   must-be-1 bits force I/O exiting (hvf-facts.md §1.8). Apple's real-mode guest runs with no
 *   secondary control requested, so the framework runs it as an unrestricted guest itself.
 * - CR0/CR4 with masks and shadows: {@link x86CrControl}.
 * - `VMCS_GUEST_CR3` 0 without paging (Apple writes it in protected mode, not in real mode).
 * - long64: `VMCS_GUEST_IA32_EFER` 0x500 (LME | LMA). Apple also calls
 *   `hv_vcpu_enable_native_msr(MSR_IA32_KERNEL_GS_BASE, true)` ("the framework wants this",
 *   hvf-facts.md §5.16); that call is not part of the spec yet and no generated guest touches
 *   KERNEL_GS_BASE, so the setup leaves it out.
 * - TR selector 0, AR 0x8b (32-bit busy TSS; real mode: AR 0x83, no selector written); LDTR selector 0,
 *   AR 0x10000 (unusable; real mode: AR only).
 * - segments: real mode selector 0, base 0, limit 0xffff, AR 0x93 (data) / 0x9b (CS); protected mode
 *   SS/DS/ES/FS/GS selector 0x8, CS 0x10, base 0, limit 0xffffffff, AR 0xc093 / 0xc09b (32-bit); long
 *   mode the same selectors with AR 0xa093 / 0xa09b (CS.L = 1). Apple writes SS first, then CS, DS, ES,
 *   FS, GS. Real-mode code above 64 KiB: CS selector and base per {@link x86RealModeCs}.
 * - GDTR and IDTR base 0, limit 0 (no descriptor tables).
 * - `VMCS_GUEST_RFLAGS` 0x2 (bit 1 is reserved-1; IF = 0).
 * - `VMCS_CTRL_EXC_BITMAP` 0xffffffff: every guest exception exits with reason 0.
 * - `VMCS_GUEST_RIP` = `rip` (Apple writes it before the setup, in `wrap_monitor`; last here, so that
 *   the setup is one block followed by the entry point). Apple also writes `VMCS_GUEST_RSP`; the spec
 *   leaves RSP to the scenario's register writes.
 */
export function x86SetupSteps(
  readCapability: (id: number) => bigint,
  mode: X86SetupMode,
  rip: bigint,
  cr3 = 0n,
): Array<{ field: number; value: bigint }> {
  if (!X86_MODES.includes(mode))
    throw new TypeError(`mode must be one of ${X86_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  if (typeof rip !== 'bigint' || rip < 0n || rip > 0xffff_ffff_ffff_ffffn)
    throw new TypeError('rip must be a bigint in [0, 2^64)');
  if (typeof cr3 !== 'bigint' || cr3 < 0n || cr3 > 0xffff_ffff_ffff_ffffn)
    throw new TypeError('cr3 must be a bigint in [0, 2^64)');
  const control = (cap: number, want: number): bigint =>
    BigInt(canonicalizeControl(readCapability(cap), want));
  const real = mode === 'real';
  const long = mode === 'long64';
  const cs = real ? x86RealModeCs(rip) : { selector: 0x10, base: 0n, ip: rip };
  const cr = x86CrControl(mode);
  const steps: X86SetupStep[] = [
    { field: VMCS.VMCS_CTRL_PIN_BASED, value: control(HV_VMX_CAP.HV_VMX_CAP_PINBASED, 0) },
    { field: VMCS.VMCS_CTRL_CPU_BASED, value: control(HV_VMX_CAP.HV_VMX_CAP_PROCBASED, X86_SETUP_CPU_BASED) },
    { field: VMCS.VMCS_CTRL_CPU_BASED2, value: control(HV_VMX_CAP.HV_VMX_CAP_PROCBASED2, 0) },
    {
      field: VMCS.VMCS_CTRL_VMENTRY_CONTROLS,
      value: control(HV_VMX_CAP.HV_VMX_CAP_ENTRY, long ? VMENTRY.VMENTRY_GUEST_IA32E : 0),
    },
    { field: VMCS.VMCS_CTRL_VMEXIT_CONTROLS, value: control(HV_VMX_CAP.HV_VMX_CAP_EXIT, 0) },
    { field: VMCS.VMCS_GUEST_CR0, value: cr.cr0 },
    { field: VMCS.VMCS_CTRL_CR0_MASK, value: cr.cr0Mask },
    { field: VMCS.VMCS_CTRL_CR0_SHADOW, value: cr.cr0Shadow },
  ];
  // Apple's real and long modes write no CR3 here (long mode writes it further down).
  if (mode === 'prot32' || mode === 'prot32-paging') steps.push({ field: VMCS.VMCS_GUEST_CR3, value: cr3 });
  steps.push(
    { field: VMCS.VMCS_GUEST_CR4, value: cr.cr4 },
    { field: VMCS.VMCS_CTRL_CR4_MASK, value: cr.cr4Mask },
    { field: VMCS.VMCS_CTRL_CR4_SHADOW, value: cr.cr4Shadow },
  );
  if (long) steps.push({ field: VMCS.VMCS_GUEST_IA32_EFER, value: 0x500n });
  if (real) {
    steps.push(
      { field: VMCS.VMCS_GUEST_TR_AR, value: 0x83n },
      { field: VMCS.VMCS_GUEST_LDTR_AR, value: 0x10000n },
    );
  } else {
    steps.push(
      { field: VMCS.VMCS_GUEST_TR, value: 0n },
      { field: VMCS.VMCS_GUEST_TR_AR, value: 0x8bn },
      { field: VMCS.VMCS_GUEST_LDTR, value: 0n },
      { field: VMCS.VMCS_GUEST_LDTR_AR, value: 0x10000n },
    );
  }
  const data = real ? 0x93n : long ? 0xa093n : 0xc093n;
  const code = real ? 0x9bn : long ? 0xa09bn : 0xc09bn;
  const limit = real ? 0xffffn : 0xffff_ffffn;
  const dataSelector = real ? 0n : 0x8n;
  const segments = [
    ['SS', dataSelector, 0n, data],
    ['CS', BigInt(cs.selector), cs.base, code],
    ['DS', dataSelector, 0n, data],
    ['ES', dataSelector, 0n, data],
    ['FS', dataSelector, 0n, data],
    ['GS', dataSelector, 0n, data],
  ] as const;
  for (const [s, selector, base, ar] of segments) {
    steps.push(
      { field: VMCS[`VMCS_GUEST_${s}`], value: selector },
      { field: VMCS[`VMCS_GUEST_${s}_BASE`], value: base },
      { field: VMCS[`VMCS_GUEST_${s}_LIMIT`], value: limit },
      { field: VMCS[`VMCS_GUEST_${s}_AR`], value: ar },
    );
  }
  const tables = [
    { field: VMCS.VMCS_GUEST_GDTR_BASE, value: 0n },
    { field: VMCS.VMCS_GUEST_GDTR_LIMIT, value: 0n },
    { field: VMCS.VMCS_GUEST_IDTR_BASE, value: 0n },
    { field: VMCS.VMCS_GUEST_IDTR_LIMIT, value: 0n },
  ];
  const flags = [
    { field: VMCS.VMCS_GUEST_RFLAGS, value: 0x2n },
    { field: VMCS.VMCS_CTRL_EXC_BITMAP, value: 0xffff_ffffn },
  ];
  // Apple's long mode writes RFLAGS, the exception bitmap and CR3 before the descriptor tables.
  if (long) steps.push(...flags, { field: VMCS.VMCS_GUEST_CR3, value: cr3 }, ...tables);
  else steps.push(...tables, ...flags);
  steps.push({ field: VMCS.VMCS_GUEST_RIP, value: cs.ip });
  return steps;
}

/** The VMCS_CTRL_CPU_BASED value a canonical setup writes, given `hv_vmx_read_capability`. */
export function x86SetupCpuBased(readCapability: (id: number) => bigint, extra = 0): number {
  return canonicalizeControl(readCapability(HV_VMX_CAP.HV_VMX_CAP_PROCBASED), X86_SETUP_CPU_BASED | extra);
}

/**
 * Makes the `prot32` setup of a vCPU whose code starts at `rip` through the backend (the harness's
 * spinning guests), handing each write and its return code to `check`.
 */
export function writeX86Prot32Setup(
  b: X86Backend,
  t: ThreadId,
  vcpu: Vcpu,
  rip: bigint,
  check: (what: string, ret: number) => void,
): void {
  const readCapability = (id: number) => b.hv_vmx_read_capability(0, id).value ?? 0n;
  for (const { field, value } of x86SetupSteps(readCapability, 'prot32', rip))
    check(
      `hv_vmx_vcpu_write_vmcs(0x${field.toString(16)})`,
      b.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value).ret,
    );
}
