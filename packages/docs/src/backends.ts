/**
 * What each backend declares about itself: the model's capabilities (both flavours), the native
 * backend's capabilities when it loads on this machine, and otherwise the KVM provider's static list of
 * deviations read from its source (`packages/native/provider/vm.cc`), so the reference shows the
 * provider's deviations whether or not the addon is built here.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel } from '@hvspec/model';
import type { Arch, CallSpec, Capabilities, Deviation } from '@hvspec/spec';
import ts from 'typescript';

/** One backend as the reference describes it. */
export interface BackendInfo {
  /** `model`, `native-kvm`, `native-hvf`. */
  readonly backend: string;
  readonly arch: Arch;
  /** Where the facts come from, in words. */
  readonly source: string;
  /** The full capabilities, when the backend was instantiated here. */
  readonly capabilities?: Capabilities;
  readonly deviations: readonly Deviation[];
  /** Why the backend could not be instantiated here, when it could not. */
  readonly unavailable?: string;
}

const MEMORY_BITS: Readonly<Record<string, number>> = {
  HV_MEMORY_READ: 1,
  HV_MEMORY_WRITE: 2,
  HV_MEMORY_EXEC: 4,
};

/** Evaluates the C constant expressions of the provider's table: integers, `u` suffixes, `<<`, `|`, parentheses, HV_MEMORY_*. */
export function evalMaskExpression(expr: string): number {
  const tokens = expr
    .replace(/\b(HV_MEMORY_[A-Z]+)\b/g, (_m, name: string) => String(MEMORY_BITS[name] ?? Number.NaN))
    .match(/\d+u?|<<|\||\(|\)|\S/g);
  if (!tokens) throw new Error(`docs: empty mask expression`);
  let i = 0;
  const primary = (): number => {
    const t = tokens[i++];
    if (t === '(') {
      const v = or();
      if (tokens[i++] !== ')') throw new Error(`docs: unbalanced parentheses in ${expr}`);
      return v;
    }
    if (t !== undefined && /^\d+u?$/.test(t)) return Number.parseInt(t, 10);
    throw new Error(`docs: cannot read the mask expression ${expr}`);
  };
  const shift = (): number => {
    let v = primary();
    while (tokens[i] === '<<') {
      i++;
      v = (v << primary()) >>> 0;
    }
    return v;
  };
  const or = (): number => {
    let v = shift();
    while (tokens[i] === '|') {
      i++;
      v = (v | shift()) >>> 0;
    }
    return v;
  };
  const v = or();
  if (i !== tokens.length) throw new Error(`docs: trailing tokens in the mask expression ${expr}`);
  return v;
}

const unescapeC = (s: string): string => s.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');

/** The flag sets (0..7) of a permissions mask (bit i = set i), as the native wrapper reads it. */
function flagSets(mask: number): number[] {
  const sets: number[] = [];
  for (let i = 0; i < 8; i++) if (mask & (1 << i)) sets.push(i);
  return sets;
}

