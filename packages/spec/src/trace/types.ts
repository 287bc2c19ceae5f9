/**
 * The trace format `hvspec-trace/1`: a JSON test vector that any backend can replay and that a VMM
 * author can read (DESIGN.md, "Traces"). These types describe the JSON exactly as written; the
 * per-call argument schemas live in one table ({@link TRACE_CALLS} in `calls.ts`), which both the parser and
 * the replayer use.
 *
 * Conventions, all enforced by `parseTrace`:
 * - Steps are numbered from 0: "step 4" is `steps[4]` of the JSON.
 * - Numbers are JSON numbers (non-negative safe integers) or hex strings (`"0x10000"`); anything above
 *   2^53 must be a hex string.
 * - Enum values are given by name (`"HV_REG_PC"`, `"VMCS_GUEST_RIP"`, `"HV_VMX_CAP_PROCBASED"`,
 *   `"HV_INTERRUPT_TYPE_IRQ"`, ...) or by number; numbers outside the enum are allowed, so that a
 *   trace can pass an illegal value on purpose.
 * - Memory flags are a list of names (`["READ","EXEC"]`, `HV_MEMORY_` prefix optional) or a number.
 *   x86 option words (`hv_vm_options_t`, `hv_vcpu_options_t`) are a name, a list of names or a number.
 * - `"$name"` refers to the out-value bound by an earlier step's `bind` (the latest such step); bytes
 *   a call gave (`hv_gic_state_get_data`, `host_read`) can be bound and passed back the same way.
 *   Host buffers are referred to by the bare name given to `host_alloc`.
 * - An async step (`"async": true`, only `hv_vcpu_run`) must carry a `label`; the step
 *   `{ "call": "await", "args": { "label": ... } }` waits for it and carries its `expect` and `bind`.
 *   Every async step is awaited exactly once.
 * @module
 */

import type { Arch } from '../backend.js';
import type { HvReturnName } from '../vocabulary/returns.js';

/** The format tag every trace carries. */
export const TRACE_FORMAT = 'hvspec-trace/1';

/** Any JSON value, as the trace's `args` hold them before conversion. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A trace: a title, an architecture and the steps to replay, in order. */
export interface Trace {
  readonly format: typeof TRACE_FORMAT;
  readonly arch: Arch;
  /** What the trace demonstrates, in one line. */
  readonly title: string;
  /** The evidence behind the expectations (hvf-facts.md sections and tags). */
  readonly description?: string;
  readonly steps: readonly Step[];
}

/** One call: an `hv_*` function of the backend interface, a host step, `x86_setup` or `await`. */
export interface Step {
  /** The logical thread making the call; 0 (the caller's own) by default. */
  readonly thread?: number;
  /** `hv_*` name, `host_alloc` / `host_write` / `host_read`, `x86_setup` or `await`. */
  readonly call: string;
  /** Arguments named after the C parameters (see `TRACE_CALLS`). */
  readonly args: { readonly [name: string]: JsonValue };
  /** What to check; only the listed fields are checked. */
  readonly expect?: Expect;
  /** Binds the call's out-value (a vCPU, a config, a register value, bytes...) to `$name`. */
  readonly bind?: string;
  /** Starts the call (`hv_vcpu_run`) without waiting; `await` with the same `label` waits for it. */
  readonly async?: boolean;
  /** The name an `await` step uses for this async step. Only on async steps. */
  readonly label?: string;
}

/** A return code by name (`"HV_BUSY"`) or number. */
export type ReturnCodeSpec = HvReturnName | number;

/** `ret` expectation: one code, any code but one, or one of several. */
export type RetExpect =
  | ReturnCodeSpec
  | { readonly not: ReturnCodeSpec }
  | { readonly oneOf: readonly ReturnCodeSpec[] };

/** A number: JSON number, hex string, an enum name where the field has one, or a `"$name"` reference. */
export type NumberSpec = number | string;

/** A numeric expectation: exact, or compared under a mask (`(got & mask) == (value & mask)`). */
export type NumericExpect = NumberSpec | { readonly value: NumberSpec; readonly mask: NumberSpec };

/** The arm64 `hv_vcpu_exit_t` as `hv_vcpu_run` leaves it; `reason` may be an `HV_EXIT_REASON_*` name. */
export interface ExitExpect {
  readonly reason?: NumericExpect;
  readonly syndrome?: NumericExpect;
  readonly virtual_address?: NumericExpect;
  readonly physical_address?: NumericExpect;
}

/** What a step checks. Which fields a call accepts is in `TRACE_CALLS`. */
export interface Expect {
  readonly ret?: RetExpect;
  /** The out-parameter: numeric (with `mask`) or boolean. */
  readonly value?: NumericExpect | boolean;
  /** arm64 `hv_vcpu_run` (or its `await`) only. */
  readonly exit?: ExitExpect;
  /**
   * arm64 `hv_vcpu_run` (or its `await`) only: the spec's name for what the guest did to make this exit
   * (one of `ARM64_EXIT_KINDS`, e.g. `arm64.wfe`, `arm64.el1.alignment.device` for an exception the guest
   * took and reported). Nothing is compared with it; on a backend that declares it never produces this
   * kind as the spec predicts (`Deviation.arm64ExitKinds`) the step is unsupported.
   */
  readonly kind?: string;
  /** `host_read` only: the bytes read, as hex. */
  readonly bytes?: string;
}

/** How a step ended in a replay. */
export type StepStatus = 'pass' | 'fail' | 'unsupported' | 'skipped';

/** The outcome of one step. */
export interface StepOutcome {
  /** Index into `trace.steps`. */
  readonly index: number;
  readonly call: string;
  readonly thread: number;
  readonly status: StepStatus;
  /** Why it failed / is unsupported / was skipped, in the spec's names (`expected HV_BUSY, got HV_SUCCESS`). */
  readonly message?: string;
  /** The code the call returned, when it made one call. */
  readonly ret?: number;
  /** x86 `hv_vcpu_run*`: spurious `VMX_REASON_IRQ` exits re-run before the reported exit. */
  readonly spuriousExits?: number;
  /**
   * Unsupported steps only: the id of the deviation the backend declared that makes the step
   * unsupported (`kvm.exec-only`), when one does; absent when the backend simply lacks the ability
   * (no guest execution, no such method).
   */
  readonly deviation?: string;
}

/** The outcome of a trace: it passes only if every step passes. */
export interface TraceReport {
  readonly title: string;
  readonly arch: Arch;
  /** `capabilities.backend` of the backend it ran on. */
  readonly backend: string;
  readonly status: 'pass' | 'fail' | 'unsupported';
  readonly steps: readonly StepOutcome[];
  /** The first step that did not pass (the failing or first unsupported one). */
  readonly firstProblem?: StepOutcome;
  /** Total spurious exits skipped over the whole trace (reported, not hidden). */
  readonly spuriousExits: number;
}
