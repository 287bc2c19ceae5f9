/**
 * The native addon's argument table and its TypeScript wrapper, derived from the spec's registry:
 *
 * - `addon/generated/calls_<flavour>.inc` (C++): per `hv_*` function a call record with the C-typed
 *   arguments read from JS in the registry's order (`Read`), the guards every call of that shape needs
 *   before the framework sees it (`Check`: a host range inside its buffer, a config id the addon issued,
 *   the owning thread on macOS, an integer that fits a narrow C enum), the C call itself (`Invoke`,
 *   behind an availability check when the function is newer than the flavour's deployment target) and
 *   the out-values (`Store`); a default JS entry point per function; and the export table. The few calls
 *   whose entry point needs more (vCPU and VM lifecycle, runs) are written by hand in
 *   `hv_<flavour>_calls.cc` on top of the same records.
 * - `addon/generated/vmcs_fields.inc` (C++): every VMCS field encoding the spec knows, by Apple's name,
 *   for the KVM provider's known-field set (provider/vmcs.cc).
 * - `src/generated/calls.ts` (TypeScript): the addon's method types and an abstract backend class with
 *   one method per function (argument checks from the spec, conversion, the addon call, the result).
 *
 * Run by the native build and install scripts (scripts/generate.ts at the repository root).
 */
import type { Arch } from '../../spec/src/backend.ts';
import type { ObjectKind } from '../../spec/src/calls/params.ts';
import { callSpecs, inParams, valueParam, valueType } from '../../spec/src/calls/registry.ts';
import type { CallSpec, InParam, OutParam } from '../../spec/src/calls/types.ts';
import {
  cEnumMax,
  cIntegerBits,
  macosVersion,
  OBJECT_KIND_NUMBER,
} from '../../spec/src/codegen/c-headers.ts';
import { docBlock, generatedBanner } from '../../spec/src/codegen/typescript.ts';
import { isKnownVmcsField, VMCS } from '../../spec/src/vocabulary/x86.ts';

/**
 * Calls whose JS entry point is written by hand (hv_<flavour>_calls.cc) on top of the generated call
 * record, because the addon keeps state around them: VM existence, vCPU exit-record slots, config
 * objects, and the exit record a run fills on the owner thread.
 */
export const CUSTOM_ENTRY: Readonly<Record<Arch, readonly string[]>> = {
  x86_64: [
    'hv_vm_create',
    'hv_vm_destroy',
    'hv_vcpu_create',
    'hv_vcpu_destroy',
    'hv_vcpu_run',
    'hv_vcpu_run_until',
  ],
  arm64: [
    'hv_vm_create',
    'hv_vm_destroy',
    'hv_vm_deallocate',
    'hv_vcpu_create',
    'hv_vcpu_destroy',
    'hv_vcpu_run',
  ],
};

/** Methods the TypeScript wrapper writes by hand (they read or update the wrapper's own state). */
export const CUSTOM_METHOD: Readonly<Record<Arch, readonly string[]>> = {
  x86_64: [
    'hv_vcpu_create',
    'hv_vcpu_destroy',
    'hv_vcpu_write_register',
    'hv_vmx_vcpu_read_vmcs',
    'hv_vmx_vcpu_write_vmcs',
    'hv_vcpu_run',
    'hv_vcpu_run_async',
  ],
  arm64: ['hv_vm_deallocate', 'hv_vcpu_create', 'hv_vcpu_destroy', 'hv_vcpu_run', 'hv_vcpu_run_async'],
};

function objectConstant(kind: ObjectKind): string {
  return `kObject_${kind}`;
}

/** The deployment target of each flavour's addon on macOS (binding.gyp). */
const DEPLOYMENT: Readonly<Record<Arch, number>> = { x86_64: 101500, arm64: 130000 };

/** The C type of the object a pointer parameter points to (`uint64_t *` → `uint64_t`). */
function pointee(c: string): string {
  if (!c.endsWith('*')) throw new Error(`not a pointer type: ${c}`);
  return c.slice(0, -1).trim();
}

