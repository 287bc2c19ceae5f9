/**
 * The two halves of a conformance run: the fast-check *model* (the spec's state plus bookkeeping the
 * spec needs to name things) and the *real* side (the backend under test and the call log).
 * @module
 */
import type { Backend, HostMemory } from '../backend.js';
import type { Judgement, Outcome, Row, SpecCall } from '../calls/types.js';
import type { SpecState } from '../state.js';

/** One line of the call log: what was called, what came back, and the spec's verdict. */
export type LogEntry =
  | {
      readonly kind: 'call';
      readonly call: SpecCall;
      readonly outcome: Outcome;
      readonly judgement: Judgement;
      /** The out-value the spec predicted, when it predicted one. */
      readonly expected?: unknown;
    }
  | { readonly kind: 'host_alloc'; readonly mem: HostMemory }
  | {
      readonly kind: 'host_write';
      readonly mem: HostMemory;
      readonly offset: number;
      readonly bytes: Uint8Array;
    }
  | { readonly kind: 'skipped'; readonly call: SpecCall; readonly why: string }
  /** Steps a guest command emits for the trace. */
  | {
      readonly kind: 'guest';
      /** The trace steps, given the trace's name (`vcpuName`) of each vCPU handle the steps refer to. */
      readonly render: (vcpuName: (handle: number) => string) => readonly unknown[];
    };

/** The fast-check model. */
export interface Model {
  readonly state: SpecState;
  /** Host buffers by id, as the backend returned them. */
  readonly mems: Map<number, HostMemory>;
  /**
   * Buffers that hold guest code: the mapping commands leave them alone, so that no data mapping
   * aliases a program's code (the predictions assume guest memory is not aliased).
   */
  readonly codeMems: Set<number>;
  /** Rule ids hit. */
  readonly coverage: Set<string>;
  /** Guest exit kinds hit. */
  readonly exits: Set<string>;
  /** Differential mode: where the two backends answered differently on behaviour the spec leaves open. */
  readonly differences: OpenDifference[];
}

/**
 * Differential mode: one call on which the backends answered differently where the spec leaves the
 * outcome open. `a` and `b` are what each answered: return-code names, or the values when both
 * succeeded.
 */
export interface OpenDifference {
  readonly ruleId: string;
  /**
   * `outcome`: one backend succeeded and the other did not (the row allows either); `code`: both
   * failed, with different codes (the row says only "not HV_SUCCESS"); `value`: both succeeded with
   * values the spec does not predict.
   */
  readonly kind: 'outcome' | 'code' | 'value';
  readonly a: string;
  readonly b: string;
  /** The call and the difference on one line. */
  readonly what: string;
}

/** A call the harness made, as an observer sees it (see {@link Real.observe}). */
export interface Observation {
  readonly call: SpecCall;
  readonly row: Row;
  readonly ruleId: string;
  readonly outcome: Outcome;
  readonly judgement: Judgement;
  /** The call log up to and including this call: the sequence that reached the row. */
  readonly log: readonly LogEntry[];
}

/** The side under test. */
export interface Real {
  readonly backend: Backend;
  readonly log: LogEntry[];
  /** Whether calls the spec marks dangerous may be made (only on the model). */
  readonly allowDangerous: boolean;
  /** Called after every judged call (`hvspec probe` records what the backend answered per row). */
  readonly observe?: (o: Observation) => void;
  /**
   * A mismatch this returns true for ends the sequence quietly instead of failing the run: the spec's
   * state no longer describes the backend, so the sequence cannot go on, but it is no failure (a
   * probe of unverified rows expects them).
   */
  readonly tolerate?: (j: Judgement) => boolean;
}
