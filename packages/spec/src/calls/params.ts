/**
 * Parameter types of the registry. A parameter's type says everything every consumer needs, so that no
 * consumer spells a signature again: its C type (headers), its TypeScript type (backend interfaces),
 * how it is checked (`TypeError` naming the parameter), how a trace writes it (vocabulary, hex,
 * `$references`) and how the native addon marshals it.
 * @module
 */

import {
  HV_ALLOCATE_FLAGS,
  HV_CACHE_TYPE,
  HV_EXIT_REASON,
  HV_FEATURE_REG,
  HV_GIC_DISTRIBUTOR_REG,
  HV_GIC_ICC_REG,
  HV_GIC_ICH_REG,
  HV_GIC_INT,
  HV_GIC_MSI_REG,
  HV_GIC_REDISTRIBUTOR_REG,
  HV_INTERRUPT_TYPE,
  HV_IPA_GRANULE,
  HV_REG,
  HV_REG_FP,
  HV_REG_LR,
  HV_SIMD_FP_REG_COUNT,
  HV_SYS_REG,
} from '../vocabulary/arm64.js';
import { HV_MEMORY, HV_MEMORY_X86 } from '../vocabulary/memory.js';
import {
  HV_CAP,
  HV_DEADLINE_FOREVER,
  HV_VCPU_OPTIONS,
  HV_VM_OPTIONS,
  HV_VMX_CAP,
  HV_X86_REG,
  VMCS,
  VMX_REASON,
} from '../vocabulary/x86.js';
import type { InParam, OutParam } from './types.js';

/** A set of enum names a field accepts, with a label for messages (`HV_REG_*`). */
export interface Vocab {
  readonly label: string;
  readonly names: ReadonlyMap<string, bigint>;
}

function vocab(label: string, entries: Record<string, number | bigint>, omit: readonly string[] = []): Vocab {
  const names = new Map<string, bigint>();
  for (const [name, value] of Object.entries(entries))
    if (!omit.includes(name)) names.set(name, BigInt(value));
  return { label, names };
}

/** The name of `value` in `v`, if it has one (first match). */
export function vocabName(v: Vocab | undefined, value: bigint): string | undefined {
  if (!v) return undefined;
  for (const [name, n] of v.names) if (n === value) return name;
  return undefined;
}

const SIMD_NAMES: Record<string, number> = {};
for (let i = 0; i < HV_SIMD_FP_REG_COUNT; i++) SIMD_NAMES[`HV_SIMD_FP_REG_Q${i}`] = i;

const MEMORY_NAMES = {
  ...HV_MEMORY,
  HV_MEMORY_NONE: HV_MEMORY.NONE,
  HV_MEMORY_READ: HV_MEMORY.READ,
  HV_MEMORY_WRITE: HV_MEMORY.WRITE,
  HV_MEMORY_EXEC: HV_MEMORY.EXEC,
};

