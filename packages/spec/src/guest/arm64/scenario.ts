/**
 * What the conformance harness needs to run generated arm64 guest programs on any backend: an
 * arbitrary of short programs biased towards every exit kind, a VMM loop that runs a program and
 * compares each exit with the spec's prediction, and the same scenario as trace steps so that a
 * counterexample is a replayable trace. Mirrors the x86 scenario module.
 *
 * A scenario says how the VMM starts the vCPU: the mode (EL1h, EL1t, or EL0 — a fresh vCPU's CPSR,
 * hvf-facts.md §2.6), the stage-1 MMU (off, or on with tables the VMM writes into a table area), the
 * debug traps, an interrupt line made pending before the first run.
 * @module
 */
import fc from 'fast-check';
import type {
  Arm64Backend,
  Arm64Exit,
  Capabilities,
  HostMemory,
  ThreadId,
  Uva,
  Vcpu,
} from '../../backend.js';
import { type Arm64ExitExpectation, judgeArm64Exit } from '../../judge/exit.js';
import type { Step } from '../../trace/types.js';
import { HV_EXIT_REASON, HV_INTERRUPT_TYPE, HV_REG, HV_SYS_REG } from '../../vocabulary/arm64.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { HV, hvReturnName } from '../../vocabulary/returns.js';
import {
  ARM64_END_MARKER_IMM,
  ARM64_REPORT_IMM,
  ARM64_SYSREGS,
  ARM64_VTIMER_SCRATCH,
  type Arm64AccessSize,
  type Arm64Action,
  type Arm64StartMode,
  type Arm64SysregName,
  type EretAction,
} from './actions.js';
import { arm64ElAfter } from './assemble.js';
import {
  type Arm64Granule,
  type Arm64MmuConfig,
  type Arm64S1BadTable,
  type Arm64S1Entry,
  arm64LevelSpan,
  arm64Stage1,
  buildArm64Tables,
} from './mmu.js';
import { type Arm64PredictedExit, type Arm64Prediction, MDSCR_SS_MDE, predictArm64 } from './predict.js';
import { type Arm64VmmQuery, arm64KindDeviation, arm64VmmStep } from './vmm.js';

/** One IPA mapping as the scenario sees it. `uva` lets the runner read initial and final memory. */
export interface Arm64LayoutMapping {
  readonly ipa: bigint;
  readonly size: bigint;
  readonly flags: number;
  readonly uva?: Uva;
}

/** The VM's memory when the program runs. */
export interface Arm64Layout {
  /** Disjoint mappings, including the one holding the code. */
  readonly mappings: readonly Arm64LayoutMapping[];
  /**
   * Where the program goes: inside a mapping with EXEC, at least 4 KiB (the program below +0x800, the
   * vectors above); `uva` is where its bytes are written.
   */
  readonly code: { readonly ipa: bigint; readonly size: number; readonly uva: Uva };
  /** A readable mapping the VMM may write stage-1 tables into (no MMU scenarios without one). */
  readonly tables?: { readonly ipa: bigint; readonly size: number; readonly uva: Uva };
  /** IPA size in bits, for generating unmapped addresses (default 36, hvf-facts.md §2.3 [R]). */
  readonly ipaBits?: number;
  /**
   * The stage-1 granules the vCPU implements (ID_AA64MMFR0_EL1, see {@link arm64Granules}); default all
   * three. Apple's cores have no 64 KiB granule.
   */
  readonly granules?: readonly Arm64Granule[];
  /**
   * Whether the core implements FEAT_IDST (see {@link arm64Idst}); `'unknown'` when the VMM overwrote
   * the ID registers that would say. Default false.
   */
  readonly idst?: boolean | 'unknown';
  /**
   * Whether the core implements FEAT_LSE2 (see {@link arm64Lse2}); `'unknown'` when the VMM overwrote
   * the ID registers that would say. Default false.
   */
  readonly lse2?: boolean | 'unknown';
}

/**
 * The stage-1 granules an ID_AA64MMFR0_EL1 value advertises (Arm ARM: TGran4 bits 31:28 0 or 1,
 * TGran64 bits 27:24 0, TGran16 bits 23:20 1 or 2 mean implemented).
 */
export function arm64Granules(mmfr0: bigint): Arm64Granule[] {
  const f = (lo: number): number => Number((mmfr0 >> BigInt(lo)) & 0xfn);
  const out: Arm64Granule[] = [];
  if (f(28) <= 1) out.push(4096);
  if (f(20) === 1 || f(20) === 2) out.push(16384);
  if (f(24) === 0) out.push(65536);
  return out;
}

/** Whether an ID_AA64MMFR2_EL1 value advertises FEAT_IDST (IDS, bits 39:36, = 1; Arm ARM D19). */
export function arm64Idst(mmfr2: bigint): boolean {
  return ((mmfr2 >> 36n) & 0xfn) === 1n;
}

/**
 * Whether an ID_AA64MMFR2_EL1 value advertises FEAT_LSE2 (AT, bits 35:32, = 1; Arm ARM D19): unaligned
 * load-acquire/store-release accesses then fault only when they cross a 16-byte boundary.
 */
export function arm64Lse2(mmfr2: bigint): boolean {
  return ((mmfr2 >> 32n) & 0xfn) >= 1n;
}

/** A program, its initial registers, the VMM's answers, the memory it runs in and how the VMM starts it. */
export interface Arm64Scenario {
  readonly layout: Arm64Layout;
  readonly actions: readonly Arm64Action[];
  /** X registers set before the first run; others are left as they are (and unknown to the prediction). */
  readonly regs?: Readonly<Record<number, bigint>>;
  /** Seed of the VMM's answers to MMIO loads and trapped MRS (see {@link arm64ScenarioAnswer}). */
  readonly answerSeed?: number;
  /** Call hv_vcpus_exit before the first run, so the first exit is CANCELED (hvf-facts.md §2.4 [H]). */
  readonly cancelFirst?: boolean;
  /** The mode the program starts in (default EL1h). */
  readonly start?: Arm64StartMode;
  /**
   * Leave CPSR as it is instead of writing it: only for a vCPU that is fresh (CPSR 0, EL0t,
   * hvf-facts.md §2.6) and `start` 'el0', as a VMM that never sets CPSR would.
   */
  readonly freshCpsr?: boolean;
  /** Stage-1 translation; off when absent. Needs `layout.tables`. */
  readonly mmu?: Arm64MmuConfig;
  /** hv_vcpu_set_trap_debug_exceptions (default true: BRK exits to the VMM). */
  readonly trapDebug?: boolean;
  /** hv_vcpu_set_trap_debug_reg_accesses (default false). */
  readonly trapDebugRegs?: boolean;
  /** An interrupt line the VMM makes pending before the first run (hv_vcpu_set_pending_interrupt). */
  readonly pending?: 'irq' | 'fiq';
}

/**
 * The unit the generator and the memory reader work in: 4 KiB, the smallest stage-2 granule
 * (HV_IPA_GRANULE_4KB, macOS 26 [H]; the default is 16 KiB, hvf-facts.md §2.5). Every mapping is
 * aligned to it, so a 4 KiB page is either wholly inside one mapping or wholly outside all.
 */
const PAGE = 0x1000n;
const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The mapping covering `ipa`. */
export function arm64LayoutLookup(
  layout: Pick<Arm64Layout, 'mappings'>,
): (ipa: bigint) => { flags: number } | undefined {
  return (ipa) => layout.mappings.find((m) => ipa >= m.ipa && ipa < m.ipa + m.size);
}

/**
 * The VMM's answer to the read of exit number `exitIndex`: a SplitMix64 value of (seed, index), so
 * answers are deterministic, differ per exit, and have both high bits set and clear.
 */
