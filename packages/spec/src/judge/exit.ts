/**
 * The one exit judge: compares what a backend answered with what the spec (or a trace) expects, field
 * by field under masks, and renders each mismatch with the fields decoded (return-code names, ESR
 * fields, exit reasons, qualification bits, interruption information). The conformance harness, the
 * guest-program scenarios and trace replay all judge exits here.
 * @module
 */
import type { Arm64Exit } from '../backend.js';
import { exitReasonName } from '../guest/x86/exits.js';
import { VMCS, vmcsFieldName } from '../vocabulary/x86.js';
import {
  describeArm64Reason,
  describeEsr,
  describeInterruptionInfo,
  describeQualification,
  describeReturn,
} from './describe.js';

/** What is being judged: a return code, a field of the arm64 exit record, a VMCS field, or a plain value. */
export type FieldId =
  | { readonly kind: 'ret' }
  | { readonly kind: 'arm64'; readonly name: 'reason' | 'syndrome' | 'virtual_address' | 'physical_address' }
  | { readonly kind: 'vmcs'; readonly field: number }
  /** A plain value; `names` spells it by an enum's names where it has one (`HV_IPA_GRANULE_16KB`). */
  | { readonly kind: 'value'; readonly name: string; readonly names?: ReadonlyMap<string, bigint> };

/** An expected value: `(got & mask) === (value & mask)`. */
export interface Expected {
  readonly value: bigint;
  readonly mask: bigint;
}

/** What the decoder may use beside the value: the basic exit reason the value belongs to (x86). */
export interface JudgeContext {
  readonly exitReason?: number;
}

/** One field that did not match, rendered for a person. */
export interface FieldMismatch {
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const FULL: Readonly<Record<number, bigint>> = { 32: 0xffff_ffffn, 64: 0xffff_ffff_ffff_ffffn };

/** The name a field is reported under. */
export function fieldName(id: FieldId): string {
  switch (id.kind) {
    case 'ret':
      return 'ret';
    case 'arm64':
      return `exit.${id.name}`;
    case 'vmcs':
      return vmcsFieldName(id.field);
    case 'value':
      return id.name;
  }
}

/** The words after a value, when the field has a decoding. */
function decoding(id: FieldId, value: bigint, ctx: JudgeContext): string | undefined {
  switch (id.kind) {
    case 'ret':
      return undefined;
    case 'arm64':
      return id.name === 'syndrome' ? describeEsr(value) : undefined;
    case 'vmcs':
      switch (id.field) {
        case VMCS.VMCS_RO_EXIT_QUALIFIC:
          return ctx.exitReason === undefined ? undefined : describeQualification(ctx.exitReason, value);
        case VMCS.VMCS_RO_VMEXIT_IRQ_INFO:
        case VMCS.VMCS_RO_IDT_VECTOR_INFO:
          return describeInterruptionInfo(value);
        default:
          return undefined;
      }
    case 'value':
      return undefined;
  }
}

/** The name of an enum-like value (exit reasons, named values), spelt before its number. */
function nameOf(id: FieldId, value: bigint): string | undefined {
  if (id.kind === 'arm64' && id.name === 'reason') return describeArm64Reason(Number(value));
  if (id.kind === 'vmcs' && id.field === VMCS.VMCS_RO_EXIT_REASON) return exitReasonName(value);
  if (id.kind === 'value') for (const [name, v] of id.names ?? []) if (v === value) return name;
  return undefined;
}

/**
 * A value of a field as the judge spells it: a return code or an enum by name (`VMX_REASON_IO (0x1e)`),
 * a composite field in hex with its fields decoded (`0x93810040 (data abort from a lower EL, ...)`).
 */
export function describeValue(id: FieldId, value: bigint, ctx: JudgeContext = {}): string {
  if (id.kind === 'ret') return describeReturn(Number(value));
  const name = nameOf(id, value);
  if (name) return `${name} (${hex(value)})`;
  const d = decoding(id, value, ctx);
  return d ? `${hex(value)} (${d})` : hex(value);
}

/**
 * Judges one field. `got` undefined means the backend produced no value (the call failed, or the exit
 * record is missing). Returns the mismatch, or undefined when `(got & mask) === (value & mask)`.
 */
export function judgeField(
  id: FieldId,
  want: Expected,
  got: bigint | undefined,
  ctx: JudgeContext = {},
): FieldMismatch | undefined {
  if (got !== undefined && (got & want.mask) === (want.value & want.mask)) return undefined;
  const full = want.mask === FULL[32] || want.mask === FULL[64] || want.mask === (1n << 128n) - 1n;
  const expected = full
    ? describeValue(id, want.value, ctx)
    : `${describeValue(id, want.value & want.mask, ctx)} under mask ${hex(want.mask)}`;
  return {
    field: fieldName(id),
    expected,
    got: got === undefined ? 'no value' : describeValue(id, got, ctx),
  };
}

/** The fields of an arm64 exit record a prediction or a trace may pin down. */
export type Arm64ExitExpectation = Partial<
  Record<'reason' | 'syndrome' | 'virtual_address' | 'physical_address', Expected>
>;

/** Judges an arm64 exit record; the reason first (when it differs, the other fields mean nothing). */
export function judgeArm64Exit(want: Arm64ExitExpectation, got: Arm64Exit | undefined): FieldMismatch[] {
  const read = (name: keyof Arm64ExitExpectation): bigint | undefined =>
    got === undefined ? undefined : name === 'reason' ? BigInt(got.reason) : got.exception[name];
  if (want.reason) {
    const m = judgeField({ kind: 'arm64', name: 'reason' }, want.reason, read('reason'));
    if (m) return [m];
  }
  const out: FieldMismatch[] = [];
  for (const name of ['syndrome', 'virtual_address', 'physical_address'] as const) {
    const w = want[name];
    if (!w) continue;
    const m = judgeField({ kind: 'arm64', name }, w, read(name));
    if (m) out.push(m);
  }
  return out;
}

/** `field: expected X, got Y` — the one-line form traces and reports print. */
export function formatMismatch(m: FieldMismatch): string {
  return `${m.field}: expected ${m.expected}, got ${m.got}`;
}