/** The vocabularies traces use for enum-valued parameters. */
export const VOCABS = {
  // HV_X86_REGISTERS_MAX and VMCS_MAX are bounds, not values one reads; their numbers stay usable.
  x86Reg: vocab('HV_X86_*', HV_X86_REG, ['HV_X86_REGISTERS_MAX']),
  arm64Reg: vocab('HV_REG_*', { ...HV_REG, HV_REG_FP, HV_REG_LR }),
  sysReg: vocab('HV_SYS_REG_*', HV_SYS_REG),
  simdReg: vocab('HV_SIMD_FP_REG_Q*', SIMD_NAMES),
  vmcs: vocab('VMCS_*', VMCS, ['VMCS_MAX']),
  vmxCap: vocab('HV_VMX_CAP_*', HV_VMX_CAP),
  cap: vocab('HV_CAP_*', HV_CAP),
  interruptType: vocab('HV_INTERRUPT_TYPE_*', HV_INTERRUPT_TYPE),
  ipaGranule: vocab('HV_IPA_GRANULE_*', HV_IPA_GRANULE),
  featureReg: vocab('HV_FEATURE_REG_*', HV_FEATURE_REG),
  cacheType: vocab('HV_CACHE_TYPE_*', HV_CACHE_TYPE),
  allocateFlags: vocab('HV_ALLOCATE_*', HV_ALLOCATE_FLAGS),
  gicIntid: vocab('HV_GIC_INT_*', HV_GIC_INT),
  gicDistributorReg: vocab('HV_GIC_DISTRIBUTOR_REG_*', HV_GIC_DISTRIBUTOR_REG),
  gicRedistributorReg: vocab('HV_GIC_REDISTRIBUTOR_REG_*', HV_GIC_REDISTRIBUTOR_REG),
  gicIccReg: vocab('HV_GIC_ICC_REG_*', HV_GIC_ICC_REG),
  gicIchReg: vocab('HV_GIC_ICH_REG_*', HV_GIC_ICH_REG),
  gicMsiReg: vocab('HV_GIC_REG_GICM_*', HV_GIC_MSI_REG),
  vmOptions: vocab('HV_VM_*', HV_VM_OPTIONS),
  vcpuOptions: vocab('HV_VCPU_*', HV_VCPU_OPTIONS),
  deadline: vocab('HV_DEADLINE_FOREVER', { HV_DEADLINE_FOREVER }),
  exitReason: vocab('HV_EXIT_REASON_*', HV_EXIT_REASON),
  vmxReason: vocab('VMX_REASON_*', VMX_REASON),
  memoryArm64: vocab('READ/WRITE/EXEC', MEMORY_NAMES),
  memoryX86: vocab('READ/WRITE/EXEC', {
    ...MEMORY_NAMES,
    ...HV_MEMORY_X86,
    ...Object.fromEntries(Object.entries(HV_MEMORY_X86).map(([k, v]) => [`HV_MEMORY_${k}`, v])),
  }),
} as const;

/**
 * The OS objects of the arm64 API that JS holds as small numbers: `config` is an `hv_vm_config_t`
 * (its name predates the others), then `hv_vcpu_config_t`, `hv_gic_config_t` and `hv_gic_state_t`.
 */
export type ObjectKind = 'config' | 'vcpu_config' | 'gic_config' | 'gic_state';
/** Handle kinds: vCPUs, x86 address spaces and the arm64 objects. */
export type HandleKind = 'vcpu' | 'asid' | ObjectKind;

/**
 * What a trace's `bind` holds: handles, integers, booleans, host memory (`hv_vm_allocate`), and bytes
 * a call gave (`hv_gic_state_get_data`) that a later call takes back.
 */
export type BindKind = HandleKind | 'u32' | 'u64' | 'u128' | 'bool' | 'mem' | 'bytes';
/**
 * What a call yields: a bindable value, the arm64 exit record, bytes, eight 64-bit values (CCSIDR_EL1),
 * or a record of several out-values (`hv_gic_get_spi_interrupt_range`).
 */
export type OutKind = BindKind | 'exit' | 'bytes' | 'u64x8' | 'record';

/** Bits of each bindable number, for range checks when a bound value is used as an argument. */
export const KIND_BITS: Readonly<Record<Exclude<BindKind, 'bool' | 'mem' | 'bytes'>, number>> = {
  vcpu: 64,
  config: 64,
  vcpu_config: 64,
  gic_config: 64,
  gic_state: 64,
  asid: 32,
  u32: 32,
  u64: 64,
  u128: 128,
};

/** The JS type of each object kind's handle. */
export const OBJECT_TS: Readonly<Record<ObjectKind, string>> = {
  config: 'VmConfig',
  vcpu_config: 'VcpuConfig',
  gic_config: 'GicConfig',
  gic_state: 'GicState',
};

/** The object kind of an OS object's C type (`hv_vcpu_config_t _Nullable` → `vcpu_config`). */
export function objectKindOf(c: string): ObjectKind {
  const t = c.replace(/\s*_Nullable\s*/, '').trim();
  switch (t) {
    case 'hv_vm_config_t':
      return 'config';
    case 'hv_vcpu_config_t':
      return 'vcpu_config';
    case 'hv_gic_config_t':
      return 'gic_config';
    case 'hv_gic_state_t':
      return 'gic_state';
    default:
      throw new Error(`registry: ${c} is not an OS object type of the API`);
  }
}

