/**
 * What the conformance harness needs to run generated x86 guest programs on any backend: an
 * arbitrary of programs biased towards every exit kind, a VMM loop that runs a program on a backend
 * and compares each exit with the spec's prediction, and the same scenario written as trace steps so
 * that a counterexample is a replayable trace.
 * @module
 */
import fc from 'fast-check';
import type { HostMemory, ThreadId, Uva, Vcpu, X86Backend } from '../../backend.js';
import type { JsonValue, Step } from '../../trace/types.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { HV, hvReturnName } from '../../vocabulary/returns.js';
import { HV_X86_REG, VMCS, VMX_REASON } from '../../vocabulary/x86.js';
import {
  X86_END_PORT,
  X86_GPRS,
  type X86Action,
  type X86Gpr,
  type X86Program,
  type X86Size,
} from './actions.js';
import {
  basicExitReason,
  decodeEptQualification,
  exitReasonName,
  isSpuriousExitReason,
  VMEXIT_IRQ_INFO_MASK,
} from './exits.js';
import { predictX86, type X86Prediction, type X86RegName, type X86VmmQuestion } from './predict.js';
import { x86SetupSteps } from './setup.js';

/** One guest-physical mapping as the scenario sees it. `uva` lets the runner read initial and final memory. */
export interface X86LayoutMapping {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly flags: number;
  readonly uva?: Uva;
}

/** The VM's memory at the time the program runs. */
export interface X86Layout {
  /** Disjoint, page-aligned mappings of the vCPU's address space. */
  readonly mappings: readonly X86LayoutMapping[];
  /** Where the program goes: inside a mapping with EXEC; `uva` is where its bytes are written. */
  readonly code: { readonly gpa: bigint; readonly size: number; readonly uva: Uva };
}

/** A program, its initial registers and the memory it runs in. */
export interface X86Scenario {
  readonly layout: X86Layout;
  readonly program: X86Program;
  /** Initial low 32 bits of the GPRs (missing = 0). */
  readonly regs?: Partial<Record<X86Gpr, number>>;
  /**
   * VMCS_CTRL_EXC_BITMAP, written with `hv_vmx_vcpu_write_vmcs` after the canonical setup (missing: the
   * setup's 0xffffffff stays). With 0 a guest exception goes to the guest's IDT, whose limit is 0: a
   * `ud2` then ends the program in a triple fault (see `predict.ts`).
   */
  readonly excBitmap?: number;
}

const PAGE = 4096n;
const U32 = 0x1_0000_0000n;

/** The mapping covering `gpa` in a layout. */
export function x86LayoutLookup(
  layout: Pick<X86Layout, 'mappings'>,
): (gpa: bigint) => { flags: number } | undefined {
  return (gpa) => layout.mappings.find((m) => gpa >= m.gpa && gpa < m.gpa + m.size);
}

const misconfigured = (flags: number): boolean =>
  (flags & HV_MEMORY.WRITE) !== 0 && (flags & HV_MEMORY.READ) === 0;

/**
 * Short programs (≤ 8 actions + the end marker) for a layout, biased so that loads, stores and jumps
 * hit mapped memory, unmapped GPAs and mappings without the needed permission, and every I/O form and
 * size appears. Never generated (the prediction would be `unspecified`): stores into the program's
 * code, accesses to WRITE-without-READ mappings, jumps into executable memory outside the program,
 * data accesses that cross a page, and port 0xE0 (the end marker's).
 *
 * `excBitmap` is the VMCS_CTRL_EXC_BITMAP the program runs under. With bit 6 set (the canonical
 * setup) a `ud2` may appear anywhere: it exits and the VMM skips it. With bits 6, 8 and 13 clear
 * (e.g. 0) the last action is always a `ud2`, which ends the run in a triple fault instead of the end
 * marker (unless a jump skips it). Other bitmaps get no `ud2`.
 */
