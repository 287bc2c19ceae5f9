/**
 * What the conformance harness needs to run generated x86 guest programs on any backend: an
 * arbitrary of programs biased towards every exit kind of every mode, a VMM loop that runs a program on
 * a backend and compares each exit with the spec's prediction, and the same scenario written as trace
 * steps so that a counterexample is a replayable trace.
 * @module
 */
import fc from 'fast-check';
import type { Capabilities, HostMemory, ThreadId, Uva, Vcpu, X86Backend } from '../../backend.js';
import { judgeField } from '../../judge/exit.js';
import type { JsonValue, Step } from '../../trace/types.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { HV, hvReturnName } from '../../vocabulary/returns.js';
import { CPU_BASED, HV_X86_REG, VMCS, VMX_REASON } from '../../vocabulary/x86.js';
import {
  X86_END_PORT,
  X86_GPRS,
  type X86Action,
  type X86Cr,
  type X86Dr,
  type X86Gpr,
  type X86Mode,
  type X86Program,
  type X86Size,
  x86ModePaging,
} from './actions.js';
import {
  basicExitReason,
  decodeEptQualification,
  exitReasonName,
  IDT_VECTOR_INFO_INVALID_MASK,
  IDT_VECTOR_INFO_MASK,
  isSpuriousExitReason,
  VMEXIT_IRQ_INFO_MASK,
} from './exits.js';
import {
  X86_LINEAR_MAP,
  type X86PageTables,
  type X86PagingMode,
  x86CanonicalPageTables,
  x86LargePage,
  x86PageTablesSize,
} from './paging.js';
import {
  predictX86,
  type X86Event,
  type X86ExpectedExit,
  type X86Prediction,
  type X86RegName,
  type X86VmmQuestion,
  x86EventOutcome,
} from './predict.js';
import { x86CrControl, x86SetupCpuBased, x86SetupSteps } from './setup.js';

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
  /**
   * Where the program goes: inside a mapping with EXEC; `uva` is where its bytes are written. Real mode
   * needs it below 1 MiB, the paging modes below 64 MiB (the identity-mapped range).
   */
  readonly code: { readonly gpa: bigint; readonly size: number; readonly uva: Uva };
  /**
   * Paging modes: where the VMM writes the canonical page tables (a mapping with READ|WRITE below 64 MiB,
   * `x86PageTablesSize` bytes); `uva` is where their bytes go.
   */
  readonly tables?: { readonly gpa: bigint; readonly uva: Uva };
  /**
   * Where other vCPUs of the VM may keep page tables (the paging modes' place for them, while mapped):
   * a backend that declares {@link X86_EXEC_TABLES_DEVIATION} does not refuse fetches from the pages
   * any vCPU's tables are on, so no program jumps there on it.
   */
  readonly otherTables?: { readonly gpa: bigint; readonly size: bigint };
}

/**
 * Deviation ids (Capabilities.deviations[].id) the scenarios honour beyond exit reasons: a backend that
 * declares `x86.mode.<mode>` cannot run guests in that mode (its scenarios run in `prot32` instead, or
 * are unsupported), one that declares `x86.string-io` does not present INS/OUTS as the framework does
 * (no string I/O is generated for it).
 */
export const X86_STRING_IO_DEVIATION = 'x86.string-io';
/**
 * A backend that declares `x86.exec-tables` does not refuse instruction fetches from the pages that
 * hold the guest's page tables when their mapping lacks EXEC (the KVM provider serves such tables from
 * read-only memslots, which KVM lets the guest execute): no program jumps into the page tables there.
 */
export const X86_EXEC_TABLES_DEVIATION = 'x86.exec-tables';
/**
 * A backend that declares `x86.real-mode-idt-limit` delivers an event in real mode through the IVT
 * at IDTR.base without checking IDTR.limit (KVM's emulator), where the architecture raises #GP for a
 * vector beyond the limit (Intel SDM Vol. 3 §20.1.4) and, with the spec's limit 0, ends in a triple
 * fault: no real-mode program raises an event there, and replay reports a real-mode triple fault it
 * does not show as unsupported.
 */
export const X86_REAL_IDT_LIMIT_DEVIATION = 'x86.real-mode-idt-limit';
/** The deviation id of a mode a backend cannot run: see {@link X86_STRING_IO_DEVIATION}. */
export function x86ModeDeviation(mode: X86Mode): string {
  return `x86.mode.${mode}`;
}
const declares = (caps: Pick<Capabilities, 'deviations'> | undefined, id: string): boolean =>
  (caps?.deviations ?? []).some((d) => d.id === id);

/** A program, its initial registers, the mode it runs in and the controls the VMM adds. */
export interface X86Scenario {
  readonly layout: X86Layout;
  readonly program: X86Program;
  /** The canonical setup (default `prot32`). */
  readonly mode?: X86Mode;
  /** Initial low 32 bits of the GPRs (missing = 0). */
  readonly regs?: Partial<Record<X86Gpr, number>>;
  /**
   * VMCS_CTRL_EXC_BITMAP, written with `hv_vmx_vcpu_write_vmcs` after the canonical setup (missing: the
   * setup's 0xffffffff stays). With 0 a guest exception goes to the guest's IDT, whose limit is 0: it
   * ends in a triple fault (see `predict.ts`).
   */
  readonly excBitmap?: number;
  /** The VMM asks for MOV-DR exiting (CPU_BASED_MOV_DR) on top of the canonical controls. */
  readonly movDrExiting?: boolean;
}

const PAGE = 4096n;
const U32 = 0x1_0000_0000n;
/**
 * The GPA the structure-fault range's page table would be at (see `paging.ts`): the VMM never maps it,
 * so every walk through it is an EPT violation with qualification bit 8 clear.
 */
export const X86_MISSING_TABLE = 0xfff0_0000n;

/** The mapping covering `gpa` in a layout. */
export function x86LayoutLookup(
  layout: Pick<X86Layout, 'mappings'>,
): (gpa: bigint) => { flags: number } | undefined {
  return (gpa) => layout.mappings.find((m) => gpa >= m.gpa && gpa < m.gpa + m.size);
}

/**
 * For layouts that map one host buffer at several GPAs: the lowest GPA that shows the same host byte as
 * `gpa` (mappings without a `uva` are their own bytes).
 */
