/**
 * `@hvspec/model` — a pure TypeScript backend of the hv_* API.
 * @packageDocumentation
 */
export * from './engine.js';
