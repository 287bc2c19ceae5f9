/**
 * The two halves of a conformance run: the fast-check *model* (the spec's state plus bookkeeping the
 * spec needs to name things) and the *real* side (the backend under test and the call log).
 * @module
 */
import type { Backend, HostMemory } from '../backend.js';
import type { Judgement, Outcome, SpecCall } from '../calls/types.js';
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
  /** Steps a guest command emits for the trace, given the trace's name of a vCPU handle. */
  | { readonly kind: 'guest'; readonly render: (vcpuName: (handle: number) => string) => readonly unknown[] };

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
  readonly differences: { ruleId: string; what: string }[];
}

/** The side under test. */
export interface Real {
  readonly backend: Backend;
  readonly log: LogEntry[];
  /** Whether calls the spec marks dangerous may be made (only on the model). */
  readonly allowDangerous: boolean;
}
