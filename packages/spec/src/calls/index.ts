/**
 * The registry of `hv_*` functions: one entry per function and flavour, with its C signature, thread
 * rule, availability and rule rows with evidence. Everything else that names a function or its
 * parameters derives from it.
 * @module
 */

export { showRet } from './dsl.js';
export type {
  BindKind,
  HandleKind,
  InKind,
  InType,
  ObjectKind,
  OutKind,
  OutType,
  TraceArgType,
  Vocab,
} from './params.js';
export {
  allRuleIds,
  callSpec,
  callSpecs,
  inParams,
  judge,
  predict,
  valueParam,
  valueParams,
} from './registry.js';
export * from './types.js';
