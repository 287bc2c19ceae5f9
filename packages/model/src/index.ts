/**
 * `@hvspec/model` — a pure TypeScript backend of the hv_* API: what Hypervisor.framework does, on real
 * bytes, with x86 and arm64 interpreters for guest code. Deterministic; runs anywhere.
 * @packageDocumentation
 */
import type { Arch } from '@hvspec/spec';
import { arm64Engine } from './arm64/interp.js';
import type { ModelOptions } from './core.js';
import { Arm64Model, createArm64Model as bareArm64, createX86Model as bareX86, X86Model } from './create.js';
import { x86Engine } from './x86/interp.js';

export type { ModelOptions, UnsupportedInstruction } from './core.js';
export * from './engine.js';
export { Arm64Model, arm64Engine, X86Model, x86Engine };

/** The interpreters every model gets unless `options.engines` says otherwise (`{}`: no guest execution). */
export const DEFAULT_ENGINES = { x86: x86Engine, arm64: arm64Engine } as const;

const withEngines = (options: ModelOptions): ModelOptions => ({
  ...options,
  engines: options.engines ?? DEFAULT_ENGINES,
});

/** The x86_64 model, with its interpreter. */
export function createX86Model(options: ModelOptions = {}): X86Model {
  return bareX86(withEngines(options));
}

/** The arm64 model, with its interpreter. */
export function createArm64Model(options: ModelOptions = {}): Arm64Model {
  return bareArm64(withEngines(options));
}

/** The model of either flavour, with its interpreter. */
export function createModel(arch: 'x86_64', options?: ModelOptions): X86Model;
export function createModel(arch: 'arm64', options?: ModelOptions): Arm64Model;
export function createModel(arch: Arch, options?: ModelOptions): X86Model | Arm64Model;
export function createModel(arch: Arch, options: ModelOptions = {}): X86Model | Arm64Model {
  return arch === 'x86_64' ? createX86Model(options) : createArm64Model(options);
}
