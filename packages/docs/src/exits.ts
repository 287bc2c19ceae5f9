/**
 * The exits the spec's guest programs can produce, and the layouts of the fields a VMM decodes them
 * with. Both are derived, not written down:
 * - exit kinds come from the spec's own lists (`X86_EXIT_KINDS`, `ARM64_EXIT_KINDS`); one example of
 *   each is found by sampling the spec's program generators with a fixed seed and predicting the exits
 *   (so an example is exactly what the spec predicts for a real program);
 * - bit layouts come from probing the spec's decoders one bit at a time: the bits whose flip changes a
 *   decoded field are that field's bits.
 * @module
 */

import { join } from 'node:path';
import { createModel } from '@hvspec/model';
import * as spec from '@hvspec/spec';
import {
  ARM64_EXIT_KINDS,
  type Arm64Layout,
  type Arm64PredictedExit,
  arm64ScenarioArb,
  decodeEptQualification,
  decodeEsr,
  decodeInterruptionInfo,
  decodeIoQualification,
  describeArm64Reason,
  describeEsr,
  describeExitReason,
  describeInterruptionInfo,
  describeQualification,
  describeX86Action,
  EPT_QUAL,
  FSC,
  formatArm64Action,
  HV_EXIT_REASON,
  IO_QUAL,
  IRQ_INFO,
  predictArm64Scenario,
  predictX86Scenario,
  VMX_REASON,
  X86_EXIT_KINDS,
  X86_MODES,
  type X86ExpectedExit,
  type X86Layout,
  type X86Scenario,
} from '@hvspec/spec';
import fc from 'fast-check';
import { memberDocs } from './comments.js';
import { REPO_ROOT } from './paths.js';

const hex = (v: number | bigint): string => `0x${BigInt(v).toString(16)}`;

/** One exit kind with an example the spec predicts for a generated program. */
export interface ExitKindExample {
  /** `x86.io.out.imm8`, `arm64.dabt.write.unmapped`, ... */
  readonly kind: string;
  /** The exit reason by name (`VMX_REASON_IO`, `HV_EXIT_REASON_EXCEPTION`), when an example was found. */
  readonly reason?: string;
  /** The numeric reason (x86 basic reason, arm64 `hv_exit_reason_t`). */
  readonly reasonValue?: number;
  /** arm64: the exception class of the syndrome. */
  readonly ec?: number;
  /**
   * arm64: the exception was taken by the guest at EL1 and reported from its vectors (the `arm64.el1.*`
   * kinds); the exit itself is the report's HVC.
   */
  readonly guestTaken?: boolean;
  /** arm64: the class of ESR_EL1 of an exception the guest took (absent for IRQ and FIQ). */
  readonly guestEc?: number;
  /** The guest instruction (action) that exits. */
  readonly cause?: string;
  /** How the VMM started the program, when it is not the default (x86 mode, arm64 EL and stage 1). */
  readonly setting?: string;
  /** Decoded fields, one line each, as the exit judge renders them. */
  readonly fields: readonly string[];
  /** Set when no sampled program produced this kind: how many were sampled (the build fails then). */
  readonly missing?: string;
}

/** A fake host address: predictions never read it. */
const FAKE_UVA = { mem: { id: 0, size: 0x1000 }, offset: 0 } as const;

const PERMS = [
  { flags: 3, label: 'READ|WRITE' },
  { flags: 1, label: 'READ' },
  { flags: 5, label: 'READ|EXEC' },
  { flags: 4, label: 'EXEC' },
  { flags: 0, label: 'none' },
] as const;

/**
 * The x86 layout the programs run in: the code page, one page of each permission set and, for the
 * generator's paging modes, room for the canonical page tables (three pages: 4-level paging). Everything
 * lies below 64 KiB, which every mode reaches (a real-mode data segment ends there).
 */
