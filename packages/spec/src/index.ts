/**
 * `@hvspec/spec` — the executable specification of Apple's Hypervisor.framework `hv_*` API.
 * @packageDocumentation
 */

export * from './arm64-configs.js';
export * from './backend.js';
export * from './calls/index.js';
export { cDeclaration } from './codegen/c-headers.js';
export { ARM64_ARG_CHECKS, X86_ARG_CHECKS } from './generated/arg-checks.js';
export * from './guest/arm64/actions.js';
export * from './guest/arm64/assemble.js';
export * from './guest/arm64/esr.js';
export * from './guest/arm64/mmu.js';
export * from './guest/arm64/predict.js';
export * from './guest/arm64/scenario.js';
export * from './guest/arm64/vmm.js';
export * from './guest/x86/actions.js';
export * from './guest/x86/assemble.js';
export * from './guest/x86/exits.js';
export * from './guest/x86/paging.js';
export * from './guest/x86/predict.js';
export * from './guest/x86/scenario.js';
export * from './guest/x86/setup.js';
export * from './harness/index.js';
// The judge's decoders (what `hvspec explain` prints); its `describeValue` stays inside, as the
// harness's is the one exported under that name.
export {
  type Arm64ExitExpectation,
  describeArm64Reason,
  describeEsr,
  describeExitReason,
  describeInterruptionInfo,
  describeQualification,
  describeReturn,
  describeVmxExit,
  type Expected,
  esrFields,
  exceptionClassName,
  type FieldId,
  type FieldMismatch,
  fieldName,
  formatMismatch,
  isNamedExceptionClass,
  type JudgeContext,
  judgeArm64Exit,
  judgeField,
  qualificationFields,
} from './judge/index.js';
export * from './lint/index.js';
export * from './state.js';
export * from './trace/index.js';
export * from './validate.js';
export * from './vocabulary/arm64.js';
export * from './vocabulary/memory.js';
export * from './vocabulary/returns.js';
export * from './vocabulary/x86.js';