export function arm64ScenarioAnswer(seed: number, exitIndex: number): bigint {
  let z = BigInt.asUintN(64, BigInt(seed >>> 0) * 0x1_0000_0000n + BigInt(exitIndex) + 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

/** The stage-1 shape a program is generated for (the entries come after the program, from its addresses). */
export interface Arm64MmuShape {
  readonly granule: Arm64Granule;
  readonly t0sz: number;
  /** TTBR1 enabled with this T1SZ, or not. */
  readonly t1sz?: number;
}

/** What {@link arm64ProgramArb} generates for, besides the layout. */
export interface Arm64ProgramOptions {
  readonly start?: Arm64StartMode;
  readonly mmu?: Arm64MmuShape;
}

/** The VA of the TTBR0 region that a table descriptor sends to an unmapped IPA (the last level-2 span). */
function badRegion(shape: Arm64MmuShape): bigint {
  return (1n << BigInt(64 - shape.t0sz)) - arm64LevelSpan(shape.granule, 2);
}
/** The VA that aliases IPA `ipa` (≠ the IPA): above the IPA space in TTBR0, or in TTBR1. */
function aliasOf(
  ipa: bigint,
  layout: Pick<Arm64Layout, 'ipaBits'>,
  shape: Arm64MmuShape,
  upper: boolean,
): bigint {
  if (upper && shape.t1sz !== undefined) return (1n << 64n) - (1n << BigInt(64 - shape.t1sz)) + ipa;
  return ipa + (1n << BigInt(layout.ipaBits ?? 36));
}

/**
 * Short programs (≤ `maxActions` actions + the end marker) for a layout, biased so that loads and
 * stores hit mapped memory, unmapped IPAs and mappings without the needed permission, with every
 * size, sign-extending loads, acquire/release forms, Rt = 31 and unaligned addresses; plus HVC, SMC,
 * WFI, WFE, BRK, SVC, UDF, the trapped system registers, branches whose fetch faults, vtimer
 * programming, DAIF changes and exception returns. With an MMU shape, addresses also go through
 * aliases (VA ≠ IPA), stage-1 holes and a table descriptor with nothing behind it. Actions that the
 * EL they run at does not allow are replaced (see {@link arm64FitToEl}). Never generated (outside the
 * prediction): stores into the code's pages or the table area, accesses crossing a 4 KiB page,
 * branches into executable memory.
 */
export function arm64ProgramArb(
  layout: Pick<Arm64Layout, 'mappings' | 'code' | 'ipaBits' | 'tables'>,
  maxActions = 8,
  options: Arm64ProgramOptions = {},
): fc.Arbitrary<Arm64Action[]> {
  const lookup = arm64LayoutLookup(layout);
  const limit = 1n << BigInt(layout.ipaBits ?? 36);
  const codeStart = layout.code.ipa & ~(PAGE - 1n);
  const codeEnd = (layout.code.ipa + BigInt(layout.code.size) + PAGE - 1n) & ~(PAGE - 1n);
  const tables = layout.tables;
  const unmapped: bigint[] = [];
  const consider = (p: bigint): void => {
    if (p >= 0n && p + PAGE <= limit && !lookup(p) && !lookup(p + PAGE - 1n) && !unmapped.includes(p))
      unmapped.push(p);
  };
  for (const m of layout.mappings) {
    consider(m.ipa - PAGE);
    consider(m.ipa + m.size);
    consider(m.ipa - 0x4000n);
    consider(m.ipa + m.size + 0x3000n);
  }
  for (const p of [0n, 0x0900_0000n, 0x4000_0000n, limit - PAGE]) consider(p);

  /** Pages of the mappings matching `pred`, outside the code's pages and the table area. */
  const pagesWhere = (pred: (flags: number) => boolean): bigint[] => {
    const out: bigint[] = [];
    for (const m of layout.mappings) {
      if (!pred(m.flags)) continue;
      // A few pages at each end of every mapping, so a large mapping does not crowd out the others.
      const pages = new Set<bigint>();
      for (let k = 0n; k < 4n; k++) {
        if (m.ipa + k * PAGE < m.ipa + m.size) pages.add(m.ipa + k * PAGE);
        if (m.size >= (k + 1n) * PAGE) pages.add(m.ipa + m.size - (k + 1n) * PAGE);
      }
      for (const p of pages) {
        const inTables = tables !== undefined && p >= tables.ipa && p < tables.ipa + BigInt(tables.size);
        if ((p + PAGE <= codeStart || p >= codeEnd) && !inTables) out.push(p);
      }
    }
    return out;
  };
  const shape = options.mmu;
  /** An address in one of `pages`: aligned (mostly) or not, never crossing the 4 KiB page. */
  const inPages = (pages: bigint[], size: number, unaligned: boolean): fc.Arbitrary<bigint> =>
    fc
      .tuple(
        fc.constantFrom(...pages),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number(PAGE) / size - 1 })),
        unaligned && size > 1
          ? fc.oneof(
              { weight: 6, arbitrary: fc.constant(0) },
              { weight: 1, arbitrary: fc.integer({ min: 1, max: size - 1 }) },
            )
          : fc.constant(0),
      )
      .map(([p, k, skew]) => p + BigInt(Math.min(k * size + skew, Number(PAGE) - size)));
  /** With an MMU: the same IPA pages seen through an alias VA, and a VA under the bad table. */
  const viaMmu = (ipas: fc.Arbitrary<bigint>): fc.Arbitrary<bigint> => {
    if (!shape) return ipas;
    const choices: { weight: number; arbitrary: fc.Arbitrary<bigint> }[] = [
      { weight: 6, arbitrary: ipas },
      { weight: 2, arbitrary: fc.tuple(ipas, fc.boolean()).map(([a, up]) => aliasOf(a, layout, shape, up)) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 0, max: 0xfff }).map((k) => badRegion(shape) + BigInt(k * 8)),
      },
    ];
    return fc.oneof(...choices);
  };
  const ipaArb = (write: boolean, size: number): fc.Arbitrary<bigint> => {
    const need = write ? HV_MEMORY.WRITE : HV_MEMORY.READ;
    const allowed = pagesWhere((f) => (f & need) !== 0);
    const denied = pagesWhere((f) => (f & need) === 0);
    const choices: { weight: number; arbitrary: fc.Arbitrary<bigint> }[] = [];
    if (allowed.length) choices.push({ weight: 3, arbitrary: inPages(allowed, size, true) });
    if (denied.length) choices.push({ weight: 3, arbitrary: inPages(denied, size, true) });
    if (unmapped.length) choices.push({ weight: 3, arbitrary: inPages(unmapped, size, true) });
    return viaMmu(fc.oneof(...choices));
  };
  const fetchDenied = [...unmapped, ...pagesWhere((f) => (f & HV_MEMORY.EXEC) === 0)];

  // X18 is left alone (the platform register); everything else may be used.
  const reg = fc.integer({ min: 0, max: 30 });
  const rt = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 30 }) },
    { weight: 1, arbitrary: fc.constant(31) },
  );
  const u64 = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constantFrom(0n, 1n, 0x80n, 0xffn, 0x8000n, 0xffff_ffffn, 0x8000_0000n, (1n << 64n) - 1n),
  );
  const size = fc.constantFrom<Arm64AccessSize>(1, 2, 4, 8);
  const imm16 = fc.integer({ min: 0, max: 0xffff });

  /**
   * A load or store of `s` bytes with the form's own fields: acquire/release forms (LDAR/STLR) take no
   * offset; the others an immediate offset of `scaled` × the size when the IPA stays at or above zero.
   */
  const access = (
    op: 'ldr' | 'str',
    s: Arm64AccessSize,
    f: { base: number; rt: number; ipa: bigint; scaled: number },
    acquire: boolean,
    own: { signed?: 'w' | 'x'; value?: bigint },
  ): Arm64Action => {
    const offset = acquire || f.ipa < BigInt(f.scaled * s) ? 0 : f.scaled * s;
    return {
      op,
      size: s,
      ipa: f.ipa,
      base: f.base,
      rt: f.rt,
      ...own,
      ...(acquire ? { acquire } : {}),
      ...(offset ? { offset } : {}),
    } as Arm64Action;
  };
  const ldr = size.chain((s) =>
    fc
      .record({
        base: reg,
        rt,
        ipa: ipaArb(false, s),
        form: fc.constantFrom<'plain' | 'w' | 'x' | 'acquire'>('plain', 'w', 'x', 'acquire'),
        scaled: fc.integer({ min: 0, max: 3 }),
      })
      .map((f) => {
        const signed =
          f.form === 'w'
            ? s <= 2
              ? 'w'
              : undefined
            : f.form === 'x'
              ? s <= 4
                ? 'x'
                : undefined
              : undefined;
        return access('ldr', s, f, f.form === 'acquire', signed ? { signed } : {});
      }),
  );
  const str = size.chain((s) =>
    fc
      .record({
        base: reg,
        rt,
        ipa: ipaArb(true, s),
        value: fc.option(u64, { nil: undefined }),
        acquire: fc.boolean(),
        scaled: fc.integer({ min: 0, max: 3 }),
      })
      .map((f) => {
        const withValue = f.value !== undefined && f.rt !== 31 && f.rt !== f.base;
        return access('str', s, f, f.acquire, withValue ? { value: f.value } : {});
      }),
  );
  const sysregNames = Object.keys(ARM64_SYSREGS) as Arm64SysregName[];
  const choices: { weight: number; arbitrary: fc.Arbitrary<Arm64Action> }[] = [
    { weight: 5, arbitrary: ldr },
    { weight: 5, arbitrary: str },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('mov' as const), rd: reg, value: u64 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: ARM64_REPORT_IMM - 1 })
        .map((imm): Arm64Action => ({ op: 'hvc', imm })),
    },
    { weight: 1, arbitrary: imm16.map((imm): Arm64Action => ({ op: 'smc', imm })) },
    { weight: 1, arbitrary: fc.constant<Arm64Action>({ op: 'wfi' }) },
    { weight: 1, arbitrary: fc.constant<Arm64Action>({ op: 'wfe' }) },
    { weight: 1, arbitrary: imm16.map((imm): Arm64Action => ({ op: 'brk', imm })) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: ARM64_END_MARKER_IMM - 1 })
        .map((imm): Arm64Action => ({ op: 'svc', imm })),
    },
    { weight: 1, arbitrary: imm16.map((imm): Arm64Action => ({ op: 'udf', imm })) },
    {
      weight: 4,
      arbitrary: fc
        .record({
          reg: fc.constantFrom(...sysregNames),
          read: fc.boolean(),
          wrongWay: fc.oneof(
            { weight: 6, arbitrary: fc.constant(false) },
            { weight: 1, arbitrary: fc.constant(true) },
          ),
          rt,
          value: fc.option(u64, { nil: undefined }),
        })
        .map(({ reg, read, wrongWay, rt, value }): Arm64Action => {
          // The direction the register has; sometimes the other (UNDEFINED).
          const dir = ARM64_SYSREGS[reg].dir;
          const r = dir === 'rw' ? read : wrongWay ? dir === 'w' : dir === 'r';
          // A write to MDSCR_EL1 never arms software step or breakpoints (not predicted).
          const v = reg === 'MDSCR_EL1' ? (value ?? 0n) & ~MDSCR_SS_MDE : value;
          return {
            op: 'sysreg',
            reg,
            read: r,
            rt,
            ...(!r && v !== undefined && rt !== 31 ? { value: v } : {}),
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          { weight: 3, arbitrary: fc.integer({ min: 0, max: 8 }) },
          { weight: 1, arbitrary: fc.integer({ min: 9, max: 64 }) },
        )
        .map((delta): Arm64Action => ({ op: 'vtimer', delta })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({
          set: fc.boolean(),
          imm: fc.oneof(fc.constantFrom(2, 1, 3, 15), fc.integer({ min: 0, max: 15 })),
        })
        .map(({ set, imm }): Arm64Action => ({ op: 'daif', set, imm })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          to: fc.constantFrom<EretAction['to']>('el0', 'el0', 'el1t', 'el1h', 'illegal'),
          daif: fc.oneof(fc.constantFrom(0, 15), fc.integer({ min: 0, max: 15 })),
          reg,
        })
        .map((e): Arm64Action => ({ op: 'eret', ...e })),
    },
  ];
  const branchTargets: { weight: number; arbitrary: fc.Arbitrary<bigint> }[] = [];
  if (fetchDenied.length)
    branchTargets.push({ weight: 4, arbitrary: viaMmu(inPages(fetchDenied, 4, false)) });
  // An unaligned target: a PC alignment fault, whatever is mapped there — in the code's own page (a
  // fetch there would succeed) and where the fetch would also fault (the alignment fault comes first).
  branchTargets.push({
    weight: 1,
    arbitrary: inPages([layout.code.ipa & ~(PAGE - 1n)], 4, false).map((a) => a + 2n),
  });
  if (fetchDenied.length)
    branchTargets.push({ weight: 1, arbitrary: inPages(fetchDenied, 4, false).map((a) => a + 2n) });
  choices.push({
    weight: 2,
    arbitrary: fc
      .record({ ipa: fc.oneof(...branchTargets), reg })
      .map(({ ipa, reg }): Arm64Action => ({ op: 'branch', ipa, reg })),
  });
  return fc
    .array(fc.oneof(...choices), { minLength: 0, maxLength: maxActions })
    .map((actions) => arm64FitToEl(actions, options.start ?? 'el1h'));
}

