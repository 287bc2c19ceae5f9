/**
 * Traces: the language-neutral test vectors of hvspec (`hvspec-trace/1`), their parser, replayer and
 * `x86_setup` expansion. The spec's `index.ts` re-exports this module.
 * @module
 */

export {
  type BindKind,
  type OutKind,
  type TraceArgSpec,
  type TraceArgType,
  type TraceCallKind,
  type TraceCallSpec,
  traceCallArchs,
  traceCallSpec,
  VOCABS,
  type Vocab,
} from './calls.js';
export { FieldError } from './convert.js';
export { parseTrace, TraceError } from './parse.js';
export { expandTrace, type ReplayOptions, replayTrace, type X86SetupFn } from './replay.js';
export * from './types.js';
