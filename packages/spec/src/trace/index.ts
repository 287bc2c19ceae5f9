/**
 * Traces: the language-neutral test vectors of hvspec (`hvspec-trace/1`), their parser, replayer and
 * `x86_setup` expansion. The spec's `index.ts` re-exports this module.
 * @module
 */

export { parseTrace, TraceError } from './parse.js';
export { expandTrace, type ReplayOptions, replayTrace, type X86SetupFn } from './replay.js';
export {
  type ExitExpect,
  type Expect,
  type JsonValue,
  type NumberSpec,
  type NumericExpect,
  type RetExpect,
  type ReturnCodeSpec,
  type Step,
  type StepOutcome,
  type StepStatus,
  TRACE_FORMAT,
  type Trace,
  type TraceReport,
} from './types.js';