/**
 * Replaces the actions the EL they run at does not allow (the prediction does not predict them), in a
 * deterministic way that keeps shrinking meaningful: at EL0 a vtimer becomes `udf`, an `eret` becomes
 * `svc`, a PMU access becomes one of CNTPCT_EL0 (trapped to EL1 by CNTKCTL_EL1); an illegal `eret`
 * keeps DAIF masked (an interrupt line may still be pending).
 */
export function arm64FitToEl(actions: readonly Arm64Action[], start: Arm64StartMode): Arm64Action[] {
  const out: Arm64Action[] = [];
  let el = start === 'el0' ? 0 : 1;
  for (const a of actions) {
    let b: Arm64Action = a;
    if (el === 0) {
      if (a.op === 'vtimer') b = { op: 'udf', imm: a.delta };
      else if (a.op === 'eret') b = { op: 'svc', imm: a.daif };
      else if (a.op === 'sysreg' && ARM64_SYSREGS[a.reg ?? 'PMCR_EL0'].el0 === 'none')
        b = { op: 'sysreg', reg: 'CNTPCT_EL0', read: true, rt: a.rt };
    } else if (a.op === 'eret' && a.to === 'illegal') b = { ...a, daif: 15 };
    out.push(b);
    el = arm64ElAfter(el === 0 ? 'el0' : 'el1h', [b])[0]!;
  }
  return out;
}

/**
 * The guest's stage-1 tables for a program: the code page mapped to itself (read-only, executable at
 * EL0 and EL1), and for every page the program touches a page descriptor with attributes drawn here
 * (mostly allowing the access; also read-only, EL1-only, execute-never, the access flag clear, Device
 * memory, or no descriptor at all), aliases mapped to their IPA, and the bad table descriptor when the
 * program uses that region.
 */