function stripNullable(c: string): string {
  return c.replace(/\s*_Nullable\s*/, '').trim();
}

/** The out-parameters that make the call's JS value, in reply order (a record's fields, or the one). */
function valueOuts(spec: CallSpec): OutParam[] {
  return spec.params.filter((p): p is OutParam => p.dir === 'out' && p.type.kind !== 'exit-pointer');
}

/** How many JS arguments an `in` parameter takes (a uva is buffer id + offset; a u128 is two halves). */
function jsArity(p: InParam): number {
  return p.type.kind === 'uva' || p.type.kind === 'u128' ? 2 : 1;
}

/** The JS argument types of the addon function, after the thread. */
function jsArgs(spec: CallSpec): { name: string; ts: string }[] {
  const out: { name: string; ts: string }[] = [];
  for (const p of inParams(spec)) {
    switch (p.type.kind) {
      case 'uva':
        out.push({ name: `${p.name}_mem`, ts: 'number' }, { name: `${p.name}_offset`, ts: 'number' });
        break;
      case 'u128':
        out.push({ name: `${p.name}_low`, ts: 'bigint' }, { name: `${p.name}_high`, ts: 'bigint' });
        break;
      case 'u64':
      case 'options':
        out.push({ name: p.name, ts: 'bigint' });
        break;
      case 'bool':
        out.push({ name: p.name, ts: 'boolean' });
        break;
      case 'bytes':
        out.push({ name: p.name, ts: 'Uint8Array' });
        break;
      case 'length':
        out.push({ name: p.name, ts: 'bigint' });
        break;
      case 'vcpus':
        out.push({ name: p.name, ts: 'readonly number[]' });
        break;
      case 'config':
        out.push({ name: p.name, ts: p.type.nullable ? 'number | null' : 'number' });
        break;
      default:
        out.push({ name: p.name, ts: 'number' });
    }
  }
  return out;
}

// ---- C++ -------------------------------------------------------------------------------------------

function member(p: InParam): string[] {
  const c = stripNullable(p.type.c);
  switch (p.type.kind) {
    case 'uva':
      return [
        `${c} ${p.name}{};`,
        `HostBuffer *${p.name}_buffer = nullptr;`,
        `uint32_t ${p.name}_offset = 0;`,
      ];
    case 'vcpus':
      return [`std::vector<${pointee(c)}> ${p.name};`];
    case 'count':
      return [];
    case 'config':
      return [`${c} ${p.name}{};`, `uint32_t ${p.name}_id = 0;`, `bool ${p.name}_null = true;`];
    case 'bytes':
      return [`std::vector<uint8_t> ${p.name}_bytes;`, `${c} ${p.name} = nullptr;`];
    case 'u32':
      return cEnumMax(c) !== undefined || (cIntegerBits(c) !== undefined && (cIntegerBits(c) as number) < 32)
        ? [`${c} ${p.name}{};`, `uint32_t ${p.name}_raw = 0;`]
        : [`${c} ${p.name}{};`];
    default:
      return [`${c} ${p.name}{};`];
  }
}

function outMember(p: OutParam): string | undefined {
  if ((p.c ?? 'param') === 'none') return undefined;
  if (p.c === 'return') return `${p.type.c} ${p.name}{};`;
  if (p.type.array !== undefined)
    return `${p.type.c} ${p.name}[${p.type.array.replace(/_Nonnull\s*/, '')}]{};`;
  if (p.type.kind === 'bytes')
    return `std::vector<uint8_t> ${p.name}_bytes;\n  ${p.type.c}${p.name} = nullptr;`;
  return `${pointee(p.type.c)} ${p.name}{};`;
}

