/**
 * Exits left unhandled: per vCPU, what its last exit obliges the VMM to do before the vCPU runs again,
 * and whether the calls in between did it. The framework never moves RIP or PC for the VMM except past
 * an arm64 HVC (hvf-facts.md §1.7, §2.8 [T]), so a vCPU that runs again without its RIP/PC advanced past
 * an instruction exit executes the same instruction again; an MMIO access neither emulated (PC moved)
 * nor backed by a new mapping faults again.
 *
 * Only what the trace shows is judged: an x86 exit whose reason the VMM never read is not judged (the VMM
 * may know it by construction), and an exception exit only when the VMM read its interruption
 * information (a trap such as `int3` needs nothing; a fault does).
 * @module
 */
import type { Arm64Exit } from '../backend.js';
import type { Evidence } from '../calls/types.js';
import { decodeInterruptionInfo } from '../guest/x86/exits.js';
import {
  describeEsr,
  describeExitReason,
  describeInterruptionInfo,
  describeQualification,
} from '../judge/describe.js';
import { HV_EXIT_REASON } from '../vocabulary/arm64.js';
import { VMX_REASON } from '../vocabulary/x86.js';

/** What can settle an exit: moving RIP/PC, injecting an event, a new mapping or protection, a host write. */
type Fix = 'pc' | 'inject' | 'map' | 'host-write';

/** An exit-handling rule. */
export interface ExitRule {
  readonly id: string;
  /** What exited, in words. */
  readonly what: string;
  /** What the VMM must do before running the vCPU again. */
  readonly needs: string;
  readonly fixes: readonly Fix[];
  readonly evidence: Evidence;
  readonly source: string;
}

const X86_IO: ExitRule = {
  id: 'exit.x86.io',
  what: 'an I/O instruction',
  needs: 'advance RIP by VMCS_RO_VMEXIT_INSTR_LEN after emulating the access',
  // An injected event alone does not do: the guest's handler returns to the I/O instruction.
  fixes: ['pc'],
  evidence: 'tested',
  source:
    'hvf-facts §1.6/§1.7: the framework never advances RIP; the VMM writes RIP += VMCS_RO_VMEXIT_INSTR_LEN (XNU test, QEMU) [T]',
};

const X86_HLT: ExitRule = {
  id: 'exit.x86.hlt',
  what: 'HLT',
  needs: 'advance RIP past the HLT (also when injecting the interrupt that wakes the guest)',
  // An interrupt taken in HLT returns after it (Intel SDM Vol. 2, HLT): injected at the HLT, it returns
  // to the HLT and the guest halts again.
  fixes: ['pc'],
  evidence: 'tested',
  source: 'hvf-facts §1.7: the framework never advances RIP for the VMM [T]',
};

const X86_INSTRUCTION: ExitRule = {
  id: 'exit.x86.instruction',
  what: 'an instruction the VMM emulates',
  needs: 'emulate it and advance RIP by VMCS_RO_VMEXIT_INSTR_LEN (or inject a fault)',
  fixes: ['pc', 'inject'],
  evidence: 'tested',
  source:
    'hvf-facts §1.7/§1.8: RIP stays at the instruction; the XNU test advances VMCS_GUEST_RIP after VMCALL [T]',
};

const X86_EPT: ExitRule = {
  id: 'exit.x86.ept-violation',
  what: 'an access to guest-physical memory that is not mapped with the needed permission',
  needs:
    'emulate the access and advance RIP past the instruction (MMIO), or map / hv_vm_protect the page and run it again',
  fixes: ['pc', 'inject', 'map'],
  evidence: 'tested',
  source:
    'hvf-facts §1.6/§1.8: MMIO is emulated by decoding the instruction at RIP; demand paging fixes the page with hv_vm_protect and re-runs without advancing RIP [T]',
};

const X86_EXCEPTION: ExitRule = {
  id: 'exit.x86.exception',
  what: 'a guest fault',
  needs:
    'inject it (VMCS_CTRL_VMENTRY_IRQ_INFO), emulate the faulting instruction and move RIP, or fix its cause',
  fixes: ['pc', 'inject', 'map', 'host-write'],
  evidence: 'tested',
  source:
    'hvf-facts §1.6/§1.8: exception exits report the vector in VMCS_RO_VMEXIT_IRQ_INFO with RIP at the faulting instruction; a fault re-executes it [T]',
};

/** Instruction exits (other than I/O and HLT) that leave RIP at the instruction. */
const X86_INSTRUCTION_REASONS: ReadonlySet<number> = new Set([
  VMX_REASON.VMX_REASON_CPUID,
  VMX_REASON.VMX_REASON_GETSEC,
  VMX_REASON.VMX_REASON_INVD,
  VMX_REASON.VMX_REASON_INVLPG,
  VMX_REASON.VMX_REASON_RDPMC,
  VMX_REASON.VMX_REASON_RDTSC,
  VMX_REASON.VMX_REASON_VMCALL,
  VMX_REASON.VMX_REASON_RDMSR,
  VMX_REASON.VMX_REASON_WRMSR,
  VMX_REASON.VMX_REASON_MWAIT,
  VMX_REASON.VMX_REASON_MONITOR,
  VMX_REASON.VMX_REASON_RDTSCP,
  VMX_REASON.VMX_REASON_WBINVD,
  VMX_REASON.VMX_REASON_XSETBV,
  VMX_REASON.VMX_REASON_RDRAND,
  VMX_REASON.VMX_REASON_RDSEED,
]);