export function arm64MmuArb(
  layout: Pick<Arm64Layout, 'code' | 'tables' | 'ipaBits'>,
  shape: Arm64MmuShape,
  actions: readonly Arm64Action[],
): fc.Arbitrary<Arm64MmuConfig> {
  const tables = layout.tables;
  if (!tables) throw new RangeError('an MMU scenario needs a table area in the layout');
  const g = BigInt(shape.granule);
  const bad = badRegion(shape);
  const badSpan = arm64LevelSpan(shape.granule, 2);
  const codePage = layout.code.ipa & ~(g - 1n);
  const aliasBase = 1n << BigInt(layout.ipaBits ?? 36);
  const upperBase = shape.t1sz !== undefined ? (1n << 64n) - (1n << BigInt(64 - shape.t1sz)) : undefined;
  const ipaOf = (va: bigint): bigint =>
    upperBase !== undefined && va >= upperBase ? va - upperBase : va >= aliasBase ? va - aliasBase : va;
  const pages = new Set<bigint>();
  /** Pages a branch fetches from: Normal memory, and executable at EL0 only where EL0 may read. */
  const fetched = new Set<bigint>();
  let usesBad = false;
  for (const a of actions) {
    const addr = a.op === 'ldr' || a.op === 'str' || a.op === 'branch' ? a.ipa : undefined;
    if (addr === undefined) continue;
    if (addr >= bad && addr < bad + badSpan) usesBad = true;
    else pages.add(addr & ~(g - 1n));
    if (a.op === 'branch') fetched.add(addr & ~(g - 1n));
  }
  pages.delete(codePage);
  const list = [...pages].sort((x, y) => (x < y ? -1 : 1));
  const attrs = fc.record({
    kind: fc.oneof(
      { weight: 8, arbitrary: fc.constant('normal' as const) },
      { weight: 2, arbitrary: fc.constant('hole' as const) },
    ),
    ap: fc.oneof({ weight: 4, arbitrary: fc.constant(1 as const) }, fc.constantFrom<0 | 1 | 2 | 3>(0, 2, 3)),
    uxn: fc.boolean(),
    pxn: fc.boolean(),
    af: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    device: fc.oneof(
      { weight: 3, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
  });
  // Pages in one level-2 span may share a block descriptor instead (not the code's span: its page is fixed).
  const span = arm64LevelSpan(shape.granule, 2);
  const spans = [...new Set(list.map((va) => va - (va % span)))];
  const codeSpan = codePage - (codePage % span);
  return fc
    .tuple(
      fc.array(attrs, { minLength: list.length, maxLength: list.length }),
      fc.array(
        fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        {
          minLength: spans.length,
          maxLength: spans.length,
        },
      ),
      fc.integer({ min: 0, max: 15 }),
    )
    .map(([chosen, asBlock, badPick]) => {
      const entries: Arm64S1Entry[] = [
        { va: codePage, level: 3, oa: codePage, ap: 3, uxn: false, pxn: false, af: true, device: false },
      ];
      // EL0 execution from memory EL0 cannot read, and fetches from Device memory, are not predicted.
      const entry = (
        va: bigint,
        level: number,
        pages: bigint[],
        c: (typeof chosen)[number],
      ): Arm64S1Entry => {
        const f = pages.some((p) => fetched.has(p));
        const uxn = c.uxn || (f && (c.ap & 1) === 0);
        return { va, level, oa: ipaOf(va), ap: c.ap, uxn, pxn: c.pxn, af: c.af, device: c.device && !f };
      };
      spans.forEach((base, k) => {
        const inSpan = list.flatMap((va, i) => (va - (va % span) === base ? [{ va, c: chosen[i]! }] : []));
        if (asBlock[k] && base !== codeSpan) {
          const c = inSpan[0]!.c;
          if (c.kind !== 'hole')
            entries.push(
              entry(
                base,
                2,
                inSpan.map((x) => x.va),
                c,
              ),
            );
          return;
        }
        for (const { va, c } of inSpan) if (c.kind !== 'hole') entries.push(entry(va, 3, [va], c));
      });
      const badTables: Arm64S1BadTable[] = [];
      if (usesBad) {
        // The next-level table is an IPA nothing is mapped at (the top of the IPA space, granule aligned).
        const top = (1n << BigInt(layout.ipaBits ?? 36)) - g * BigInt(1 + badPick);
        badTables.push({ va: bad, level: 2, ipa: top });
      }
      return {
        granule: shape.granule,
        t0sz: shape.t0sz,
        t1sz: shape.t1sz ?? 39,
        ttbr1: shape.t1sz !== undefined,
        tableIpa: tables.ipa,
        tableSize: tables.size,
        entries,
        badTables,
      };
    });
}

/** A whole scenario for a layout: mode, MMU, traps, a pending line, program, registers, answer seed, a cancel. */
export function arm64ScenarioArb(layout: Arm64Layout, maxActions = 8): fc.Arbitrary<Arm64Scenario> {
  const regs = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), {
      maxLength: 6,
    })
    .map((pairs) => Object.fromEntries(pairs.map(([r, v]) => [r, v])) as Record<number, bigint>);
  const ipaBits = layout.ipaBits ?? 36;
  const granules = layout.granules ?? [4096, 16384, 65536];
  const shape: fc.Arbitrary<Arm64MmuShape | undefined> =
    layout.tables && granules.length
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          {
            weight: 2,
            arbitrary: fc
              .record({
                granule: fc.constantFrom<Arm64Granule>(...granules),
                t0sz: fc.integer({ min: 16, max: 63 - ipaBits }),
                t1sz: fc.option(fc.integer({ min: 16, max: 64 - ipaBits }), { nil: undefined }),
              })
              .map((s): Arm64MmuShape => (s.t1sz === undefined ? { granule: s.granule, t0sz: s.t0sz } : s)),
          },
        )
      : fc.constant(undefined);
  return fc
    .record({
      start: fc.oneof(
        { weight: 5, arbitrary: fc.constant<Arm64StartMode>('el1h') },
        { weight: 3, arbitrary: fc.constant<Arm64StartMode>('el0') },
        { weight: 1, arbitrary: fc.constant<Arm64StartMode>('el1t') },
      ),
      shape,
      trapDebug: fc.oneof(
        { weight: 2, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      trapDebugRegs: fc.boolean(),
      pending: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constant<'irq' | 'fiq'>('irq') },
        { weight: 1, arbitrary: fc.constant<'irq' | 'fiq'>('fiq') },
      ),
    })
    .chain((p) =>
      fc
        .record({
          actions: arm64ProgramArb(layout, maxActions, {
            start: p.start,
            ...(p.shape ? { mmu: p.shape } : {}),
          }),
          regs,
          answerSeed: fc.integer({ min: 0, max: 0xffff_ffff }),
          cancelFirst: fc.oneof(
            { weight: 4, arbitrary: fc.constant(false) },
            { weight: 1, arbitrary: fc.constant(true) },
          ),
        })
        .chain((s) =>
          (p.shape ? arm64MmuArb(layout, p.shape, s.actions) : fc.constant(undefined)).map(
            (mmu): Arm64Scenario => ({
              layout,
              ...s,
              start: p.start,
              trapDebug: p.trapDebug,
              trapDebugRegs: p.trapDebugRegs,
              ...(p.pending ? { pending: p.pending } : {}),
              ...(mmu ? { mmu } : {}),
            }),
          ),
        ),
    );
}

/** The prediction for a scenario. `initialByte` gives guest RAM where known (default: unknown). */
export function predictArm64Scenario(
  scenario: Arm64Scenario,
  initialByte?: (ipa: bigint) => number | undefined,
  exactClock = true,
): Arm64Prediction {
  const seed = scenario.answerSeed ?? 0;
  if (scenario.freshCpsr && (scenario.start ?? 'el1h') !== 'el0')
    throw new RangeError('a fresh CPSR is EL0t: freshCpsr needs start el0');
  const tables = scenario.mmu ? buildArm64Tables(scenario.mmu) : undefined;
  const tableArea = scenario.layout.tables;
  const memory = (ipa: bigint): number | undefined => {
    if (tables && tableArea && ipa >= tableArea.ipa && ipa < tableArea.ipa + BigInt(tables.bytes.length))
      return tables.bytes[Number(ipa - tableArea.ipa)];
    return initialByte?.(ipa);
  };
  return predictArm64({
    actions: scenario.actions,
    codeIpa: scenario.layout.code.ipa,
    ...(scenario.regs ? { initialRegs: scenario.regs } : {}),
    lookup: arm64LayoutLookup(scenario.layout),
    memory,
    answer: (i) => arm64ScenarioAnswer(seed, i),
    ...(scenario.cancelFirst ? { cancelFirst: true } : {}),
    exactClock,
    start: scenario.start ?? 'el1h',
    ...(scenario.mmu ? { mmu: scenario.mmu } : {}),
    trapDebug: scenario.trapDebug ?? true,
    trapDebugRegs: scenario.trapDebugRegs ?? false,
    ...(scenario.pending === 'irq' ? { irq: true } : scenario.pending === 'fiq' ? { fiq: true } : {}),
    ...(scenario.layout.idst !== undefined ? { idst: scenario.layout.idst } : {}),
    ...(scenario.layout.lse2 !== undefined ? { lse2: scenario.layout.lse2 } : {}),
  });
}

/**
 * The scenario without what a backend declares it cannot show (`Deviation.arm64ExitKinds`): while the
 * prediction has an exit of such a kind, the action that makes it is dropped (for a kind before the
 * first action: the cancel or the pending line that makes it), and the rest predicted again. The
 * scenario itself when nothing is declared or the program is outside what the spec predicts (the
 * runner then says so); undefined when the kind cannot be taken out (the end marker's).
 */
