/**
 * `hvspec explain VALUE`: a value a VMM met (a return code, an arm64 ESR, an x86 exit reason with its
 * qualification, VM-exit interruption information) in named fields, decoded by the spec's own
 * decoders, the ones the exit judge renders mismatches with.
 * @module
 */
import {
  basicExitReason,
  decodeEptQualification,
  decodeEsr,
  decodeInterruptionInfo,
  decodeIoQualification,
  describeExitReason,
  describeInterruptionInfo,
  describeReturn,
  esrFields,
  exitReasonName,
  HV,
  hvReturnFromName,
  hvReturnName,
  isEntryFailure,
  isNamedExceptionClass,
  qualificationFields,
  VMX_REASON,
} from '@hvspec/spec';
import type { Command } from 'commander';
import { EXIT_OK, EXIT_USAGE, jsonText, UsageError, withExitCodes } from './common.js';

/** The readings `--as` chooses between. */
export const READINGS = ['ret', 'esr', 'exit', 'qual', 'irq'] as const;
export type Reading = (typeof READINGS)[number];

const TITLES: Record<Reading, string> = {
  ret: 'a return code (hv_return_t)',
  esr: 'an arm64 syndrome (ESR_EL2), by exception class',
  exit: 'an x86 exit reason (VMCS_RO_EXIT_REASON)',
  qual: 'an x86 exit qualification (VMCS_RO_EXIT_QUALIFIC)',
  irq: 'x86 VM-exit interruption information (VMCS_RO_VMEXIT_IRQ_INFO, VMCS_RO_IDT_VECTOR_INFO)',
};

/** One reading of a value. */
export interface Explanation {
  readonly as: Reading;
  /** What the value is read as, in words. */
  readonly title: string;
  readonly value: string;
  /** The decoded fields, one per line as printed. */
  readonly fields: readonly string[];
  /** The spec decoder's own record, for `--json`. */
  readonly decoded: unknown;
}

