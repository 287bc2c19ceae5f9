/**
 * TypeScript derived from the registry: the backend method interfaces and the argument checks every
 * backend runs. Pure functions from the registry to source text; `scripts/generate.ts` writes them to
 * `src/generated/` during the build.
 * @module
 */
import type { Arch } from '../backend.js';
import { callSpecs, inParams, valueParams, valueType } from '../calls/registry.js';
import type { CallSpec, InParam } from '../calls/types.js';

/** The banner of every generated file. */
export function generatedBanner(what: string, generator: string): string {
  return `// GENERATED FILE — do not edit. ${what}\n// Written by the build from the spec's registry (${generator}; scripts/generate.ts).\n`;
}

const INTERFACE: Record<Arch, string> = { x86_64: 'X86Calls', arm64: 'Arm64Calls' };
const THREAD_RULE: Record<CallSpec['thread'], string> = {
  owner: "only the vCPU's owning thread",
  any: 'any thread',
  process: 'any thread of the process',
};

/** A JSDoc block, wrapped at `width`, indented by `indent`. */
export function docBlock(lines: readonly string[], indent: string, width = 110): string {
  const out: string[] = [];
  for (const line of lines) {
    if (line === '') {
      out.push('');
      continue;
    }
    let rest = line;
    const lead = /^(@\w+ \w+ |@\w+ |- )/.exec(line)?.[0] ?? '';
    let first = true;
    while (rest.length > 0) {
      const room = width - indent.length - 3 - (first ? 0 : lead.length ? 2 : 0);
      let cut = rest.length <= room ? rest.length : rest.lastIndexOf(' ', room);
      if (cut <= 0) cut = rest.length;
      out.push(`${first ? '' : lead.length ? '  ' : ''}${rest.slice(0, cut)}`);
      rest = rest.slice(cut).trimStart();
      first = false;
    }
  }
  return `${indent}/**\n${out.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function methodDoc(spec: CallSpec): string[] {
  const lines = [`\`${spec.name}\` — ${spec.summary}`, ''];
  lines.push(
    `${spec.availability}; ${THREAD_RULE[spec.thread]}.${spec.deprecated ? ` Deprecated (${spec.deprecated}).` : ''}`,
  );
  lines.push(`Rules: ${spec.rows.map((r) => `\`${spec.name}.${r.id}\``).join(', ')}.`);
  lines.push("@param t the logical thread making the call (0 is the caller's own)");
  for (const p of inParams(spec)) lines.push(`@param ${p.name} ${p.doc} (C: \`${p.type.c}\`)`);
  const values = valueParams(spec);
  lines.push(
    values.length
      ? `@returns the \`hv_return_t\` and, on HV_SUCCESS, ${values.map((v) => `${v.name}: ${v.doc}`).join('; ')}`
      : '@returns the `hv_return_t`',
  );
  return lines;
}

function signature(spec: CallSpec): string {
  const args = ['t: ThreadId', ...inParams(spec).map((p) => `${p.name}: ${p.type.ts}`)].join(', ');
  const value = valueType(spec);
  return `(${args}): Result${value ? `<${value}>` : ''}`;
}

/** `backend-methods.ts`: one interface per flavour whose methods are the registry's functions. */
export function backendMethodsSource(): string {
  let out = generatedBanner(
    'The hv_* methods of the backend interfaces, from the registry.',
    'packages/spec',
  );
  out +=
    '/**\n * The `hv_*` methods of the backend interfaces, one per registry entry, in C parameter order after the\n * logical thread. `backend.ts` extends these with host memory and lifecycle.\n * @module\n */\n';
  let body = '';
  for (const arch of ['x86_64', 'arm64'] as const) {
    body += `\n/** The ${arch} flavour's \`hv_*\` functions. */\nexport interface ${INTERFACE[arch]} {\n`;
    for (const spec of callSpecs(arch)) {
      body += docBlock(methodDoc(spec), '  ');
      body += `  ${spec.name}${signature(spec)};\n`;
      if (spec.async) {
        const sig = signature(spec);
        body += docBlock(
          [
            `\`${spec.name}\` started on logical thread \`t\` without blocking the caller, so that another thread can cancel it.`,
          ],
          '  ',
        );
        body += `  ${spec.name}_async${sig.replace(/: (Result(<[^>]*>)?)$/, ': Promise<$1>')};\n`;
      }
    }
    body += '}\n';
  }
  const types = [
    'AddressSpace',
    'Arm64Exit',
    'GicConfig',
    'GicState',
    'HostMemory',
    'Uva',
    'Vcpu',
    'VcpuConfig',
    'VmConfig',
  ].filter((t) => new RegExp(`\\b${t}\\b`).test(body));
  out += `import type { ${[...types, 'Result', 'ThreadId'].sort().join(', ')} } from '../backend.js';\n`;
  out += body;
  return out;
}

