/**
 * The shape of the registry. Every `hv_*` function the spec models has one {@link CallSpec} per flavour:
 * its C signature (parameters in order, direction, C type, trace vocabulary, doc), availability,
 * thread rule, and an ordered list of {@link Row}s. The first row whose precondition holds decides the
 * result: a return code (or a loose "anything but HV_SUCCESS"), the out-value and the state change.
 * Each row carries the evidence for it, as hvf-facts.md tags it.
 *
 * Everything else that names a function or its parameters is derived from these entries: the backend
 * method types, the harness's argument order, trace parsing and rendering, the native addon's argument
 * table, the C headers and the reference pages.
 * @module
 */
import type { Arch, ThreadId } from '../backend.js';
import type { SpecEnv, SpecState } from '../state.js';
import type { InType, OutType, Vocab } from './params.js';

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
  /** The precondition as code: whether this row decides `c` in state `s` (rows are tried in order). */
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

/** An `in` parameter of an `hv_*` function. */
export interface InParam {
  readonly name: string;
  readonly dir: 'in';
  readonly type: InType;
  readonly doc: string;
  /** `uva` only: the parameter giving the number of bytes the host range spans. */
  readonly extent?: string;
  /** `uva` only: on HV_SUCCESS the memory is freed (`hv_vm_deallocate`): it is no longer the VMM's. */
  readonly frees?: boolean;
}

/** An `out` parameter of an `hv_*` function. */
export interface OutParam {
  readonly name: string;
  readonly dir: 'out';
  readonly type: OutType;
  readonly doc: string;
  /**
   * Where C carries it: a pointer parameter (default), the function's return value (`hv_vm_config_create`
   * returns the object), or nowhere (the arm64 exit record, which `hv_vcpu_run` leaves behind the
   * pointer `hv_vcpu_create` handed out, and which the JS API returns with every run).
   */
  readonly c?: 'param' | 'return' | 'none';
}

/** A parameter of an `hv_*` function. */
export type Param = InParam | OutParam;

/** Apple's headers, by file name inside `Hypervisor.framework/Headers`. */
export type AppleHeader =
  | 'hv.h'
  | 'hv_vmx.h'
  | 'hv_vm.h'
  | 'hv_vm_config.h'
  | 'hv_vcpu.h'
  | 'hv_vcpu_config.h'
  | 'hv_vm_allocate.h'
  | 'hv_gic.h'
  | 'hv_gic_config.h'
  | 'hv_gic_parameters.h'
  | 'hv_gic_state.h';

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
  /** The header that declares it (for the generated C headers). */
  readonly header: AppleHeader;
  /** Deprecation note, when Apple deprecated it. */
  readonly deprecated?: string;
  /** Executes guest code: a trace step running it is unsupported on a backend without guest execution. */
  readonly runsGuest?: boolean;
  /** Has an `*_async` form on the backend (a run another thread can cancel). */
  readonly async?: boolean;
  /**
   * Names usable for the out-value in a trace's `expect.value`, given the converted `in` arguments, when
   * they depend on them (a VMCS read of the exit reason takes `VMX_REASON_*` names).
   */
  readonly valueVocab?: (args: readonly unknown[]) => Vocab | undefined;
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
