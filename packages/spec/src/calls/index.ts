/**
 * The registry of `hv_*` functions: one entry per function and flavour, with its C signature, thread
 * rule, availability and rule rows with evidence. Everything else that names a function or its
 * parameters derives from it.
 * @module
 */
export { showRet } from './dsl.js';
export {
  type BindKind,
  IN,
  type InKind,
  type InType,
  KIND_BITS,
  OUT,
  type OutKind,
  type OutType,
  type TraceArgType,
  VOCABS,
  type Vocab,
  vocabName,
} from './params.js';
export { fullyMapped, mappingAt, mappingsIn, overlaps, protectRange, unmapRange } from './ranges.js';
export {
  allRuleIds,
  callSpec,
  callSpecs,
  inParams,
  judge,
  predict,
  valueParam,
  valueParams,
  valueType,
} from './registry.js';
export type {
  AppleHeader,
  CallSpec,
  Evidence,
  InParam,
  Judgement,
  Outcome,
  OutParam,
  Param,
  RetRule,
  Row,
  SpecCall,
} from './types.js';
export { EVIDENCE_TAG } from './types.js';