function readStatements(spec: CallSpec): string[] {
  const lines: string[] = ['if (!ArgThread(info, 0, &t)) return false;'];
  let i = 1;
  const params = inParams(spec);
  for (const p of params) {
    const c = stripNullable(p.type.c);
    const k = p.type.kind;
    if (k === 'uva') {
      lines.push(`${p.name}_buffer = ArgBuffer(info, ${i}, "${p.name}.mem");`);
      lines.push(`if (${p.name}_buffer == nullptr) return false;`);
      lines.push(`if (!ArgU32(info, ${i + 1}, "${p.name}.offset", &${p.name}_offset)) return false;`);
    } else if (k === 'u128') {
      lines.push('{');
      lines.push('  uint64_t words[2] = {0, 0};');
      lines.push(`  if (!ArgU64(info, ${i}, "${p.name} (low 64 bits)", &words[0])) return false;`);
      lines.push(`  if (!ArgU64(info, ${i + 1}, "${p.name} (high 64 bits)", &words[1])) return false;`);
      lines.push(`  static_assert(sizeof(${p.name}) == sizeof(words), "${c} is 16 bytes");`);
      lines.push(`  std::memcpy(&${p.name}, words, sizeof(words));`);
      lines.push('}');
    } else if (k === 'u64' || k === 'options') {
      lines.push(
        `{ uint64_t v = 0; if (!ArgU64(info, ${i}, "${p.name}", &v)) return false; ${p.name} = static_cast<${c}>(v); }`,
      );
    } else if (k === 'bool') {
      lines.push(`if (!ArgBool(info, ${i}, "${p.name}", &${p.name})) return false;`);
    } else if (k === 'bytes') {
      lines.push(`if (!ArgBytes(info, ${i}, "${p.name}", &${p.name}_bytes)) return false;`);
    } else if (k === 'length') {
      const bytes = params[params.indexOf(p) - 1];
      if (bytes?.type.kind !== 'bytes') throw new Error(`${spec.name}: ${p.name} must follow its bytes`);
      lines.push('{');
      lines.push('  uint64_t v = 0;');
      lines.push(`  if (!ArgU64(info, ${i}, "${p.name}", &v)) return false;`);
      lines.push(`  // The framework reads ${p.name} bytes: never more than JS handed over.`);
      lines.push(
        `  if (v > ${bytes.name}_bytes.size()) return ThrowTypeError(info.Env(), "${p.name} exceeds ${bytes.name}.length");`,
      );
      lines.push(`  ${p.name} = static_cast<${c}>(v);`);
      lines.push('}');
    } else if (k === 'vcpus') {
      const count = params[params.indexOf(p) + 1];
      lines.push('{');
      lines.push('  std::vector<uint64_t> list;');
      lines.push(`  if (!ArgHandleList(info, ${i}, "${p.name}", ${i + 1}, &list)) return false;`);
      lines.push(`  ${p.name}.assign(list.begin(), list.end());`);
      lines.push('}');
      if (count?.type.kind !== 'count')
        throw new Error(`${spec.name}: ${p.name} must be followed by its count`);
    } else if (k === 'count') {
      // Read with its list (ArgHandleList).
    } else if (k === 'config') {
      if (p.type.nullable === 'only') {
        lines.push(`if (!info[${i}].IsNull()) return ThrowTypeError(info.Env(), "${p.name} must be null");`);
      } else {
        const nullOk = p.type.nullable === 'or-handle';
        lines.push(
          `${nullOk ? `if (!info[${i}].IsNull()) ` : ''}{ if (!ArgU32(info, ${i}, "${p.name}", &${p.name}_id)) return false; ${p.name}_null = false; }`,
        );
      }
    } else {
      // u32, vcpu, asid, flags
      const bits = cIntegerBits(c);
      if (cEnumMax(c) !== undefined) {
        // Converted in Check, once the value is known to be one the enum can hold.
        lines.push(`if (!ArgU32(info, ${i}, "${p.name}", &${p.name}_raw)) return false;`);
      } else if (bits !== undefined && bits < 32) {
        lines.push(`if (!ArgU32(info, ${i}, "${p.name}", &${p.name}_raw)) return false;`);
        lines.push(`${p.name} = static_cast<${c}>(${p.name}_raw);`);
      } else {
        lines.push(
          `{ uint32_t v = 0; if (!ArgU32(info, ${i}, "${p.name}", &v)) return false; ${p.name} = static_cast<${c}>(v); }`,
        );
      }
    }
    i += jsArity(p);
  }
  lines.push('return true;');
  return lines;
}

