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
  type X86ExpectedExit,
  type X86Layout,
  x86ScenarioArb,
} from '@hvspec/spec';
import fc from 'fast-check';

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
  /** The guest instruction (action) that exits. */
  readonly cause?: string;
  /** Decoded fields, one line each, as the exit judge renders them. */
  readonly fields: readonly string[];
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

function x86Layout(): X86Layout {
  return {
    mappings: [
      { gpa: 0x1000n, size: 0x1000n, flags: 7 },
      ...PERMS.map((p, i) => ({ gpa: 0x10000n + BigInt(i) * 0x1000n, size: 0x1000n, flags: p.flags })),
    ],
    code: { gpa: 0x1000n, size: 0x1000, uva: FAKE_UVA },
  };
}

function arm64Layout(): Arm64Layout {
  return {
    mappings: [
      { ipa: 0x10000n, size: 0x1000n, flags: 7 },
      ...PERMS.map((p, i) => ({ ipa: 0x20000n + BigInt(i) * 0x1000n, size: 0x1000n, flags: p.flags })),
    ],
    code: { ipa: 0x10000n, size: 0x1000, uva: FAKE_UVA },
    ipaBits: 36,
  };
}

const VMX_NAMES = new Map<number, string>(Object.entries(VMX_REASON).map(([n, v]) => [v, n]));

function x86Fields(e: X86ExpectedExit): string[] {
  const lines = [`VMCS_RO_EXIT_REASON: ${describeExitReason(e.reason)}`];
  lines.push(
    `VMCS_RO_EXIT_QUALIFIC ${hex(e.qualification)}: ${describeQualification(e.reason, e.qualification)}`,
  );
  if (e.gpa !== undefined) lines.push(`VMCS_GUEST_PHYSICAL_ADDRESS ${hex(e.gpa)}`);
  if (e.instrLen !== undefined) lines.push(`VMCS_RO_VMEXIT_INSTR_LEN ${e.instrLen}`);
  if (e.irqInfo !== undefined)
    lines.push(`VMCS_RO_VMEXIT_IRQ_INFO ${hex(e.irqInfo)}: ${describeInterruptionInfo(e.irqInfo)}`);
  if (e.rip !== undefined) lines.push(`RIP ${hex(e.rip)} (at the exiting instruction)`);
  return lines;
}

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
  return lines;
}

/** Samples of every x86 exit kind (kinds no sample reached are listed without an example). */
export function x86ExitKinds(seed = 0x5eed, runs = 600): ExitKindExample[] {
  const found = new Map<string, ExitKindExample>();
  for (const sc of fc.sample(x86ScenarioArb(x86Layout()), { seed, numRuns: runs })) {
    let exits: readonly X86ExpectedExit[];
    try {
      exits = predictX86Scenario(sc).exits;
    } catch {
      continue; // a program outside what the spec predicts: not an example
    }
    for (const e of exits) {
      if (found.has(e.kind)) continue;
      const action = sc.program.actions[e.actionIndex];
      found.set(e.kind, {
        kind: e.kind,
        reason: VMX_NAMES.get(e.reason) ?? String(e.reason),
        reasonValue: e.reason,
        cause: action ? describeX86Action(action) : 'out 0xe0, al (the end marker)',
        fields: x86Fields(e),
      });
    }
    if (found.size === X86_EXIT_KINDS.length) break;
  }
  return X86_EXIT_KINDS.map((k) => found.get(k) ?? { kind: k, fields: [] });
}

/** Samples of every arm64 exit kind. */
export function arm64ExitKinds(seed = 0x5eed, runs = 600): ExitKindExample[] {
  const found = new Map<string, ExitKindExample>();
  for (const sc of fc.sample(arm64ScenarioArb(arm64Layout()), { seed, numRuns: runs })) {
    let exits: readonly Arm64PredictedExit[];
    try {
      exits = predictArm64Scenario(sc).exits;
    } catch {
      continue;
    }
    for (const e of exits) {
      if (found.has(e.kind)) continue;
      const action = sc.actions[e.action];
      const isException = e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION;
      found.set(e.kind, {
        kind: e.kind,
        reason: describeArm64Reason(e.reason),
        reasonValue: e.reason,
        ...(isException ? { ec: decodeEsr(e.syndrome).ec } : {}),
        cause:
          e.action < 0
            ? 'hv_vcpus_exit before the run'
            : action
              ? formatArm64Action(action)
              : 'hvc #0xffff (the end marker)',
        fields: arm64Fields(e),
      });
    }
    if (found.size === ARM64_EXIT_KINDS.length) break;
  }
  return ARM64_EXIT_KINDS.map((k) => found.get(k) ?? { kind: k, fields: [] });
}

/** A run of bits that decode to the same fields. */
export interface BitField {
  readonly hi: number;
  readonly lo: number;
  /** The decoder's field names these bits change (empty: not decoded). `(valid)`: the value stops decoding. */
  readonly fields: readonly string[];
}

type Decoder = (v: bigint) => Readonly<Record<string, unknown>> | undefined;

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
  return [
    {
      id: 'x86-io-qualification',
      title: 'Exit qualification of VMX_REASON_IO (30)',
      decoder: 'decodeIoQualification',
      bits: probeLayout((v) => asRecord(decodeIoQualification(v)), 32, [0n, 1n, 3n]),
      examples: qualExamples(VMX_REASON.VMX_REASON_IO),
      constants: { vocabulary: 'IO_QUAL', values: IO_QUAL },
    },
    {
      id: 'x86-ept-qualification',
      title: 'Exit qualification of VMX_REASON_EPT_VIOLATION (48)',
      decoder: 'decodeEptQualification',
      bits: probeLayout((v) => asRecord(decodeEptQualification(v)), 16, [0n, 2n, 4n]),
      examples: qualExamples(VMX_REASON.VMX_REASON_EPT_VIOLATION),
      constants: { vocabulary: 'EPT_QUAL', values: EPT_QUAL },
    },
    {
      id: 'x86-interruption-info',
      title: 'VMCS_RO_VMEXIT_IRQ_INFO (exception exits, VMX_REASON_EXC_NMI)',
      decoder: 'decodeInterruptionInfo',
      bits: probeLayout((v) => asRecord(decodeInterruptionInfo(v)), 32, [
        0x8000_0300n,
        0x8000_0000n,
        0x8000_0600n,
      ]),
      examples: irqExamples,
      constants: { vocabulary: 'IRQ_INFO', values: IRQ_INFO },
    },
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
    const examples = samples
      .filter((s) => s.ec === ec)
      .map((s) => s.fields.find((f) => f.startsWith('exception.syndrome')) ?? '')
      .map((f) => {
        const m = /^exception\.syndrome (0x[0-9a-f]+): (.*)$/.exec(f);
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