export function x86ProgramArb(
  layout: Pick<X86Layout, 'mappings' | 'code'>,
  maxActions = 8,
  excBitmap = 0xffff_ffff,
): fc.Arbitrary<X86Program> {
  const bit = (v: number): boolean => ((excBitmap >>> v) & 1) === 1;
  const udExits = bit(6);
  const udTripleFaults = !bit(6) && !bit(8) && !bit(13);
  const codeStart = layout.code.gpa;
  const codeEnd = layout.code.gpa + BigInt(layout.code.size);
  const usable = layout.mappings.filter((m) => !misconfigured(m.flags));
  const lookup = x86LayoutLookup(layout);
  // Unmapped GPAs: the pages right around each mapping, and a few fixed spots, when unmapped.
  const unmapped: bigint[] = [];
  const consider = (g: bigint) => {
    if (g >= 0n && g + PAGE <= U32 && !lookup(g) && !lookup(g + PAGE - 1n) && !unmapped.includes(g))
      unmapped.push(g);
  };
  for (const m of layout.mappings) {
    consider(m.gpa - PAGE);
    consider(m.gpa + m.size);
  }
  for (const g of [0n, 0xfee0_0000n, 0xffff_f000n, 0x8000_0000n]) consider(g);

  /** A page-aligned page start inside mapping `m` plus an offset keeping `size` bytes within the page. */
  const inMapping = (ms: readonly X86LayoutMapping[], size: number): fc.Arbitrary<bigint> | undefined => {
    const pages: bigint[] = [];
    for (const m of ms)
      for (let p = m.gpa; p < m.gpa + m.size && pages.length < 64; p += PAGE) {
        // Keep stores away from the program itself: whole code pages are excluded.
        if (p + PAGE > codeStart && p < codeEnd) continue;
        if (p + PAGE <= U32) pages.push(p);
      }
    if (pages.length === 0) return undefined;
    return fc
      .tuple(fc.constantFrom(...pages), fc.integer({ min: 0, max: 4096 - size }))
      .map(([p, o]) => p + BigInt(o));
  };
  const gpaArb = (access: 'read' | 'write', size: number): fc.Arbitrary<bigint> => {
    const need = access === 'read' ? HV_MEMORY.READ : HV_MEMORY.WRITE;
    const choices: Array<{ weight: number; arbitrary: fc.Arbitrary<bigint> }> = [];
    const allowed = inMapping(
      usable.filter((m) => m.flags & need),
      size,
    );
    const denied = inMapping(
      usable.filter((m) => !(m.flags & need)),
      size,
    );
    if (allowed) choices.push({ weight: 4, arbitrary: allowed });
    if (denied) choices.push({ weight: 3, arbitrary: denied });
    if (unmapped.length)
      choices.push({
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom(...unmapped), fc.integer({ min: 0, max: 4096 - size }))
          .map(([p, o]) => p + BigInt(o)),
      });
    // Only a layout that maps every candidate page and nothing but code gets here.
    if (choices.length === 0) throw new TypeError('x86ProgramArb: the layout leaves no data GPA to generate');
    return fc.oneof(...choices);
  };
  // Fetch faults of both kinds, each as likely as the other: mapped-but-not-executable pages are few
  // next to the unmapped candidates, and would otherwise hardly ever be drawn.
  const noExec: bigint[] = [];
  for (const m of usable) if (!(m.flags & HV_MEMORY.EXEC) && m.gpa + PAGE <= U32) noExec.push(m.gpa);
  const fetchDenied = [unmapped, noExec].filter((pages) => pages.length > 0);
  const size = fc.constantFrom<X86Size>(1, 2, 4);
  const port8 = fc.integer({ min: 0, max: 0xff }).filter((p) => p !== X86_END_PORT);
  const port16 = fc.oneof(port8, fc.integer({ min: 0x100, max: 0xffff }));
  const u32 = fc.oneof(
    fc.integer({ min: 0, max: 0xffff_ffff }),
    fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xffff, 0xffff_ffff),
  );

  type Draft = X86Action | { op: 'jump-later'; skip: number };
  const draft: fc.Arbitrary<Draft> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('mov' as const),
        reg: fc.constantFrom<X86Gpr>('eax', 'eax', 'ecx', 'esi', 'edi', 'ebp'),
        value: u32,
      }),
    },
    {
      weight: 3,
      arbitrary: size.chain((s) =>
        fc.record({
          op: fc.constant('load' as const),
          size: fc.constant(s),
          gpa: gpaArb('read', s),
          via: fc.constantFrom('moffs' as const, 'ebx' as const),
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: size.chain((s) =>
        fc.record({
          op: fc.constant('store' as const),
          size: fc.constant(s),
          gpa: gpaArb('write', s),
          via: fc.constantFrom('moffs' as const, 'ebx' as const),
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constantFrom('in' as const, 'out' as const),
        size,
        form: fc.constant('imm8' as const),
        port: port8,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constantFrom('in' as const, 'out' as const),
        size,
        form: fc.constant('dx' as const),
        port: port16,
      }),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'hlt' as const }) },
    ...fetchDenied.map((pages) => ({
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...pages), fc.integer({ min: 0, max: 4095 }))
        .map(([p, o]) => ({ op: 'jump' as const, target: { gpa: p + BigInt(o) } })),
    })),
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('jump-later' as const), skip: fc.integer({ min: 0, max: 2 }) }),
    },
    ...(udExits ? [{ weight: 1, arbitrary: fc.constant({ op: 'ud2' as const }) }] : []),
  );
  const trailing: X86Action[] = udTripleFaults ? [{ op: 'ud2' }] : [];
  return fc
    .array(draft, { minLength: 0, maxLength: Math.max(0, maxActions - trailing.length) })
    .map((body) => {
      const n = body.length + trailing.length;
      return {
        actions: [
          ...body.map(
            (d, i): X86Action =>
              d.op === 'jump-later' ? { op: 'jump', target: { action: Math.min(i + 1 + d.skip, n) } } : d,
          ),
          ...trailing,
        ],
      };
    });
}

