/**
 * The conformance harness: fast-check model-based testing of any backend against the spec.
 * @module
 */

export { resolveVcpu, THREADS, type VcpuChoice, vcpuChoice } from './choices.js';
export {
  CallCommand,
  HostAllocCommand,
  type HvCommand,
  lifecycleCommands,
  type Weighted,
} from './commands.js';
export type { LogEntry, Model, Observation, OpenDifference, Real } from './context.js';
export { describeCall, describeValue } from './describe.js';
export {
  DiffBackend,
  type Difference,
  type DiffingBackend,
  describeDifference,
  diffBackends,
} from './diff.js';
export { ConformanceError, execute, SequenceEnd } from './execute.js';
export { GuestCommand, guestCommands, SpinCancelCommand } from './guest.js';
export { invoke, positionalArgs } from './invoke.js';
export { checkMisuse, type MisuseOptions, type MisuseReport } from './misuse.js';
export {
  RACES,
  type RaceName,
  type RaceOptions,
  type RaceReport,
  type RaceScenario,
  runRace,
} from './races.js';
export {
  type CommandSource,
  type ConformanceOptions,
  type ConformanceReport,
  type DifferenceGroup,
  runConformance,
  type Shard,
  shardRun,
} from './run.js';
export { isModelledCall, logToTrace, type TraceJson, type TraceStepJson } from './to-trace.js';