export function x86LayoutCanonical(layout: Pick<X86Layout, 'mappings'>): (gpa: bigint) => bigint {
  const backed = layout.mappings.filter((m) => m.uva !== undefined);
  return (gpa) => {
    const m = backed.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
    if (!m?.uva) return gpa;
    const at = BigInt(m.uva.offset) + (gpa - m.gpa);
    let best = gpa;
    for (const o of backed) {
      if (o.uva?.mem.id !== m.uva.mem.id) continue;
      const start = BigInt(o.uva.offset);
      if (at >= start && at < start + o.size && o.gpa + (at - start) < best) best = o.gpa + (at - start);
    }
    return best;
  };
}

/** The canonical page tables of a scenario (paging modes), at the layout's table address. */
export function x86ScenarioPageTables(
  scenario: Pick<X86Scenario, 'layout' | 'mode'>,
): X86PageTables | undefined {
  const mode = scenario.mode ?? 'prot32';
  if (!x86ModePaging(mode)) return undefined;
  const t = scenario.layout.tables;
  if (!t) throw new TypeError(`a ${mode} scenario needs layout.tables`);
  return x86CanonicalPageTables(mode as X86PagingMode, t.gpa, X86_MISSING_TABLE);
}

const misconfigured = (flags: number): boolean =>
  (flags & HV_MEMORY.WRITE) !== 0 && (flags & HV_MEMORY.READ) === 0;

/** The MSRs the programs read and write: EFER [T], and those Apple's test must make native before a guest can use them directly [T]. */
const MSRS = [
  0xc000_0080, 0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0100, 0xc000_0101, 0xc000_0102,
  0xc000_0103, 0x174, 0x175, 0x176,
];
/** CPUID leaves VMMs answer: vendor, features, structured features, extended range, hypervisor range. */
const CPUID_LEAVES = [0, 1, 7, 0xd, 0x4000_0000, 0x8000_0000, 0x8000_0001];

/** The exception an action raises, when it raises one (the spec's own list, mirroring `predict.ts`). */
function raisedEvent(a: X86Action, mode: X86Mode): X86Event | undefined {
  switch (a.op) {
    case 'ud2':
      return { vector: 6, type: 'hardware-exception' };
    case 'int3':
      return { vector: 3, type: 'software-exception', length: 1 };
    case 'int1':
      return { vector: 1, type: 'privileged-software-exception', length: 1 };
    case 'int':
      return { vector: a.vector, type: 'software-interrupt', length: 2 };
    case 'div0':
      return { vector: 0, type: 'hardware-exception' };
    case 'load-ds':
      return {
        vector: 13,
        type: 'hardware-exception',
        ...(mode === 'real' ? {} : { errorCode: a.selector & 0xfffc }),
      };
    default:
      return undefined;
  }
}

/** Classes of addresses an access may go to. */
type AddressClass = 'allowed' | 'denied' | 'unmapped' | 'not-present' | 'structure' | 'beyond-limit';

/**
 * Short programs (≤ 8 actions + the end marker) for a layout and mode, biased so that loads, stores and
 * jumps hit mapped memory, unmapped GPAs, mappings without the needed permission and — with paging —
 * pages that are not present and a page table that is not mapped, and every instruction exit of the
 * action language appears. Never generated (the prediction would be `unspecified`): stores into the
 * program's code or page tables, accesses to WRITE-without-READ mappings, jumps into executable memory
 * outside the program, data accesses that cross a page, port 0xE0 (the end marker's), CR3 writes that
 * would change the page tables, CR8 outside 64-bit mode.
 *
 * `excBitmap` is the VMCS_CTRL_EXC_BITMAP the program runs under. An action that raises an exception
 * (ud2, int3, int1, int n, div0, load-ds, and accesses that fault with #PF or #GP) appears anywhere when
 * the exception ends in an exit (`x86EventOutcome`), and only as the last action when it ends in a
 * triple fault (which ends the run). `excludeReasons` are exit reasons the backend never reports (its
 * declared deviations): no action whose exit has one of them is generated; with `stringIo` false no
 * INS/OUTS either, with `fetchFromTables` false no jump into the page tables' pages (this vCPU's, or
 * `layout.otherTables`), and with `realEvents` false no action that raises an event in real mode.
 */
