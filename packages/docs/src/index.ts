/**
 * `@hvspec/docs` — the hvspec reference site, generated from the spec's registry of `hv_*` functions:
 * one page per function and flavour (every rule row with its evidence and the line of the spec that
 * states it, the exits, the backends' deviations, an example replayed on the model), overview pages
 * (lifecycles derived from the rows, exit decoding, return codes, unverified rows, evidence, backends),
 * client-side search, and the typedoc API reference of every package.
 * @packageDocumentation
 */
export {
  type BackendInfo,
  type BackendLoaders,
  describeBackends,
  deviationTouches,
  type El2Module,
  type NativeModule,
} from './backends.js';
export { type CallPageContext, callPageContext, renderCallPage, type ThreadWords } from './call-page.js';
export {
  ARCHES,
  type CallEntry,
  callEntry,
  callPage,
  collectSiteData,
  type RowEntry,
  type SiteData,
  type TouchingDeviation,
} from './data.js';
export {
  ExampleError,
  type ExampleTrace,
  findExampleTraces,
  pickExample,
  type ReplayedExample,
  replayExamples,
} from './examples.js';
export {
  arm64ExitKinds,
  type BitField,
  type Decoder,
  EXIT_SAMPLE_BUDGET,
  EXIT_SAMPLE_CHUNK,
  type ExitKindExample,
  type Layout,
  probeLayout,
  type SampleOptions,
  type X86SampleOptions,
  x86ExitFieldNames,
  x86ExitKinds,
} from './exits.js';
export { generatedExamplePath, generateExample } from './generated-examples.js';
export type { Page } from './layout.js';
export {
  type Lifecycle,
  type LifeEdge,
  type LifeState,
  type Registry,
  vcpuLifecycle,
  vmLifecycle,
} from './lifecycle.js';
export {
  indexSpecSources,
  locateCall,
  locateRow,
  type RowLoc,
  type SourceLoc,
  type SpecSourceIndex,
} from './locate.js';
export { DEFAULT_OUT, REPO_ROOT } from './paths.js';
export { type SearchEntry, searchEntries } from './search.js';
export { type BuildOptions, type BuildReport, buildSite, renderPages } from './site.js';
export { type ApiDocsReport, buildApiDocs, workspacePackages } from './typedoc.js';