export function arm64ScenarioFor(
  caps: Capabilities,
  scenario: Arm64Scenario,
  initialByte?: (ipa: bigint) => number | undefined,
): Arm64Scenario | undefined {
  if (!caps.deviations.some((d) => d.arm64ExitKinds?.length)) return scenario;
  let s = scenario;
  for (;;) {
    let p: Arm64Prediction;
    try {
      p = predictArm64Scenario(s, initialByte);
    } catch (e) {
      if (e instanceof RangeError) return s;
      throw e;
    }
    const bad = p.exits.find((e) => arm64KindDeviation(caps, e.kind) !== undefined);
    if (!bad) return s;
    if (bad.action >= 0 && bad.action < s.actions.length)
      s = { ...s, actions: s.actions.filter((_, i) => i !== bad.action) };
    else if (bad.action === -1 && bad.kind === 'arm64.canceled' && s.cancelFirst)
      s = { ...s, cancelFirst: false };
    else if (bad.action === -1 && s.pending !== undefined) {
      const { pending: _, ...rest } = s;
      s = rest;
    } else return undefined;
  }
}

/** One difference between the prediction and what the backend did. */
export interface Arm64Mismatch {
  /** Index of the predicted exit (-1: setup; `exits.length`: after the end, final registers and memory). */
  readonly exitIndex: number;
  /** What differs: `reason`, `syndrome`, `virtual_address`, `physical_address`, `HV_REG_PC`, `HV_REG_X5`, `HV_SYS_REG_ESR_EL1`, `written`, `ret of <call>`, `memory@0x…`. */
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

/** What running a scenario on a backend found. */
export interface Arm64ScenarioReport {
  readonly ok: boolean;
  readonly mismatches: readonly Arm64Mismatch[];
  /** Exit kinds (`arm64.dabt.read.unmapped`, `arm64.vtimer`, …) that occurred and matched in every compared field. */
  readonly exitsCovered: readonly string[];
  /** Set when the scenario was not run or only partly judged, and why. */
  readonly unsupported?: string;
  /** Remarks that are not failures (e.g. a vtimer exit that real hardware delivered elsewhere or not before the end). */
  readonly notes: readonly string[];
  /** Absent when the program is outside what the spec predicts (`unsupported` says why). */
  readonly prediction?: Arm64Prediction;
}

/** Options of {@link runArm64Scenario}. */
export interface Arm64RunOptions {
  /**
   * Compare everything the spec predicts exactly: the fault level, the low 12 bits of
   * `physical_address`, the WFx CV/COND bits and the position of VTIMER_ACTIVATED exits (the
   * model's documented clock). Default: true on the `model` backend, false elsewhere, where those
   * are [U] or hardware-timed (predict.ts).
   */
  readonly exact?: boolean;
  /** Give up after this many runs beyond the predicted number of exits (default 16). */
  readonly maxExtraRuns?: number;
}

/** Reads guest RAM through the mappings' host buffers, a page at a time (undefined where no buffer is known). */
export function arm64HostByteReader(
  backend: Arm64Backend,
  layout: Arm64Layout,
): (ipa: bigint) => number | undefined {
  const cache = new Map<bigint, Uint8Array | null>();
  return (ipa) => {
    const page = ipa & ~(PAGE - 1n);
    let bytes = cache.get(page);
    if (bytes === undefined) {
      const m = layout.mappings.find((x) => page >= x.ipa && page < x.ipa + x.size);
      bytes = m?.uva ? backend.host_read(m.uva.mem, m.uva.offset + Number(page - m.ipa), Number(PAGE)) : null;
      cache.set(page, bytes);
    }
    return bytes ? bytes[Number(ipa - page)] : undefined;
  };
}

const REASON_NAMES = Object.fromEntries(Object.entries(HV_EXIT_REASON).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;
const reasonName = (r: number): string => REASON_NAMES[r] ?? String(r);
const regName = (r: number): string =>
  r === HV_REG.HV_REG_PC ? 'HV_REG_PC' : r === HV_REG.HV_REG_CPSR ? 'HV_REG_CPSR' : `HV_REG_X${r}`;
const sysRegName = (r: number): string =>
  (Object.entries(HV_SYS_REG) as [string, number][]).find(([, v]) => v === r)?.[0] ?? hex(r);

/**
 * The PSTATE bits (SPSR layout) of the Armv8.0 core the spec describes: NZCV, SS, IL, DAIF, M[4:0].
 * A real core has more (PAN, which exception entry sets while SCTLR_EL1.SPAN = 0; SSBS, DIT, UAO, TCO,
 * BTYPE): on hardware CPSR and SPSR_EL1 are compared on these bits only [U].
 */
export const ARM64_PSTATE_V80_MASK = 0xf030_03dfn;

/** The EL1 registers a report is checked on, in the order a VMM reads them. */
const REPORT_REGS = [
  ['esr', HV_SYS_REG.HV_SYS_REG_ESR_EL1],
  ['elr', HV_SYS_REG.HV_SYS_REG_ELR_EL1],
  ['spsr', HV_SYS_REG.HV_SYS_REG_SPSR_EL1],
  ['far', HV_SYS_REG.HV_SYS_REG_FAR_EL1],
] as const;

/** The value and mask of one EL1 register of a report, or undefined when it is not checked. */
function reportExpectation(
  e: Arm64PredictedExit,
  which: (typeof REPORT_REGS)[number][0],
  exact: boolean,
): { value: bigint; mask: bigint } | undefined {
  const g = e.guest;
  if (!g) return undefined;
  const all = (1n << 64n) - 1n;
  switch (which) {
    case 'esr':
      return g.esr ? { value: g.esr.value, mask: exact ? all : g.esr.mask } : undefined;
    case 'elr':
      return { value: g.elr, mask: all };
    case 'spsr':
      return { value: g.spsr, mask: exact ? all : ARM64_PSTATE_V80_MASK };
    default:
      return g.far !== undefined ? { value: g.far, mask: all } : undefined;
  }
}

/** The setup a VMM does before the first run, as (description, register writes) — shared by the runner and the trace. */
function setupWrites(
  scenario: Arm64Scenario,
  p: Arm64Prediction,
): {
  regs: { reg: number; value: bigint }[];
  sys: { reg: number; value: bigint }[];
  tables?: { bytes: Uint8Array };
} {
  const { code } = scenario.layout;
  const setup = scenario.mmu ? buildArm64Tables(scenario.mmu) : undefined;
  const S = HV_SYS_REG;
  const regs: { reg: number; value: bigint }[] = [{ reg: HV_REG.HV_REG_PC, value: code.ipa }];
  if (!scenario.freshCpsr) regs.push({ reg: HV_REG.HV_REG_CPSR, value: BigInt(p.startCpsr) });
  const sys = [
    { reg: S.HV_SYS_REG_SCTLR_EL1, value: setup ? setup.sctlr : 0n },
    { reg: S.HV_SYS_REG_TCR_EL1, value: setup ? setup.tcr : 0n },
    ...(setup
      ? [
          { reg: S.HV_SYS_REG_MAIR_EL1, value: setup.mair },
          { reg: S.HV_SYS_REG_TTBR0_EL1, value: setup.ttbr0 },
          { reg: S.HV_SYS_REG_TTBR1_EL1, value: setup.ttbr1 },
        ]
      : []),
    { reg: S.HV_SYS_REG_VBAR_EL1, value: p.program.vbar },
    { reg: S.HV_SYS_REG_CNTKCTL_EL1, value: 0n },
    { reg: S.HV_SYS_REG_CNTV_CTL_EL0, value: 0n },
    // Self-hosted debug off: MDSCR_EL1.SS = 0 (no software step) and MDE = 0 (no breakpoint or
    // watchpoint, whatever DBGBCR/DBGWCR hold) — Arm ARM D2, "Software Step exceptions" and
    // AArch64.CheckDebug. With trap-debug-exceptions on, MDCR_EL2.TDE enables them from EL0/EL1
    // whatever PSTATE.D, so a value left by earlier calls would add exits the program does not make.
    { reg: S.HV_SYS_REG_MDSCR_EL1, value: 0n },
  ];
  return { regs, sys, ...(setup ? { tables: { bytes: setup.bytes } } : {}) };
}

/**
 * Runs a scenario on a backend as a VMM does: writes the program and its vectors into the code buffer
 * (and the stage-1 tables into the table area), sets PC, CPSR (unless `freshCpsr`), SCTLR_EL1, TCR_EL1,
 * MAIR/TTBR0/TTBR1_EL1 with the MMU, VBAR_EL1, CNTKCTL_EL1 = 0, CNTV_CTL_EL0 = 0, MDSCR_EL1 = 0, the vtimer unmasked,
 * the debug traps, both interrupt lines and the initial registers; then loops `hv_vcpu_run` → compare the
 * exit record (reason, syndrome under the prediction's mask, FAR, IPA), PC and, for a report from the
 * guest's vectors, ESR/ELR/SPSR/FAR_EL1 and CPSR with the prediction → respond as vmm.ts says → run
 * again, until the end marker; then compares the registers and RAM the prediction knows. Thread `t` must
 * own `vcpu`; the caller has made the layout's mappings. Comparison stops at the first exit whose
 * reason, syndrome, address, PC or reported state differs (what follows would be noise).
 */
export function runArm64Scenario(
  backend: Arm64Backend,
  t: ThreadId,
  vcpu: Vcpu,
  scenario: Arm64Scenario,
  options: Arm64RunOptions = {},
): Arm64ScenarioReport {
  const mismatches: Arm64Mismatch[] = [];
  const covered = new Set<string>();
  const notes: string[] = [];
  const exact = options.exact ?? backend.capabilities.backend === 'model';
  const seed = scenario.answerSeed ?? 0;
  let prediction: Arm64Prediction;
  try {
    prediction = predictArm64Scenario(scenario, arm64HostByteReader(backend, scenario.layout), exact);
  } catch (e) {
    // A program outside what the spec predicts (the generator rarely makes one): judged by nobody.
    if (!(e instanceof RangeError)) throw e;
    return { ok: true, mismatches, exitsCovered: [], unsupported: `not predicted: ${e.message}`, notes };
  }
  const report = (unsupported?: string): Arm64ScenarioReport => ({
    ok: mismatches.length === 0,
    mismatches,
    exitsCovered: [...covered].sort(),
    ...(unsupported ? { unsupported } : {}),
    notes,
    prediction,
  });
  if (!backend.capabilities.guestExecution)
    return report(`backend ${backend.capabilities.backend} does not execute guest code`);
  const lookup = arm64LayoutLookup(scenario.layout);
  const touched = new Set<number>([HV_MEMORY.READ | HV_MEMORY.EXEC]);
  for (const a of scenario.actions) {
    if (a.op !== 'ldr' && a.op !== 'str' && a.op !== 'branch') continue;
    const t = arm64Stage1(scenario.mmu, a.ipa, 'read', 1);
    const m = t.kind === 'ok' ? lookup(t.ipa) : undefined;
    if (m) touched.add(m.flags & 7);
  }
  const notEnforced = [...touched].filter((f) => !backend.capabilities.enforcedPermissions.includes(f));
  if (notEnforced.length)
    return report(
      `the program touches memory mapped with flags ${notEnforced.join(', ')}, which backend ${backend.capabilities.backend} does not enforce`,
    );

  const call = (k: number, what: string, ret: number): boolean => {
    if (ret === HV.HV_SUCCESS) return true;
    mismatches.push({
      exitIndex: k,
      field: `ret of ${what}`,
      expected: 'HV_SUCCESS',
      got: hvReturnName(ret),
    });
    return false;
  };
  const getReg = (k: number, r: number): bigint | undefined => {
    const res = backend.hv_vcpu_get_reg(t, vcpu, r);
    return call(k, `hv_vcpu_get_reg(${regName(r)})`, res.ret) ? (res.value ?? 0n) : undefined;
  };
  const getSysReg = (k: number, r: number): bigint | undefined => {
    const res = backend.hv_vcpu_get_sys_reg(t, vcpu, r);
    return call(k, `hv_vcpu_get_sys_reg(${sysRegName(r)})`, res.ret) ? (res.value ?? 0n) : undefined;
  };
  const { code, tables } = scenario.layout;
  const writes = setupWrites(scenario, prediction);
  backend.host_write(code.uva.mem, code.uva.offset, prediction.program.bytes);
  backend.host_write(
    code.uva.mem,
    code.uva.offset + Number(prediction.program.vbar - code.ipa),
    prediction.program.vectors,
  );
  if (writes.tables && tables) backend.host_write(tables.uva.mem, tables.uva.offset, writes.tables.bytes);
  const setup: [string, () => number][] = [
    ...writes.regs.map((s): [string, () => number] => [
      `hv_vcpu_set_reg(${regName(s.reg)})`,
      () => backend.hv_vcpu_set_reg(t, vcpu, s.reg, s.value).ret,
    ]),
    ...writes.sys.map((s): [string, () => number] => [
      `hv_vcpu_set_sys_reg(${sysRegName(s.reg)})`,
      () => backend.hv_vcpu_set_sys_reg(t, vcpu, s.reg, s.value).ret,
    ]),
    ['hv_vcpu_set_vtimer_mask', () => backend.hv_vcpu_set_vtimer_mask(t, vcpu, false).ret],
    [
      'hv_vcpu_set_trap_debug_exceptions',
      () => backend.hv_vcpu_set_trap_debug_exceptions(t, vcpu, scenario.trapDebug ?? true).ret,
    ],
    [
      'hv_vcpu_set_trap_debug_reg_accesses',
      () => backend.hv_vcpu_set_trap_debug_reg_accesses(t, vcpu, scenario.trapDebugRegs ?? false).ret,
    ],
    [
      'hv_vcpu_set_pending_interrupt(IRQ)',
      () =>
        backend.hv_vcpu_set_pending_interrupt(
          t,
          vcpu,
          HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_IRQ,
          scenario.pending === 'irq',
        ).ret,
    ],
    [
      'hv_vcpu_set_pending_interrupt(FIQ)',
      () =>
        backend.hv_vcpu_set_pending_interrupt(
          t,
          vcpu,
          HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_FIQ,
          scenario.pending === 'fiq',
        ).ret,
    ],
    ...Object.entries(scenario.regs ?? {}).map(([r, v]): [string, () => number] => [
      `hv_vcpu_set_reg(${regName(Number(r))})`,
      () => backend.hv_vcpu_set_reg(t, vcpu, Number(r), v).ret,
    ]),
  ];
  for (const [what, f] of setup) if (!call(-1, what, f())) return report();
  if (scenario.cancelFirst && !call(-1, 'hv_vcpus_exit', backend.hv_vcpus_exit(t, [vcpu], 1).ret))
    return report();

  const expected = prediction.exits;
  let k = 0;
  const maxRuns = expected.length + (options.maxExtraRuns ?? 16);
  for (let runs = 0; runs < maxRuns; runs++) {
    const r = backend.hv_vcpu_run(t, vcpu);
    if (!call(k, 'hv_vcpu_run', r.ret)) return report();
    const exit = r.value as Arm64Exit;
    const pc = getReg(k, HV_REG.HV_REG_PC);
    if (pc === undefined) return report();
    // Hardware times the vtimer itself: in inexact mode a VTIMER_ACTIVATED exit may come anywhere, and
    // a predicted one may come later or not before the end.
    if (!exact) {
      if (
        exit.reason === HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED &&
        expected[k]?.kind !== 'arm64.vtimer'
      ) {
        covered.add('arm64.vtimer');
        notes.push(`VTIMER_ACTIVATED before predicted exit ${k}`);
        if (!respondVtimer(k)) return report();
        continue;
      }
      while (
        expected[k]?.kind === 'arm64.vtimer' &&
        exit.reason !== HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED
      ) {
        notes.push(`predicted VTIMER_ACTIVATED (exit ${k}) not seen there`);
        k++;
      }
    }
    const e = expected[k];
    if (!e) {
      mismatches.push({
        exitIndex: k,
        field: 'reason',
        expected: 'no further exit (the end marker was predicted)',
        got: reasonName(exit.reason),
      });
      return report();
    }
    if (!compareExit(k, e, exit, pc)) return report();
    const decision = arm64VmmStep(exit, {
      pc,
      reg: (n) => getReg(k, n),
      sysReg: (n) => getSysReg(k, n),
      answer: (_q: Arm64VmmQuery) => arm64ScenarioAnswer(seed, e.index),
      ...(e.resume !== undefined ? { resume: e.resume } : {}),
    });
    if (decision.kind === 'unhandled') {
      mismatches.push({ exitIndex: k, field: 'vmm', expected: e.kind, got: `unhandled: ${decision.reason}` });
      return report();
    }
    const before = mismatches.length;
    const want = e.vmm.written;
    if (want && want.value !== undefined && decision.written?.value !== want.value) {
      mismatches.push({
        exitIndex: k,
        field: 'written',
        expected: hex(want.value),
        got: decision.written?.value === undefined ? 'unreadable' : hex(decision.written.value),
      });
    }
    if (mismatches.length === before) covered.add(e.kind);
    if (decision.done) break;
    for (const s of decision.setRegs)
      if (
        !call(k, `hv_vcpu_set_reg(${regName(s.reg)})`, backend.hv_vcpu_set_reg(t, vcpu, s.reg, s.value).ret)
      )
        return report();
    for (const s of decision.setSysRegs)
      if (
        !call(
          k,
          `hv_vcpu_set_sys_reg(${sysRegName(s.reg)})`,
          backend.hv_vcpu_set_sys_reg(t, vcpu, s.reg, s.value).ret,
        )
      )
        return report();
    if (
      decision.vtimerUnmask &&
      !call(k, 'hv_vcpu_set_vtimer_mask', backend.hv_vcpu_set_vtimer_mask(t, vcpu, false).ret)
    )
      return report();
    k++;
  }
  if (k >= expected.length || expected[k]?.kind !== 'arm64.end') {
    mismatches.push({
      exitIndex: k,
      field: 'reason',
      expected: 'the end marker',
      got: `no end after ${maxRuns} runs`,
    });
    return report();
  }
  covered.delete('arm64.end');
  if (prediction.program.endsAtEl0) covered.add('arm64.end');

  // Final registers and RAM the prediction knows.
  const after = expected.length;
  prediction.finalRegs.forEach((v, n) => {
    if (v === undefined) return;
    const got = getReg(after, n);
    if (got !== undefined && got !== v)
      mismatches.push({ exitIndex: after, field: regName(n), expected: hex(v), got: hex(got) });
  });
  for (const [ipa, byte] of prediction.ramWrites) {
    if (byte === undefined) continue;
    const m = scenario.layout.mappings.find((x) => ipa >= x.ipa && ipa < x.ipa + x.size);
    if (!m?.uva) continue;
    const got = backend.host_read(m.uva.mem, m.uva.offset + Number(ipa - m.ipa), 1)[0]!;
    if (got !== byte)
      mismatches.push({ exitIndex: after, field: `memory@${hex(ipa)}`, expected: hex(byte), got: hex(got) });
  }
  return report();

  function respondVtimer(at: number): boolean {
    const d = arm64VmmStep(
      {
        reason: HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED,
        exception: { syndrome: 0n, virtual_address: 0n, physical_address: 0n },
      },
      { pc: 0n, reg: () => undefined, answer: () => 0n },
    );
    for (const s of d.setSysRegs)
      if (
        !call(
          at,
          `hv_vcpu_set_sys_reg(${sysRegName(s.reg)})`,
          backend.hv_vcpu_set_sys_reg(t, vcpu, s.reg, s.value).ret,
        )
      )
        return false;
    return call(at, 'hv_vcpu_set_vtimer_mask', backend.hv_vcpu_set_vtimer_mask(t, vcpu, false).ret);
  }

  function compareExit(at: number, e: Arm64PredictedExit, exit: Arm64Exit, pc: bigint): boolean {
    const all = (1n << 64n) - 1n;
    const want: Arm64ExitExpectation = { reason: { value: BigInt(e.reason), mask: all } };
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      want.syndrome = { value: e.syndrome, mask: exact ? 0xffff_ffffn : e.syndromeMask };
      if (e.virtual_address !== undefined) want.virtual_address = { value: e.virtual_address, mask: all };
      if (e.physical_address !== undefined)
        want.physical_address = {
          value: e.physical_address,
          mask: exact ? all : BigInt.asUintN(64, e.physicalAddressMask ?? all),
        };
    }
    // The exit judge compares the reason first; a different reason leaves nothing else to judge.
    const found = judgeArm64Exit(want, exit);
    if (found[0]?.field === 'exit.reason') {
      mismatches.push({ exitIndex: at, ...found[0], expected: `${found[0].expected} (${e.kind})` });
      return false;
    }
    for (const m of found) mismatches.push({ exitIndex: at, ...m });
    const before = mismatches.length - found.length;
    // A VTIMER_ACTIVATED exit's PC is the model's clock; on hardware it is wherever the interrupt landed.
    if ((exact || e.kind !== 'arm64.vtimer') && pc !== e.pc)
      mismatches.push({ exitIndex: at, field: 'HV_REG_PC', expected: hex(e.pc), got: hex(pc) });
    // A report from the guest's vectors: the exception state the guest saw, as the VMM reads it back.
    if (e.guest && mismatches.length === before) {
      for (const [which, reg] of REPORT_REGS) {
        const want = reportExpectation(e, which, exact);
        if (!want) continue;
        const got = getSysReg(at, reg);
        if (got === undefined) return false;
        if ((got & want.mask) !== (want.value & want.mask))
          mismatches.push({
            exitIndex: at,
            field: sysRegName(reg),
            expected:
              want.mask === (1n << 64n) - 1n
                ? hex(want.value)
                : `${hex(want.value)} under mask ${hex(want.mask)}`,
            got: hex(got),
          });
      }
      const cpsr = getReg(at, HV_REG.HV_REG_CPSR);
      if (cpsr === undefined) return false;
      const cm = exact ? (1n << 64n) - 1n : ARM64_PSTATE_V80_MASK;
      if ((cpsr & cm) !== (e.guest.cpsr & cm))
        mismatches.push({
          exitIndex: at,
          field: 'HV_REG_CPSR',
          expected: exact ? hex(e.guest.cpsr) : `${hex(e.guest.cpsr)} under mask ${hex(cm)}`,
          got: hex(cpsr),
        });
    }
    return mismatches.length === before;
  }
}

/** Options of {@link arm64ScenarioTraceSteps}. */
export interface Arm64TraceOptions {
  /** The `$name` the vCPU is bound to, without `$` (default `cpu`). */
  readonly vcpu?: string;
  /** The logical thread owning the vCPU (default 0). */
  readonly thread?: ThreadId;
  /** The `host_alloc` name of a host buffer. */
  readonly memName: (mem: HostMemory) => string;
  /** Initial guest RAM (default: zero where a mapping has a host buffer, as fresh buffers are). */
  readonly initialByte?: (ipa: bigint) => number | undefined;
  /** Expectations as on hardware (masks for the [U] fields) rather than the model's exact values. Default false. */
  readonly masked?: boolean;
}

/**
 * The scenario as trace steps (DESIGN.md trace format): write the program, its vectors and the tables;
 * the setup writes of {@link runArm64Scenario}; then per exit `hv_vcpu_run` with the predicted exit
 * record, `hv_vcpu_get_reg(HV_REG_PC)`, for a report the EL1 registers and CPSR, the value a store or
 * MSR wrote (`hv_vcpu_get_reg` of Rt), and the VMM's response as explicit `hv_vcpu_set_reg` /
 * `hv_vcpu_set_sys_reg` / `hv_vcpu_set_vtimer_mask` steps; finally reads of the registers and RAM the
 * prediction knows. The caller's steps before these create the VM, the buffers, the mappings and the vCPU.
 */
export function arm64ScenarioTraceSteps(scenario: Arm64Scenario, options: Arm64TraceOptions): Step[] {
  const lookupBuf = (ipa: bigint): Arm64LayoutMapping | undefined =>
    scenario.layout.mappings.find((m) => ipa >= m.ipa && ipa < m.ipa + m.size && m.uva);
  const p = predictArm64Scenario(
    scenario,
    options.initialByte ?? ((ipa) => (lookupBuf(ipa) ? 0 : undefined)),
    !options.masked,
  );
  const vcpu = `$${options.vcpu ?? 'cpu'}`;
  const thread = options.thread ?? 0;
  const on = (s: Omit<Step, 'thread'>): Step => (thread ? { thread, ...s } : s);
  const ok = { ret: 'HV_SUCCESS' } as const;
  const setReg = (reg: string, value: bigint): Step =>
    on({ call: 'hv_vcpu_set_reg', args: { vcpu, reg, value: hex(value) }, expect: ok });
  const getReg = (reg: string, value: bigint): Step =>
    on({ call: 'hv_vcpu_get_reg', args: { vcpu, reg }, expect: { ret: 'HV_SUCCESS', value: hex(value) } });
  const setSys = (reg: number, value: bigint): Step =>
    on({ call: 'hv_vcpu_set_sys_reg', args: { vcpu, reg: sysRegName(reg), value: hex(value) }, expect: ok });
  const { code, tables } = scenario.layout;
  const writes = setupWrites(scenario, p);
  const steps: Step[] = [
    {
      call: 'host_write',
      args: { mem: options.memName(code.uva.mem), offset: code.uva.offset, bytes: toHex(p.program.bytes) },
    },
    {
      call: 'host_write',
      args: {
        mem: options.memName(code.uva.mem),
        offset: code.uva.offset + Number(p.program.vbar - code.ipa),
        bytes: toHex(p.program.vectors),
      },
    },
  ];
  if (writes.tables && tables)
    steps.push({
      call: 'host_write',
      args: {
        mem: options.memName(tables.uva.mem),
        offset: tables.uva.offset,
        bytes: toHex(writes.tables.bytes),
      },
    });
  for (const s of writes.regs) steps.push(setReg(regName(s.reg), s.value));
  for (const s of writes.sys) steps.push(setSys(s.reg, s.value));
  steps.push(
    on({ call: 'hv_vcpu_set_vtimer_mask', args: { vcpu, vtimer_is_masked: false }, expect: ok }),
    on({
      call: 'hv_vcpu_set_trap_debug_exceptions',
      args: { vcpu, value: scenario.trapDebug ?? true },
      expect: ok,
    }),
    on({
      call: 'hv_vcpu_set_trap_debug_reg_accesses',
      args: { vcpu, value: scenario.trapDebugRegs ?? false },
      expect: ok,
    }),
    on({
      call: 'hv_vcpu_set_pending_interrupt',
      args: { vcpu, type: 'HV_INTERRUPT_TYPE_IRQ', pending: scenario.pending === 'irq' },
      expect: ok,
    }),
    on({
      call: 'hv_vcpu_set_pending_interrupt',
      args: { vcpu, type: 'HV_INTERRUPT_TYPE_FIQ', pending: scenario.pending === 'fiq' },
      expect: ok,
    }),
  );
  for (const [r, v] of Object.entries(scenario.regs ?? {})) steps.push(setReg(regName(Number(r)), v));
  if (scenario.cancelFirst)
    steps.push({ call: 'hv_vcpus_exit', args: { vcpus: [vcpu], vcpu_count: 1 }, expect: ok });
  steps.push(...arm64ExitSteps(p.exits, { vcpu, thread, masked: options.masked ?? false }));
  p.finalRegs.forEach((v, n) => {
    // The vtimer scratch registers hold counter-derived values only in the model's clock.
    if (v !== undefined && !(options.masked && (ARM64_VTIMER_SCRATCH as readonly number[]).includes(n)))
      steps.push(getReg(regName(n), v));
  });
  // RAM the guest wrote, as runs of consecutive known bytes within one host buffer.
  const known = [...p.ramWrites]
    .filter(([ipa, b]) => b !== undefined && lookupBuf(ipa))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < known.length; ) {
    const [start] = known[i]!;
    const m = lookupBuf(start)!;
    const bytes: number[] = [];
    while (i < known.length && known[i]![0] === start + BigInt(bytes.length) && known[i]![0] < m.ipa + m.size)
      bytes.push(known[i++]![1]!);
    steps.push({
      call: 'host_read',
      args: {
        mem: options.memName(m.uva!.mem),
        offset: m.uva!.offset + Number(start - m.ipa),
        size: bytes.length,
      },
      expect: { bytes: toHex(Uint8Array.from(bytes)) },
    });
  }
  return steps;
}