export function x86ProgramArb(
  layout: Pick<X86Layout, 'mappings' | 'code' | 'tables' | 'otherTables'>,
  maxActions = 8,
  excBitmap = 0xffff_ffff,
  mode: X86Mode = 'prot32',
  excludeReasons: readonly number[] = [],
  stringIo = true,
  fetchFromTables = true,
  realEvents = true,
): fc.Arbitrary<X86Program> {
  const real = mode === 'real';
  const eventsOk = !real || realEvents;
  const long = mode === 'long64';
  const paging = x86ModePaging(mode);
  const reportable = (reason: number): boolean => !excludeReasons.includes(reason);
  const outcomeOf = (e: X86Event) => x86EventOutcome(e, excBitmap, real);
  /** Whether an event may appear in the body: it ends in an exit the backend reports. */
  const exitsFine = (e: X86Event): boolean => {
    const o = outcomeOf(e);
    return eventsOk && o.kind === 'exit' && reportable(VMX_REASON.VMX_REASON_EXC_NMI);
  };
  const endsRun = (e: X86Event): boolean =>
    eventsOk && outcomeOf(e).kind === 'triple-fault' && reportable(VMX_REASON.VMX_REASON_TRIPLE_FAULT);
  const codeStart = layout.code.gpa;
  const codeEnd = layout.code.gpa + BigInt(layout.code.size);
  const tablesStart = paging && layout.tables ? layout.tables.gpa : -1n;
  const tablesEnd = paging && layout.tables ? tablesStart + x86PageTablesSize(mode as X86PagingMode) : -1n;
  /**
   * Highest GPA + 1 the mode's data addressing reaches: with paging through the identity map, in real
   * mode within DS's 64 KiB (beyond it is the 'beyond-limit' class).
   */
  const reach = paging ? X86_LINEAR_MAP.identityEnd : real ? 0x1_0000n : U32;
  const usable = layout.mappings.filter((m) => !misconfigured(m.flags));
  const lookup = x86LayoutLookup(layout);
  // Unmapped GPAs: the pages right around each mapping, and a few fixed spots, when unmapped.
  const unmapped: bigint[] = [];
  const consider = (g: bigint) => {
    if (g >= 0n && g + PAGE <= reach && !lookup(g) && !lookup(g + PAGE - 1n) && !unmapped.includes(g))
      unmapped.push(g);
  };
  for (const m of layout.mappings) {
    consider(m.gpa - PAGE);
    consider(m.gpa + m.size);
  }
  for (const g of [0n, 0xfee0_0000n, 0xffff_f000n, 0x8000_0000n, 0x30_0000n]) consider(g);

  const bad = (p: bigint): boolean =>
    (p + PAGE > codeStart && p < codeEnd) || (p + PAGE > tablesStart && p < tablesEnd);
  /** A page-aligned page start inside mappings `ms` plus an offset keeping `size` bytes within the page. */
  const inPages = (pages: readonly bigint[], size: number): fc.Arbitrary<bigint> | undefined =>
    pages.length === 0
      ? undefined
      : fc
          .tuple(fc.constantFrom(...pages), fc.integer({ min: 0, max: 4096 - size }))
          .map(([p, o]) => p + BigInt(o));
  const pagesOf = (ms: readonly X86LayoutMapping[]): bigint[] => {
    const pages: bigint[] = [];
    for (const m of ms)
      for (let p = m.gpa; p < m.gpa + m.size && pages.length < 64; p += PAGE) {
        // Keep stores away from the program itself and its page tables: whole pages are excluded.
        if (!bad(p) && p + PAGE <= reach) pages.push(p);
      }
    return pages;
  };
  /** GPA → the address the guest uses: itself, or (with paging) sometimes its alias at 1 GiB + GPA. */
  const viaMap = (a: fc.Arbitrary<bigint>): fc.Arbitrary<bigint> =>
    paging ? fc.tuple(a, fc.boolean()).map(([g, alias]) => (alias ? X86_LINEAR_MAP.aliasBase + g : g)) : a;
  const large = paging ? x86LargePage(mode as X86PagingMode) : PAGE;
  const notPresent = (size: number) =>
    fc
      .tuple(fc.integer({ min: 0, max: 0x3fff }), fc.integer({ min: 0, max: 4096 - size }))
      .map(([p, o]) => X86_LINEAR_MAP.notPresentBase + BigInt(p) * PAGE + BigInt(o));
  const structure = fc.bigInt({ min: 0n, max: large - 8n }).map((o) => X86_LINEAR_MAP.structureFaultBase + o);
  /** Addresses of a class for an access of `size` bytes needing `need`. */
  const addressArb = (cls: AddressClass, need: number, size: number): fc.Arbitrary<bigint> | undefined => {
    switch (cls) {
      case 'allowed':
      case 'denied': {
        const ms = usable.filter((m) => ((m.flags & need) !== 0) === (cls === 'allowed'));
        const a = inPages(pagesOf(ms), size);
        return a && viaMap(a);
      }
      case 'unmapped': {
        const a = inPages(unmapped, size);
        return a && viaMap(a);
      }
      case 'not-present':
        return paging ? notPresent(size) : undefined;
      case 'structure':
        return paging ? structure : undefined;
      case 'beyond-limit':
        // Real mode: DS's limit is 0xffff; an [ebx] access past it is #GP(0) (SDM Vol. 3 §20.1.1).
        return real ? fc.integer({ min: 0x1_0000, max: 0xfff_fff0 }).map((v) => BigInt(v)) : undefined;
    }
  };
  const pfEvent: X86Event = { vector: 14, type: 'hardware-exception', errorCode: 0 };
  const gpEvent: X86Event = { vector: 13, type: 'hardware-exception' };
  /** Whether a data or fetch access of this class is allowed in the body / at the end. */
  const classOk = (cls: AddressClass, trailing: boolean): boolean => {
    const ev = cls === 'not-present' ? pfEvent : cls === 'beyond-limit' ? gpEvent : undefined;
    if (ev) return trailing ? endsRun(ev) : exitsFine(ev);
    if (cls === 'allowed') return true;
    return reportable(VMX_REASON.VMX_REASON_EPT_VIOLATION);
  };
  const CLASS_WEIGHTS: ReadonlyArray<readonly [AddressClass, number]> = [
    ['allowed', 4],
    ['denied', 3],
    ['unmapped', 3],
    ['not-present', 2],
    ['structure', 2],
    ['beyond-limit', 2],
  ];
  /** An address for a data access; `moffs16` limits real mode's moffs form to 16 bits. */
  const dataArb = (access: 'read' | 'write', size: number, trailing: boolean, moffs16: boolean) => {
    const need = access === 'read' ? HV_MEMORY.READ : HV_MEMORY.WRITE;
    const choices: Array<{ weight: number; arbitrary: fc.Arbitrary<bigint> }> = [];
    for (const [cls, weight] of CLASS_WEIGHTS) {
      if (!classOk(cls, trailing)) continue;
      // The last action is the one that ends the run: an access that faults into a triple fault.
      if (trailing && cls !== 'not-present' && cls !== 'beyond-limit') continue;
      if (moffs16 && cls === 'beyond-limit') continue;
      const a = addressArb(cls, need, size);
      if (a) choices.push({ weight, arbitrary: a });
    }
    return choices.length ? fc.oneof(...choices) : undefined;
  };
  // Fetch faults of each kind, each as likely as the others: mapped-but-not-executable pages are few
  // next to the unmapped candidates, and would otherwise hardly ever be drawn.
  const noExec: bigint[] = [];
  for (const m of usable)
    if (!(m.flags & HV_MEMORY.EXEC))
      for (let p = m.gpa; p < m.gpa + m.size && noExec.length < 64; p += PAGE)
        if (
          p + PAGE <= (real ? 0x10_0000n : reach) &&
          (fetchFromTables ||
            ((p + PAGE <= tablesStart || p >= tablesEnd) &&
              (!layout.otherTables ||
                p + PAGE <= layout.otherTables.gpa ||
                p >= layout.otherTables.gpa + layout.otherTables.size)))
        )
          noExec.push(p);
  const csBase = real ? layout.code.gpa & ~0xffffn : 0n;
  const inCs = (g: bigint): boolean => !real || (g >= csBase && g <= csBase + 0xf000n);
  const fetchTargets = (trailing: boolean): fc.Arbitrary<bigint>[] => {
    const out: fc.Arbitrary<bigint>[] = [];
    if (!trailing && reportable(VMX_REASON.VMX_REASON_EPT_VIOLATION)) {
      const cands = real
        ? // Real-mode jumps stay in CS's 64 KiB: the unmapped pages there.
          Array.from({ length: 15 }, (_, k) => csBase + BigInt(k + 1) * PAGE).filter((g) => !lookup(g))
        : unmapped;
      for (const pages of [cands, noExec.filter(inCs)]) {
        const a = inPages(pages, 1);
        if (a) out.push(viaMap(a));
      }
      if (paging) out.push(structure);
    }
    if (paging && (trailing ? endsRun(pfEvent) : exitsFine(pfEvent))) out.push(notPresent(1));
    return out;
  };
  const size = fc.constantFrom<X86Size>(1, 2, 4);
  const port8 = fc.integer({ min: 0, max: 0xff }).filter((p) => p !== X86_END_PORT);
  const port16 = fc.oneof(port8, fc.integer({ min: 0x100, max: 0xffff }));
  const u32 = fc.oneof(
    fc.integer({ min: 0, max: 0xffff_ffff }),
    fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xffff, 0xffff_ffff),
  );
  const io = reportable(VMX_REASON.VMX_REASON_IO);
  const cr = x86CrControl(mode);
  const gpr = fc.constantFrom<X86Gpr>('eax', 'ecx', 'edx', 'ebx', 'esi', 'edi', 'ebp');

  type Draft = X86Action | { op: 'jump-later'; skip: number };
  const w = (weight: number, arbitrary: fc.Arbitrary<Draft | Draft[]>, when = true) =>
    when ? [{ weight, arbitrary }] : [];
  const loadStore = (op: 'load' | 'store', trailing: boolean): fc.Arbitrary<Draft>[] => {
    const out: fc.Arbitrary<Draft>[] = [];
    for (const s of [1, 2, 4] as const)
      for (const via of ['moffs', 'ebx'] as const) {
        const a = dataArb(op === 'load' ? 'read' : 'write', s, trailing, real && via === 'moffs');
        if (a) out.push(a.map((addr) => ({ op, size: s, addr, via })));
      }
    return out;
  };
  const oneOfList = <T>(xs: fc.Arbitrary<T>[]): fc.Arbitrary<T> | undefined =>
    xs.length ? fc.oneof(...xs) : undefined;
  const loads = oneOfList(loadStore('load', false));
  const stores = oneOfList(loadStore('store', false));
  const crs: X86Cr[] = long ? [0, 3, 4, 8] : [0, 3, 4];
  const crReportable = reportable(VMX_REASON.VMX_REASON_MOV_CR);
  /** `mov reg, value; mov crN, reg`: the value is the read shadow (no exit) or anything else (an exit). */
  const crWrite = fc
    .tuple(fc.constantFrom(...crs), gpr, u32, fc.boolean())
    .map(([n, reg, v, same]): Draft[] => {
      let value = v;
      if (n === 0) value = same ? Number(cr.cr0Shadow) : v;
      else if (n === 4) value = same ? Number(cr.cr4Shadow) : v;
      else if (n === 8) value = v & 0xf;
      // CR3: a paging mode keeps its root (a write that does not exit must not change the tables).
      else if (n === 3 && paging) value = Number(layout.tables?.gpa ?? 0n);
      return [
        { op: 'mov' as const, reg, value: value >>> 0 },
        { op: 'mov-to-cr' as const, cr: n, reg },
      ];
    });
  const draft: fc.Arbitrary<Draft | Draft[]> = fc.oneof(
    ...w(
      3,
      fc.record({
        op: fc.constant('mov' as const),
        reg: fc.constantFrom<X86Gpr>('eax', 'eax', 'ecx', 'esi', 'edi', 'ebp'),
        value: u32,
      }),
    ),
    ...(loads ? w(3, loads) : []),
    ...(stores ? w(3, stores) : []),
    ...w(
      2,
      fc.record({
        op: fc.constantFrom('in' as const, 'out' as const),
        size,
        form: fc.constant('imm8' as const),
        port: port8,
      }),
      io,
    ),
    ...w(
      2,
      fc.record({
        op: fc.constantFrom('in' as const, 'out' as const),
        size,
        form: fc.constant('dx' as const),
        port: port16,
      }),
      io,
    ),
    ...w(
      3,
      fc
        .record({
          op: fc.constantFrom('outs' as const, 'ins' as const),
          size,
          port: port16,
          // String operands: any linear address that translates (the exit comes before the access).
          addr: fc.integer({ min: 0, max: real ? 0xfff0 : 0x3ff_fff0 }).map((v) => BigInt(v)),
          rep: fc.option(fc.integer({ min: 1, max: 0x1000 }), { nil: undefined }),
        })
        .map((x) => {
          const { rep, ...rest } = x;
          return rep === undefined ? rest : { ...rest, rep };
        }),
      io && stringIo,
    ),
    ...w(1, fc.constant({ op: 'hlt' as const }), reportable(VMX_REASON.VMX_REASON_HLT)),
    ...w(2, fc.constant({ op: 'vmcall' as const }), reportable(VMX_REASON.VMX_REASON_VMCALL)),
    ...w(
      1,
      fc.record({ op: fc.constant('cpuid' as const), leaf: fc.oneof(fc.constantFrom(...CPUID_LEAVES), u32) }),
      reportable(VMX_REASON.VMX_REASON_CPUID),
    ),
    ...w(
      1,
      fc.record({ op: fc.constant('rdmsr' as const), msr: fc.constantFrom(...MSRS) }),
      reportable(VMX_REASON.VMX_REASON_RDMSR),
    ),
    ...w(
      1,
      fc.record({ op: fc.constant('wrmsr' as const), msr: fc.constantFrom(...MSRS) }),
      reportable(VMX_REASON.VMX_REASON_WRMSR),
    ),
    ...w(2, crWrite, crReportable),
    ...w(
      2,
      fc.record({ op: fc.constant('mov-from-cr' as const), cr: fc.constantFrom(...crs), reg: gpr }),
      crReportable,
    ),
    ...w(
      2,
      fc.record({
        op: fc.constantFrom('mov-to-dr' as const, 'mov-from-dr' as const),
        dr: fc.constantFrom<X86Dr>(0, 1, 2, 3),
        reg: gpr,
      }),
      reportable(VMX_REASON.VMX_REASON_MOV_DR),
    ),
    ...fetchTargets(false).map((t) => ({
      weight: 1,
      arbitrary: t.map((addr): Draft => ({ op: 'jump', target: { addr } })),
    })),
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('jump-later' as const), skip: fc.integer({ min: 0, max: 2 }) }),
    },
    ...exceptionActions(false).map((arbitrary) => ({ weight: 1, arbitrary })),
  );
  /**
   * Exception-raising actions whose event exits (body) or ends the run (trailing). Whether it does
   * depends only on the kind of action (the vector of `int n` and the selector of `load-ds` do not change
   * how delivery fails), so each candidate is judged by a representative.
   */
  function exceptionActions(trailing: boolean): fc.Arbitrary<Draft>[] {
    const ok = (a: X86Action) => {
      const e = raisedEvent(a, mode);
      return e !== undefined && (trailing ? endsRun(e) : exitsFine(e));
    };
    const vectors = fc.oneof(
      fc.constantFrom(0x21, 0x10, 0x13, 0x80, 0x03),
      fc.integer({ min: 0x20, max: 0xff }),
    );
    const cands: Array<[X86Action, fc.Arbitrary<X86Action>]> = [
      [{ op: 'ud2' }, fc.constant({ op: 'ud2' as const })],
      [{ op: 'int3' }, fc.constant({ op: 'int3' as const })],
      [{ op: 'int1' }, fc.constant({ op: 'int1' as const })],
      [{ op: 'div0' }, fc.constant({ op: 'div0' as const })],
      [{ op: 'int', vector: 0x21 }, fc.record({ op: fc.constant('int' as const), vector: vectors })],
    ];
    // Real mode: a DS load just moves DS.base (no fault).
    if (!real)
      cands.push([
        { op: 'load-ds', selector: 8 },
        fc.record({ op: fc.constant('load-ds' as const), selector: fc.integer({ min: 4, max: 0xffff }) }),
      ]);
    const out: fc.Arbitrary<Draft>[] = cands.filter(([rep]) => ok(rep)).map(([, arb]) => arb);
    if (trailing) {
      out.push(...loadStore('load', true), ...loadStore('store', true));
      for (const t of fetchTargets(true))
        out.push(t.map((addr): Draft => ({ op: 'jump', target: { addr } })));
    }
    return out;
  }
  const trailingChoices = exceptionActions(true);
  const trailing: fc.Arbitrary<Draft[]> =
    trailingChoices.length && excBitmap !== 0xffff_ffff
      ? fc.oneof(...trailingChoices).map((d) => [d])
      : fc.constant([]);
  return fc
    .tuple(fc.array(draft, { minLength: 0, maxLength: Math.max(0, maxActions - 1) }), trailing)
    .map(([raw, tail]) => {
      // Groups (a register load and the move that uses it) stay whole, and jumps land only on a
      // group's first action: a jump between them would leave the register unloaded.
      const limit = Math.max(0, maxActions - tail.length);
      const groups: Draft[][] = [];
      let count = 0;
      for (const d of raw) {
        const g = Array.isArray(d) ? d : [d];
        if (count + g.length > limit) break;
        groups.push(g);
        count += g.length;
      }
      const starts: number[] = [];
      let at = 0;
      for (const g of groups) {
        starts.push(at);
        at += g.length;
      }
      const n = at + tail.length;
      const landing = [...starts.slice(1), at, n];
      const actions: X86Action[] = [];
      groups.forEach((g, k) => {
        for (const d of g)
          actions.push(
            d.op === 'jump-later'
              ? { op: 'jump', target: { action: landing[Math.min(k + d.skip, landing.length - 1)]! } }
              : d,
          );
      });
      return { actions: [...actions, ...(tail as X86Action[])] };
    });
}