function checkStatements(spec: CallSpec): string[] {
  const lines: string[] = [];
  const params = inParams(spec);
  const vcpu = params.find((p) => p.type.kind === 'vcpu');
  if (spec.thread === 'owner' && vcpu) {
    lines.push(`// "Must be called by the owning thread" (hvf-facts §1.2/§2.4 [H]): see OwnerOk.`);
    lines.push(`if (!OwnerOk(s, static_cast<uint64_t>(${vcpu.name}), t)) return HV_BAD_ARGUMENT;`);
  }
  for (const p of params) {
    const c = stripNullable(p.type.c);
    if (p.type.kind === 'uva') {
      const extent = p.extent;
      if (!extent) throw new Error(`${spec.name}: uva parameter ${p.name} needs an extent`);
      lines.push(
        `// A host range outside its buffer would hand the framework memory the addon does not own: refused.`,
        `if (${p.name}_offset > ${p.name}_buffer->size || static_cast<uint64_t>(${extent}) > ${p.name}_buffer->size - ${p.name}_offset) return HV_BAD_ARGUMENT;`,
        `${p.name} = static_cast<${c}>(static_cast<void *>(static_cast<uint8_t *>(${p.name}_buffer->base) + ${p.name}_offset));`,
      );
    } else if (p.type.kind === 'config' && p.type.nullable !== 'only') {
      lines.push(
        `// Config objects never reach JS; an id the addon did not issue is refused, never a wild pointer.`,
        `if (!${p.name}_null) {`,
        `  void *object = nullptr;`,
        `  if (!ConfigArg(s, ${p.name}_id, ${objectConstant(p.type.object ?? 'config')}, &object)) return HV_BAD_ARGUMENT;`,
        `  ${p.name} = static_cast<${c}>(object);`,
        '}',
      );
    } else if (p.type.kind === 'bytes') {
      lines.push(
        `${p.name} = ${p.name}_bytes.empty() ? static_cast<${c}>(&kNoBytes) : static_cast<${c}>(${p.name}_bytes.data());`,
      );
    } else if (p.type.kind === 'u32') {
      const bits = cIntegerBits(c);
      const enumMax = cEnumMax(c);
      if (enumMax !== undefined)
        lines.push(
          `// ${c} is a plain C enum: in C++ it holds only 0..0x${enumMax.toString(16)}, and converting a larger value is`,
          `// undefined behaviour, so such a ${p.name} is refused before it becomes one.`,
          `if (${p.name}_raw > 0x${enumMax.toString(16)}u) return HV_BAD_ARGUMENT;`,
          `${p.name} = static_cast<${c}>(${p.name}_raw);`,
        );
      else if (bits !== undefined && bits < 32)
        lines.push(
          `// ${c} is ${bits} bits wide: a wider value would name some other ${p.name} once truncated.`,
          `if (${p.name}_raw > 0x${((1n << BigInt(bits)) - 1n).toString(16)}u) return HV_BAD_ARGUMENT;`,
        );
    }
  }
  lines.push('return HV_SUCCESS;');
  return lines;
}

function invokeExpression(spec: CallSpec): string {
  const args: string[] = [];
  for (const p of spec.params) {
    if (p.dir === 'in') {
      if (p.type.kind === 'vcpus') {
        args.push(`${p.name}.empty() ? &${p.name}_none : ${p.name}.data()`);
      } else if (p.type.kind === 'count') {
        const list = inParams(spec)[inParams(spec).indexOf(p) - 1] as InParam;
        args.push(`static_cast<${p.type.c}>(${list.name}.size())`);
      } else args.push(p.name);
    } else if ((p.c ?? 'param') === 'param')
      args.push(p.type.array !== undefined || p.type.kind === 'bytes' ? p.name : `&${p.name}`);
  }
  return `${spec.name}(${args.join(', ')})`;
}

/**
 * Before a call that writes bytes into the caller's buffer: the buffer, as large as the call named by
 * `sizeFrom` says (the same object's size), or that call's failure.
 */