/** `NEVER_REPORTED` of the native wrapper (deviation id → exit reasons it rules out), read from its source. */
function neverReported(repoRoot: string): Record<string, number[]> {
  const file = join(repoRoot, 'packages', 'native', 'src', 'base.ts');
  if (!existsSync(file)) return {};
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Record<string, number[]> = {};
  const visit = (n: ts.Node): void => {
    if (
      ts.isVariableDeclaration(n) &&
      ts.isIdentifier(n.name) &&
      n.name.text === 'NEVER_REPORTED' &&
      n.initializer &&
      ts.isObjectLiteralExpression(n.initializer)
    ) {
      for (const p of n.initializer.properties) {
        if (!ts.isPropertyAssignment(p) || !ts.isArrayLiteralExpression(p.initializer)) continue;
        const key = ts.isStringLiteral(p.name) || ts.isIdentifier(p.name) ? p.name.text : undefined;
        if (key === undefined) continue;
        out[key] = p.initializer.elements.filter(ts.isNumericLiteral).map((e) => Number(e.text));
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/**
 * The KVM provider's deviations as its source declares them (`kDeviations` in provider/vm.cc), with the
 * exit reasons the native wrapper derives from them. Empty when the source is not there.
 */
export function staticProviderDeviations(repoRoot: string): Deviation[] {
  const file = join(repoRoot, 'packages', 'native', 'provider', 'vm.cc');
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const table = /kDeviations\[\]\s*=\s*\{([\s\S]*?)\n\};/.exec(text)?.[1];
  if (!table) return [];
  const never = neverReported(repoRoot);
  const out: Deviation[] = [];
  const entry = /\{\s*"([^"]+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*([^{}]*?)\s*\}/g;
  for (let m = entry.exec(table); m; m = entry.exec(table)) {
    const [, id = '', strings = '', mask = '0'] = m;
    const description = [...strings.matchAll(/"((?:[^"\\]|\\.)*)"/g)]
      .map((s) => unescapeC(s[1] ?? ''))
      .join('');
    const permissions = flagSets(evalMaskExpression(mask));
    out.push({
      id,
      description,
      ...(permissions.length > 0 ? { permissions } : {}),
      ...(never[id] ? { exitReasons: never[id] } : {}),
    });
  }
  return out;
}

/**
 * Whether a deviation touches a function, from what the deviation declares: it names the function; it
 * concerns permission sets (the mapping calls and the run calls); it rules out exit reasons or speaks of
 * exits or the guest (the run calls); it speaks of the VMCS, its controls or fields (the VMCS calls).
 */
export function deviationTouches(d: Deviation, spec: CallSpec): boolean {
  const text = d.description;
  if (new RegExp(`\\b${spec.name}\\b`).test(text)) return true;
  const takesFlags = spec.params.some((p) => p.dir === 'in' && p.type.kind === 'flags');
  if (d.permissions && d.permissions.length > 0 && (takesFlags || spec.runsGuest)) return true;
  if (spec.runsGuest && ((d.exitReasons?.length ?? 0) > 0 || /\bexits?\b|\bguest\b/i.test(text))) return true;
  if (/\bVMCS|\bcontrols?\b|\bfields?\b/.test(text) && /vmcs/.test(spec.name)) return true;
  return false;
}

/** What {@link describeBackends} needs of `@hvspec/native` (replaceable in tests). */
export type NativeModule = Pick<
  typeof import('@hvspec/native'),
  'nativeAvailability' | 'createNativeBackend'
>;

/**
 * Every backend the reference describes. Never throws for a backend that cannot load: it says why, and
 * the KVM provider's deviations then come from its source.
 */
export async function describeBackends(
  repoRoot: string,
  importNative: () => Promise<NativeModule> = () => import('@hvspec/native'),
): Promise<BackendInfo[]> {
  const out: BackendInfo[] = [];
  for (const arch of ['x86_64', 'arm64'] as const) {
    const m = createModel(arch);
    out.push({
      backend: m.capabilities.backend,
      arch,
      source: 'the capabilities of @hvspec/model',
      capabilities: m.capabilities,
      deviations: m.capabilities.deviations,
    });
    await m.close();
  }
  let native: BackendInfo | undefined;
  let why = '';
  try {
    const mod = await importNative();
    const avail = mod.nativeAvailability();
    if (avail.available) {
      const b = mod.createNativeBackend();
      native = {
        backend: b.capabilities.backend,
        arch: b.capabilities.arch,
        source: `the capabilities the native backend declared on the machine that built this site`,
        capabilities: b.capabilities,
        deviations: b.capabilities.deviations,
      };
      await b.close();
    } else {
      why = `${avail.reason ?? 'unavailable'}${avail.fix ? ` (fix: ${avail.fix})` : ''}`;
    }
  } catch (e) {
    why = `the native package does not load: ${(e as Error).message}`;
  }
  if (native) out.push(native);
  if (native?.backend !== 'native-kvm') {
    out.push({
      backend: 'native-kvm',
      arch: 'x86_64',
      source: "the KVM provider's static list (packages/native/provider/vm.cc, kDeviations)",
      deviations: staticProviderDeviations(repoRoot),
      ...(native ? {} : { unavailable: why }),
    });
  }
  return out;
}
