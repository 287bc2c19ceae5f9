/**
 * `@hvspec/bench` — tinybench suites for hvspec: the model's guest throughput and exit round trip,
 * and the native exit loop through the JS API against its C baseline, measured side by side in
 * interleaved rounds (each in its own process by default) on the process's CPU time, leaving out
 * iterations taken while the host ran slowed; a JSON report with the performance targets; an HTML
 * report with SVG charts (distributions, targets, history across saved runs); an A/B `compare` of
 * two reports; and the command line behind `hvspec bench` (`runBenchCli`).
 * @packageDocumentation
 */

export { BENCH_USAGE, type CliIo, runBenchCli, UsageError } from './cli.js';
export { type BenchClock, benchClock, type ClockName } from './clock.js';
export {
  type CompareOptions,
  type Comparison,
  compare,
  renderComparison,
  type TaskComparison,
  type Verdict,
} from './compare.js';
export { RoundError, runBenchForked } from './fork.js';
export { formatNs, formatRate } from './format.js';
export {
  arm64ExitLoopProgram,
  arm64ThroughputProgram,
  BENCH_PORT,
  CODE_GPA,
  type GuestProgram,
  x86ExitLoopProgram,
  x86ThroughputProgram,
} from './guests.js';
export { type HtmlHistory, renderHtml } from './html.js';
export {
  buildReport,
  type MeasuredTask,
  type Measurement,
  mergeMeasurements,
  type RoundTimes,
  referenceFloorMs,
} from './measurement.js';
export { type HistoryEntry, htmlPathFor, loadHistory, OutputError, saveToHistory } from './output.js';
export { REFERENCE_VERSION, referenceWorkload } from './reference.js';
export {
  BENCH_SCHEMA,
  type BenchOptions,
  type BenchReport,
  type BenchUnit,
  checkReport,
  describeMachine,
  HOST_SLOW_FACTOR,
  type MachineInfo,
  type OtherExits,
  READABLE_SCHEMAS,
  renderReport,
  type SkippedTask,
  type TaskReport,
  taskReport,
} from './report.js';
export { mannWhitney, type OneSidedTest, type Summary, studentUpperTail, summarize, welch } from './stats.js';
export {
  FULL_DEFAULTS,
  MODEL_EXITS_PER_ITERATION,
  measure,
  NATIVE_EXITS_PER_ITERATION,
  nativeTaskNames,
  QUICK_DEFAULTS,
  type RunOptions,
  runBench,
  THROUGHPUT_ITERATIONS,
} from './suites.js';
export {
  computeRatios,
  formatTargetValue,
  RATIO_DEFINITIONS,
  type RatioReport,
  type Target,
  type TargetDefinition,
} from './targets.js';