/**
 * A whole scenario for a layout: a program and initial registers; one scenario in six runs with
 * `excBitmap: 0` (and so ends in a `ud2` and a triple fault).
 */
export function x86ScenarioArb(layout: X86Layout): fc.Arbitrary<X86Scenario> {
  const regs = fc.record(
    Object.fromEntries(X86_GPRS.map((r) => [r, fc.integer({ min: 0, max: 0xffff_ffff })])) as Record<
      X86Gpr,
      fc.Arbitrary<number>
    >,
    { requiredKeys: [] },
  );
  return fc
    .oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(0) })
    .chain((excBitmap) =>
      fc.record({ program: x86ProgramArb(layout, 8, excBitmap), regs }).map(
        ({ program, regs }): X86Scenario => ({
          layout,
          program,
          regs,
          ...(excBitmap !== undefined ? { excBitmap } : {}),
        }),
      ),
    );
}

/** One difference between the prediction and what the backend did. */
export interface X86Mismatch {
  /** Index of the expected exit (-1: setup; `exits.length`: after the end, e.g. final memory). */
  readonly exitIndex: number;
  /** What differs: a VMCS field name, a register name, `ret of <call>`, `memory@0x…`. */
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

/** What running a scenario on a backend found. */
export interface X86ScenarioReport {
  readonly ok: boolean;
  readonly mismatches: readonly X86Mismatch[];
  /** Exit kinds that occurred and matched the prediction in every compared field. */
  readonly exitsCovered: readonly string[];
  /** Spurious exits (VMX_REASON_IRQ, and EPT violations the mapping allows) that were re-run. */
  readonly spuriousExits: number;
  /** Set when the scenario was not run or only partly judged, and why. */
  readonly unsupported?: string;
  readonly prediction: X86Prediction;
}

/** Options of {@link runX86Scenario}. */
export interface X86RunOptions {
  /** The VMM's answers to IN and MMIO loads; default `defaultX86Answer`. */
  readonly answer?: (q: X86VmmQuestion) => number;
  /** Give up after this many spurious exits in a row (default 1000). */
  readonly maxSpurious?: number;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const REG_IDS: Record<X86RegName, number> = {
  RAX: HV_X86_REG.HV_X86_RAX,
  RCX: HV_X86_REG.HV_X86_RCX,
  RDX: HV_X86_REG.HV_X86_RDX,
  RBX: HV_X86_REG.HV_X86_RBX,
  RSP: HV_X86_REG.HV_X86_RSP,
  RBP: HV_X86_REG.HV_X86_RBP,
  RSI: HV_X86_REG.HV_X86_RSI,
  RDI: HV_X86_REG.HV_X86_RDI,
};

/** Reads initial guest memory through the mappings' host buffers, a page at a time. */
function hostByteReader(backend: X86Backend, layout: X86Layout): (gpa: bigint) => number {
  const cache = new Map<bigint, Uint8Array | null>();
  return (gpa) => {
    const page = gpa & ~(PAGE - 1n);
    let bytes = cache.get(page);
    if (bytes === undefined) {
      const m = layout.mappings.find((x) => page >= x.gpa && page < x.gpa + x.size);
      bytes = m?.uva ? backend.host_read(m.uva.mem, m.uva.offset + Number(page - m.gpa), Number(PAGE)) : null;
      cache.set(page, bytes);
    }
    return bytes ? bytes[Number(gpa - page)]! : 0;
  };
}

/** The prediction for a scenario on a backend (initial memory read from the backend's host buffers). */
export function predictX86Scenario(
  scenario: X86Scenario,
  initialByte?: (gpa: bigint) => number,
  answer?: (q: X86VmmQuestion) => number,
): X86Prediction {
  return predictX86({
    program: scenario.program,
    gpa: scenario.layout.code.gpa,
    ...(scenario.regs ? { regs: scenario.regs } : {}),
    lookup: x86LayoutLookup(scenario.layout),
    ...(initialByte ? { initialByte } : {}),
    ...(answer ? { answer } : {}),
    ...(scenario.excBitmap !== undefined ? { excBitmap: scenario.excBitmap } : {}),
  });
}

/** Is this exit one the VMM loops over: a host interrupt, or an EPT violation the mapping allows (hvf-facts §1.7)? */
function isSpurious(reason: bigint, qual: bigint, gpa: bigint | undefined, layout: X86Layout): boolean {
  if (isSpuriousExitReason(reason)) return true;
  if (basicExitReason(reason) !== VMX_REASON.VMX_REASON_EPT_VIOLATION || gpa === undefined) return false;
  const m = x86LayoutLookup(layout)(gpa);
  if (!m) return false;
  const d = decodeEptQualification(qual);
  const need = d.access === 'read' ? HV_MEMORY.READ : d.access === 'write' ? HV_MEMORY.WRITE : HV_MEMORY.EXEC;
  return (m.flags & need) !== 0;
}

/**
 * Runs a scenario on a backend as a VMM does: writes the code into its host buffer, performs the
 * canonical setup, writes the scenario's exception bitmap if it has one, sets the registers, then
 * loops `hv_vcpu_run` → read the exit through `hv_vmx_vcpu_read_vmcs` → compare with the prediction →
 * emulate (write RAX for IN and MMIO loads, write RIP past the instruction) until the end marker or a
 * triple fault. Thread `t` must own `vcpu`; the caller has made the mappings of `scenario.layout`. It
 * stops comparing at the first exit whose reason or RIP differs (what follows would be noise). A
 * scenario that expects an exception exit (reason 0) is `unsupported` on a backend with deviation
 * `kvm.controls`.
 */
export function runX86Scenario(
  backend: X86Backend,
  t: ThreadId,
  vcpu: Vcpu,
  scenario: X86Scenario,
  options: X86RunOptions = {},
): X86ScenarioReport {
  const mismatches: X86Mismatch[] = [];
  const covered = new Set<string>();
  let spurious = 0;
  const prediction = predictX86Scenario(scenario, hostByteReader(backend, scenario.layout), options.answer);
  const report = (unsupported?: string): X86ScenarioReport => ({
    ok: mismatches.length === 0,
    mismatches,
    exitsCovered: [...covered].sort(),
    spuriousExits: spurious,
    ...(unsupported ? { unsupported } : {}),
    prediction,
  });
  const enforced = backend.capabilities.enforcedPermissions;
  const notEnforced = prediction.touchedFlags.filter((f) => !enforced.includes(f & 7));
  if (notEnforced.length)
    return report(
      `the program touches memory mapped ${notEnforced.join(', ')}, which backend ${backend.capabilities.backend} does not enforce`,
    );
  if (!backend.capabilities.guestExecution)
    return report(`backend ${backend.capabilities.backend} does not execute guest code`);
  // On KVM guest exceptions never exit with reason 0 whatever the exception bitmap says (deviation
  // kvm.controls): KVM delivers them to the guest, so there a ud2 always ends in a triple fault.
  if (
    backend.capabilities.deviations.some((d) => d.id === 'kvm.controls') &&
    prediction.exits.some((e) => e.reason === VMX_REASON.VMX_REASON_EXC_NMI)
  )
    return report(
      `the program expects an exception exit (reason 0), which backend ${backend.capabilities.backend} cannot produce (deviation kvm.controls)`,
    );

  const call = (exitIndex: number, what: string, ret: number): boolean => {
    if (ret === HV.HV_SUCCESS) return true;
    mismatches.push({ exitIndex, field: `ret of ${what}`, expected: 'HV_SUCCESS', got: hvReturnName(ret) });
    return false;
  };
  const { code } = scenario.layout;
  backend.host_write(code.uva.mem, code.uva.offset, prediction.assembly.bytes);
  const readCap = (id: number): bigint => backend.hv_vmx_read_capability(t, id).value ?? 0n;
  for (const s of x86SetupSteps(readCap, 'prot32', code.gpa)) {
    if (
      !call(
        -1,
        `hv_vmx_vcpu_write_vmcs(${vmcsName(s.field)})`,
        backend.hv_vmx_vcpu_write_vmcs(t, vcpu, s.field, s.value).ret,
      )
    )
      return report();
  }
  if (
    scenario.excBitmap !== undefined &&
    !call(
      -1,
      'hv_vmx_vcpu_write_vmcs(VMCS_CTRL_EXC_BITMAP)',
      backend.hv_vmx_vcpu_write_vmcs(t, vcpu, VMCS.VMCS_CTRL_EXC_BITMAP, BigInt(scenario.excBitmap >>> 0))
        .ret,
    )
  )
    return report();
  for (const r of X86_GPRS) {
    const v = scenario.regs?.[r] ?? 0;
    if (
      !call(
        -1,
        'hv_vcpu_write_register',
        backend.hv_vcpu_write_register(t, vcpu, REG_IDS[regName(r)], BigInt(v >>> 0)).ret,
      )
    )
      return report();
  }
  const vmcs = (k: number, field: number): bigint | undefined => {
    const r = backend.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
    return call(k, `hv_vmx_vcpu_read_vmcs(${vmcsName(field)})`, r.ret) ? (r.value ?? 0n) : undefined;
  };
  const maxSpurious = options.maxSpurious ?? 1000;

  for (let k = 0; k < prediction.exits.length; k++) {
    const e = prediction.exits[k]!;
    let reason: bigint | undefined;
    let qual: bigint | undefined;
    let gpa: bigint | undefined;
    for (let n = 0; ; n++) {
      if (!call(k, 'hv_vcpu_run', backend.hv_vcpu_run(t, vcpu).ret)) return report();
      reason = vmcs(k, VMCS.VMCS_RO_EXIT_REASON);
      if (reason === undefined) return report();
      qual = vmcs(k, VMCS.VMCS_RO_EXIT_QUALIFIC);
      if (qual === undefined) return report();
      gpa =
        basicExitReason(reason) === VMX_REASON.VMX_REASON_EPT_VIOLATION
          ? vmcs(k, VMCS.VMCS_GUEST_PHYSICAL_ADDRESS)
          : undefined;
      if (!isSpurious(reason, qual, gpa, scenario.layout)) break;
      spurious++;
      if (n >= maxSpurious) {
        mismatches.push({
          exitIndex: k,
          field: 'VMCS_RO_EXIT_REASON',
          expected: exitReasonName(e.reason),
          got: `${maxSpurious} spurious exits in a row`,
        });
        return report();
      }
    }
    const before = mismatches.length;
    const diff = (field: string, expected: bigint | number, got: bigint | number | undefined) => {
      if (got === undefined || BigInt(expected) !== BigInt(got))
        mismatches.push({
          exitIndex: k,
          field,
          expected: hex(expected),
          got: got === undefined ? 'unreadable' : hex(got),
        });
    };
    if (BigInt(reason) !== BigInt(e.reason)) {
      mismatches.push({
        exitIndex: k,
        field: 'VMCS_RO_EXIT_REASON',
        expected: exitReasonName(e.reason),
        got: exitReasonName(reason),
      });
      return report();
    }
    if ((qual & e.qualificationMask) !== (e.qualification & e.qualificationMask)) {
      mismatches.push({
        exitIndex: k,
        field: 'VMCS_RO_EXIT_QUALIFIC',
        expected: `${hex(e.qualification)} under mask ${hex(e.qualificationMask)}`,
        got: hex(qual),
      });
    }
    if (e.gpa !== undefined) diff('VMCS_GUEST_PHYSICAL_ADDRESS', e.gpa, gpa);
    if (e.instrLen !== undefined)
      diff('VMCS_RO_VMEXIT_INSTR_LEN', e.instrLen, vmcs(k, VMCS.VMCS_RO_VMEXIT_INSTR_LEN));
    if (e.irqInfo !== undefined) {
      const info = vmcs(k, VMCS.VMCS_RO_VMEXIT_IRQ_INFO);
      const masked = (v: bigint | number): number => Number(BigInt(v) & BigInt(VMEXIT_IRQ_INFO_MASK));
      if (info === undefined || masked(info) !== masked(e.irqInfo))
        mismatches.push({
          exitIndex: k,
          field: 'VMCS_RO_VMEXIT_IRQ_INFO',
          expected: `${hex(e.irqInfo)} under mask ${hex(VMEXIT_IRQ_INFO_MASK)}`,
          got: info === undefined ? 'unreadable' : hex(info),
        });
    }
    if (e.rip !== undefined) {
      const rip = vmcs(k, VMCS.VMCS_GUEST_RIP);
      diff('VMCS_GUEST_RIP', e.rip, rip);
      if (rip === undefined || rip !== e.rip) return report();
    }
    for (const [name, want] of Object.entries(e.regs) as [X86RegName, number][]) {
      const r = backend.hv_vcpu_read_register(t, vcpu, REG_IDS[name]);
      if (call(k, `hv_vcpu_read_register(HV_X86_${name})`, r.ret))
        diff(`HV_X86_${name} (low 32 bits)`, want, (r.value ?? 0n) & 0xffff_ffffn);
    }
    if (mismatches.length === before) covered.add(e.kind);
    if (e.vmmRip === undefined) break; // the end marker, a triple fault, or the program's own code faulted
    for (const [name, v] of Object.entries(e.vmmRegs) as [X86RegName, number][]) {
      if (
        !call(
          k,
          `hv_vcpu_write_register(HV_X86_${name})`,
          backend.hv_vcpu_write_register(t, vcpu, REG_IDS[name], BigInt(v >>> 0)).ret,
        )
      )
        return report();
    }
    if (
      !call(
        k,
        'hv_vcpu_write_register(HV_X86_RIP)',
        backend.hv_vcpu_write_register(t, vcpu, HV_X86_REG.HV_X86_RIP, e.vmmRip).ret,
      )
    )
      return report();
  }
  // Final memory of what the program touched, where the runner can see the host buffer.
  const after = prediction.exits.length;
  for (const { gpa, bytes } of prediction.memory) {
    const m = scenario.layout.mappings.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
    if (!m?.uva) continue;
    for (let i = 0; i < bytes.length; i++) {
      const g = gpa + BigInt(i);
      const mm = scenario.layout.mappings.find((x) => g >= x.gpa && g < x.gpa + x.size);
      if (!mm?.uva) continue;
      const got = backend.host_read(mm.uva.mem, mm.uva.offset + Number(g - mm.gpa), 1)[0]!;
      if (got !== bytes[i])
        mismatches.push({
          exitIndex: after,
          field: `memory@${hex(g)}`,
          expected: hex(bytes[i]!),
          got: hex(got),
        });
    }
  }
  return report(
    prediction.unspecified
      ? `not predicted from action ${prediction.unspecified.actionIndex}: ${prediction.unspecified.reason}`
      : undefined,
  );
}

function regName(r: X86Gpr): X86RegName {
  return `R${r.slice(1).toUpperCase()}` as X86RegName;
}
function vmcsName(field: number): string {
  return (Object.entries(VMCS) as [string, number][]).find(([, v]) => v === field)?.[0] ?? hex(field);
}

/** Options of {@link x86ScenarioTraceSteps}. */
export interface X86TraceOptions {
  /** The `$name` the vCPU is bound to in the trace, without `$` (default `cpu`). */
  readonly vcpu?: string;
  /** The logical thread owning the vCPU (default 0). */
  readonly thread?: ThreadId;
  /** The `host_alloc` name of a host buffer. */
  readonly memName: (mem: HostMemory) => string;
  /** Initial guest memory (default: zero, as fresh host buffers are). */
  readonly initialByte?: (gpa: bigint) => number;
  readonly answer?: (q: X86VmmQuestion) => number;
}

/**
 * The scenario as trace steps (DESIGN.md trace format): write the code, `x86_setup`, the exception
 * bitmap when the scenario sets one, the register writes, then per exit `hv_vcpu_run` + the VMM's
 * `hv_vmx_vcpu_read_vmcs` reads with the predicted values + register reads + the VMM's register
 * writes, and finally `host_read`s of the memory the program touched. The caller's steps before these create the VM, the buffers, the mappings and the vCPU.
 */
export function x86ScenarioTraceSteps(scenario: X86Scenario, options: X86TraceOptions): Step[] {
  const p = predictX86Scenario(scenario, options.initialByte, options.answer);
  const vcpu = `$${options.vcpu ?? 'cpu'}`;
  const thread = options.thread ?? 0;
  const on = (s: Omit<Step, 'thread'>): Step => (thread ? { thread, ...s } : s);
  const ok = { ret: 'HV_SUCCESS' } as const;
  const { code } = scenario.layout;
  const steps: Step[] = [
    {
      call: 'host_write',
      args: { mem: options.memName(code.uva.mem), offset: code.uva.offset, bytes: toHex(p.assembly.bytes) },
    },
    on({ call: 'x86_setup', args: { vcpu, mode: 'prot32', rip: hex(code.gpa) } }),
  ];
  if (scenario.excBitmap !== undefined)
    steps.push(
      on({
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu, field: 'VMCS_CTRL_EXC_BITMAP', value: hex(scenario.excBitmap >>> 0) },
        expect: ok,
      }),
    );
  for (const r of X86_GPRS) {
    steps.push(
      on({
        call: 'hv_vcpu_write_register',
        args: { vcpu, reg: `HV_X86_${regName(r)}`, value: hex((scenario.regs?.[r] ?? 0) >>> 0) },
        expect: ok,
      }),
    );
  }
  const read = (field: string, value: JsonValue) =>
    on({
      call: 'hv_vmx_vcpu_read_vmcs',
      args: { vcpu, field },
      expect: { ret: 'HV_SUCCESS', value: value as string },
    });
  for (const e of p.exits) {
    steps.push(on({ call: 'hv_vcpu_run', args: { vcpu }, expect: ok }));
    steps.push(read('VMCS_RO_EXIT_REASON', hex(e.reason)));
    const full = e.qualificationMask === 0xffff_ffff_ffff_ffffn;
    steps.push(
      on({
        call: 'hv_vmx_vcpu_read_vmcs',
        args: { vcpu, field: 'VMCS_RO_EXIT_QUALIFIC' },
        expect: {
          ret: 'HV_SUCCESS',
          value: full
            ? hex(e.qualification)
            : { value: hex(e.qualification), mask: hex(e.qualificationMask) },
        },
      }),
    );
    if (e.gpa !== undefined) steps.push(read('VMCS_GUEST_PHYSICAL_ADDRESS', hex(e.gpa)));
    if (e.instrLen !== undefined) steps.push(read('VMCS_RO_VMEXIT_INSTR_LEN', hex(e.instrLen)));
    if (e.irqInfo !== undefined)
      steps.push(read('VMCS_RO_VMEXIT_IRQ_INFO', { value: hex(e.irqInfo), mask: hex(VMEXIT_IRQ_INFO_MASK) }));
    if (e.rip !== undefined) steps.push(read('VMCS_GUEST_RIP', hex(e.rip)));
    for (const [name, v] of Object.entries(e.regs) as [X86RegName, number][]) {
      steps.push(
        on({
          call: 'hv_vcpu_read_register',
          args: { vcpu, reg: `HV_X86_${name}` },
          expect: { ret: 'HV_SUCCESS', value: { value: hex(v), mask: '0xffffffff' } },
        }),
      );
    }
    if (e.vmmRip === undefined) break;
    for (const [name, v] of Object.entries(e.vmmRegs) as [X86RegName, number][]) {
      steps.push(
        on({
          call: 'hv_vcpu_write_register',
          args: { vcpu, reg: `HV_X86_${name}`, value: hex(v >>> 0) },
          expect: ok,
        }),
      );
    }
    steps.push(
      on({
        call: 'hv_vcpu_write_register',
        args: { vcpu, reg: 'HV_X86_RIP', value: hex(e.vmmRip) },
        expect: ok,
      }),
    );
  }
  for (const { gpa, bytes } of p.memory) {
    // Only ranges that lie inside one host-backed mapping can be read back.
    const m = scenario.layout.mappings.find(
      (x) => gpa >= x.gpa && gpa + BigInt(bytes.length) <= x.gpa + x.size,
    );
    if (!m?.uva) continue;
    steps.push({
      call: 'host_read',
      args: {
        mem: options.memName(m.uva.mem),
        offset: m.uva.offset + Number(gpa - m.gpa),
        size: bytes.length,
      },
      expect: { bytes: toHex(bytes) },
    });
  }
  return steps;
}
