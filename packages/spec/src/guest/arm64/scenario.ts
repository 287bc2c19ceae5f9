/**
 * What the conformance harness needs to run generated arm64 guest programs on any backend: an
 * arbitrary of short programs biased towards every exit kind, a VMM loop that runs a program and
 * compares each exit with the spec's prediction, and the same scenario as trace steps so that a
 * counterexample is a replayable trace. Mirrors the x86 scenario module.
 * @module
 */
import fc from 'fast-check';
import type { Arm64Backend, Arm64Exit, HostMemory, ThreadId, Uva, Vcpu } from '../../backend.js';
import type { Step } from '../../trace/types.js';
import { CPSR_EL1H_DAIF, HV_EXIT_REASON, HV_REG, HV_SYS_REG } from '../../vocabulary/arm64.js';
import { HV_MEMORY } from '../../vocabulary/memory.js';
import { HV, hvReturnName } from '../../vocabulary/returns.js';
import {
  ARM64_END_MARKER_IMM,
  ARM64_VTIMER_SCRATCH,
  type Arm64AccessSize,
  type Arm64Action,
} from './actions.js';
import { type Arm64PredictedExit, type Arm64Prediction, predictArm64 } from './predict.js';
import { type Arm64VmmQuery, arm64VmmStep } from './vmm.js';

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
  /** Where the program goes: inside a mapping with EXEC; `uva` is where its bytes are written. */
  readonly code: { readonly ipa: bigint; readonly size: number; readonly uva: Uva };
  /** IPA size in bits, for generating unmapped addresses (default 36, hvf-facts.md §2.3 [R]). */
  readonly ipaBits?: number;
}

/** A program, its initial registers, the VMM's answers and the memory it runs in. */
export interface Arm64Scenario {
  readonly layout: Arm64Layout;
  readonly actions: readonly Arm64Action[];
  /** X registers set before the first run; others are left as they are (and unknown to the prediction). */
  readonly regs?: Readonly<Record<number, bigint>>;
  /** Seed of the VMM's answers to MMIO loads and trapped MRS (see {@link arm64ScenarioAnswer}). */
  readonly answerSeed?: number;
  /** Call hv_vcpus_exit before the first run, so the first exit is CANCELED (hvf-facts.md §2.4 [H]). */
  readonly cancelFirst?: boolean;
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

/**
 * Short programs (≤ `maxActions` actions + the end marker) for a layout, biased so that loads and
 * stores hit mapped memory, unmapped IPAs and mappings without the needed permission, with every
 * size, sign-extending loads, acquire/release forms and Rt = 31; plus HVC, WFI, BRK, the trapped
 * PMCR_EL0 access, branches whose fetch faults, and vtimer programming. Never generated (outside the
 * prediction): unaligned accesses, stores into the code's pages, branches into executable memory.
 */
export function arm64ProgramArb(
  layout: Pick<Arm64Layout, 'mappings' | 'code' | 'ipaBits'>,
  maxActions = 8,
): fc.Arbitrary<Arm64Action[]> {
  const lookup = arm64LayoutLookup(layout);
  const limit = 1n << BigInt(layout.ipaBits ?? 36);
  const codeStart = layout.code.ipa & ~(PAGE - 1n);
  const codeEnd = (layout.code.ipa + BigInt(layout.code.size) + PAGE - 1n) & ~(PAGE - 1n);
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

  /** Pages of the mappings matching `pred`, outside the code's pages (so stores never hit the program). */
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
      for (const p of pages) if (p + PAGE <= codeStart || p >= codeEnd) out.push(p);
    }
    return out;
  };
  const inPages = (pages: bigint[], size: number): fc.Arbitrary<bigint> =>
    fc
      .tuple(
        fc.constantFrom(...pages),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number(PAGE) / size - 1 })),
      )
      .map(([p, k]) => p + BigInt(k * size));
  const ipaArb = (write: boolean, size: number): fc.Arbitrary<bigint> => {
    const need = write ? HV_MEMORY.WRITE : HV_MEMORY.READ;
    const allowed = pagesWhere((f) => (f & need) !== 0);
    const denied = pagesWhere((f) => (f & need) === 0);
    const choices: { weight: number; arbitrary: fc.Arbitrary<bigint> }[] = [];
    if (allowed.length) choices.push({ weight: 3, arbitrary: inPages(allowed, size) });
    if (denied.length) choices.push({ weight: 3, arbitrary: inPages(denied, size) });
    if (unmapped.length) choices.push({ weight: 3, arbitrary: inPages(unmapped, size) });
    return fc.oneof(...choices);
  };
  const fetchDenied = [...unmapped, ...pagesWhere((f) => (f & HV_MEMORY.EXEC) === 0)];

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

  const ldr = size.chain((s) =>
    fc
      .record({
        base: reg,
        rt,
        ipa: ipaArb(false, s),
        form: fc.constantFrom<'plain' | 'w' | 'x' | 'acquire'>('plain', 'w', 'x', 'acquire'),
        scaled: fc.integer({ min: 0, max: 3 }),
      })
      .map(({ base, rt, ipa, form, scaled }): Arm64Action => {
        const signed =
          form === 'w' ? (s <= 2 ? 'w' : undefined) : form === 'x' ? (s <= 4 ? 'x' : undefined) : undefined;
        const acquire = form === 'acquire';
        const offset = acquire || ipa < BigInt(scaled * s) ? 0 : scaled * s;
        return {
          op: 'ldr',
          size: s,
          ipa,
          base,
          rt,
          ...(signed ? { signed } : {}),
          ...(acquire ? { acquire } : {}),
          ...(offset ? { offset } : {}),
        };
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
      .map(({ base, rt, ipa, value, acquire, scaled }): Arm64Action => {
        const withValue = value !== undefined && rt !== 31 && rt !== base;
        const offset = acquire || ipa < BigInt(scaled * s) ? 0 : scaled * s;
        return {
          op: 'str',
          size: s,
          ipa,
          base,
          rt,
          ...(withValue ? { value } : {}),
          ...(acquire ? { acquire } : {}),
          ...(offset ? { offset } : {}),
        };
      }),
  );
  const choices: { weight: number; arbitrary: fc.Arbitrary<Arm64Action> }[] = [
    { weight: 4, arbitrary: ldr },
    { weight: 4, arbitrary: str },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('mov' as const), rd: reg, value: u64 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: ARM64_END_MARKER_IMM - 1 })
        .map((imm): Arm64Action => ({ op: 'hvc', imm })),
    },
    { weight: 1, arbitrary: fc.constant<Arm64Action>({ op: 'wfi' }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 0xffff }).map((imm): Arm64Action => ({ op: 'brk', imm })),
    },
    {
      weight: 1,
      arbitrary: fc.record({ read: fc.boolean(), rt, value: fc.option(u64, { nil: undefined }) }).map(
        ({ read, rt, value }): Arm64Action => ({
          op: 'sysreg',
          read,
          rt,
          ...(!read && value !== undefined && rt !== 31 ? { value } : {}),
        }),
      ),
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
  ];
  if (fetchDenied.length) {
    choices.push({
      weight: 1,
      arbitrary: fc
        .record({ ipa: inPages(fetchDenied, 4), reg })
        .map(({ ipa, reg }): Arm64Action => ({ op: 'branch', ipa, reg })),
    });
  }
  return fc.array(fc.oneof(...choices), { minLength: 0, maxLength: maxActions });
}