/**
 * Exceptions of the fault class (Intel SDM Vol. 3 §6.5: RIP at the faulting instruction); traps
 * (#DB, #BP, #OF) leave RIP after the instruction and need nothing.
 */
const X86_FAULT_VECTORS: ReadonlySet<number> = new Set([0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20]);

const ARM64_PC_ADVANCE: Evidence = 'tested';
const ARM64_SOURCE =
  'hvf-facts §2.8: PC points at the trapping instruction for data aborts, WFx, MSR/MRS traps and SMC; the VMM does PC += 4 (QEMU, libkrun) [T]';

/** arm64 rules by exception class (ESR_EL2.EC). HVC (0x16) is absent: PC is already past it. */
const ARM64_RULES: ReadonlyMap<number, ExitRule> = new Map([
  [
    0x24,
    {
      id: 'exit.arm64.data-abort',
      what: 'a data abort (guest MMIO)',
      needs: 'emulate the access and set PC += 4, or map the IPA and run it again',
      fixes: ['pc', 'map'],
      evidence: ARM64_PC_ADVANCE,
      source: ARM64_SOURCE,
    },
  ],
  [
    0x20,
    {
      id: 'exit.arm64.instruction-abort',
      what: 'an instruction abort',
      needs: 'map the IPA (or move PC, e.g. by injecting the abort)',
      fixes: ['pc', 'map'],
      evidence: 'tested',
      source: 'hvf-facts §2.8: an instruction abort reports the IPA of the fetch; PC stays at it [T]',
    },
  ],
  [
    0x01,
    {
      id: 'exit.arm64.wfx',
      what: 'WFI/WFE',
      needs: 'set PC += 4 (after waiting for an interrupt)',
      fixes: ['pc'],
      evidence: ARM64_PC_ADVANCE,
      source: ARM64_SOURCE,
    },
  ],
  [
    0x18,
    {
      id: 'exit.arm64.sysreg',
      what: 'a trapped MSR/MRS',
      needs: 'emulate it and set PC += 4',
      fixes: ['pc'],
      evidence: ARM64_PC_ADVANCE,
      source: ARM64_SOURCE,
    },
  ],
  [
    0x17,
    {
      id: 'exit.arm64.smc',
      what: 'a trapped SMC',
      needs: 'emulate it and set PC += 4 (unlike HVC, PC is not advanced by the framework)',
      fixes: ['pc'],
      evidence: ARM64_PC_ADVANCE,
      source: `${ARM64_SOURCE}; QEMU does not advance for HVC, does for SMC [T]`,
    },
  ],
  [
    0x3c,
    {
      id: 'exit.arm64.brk',
      what: 'a BRK instruction',
      needs: 'skip it (PC += 4), re-inject it, or remove it from guest memory',
      fixes: ['pc', 'host-write'],
      evidence: 'tested',
      source: 'hvf-facts §2.8: BRK / breakpoint: PC at the instruction; re-inject or skip [T]',
    },
  ],
]);

/** Every exit rule, for the reference and for tests. */
export const EXIT_RULES: readonly ExitRule[] = [
  X86_IO,
  X86_HLT,
  X86_INSTRUCTION,
  X86_EPT,
  X86_EXCEPTION,
  ...ARM64_RULES.values(),
];

/** The exit of one run, as far as the trace shows it, and what has been done about it since. */
interface PendingExit {
  readonly runStep: number;
  rule?: ExitRule;
  detail?: string;
  /** x86 basic exit reason, qualification and interruption information, once read. */
  reason?: number;
  qualification?: bigint;
  irqInfo?: bigint;
  /** RIP / PC at the exit, when read before any write of it. */
  pc?: bigint;
  /** The guest-physical / intermediate-physical address of the access, when known. */
  addr?: bigint;
  pcWritten: boolean;
  /** A write of RIP/PC that put back the value it had at the exit. */
  pcRewritten: boolean;
  handled: boolean;
}

/** An exit left unhandled: the rule, the run that exited and why. */
export interface UnhandledExit {
  readonly rule: ExitRule;
  readonly exitStep: number;
  readonly message: string;
}

/** Tracks, per vCPU handle, the obligations its last exit left. */
export class ExitTracker {
  private readonly pending = new Map<number, PendingExit>();

