/**
 * `@hvspec/capi` — Hypervisor.framework's C API on Linux for VMMs written in C: the libraries
 * libhvspec-kvm and libhvspec-model (built into dist/lib), the recording layer (HVSPEC_TRACE), and the
 * entry points of `hvspec cflags`, `hvspec libs` and `hvspec lint`.
 * @packageDocumentation
 */
export {
  type CBackend,
  cflags,
  type FlagOptions,
  FlagsError,
  hostArch,
  includeDir,
  type LibOptions,
  libraryDir,
  libraryFile,
  libs,
} from './flags.js';
export { LINT_ERRORS, LINT_OK, LINT_UNREADABLE, type LintIo, runLintCli } from './lint-cli.js';
