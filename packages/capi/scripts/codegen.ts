/**
 * The C code of the two libraries, derived from the spec's registry (ARCHITECTURE.md, "Derived from the
 * registry"), so that no list of hv_* functions is written by hand:
 *
 * - `calls_<flavour>.h`: call ids (the protocol with the model server), the protocol signature, and the
 *   prototypes of each function's implementation (`hvspec_impl_*`) and remote call (`hvspec_remote_*`).
 * - `front_<flavour>.c`: every exported `hv_*` function: it records the call (arguments, return code,
 *   out-values, exits) when HVSPEC_TRACE is set and calls the implementation. The same file is the macOS
 *   interposer with `-DHVSPEC_INTERPOSE` (the implementation is then the framework's own function).
 * - `model_<flavour>.c`: libhvspec-model's marshalling: each call's arguments as words of the mailbox,
 *   its out-values from the reply; the default implementation of every call that keeps no state in the
 *   library ({@link MODEL_CUSTOM} lists those written by hand in `src/c/model/`).
 * - `kvm_rename.h`: renames the KVM provider's hv_* definitions to `hvspec_impl_*`, so that the front
 *   wraps them.
 * - `mailbox.h`: the mailbox layout and the x86 exit record ({@link MAILBOX}, src/protocol.ts).
 *
 * Written into `packages/capi/dist/generated/` by the package build (scripts/generate.ts --only capi).
 */
import type { Arch } from '../../spec/src/backend.ts';
import { type TraceArgType, VOCABS, type Vocab } from '../../spec/src/calls/params.ts';
import { VMCS_REG_ALIAS, X86_REG_EXACT } from '../../spec/src/calls/registers.ts';
import { callSpecs } from '../../spec/src/calls/registry.ts';
import type { CallSpec, InParam, OutParam, Param } from '../../spec/src/calls/types.ts';
import {
  cParam,
  cParams,
  cPrototype,
  cReturnType,
  macosVersion,
  OBJECT_KIND_NUMBER,
} from '../../spec/src/codegen/c-headers.ts';
import { ALL_RETURNS, HV } from '../../spec/src/vocabulary/returns.ts';
import { HV_X86_REG, VMCS } from '../../spec/src/vocabulary/x86.ts';
import {
  ARG_WORDS,
  inWords,
  MAILBOX,
  MAX_LIST,
  MAX_PENDING,
  OUT_WORDS,
  outRequestWords,
  outWords,
  PENDING_VMCS,
  protocolSignature,
  SERVICE,
  SLOT_STATE,
  X86_EXIT_REGS,
  X86_EXIT_VMCS,
} from '../src/protocol.ts';

/**
 * Calls whose libhvspec-model implementation is written by hand (src/c/model/custom_<flavour>.c) on top
 * of the generated remote call, because the library keeps state around them: vCPU owners and the exit
 * record (x86: the reads every exit handler makes, answered in the VMM's process; arm64: the
 * `hv_vcpu_exit_t` behind the pointer `hv_vcpu_create` hands out) and arm64 config objects.
 */
export const MODEL_CUSTOM: Readonly<Record<Arch, readonly string[]>> = {
  x86_64: [
    'hv_vcpu_create',
    'hv_vcpu_destroy',
    'hv_vcpu_run',
    'hv_vcpu_run_until',
    'hv_vcpu_read_register',
    'hv_vcpu_write_register',
    'hv_vmx_vcpu_read_vmcs',
    'hv_vmx_vcpu_write_vmcs',
    'hv_vcpu_read_fpstate',
    'hv_vcpu_write_fpstate',
  ],
  arm64: ['hv_vm_allocate', 'hv_vm_deallocate', 'hv_vcpu_create', 'hv_vcpu_destroy', 'hv_vcpu_run'],
};

const BANNER = (what: string): string =>
  `/* GENERATED FILE — do not edit. ${what}
 * Written by the build from the spec's registry (packages/capi/scripts/codegen.ts; scripts/generate.ts). */
`;

const MACRO: Record<Arch, string> = { x86_64: 'HVSPEC_API_X86_64', arm64: 'HVSPEC_API_ARM64' };

