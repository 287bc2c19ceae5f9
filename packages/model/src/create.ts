/**
 * Entry points of the model backend.
 * @module
 */
import type { Arch } from '@hvspec/spec';
import { Arm64Model, createArm64Model } from './arm64/model.js';
import type { ModelOptions } from './core.js';
import { createX86Model, X86Model } from './x86/model.js';

export type { ModelOptions, UnsupportedInstruction } from './core.js';
export { Arm64Model, createArm64Model, createX86Model, X86Model };

/** Builds the model of either flavour. The engines come from `options.engines` (none: no guest execution). */
export function createModel(arch: 'x86_64', options?: ModelOptions): X86Model;
export function createModel(arch: 'arm64', options?: ModelOptions): Arm64Model;
export function createModel(arch: Arch, options?: ModelOptions): X86Model | Arm64Model;
export function createModel(arch: Arch, options: ModelOptions = {}): X86Model | Arm64Model {
  if (arch === 'x86_64') return createX86Model(options);
  if (arch === 'arm64') return createArm64Model(options);
  throw new TypeError(`arch must be 'x86_64' or 'arm64', got ${String(arch)}`);
}
