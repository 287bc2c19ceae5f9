/**
 * What `lintTrace` reports: findings, each naming the rule it comes from (a registry row such as
 * `hv_vm_map.misaligned`, or an exit-handling rule such as `exit.x86.io`), the evidence behind that
 * rule, and the trace step where the VMM broke or relied on it.
 * @module
 */
import type { Arch } from '../backend.js';
import type { Evidence } from '../calls/types.js';

/**
 * What kind of problem a finding is:
 * - `misuse`: the call is one the framework refuses (the row that decides it is not HV_SUCCESS);
 * - `dangerous`: the call was reported to panic a real host (a row marked `dangerous`);
 * - `unhandled-exit`: the vCPU ran again without doing what its last exit needs (RIP not advanced past
 *   an I/O instruction, an MMIO access neither emulated nor mapped, ...);
 * - `may-fail`: the framework documents that the call may fail here (a row whose result is open);
 * - `unverified`: the VMM relies on a rule that is still an inference ([U] in hvf-facts.md);
 * - `spec-mismatch`: the backend that recorded the trace answered differently from the spec (a finding
 *   about the backend or the spec, not about the VMM).
 */
export type FindingKind =
  | 'misuse'
  | 'dangerous'
  | 'unhandled-exit'
  | 'may-fail'
  | 'unverified'
  | 'spec-mismatch';

/** Errors make `hvspec lint` exit 1; warnings are printed only. */
export type Severity = 'error' | 'warning';

/** One problem, at one step (or, for aggregated warnings, first seen at one step). */
export interface Finding {
  /** The rule: a registry row id (`hv_vm_map.misaligned`) or an exit rule (`exit.x86.io`). */
  readonly rule: string;
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** Index into the trace's `steps` (the first occurrence, for aggregated warnings). */
  readonly step: number;
  readonly call: string;
  readonly thread: number;
  /** The call as the trace spells it, on one line. */
  readonly text: string;
  /** What the rule says and what happened, in the spec's names. */
  readonly message: string;
  readonly evidence: Evidence;
  /** Where the evidence comes from (an hvf-facts.md section and its source). */
  readonly source: string;
  /** Other steps involved: the exit an `unhandled-exit` finding is about. */
  readonly related?: readonly number[];
  /** How many calls relied on the rule (aggregated `unverified` and `may-fail` warnings). */
  readonly count?: number;
}

/** The verdict on one trace. */
export interface LintReport {
  /** The file it was read from, when the caller says. */
  readonly file?: string;
  readonly title: string;
  readonly arch: Arch;
  readonly steps: number;
  readonly findings: readonly Finding[];
  readonly errors: number;
  readonly warnings: number;
}