function stripNullable(c: string): string {
  return c.replace(/\s*_Nullable\s*/, '').trim();
}

const indent = (lines: readonly string[], by = '  '): string =>
  lines.map((l) => (l ? `${by}${l}` : l)).join('\n');

// ---- vocabularies (names in the trace) ------------------------------------------------------------

/** The vocabularies the front spells names with, by a C identifier. */
class VocabTable {
  private readonly byLabel = new Map<string, { id: string; vocab: Vocab }>();

  /** The C expression naming a vocabulary table (`&hvspec_vocab_3`), or `NULL`. */
  ref(v: Vocab | undefined): string {
    if (!v) return 'NULL';
    let e = this.byLabel.get(v.label);
    if (!e) {
      e = { id: `hvspec_vocab_${this.byLabel.size}`, vocab: v };
      this.byLabel.set(v.label, e);
    }
    return `&${e.id}`;
  }

  source(): string {
    const out: string[] = [];
    for (const { id, vocab } of this.byLabel.values()) {
      out.push(`/* ${vocab.label} */`);
      out.push(`static const hvspec_name_t ${id}_names[] = {`);
      for (const [name, value] of vocab.names) out.push(`    {"${name}", 0x${value.toString(16)}ull},`);
      out.push('};');
      // unused: in an interposer built for an older macOS, the functions that name it may be left out.
      out.push(
        `__attribute__((unused)) static const hvspec_vocab_t ${id} = {${id}_names, ${vocab.names.size}};`,
      );
    }
    return out.join('\n');
  }
}

function vocabOf(t: TraceArgType): Vocab | undefined {
  return 'vocab' in t ? t.vocab : undefined;
}

// ---- calls_<flavour>.h ------------------------------------------------------------------------------

/** The C declaration of a call's remote form: its C parameters, then the reply (may be NULL). */
function remotePrototype(spec: CallSpec): string {
  const params = cParams(spec).map((p) => cParamText(p));
  params.push('hvspec_reply_t *reply');
  return `hv_return_t hvspec_remote_${spec.name}(${params.join(', ')})`;
}

function cParamText(p: Param): string {
  return cParam(p);
}

function callsHeader(arch: Arch): string {
  const specs = callSpecs(arch);
  const guard = `HVSPEC_CAPI_CALLS_${arch.toUpperCase()}_H`;
  const lines = [
    BANNER(`The ${arch} hv_* calls of hvspec's C libraries: ids, implementations, remote calls.`),
    `#ifndef ${guard}`,
    `#define ${guard}`,
    '',
    `#if !defined(${MACRO[arch]})`,
    `#define ${MACRO[arch]} 1`,
    '#endif',
    '#include <Hypervisor/Hypervisor.h>',
    '#include "hvspec_capi.h"',
    '',
    '#ifdef __cplusplus',
    'extern "C" {',
    '#endif',
    '',
    '/* Call ids: the registry order, shared with the model server (src/protocol.ts). */',
    'enum {',
    ...specs.map((s, i) => `  HVSPEC_CALL_${s.name} = ${i},`),
    `  HVSPEC_CALLS = ${specs.length},`,
    `  HVSPEC_SERVICE_SHARE = ${specs.length + SERVICE.share},`,
    `  HVSPEC_SERVICE_REBIND = ${specs.length + SERVICE.rebind},`,
    '};',
    `#define HVSPEC_PROTOCOL_SIGNATURE 0x${protocolSignature(specs).toString(16)}u`,
    `#define HVSPEC_ARCH_NAME "${arch}"`,
    `#define HVSPEC_ARCH_ID ${arch === 'x86_64' ? 0 : 1}`,
    '',
    '/* What a library does for each call (KVM provider, model server, or the framework). */',
    ...specs.map((s) => `HVSPEC_HIDDEN ${cPrototype(s, `hvspec_impl_${s.name}`)};`),
    '',
    '/* libhvspec-model: the call made in the model server. */',
    ...specs.map((s) => `HVSPEC_HIDDEN ${remotePrototype(s)};`),
    '',
    '#ifdef __cplusplus',
    '}',
    '#endif',
    `#endif /* ${guard} */`,
  ];
  return `${lines.join('\n')}\n`;
}