/** How a trace writes one argument. */
export type TraceArgType =
  /** An integer (number or hex string, or a vocabulary name), passed as a JS number or bigint. */
  | {
      readonly t: 'int';
      readonly bits: 32 | 64 | 128;
      readonly as: 'number' | 'bigint';
      readonly vocab?: Vocab;
    }
  | { readonly t: 'bool' }
  /** `hv_memory_flags_t`: a list of names or a number; passed as a number. */
  | { readonly t: 'flags'; readonly vocab: Vocab }
  /** An x86 option word: a name, a list of names or a number; passed as a bigint. */
  | { readonly t: 'options'; readonly vocab: Vocab }
  /** A handle: `"$name"` bound by its parent call, or a number (a forged handle, for misuse traces). */
  | {
      readonly t: 'handle';
      readonly kind: HandleKind;
      readonly nullable?: 'null-or-handle' | 'null-only';
    }
  /** The size beside a `hex` argument (`hv_gic_set_state`); defaults to the bytes' length. */
  | { readonly t: 'length' }
  /** A list of vCPU handles (`hv_vcpus_exit`, `hv_vcpu_interrupt`). */
  | { readonly t: 'vcpus' }
  /** The `vcpu_count` beside a `vcpus` list; defaults to the list's length. */
  | { readonly t: 'count' }
  /** `{mem, offset}`: a place in a host buffer, in place of a raw pointer. */
  | { readonly t: 'uva' }
  /** The name of a `host_alloc` buffer. */
  | { readonly t: 'mem' }
  /** Bytes as hex digits, two per byte. */
  | { readonly t: 'hex' }
  /** A new name (`host_alloc`'s buffer). */
  | { readonly t: 'name' }
  /** The label of an earlier async step (`await`). */
  | { readonly t: 'label' }
  /** One of a fixed set of words (`x86_setup`'s mode). */
  | { readonly t: 'word'; readonly values: readonly string[] };

/**
 * How a JS caller passes an `in` parameter and how it is checked. Each kind has one check (see
 * `checks.ts`), one trace spelling and one native marshalling:
 * - `u32` / `u64`: an integer (`number` below 2^32 / `bigint` below 2^64);
 * - `bool`; `u128`: a `bigint` below 2^128 (a SIMD register);
 * - `vcpu`, `asid`, `config`: handles (branded numbers); `config` is any OS object of the arm64 API
 *   (`object` says which) and may be nullable;
 * - `uva`: `{mem, offset}` into a host buffer, standing for a host pointer;
 * - `vcpus` + `count`: a list of vCPU handles and the C count beside it;
 * - `bytes` + `length`: bytes the call reads (`const void *`) and the C size beside them (at most the
 *   bytes' length);
 * - `flags`: `hv_memory_flags_t` as a number; `options`: an x86 option word as a bigint.
 */
export type InKind =
  | 'u32'
  | 'u64'
  | 'u128'
  | 'bool'
  | 'vcpu'
  | 'asid'
  | 'config'
  | 'uva'
  | 'vcpus'
  | 'count'
  | 'bytes'
  | 'length'
  | 'flags'
  | 'options';

/** The type of an `in` parameter. */
export interface InType {
  readonly kind: InKind;
  /** The C type, exactly as Apple's header spells it. */
  readonly c: string;
  /** The TypeScript type of the backend method's parameter. */
  readonly ts: string;
  readonly trace: TraceArgType;
  /** `config` only: `null` stands for the C NULL (defaults). `'only'`: nothing else is accepted yet. */
  readonly nullable?: 'or-handle' | 'only';
  /** `config` only: which OS object. */
  readonly object?: ObjectKind;
}

/**
 * The type of an `out` parameter. `value` parameters become the call's `Result.value`; the others
 * have no JS value (the arm64 exit-record pointer: the record comes back with every run).
 */