/** A whole scenario for a layout: program, a few initial registers, answer seed, maybe a cancel first. */
export function arm64ScenarioArb(layout: Arm64Layout, maxActions = 8): fc.Arbitrary<Arm64Scenario> {
  const regs = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), {
      maxLength: 6,
    })
    .map((pairs) => Object.fromEntries(pairs.map(([r, v]) => [r, v])) as Record<number, bigint>);
  return fc
    .record({
      actions: arm64ProgramArb(layout, maxActions),
      regs,
      answerSeed: fc.integer({ min: 0, max: 0xffff_ffff }),
      cancelFirst: fc.oneof(
        { weight: 4, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    })
    .map((s) => ({ layout, ...s }));
}

/** The prediction for a scenario. `initialByte` gives guest RAM where known (default: unknown). */
export function predictArm64Scenario(
  scenario: Arm64Scenario,
  initialByte?: (ipa: bigint) => number | undefined,
  exactClock = true,
): Arm64Prediction {
  const seed = scenario.answerSeed ?? 0;
  return predictArm64({
    actions: scenario.actions,
    codeIpa: scenario.layout.code.ipa,
    ...(scenario.regs ? { initialRegs: scenario.regs } : {}),
    lookup: arm64LayoutLookup(scenario.layout),
    ...(initialByte ? { memory: initialByte } : {}),
    answer: (i) => arm64ScenarioAnswer(seed, i),
    ...(scenario.cancelFirst ? { cancelFirst: true } : {}),
    exactClock,
  });
}

/** One difference between the prediction and what the backend did. */
export interface Arm64Mismatch {
  /** Index of the predicted exit (-1: setup; `exits.length`: after the end, final registers and memory). */
  readonly exitIndex: number;
  /** What differs: `reason`, `syndrome`, `virtual_address`, `physical_address`, `HV_REG_PC`, `HV_REG_X5`, `written`, `ret of <call>`, `memory@0x…`. */
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
   * `physical_address`, the WFI CV/COND bits and the position of VTIMER_ACTIVATED exits (the
   * model's documented clock). Default: true on the `model` backend, false elsewhere, where those
   * are [U] or hardware-timed (predict.ts).
   */
  readonly exact?: boolean;
  /** Give up after this many runs beyond the predicted number of exits (default 16). */
  readonly maxExtraRuns?: number;
}

/** Reads guest RAM through the mappings' host buffers, a page at a time (undefined where no buffer is known). */
function hostByteReader(backend: Arm64Backend, layout: Arm64Layout): (ipa: bigint) => number | undefined {
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
const regName = (r: number): string => (r === HV_REG.HV_REG_PC ? 'HV_REG_PC' : `HV_REG_X${r}`);
const sysRegName = (r: number): string =>
  (Object.entries(HV_SYS_REG) as [string, number][]).find(([, v]) => v === r)?.[0] ?? hex(r);

/**
 * Runs a scenario on a backend as a VMM does: writes the code into its host buffer, sets PC, CPSR
 * (0x3c5, EL1h), SCTLR_EL1 = 0 (MMU off), CNTV_CTL_EL0 = 0, the vtimer unmasked, trap-debug-exceptions
 * on (so BRK exits) and the initial registers; then loops `hv_vcpu_run` → compare the exit record
 * (reason, syndrome under the prediction's mask, FAR, IPA) and PC with the prediction → respond as
 * vmm.ts says → run again, until the end marker; then compares the registers and RAM the prediction
 * knows. Thread `t` must own `vcpu`; the caller has made the layout's mappings. Comparison stops at
 * the first exit whose reason, syndrome, address or PC differs (what follows would be noise).
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
    prediction = predictArm64Scenario(scenario, hostByteReader(backend, scenario.layout), exact);
  } catch (e) {
    // A program outside what the spec predicts (the generator never makes one): judged by nobody.
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
  const touched = new Set<number>();
  for (const a of scenario.actions)
    if ((a.op === 'ldr' || a.op === 'str' || a.op === 'branch') && lookup(a.ipa))
      touched.add(lookup(a.ipa)!.flags & 7);
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
  const { code } = scenario.layout;
  backend.host_write(code.uva.mem, code.uva.offset, prediction.program.bytes);
  const setup: [string, () => number][] = [
    ['hv_vcpu_set_reg(HV_REG_PC)', () => backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_PC, code.ipa).ret],
    [
      'hv_vcpu_set_reg(HV_REG_CPSR)',
      () => backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_CPSR, BigInt(CPSR_EL1H_DAIF)).ret,
    ],
    [
      'hv_vcpu_set_sys_reg(HV_SYS_REG_SCTLR_EL1)',
      () => backend.hv_vcpu_set_sys_reg(t, vcpu, HV_SYS_REG.HV_SYS_REG_SCTLR_EL1, 0n).ret,
    ],
    [
      'hv_vcpu_set_sys_reg(HV_SYS_REG_CNTV_CTL_EL0)',
      () => backend.hv_vcpu_set_sys_reg(t, vcpu, HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0, 0n).ret,
    ],
    ['hv_vcpu_set_vtimer_mask', () => backend.hv_vcpu_set_vtimer_mask(t, vcpu, false).ret],
    ['hv_vcpu_set_trap_debug_exceptions', () => backend.hv_vcpu_set_trap_debug_exceptions(t, vcpu, true).ret],
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
      answer: (_q: Arm64VmmQuery) => arm64ScenarioAnswer(seed, e.index),
      ...(e.iabtResume !== undefined ? { iabtResume: e.iabtResume } : {}),
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
    if (exit.reason !== e.reason) {
      mismatches.push({
        exitIndex: at,
        field: 'reason',
        expected: `${reasonName(e.reason)} (${e.kind})`,
        got: reasonName(exit.reason),
      });
      return false;
    }
    const before = mismatches.length;
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      const mask = exact ? 0xffff_ffffn : e.syndromeMask;
      const got = exit.exception.syndrome & 0xffff_ffffn;
      if ((got & mask) !== (e.syndrome & mask)) {
        mismatches.push({
          exitIndex: at,
          field: 'syndrome',
          expected: exact ? hex(e.syndrome) : `${hex(e.syndrome)} under mask ${hex(mask)}`,
          got: hex(exit.exception.syndrome),
        });
      }
      if (e.virtual_address !== undefined && exit.exception.virtual_address !== e.virtual_address) {
        mismatches.push({
          exitIndex: at,
          field: 'virtual_address',
          expected: hex(e.virtual_address),
          got: hex(exit.exception.virtual_address),
        });
      }
      if (e.physical_address !== undefined) {
        const pm = exact ? (1n << 64n) - 1n : (e.physicalAddressMask ?? (1n << 64n) - 1n);
        if ((exit.exception.physical_address & pm) !== (e.physical_address & pm)) {
          mismatches.push({
            exitIndex: at,
            field: 'physical_address',
            expected: exact
              ? hex(e.physical_address)
              : `${hex(e.physical_address)} under mask ${hex(BigInt.asUintN(64, pm))}`,
            got: hex(exit.exception.physical_address),
          });
        }
      }
    }
    // A VTIMER_ACTIVATED exit's PC is the model's clock; on hardware it is wherever the interrupt landed.
    if ((exact || e.kind !== 'arm64.vtimer') && pc !== e.pc)
      mismatches.push({ exitIndex: at, field: 'HV_REG_PC', expected: hex(e.pc), got: hex(pc) });
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
 * The scenario as trace steps (DESIGN.md trace format): write the code, set PC/CPSR/SCTLR_EL1/
 * CNTV_CTL_EL0, the vtimer mask, trap-debug-exceptions and the registers; then per exit `hv_vcpu_run`
 * with the predicted exit record, `hv_vcpu_get_reg(HV_REG_PC)`, the value a store or MSR wrote
 * (`hv_vcpu_get_reg` of Rt), and the VMM's response as explicit `hv_vcpu_set_reg` / `hv_vcpu_set_sys_reg`
 * / `hv_vcpu_set_vtimer_mask` steps; finally reads of the registers and RAM the prediction knows. The
 * caller's steps before these create the VM, the buffers, the mappings and the vCPU.
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
  const { code } = scenario.layout;
  const steps: Step[] = [
    {
      call: 'host_write',
      args: { mem: options.memName(code.uva.mem), offset: code.uva.offset, bytes: toHex(p.program.bytes) },
    },
    setReg('HV_REG_PC', code.ipa),
    setReg('HV_REG_CPSR', BigInt(CPSR_EL1H_DAIF)),
    on({
      call: 'hv_vcpu_set_sys_reg',
      args: { vcpu, reg: 'HV_SYS_REG_SCTLR_EL1', value: '0x0' },
      expect: ok,
    }),
    on({
      call: 'hv_vcpu_set_sys_reg',
      args: { vcpu, reg: 'HV_SYS_REG_CNTV_CTL_EL0', value: '0x0' },
      expect: ok,
    }),
    on({ call: 'hv_vcpu_set_vtimer_mask', args: { vcpu, vtimer_is_masked: false }, expect: ok }),
    on({ call: 'hv_vcpu_set_trap_debug_exceptions', args: { vcpu, value: true }, expect: ok }),
  ];
  for (const [r, v] of Object.entries(scenario.regs ?? {})) steps.push(setReg(regName(Number(r)), v));
  if (scenario.cancelFirst)
    steps.push({ call: 'hv_vcpus_exit', args: { vcpus: [vcpu], vcpu_count: 1 }, expect: ok });
  const regsNow: (bigint | undefined)[] = Array.from({ length: 31 }, (_, i) => scenario.regs?.[i]);
  for (const e of p.exits) {
    const exit: Record<string, Step['args'][string]> = { reason: REASON_NAMES[e.reason] ?? e.reason };
    if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      exit.syndrome =
        options.masked && e.syndromeMask !== 0xffff_ffffn
          ? { value: hex(e.syndrome), mask: hex(e.syndromeMask) }
          : { value: hex(e.syndrome), mask: '0xffffffff' };
      if (e.virtual_address !== undefined) exit.virtual_address = hex(e.virtual_address);
      if (e.physical_address !== undefined) {
        exit.physical_address = options.masked
          ? { value: hex(e.physical_address), mask: hex(BigInt.asUintN(64, e.physicalAddressMask ?? -1n)) }
          : hex(e.physical_address);
      }
    }
    steps.push(on({ call: 'hv_vcpu_run', args: { vcpu }, expect: { ret: 'HV_SUCCESS', exit } }));
    if (!(options.masked && e.kind === 'arm64.vtimer')) steps.push(getReg('HV_REG_PC', e.pc));
    const w = e.vmm.written;
    const d = e.syndrome !== 0n ? decodeRt(e) : undefined;
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
    for (const s of e.vmm.setRegs) {
      steps.push(setReg(regName(s.reg), s.value));
      if (s.reg < 31) regsNow[s.reg] = s.value;
    }
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
  }
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

/** Rt of a predicted data-abort or sysreg exit, from its syndrome. */
function decodeRt(e: Arm64PredictedExit): number | undefined {
  const iss = Number(e.syndrome & 0x1ffffffn);
  if (e.kind.startsWith('arm64.dabt')) return (iss >>> 16) & 0x1f;
  if (e.kind === 'arm64.sysreg') return (iss >>> 5) & 0x1f;
  return undefined;
}
