/**
 * Handles as the registry types them: which call makes a handle of which kind, and which kind each
 * argument takes. Traces bind these handles by name; differential runs translate them between backends.
 * @module
 */
import type { Arch } from '../backend.js';
import type { HandleKind } from '../calls/params.js';
import { callSpec, callSpecs, inParams, valueParam } from '../calls/registry.js';

/** The kind of handle a call's out-value is, if it is one. */
export function handleMade(arch: Arch, call: string): HandleKind | undefined {
  const spec = callSpec(arch, call.replace(/_async$/, ''));
  const t = spec ? valueParam(spec)?.type : undefined;
  if (!t) return undefined;
  if (t.kind === 'vcpu' || t.kind === 'asid') return t.kind;
  return t.kind === 'config' ? t.object : undefined;
}

/** The kind of handle each argument of a call takes (`vcpus` lists: `vcpu`). */
export function handleArgs(arch: Arch, call: string): Readonly<Record<string, HandleKind>> {
  const spec = callSpec(arch, call.replace(/_async$/, ''));
  const out: Record<string, HandleKind> = {};
  for (const p of spec ? inParams(spec) : []) {
    const t = p.type;
    if (t.kind === 'vcpu' || t.kind === 'vcpus') out[p.name] = 'vcpu';
    else if (t.kind === 'asid') out[p.name] = 'asid';
    else if (t.kind === 'config' && t.object) out[p.name] = t.object;
  }
  return out;
}

/** Every call of both flavours that makes a handle, with its kind. */
export const HANDLE_CALLS: Readonly<Record<string, HandleKind>> = Object.fromEntries(
  (['x86_64', 'arm64'] as const).flatMap((arch) =>
    callSpecs(arch)
      .map((s) => [s.name, handleMade(arch, s.name)] as const)
      .filter((e): e is readonly [string, HandleKind] => e[1] !== undefined),
  ),
);
