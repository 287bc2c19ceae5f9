/**
 * The shape of a rule table. Every `hv_*` function the spec models has a {@link CallSpec}: its
 * parameters, thread rule and an ordered list of {@link Row}s. The first row whose precondition holds
 * decides the result: a return code (or a loose "anything but HV_SUCCESS"), the out-value and the
 * state change. Each row carries the evidence for it, as hvf-facts.md tags it.
 * @module
 */
import type { Arch, ThreadId } from '../backend.js';
import type { SpecEnv, SpecState } from '../state.js';

/**
 * How we know a row: `header` — Apple's header or documentation ([H]); `tested` — code or tests that
 * ran on the real framework ([T]); `reported` — a single third-party report ([R]); `unverified` —
 * inference, encoded only as a loose rule or marked as such ([U]).
 */
export type Evidence = 'header' | 'tested' | 'reported' | 'unverified';

/** The tag hvf-facts.md uses for each evidence level. */
export const EVIDENCE_TAG: Record<Evidence, string> = {
  header: 'H',
  tested: 'T',
  reported: 'R',
  unverified: 'U',
};

/** What a row says about the return code. */
export type RetRule =
  /** Exactly this code. */
  | { readonly kind: 'code'; readonly code: number }
  /** Any code but HV_SUCCESS, and the state is unchanged: Apple's code is not known. */
  | { readonly kind: 'not-success' }
  /** Any code; the row's effect says what success and failure each mean. */
  | { readonly kind: 'any' };

/** A call as the spec sees it: the C function name, the logical thread, and the C-named arguments. */
export interface SpecCall {
  readonly name: string;
  readonly t: ThreadId;
  readonly args: Readonly<Record<string, unknown>>;
}

/** What the backend answered. */
export interface Outcome {
  readonly ret: number;
  readonly value?: unknown;
}

/** One row of a rule table. */
export interface Row {
  /** Stable id within the call, e.g. `vm-exists`; the full id is `hv_vm_create.vm-exists`. */
  readonly id: string;
  /** The precondition, in words, for the reference. */
  readonly when: string;
  readonly applies: (s: SpecState, c: SpecCall) => boolean;
  readonly ret: RetRule;
  /** What happens, in words (state change, out-value), for the reference. */
  readonly result?: string;
  readonly evidence: Evidence;
  /** Where the evidence comes from (a hvf-facts.md section and its source). */
  readonly source: string;
  /**
   * The exact out-value the spec predicts in this state, when it predicts one (undefined: no
   * prediction). Checked on HV_SUCCESS, and written into counterexample traces.
   */
  readonly expect?: (s: SpecState, c: SpecCall) => unknown;
  /**
   * Checks the out-value of a conforming call; returns a description of the mismatch, or undefined.
   * Called only when the result is HV_SUCCESS.
   */
  readonly value?: (s: SpecState, c: SpecCall, value: unknown) => string | undefined;
  /** The state change, applied after a conforming result (for `not-success` rows: never). */
  readonly effect?: (s: SpecState, c: SpecCall, o: Outcome) => void;
  /** Why this call is unsafe on real hardware; native runs never make it. */
  readonly dangerous?: string;
  /**
   * The row can only apply in some host environments (e.g. a host without the 4 KiB IPA granule);
   * coverage counts it only where this holds.
   */
  readonly requires?: (env: SpecEnv) => boolean;
}

/** A parameter of an `hv_*` function. */
export interface Param {
  readonly name: string;
  readonly dir: 'in' | 'out';
  /** The C type, as in Apple's header. */
  readonly type: string;
  readonly doc: string;
}

/** Everything the spec says about one `hv_*` function on one architecture. */
export interface CallSpec {
  readonly name: string;
  readonly arch: Arch;
  readonly summary: string;
  /** The macOS version that introduced it. */
  readonly availability: string;
  /** `owner`: only the vCPU's owning thread; `any`: any thread; `process`: any thread of the process. */
  readonly thread: 'owner' | 'any' | 'process';
  readonly params: readonly Param[];
  readonly rows: readonly Row[];
}

/** The spec's verdict on one call. */
export interface Judgement {
  readonly call: SpecCall;
  readonly row: Row;
  /** `${call}.${row}`. */
  readonly ruleId: string;
  readonly ok: boolean;
  /** What did not match, in the spec's names. */
  readonly mismatch?: string;
}
