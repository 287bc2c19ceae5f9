/**
 * The one table of trace calls: call name → architecture → arguments (named after the C parameters,
 * in C parameter order, each with its type), the out-value, and which expectations apply. The parser
 * validates a trace against it and the replayer converts arguments with it and passes them to the
 * backend method of the same name in this order (after the logical thread), so the two cannot drift.
 * @module
 */

import type { Arch } from '../backend.js';
import {
  HV_EXIT_REASON,
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

/** The vocabularies traces use. */
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
  vmOptions: vocab('HV_VM_*', HV_VM_OPTIONS),
  vcpuOptions: vocab('HV_VCPU_*', HV_VCPU_OPTIONS),
  deadline: vocab('HV_DEADLINE_FOREVER', { HV_DEADLINE_FOREVER }),
  exitReason: vocab('HV_EXIT_REASON_*', HV_EXIT_REASON),
  vmxReason: vocab('VMX_REASON_*', VMX_REASON),
  memoryArm64: vocab('READ/WRITE/EXEC', {
    ...HV_MEMORY,
    HV_MEMORY_NONE: HV_MEMORY.NONE,
    HV_MEMORY_READ: HV_MEMORY.READ,
    HV_MEMORY_WRITE: HV_MEMORY.WRITE,
    HV_MEMORY_EXEC: HV_MEMORY.EXEC,
  }),
  memoryX86: vocab('READ/WRITE/EXEC', {
    ...HV_MEMORY,
    HV_MEMORY_NONE: HV_MEMORY.NONE,
    HV_MEMORY_READ: HV_MEMORY.READ,
    HV_MEMORY_WRITE: HV_MEMORY.WRITE,
    HV_MEMORY_EXEC: HV_MEMORY.EXEC,
    ...HV_MEMORY_X86,
    ...Object.fromEntries(Object.entries(HV_MEMORY_X86).map(([k, v]) => [`HV_MEMORY_${k}`, v])),
  }),
} as const;

/** What a `bind` holds: handles, integers and booleans. */
export type BindKind = 'vcpu' | 'config' | 'asid' | 'u32' | 'u64' | 'u128' | 'bool';
/** What a call yields: a bindable value, the arm64 exit record, or bytes (`host_read`). */
export type OutKind = BindKind | 'exit' | 'bytes';

/** The type of one argument. */
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
      readonly kind: 'vcpu' | 'config' | 'asid';
      readonly nullable?: 'null-or-handle' | 'null-only';
    }
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

export interface TraceArgSpec {
  readonly name: string;
  readonly type: TraceArgType;
  /** Only `vcpu_count` is optional. */
  readonly optional?: boolean;
}

/** How the replayer runs a call. */
export type TraceCallKind = 'hv' | 'host' | 'setup' | 'await';

export interface TraceCallSpec {
  readonly kind: TraceCallKind;
  /** In C parameter order, after the logical thread. */
  readonly args: readonly TraceArgSpec[];
  readonly out?: OutKind;
  /** Has an `*_async` form on the backend, so `"async": true` is allowed. */
  readonly hasAsync?: boolean;
  /** Executes guest code: unsupported on a backend without `guestExecution`. */
  readonly runsGuest?: boolean;
  /** Installs permissions (map/protect): the index of its flags argument, checked against `enforcedPermissions`. */
  readonly flagsArg?: number;
  /** Names usable in a `value` expectation, given the converted arguments. */
  readonly valueVocab?: (args: readonly unknown[]) => Vocab | undefined;
}

const u32: TraceArgType = { t: 'int', bits: 32, as: 'number' };
const u64: TraceArgType = { t: 'int', bits: 64, as: 'bigint' };
const u128: TraceArgType = { t: 'int', bits: 128, as: 'bigint' };
const size: TraceArgType = { t: 'int', bits: 64, as: 'number' };
const bool: TraceArgType = { t: 'bool' };
const vcpu: TraceArgType = { t: 'handle', kind: 'vcpu' };
const asid: TraceArgType = { t: 'handle', kind: 'asid' };
const config: TraceArgType = { t: 'handle', kind: 'config' };
const uva: TraceArgType = { t: 'uva' };
const en = (v: Vocab, bits: 32 | 64 = 32): TraceArgType => ({
  t: 'int',
  bits,
  as: bits === 32 ? 'number' : 'bigint',
  vocab: v,
});
const a = (name: string, type: TraceArgType, optional = false): TraceArgSpec => ({ name, type, optional });
const x86Flags: TraceArgType = { t: 'flags', vocab: VOCABS.memoryX86 };
const armFlags: TraceArgType = { t: 'flags', vocab: VOCABS.memoryArm64 };