function x86Layout(): X86Layout & {
  readonly tables: { readonly gpa: bigint; readonly uva: typeof FAKE_UVA };
} {
  return {
    mappings: [
      { gpa: 0x1000n, size: 0x1000n, flags: 7 },
      ...PERMS.map((p, i) => ({ gpa: 0x4000n + BigInt(i) * 0x1000n, size: 0x1000n, flags: p.flags })),
      { gpa: 0xc000n, size: 0x3000n, flags: 3 },
    ],
    code: { gpa: 0x1000n, size: 0x1000, uva: FAKE_UVA },
    tables: { gpa: 0xc000n, uva: FAKE_UVA },
  };
}

/**
 * The arm64 layout: the code page, one page of each permission set, and a table area for the programs
 * that turn stage 1 on (without one the generator never enables the MMU, and the kinds that need it,
 * such as a stage-2 fault on the guest's table walk, never occur).
 */
function arm64Layout(): Arm64Layout {
  return {
    mappings: [
      { ipa: 0x10000n, size: 0x1000n, flags: 7 },
      ...PERMS.map((p, i) => ({ ipa: 0x20000n + BigInt(i) * 0x1000n, size: 0x1000n, flags: p.flags })),
      { ipa: 0x100000n, size: 0x100000n, flags: 3 },
    ],
    code: { ipa: 0x10000n, size: 0x1000, uva: FAKE_UVA },
    tables: { ipa: 0x100000n, size: 0x100000, uva: FAKE_UVA },
    ipaBits: 36,
  };
}

/**
 * How many generated programs the sampling predicts per flavour, at most, before it gives up on the
 * kinds still missing. Programs are drawn in chunks of {@link EXIT_SAMPLE_CHUNK}, each chunk with its own
 * seed and taken in turn from every mode the generator has, until every kind has an example: a kind
 * that is rare costs more chunks, not a hand-picked program.
 */
export const EXIT_SAMPLE_BUDGET = 40_000;
/** Programs per seed (see {@link EXIT_SAMPLE_BUDGET}). */
export const EXIT_SAMPLE_CHUNK = 200;

/** Options of {@link x86ExitKinds} and {@link arm64ExitKinds}. */
export interface SampleOptions {
  /** The first chunk's seed; chunk i uses seed + i. */
  readonly seed?: number;
  /** At most this many programs (default {@link EXIT_SAMPLE_BUDGET}). */
  readonly budget?: number;
}

/**
 * Finds one example of each kind in `kinds`: draws chunks of programs from the sources in turn (a new
 * seed per chunk) and predicts their exits, until every kind has one or the budget is spent. A kind no
 * program produced comes back with `missing` set.
 */
function sampleKinds<S, E extends { readonly kind: string }>(
  kinds: readonly string[],
  sources: readonly fc.Arbitrary<S>[],
  predict: (scenario: S) => readonly E[],
  example: (scenario: S, exit: E) => ExitKindExample,
  options: SampleOptions,
): ExitKindExample[] {
  const seed = options.seed ?? 0x5eed;
  const budget = options.budget ?? EXIT_SAMPLE_BUDGET;
  const wanted = new Set(kinds);
  const found = new Map<string, ExitKindExample>();
  let sampled = 0;
  let chunk = 0;
  while (sampled < budget && found.size < wanted.size) {
    const arb = sources[chunk % sources.length];
    if (!arb) break;
    const numRuns = Math.min(EXIT_SAMPLE_CHUNK, budget - sampled);
    for (const sc of fc.sample(arb, { seed: (seed + chunk) | 0, numRuns })) {
      sampled++;
      let exits: readonly E[];
      try {
        exits = predict(sc);
      } catch {
        continue; // a program outside what the spec predicts: not an example
      }
      for (const e of exits) if (wanted.has(e.kind) && !found.has(e.kind)) found.set(e.kind, example(sc, e));
      if (found.size === wanted.size) break;
    }
    chunk++;
  }
  return kinds.map(
    (k) =>
      found.get(k) ?? {
        kind: k,
        fields: [],
        missing: `none of the ${sampled} programs the spec's generator produced (${chunk} seeds from ${seed}) exits this way`,
      },
  );
}