/** The answer of `explain`: the reading chosen (or guessed), and the other sensible readings. */
export interface ExplainResult extends Explanation {
  readonly guessed: boolean;
  readonly otherReadings: readonly Explanation[];
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const U32 = 0xffff_ffffn;

function reasonNamed(basic: number): boolean {
  return Object.values(VMX_REASON).includes(basic as never);
}

/** Parses `--reason`: a number or a `VMX_REASON_*` name. */
export function parseReason(v: string): number {
  const name = v.trim().toUpperCase();
  if (Object.hasOwn(VMX_REASON, name)) return VMX_REASON[name as keyof typeof VMX_REASON];
  if (Object.hasOwn(VMX_REASON, `VMX_REASON_${name}`))
    return VMX_REASON[`VMX_REASON_${name}` as keyof typeof VMX_REASON];
  const n = parseNumber(v);
  if (n === undefined || n > 0xffffn)
    throw new UsageError(
      `--reason must be a basic exit reason (a number or VMX_REASON_* name), got ${JSON.stringify(v)}`,
    );
  return Number(n);
}

function parseNumber(v: string): bigint | undefined {
  const t = v.trim().replace(/_/g, '');
  if (/^0x[0-9a-f]+$/i.test(t) || /^\d+$/.test(t)) return BigInt(t);
  // C prints a failed hv_return_t as a negative mach_error_t.
  if (/^-\d+$/.test(t)) {
    const n = BigInt(t);
    return n >= -(1n << 31n) ? BigInt.asUintN(32, n) : undefined;
  }
  return undefined;
}

/** Reads `value` as `as` (for `qual`, as the qualification of basic reason `reason`). */
export function explainAs(as: Reading, value: bigint, reason?: number): Explanation {
  const base = { as, title: TITLES[as], value: hex(value) };
  switch (as) {
    case 'ret': {
      if (value > U32) throw new UsageError(`${hex(value)} is wider than an hv_return_t (32 bits)`);
      const code = Number(value);
      const name = hvReturnName(code);
      const known = !name.startsWith('0x');
      const signed = Number(BigInt.asIntN(32, value));
      return {
        ...base,
        fields: [
          known ? describeReturn(code) : `${name}: not one of Apple's return codes`,
          ...(code !== HV.HV_SUCCESS ? [`${signed} as C prints a signed mach_error_t`] : []),
        ],
        decoded: { code, name: known ? name : undefined, signed },
      };
    }
    case 'esr': {
      const d = decodeEsr(value);
      const wide = value > U32 ? [`bits 63:32 = ${hex(value >> 32n)} (ISS2 and RES0; not decoded)`] : [];
      return { ...base, fields: [...esrFields(value), ...wide], decoded: d };
    }
    case 'exit': {
      if (value > U32) throw new UsageError(`${hex(value)} is wider than VMCS_RO_EXIT_REASON (32 bits)`);
      const basic = basicExitReason(value);
      const other = value & 0x7fff_0000n;
      return {
        ...base,
        fields: [
          describeExitReason(value),
          ...(other
            ? [`bits 30:16 = ${hex(other >> 16n)} (bit 27 enclave, 28 pending MTF, 29 from VMX root)`]
            : []),
        ],
        decoded: { basicReason: basic, name: exitReasonName(basic), entryFailure: isEntryFailure(value) },
      };
    }
    case 'qual': {
      if (reason === undefined)
        throw new UsageError('--as qual needs --reason N (the basic exit reason it belongs to)');
      const decoded =
        reason === VMX_REASON.VMX_REASON_IO
          ? decodeIoQualification(value)
          : reason === VMX_REASON.VMX_REASON_EPT_VIOLATION
            ? decodeEptQualification(value)
            : undefined;
      return {
        ...base,
        title: `${TITLES.qual} of ${describeExitReason(reason)}`,
        fields: qualificationFields(reason, value),
        decoded: { reason, reasonName: exitReasonName(reason), ...(decoded ? { fields: decoded } : {}) },
      };
    }
    case 'irq': {
      if (value > U32)
        throw new UsageError(`${hex(value)} is wider than an interruption-information field (32 bits)`);
      const d = decodeInterruptionInfo(value);
      return {
        ...base,
        fields: [
          describeInterruptionInfo(value),
          ...(d && value & 0x1000n ? ['bit 12: NMI unblocking due to IRET'] : []),
        ],
        decoded: d ?? { valid: false },
      };
    }
  }
}

/** The readings a value sensibly has, most likely first. */
function plausible(value: bigint): Reading[] {
  const out: Reading[] = [];
  if (value <= U32) {
    const v = Number(value);
    if (!hvReturnName(v).startsWith('0x')) out.push('ret');
    const ec = Number((value >> 26n) & 0x3fn);
    if (ec !== 0 && isNamedExceptionClass(ec)) out.push('esr');
    // Bits 30:16 of an exit reason are reserved or flags that come with bit 31 or enclaves: a value with
    // any of 26:16 or 30 set is no exit reason.
    if ((value & 0x47ff_0000n) === 0n && reasonNamed(basicExitReason(value))) out.push('exit');
    // Bits 30:13 of interruption information are 0.
    if (decodeInterruptionInfo(value) && (value & 0x7fff_e000n) === 0n) out.push('irq');
  }
  return out;
}

/**
 * Explains a value. With `as`, reads it that way; otherwise guesses: a code of the 0xfae940xx family
 * (or 0) is a return code, a 32-bit value whose exception class the spec names an ESR, a small value
 * naming a basic reason an exit reason; the other sensible readings are listed beside.
 */
export function explain(input: string, opts: { as?: Reading; reason?: number } = {}): ExplainResult {
  const named = input.trim().toUpperCase();
  let value: bigint | undefined;
  let as = opts.as;
  if (hvReturnFromName(named) !== undefined) {
    value = BigInt(hvReturnFromName(named) as number);
    as ??= 'ret';
  } else if (Object.hasOwn(VMX_REASON, named) || Object.hasOwn(VMX_REASON, `VMX_REASON_${named}`)) {
    value = BigInt(parseReason(named));
    as ??= 'exit';
  } else {
    value = parseNumber(input);
  }
  if (value === undefined)
    throw new UsageError(
      `VALUE must be a number (0x hex or decimal), an HV_* return code or a VMX_REASON_* name, got ${JSON.stringify(input)}`,
    );
  if (opts.reason !== undefined) {
    if (as !== undefined && as !== 'qual')
      throw new UsageError(
        `--reason gives the exit reason of a qualification; it does not go with --as ${as}`,
      );
    as = 'qual';
  }
  const guessed = as === undefined;
  const readings = plausible(value);
  if (as === undefined) {
    const family = value <= U32 && (value >> 8n === 0xfae940n || value === 0n);
    as = family ? 'ret' : readings[0];
    if (as === undefined) {
      throw new UsageError(
        `cannot tell what ${hex(value)} is: give --as ${READINGS.join('|')} (qual with --reason N)`,
      );
    }
  }
  const chosen = explainAs(as, value, opts.reason);
  const otherReadings = guessed ? readings.filter((r) => r !== as).map((r) => explainAs(r, value)) : [];
  return { ...chosen, guessed, otherReadings };
}

/** The lines `hvspec explain` prints. */
export function explainLines(r: ExplainResult): string[] {
  const lines = [`${r.value} as ${r.title}${r.guessed ? ' (guessed; --as chooses)' : ''}:`];
  for (const f of r.fields) lines.push(`  ${f}`);
  if (r.otherReadings.length) {
    lines.push('other readings:');
    for (const o of r.otherReadings) lines.push(`  --as ${o.as}: ${o.fields.join('; ')}`);
  }
  return lines;
}

function isReading(v: string): v is Reading {
  return (READINGS as readonly string[]).includes(v);
}

/** Registers `hvspec explain` on the program. */
export function registerExplain(program: Command): void {
  const cmd = program
    .command('explain')
    .description(
      'decode a value in named fields: a return code, an arm64 ESR, an x86 exit reason or qualification, interruption information',
    )
    .argument('<value>', 'a number (0x hex or decimal), an HV_* return code or a VMX_REASON_* name')
    .option(
      '--as <kind>',
      `read the value as: ${READINGS.join(', ')} (default: guessed, other readings listed)`,
    )
    .option(
      '--reason <n>',
      'the value is the exit qualification of this basic exit reason (number or VMX_REASON_* name)',
    )
    .option('--json', 'print the decoding as JSON')
    .addHelpText(
      'after',
      `
Examples:
  hvspec explain 0x93810040                 an ESR: data abort from a lower EL, ISV=1, SAS=word, SRT=1, ...
  hvspec explain HV_NO_DEVICE               a return code by name (or 0xfae94006, or -- -85377018)
  hvspec explain --reason 30 0x100040       the qualification of an I/O exit: OUT of 1 byte, port 0x10
  hvspec explain --as irq 0x80000b0e        interruption information: vector 14, hardware exception`,
    );
  withExitCodes(cmd).action((value: string, o: { as?: string; reason?: string; json?: boolean }) => {
    try {
      if (o.as !== undefined && !isReading(o.as))
        throw new UsageError(`--as must be one of ${READINGS.join(', ')}, got ${JSON.stringify(o.as)}`);
      const r = explain(value, {
        ...(o.as !== undefined ? { as: o.as as Reading } : {}),
        ...(o.reason !== undefined ? { reason: parseReason(o.reason) } : {}),
      });
      process.stdout.write(o.json ? `${jsonText(r)}\n` : `${explainLines(r).join('\n')}\n`);
      process.exitCode = EXIT_OK;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`hvspec explain: ${e.message}\n`);
      process.exitCode = EXIT_USAGE;
    }
  });
}
