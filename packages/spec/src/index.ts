/**
 * `@hvspec/spec` — the executable specification of Apple's Hypervisor.framework `hv_*` API.
 *
 * The package's API, chosen rather than re-exported wholesale: the backend contract, the registry of
 * calls with its rows, the vocabulary and argument checks, whole; of the guest programs, the harness,
 * traces, lint and the judge, what the other packages and a VMM's tests use, with the types their
 * signatures name. Everything else stays inside its module.
 * @packageDocumentation
 */

export * from './arm64-configs.js';
export {
  type Arm64GicCall,
  type Arm64GicSite,
  Arm64Gics,
  type Arm64GicVcpu,
  type Arm64GicVm,
  installArm64GicCalls,
} from './arm64-gic.js';
export {
  type GicBitState,
  type GicBitWrite,
  GicCpuInterface,
  GicDevice,
  type GicLayout,
  gicRegisterArray,
  softwareGicParameters,
} from './arm64-gic-device.js';
export * from './arm64-vcpu-flags.js';
export * from './backend.js';
export * from './calls/index.js';
export { cDeclaration } from './codegen/c-headers.js';
export { ARM64_ARG_CHECKS, X86_ARG_CHECKS } from './generated/arg-checks.js';
export {
  ARM64_SYSREGS,
  type Arm64AccessSize,
  type Arm64Action,
  type Arm64RegNum,
  type Arm64StartMode,
  type Arm64SysregName,
  type BranchAction,
  type BrkAction,
  type DaifAction,
  type EretAction,
  formatArm64Action,
  type HvcAction,
  type LdrAction,
  type MovAction,
  type SmcAction,
  type StrAction,
  type SvcAction,
  type SysregAction,
  type UdfAction,
  type VtimerAction,
  type WfeAction,
  type WfiAction,
} from './guest/arm64/actions.js';
export {
  A64,
  type Arm64ActionLayout,
  type Arm64Program,
  assembleArm64,
  wordsToBytes,
} from './guest/arm64/assemble.js';
export {
  ARM64_EC,
  type DataAbortFields,
  type DecodedEsr,
  decodeEsr,
  esrDataAbort,
  esrInstructionAbort,
  esrNoIss,
  type SysregTrapFields,
} from './guest/arm64/esr.js';
export type {
  Arm64Granule,
  Arm64MmuConfig,
  Arm64S1BadTable,
  Arm64S1Entry,
} from './guest/arm64/mmu.js';
export {
  type Arm64GuestException,
  type Arm64MappingLookup,
  type Arm64PredictedExit,
  type Arm64PredictInput,
  type Arm64Prediction,
  predictArm64,
} from './guest/arm64/predict.js';
export {
  ARM64_PSTATE_V80_MASK,
  type Arm64Layout,
  type Arm64LayoutMapping,
  type Arm64Scenario,
  type Arm64TraceOptions,
  arm64Idst,
  arm64Lse2,
  arm64ScenarioArb,
  arm64ScenarioTraceSteps,
  predictArm64Scenario,
} from './guest/arm64/scenario.js';
export {
  ARM64_EXIT_KINDS,
  type Arm64ExitKind,
  type Arm64VmmDecision,
  type Arm64VmmQuery,
} from './guest/arm64/vmm.js';
export {
  describeX86Action,
  X86_MODES,
  type X86Action,
  type X86AddressForm,
  type X86Cr,
  type X86Dr,
  type X86Gpr,
  type X86JumpTarget,
  type X86Mode,
  type X86Program,
  type X86Size,
} from './guest/x86/actions.js';
export {
  assembleX86,
  type X86AssembledAction,
  type X86Assembly,
  type X86Instruction,
} from './guest/x86/assemble.js';
export {
  basicExitReason,
  decodeEptQualification,
  decodeInterruptionInfo,
  decodeIoQualification,
  EPT_QUALIFICATION_MASK,
  type EptAccess,
  type EptQualification,
  exitReasonName,
  IDT_VECTOR_INFO_INVALID_MASK,
  IDT_VECTOR_INFO_MASK,
  type InterruptionInfo,
  type InterruptionType,
  type IoQualification,
  isEntryFailure,
  VMEXIT_IRQ_INFO_MASK,
} from './guest/x86/exits.js';
export {
  type X86PageTables,
  type X86PagingMode,
  x86CanonicalPageTables,
  x86PageTablesSize,
} from './guest/x86/paging.js';
export {
  defaultX86Answer,
  type ExceptionName as X86ExceptionName,
  predictX86,
  X86_EXIT_KINDS,
  type X86ExceptionKind,
  type X86ExitKind,
  type X86ExpectedExit,
  type X86PredictInput,
  type X86Prediction,
  type X86RegName,
  type X86VmmQuestion,
} from './guest/x86/predict.js';
export {
  predictX86Scenario,
  type X86Layout,
  type X86LayoutMapping,
  type X86Scenario,
  x86ScenarioArb,
} from './guest/x86/scenario.js';
export { X86_SETUP_CPU_BASED, X86_SETUP_MODES, type X86SetupMode, x86SetupSteps } from './guest/x86/setup.js';
export * from './harness/index.js';
export * from './judge/index.js';
export * from './lint/index.js';
export {
  envFromCapabilities,
  initialState,
  type Mapping,
  type SpecEnv,
  type SpecGic,
  type SpecGicConfig,
  type SpecGicState,
  type SpecState,
  type SpecVcpu,
  type SpecVm,
  type SpecVmConfig,
} from './state.js';
export * from './trace/index.js';
export * from './validate.js';
export * from './vocabulary/arm64.js';
export * from './vocabulary/memory.js';
export * from './vocabulary/returns.js';
export * from './vocabulary/x86.js';
