/**
 * `@hvspec/spec` — the executable specification of Apple's Hypervisor.framework `hv_*` API.
 * @packageDocumentation
 */

export * from './backend.js';
export * from './guest/arm64/actions.js';
export * from './guest/arm64/assemble.js';
export * from './guest/arm64/esr.js';
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
export * from './rules/index.js';
export { fullyMapped, mappingAt, mappingsIn, overlaps, protectRange, unmapRange } from './rules/ranges.js';
export * from './state.js';
export * from './trace/index.js';
export * from './validate.js';
export * from './vocabulary/arm64.js';
export * from './vocabulary/memory.js';
export * from './vocabulary/returns.js';
export * from './vocabulary/x86.js';