// ---- front_<flavour>.c ------------------------------------------------------------------------------

function recordIn(spec: CallSpec, p: InParam, vocabs: VocabTable): string[] {
  const t = p.type;
  const name = JSON.stringify(p.name);
  switch (t.kind) {
    case 'u32':
    case 'u64':
      return [`hvspec_rec_int(r, ${name}, (uint64_t)${p.name}, ${vocabs.ref(vocabOf(t.trace))});`];
    case 'u128':
      return [`hvspec_rec_u128(r, ${name}, &${p.name});`];
    case 'bool':
      return [`hvspec_rec_bool(r, ${name}, ${p.name});`];
    case 'vcpu':
      return [`hvspec_rec_handle(r, ${name}, HVSPEC_KIND_VCPU, (uint64_t)${p.name});`];
    case 'asid':
      return [`hvspec_rec_handle(r, ${name}, HVSPEC_KIND_ASID, (uint64_t)${p.name});`];
    case 'config':
      return [`hvspec_rec_config(r, ${name}, (const void *)${p.name});`];
    case 'uva': {
      if (!p.extent) throw new Error(`${spec.name}: uva ${p.name} needs its extent`);
      return [`hvspec_rec_uva(r, ${name}, (const void *)${p.name}, (uint64_t)${p.extent});`];
    }
    case 'vcpus': {
      const count = countOf(spec, p);
      return [
        `hvspec_rec_list_begin(r, ${name});`,
        `if (${p.name} != NULL)`,
        `  for (uint64_t i = 0; i < (uint64_t)${count} && i < HVSPEC_REC_MAX_LIST; i++)`,
        `    hvspec_rec_list_handle(r, HVSPEC_KIND_VCPU, (uint64_t)${p.name}[i]);`,
        'hvspec_rec_list_end(r);',
      ];
    }
    case 'count':
    case 'length':
      return [`hvspec_rec_int(r, ${name}, (uint64_t)${p.name}, NULL);`];
    case 'bytes': {
      const ins = spec.params.filter((q): q is InParam => q.dir === 'in');
      const length = ins[ins.indexOf(p) + 1];
      if (length?.type.kind !== 'length')
        throw new Error(`${spec.name}: ${p.name} must be followed by its size`);
      return [`hvspec_rec_bytes(r, ${name}, ${p.name}, (uint64_t)${length.name});`];
    }
    case 'flags':
    case 'options':
      return [`hvspec_rec_flags(r, ${name}, (uint64_t)${p.name}, ${vocabs.ref(vocabOf(t.trace))});`];
  }
}

function countOf(spec: CallSpec, list: InParam): string {
  const ins = spec.params.filter((p): p is InParam => p.dir === 'in');
  const count = ins[ins.indexOf(list) + 1];
  if (count?.type.kind !== 'count')
    throw new Error(`${spec.name}: ${list.name} must be followed by its count`);
  return count.name;
}