  /**
   * A run of `vcpu` at `step`. `entered`: it entered the guest (not a run cancelled by a pending kick,
   * not a failed call). Returns the exit of the previous run if it was left unhandled.
   */
  run(vcpu: number, step: number, entered: boolean, arm64Exit?: Arm64Exit): UnhandledExit | undefined {
    const before = this.pending.get(vcpu);
    if (!entered) return undefined;
    let found: UnhandledExit | undefined;
    if (before?.rule && !before.handled) {
      const rewritten = before.pcRewritten ? ' (the VMM wrote back the RIP/PC it had at the exit)' : '';
      found = {
        rule: before.rule,
        exitStep: before.runStep,
        message: `the vCPU runs again without handling the exit of step ${before.runStep}, ${before.rule.what}${before.detail ? ` (${before.detail})` : ''}${rewritten}: the VMM must ${before.rule.needs}`,
      };
    }
    const next: PendingExit = { runStep: step, pcWritten: false, pcRewritten: false, handled: false };
    if (arm64Exit) this.arm64(next, arm64Exit);
    this.pending.set(vcpu, next);
    return found;
  }

  private arm64(p: PendingExit, exit: Arm64Exit): void {
    if (exit.reason !== HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) return;
    const esr = exit.exception.syndrome;
    const rule = ARM64_RULES.get(Number((esr >> 26n) & 0x3fn));
    if (!rule) return;
    p.rule = rule;
    p.detail = `${describeEsr(esr)}; IPA 0x${exit.exception.physical_address.toString(16)}`;
    p.addr = exit.exception.physical_address;
  }

  /** x86: the VMM read VMCS_RO_EXIT_REASON after the run. */
  exitReason(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (!p || p.reason !== undefined) return;
    p.reason = Number(value & 0xffffn);
    if ((value & 0x8000_0000n) !== 0n) return; // a VM-entry failure: nothing executed
    this.classifyX86(p);
  }

  /** x86: VMCS_RO_EXIT_QUALIFIC. */
  qualification(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (!p) return;
    p.qualification = value;
    this.classifyX86(p);
  }

  /** x86: VMCS_RO_VMEXIT_IRQ_INFO. */
  interruptionInfo(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (!p) return;
    p.irqInfo = value;
    this.classifyX86(p);
  }

  /** x86: VMCS_GUEST_PHYSICAL_ADDRESS. */
  guestPhysical(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (p) p.addr = value;
  }

  private classifyX86(p: PendingExit): void {
    const reason = p.reason;
    if (reason === undefined) return;
    const qual = p.qualification;
    switch (true) {
      case reason === VMX_REASON.VMX_REASON_IO:
        p.rule = X86_IO;
        break;
      case reason === VMX_REASON.VMX_REASON_HLT:
        p.rule = X86_HLT;
        break;
      case reason === VMX_REASON.VMX_REASON_EPT_VIOLATION:
        p.rule = X86_EPT;
        break;
      case X86_INSTRUCTION_REASONS.has(reason):
        p.rule = X86_INSTRUCTION;
        break;
      case reason === VMX_REASON.VMX_REASON_EXC_NMI: {
        const info = p.irqInfo === undefined ? undefined : decodeInterruptionInfo(p.irqInfo);
        if (info?.type === 'hardware-exception' && X86_FAULT_VECTORS.has(info.vector)) p.rule = X86_EXCEPTION;
        p.detail = p.irqInfo === undefined ? undefined : describeInterruptionInfo(p.irqInfo);
        return;
      }
      default:
        return;
    }
    p.detail = `${describeExitReason(reason)}${qual === undefined ? '' : `: ${describeQualification(reason, qual)}`}`;
  }

  /** The VMM read RIP (x86) or PC (arm64). */
  readPc(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (p && !p.pcWritten && p.pc === undefined) p.pc = value;
  }

  /** The VMM wrote RIP (x86) or PC (arm64). */
  writePc(vcpu: number, value: bigint): void {
    const p = this.pending.get(vcpu);
    if (!p) return;
    p.pcWritten = true;
    if (p.pc !== undefined && value === p.pc) {
      p.pcRewritten = true;
      return;
    }
    p.pcRewritten = false;
    this.fix(p, 'pc');
  }

  /** x86: an event injected through VMCS_CTRL_VMENTRY_IRQ_INFO (valid bit set). */
  inject(vcpu: number): void {
    const p = this.pending.get(vcpu);
    if (p) this.fix(p, 'inject');
  }

  /** A mapping or protection change of [addr, addr + size) (any vCPU may be waiting for it). */
  mapped(addr: bigint, size: bigint): void {
    for (const p of this.pending.values()) {
      if (p.addr === undefined || (p.addr >= addr && p.addr < addr + size)) this.fix(p, 'map');
    }
  }

  /** The VMM wrote host memory (a `host_write` step). */
  hostWrite(): void {
    for (const p of this.pending.values()) this.fix(p, 'host-write');
  }

  /** The vCPU's state was set up anew (x86_setup) or the vCPU is gone. */
  forget(vcpu: number): void {
    this.pending.delete(vcpu);
  }

  private fix(p: PendingExit, how: Fix): void {
    // Before the rule is known (the exit reason not read yet) every fix counts.
    if (!p.rule || p.rule.fixes.includes(how)) p.handled = true;
  }
}
