/**
 * `hvspec` — the command line of hvspec, usable from code: {@link runCli} runs it on an argument vector
 * and resolves to its exit code.
 * @packageDocumentation
 */
export { runCli } from './program.js';