/** Recording of the out-values after HV_SUCCESS. */
function recordOut(spec: CallSpec, ret: string): string[] {
  const lines: string[] = [];
  const vcpuOut = spec.params.find((p): p is OutParam => p.dir === 'out' && p.type.kind === 'vcpu');
  const values = spec.params.filter((p): p is OutParam => p.dir === 'out' && p.type.kind !== 'exit-pointer');
  if (values.length > 1) {
    // Several out-values: one record value, named as in C.
    if (values.some((p) => p.type.kind !== 'u32' && p.type.kind !== 'u64'))
      throw new Error(`${spec.name}: a record of other than integers`);
    lines.push(
      `if (${values.map((p) => `${p.name} != NULL`).join(' && ')}) {`,
      `  static const char *const names[] = {${values.map((p) => JSON.stringify(p.name)).join(', ')}};`,
      `  const uint64_t v[] = {${values.map((p) => `(uint64_t)*${p.name}`).join(', ')}};`,
      `  hvspec_rec_value_record(r, names, v, ${values.length});`,
      '}',
    );
    return lines;
  }
  for (const p of spec.params) {
    if (p.dir === 'in' && p.frees) lines.push(`hvspec_rec_forget_memory(r, (const void *)${p.name});`);
    if (p.dir !== 'out') continue;
    const ptr = p.name;
    switch (p.type.kind) {
      case 'u64x8':
        lines.push(`if (${ptr} != NULL) hvspec_rec_value_list(r, ${ptr}, 8);`);
        break;
      case 'mem': {
        const extent = p.type.extent;
        if (!extent) throw new Error(`${spec.name}: ${p.name} needs its size parameter`);
        lines.push(`if (${ptr} != NULL) hvspec_rec_bind_memory(r, *${ptr}, (uint64_t)${extent});`);
        break;
      }
      case 'bytes':
        // Opaque data of the backend that made it: a trace of another backend could not expect it.
        break;
      case 'u32':
      case 'u64':
        lines.push(`if (${ptr} != NULL) hvspec_rec_value_int(r, (uint64_t)*${ptr});`);
        break;
      case 'bool':
        lines.push(`if (${ptr} != NULL) hvspec_rec_value_bool(r, *${ptr});`);
        break;
      case 'u128':
        lines.push(`if (${ptr} != NULL) hvspec_rec_value_u128(r, ${ptr});`);
        break;
      case 'vcpu':
        lines.push(`if (${ptr} != NULL) hvspec_rec_bind_handle(r, HVSPEC_KIND_VCPU, (uint64_t)*${ptr});`);
        break;
      case 'asid':
        lines.push(`if (${ptr} != NULL) hvspec_rec_bind_handle(r, HVSPEC_KIND_ASID, (uint64_t)*${ptr});`);
        break;
      case 'config':
        if (p.c !== 'return') throw new Error(`${spec.name}: a config out-value must be returned`);
        lines.push(`hvspec_rec_bind_config(r, (const void *)${ret});`);
        break;
      case 'exit-pointer':
        if (!vcpuOut) throw new Error(`${spec.name}: an exit pointer needs the vCPU it belongs to`);
        lines.push(
          `if (${ptr} != NULL && ${vcpuOut.name} != NULL) hvspec_rec_exit_pointer(r, (uint64_t)*${vcpuOut.name}, (const void *)*${ptr});`,
        );
        break;
      case 'exit': {
        const vcpu = spec.params.find((q) => q.dir === 'in' && q.type.kind === 'vcpu');
        if (!vcpu) throw new Error(`${spec.name}: an exit record needs its vCPU`);
        lines.push(`hvspec_rec_exit(r, (uint64_t)${vcpu.name});`);
        break;
      }
    }
  }
  return lines;
}

function frontFunction(spec: CallSpec, vocabs: VocabTable): string {
  const returned = spec.params.find((p) => p.dir === 'out' && p.c === 'return');
  const retType = cReturnType(spec);
  const args = cParams(spec)
    .map((p) => p.name)
    .join(', ');
  const ins = spec.params.filter((p): p is InParam => p.dir === 'in');
  const record = ins.flatMap((p) => recordIn(spec, p, vocabs));
  const code = returned ? `(ret != NULL ? HV_SUCCESS : HV_NO_RESOURCES)` : 'ret';
  const outs = recordOut(spec, 'ret');
  const flags = [spec.runsGuest ? 'HVSPEC_REC_RUN' : '0', spec.async ? 'HVSPEC_REC_ASYNC' : '0'].join(' | ');
  return `/* ${spec.summary} */
HVSPEC_EXPORT ${cPrototype(spec, `HVSPEC_FRONT(${spec.name})`)} {
  hvspec_rec_t *r = hvspec_rec_begin("${spec.name}", ${flags});
  if (r != NULL) {
${indent(record, '    ')}${record.length ? '\n' : ''}    hvspec_rec_call(r);
  }
  ${retType} ret = HVSPEC_IMPL(${spec.name})(${args});
  if (r != NULL) {
    hv_return_t code = ${code};
    hvspec_rec_ret(r, (uint32_t)code);${
      outs.length
        ? `
    if (code == HV_SUCCESS) {
${indent(outs, '      ')}
    }`
        : ''
    }
    hvspec_rec_end(r);
  }
  return ret;
}
`;
}