function sizeStatements(spec: CallSpec): string[] {
  const out = spec.params.find((p): p is OutParam => p.dir === 'out' && p.type.kind === 'bytes');
  if (!out) return [];
  const from = out.type.sizeFrom;
  if (!from) throw new Error(`${spec.name}: ${out.name} needs sizeFrom`);
  const args = inParams(spec).map((p) => p.name);
  return [
    'size_t size = 0;',
    `hv_return_t sized = ${from}(${[...args, '&size'].join(', ')});`,
    'if (sized != HV_SUCCESS) return sized;',
    `${out.name}_bytes.assign(size ? size : 1, 0);`,
    `${out.name} = ${out.name}_bytes.data();`,
  ];
}

function invokeStatements(spec: CallSpec, arch: Arch): string[] {
  const lines: string[] = [];
  const list = inParams(spec).find((p) => p.type.kind === 'vcpus');
  if (list)
    lines.push(`${pointee(list.type.c)} ${list.name}_none{};  // a valid pointer even for a count of 0`);
  const returned = spec.params.find((p): p is OutParam => p.dir === 'out' && p.c === 'return');
  const sized = sizeStatements(spec);
  const bytesOut = spec.params.find((p): p is OutParam => p.dir === 'out' && p.type.kind === 'bytes');
  const call = returned
    ? [
        `${returned.name} = ${invokeExpression(spec)};`,
        `return ${returned.name} != nullptr ? HV_SUCCESS : HV_NO_RESOURCES;`,
      ]
    : bytesOut
      ? [
          ...sized,
          `hv_return_t ret = ${invokeExpression(spec)};`,
          `if (ret == HV_SUCCESS) ${bytesOut.name}_bytes.resize(size);`,
          'return ret;',
        ]
      : [`return ${invokeExpression(spec)};`];
  const v = macosVersion(spec.availability);
  if (v && v.number > DEPLOYMENT[arch]) {
    lines.push(
      `// ${spec.availability}: newer than the ${arch} addon's deployment target; HV_UNSUPPORTED before.`,
    );
    lines.push(`#if HVSPEC_SDK_AT_LEAST(${v.number})`);
    lines.push(`HVSPEC_IF_AVAILABLE(macOS ${v.text}) {`);
    lines.push(...call.map((l) => `  ${l}`));
    lines.push('}');
    lines.push('#endif');
    lines.push('return HV_UNSUPPORTED;');
  } else lines.push(...call);
  return lines;
}

function storeStatements(spec: CallSpec): string[] {
  const outs = valueOuts(spec);
  const lines: string[] = [];
  let word = 0;
  for (const value of outs) {
    switch (value.type.kind) {
      case 'exit':
        // An exit record has no out word (the run's entry point fills the vCPU's slot).
        break;
      case 'config': {
        // The object stays with the addon; JS gets an id of its kind.
        const kind = objectConstant(value.type.object ?? 'config');
        lines.push(
          'if (ret != HV_SUCCESS) return;',
          'uint32_t id = s->next_config++;',
          `s->configs[id] = ConfigObject{static_cast<void *>(${value.name}), ${kind}};`,
          `s->out[${word}] = id;`,
        );
        word++;
        break;
      }
      case 'mem': {
        // Memory the framework allocated becomes a host buffer JS refers to by id, freed by hv_vm_deallocate.
        const extent = value.type.extent;
        if (!extent) throw new Error(`${spec.name}: ${value.name} needs the parameter giving its size`);
        lines.push(
          'if (ret != HV_SUCCESS) return;',
          'uint32_t id = s->next_buffer++;',
          `s->buffers[id] = HostBuffer{${value.name}, static_cast<size_t>(${extent}), true};`,
          `s->out[${word}] = id;`,
          `s->out[${word + 1}] = static_cast<uint64_t>(${extent});`,
        );
        word += 2;
        break;
      }
      case 'bytes':
        lines.push(`if (ret == HV_SUCCESS) s->out_bytes = ${value.name}_bytes;`);
        break;
      case 'u64x8':
        lines.push(
          `static_assert(sizeof(${value.name}) == 8 * sizeof(uint64_t), "eight 64-bit values");`,
          `std::memcpy(s->out + ${word}, ${value.name}, sizeof(${value.name}));`,
        );
        word += 8;
        break;
      case 'u128':
        lines.push(
          `static_assert(sizeof(${value.name}) == 16, "a 128-bit value");`,
          `std::memcpy(s->out + ${word}, &${value.name}, 16);`,
        );
        word += 2;
        break;
      case 'bool':
        lines.push(`s->out[${word}] = ${value.name} ? 1 : 0;`);
        word++;
        break;
      default:
        lines.push(`s->out[${word}] = static_cast<uint64_t>(${value.name});`);
        word++;
    }
  }
  if (word > 8) throw new Error(`${spec.name}: ${word} out words, the addon has 8`);
  return lines;
}