export interface OutType {
  readonly kind: OutKind | 'exit-pointer';
  /**
   * The C type of the pointer parameter (`uint64_t *`), or of the C return value when `returned`. An
   * array parameter (`u64x8`) has its element type here and its extent in {@link array}.
   */
  readonly c: string;
  /** The TypeScript type of `Result.value`. */
  readonly ts: string;
  /** Names usable for the value in a trace's `expect.value`. */
  readonly vocab?: Vocab;
  /** `config` only: which OS object. */
  readonly object?: ObjectKind;
  /** A C array parameter: `uint64_t values[_Nonnull 8]` is `{c: 'uint64_t', array: '_Nonnull 8'}`. */
  readonly array?: string;
  /**
   * `bytes` only: the call whose value gives how many bytes the C buffer must hold (the caller allocates
   * it): `hv_gic_state_get_data` writes as many bytes as `hv_gic_state_get_size` of the same object says.
   */
  readonly sizeFrom?: string;
  /** `mem` only: the `in` parameter giving the memory's size in bytes. */
  readonly extent?: string;
  /** `record` only: the out-parameters the value gathers, by name. */
  readonly fields?: readonly { readonly name: string; readonly type: OutType }[];
}

const int = (bits: 32 | 64 | 128, v?: Vocab): TraceArgType => ({
  t: 'int',
  bits,
  as: bits === 32 ? 'number' : 'bigint',
  ...(v ? { vocab: v } : {}),
});

/** Constructors of `in` parameter types, by what they are in the C API. */
export const IN = {
  /** A 32-bit integer or enum (`uint32_t`, `hv_x86_reg_t`, ...); `number` in JS. */
  u32: (c: string, v?: Vocab): InType => ({ kind: 'u32', c, ts: 'number', trace: int(32, v) }),
  /** A 64-bit integer (`uint64_t`, `hv_gpaddr_t`, `size_t`, ...); `bigint` in JS. */
  u64: (c: string, v?: Vocab): InType => ({ kind: 'u64', c, ts: 'bigint', trace: int(64, v) }),
  /** A 128-bit SIMD&FP value (`hv_simd_fp_uchar16_t`); `bigint` in JS, little-endian bytes in C. */
  u128: (c: string): InType => ({ kind: 'u128', c, ts: 'bigint', trace: int(128) }),
  /** A C `bool`; `boolean` in JS. */
  bool: (): InType => ({ kind: 'bool', c: 'bool', ts: 'boolean', trace: { t: 'bool' } }),
  /** A vCPU handle (`hv_vcpuid_t` / `hv_vcpu_t`); a branded `Vcpu` in JS, `"$name"` in a trace. */
  vcpu: (c: 'hv_vcpuid_t' | 'hv_vcpu_t'): InType => ({
    kind: 'vcpu',
    c,
    ts: 'Vcpu',
    trace: { t: 'handle', kind: 'vcpu' },
  }),
  /** An x86 address-space id (`hv_vm_space_t`); a branded `AddressSpace` in JS. */
  asid: (): InType => ({
    kind: 'asid',
    c: 'hv_vm_space_t',
    ts: 'AddressSpace',
    trace: { t: 'handle', kind: 'asid' },
  }),
  /**
   * An arm64 OS object (`hv_vm_config_t`, `hv_vcpu_config_t`, `hv_gic_config_t`, `hv_gic_state_t`, by
   * its C type); `null` for C's NULL where `nullable`.
   */
  config: (c: string, nullable?: 'or-handle' | 'only'): InType => {
    const object = objectKindOf(c);
    const ts = OBJECT_TS[object];
    return {
      kind: 'config',
      c,
      ts: nullable === 'only' ? 'null' : nullable === 'or-handle' ? `${ts} | null` : ts,
      trace: {
        t: 'handle',
        kind: object,
        ...(nullable ? { nullable: nullable === 'only' ? 'null-only' : 'null-or-handle' } : {}),
      },
      object,
      ...(nullable ? { nullable } : {}),
    };
  },
  /** Bytes the call reads (`const void *`): a `Uint8Array` in JS, hex in a trace. */
  bytes: (c: string): InType => ({ kind: 'bytes', c, ts: 'Uint8Array', trace: { t: 'hex' } }),
  /** The size of the `bytes` parameter before it (`size_t`); a trace may leave it out (the bytes' length). */
  length: (c: string): InType => ({ kind: 'length', c, ts: 'bigint', trace: { t: 'length' } }),
  /** A host address (`hv_uvaddr_t`, `void *`): `{mem, offset}` into a host buffer. */
  uva: (c: string): InType => ({ kind: 'uva', c, ts: 'Uva', trace: { t: 'uva' } }),
  /** A C array of vCPU handles (`hv_vcpu_t *`); a list in JS and in traces. */
  vcpus: (c: string): InType => ({ kind: 'vcpus', c, ts: 'readonly Vcpu[]', trace: { t: 'vcpus' } }),
  /** The element count beside a `vcpus` array; a trace may leave it out (the list's length). */
  count: (c: string): InType => ({ kind: 'count', c, ts: 'number', trace: { t: 'count' } }),
  /** `hv_memory_flags_t`: a number in JS, a list of names in a trace. */
  flags: (v: Vocab): InType => ({
    kind: 'flags',
    c: 'hv_memory_flags_t',
    ts: 'number',
    trace: { t: 'flags', vocab: v },
  }),
  /** An x86 option word (`hv_vm_options_t`, `hv_vcpu_options_t`): a `bigint` in JS, names in a trace. */
  options: (c: string, v: Vocab): InType => ({
    kind: 'options',
    c,
    ts: 'bigint',
    trace: { t: 'options', vocab: v },
  }),
} as const;