/**
 * The exception bitmaps scenarios run under: the canonical one (every exception exits), none (events
 * go to the guest's empty IDT and end in a triple fault), only #GP (what the failed delivery of a
 * benign event raises, with IDT-vectoring information) and only #DF.
 */
export const X86_SCENARIO_BITMAPS: readonly (number | undefined)[] = [undefined, 0, 1 << 13, 1 << 8];

/**
 * A whole scenario for a layout and mode: a program of up to 12 actions, initial registers, one of
 * {@link X86_SCENARIO_BITMAPS} (the canonical one most often) and, one time in three, MOV-DR exiting.
 * `caps` are the backend's: programs whose exits it declares it never reports are not generated, nor
 * string I/O for a backend that declares {@link X86_STRING_IO_DEVIATION}.
 */
export function x86ScenarioArb(
  layout: X86Layout,
  mode: X86Mode = 'prot32',
  caps?: Pick<Capabilities, 'deviations'>,
): fc.Arbitrary<X86Scenario> {
  const exclude = (caps?.deviations ?? []).flatMap((d) => d.exitReasons ?? []);
  const regs = fc.record(
    Object.fromEntries(X86_GPRS.map((r) => [r, fc.integer({ min: 0, max: 0xffff_ffff })])) as Record<
      X86Gpr,
      fc.Arbitrary<number>
    >,
    { requiredKeys: [] },
  );
  return fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(X86_SCENARIO_BITMAPS[0]) },
        { weight: 1, arbitrary: fc.constantFrom(...X86_SCENARIO_BITMAPS.slice(1)) },
      ),
      fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    )
    .chain(([excBitmap, movDrExiting]) =>
      fc
        .record({
          program: x86ProgramArb(
            layout,
            12,
            excBitmap ?? 0xffff_ffff,
            mode,
            exclude,
            !declares(caps, X86_STRING_IO_DEVIATION),
            !declares(caps, X86_EXEC_TABLES_DEVIATION),
            !declares(caps, X86_REAL_IDT_LIMIT_DEVIATION),
          ),
          regs,
        })
        .map(
          ({ program, regs }): X86Scenario => ({
            layout,
            program,
            regs,
            ...(mode !== 'prot32' ? { mode } : {}),
            ...(excBitmap !== undefined ? { excBitmap } : {}),
            ...(movDrExiting ? { movDrExiting } : {}),
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
  /** Exit kinds that occurred and matched the prediction in every compared field, as `x86.<mode>.<kind>`. */
  readonly exitsCovered: readonly string[];
  /** Spurious exits (VMX_REASON_IRQ, and EPT violations the mapping allows) that were re-run. */
  readonly spuriousExits: number;
  /** Set when the scenario was not run or only partly judged, and why. */
  readonly unsupported?: string;
  readonly prediction: X86Prediction;
}

/** Options of {@link runX86Scenario}. */
export interface X86RunOptions {
  /** The VMM's answers to IN, MMIO loads, CPUID, RDMSR and register reads; default `defaultX86Answer`. */
  readonly answer?: (q: X86VmmQuestion) => number;
  /** Give up after this many spurious exits in a row (default 1000). */
  readonly maxSpurious?: number;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const FULL64 = 0xffff_ffff_ffff_ffffn;
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
const DR_IDS = [HV_X86_REG.HV_X86_DR0, HV_X86_REG.HV_X86_DR1, HV_X86_REG.HV_X86_DR2, HV_X86_REG.HV_X86_DR3];

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

/** The VMM state a scenario's prediction depends on: the CPU-based controls it ends up with. */
export function x86ScenarioCpuBased(scenario: X86Scenario, readCapability: (id: number) => bigint): number {
  return x86SetupCpuBased(readCapability, scenario.movDrExiting ? CPU_BASED.CPU_BASED_MOV_DR : 0);
}

/**
 * The prediction for a scenario on a backend (initial memory read from the backend's host buffers,
 * controls canonicalised against its capabilities; without `readCapability` the controls are exactly
 * the requested ones).
 */
export function predictX86Scenario(
  scenario: X86Scenario,
  initialByte?: (gpa: bigint) => number,
  answer?: (q: X86VmmQuestion) => number,
  readCapability?: (id: number) => bigint,
): X86Prediction {
  const paging = x86ScenarioPageTables(scenario);
  const all = (): bigint => 0xffff_ffffn << 32n;
  return predictX86({
    program: scenario.program,
    gpa: scenario.layout.code.gpa,
    mode: scenario.mode ?? 'prot32',
    ...(paging ? { paging } : {}),
    ...(scenario.regs ? { regs: scenario.regs } : {}),
    lookup: x86LayoutLookup(scenario.layout),
    canonical: x86LayoutCanonical(scenario.layout),
    ...(initialByte ? { initialByte } : {}),
    ...(answer ? { answer } : {}),
    ...(scenario.excBitmap !== undefined ? { excBitmap: scenario.excBitmap } : {}),
    cpuBased: x86ScenarioCpuBased(scenario, readCapability ?? all),
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
 * The VMM's writes before the first run, after `x86_setup`, in order (the runner and the trace steps
 * make the same ones): VMCS_GUEST_CR3 (paging modes: the tables' root; real mode: 0, which Apple's
 * real-mode setup leaves alone), the CPU-based controls with MOV-DR exiting, the exception bitmap, and
 * DR0–DR3 = 0 when the program moves debug registers.
 */
function vmmSetupWrites(
  scenario: X86Scenario,
  readCapability: (id: number) => bigint,
): { vmcs: Array<[number, bigint]>; regs: Array<[number, bigint]> } {
  const mode = scenario.mode ?? 'prot32';
  const vmcs: Array<[number, bigint]> = [];
  const tables = x86ScenarioPageTables(scenario);
  if (tables) vmcs.push([VMCS.VMCS_GUEST_CR3, tables.root]);
  else if (mode === 'real') vmcs.push([VMCS.VMCS_GUEST_CR3, 0n]);
  if (scenario.movDrExiting)
    vmcs.push([VMCS.VMCS_CTRL_CPU_BASED, BigInt(x86ScenarioCpuBased(scenario, readCapability))]);
  if (scenario.excBitmap !== undefined)
    vmcs.push([VMCS.VMCS_CTRL_EXC_BITMAP, BigInt(scenario.excBitmap >>> 0)]);
  const regs: Array<[number, bigint]> = [];
  if (scenario.program.actions.some((a) => a.op === 'mov-to-dr' || a.op === 'mov-from-dr'))
    for (const id of DR_IDS) regs.push([id, 0n]);
  return { vmcs, regs };
}

/** Reads one VMCS field for {@link compareExit}; undefined when the read failed (already reported). */
type VmcsReader = (field: number) => bigint | undefined;

/**
 * Compares one exit with its prediction field by field, as a VMM reads it (`reason`, `qual` and, for
 * EPT violations, `gpa` were read already to skip spurious exits): reason, qualification under its
 * mask, GPA, guest-linear address, instruction length, interruption information and error code,
 * IDT-vectoring information and error code, RIP. Returns false when what follows cannot be judged (a
 * different reason or RIP).
 */
function compareExit(
  k: number,
  e: X86ExpectedExit,
  got: { reason: bigint; qual: bigint; gpa: bigint | undefined },
  read: VmcsReader,
  mismatches: X86Mismatch[],
): boolean {
  const ctx = { exitReason: Number(got.reason) };
  // One field through the exit judge, which names and decodes the values it reports.
  const diff = (
    field: number,
    expected: bigint | number,
    value: bigint | undefined,
    mask = FULL64,
  ): boolean => {
    const m = judgeField({ kind: 'vmcs', field }, { value: BigInt(expected), mask }, value, ctx);
    if (m) mismatches.push({ exitIndex: k, ...m });
    return m === undefined;
  };
  if (!diff(VMCS.VMCS_RO_EXIT_REASON, e.reason, got.reason)) return false;
  diff(VMCS.VMCS_RO_EXIT_QUALIFIC, e.qualification, got.qual, e.qualificationMask ?? FULL64);
  if (e.gpa !== undefined) diff(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS, e.gpa, got.gpa);
  if (e.gla !== undefined) diff(VMCS.VMCS_RO_GUEST_LIN_ADDR, e.gla, read(VMCS.VMCS_RO_GUEST_LIN_ADDR));
  if (e.instrLen !== undefined)
    diff(VMCS.VMCS_RO_VMEXIT_INSTR_LEN, e.instrLen, read(VMCS.VMCS_RO_VMEXIT_INSTR_LEN));
  if (e.irqInfo !== undefined)
    diff(
      VMCS.VMCS_RO_VMEXIT_IRQ_INFO,
      e.irqInfo,
      read(VMCS.VMCS_RO_VMEXIT_IRQ_INFO),
      BigInt(VMEXIT_IRQ_INFO_MASK),
    );
  if (e.irqError !== undefined)
    diff(VMCS.VMCS_RO_VMEXIT_IRQ_ERROR, e.irqError, read(VMCS.VMCS_RO_VMEXIT_IRQ_ERROR), 0xffff_ffffn);
  if (e.idtVectorInfo !== undefined)
    diff(
      VMCS.VMCS_RO_IDT_VECTOR_INFO,
      e.idtVectorInfo,
      read(VMCS.VMCS_RO_IDT_VECTOR_INFO),
      BigInt(e.idtVectorInfo === 0 ? IDT_VECTOR_INFO_INVALID_MASK : IDT_VECTOR_INFO_MASK),
    );
  if (e.idtVectorError !== undefined)
    diff(VMCS.VMCS_RO_IDT_VECTOR_ERROR, e.idtVectorError, read(VMCS.VMCS_RO_IDT_VECTOR_ERROR), 0xffff_ffffn);
  if (e.rip !== undefined && !diff(VMCS.VMCS_GUEST_RIP, e.rip, read(VMCS.VMCS_GUEST_RIP))) return false;
  return true;
}

/**
 * Runs a scenario on a backend as a VMM does: writes the code (and the page tables) into their host
 * buffers, performs the canonical setup of the scenario's mode and the VMM's own writes after it, sets
 * the registers, then loops `hv_vcpu_run` → read the exit through `hv_vmx_vcpu_read_vmcs` → compare with
 * the prediction → emulate (write the registers the VMM answers, write RIP past the instruction) until
 * the end marker or a triple fault. Thread `t` must own `vcpu`; the caller has made the mappings of
 * `scenario.layout`. It stops comparing at the first exit whose reason or RIP differs (what follows would
 * be noise). A scenario that expects an exit reason the backend declares it never reports is
 * `unsupported` there.
 */
export function runX86Scenario(
  backend: X86Backend,
  t: ThreadId,
  vcpu: Vcpu,
  scenario: X86Scenario,
  options: X86RunOptions = {},
): X86ScenarioReport {
  const mode = scenario.mode ?? 'prot32';
  const mismatches: X86Mismatch[] = [];
  const covered = new Set<string>();
  let spurious = 0;
  const readCap = (id: number): bigint => backend.hv_vmx_read_capability(t, id).value ?? 0n;
  const prediction = predictX86Scenario(
    scenario,
    hostByteReader(backend, scenario.layout),
    options.answer,
    readCap,
  );
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
  if (declares(backend.capabilities, x86ModeDeviation(mode)))
    return report(
      `backend ${backend.capabilities.backend} cannot run ${mode} guests (deviation ${x86ModeDeviation(mode)})`,
    );
  if (
    declares(backend.capabilities, X86_STRING_IO_DEVIATION) &&
    scenario.program.actions.some((a) => a.op === 'ins' || a.op === 'outs')
  )
    return report(
      `backend ${backend.capabilities.backend} does not present string I/O as the framework does (deviation ${X86_STRING_IO_DEVIATION})`,
    );
  // An exit the backend declares it never reports (e.g. KVM handles guest exceptions, CPUID, CR and
  // MSR accesses in the kernel: deviation kvm.controls) cannot be judged there.
  const never = backend.capabilities.deviations.filter((d) =>
    prediction.exits.some((e) => d.exitReasons?.includes(e.reason)),
  );
  if (never.length)
    return report(
      `the program expects an exit that backend ${backend.capabilities.backend} never reports (deviation ${never.map((d) => d.id).join(', ')})`,
    );

  const call = (exitIndex: number, what: string, ret: number): boolean => {
    if (ret === HV.HV_SUCCESS) return true;
    mismatches.push({ exitIndex, field: `ret of ${what}`, expected: 'HV_SUCCESS', got: hvReturnName(ret) });
    return false;
  };
  const { code } = scenario.layout;
  backend.host_write(code.uva.mem, code.uva.offset, prediction.assembly.bytes);
  const tables = x86ScenarioPageTables(scenario);
  if (tables) {
    const at = scenario.layout.tables!;
    for (const p of tables.pages)
      backend.host_write(at.uva.mem, at.uva.offset + Number(p.gpa - tables.root), p.bytes);
  }
  const writeVmcs = (field: number, value: bigint): boolean =>
    call(
      -1,
      `hv_vmx_vcpu_write_vmcs(${vmcsName(field)})`,
      backend.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value).ret,
    );
  for (const s of x86SetupSteps(readCap, mode, code.gpa)) if (!writeVmcs(s.field, s.value)) return report();
  const writes = vmmSetupWrites(scenario, readCap);
  for (const [field, value] of writes.vmcs) if (!writeVmcs(field, value)) return report();
  for (const [reg, value] of writes.regs)
    if (!call(-1, 'hv_vcpu_write_register', backend.hv_vcpu_write_register(t, vcpu, reg, value).ret))
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
  const maxSpurious = options.maxSpurious ?? 1000;

  for (let k = 0; k < prediction.exits.length; k++) {
    const e = prediction.exits[k]!;
    const vmcs = (field: number): bigint | undefined => {
      const r = backend.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
      return call(k, `hv_vmx_vcpu_read_vmcs(${vmcsName(field)})`, r.ret) ? (r.value ?? 0n) : undefined;
    };
    let reason: bigint | undefined;
    let qual: bigint | undefined;
    let gpa: bigint | undefined;
    for (let n = 0; ; n++) {
      if (!call(k, 'hv_vcpu_run', backend.hv_vcpu_run(t, vcpu).ret)) return report();
      reason = vmcs(VMCS.VMCS_RO_EXIT_REASON);
      if (reason === undefined) return report();
      qual = vmcs(VMCS.VMCS_RO_EXIT_QUALIFIC);
      if (qual === undefined) return report();
      gpa =
        basicExitReason(reason) === VMX_REASON.VMX_REASON_EPT_VIOLATION
          ? vmcs(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS)
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
    if (!compareExit(k, e, { reason, qual, gpa }, vmcs, mismatches)) return report();
    for (const [name, want] of Object.entries(e.regs) as [X86RegName, number][]) {
      const r = backend.hv_vcpu_read_register(t, vcpu, REG_IDS[name]);
      if (
        call(k, `hv_vcpu_read_register(HV_X86_${name})`, r.ret) &&
        ((r.value ?? 0n) & 0xffff_ffffn) !== BigInt(want)
      )
        mismatches.push({
          exitIndex: k,
          field: `HV_X86_${name} (low 32 bits)`,
          expected: hex(want),
          got: hex((r.value ?? 0n) & 0xffff_ffffn),
        });
    }
    if (mismatches.length === before) covered.add(e.kind.replace(/^x86\./, `x86.${mode}.`));
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
const DR_NAMES = ['HV_X86_DR0', 'HV_X86_DR1', 'HV_X86_DR2', 'HV_X86_DR3'];

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
  /**
   * The prediction a run was judged against (`X86ScenarioReport.prediction`), made from the guest memory
   * as it was when the run started; without it the scenario is predicted here from `initialByte`. A
   * trace rendered after later steps changed that memory must use it.
   */
  readonly prediction?: X86Prediction;
  /**
   * `hv_vmx_read_capability` of the backend the trace is for: the controls the VMM writes and the
   * prediction depend on it (default: every control allowed, none forced).
   */
  readonly readCapability?: (id: number) => bigint;
}

/**
 * The scenario as trace steps (DESIGN.md trace format): write the code and page tables, `x86_setup`,
 * the VMM's writes after it (CR3, controls, exception bitmap, debug registers), the register writes,
 * then per exit `hv_vcpu_run` + the VMM's `hv_vmx_vcpu_read_vmcs` reads with the predicted values +
 * register reads + the VMM's register writes, and finally `host_read`s of the memory the program
 * touched. The caller's steps before these create the VM, the buffers, the mappings and the vCPU.
 */
export function x86ScenarioTraceSteps(scenario: X86Scenario, options: X86TraceOptions): Step[] {
  const readCap = options.readCapability ?? ((): bigint => 0xffff_ffffn << 32n);
  const p = options.prediction ?? predictX86Scenario(scenario, options.initialByte, options.answer, readCap);
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
  ];
  const tables = x86ScenarioPageTables(scenario);
  if (tables) {
    const at = scenario.layout.tables!;
    for (const page of tables.pages)
      steps.push({
        call: 'host_write',
        args: {
          mem: options.memName(at.uva.mem),
          offset: at.uva.offset + Number(page.gpa - tables.root),
          bytes: toHex(page.bytes),
        },
      });
  }
  steps.push(on({ call: 'x86_setup', args: { vcpu, mode: scenario.mode ?? 'prot32', rip: hex(code.gpa) } }));
  const writes = vmmSetupWrites(scenario, readCap);
  for (const [field, value] of writes.vmcs)
    steps.push(
      on({
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu, field: vmcsName(field), value: hex(value) },
        expect: ok,
      }),
    );
  for (const [reg, value] of writes.regs)
    steps.push(
      on({
        call: 'hv_vcpu_write_register',
        args: { vcpu, reg: DR_NAMES[DR_IDS.indexOf(reg as (typeof DR_IDS)[number])]!, value: hex(value) },
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
  steps.push(...x86ExitSteps(p.exits, { vcpu, on }));
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

/**
 * The trace steps of predicted exits as a VMM handles them: per exit `hv_vcpu_run`, the
 * `hv_vmx_vcpu_read_vmcs` reads of what {@link compareExit} compares, with the predicted values and
 * masks, register reads (low 32 bits), then the VMM's register writes and RIP (none after the last
 * exit of a run that stops). `regs` picks which registers to read at each exit (default: the ones the
 * prediction names).
 */
export function x86ExitSteps(
  exits: readonly X86ExpectedExit[],
  opts: {
    readonly vcpu: string;
    readonly on: (s: Omit<Step, 'thread'>) => Step;
    readonly regs?: (e: X86ExpectedExit, index: number) => readonly X86RegName[];
    readonly resume?: (e: X86ExpectedExit, index: number) => boolean;
    /** Exit-reason and other register values by name (`VMX_REASON_IO`) rather than as numbers. */
    readonly names?: boolean;
  },
): Step[] {
  const { vcpu, on } = opts;
  const ok = { ret: 'HV_SUCCESS' } as const;
  const FULL = 0xffff_ffff_ffff_ffffn;
  const masked = (value: bigint | number, mask: bigint | number): JsonValue =>
    BigInt(mask) === FULL ? hex(value) : { value: hex(value), mask: hex(mask) };
  const read = (field: string, value: JsonValue) =>
    on({
      call: 'hv_vmx_vcpu_read_vmcs',
      args: { vcpu, field },
      expect: { ret: 'HV_SUCCESS', value } as never,
    });
  const steps: Step[] = [];
  exits.forEach((e, index) => {
    steps.push(on({ call: 'hv_vcpu_run', args: { vcpu }, expect: ok }));
    steps.push(read('VMCS_RO_EXIT_REASON', opts.names ? reasonName(e.reason) : hex(e.reason)));
    steps.push(read('VMCS_RO_EXIT_QUALIFIC', masked(e.qualification, e.qualificationMask)));
    if (e.gpa !== undefined) steps.push(read('VMCS_GUEST_PHYSICAL_ADDRESS', hex(e.gpa)));
    if (e.gla !== undefined) steps.push(read('VMCS_RO_GUEST_LIN_ADDR', hex(e.gla)));
    if (e.instrLen !== undefined) steps.push(read('VMCS_RO_VMEXIT_INSTR_LEN', hex(e.instrLen)));
    if (e.irqInfo !== undefined)
      steps.push(read('VMCS_RO_VMEXIT_IRQ_INFO', masked(e.irqInfo, VMEXIT_IRQ_INFO_MASK)));
    if (e.irqError !== undefined)
      steps.push(read('VMCS_RO_VMEXIT_IRQ_ERROR', masked(e.irqError, 0xffff_ffff)));
    if (e.idtVectorInfo !== undefined)
      steps.push(
        read(
          'VMCS_RO_IDT_VECTOR_INFO',
          masked(
            e.idtVectorInfo,
            e.idtVectorInfo === 0 ? IDT_VECTOR_INFO_INVALID_MASK : IDT_VECTOR_INFO_MASK,
          ),
        ),
      );
    if (e.idtVectorError !== undefined)
      steps.push(read('VMCS_RO_IDT_VECTOR_ERROR', masked(e.idtVectorError, 0xffff_ffff)));
    if (e.rip !== undefined) steps.push(read('VMCS_GUEST_RIP', hex(e.rip)));
    const names = opts.regs ? opts.regs(e, index) : (Object.keys(e.regs) as X86RegName[]);
    for (const name of names) {
      const v = e.regs[name];
      if (v === undefined) continue;
      steps.push(
        on({
          call: 'hv_vcpu_read_register',
          args: { vcpu, reg: `HV_X86_${name}` },
          expect: { ret: 'HV_SUCCESS', value: { value: hex(v), mask: '0xffffffff' } },
        }),
      );
    }
    if (e.vmmRip === undefined || (opts.resume && !opts.resume(e, index))) return;
    for (const [name, v] of Object.entries(e.vmmRegs) as [X86RegName, number][])
      steps.push(
        on({
          call: 'hv_vcpu_write_register',
          args: { vcpu, reg: `HV_X86_${name}`, value: hex(v >>> 0) },
          expect: ok,
        }),
      );
    steps.push(
      on({
        call: 'hv_vcpu_write_register',
        args: { vcpu, reg: 'HV_X86_RIP', value: hex(e.vmmRip) },
        expect: ok,
      }),
    );
  });
  return steps;
}

const REASON_NAMES = new Map((Object.entries(VMX_REASON) as [string, number][]).map(([n, v]) => [v, n]));
function reasonName(reason: number): string {
  return REASON_NAMES.get(reason) ?? hex(reason);
}
