/**
 * The linter: judges a recorded trace call by call against the spec (misuse, calls dangerous on real
 * hosts, reliance on unverified rules, exits left unhandled). `hvspec lint` prints its reports.
 * @module
 */

export { formatLintReport } from './format.js';
export { type LintOptions, lintTrace } from './lint.js';
export type { Finding, FindingKind, LintReport, Severity } from './types.js';
