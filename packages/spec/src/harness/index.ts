/**
 * The conformance harness: fast-check model-based testing of any backend against the spec.
 * @module
 */

export type { HvCommand, Weighted } from './commands.js';
export type {
  LogEntry,
  Model,
  Observation,
  OpenDifference,
  Real,
} from './context.js';
export { DiffBackend, type Difference, type DiffingBackend, diffBackends } from './diff.js';
export { ConformanceError } from './execute.js';
export { checkMisuse, type MisuseOptions, type MisuseReport } from './misuse.js';
export {
  RACES,
  type RaceName,
  type RaceOptions,
  type RaceReport,
  type RaceScenario,
  runRace,
  seededRandom,
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
export { logToTrace, type TraceJson } from './to-trace.js';