/**
 * The name of the VMCS field (or `RIP`) each member of `X86ExpectedExit` predicts, from its doc
 * comment (`/** VMCS_RO_EXIT_QUALIFIC, compared under … *\/`): a field the spec starts predicting shows
 * up on the site with its VMCS name, no list to keep here.
 */
export function x86ExitFieldNames(repoRoot: string = REPO_ROOT): Map<string, string> {
  const docs = memberDocs(
    join(repoRoot, 'packages', 'spec', 'src', 'guest', 'x86', 'predict.ts'),
    'X86ExpectedExit',
  );
  const out = new Map<string, string>();
  for (const [member, doc] of docs) {
    // "VMCS_GUEST_PHYSICAL_ADDRESS (EPT violations only)", "RIP at the exit", or a name in parentheses
    // in the first sentence ("Basic exit reason (VMCS_RO_EXIT_REASON low 16 bits …)").
    const m = /^(VMCS_[A-Z0-9_]+|RIP)\b/.exec(doc) ?? /^[^.(]*\((VMCS_[A-Z0-9_]+)\b/.exec(doc);
    if (m?.[1]) out.set(member, m[1]);
  }
  return out;
}

/** The x86 fields of an exit, under their VMCS names, decoded the way the exit judge decodes them. */
function x86Fields(e: X86ExpectedExit, names: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  const record = e as unknown as Readonly<Record<string, unknown>>;
  for (const [member, name] of names) {
    const v = record[member];
    if (typeof v !== 'number' && typeof v !== 'bigint') continue;
    if (name === 'VMCS_RO_EXIT_REASON') lines.push(`${name}: ${describeExitReason(v)}`);
    else if (name === 'VMCS_RO_EXIT_QUALIFIC')
      lines.push(`${name} ${hex(v)}: ${describeQualification(e.reason, BigInt(v))}`);
    else if (/_(IRQ|VECTOR)_INFO$/.test(name))
      lines.push(`${name} ${hex(v)}: ${describeInterruptionInfo(v)}`);
    else if (name === 'RIP') lines.push(`RIP ${hex(v)} (at the exiting instruction)`);
    else if (name.endsWith('_LEN')) lines.push(`${name} ${v}`);
    else lines.push(`${name} ${hex(v)}`);
  }
  return lines;
}

const VMX_NAMES = new Map<number, string>(Object.entries(VMX_REASON).map(([n, v]) => [v, n]));
const EL_NAMES: Readonly<Record<string, string>> = { el1h: 'EL1h', el1t: 'EL1t', el0: 'EL0' };

function arm64Fields(e: Arm64PredictedExit): string[] {
  const lines = [`reason: ${describeArm64Reason(e.reason)}`];
  if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
    lines.push(`exception.syndrome ${hex(e.syndrome)}: ${describeEsr(e.syndrome)}`);
    if (e.virtual_address !== undefined)
      lines.push(`exception.virtual_address (FAR) ${hex(e.virtual_address)}`);
    if (e.physical_address !== undefined)
      lines.push(`exception.physical_address (IPA) ${hex(e.physical_address)}`);
  }
  lines.push(`PC when hv_vcpu_run returns: ${hex(e.pc)}`);
  const g = e.guest;
  if (g) {
    lines.push(`taken by the guest at EL1 and reported from VBAR_EL1 + ${hex(g.slot * 0x80)}:`);
    if (g.esr) lines.push(`ESR_EL1 ${hex(g.esr.value)}: ${describeEsr(g.esr.value)}`);
    lines.push(`ELR_EL1 ${hex(g.elr)}`);
    if (g.far !== undefined) lines.push(`FAR_EL1 ${hex(g.far)}`);
    lines.push(`SPSR_EL1 ${hex(g.spsr)}`);
  }
  return lines;
}

/** The modes the x86 generator takes: every mode of the spec, so that a mode it adds is sampled too. */
function x86Modes(): readonly (string | undefined)[] {
  return X86_MODES;
}

type X86ScenarioWith = X86Scenario & { readonly mode?: string; readonly movDrExiting?: boolean };

/**
 * The spec's x86 generator and prediction through their widest signatures: the generator takes a mode
 * where the spec has modes, the prediction `hv_vmx_read_capability` of the backend the program runs on
 * where the canonical setup's controls depend on it (CR3-load exiting is a must-be-one control on Intel
 * cores). Arguments a function does not take are ignored, as JavaScript does.
 */
const x86ScenarioArbFor = spec.x86ScenarioArb as unknown as (
  layout: X86Layout,
  mode?: string,
) => fc.Arbitrary<X86ScenarioWith>;
const predictX86For = predictX86Scenario as unknown as (
  scenario: X86Scenario,
  initialByte?: (gpa: bigint) => number,
  answer?: undefined,
  readCapability?: (id: number) => bigint,
) => ReturnType<typeof predictX86Scenario>;

/** Options of {@link x86ExitKinds}. */
export interface X86SampleOptions extends SampleOptions {
  /** VMCS field names of the prediction's members (default: {@link x86ExitFieldNames}). */
  readonly fieldNames?: ReadonlyMap<string, string>;
  /** The VMX capabilities the programs run under (default: the model's). */
  readonly vmxCapabilities?: Readonly<Record<number, bigint>>;
}

/** Samples of every x86 exit kind, in every mode the generator has, on the model's VMX capabilities. */
export function x86ExitKinds(options: X86SampleOptions = {}): ExitKindExample[] {
  const names = options.fieldNames ?? x86ExitFieldNames();
  let caps = options.vmxCapabilities;
  if (!caps) {
    const model = createModel('x86_64');
    caps = model.capabilities.vmxCapabilities ?? {};
    void model.close();
  }
  const vmx = caps;
  const readCapability = (id: number): bigint => vmx[id] ?? 0n;
  const layout = x86Layout();
  const sources = x86Modes().map((mode) =>
    mode === undefined ? x86ScenarioArbFor(layout) : x86ScenarioArbFor(layout, mode),
  );
  return sampleKinds(
    X86_EXIT_KINDS,
    sources,
    (sc) => predictX86For(sc, undefined, undefined, readCapability).exits,
    (sc, e) => {
      const action = sc.program.actions[e.actionIndex];
      const setting = [
        sc.mode ? `mode ${sc.mode}` : '',
        sc.excBitmap !== undefined ? `exception bitmap ${hex(sc.excBitmap)}` : '',
        sc.movDrExiting ? 'MOV-DR exiting' : '',
      ].filter((s) => s !== '');
      return {
        kind: e.kind,
        reason: VMX_NAMES.get(e.reason) ?? String(e.reason),
        reasonValue: e.reason,
        cause: action ? describeX86Action(action) : 'out 0xe0, al (the end marker)',
        ...(setting.length ? { setting: setting.join(', ') } : {}),
        fields: x86Fields(e, names),
      };
    },
    options,
  );
}

/** Samples of every arm64 exit kind. */
export function arm64ExitKinds(options: SampleOptions = {}): ExitKindExample[] {
  return sampleKinds(
    ARM64_EXIT_KINDS,
    [arm64ScenarioArb(arm64Layout())],
    (sc) => predictArm64Scenario(sc).exits,
    (sc, e) => {
      const action = sc.actions[e.action];
      const isException = e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION;
      const start = sc.start ?? 'el1h';
      const setting = [
        start !== 'el1h' ? `starts at ${EL_NAMES[start] ?? start}` : '',
        sc.mmu ? `stage 1 on (${sc.mmu.granule / 1024} KiB granule)` : '',
        sc.pending ? `${sc.pending.toUpperCase()} pending` : '',
      ].filter((s) => s !== '');
      return {
        kind: e.kind,
        reason: describeArm64Reason(e.reason),
        reasonValue: e.reason,
        ...(isException ? { ec: decodeEsr(e.syndrome).ec } : {}),
        ...(e.guest ? { guestTaken: true } : {}),
        ...(e.guest?.esr ? { guestEc: decodeEsr(e.guest.esr.value).ec } : {}),
        cause:
          e.action < 0
            ? e.reason === HV_EXIT_REASON.HV_EXIT_REASON_CANCELED
              ? 'hv_vcpus_exit before the run'
              : sc.pending
                ? `the ${sc.pending.toUpperCase()} made pending before the run (hv_vcpu_set_pending_interrupt)`
                : 'before the first instruction'
            : action
              ? formatArm64Action(action)
              : 'hvc #0xffff (the end marker)',
        ...(setting.length ? { setting: setting.join(', ') } : {}),
        fields: arm64Fields(e),
      };
    },
    options,
  );
}

/** The VMCS fields the examples show, in the order they first appear, then RIP. */
export function x86FieldsShown(kinds: readonly ExitKindExample[]): string[] {
  const out = new Set<string>();
  for (const k of kinds) for (const f of k.fields) out.add(/^(VMCS_[A-Z0-9_]+|RIP)\b/.exec(f)?.[1] ?? '');
  out.delete('');
  const rip = out.delete('RIP');
  return [...out, ...(rip ? ['RIP'] : [])];
}

/** A run of bits that decode to the same fields. */
export interface BitField {
  readonly hi: number;
  readonly lo: number;
  /** The decoder's field names these bits change (empty: not decoded). `(valid)`: the value stops decoding. */
  readonly fields: readonly string[];
}

/** A spec decoder of a field (`decodeEsr`, `decodeEptQualification`, ...): its fields, or undefined for a value it refuses. */
export type Decoder = (v: bigint) => Readonly<Record<string, unknown>> | undefined;

/**
 * The layout of a field as a decoder sees it: flips each bit of `base` values and records which decoded
 * fields change. Several bases let bits be probed where one base would make the value undecodable.
 */
export function probeLayout(
  decode: Decoder,
  width: number,
  bases: readonly bigint[],
  ignore: readonly string[] = [],
): BitField[] {
  const perBit: string[][] = [];
  for (let i = 0; i < width; i++) {
    const bit = 1n << BigInt(i);
    const changed = new Set<string>();
    let comparable = false;
    let breaks = false;
    for (const base of bases) {
      const a = decode(base);
      if (!a) continue;
      const b = decode(base ^ bit);
      if (!b) {
        breaks = true;
        continue;
      }
      comparable = true;
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
        if (!ignore.includes(k) && a[k] !== b[k]) changed.add(k);
    }
    perBit.push(changed.size > 0 ? [...changed].sort() : !comparable && breaks ? ['(valid)'] : []);
  }
  const out: BitField[] = [];
  for (let i = width - 1; i >= 0; i--) {
    const fields = perBit[i] ?? [];
    const last = out[out.length - 1];
    if (last && last.fields.join() === fields.join()) out[out.length - 1] = { ...last, lo: i };
    else out.push({ hi: i, lo: i, fields });
  }
  return out;
}

/** A decoded layout with its name and what the decoder is. */
export interface Layout {
  readonly id: string;
  readonly title: string;
  /** The spec function that decodes it. */
  readonly decoder: string;
  readonly bits: readonly BitField[];
  /** Example values with the judge's rendering of them. */
  readonly examples: readonly { readonly value: string; readonly described: string }[];
  /** The vocabulary's constants for this field (`EPT_QUAL`, `IO_QUAL`, ...), by name. */
  readonly constants?: { readonly vocabulary: string; readonly values: Readonly<Record<string, number>> };
}

const asRecord = <T extends object>(v: T | undefined): Readonly<Record<string, unknown>> | undefined =>
  v as Readonly<Record<string, unknown>> | undefined;

/** The x86 layouts: I/O and EPT-violation qualifications, interruption information. */
export function x86Layouts(samples: readonly ExitKindExample[]): Layout[] {
  const qualExamples = (reason: number): { value: string; described: string }[] =>
    samples
      .filter((s) => s.reasonValue === reason)
      .map((s) => s.fields.find((f) => f.startsWith('VMCS_RO_EXIT_QUALIFIC')) ?? '')
      .filter((f) => f !== '')
      .map((f) => {
        const m = /^VMCS_RO_EXIT_QUALIFIC (0x[0-9a-f]+): (.*)$/.exec(f);
        return { value: m?.[1] ?? '', described: m?.[2] ?? f };
      });
  const irqExamples = samples
    .map((s) => s.fields.find((f) => f.startsWith('VMCS_RO_VMEXIT_IRQ_INFO')))
    .filter((f): f is string => f !== undefined)
    .map((f) => {
      const m = /^VMCS_RO_VMEXIT_IRQ_INFO (0x[0-9a-f]+): (.*)$/.exec(f);
      return { value: m?.[1] ?? '', described: m?.[2] ?? f };
    });
  const layout = (
    id: string,
    title: string,
    decoder: string,
    decode: (v: bigint) => object | undefined,
    width: number,
    bases: readonly bigint[],
    examples: Layout['examples'],
    vocabulary: string,
    values: Readonly<Record<string, number>>,
  ): Layout => ({
    id,
    title,
    decoder,
    bits: probeLayout((v) => asRecord(decode(v)), width, bases),
    examples,
    constants: { vocabulary, values },
  });
  return [
    layout(
      'x86-io-qualification',
      'Exit qualification of VMX_REASON_IO (30)',
      'decodeIoQualification',
      decodeIoQualification,
      32,
      [0n, 1n, 3n],
      qualExamples(VMX_REASON.VMX_REASON_IO),
      'IO_QUAL',
      IO_QUAL,
    ),
    layout(
      'x86-ept-qualification',
      'Exit qualification of VMX_REASON_EPT_VIOLATION (48)',
      'decodeEptQualification',
      decodeEptQualification,
      16,
      [0n, 2n, 4n],
      qualExamples(VMX_REASON.VMX_REASON_EPT_VIOLATION),
      'EPT_QUAL',
      EPT_QUAL,
    ),
    layout(
      'x86-interruption-info',
      'VMCS_RO_VMEXIT_IRQ_INFO (exception exits, VMX_REASON_EXC_NMI)',
      'decodeInterruptionInfo',
      decodeInterruptionInfo,
      32,
      [0x8000_0300n, 0x8000_0000n, 0x8000_0600n],
      irqExamples,
      'IRQ_INFO',
      IRQ_INFO,
    ),
  ];
}

/** The arm64 ISS layouts of every exception class the spec decodes, from `decodeEsr`. */
export function arm64Layouts(
  classes: readonly { ec: number; name: string }[],
  samples: readonly ExitKindExample[],
): Layout[] {
  const out: Layout[] = [];
  for (const { ec, name } of classes) {
    const base = (BigInt(ec) << 26n) | (1n << 25n);
    const kind = decodeEsr(base).kind;
    if (kind === 'unknown') continue;
    // The exit's own syndrome, and ESR_EL1 of the exceptions the guest took at EL1 and reported.
    const line = (s: ExitKindExample, prefix: string): string[] =>
      s.fields.filter((f) => f.startsWith(prefix));
    const examples = [
      ...samples.filter((s) => s.ec === ec && !s.guestTaken).flatMap((s) => line(s, 'exception.syndrome ')),
      ...samples.filter((s) => s.guestEc === ec).flatMap((s) => line(s, 'ESR_EL1 ')),
    ]
      .map((f) => {
        const m = /^(?:exception\.syndrome|ESR_EL1) (0x[0-9a-f]+): (.*)$/.exec(f);
        return { value: m?.[1] ?? '', described: m?.[2] ?? f };
      })
      .filter((e) => e.value !== '');
    out.push({
      id: `arm64-iss-${hex(ec)}`,
      title: `ISS of EC ${hex(ec)}: ${name} (${kind})`,
      decoder: 'decodeEsr',
      bits: probeLayout((v) => asRecord(decodeEsr(base | v)), 25, [0n], ['size']),
      examples,
      ...(kind === 'data-abort' || kind === 'instruction-abort'
        ? { constants: { vocabulary: 'FSC', values: FSC } }
        : {}),
    });
  }
  return out;
}