/**
 * Trace steps for predicted exits, as a VMM handles each: the run with the exit record the spec
 * predicts, PC, for a report from the vectors ESR/ELR/SPSR/FAR_EL1 and CPSR, the value a store or MSR
 * wrote (read from Rt, as a VMM does), then the VMM's own register writes. `masked` puts the [U] masks
 * in the expectations (hardware); otherwise the model's exact values. With `resume: false` the VMM's
 * writes are left out (the caller adds steps of its own in between).
 */
export function arm64ExitSteps(
  exits: readonly Arm64PredictedExit[],
  o: { vcpu: string; thread: ThreadId; masked: boolean; pc?: boolean; resume?: boolean },
): Step[] {
  const on = (s: Omit<Step, 'thread'>): Step => (o.thread ? { thread: o.thread, ...s } : s);
  const ok = { ret: 'HV_SUCCESS' } as const;
  const vcpu = o.vcpu;
  const steps: Step[] = [];
  for (const e of exits) {
    const exit: Record<string, Step['args'][string]> = { reason: REASON_NAMES[e.reason] ?? e.reason };
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      exit.syndrome =
        o.masked && e.syndromeMask !== 0xffff_ffffn
          ? { value: hex(e.syndrome), mask: hex(e.syndromeMask) }
          : { value: hex(e.syndrome), mask: '0xffffffff' };
      if (e.virtual_address !== undefined) exit.virtual_address = hex(e.virtual_address);
      if (e.physical_address !== undefined) {
        exit.physical_address = o.masked
          ? { value: hex(e.physical_address), mask: hex(BigInt.asUintN(64, e.physicalAddressMask ?? -1n)) }
          : hex(e.physical_address);
      }
    }
    steps.push(
      on({ call: 'hv_vcpu_run', args: { vcpu }, expect: { ret: 'HV_SUCCESS', exit, kind: e.kind } }),
    );
    if (o.pc !== false && !(o.masked && e.kind === 'arm64.vtimer'))
      steps.push(
        on({
          call: 'hv_vcpu_get_reg',
          args: { vcpu, reg: 'HV_REG_PC' },
          expect: { ret: 'HV_SUCCESS', value: hex(e.pc) },
        }),
      );
    if (e.guest) {
      for (const [which, reg] of REPORT_REGS) {
        const want = reportExpectation(e, which, !o.masked);
        if (!want) continue;
        steps.push(
          on({
            call: 'hv_vcpu_get_sys_reg',
            args: { vcpu, reg: sysRegName(reg) },
            expect: {
              ret: 'HV_SUCCESS',
              value:
                want.mask === (1n << 64n) - 1n
                  ? hex(want.value)
                  : { value: hex(want.value), mask: hex(want.mask) },
            },
          }),
        );
      }
      steps.push(
        on({
          call: 'hv_vcpu_get_reg',
          args: { vcpu, reg: 'HV_REG_CPSR' },
          expect: {
            ret: 'HV_SUCCESS',
            value: o.masked
              ? { value: hex(e.guest.cpsr), mask: hex(ARM64_PSTATE_V80_MASK) }
              : hex(e.guest.cpsr),
          },
        }),
      );
    }
    const w = e.vmm.written;
    const d = writtenRt(e);
    if (w?.value !== undefined && d !== undefined && d !== 31) {
      // What the guest wrote is in Rt; a VMM reads it from there.
      steps.push(
        on({
          call: 'hv_vcpu_get_reg',
          args: { vcpu, reg: regName(d) },
          expect: {
            ret: 'HV_SUCCESS',
            value: { value: hex(w.value), mask: hex((1n << BigInt(w.size * 8)) - 1n) },
          },
        }),
      );
    }
    if (o.resume === false) continue;
    for (const s of e.vmm.setSysRegs)
      steps.push(
        on({
          call: 'hv_vcpu_set_sys_reg',
          args: { vcpu, reg: sysRegName(s.reg), value: hex(s.value) },
          expect: ok,
        }),
      );
    if (e.vmm.vtimerUnmask)
      steps.push(
        on({ call: 'hv_vcpu_set_vtimer_mask', args: { vcpu, vtimer_is_masked: false }, expect: ok }),
      );
    for (const s of e.vmm.setRegs)
      steps.push(
        on({ call: 'hv_vcpu_set_reg', args: { vcpu, reg: regName(s.reg), value: hex(s.value) }, expect: ok }),
      );
  }
  return steps;
}

/** Rt of a predicted data-abort or sysreg exit, from its syndrome. */
function writtenRt(e: Arm64PredictedExit): number | undefined {
  const iss = Number(e.syndrome & 0x1ffffffn);
  if (e.kind.startsWith('arm64.dabt')) return (iss >>> 16) & 0x1f;
  if (e.kind.startsWith('arm64.sysreg')) return (iss >>> 5) & 0x1f;
  return undefined;
}