/** The check of one `in` parameter: a `TypeError` naming it when the JS type is wrong. */
/** The check of a list or buffer together with the parameter after it, which gives its size. */
function checkWithSize(
  p: InParam,
  params: readonly InParam[],
  sizeKind: 'count' | 'length',
  checker: 'checkVcpuList' | 'checkBytes',
): string {
  const size = params[params.indexOf(p) + 1];
  if (size?.type.kind !== sizeKind)
    throw new Error(`registry: ${p.name} must be followed by its ${sizeKind === 'count' ? 'count' : 'size'}`);
  return `${checker}('${p.name}', ${p.name}, '${size.name}', ${size.name});`;
}

function checkOf(p: InParam, params: readonly InParam[]): string | undefined {
  switch (p.type.kind) {
    case 'u32':
    case 'vcpu':
    case 'asid':
    case 'flags':
      return `checkU32('${p.name}', ${p.name});`;
    case 'u64':
    case 'options':
      return `checkU64('${p.name}', ${p.name});`;
    case 'u128':
      return `checkU128('${p.name}', ${p.name});`;
    case 'bool':
      return `checkBool('${p.name}', ${p.name});`;
    case 'config':
      if (p.type.nullable === 'only') return `checkNull('${p.name}', ${p.name});`;
      if (p.type.nullable === 'or-handle') return `if (${p.name} !== null) checkU32('${p.name}', ${p.name});`;
      return `checkU32('${p.name}', ${p.name});`;
    case 'uva':
      return `checkUva('${p.name}', ${p.name});`;
    case 'vcpus':
      return checkWithSize(p, params, 'count', 'checkVcpuList');
    case 'count':
      return undefined; // checked with its list
    case 'bytes':
      return checkWithSize(p, params, 'length', 'checkBytes');
    case 'length':
      return undefined; // checked with its bytes
  }
}

/** `arg-checks.ts`: per flavour, one function per registry entry checking its arguments' JS types. */
export function argChecksSource(): string {
  const used = new Set<string>(['checkThread']);
  let body = '';
  for (const arch of ['x86_64', 'arm64'] as const) {
    const name = arch === 'x86_64' ? 'X86_ARG_CHECKS' : 'ARM64_ARG_CHECKS';
    body += `\n/** The ${arch} flavour's argument checks, by function name. */\nexport const ${name} = {\n`;
    for (const spec of callSpecs(arch)) {
      const params = inParams(spec);
      const args = ['t: unknown', ...params.map((p) => `${p.name}: unknown`)].join(', ');
      const named = ['the thread', ...params.map((p) => `\`${p.name}\``)].join(' or ');
      body += `  /** Throws a \`TypeError\` naming ${named} when its JS type is wrong for \`${spec.name}\`. */\n`;
      body += `  ${spec.name}(${args}): void {\n    checkThread(t);\n`;
      for (const p of params) {
        const check = checkOf(p, params);
        if (!check) continue;
        for (const m of check.matchAll(/\b(check\w+)\(/g)) used.add(m[1] as string);
        body += `    ${check}\n`;
      }
      body += '  },\n';
    }
    body += '} as const;\n';
  }
  let out = generatedBanner('Argument checks of every hv_* method, from the registry.', 'packages/spec');
  out +=
    "/**\n * The JS-type checks of every `hv_*` method, one function per registry entry and flavour: each throws a\n * `TypeError` naming the parameter. Every backend calls them first, so the messages are the same\n * everywhere; a well-typed but illegal value is left to the spec's rules.\n * @module\n */\n";
  out += `import { ${[...used].sort().join(', ')} } from '../validate.js';\n`;
  return out + body;
}