const hv = (args: TraceArgSpec[], more: Partial<TraceCallSpec> = {}): TraceCallSpec => ({
  kind: 'hv',
  args,
  ...more,
});
const vcpuGet = (out: OutKind, ...extra: TraceArgSpec[]): TraceCallSpec =>
  hv([a('vcpu', vcpu), ...extra], { out });
const vcpuSet = (...extra: TraceArgSpec[]): TraceCallSpec => hv([a('vcpu', vcpu), ...extra]);

const both = (spec: TraceCallSpec): Partial<Record<Arch, TraceCallSpec>> => ({ x86_64: spec, arm64: spec });

/**
 * Every call a trace may make. Backend method names equal the call names; arguments are passed in
 * the order listed here, after the logical thread.
 */
export const TRACE_CALLS: Readonly<Record<string, Partial<Record<Arch, TraceCallSpec>>>> = {
  // Host steps (not hv_* calls): buffers stand in for the host memory a VMM would mmap.
  host_alloc: both({ kind: 'host', args: [a('name', { t: 'name' }), a('size', size)] }),
  host_write: both({
    kind: 'host',
    args: [a('mem', { t: 'mem' }), a('offset', size), a('bytes', { t: 'hex' })],
  }),
  host_read: both({
    kind: 'host',
    args: [a('mem', { t: 'mem' }), a('offset', size), a('size', size)],
    out: 'bytes',
  }),
  await: both({ kind: 'await', args: [a('label', { t: 'label' })] }),
  x86_setup: {
    x86_64: {
      kind: 'setup',
      args: [
        a('vcpu', vcpu),
        a('mode', { t: 'word', values: ['real', 'prot32', 'prot32-paging', 'long64'] }),
        a('rip', u64),
      ],
    },
  },

  // VM
  hv_vm_create: {
    x86_64: hv([a('flags', { t: 'options', vocab: VOCABS.vmOptions })]),
    arm64: hv([a('config', { t: 'handle', kind: 'config', nullable: 'null-or-handle' })]),
  },
  hv_vm_destroy: both(hv([])),
  hv_vm_map: {
    x86_64: hv([a('uva', uva), a('gpa', u64), a('size', u64), a('flags', x86Flags)], { flagsArg: 3 }),
    arm64: hv([a('uva', uva), a('ipa', u64), a('size', u64), a('flags', armFlags)], { flagsArg: 3 }),
  },
  hv_vm_unmap: {
    x86_64: hv([a('gpa', u64), a('size', u64)]),
    arm64: hv([a('ipa', u64), a('size', u64)]),
  },
  hv_vm_protect: {
    x86_64: hv([a('gpa', u64), a('size', u64), a('flags', x86Flags)], { flagsArg: 2 }),
    arm64: hv([a('ipa', u64), a('size', u64), a('flags', armFlags)], { flagsArg: 2 }),
  },

  // x86: capabilities and address spaces
  hv_capability: { x86_64: hv([a('capability', en(VOCABS.cap))], { out: 'u64' }) },
  hv_vm_space_create: { x86_64: hv([], { out: 'asid' }) },
  hv_vm_space_destroy: { x86_64: hv([a('asid', asid)]) },
  hv_vm_map_space: {
    x86_64: hv([a('asid', asid), a('uva', uva), a('gpa', u64), a('size', u64), a('flags', x86Flags)], {
      flagsArg: 4,
    }),
  },
  hv_vm_unmap_space: { x86_64: hv([a('asid', asid), a('gpa', u64), a('size', u64)]) },
  hv_vm_protect_space: {
    x86_64: hv([a('asid', asid), a('gpa', u64), a('size', u64), a('flags', x86Flags)], { flagsArg: 3 }),
  },

  // arm64: VM configuration
  hv_vm_get_max_vcpu_count: { arm64: hv([], { out: 'u32' }) },
  hv_vm_config_get_max_ipa_size: { arm64: hv([], { out: 'u32' }) },
  hv_vm_config_get_default_ipa_size: { arm64: hv([], { out: 'u32' }) },
  hv_vm_config_create: { arm64: hv([], { out: 'config' }) },
  hv_vm_config_set_ipa_size: { arm64: hv([a('config', config), a('ipa_bit_length', u32)]) },
  hv_vm_config_get_ipa_size: { arm64: hv([a('config', config)], { out: 'u32' }) },
  hv_vm_config_set_ipa_granule: { arm64: hv([a('config', config), a('granule', en(VOCABS.ipaGranule))]) },
  hv_vm_config_get_ipa_granule: {
    arm64: hv([a('config', config)], { out: 'u32', valueVocab: () => VOCABS.ipaGranule }),
  },

  // vCPUs
  hv_vcpu_create: {
    x86_64: hv([a('flags', { t: 'options', vocab: VOCABS.vcpuOptions })], { out: 'vcpu' }),
    arm64: hv([a('config', { t: 'handle', kind: 'config', nullable: 'null-only' })], { out: 'vcpu' }),
  },
  hv_vcpu_destroy: both(vcpuSet()),
  hv_vcpu_set_space: { x86_64: vcpuSet(a('asid', asid)) },

  // x86 registers and VMCS
  hv_vcpu_read_register: { x86_64: vcpuGet('u64', a('reg', en(VOCABS.x86Reg))) },
  hv_vcpu_write_register: { x86_64: vcpuSet(a('reg', en(VOCABS.x86Reg)), a('value', u64)) },
  hv_vmx_read_capability: { x86_64: hv([a('field', en(VOCABS.vmxCap))], { out: 'u64' }) },
  hv_vmx_vcpu_read_vmcs: {
    x86_64: hv([a('vcpu', vcpu), a('field', en(VOCABS.vmcs))], {
      out: 'u64',
      // Exit reasons read as the VMM reads them: VMX_REASON_* names in the expectation.
      valueVocab: (args) => (args[1] === VMCS.VMCS_RO_EXIT_REASON ? VOCABS.vmxReason : undefined),
    }),
  },
  hv_vmx_vcpu_write_vmcs: { x86_64: vcpuSet(a('field', en(VOCABS.vmcs)), a('value', u64)) },
  hv_vcpu_run: {
    x86_64: hv([a('vcpu', vcpu)], { hasAsync: true, runsGuest: true }),
    arm64: hv([a('vcpu', vcpu)], { out: 'exit', hasAsync: true, runsGuest: true }),
  },
  hv_vcpu_run_until: {
    x86_64: hv([a('vcpu', vcpu), a('deadline', en(VOCABS.deadline, 64))], { runsGuest: true }),
  },
  hv_vcpu_interrupt: { x86_64: hv([a('vcpus', { t: 'vcpus' }), a('vcpu_count', { t: 'count' }, true)]) },

  // arm64 registers, interrupts, timer, debug traps
  hv_vcpu_get_reg: { arm64: vcpuGet('u64', a('reg', en(VOCABS.arm64Reg))) },
  hv_vcpu_set_reg: { arm64: vcpuSet(a('reg', en(VOCABS.arm64Reg)), a('value', u64)) },
  hv_vcpu_get_simd_fp_reg: { arm64: vcpuGet('u128', a('reg', en(VOCABS.simdReg))) },
  hv_vcpu_set_simd_fp_reg: { arm64: vcpuSet(a('reg', en(VOCABS.simdReg)), a('value', u128)) },
  hv_vcpu_get_sys_reg: { arm64: vcpuGet('u64', a('reg', en(VOCABS.sysReg))) },
  hv_vcpu_set_sys_reg: { arm64: vcpuSet(a('reg', en(VOCABS.sysReg)), a('value', u64)) },
  hv_vcpu_get_pending_interrupt: { arm64: vcpuGet('bool', a('type', en(VOCABS.interruptType))) },
  hv_vcpu_set_pending_interrupt: { arm64: vcpuSet(a('type', en(VOCABS.interruptType)), a('pending', bool)) },
  hv_vcpu_get_vtimer_mask: { arm64: vcpuGet('bool') },
  hv_vcpu_set_vtimer_mask: { arm64: vcpuSet(a('vtimer_is_masked', bool)) },
  hv_vcpu_get_vtimer_offset: { arm64: vcpuGet('u64') },
  hv_vcpu_set_vtimer_offset: { arm64: vcpuSet(a('vtimer_offset', u64)) },
  hv_vcpu_get_trap_debug_exceptions: { arm64: vcpuGet('bool') },
  hv_vcpu_set_trap_debug_exceptions: { arm64: vcpuSet(a('value', bool)) },
  hv_vcpu_get_trap_debug_reg_accesses: { arm64: vcpuGet('bool') },
  hv_vcpu_set_trap_debug_reg_accesses: { arm64: vcpuSet(a('value', bool)) },
  hv_vcpus_exit: { arm64: hv([a('vcpus', { t: 'vcpus' }), a('vcpu_count', { t: 'count' }, true)]) },
};

/** The call's spec for `arch`, or undefined when the call does not exist there. */
export function traceCallSpec(call: string, arch: Arch): TraceCallSpec | undefined {
  return Object.hasOwn(TRACE_CALLS, call) ? TRACE_CALLS[call]?.[arch] : undefined;
}

/** Bits of each bindable kind, for range checks when a bound value is used as an argument. */
export const KIND_BITS: Readonly<Record<Exclude<BindKind, 'bool'>, number>> = {
  vcpu: 64,
  config: 64,
  asid: 32,
  u32: 32,
  u64: 64,
  u128: 128,
};