/** Constructors of `out` parameter types. */
export const OUT = {
  /** A 32-bit integer or enum written through a pointer; `number` in JS. */
  u32: (c: string, v?: Vocab): OutType => ({ kind: 'u32', c, ts: 'number', ...(v ? { vocab: v } : {}) }),
  /** A 64-bit integer written through a pointer; `bigint` in JS. */
  u64: (c: string, v?: Vocab): OutType => ({ kind: 'u64', c, ts: 'bigint', ...(v ? { vocab: v } : {}) }),
  /** A 128-bit SIMD&FP value; `bigint` in JS. */
  u128: (c: string): OutType => ({ kind: 'u128', c, ts: 'bigint' }),
  /** A C `bool` written through a pointer; `boolean` in JS. */
  bool: (): OutType => ({ kind: 'bool', c: 'bool *', ts: 'boolean' }),
  /** A new vCPU handle; bindable in a trace. */
  vcpu: (c: string): OutType => ({ kind: 'vcpu', c, ts: 'Vcpu' }),
  /** A new address-space id; bindable in a trace. */
  asid: (): OutType => ({ kind: 'asid', c: 'hv_vm_space_t *', ts: 'AddressSpace' }),
  /** A new OS object (returned by the C function itself); bindable in a trace. */
  config: (c: string): OutType => {
    const object = objectKindOf(c);
    return { kind: 'config', c, ts: OBJECT_TS[object], object };
  },
  /** Eight 64-bit values written into a C array (`uint64_t values[_Nonnull 8]`); a list in JS. */
  u64x8: (c: string, array: string): OutType => ({ kind: 'u64x8', c, ts: 'readonly bigint[]', array }),
  /** Host memory the call allocates (`void **`), `extent` bytes: a `HostMemory` in JS, a buffer name in a trace. */
  mem: (c: string, extent: string): OutType => ({ kind: 'mem', c, ts: 'HostMemory', extent }),
  /** Bytes written into the caller's buffer (`void *`), as many as `sizeFrom` says; a `Uint8Array` in JS. */
  bytes: (c: string, sizeFrom: string): OutType => ({ kind: 'bytes', c, ts: 'Uint8Array', sizeFrom }),
  /** `hv_vcpu_exit_t **`: where arm64 `hv_vcpu_create` leaves the exit record's address (no JS value). */
  exitPointer: (): OutType => ({ kind: 'exit-pointer', c: 'hv_vcpu_exit_t **', ts: 'never' }),
  /** The arm64 exit record a run fills: the `Arm64Exit` value of `hv_vcpu_run`. */
  exit: (): OutType => ({ kind: 'exit', c: 'hv_vcpu_exit_t', ts: 'Arm64Exit' }),
} as const;

/** The `uint64_t value` a setter takes (registers, VMCS fields, MSRs). */
export const valueIn = (doc = 'the value'): InParam => ({
  name: 'value',
  dir: 'in',
  type: IN.u64('uint64_t'),
  doc,
});
/** The `uint64_t *value` a getter fills. */
export const valueOut = (doc = 'the value'): OutParam => ({
  name: 'value',
  dir: 'out',
  type: OUT.u64('uint64_t *'),
  doc,
});