/** The first macOS of each flavour's API: functions no newer than this need no gate in the interposer. */
const MACOS_FLOOR: Readonly<Record<Arch, number>> = { x86_64: 101000, arm64: 110000 };

/**
 * The interposer's gate of a function newer than the flavour's first macOS (`#if HVSPEC_INTERPOSE_HAS(v)`),
 * or undefined when it needs none. Outside the interposer every function is compiled.
 */
function interposeGate(spec: CallSpec, arch: Arch): string | undefined {
  const v = macosVersion(spec.availability);
  return v && v.number > MACOS_FLOOR[arch]
    ? `#if HVSPEC_INTERPOSE_HAS(${v.number}) /* ${spec.availability} */`
    : undefined;
}

function gated(spec: CallSpec, arch: Arch, text: string): string {
  const gate = interposeGate(spec, arch);
  return gate ? `${gate}\n${text}#endif\n` : text;
}

function frontSource(arch: Arch): string {
  const specs = callSpecs(arch);
  const vocabs = new VocabTable();
  const functions = specs.map((s) => gated(s, arch, frontFunction(s, vocabs)));
  const exitReasons = arch === 'arm64' ? vocabs.ref(VOCABS.exitReason) : 'NULL';
  const returns = ALL_RETURNS.map((n) => `    case 0x${HV[n].toString(16)}u: return "${n}";`);
  return `${BANNER(`The exported ${arch} hv_* functions of hvspec's C libraries, with recording.`)}
#include <stddef.h>
#include <stdint.h>

#include "calls_${arch}.h"
#include "recorder.h"

/*
 * In libhvspec-kvm and libhvspec-model the front is the exported hv_* function and the implementation
 * is the library's hvspec_impl_*. In the macOS interposer (-DHVSPEC_INTERPOSE, loaded with
 * DYLD_INSERT_LIBRARIES) the front is hvspec_interpose_* and the implementation is the framework's
 * own function: dyld routes every other image's calls through the __interpose table below.
 */
#ifdef HVSPEC_INTERPOSE
#define HVSPEC_FRONT(name) hvspec_interpose_##name
#define HVSPEC_IMPL(name) name
#else
#define HVSPEC_FRONT(name) name
#define HVSPEC_IMPL(name) hvspec_impl_##name
#endif

/*
 * The interposer wraps only the functions of the macOS it is built for (its deployment target,
 * -mmacosx-version-min): a newer function would be weak-imported, its __interpose entry would name
 * address 0 on an older macOS, and an SDK older than the function does not declare it at all. Calls of
 * a function left out reach the framework unrecorded. The libraries and the syntax check on Linux
 * compile every function.
 */
#if defined(HVSPEC_INTERPOSE_HAS)
/* given (the syntax check builds the interposer as for the oldest macOS too) */
#elif defined(HVSPEC_INTERPOSE) && defined(__APPLE__)
#include <Availability.h>
#define HVSPEC_INTERPOSE_HAS(v) (__MAC_OS_X_VERSION_MIN_REQUIRED >= (v))
#else
#define HVSPEC_INTERPOSE_HAS(v) 1
#endif

${vocabs.source()}

/* Return codes by name, for expect.ret. */
const char *hvspec_return_name(uint32_t code) {
  switch (code) {
${returns.join('\n')}
    default: return NULL;
  }
}

const char *const hvspec_rec_arch = "${arch}";

/* Names of the vocabularies the recorder needs itself. */
const hvspec_vocab_t *hvspec_rec_exit_reason_vocab(void) { return ${exitReasons}; }

${functions.join('\n')}
#ifdef HVSPEC_INTERPOSE
#define HVSPEC_INTERPOSE_ENTRY(name) {(const void *)&hvspec_interpose_##name, (const void *)&name},
__attribute__((used)) static const struct {
  const void *replacement;
  const void *original;
} hvspec_interposers[] __attribute__((section("__DATA,__interpose"))) = {
${specs.map((s) => gated(s, arch, `    HVSPEC_INTERPOSE_ENTRY(${s.name})\n`)).join('')}
};
#endif
`;
}

// ---- model_<flavour>.c --------------------------------------------------------------------------------

function pack(spec: CallSpec, p: InParam): string[] {
  switch (p.type.kind) {
    case 'uva':
      return [
        '{',
        `  hv_return_t shared = hvspec_model_share((const void *)${p.name}, (uint64_t)${p.extent}, &a[n], &a[n + 1]);`,
        '  if (shared != HV_SUCCESS) return shared;',
        '  n += 2;',
        '}',
      ];
    case 'u128':
      return [
        `_Static_assert(sizeof(${p.name}) == 16, "a 128-bit value");`,
        `memcpy(&a[n], &${p.name}, 16);`,
        'n += 2;',
      ];
    case 'config':
      return [
        `a[n++] = ${p.name} == NULL ? 1 : 0;`,
        `a[n++] = hvspec_model_object_id((const void *)${p.name}, ${OBJECT_KIND_NUMBER[p.type.object ?? 'config']}u);`,
      ];
    case 'bytes': {
      const ins = spec.params.filter((q): q is InParam => q.dir === 'in');
      const length = ins[ins.indexOf(p) + 1] as InParam;
      // A copy through the thread's shared scratch area: the VMM's own memory is left as it is.
      return [
        '{',
        '  void *scratch = NULL;',
        `  hv_return_t shared = hvspec_model_scratch((uint64_t)${length.name}, &scratch, &a[n], &a[n + 1]);`,
        '  if (shared != HV_SUCCESS) return shared;',
        `  if (${length.name} != 0) memcpy(scratch, ${p.name}, (size_t)${length.name});`,
        `  a[n + 2] = (uint64_t)${length.name};`,
        '  n += 3;',
        '}',
      ];
    }
    case 'length':
      return [];
    case 'vcpus': {
      const count = countOf(spec, p);
      return [
        `if ((uint64_t)${count} > ${MAX_LIST}u || (${count} != 0 && ${p.name} == NULL)) return HV_BAD_ARGUMENT;`,
        `a[n++] = (uint64_t)${count};`,
        `for (uint64_t i = 0; i < (uint64_t)${count}; i++) a[n++] = (uint64_t)${p.name}[i];`,
      ];
    }
    case 'count':
      return [];
    case 'bool':
      return [`a[n++] = ${p.name} ? 1 : 0;`];
    default:
      return [`a[n++] = (uint64_t)${p.name};`];
  }
}

function unpack(p: OutParam, k: number): string[] {
  if ((p.c ?? 'param') !== 'param') return [];
  const pointee = stripNullable(p.type.c).replace(/\*$/, '').trim();
  switch (p.type.kind) {
    case 'bool':
      return [`if (${p.name} != NULL) *${p.name} = o[${k}] != 0;`];
    case 'u128':
      return [`if (${p.name} != NULL) memcpy(${p.name}, &o[${k}], 16);`];
    case 'u64x8':
      return [`if (${p.name} != NULL) memcpy(${p.name}, &o[${k}], 8 * sizeof(uint64_t));`];
    case 'bytes':
      return [`if (${p.name} != NULL && out_size != 0) memcpy(${p.name}, out_scratch, (size_t)out_size);`];
    case 'mem':
      // The library maps the memory itself (custom_arm64.c): the reply holds the model's buffer.
      return [];
    case 'exit-pointer':
      return [];
    default:
      return [`if (${p.name} != NULL) *${p.name} = (${pointee})o[${k}];`];
  }
}

function modelFunction(spec: CallSpec, arch: Arch): string {
  const ins = spec.params.filter((p): p is InParam => p.dir === 'in');
  const lines: string[] = [
    ins.length ? 'uint64_t a[HVSPEC_ARG_WORDS];' : 'uint64_t a[1] = {0};',
    'uint32_t n = 0;',
  ];
  for (const p of ins) lines.push(...pack(spec, p));
  const bytesOut = spec.params.find((p): p is OutParam => p.dir === 'out' && p.type.kind === 'bytes');
  if (bytesOut) {
    // The caller's buffer holds what the size call says (Apple: "at least as large as …_get_size"); the
    // server writes the bytes to the thread's scratch area, copied to the caller's buffer on success.
    const from = bytesOut.type.sizeFrom;
    if (!from) throw new Error(`${spec.name}: ${bytesOut.name} needs sizeFrom`);
    lines.push(
      'size_t out_size = 0;',
      `hv_return_t sized = hvspec_remote_${from}(${[...ins.map((p) => p.name), '&out_size', 'NULL'].join(', ')});`,
      'if (sized != HV_SUCCESS) return sized;',
      'void *out_scratch = NULL;',
      'hv_return_t shared = hvspec_model_scratch((uint64_t)out_size, &out_scratch, &a[n], &a[n + 1]);',
      'if (shared != HV_SUCCESS) return shared;',
      'n += 2;',
    );
  }
  lines.push('uint64_t o[HVSPEC_OUT_WORDS];');
  lines.push(`hv_return_t ret = hvspec_model_call(HVSPEC_CALL_${spec.name}, a, n, o);`);
  const unpacked: string[] = [];
  let k = 0;
  for (const p of spec.params) {
    if (p.dir !== 'out') continue;
    unpacked.push(...unpack(p, k));
    k += outWords(p);
  }
  if (k > OUT_WORDS) throw new Error(`${spec.name}: ${k} reply words, the slot holds ${OUT_WORDS}`);
  if (unpacked.length) lines.push('if (ret == HV_SUCCESS) {', indent(unpacked), '}');
  lines.push('if (reply != NULL) memcpy(reply->out, o, sizeof(o));', 'return ret;');
  const words =
    ins.reduce((sum, p) => {
      const w = inWords(p);
      return sum + (w === 'list' ? MAX_LIST + 1 : w);
    }, 0) +
    spec.params.filter((p): p is OutParam => p.dir === 'out').reduce((sum, p) => sum + outRequestWords(p), 0);
  if (words > ARG_WORDS) throw new Error(`${spec.name}: ${words} request words, the slot holds ${ARG_WORDS}`);
  const custom = MODEL_CUSTOM[arch].includes(spec.name);
  const args = [...cParams(spec).map((p) => p.name), 'NULL'].join(', ');
  const returned = spec.params.find((p): p is OutParam => p.dir === 'out' && p.c === 'return');
  const impl = custom
    ? `/* hvspec_impl_${spec.name}: src/c/model/custom_${arch}.c */\n`
    : returned?.type.kind === 'config'
      ? // An OS object: the library's own allocation holding the server's id and its kind.
        `${cPrototype(spec, `hvspec_impl_${spec.name}`)} {
  hvspec_reply_t reply;
  if (hvspec_remote_${spec.name}(${[...cParams(spec).map((p) => p.name), '&reply'].join(', ')}) != HV_SUCCESS) return NULL;
  return (${returned.type.c})hvspec_model_object_new(reply.out[0], ${OBJECT_KIND_NUMBER[returned.type.object ?? 'config']}u);
}
`
      : `${cPrototype(spec, `hvspec_impl_${spec.name}`)} { return hvspec_remote_${spec.name}(${args}); }\n`;
  return `${remotePrototype(spec)} {
${indent(lines)}
}
${impl}`;
}

function modelSource(arch: Arch): string {
  const specs = callSpecs(arch);
  for (const name of MODEL_CUSTOM[arch])
    if (!specs.some((s) => s.name === name))
      throw new Error(`MODEL_CUSTOM names ${name}, not a ${arch} call`);
  return `${BANNER(`libhvspec-model's ${arch} marshalling: each hv_* call as words of the mailbox.`)}
#include <string.h>

#include "calls_${arch}.h"
#include "model/client.h"

${specs.map((s) => modelFunction(s, arch)).join('\n')}`;
}

// ---- kvm_rename.h, mailbox.h -----------------------------------------------------------------------

function kvmRename(): string {
  return `${BANNER("Renames the KVM provider's hv_* definitions to hvspec_impl_* (libhvspec-kvm's front wraps them).")}
#ifndef HVSPEC_CAPI_KVM_RENAME_H
#define HVSPEC_CAPI_KVM_RENAME_H
${callSpecs('x86_64')
  .map((s) => `#define ${s.name} hvspec_impl_${s.name}`)
  .join('\n')}
#endif
`;
}

function mailboxHeader(): string {
  const vmcs = X86_EXIT_VMCS.map((n, i) => `  {0x${VMCS[n].toString(16)}u, ${i + 1}}, /* ${n} */`);
  const regs = X86_EXIT_REGS.map(
    (n, i) => `  {${HV_X86_REG[n]}u, ${X86_EXIT_VMCS.length + i + 1}}, /* ${n} */`,
  );
  const deferredRegs = [...X86_REG_EXACT].map((r) => `${r}u`).join(', ');
  const deferredVmcs = [...VMCS_REG_ALIAS]
    .filter(([, reg]) => X86_REG_EXACT.has(reg))
    .map(([field]) => `0x${field.toString(16)}u`)
    .join(', ');
  return `${BANNER('The mailbox shared by libhvspec-model and the model server (src/protocol.ts).')}
#ifndef HVSPEC_CAPI_MAILBOX_H
#define HVSPEC_CAPI_MAILBOX_H

#include <stdint.h>

#define HVSPEC_ARG_WORDS ${ARG_WORDS}
#define HVSPEC_OUT_WORDS ${OUT_WORDS}
#define HVSPEC_MAX_LIST ${MAX_LIST}
#define HVSPEC_MB_MAGIC 0x${MAILBOX.magic.toString(16)}u
#define HVSPEC_MB_VERSION ${MAILBOX.version}u
#define HVSPEC_MB_SLOTS ${MAILBOX.slots}u
#define HVSPEC_MB_HEADER_BYTES ${MAILBOX.headerBytes}u
#define HVSPEC_MB_SLOT_BYTES ${MAILBOX.slotBytes}u
#define HVSPEC_MB_BYTES (HVSPEC_MB_HEADER_BYTES + HVSPEC_MB_SLOTS * HVSPEC_MB_SLOT_BYTES)
${Object.entries(MAILBOX.header)
  .map(([k, v]) => `#define HVSPEC_MB_H_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} ${v}u`)
  .join('\n')}
${Object.entries(MAILBOX.slot)
  .map(([k, v]) => `#define HVSPEC_MB_S_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()} ${v}u`)
  .join('\n')}
${Object.entries(SLOT_STATE)
  .map(([k, v]) => `#define HVSPEC_SLOT_${k.toUpperCase()} ${v}u`)
  .join('\n')}

/* x86: the exit record a run's reply carries (word 0: validity mask, bit i for word i). */
typedef struct {
  uint32_t id;
  uint32_t word;
} hvspec_exit_word_t;
/* x86: writes answered in the library, sent with the thread's next call (protocol.ts, MAX_PENDING):
 * registers of the spec's \`gpr\` row and the VMCS fields that are those registers. */
#define HVSPEC_MAX_PENDING ${MAX_PENDING}
#define HVSPEC_PENDING_VMCS 0x${PENDING_VMCS.toString(16)}ull
static const uint32_t hvspec_x86_deferred_regs[] = {${deferredRegs}};
static const uint32_t hvspec_x86_deferred_vmcs[] = {${deferredVmcs}};
#define HVSPEC_X86_EXIT_VMCS_COUNT ${X86_EXIT_VMCS.length}
#define HVSPEC_X86_EXIT_REGS_COUNT ${X86_EXIT_REGS.length}
static const hvspec_exit_word_t hvspec_x86_exit_vmcs[] = {
${vmcs.join('\n')}
};
static const hvspec_exit_word_t hvspec_x86_exit_regs[] = {
${regs.join('\n')}
};

#endif
`;
}

/** Every generated file of the package: path inside `packages/capi/dist/generated/` → text. */
export function capiSources(): Record<string, string> {
  const out: Record<string, string> = {
    'kvm_rename.h': kvmRename(),
    'mailbox.h': mailboxHeader(),
  };
  for (const arch of ['x86_64', 'arm64'] as const) {
    out[`calls_${arch}.h`] = callsHeader(arch);
    out[`front_${arch}.c`] = frontSource(arch);
    out[`model_${arch}.c`] = modelSource(arch);
  }
  return out;
}
