/**
 * `@hvspec/bench` — tinybench suites for hvspec: the model's guest throughput and exit round trip,
 * and the native exit loop through the JS API against its C baseline, measured side by side in one
 * run; a JSON report with the performance targets' ratios; and an A/B `compare` of two reports.
 * @packageDocumentation
 */

export {
  type CompareOptions,
  type Comparison,
  compare,
  renderComparison,
  type TaskComparison,
  type Verdict,
} from './compare.js';
export {
  arm64ExitLoopProgram,
  arm64ThroughputProgram,
  BENCH_PORT,
  CODE_GPA,
  type GuestProgram,
  x86ExitLoopProgram,
  x86ThroughputProgram,
} from './guests.js';
export {
  BENCH_SCHEMA,
  type BenchReport,
  type BenchUnit,
  checkReport,
  computeRatios,
  describeMachine,
  formatNs,
  formatRate,
  type MachineInfo,
  RATIO_DEFINITIONS,
  type RatioReport,
  renderReport,
  type SkippedTask,
  type Target,
  type TaskReport,
  taskReport,
} from './report.js';
export { mannWhitney, type OneSidedTest, type Summary, studentUpperTail, summarize, welch } from './stats.js';
export {
  MODEL_EXITS_PER_ITERATION,
  NATIVE_EXITS_PER_ITERATION,
  nativeTaskNames,
  type RunOptions,
  runBench,
  THROUGHPUT_ITERATIONS,
} from './suites.js';