const indent = (lines: readonly string[], by: string): string =>
  lines.map((l) => (l ? `${by}${l}` : l)).join('\n');

function callRecord(spec: CallSpec, arch: Arch): string {
  const ins = inParams(spec);
  const outs = spec.params.filter((p): p is OutParam => p.dir === 'out');
  const members = [
    'uint64_t t = 0;',
    ...ins.flatMap(member),
    ...outs.map(outMember).filter((m): m is string => !!m),
  ];
  const sig = `${spec.name}(${jsArgs(spec)
    .map((a) => a.name)
    .join(', ')})`;
  const vcpu = ins.find((p) => p.type.kind === 'vcpu');
  const onVcpu = vcpu
    ? `  // The vCPU the call is on: CallEntry applies that vCPU's deferred writes first (core.h).
  static constexpr bool kOnVcpu = true;
  uint64_t Vcpu() const { return static_cast<uint64_t>(${vcpu.name}); }`
    : `  static constexpr bool kOnVcpu = false;
  uint64_t Vcpu() const { return 0; }`;
  return `// ${sig} — ${spec.summary}
struct ${spec.name}_call {
${indent(members, '  ')}

${onVcpu}

  // The JS arguments (logical thread first), in the registry's order. False: a TypeError is pending.
  bool Read(const Napi::CallbackInfo &info) {
${indent(readStatements(spec), '    ')}
  }
  // Guards before the framework sees the call; HV_SUCCESS to go on.
  hv_return_t Check(State *s) {
    (void)s;
${indent(checkStatements(spec), '    ')}
  }
  // The C call, on the logical thread.
  hv_return_t Invoke() {
${indent(invokeStatements(spec, arch), '    ')}
  }
  // The out-value, for the JS wrapper to read right after the call.
  void Store(State *s, hv_return_t ret) const {
    (void)s;
    (void)ret;${storeStatements(spec).length ? `\n${indent(storeStatements(spec), '    ')}` : ''}
  }
};
`;
}

function defaultEntry(spec: CallSpec): string {
  return `static Napi::Value js_${spec.name}(const Napi::CallbackInfo &info) {
  ${spec.name}_call c;
  return CallEntry(info, c, [&](State *s, hv_return_t ret) { c.Store(s, ret); });
}
`;
}

/** `addon/generated/calls_<flavour>.inc`. */
export function addonCallsSource(arch: Arch): string {
  const specs = callSpecs(arch);
  const custom = new Set(CUSTOM_ENTRY[arch]);
  for (const name of custom)
    if (!specs.some((s) => s.name === name))
      throw new Error(`CUSTOM_ENTRY names ${name}, not a ${arch} function`);
  const lines: string[] = [];
  lines.push(
    `// GENERATED FILE — do not edit. The addon's ${arch} argument table, from the spec's registry.`,
    "// Written by the build from the spec's registry (packages/native/scripts/codegen.ts; scripts/generate.ts).",
    "// Included by the flavour's hv_*_calls.cc inside namespace hvspec, after hv_api.h and core.h.",
    '',
    '// The kinds of OS object an id stands for (ConfigArg refuses an id of another kind).',
    'enum : uint32_t {',
    ...Object.entries(OBJECT_KIND_NUMBER).map(([k, n]) => `  ${objectConstant(k as ObjectKind)} = ${n},`),
    '};',
    '',
  );
  for (const spec of specs) lines.push(callRecord(spec, arch));
  lines.push('// Entry points written by hand (hv_*_calls.cc), on top of the records above.');
  for (const spec of specs) {
    if (custom.has(spec.name))
      lines.push(`static Napi::Value js_${spec.name}(const Napi::CallbackInfo &info);`);
    if (spec.async) lines.push(`static Napi::Value js_${spec.name}_async(const Napi::CallbackInfo &info);`);
  }
  lines.push('');
  for (const spec of specs) if (!custom.has(spec.name)) lines.push(defaultEntry(spec));
  lines.push('// Every hv_* function of the flavour, as the addon exports it.');
  lines.push('static const ExportEntry kGeneratedCalls[] = {');
  for (const spec of specs) {
    lines.push(`    {"${spec.name}", js_${spec.name}},`);
    if (spec.async) lines.push(`    {"${spec.name}_async", js_${spec.name}_async},`);
  }
  lines.push('};');
  return `${lines.join('\n')}\n`;
}

// ---- TypeScript ------------------------------------------------------------------------------------

const PREFIX: Record<Arch, string> = { x86_64: 'X86', arm64: 'Arm64' };

function tsConvertArgs(spec: CallSpec): string[] {
  const out: string[] = [];
  for (const p of inParams(spec)) {
    if (p.type.kind === 'uva') out.push(`${p.name}m.id`, `${p.name}.offset`);
    else if (p.type.kind === 'u128') out.push(`${p.name} & MASK64`, `${p.name} >> 64n`);
    else out.push(p.name);
  }
  return out;
}

function tsResult(spec: CallSpec, call: string): string {
  const value = valueParam(spec);
  if (!value) return `return this.result(${call});`;
  switch (value.type.kind) {
    case 'u64x8':
      return `return this.outU64List(${call}, 8);`;
    case 'record': {
      const fields = value.type.fields ?? [];
      if (fields.some((f) => f.type.kind !== 'u32' && f.type.kind !== 'u64'))
        throw new Error(`${spec.name}: a record of other than integers`);
      return `return this.outRecord<${value.type.ts}>(${call}, ${JSON.stringify(fields.map((f) => [f.name, f.type.kind === 'u64' ? 'bigint' : 'number']))});`;
    }
    case 'mem':
      return `return this.outMemory(${call});`;
    case 'bytes':
      return `return this.outBytes(${call});`;
    case 'u64':
      return `return this.outU64(${call});`;
    case 'u128':
      return `return this.outU128(${call});`;
    case 'bool':
      return `return this.outBool(${call});`;
    case 'asid':
      return `return this.outNumber<AddressSpace>(${call});`;
    case 'vcpu':
      return `return this.outNumber<Vcpu>(${call});`;
    case 'config':
      return `return this.outNumber<${value.type.ts}>(${call});`;
    case 'exit':
      throw new Error(`${spec.name}: an exit value needs a hand-written method`);
    default:
      return `return this.outNumber<number>(${call});`;
  }
}

function tsMethod(spec: CallSpec, arch: Arch): string {
  const params = inParams(spec);
  const value = valueType(spec);
  const sigArgs = ['t: ThreadId', ...params.map((p) => `${p.name}: ${p.type.ts}`)].join(', ');
  const names = ['t', ...params.map((p) => p.name)].join(', ');
  const body: string[] = [`${arch === 'x86_64' ? 'X86' : 'ARM64'}_ARG_CHECKS.${spec.name}(${names});`];
  for (const p of params)
    if (p.type.kind === 'uva') body.push(`const ${p.name}m = this.mem(${p.name}.mem, '${p.name}.mem');`);
  const call = `this.addon.${spec.name}(${['t', ...tsConvertArgs(spec)].join(', ')})`;
  body.push(tsResult(spec, call));
  return `  ${spec.name}(${sigArgs}): Result${value ? `<${value}>` : ''} {\n${indent(body, '    ')}\n  }\n`;
}

/** `src/generated/calls.ts`. */
export function wrapperSource(): string {
  let body = '';
  for (const arch of ['x86_64', 'arm64'] as const) {
    const P = PREFIX[arch];
    body += `\n/** The ${arch} addon's \`hv_*\` functions: logical thread first, the \`hv_return_t\` as an unsigned number. */\nexport interface ${P}AddonCalls {\n`;
    for (const spec of callSpecs(arch)) {
      const args = ['t: number', ...jsArgs(spec).map((a) => `${a.name}: ${a.ts}`)].join(', ');
      body += `  ${spec.name}(${args}): number;\n`;
      if (spec.async) body += `  ${spec.name}_async(${args}): Promise<number>;\n`;
    }
    body += '}\n';
    const custom = new Set(CUSTOM_METHOD[arch]);
    body += `\n${docBlock(
      [
        `The ${arch} flavour's \`hv_*\` methods over the addon: each checks its arguments' JS types (the spec's checks), converts them (a uva to buffer id and offset), calls the addon and builds the \`Result\`. The native backend class adds what needs its own state: ${[...custom].map((n) => `\`${n}\``).join(', ')}.`,
      ],
      '',
    )}export abstract class ${P}Calls<A extends NativeAddon & ${P}AddonCalls> extends NativeBase<A> {\n`;
    for (const spec of callSpecs(arch)) {
      if (custom.has(spec.name)) {
        const params = inParams(spec);
        const value = valueType(spec);
        body += `  abstract ${spec.name}(${['t: ThreadId', ...params.map((p) => `${p.name}: ${p.type.ts}`)].join(', ')}): Result${value ? `<${value}>` : ''};\n`;
        if (spec.async)
          body += `  abstract ${spec.name}_async(${['t: ThreadId', ...params.map((p) => `${p.name}: ${p.type.ts}`)].join(', ')}): Promise<Result${value ? `<${value}>` : ''}>;\n`;
        continue;
      }
      body += tsMethod(spec, arch);
      if (spec.async) throw new Error(`${spec.name}: an async method needs a hand-written method`);
    }
    body += '}\n';
  }
  const specTypes = [
    'AddressSpace',
    'Arm64Exit',
    'GicConfig',
    'GicState',
    'HostMemory',
    'Result',
    'ThreadId',
    'Uva',
    'Vcpu',
    'VcpuConfig',
    'VmConfig',
  ].filter((t) => new RegExp(`\\b${t}\\b`).test(body));
  let out = generatedBanner(
    "The native backend's hv_* methods and the addon's method types, from the registry.",
    'packages/native/scripts/codegen.ts',
  );
  out +=
    "/**\n * The native backend's `hv_*` methods and the addon's method types, one per registry entry.\n * @module\n */\n";
  out += `import { ARM64_ARG_CHECKS, ${specTypes.map((t) => `type ${t}`).join(', ')}, X86_ARG_CHECKS } from '@hvspec/spec';\n`;
  out += "import type { NativeAddon } from '../addon.js';\nimport { NativeBase } from '../base.js';\n";
  if (body.includes('MASK64')) out += '\nconst MASK64 = (1n << 64n) - 1n;\n';
  return out + body;
}

/** `addon/generated/vmcs_fields.inc`: the spec's VMCS fields (not the VMCS_MAX bound), one name a line. */
export function vmcsFieldsSource(): string {
  const names = Object.entries(VMCS)
    .filter(([, field]) => isKnownVmcsField(field))
    .map(([name]) => `    ${name},`);
  return [
    "// GENERATED FILE — do not edit. Every VMCS field encoding of the spec's vocabulary (spec/src/vocabulary/x86.ts).",
    '// Written by the build from the spec (packages/native/scripts/codegen.ts; scripts/generate.ts).',
    '// Included by the KVM provider (provider/vmcs.cc) inside an array initializer, after hv_arch_vmx.h.',
    ...names,
    '',
  ].join('\n');
}
