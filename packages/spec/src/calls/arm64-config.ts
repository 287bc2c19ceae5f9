/**
 * The arm64 configuration calls beyond IPA size and granule: vCPU configuration objects with the
 * host's feature registers and CCSIDR_EL1 values, a VM configuration's EL2 switch, the default IPA
 * granule, and host memory from `hv_vm_allocate`.
 * @module
 */
import type { HostMemory, Uva } from '../backend.js';
import type { SpecState } from '../state.js';
import { HV_CACHE_TYPE, HV_FEATURE_REG, HV_IPA_GRANULE } from '../vocabulary/arm64.js';
import { HV } from '../vocabulary/returns.js';
import { ANY, always, arg, expectNew, H, NOT_SUCCESS, R, SUCCESS, U } from './dsl.js';
import { IN, OUT, VOCABS } from './params.js';
import type { CallSpec, InParam, Row, SpecCall } from './types.js';
import { badVmConfig, storeInVmConfig, vmConfigGetter } from './vm-config.js';

const vmConfigParam: InParam = {
  name: 'config',
  dir: 'in',
  type: IN.config('hv_vm_config_t'),
  doc: 'a VM configuration',
};
const vcpuConfigParam: InParam = {
  name: 'config',
  dir: 'in',
  type: IN.config('hv_vcpu_config_t'),
  doc: 'a vCPU configuration',
};

const badVcpuConfig: Row = {
  id: 'bad-config',
  when: 'config is not an object returned by hv_vcpu_config_create',
  applies: (s, c) => !s.vcpuConfigs.has(Number(c.args.config)),
  ret: NOT_SUCCESS,
  evidence: U,
  source: 'hvf-facts §2.4: vCPU configurations come from hv_vcpu_config_create; others are undocumented',
};

/** A value of `count` 64-bit integers, or what is wrong with it. */
function u64List(what: string, v: unknown, count: number): string | undefined {
  if (!Array.isArray(v) || v.length !== count)
    return `${what}: expected ${count} values, got ${Array.isArray(v) ? v.length : typeof v}`;
  for (const [i, x] of v.entries())
    if (typeof x !== 'bigint' || x < 0n || x >= 1n << 64n) return `${what}[${i}]: not a 64-bit value`;
  return undefined;
}

// ---- vCPU configurations (hv_vcpu_config.h) -------------------------------------------------------

const hv_vcpu_config_create: CallSpec = {
  name: 'hv_vcpu_config_create',
  arch: 'arm64',
  summary: 'Creates a vCPU configuration object; hv_vcpu_create takes it.',
  availability: 'macOS 11.0',
  thread: 'process',
  header: 'hv_vcpu_config.h',
  params: [
    {
      name: 'config',
      dir: 'out',
      type: OUT.config('hv_vcpu_config_t'),
      doc: 'the new configuration',
      c: 'return',
    },
  ],
  rows: [
    {
      id: 'ok',
      when: 'always (no VM needed)',
      applies: always,
      ret: SUCCESS,
      result: 'config = a new object describing the host vCPU',
      evidence: H,
      source: 'hvf-facts §2.4: hv_vcpu_config_create; "These do not need a VM" [H]',
      value: expectNew('config', 'a new object', (s) => s.vcpuConfigs),
      effect: (s, _c, o) => {
        s.vcpuConfigs.add(Number(o.value));
      },
    },
  ],
};

const hv_vcpu_config_get_feature_reg: CallSpec = {
  name: 'hv_vcpu_config_get_feature_reg',
  arch: 'arm64',
  summary: 'Reads a feature register (ID_AA64*_EL1, CTR_EL0, CLIDR_EL1, DCZID_EL0) of a vCPU configuration.',
  availability: 'macOS 11.0',
  thread: 'process',
  header: 'hv_vcpu_config.h',
  params: [
    vcpuConfigParam,
    {
      name: 'feature_reg',
      dir: 'in',
      type: IN.u32('hv_feature_reg_t', VOCABS.featureReg),
      doc: 'the feature register',
    },
    { name: 'value', dir: 'out', type: OUT.u64('uint64_t *'), doc: 'its value' },
  ],
  rows: [
    badVcpuConfig,
    {
      id: 'bad-feature-reg',
      when: 'feature_reg is not an hv_feature_reg_t value (0–13)',
      applies: (_s, c) => arg<number>(c, 'feature_reg') > HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64ZFR0_EL1,
      ret: NOT_SUCCESS,
      evidence: U,
      source: "hvf-facts §2.1: the header's enum has 14 values; others are undocumented",
    },
    {
      id: 'ok',
      when: 'config is a vCPU configuration and feature_reg names a feature register',
      applies: always,
      ret: SUCCESS,
      result: 'value = the register as the host presents it to vCPUs (host dependent; not predicted)',
      evidence: H,
      source:
        'hvf-facts §2.4: hv_vcpu_config_get_feature_reg; QEMU reads the host ID registers this way, without a VM [H/T]',
    },
  ],
};

const hv_vcpu_config_get_ccsidr_el1_sys_reg_values: CallSpec = {
  name: 'hv_vcpu_config_get_ccsidr_el1_sys_reg_values',
  arch: 'arm64',
  summary: 'Reads the CCSIDR_EL1 values of the data or instruction caches of a vCPU configuration.',
  availability: 'macOS 11.0',
  thread: 'process',
  header: 'hv_vcpu_config.h',
  params: [
    vcpuConfigParam,
    {
      name: 'cache_type',
      dir: 'in',
      type: IN.u32('hv_cache_type_t', VOCABS.cacheType),
      doc: 'HV_CACHE_TYPE_DATA or _INSTRUCTION',
    },
    {
      name: 'values',
      dir: 'out',
      type: OUT.u64x8('uint64_t', '_Nonnull 8'),
      doc: 'eight CCSIDR_EL1 values',
    },
  ],
  rows: [
    badVcpuConfig,
    {
      id: 'bad-cache-type',
      when: 'cache_type is not HV_CACHE_TYPE_DATA (0) or HV_CACHE_TYPE_INSTRUCTION (1)',
      applies: (_s, c) => arg<number>(c, 'cache_type') > HV_CACHE_TYPE.HV_CACHE_TYPE_INSTRUCTION,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.1: hv_cache_type_t has two values [H]; others are undocumented',
    },
    {
      id: 'ok',
      when: 'config is a vCPU configuration and cache_type a cache type',
      applies: always,
      ret: SUCCESS,
      result:
        'values = eight CCSIDR_EL1 values (the framework virtualizes CSSELR_EL1/CCSIDR_EL1; host dependent, not predicted)',
      evidence: H,
      source: 'hvf-facts §2.4: hv_vcpu_config_get_ccsidr_el1_sys_reg_values(…, uint64_t values[8]) [H]',
      value: (_s, _c, v) => u64List('values', v, 8),
    },
  ],
};

// ---- VM configurations: EL2 and the default granule (hv_vm_config.h) -------------------------------

const hv_vm_config_get_el2_supported: CallSpec = {
  name: 'hv_vm_config_get_el2_supported',
  arch: 'arm64',
  summary: 'Reads whether this host can run guests at EL2 (nested virtualization).',
  availability: 'macOS 15.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [{ name: 'el2_supported', dir: 'out', type: OUT.bool(), doc: 'whether EL2 is supported' }],
  rows: [
    {
      id: 'ok',
      when: 'always (no VM needed)',
      applies: always,
      ret: SUCCESS,
      result: 'value = whether guests may run at EL2 (macOS 15 on M3 and later; the backend declares it)',
      evidence: H,
      source: 'hvf-facts §2.3: hv_vm_config_get_el2_supported (nested virt; hardware M3+) [H]',
      expect: (s) => s.env.el2Supported,
    },
  ],
};

const hv_vm_config_get_el2_enabled = vmConfigGetter({
  get: 'hv_vm_config_get_el2_enabled',
  summary: 'Reads whether a VM configuration enables EL2.',
  availability: 'macOS 15.0',
  config: vmConfigParam,
  out: { name: 'el2_enabled', dir: 'out', type: OUT.bool(), doc: 'whether EL2 is enabled' },
  field: 'el2Enabled',
  last: 'what hv_vm_config_set_el2_enabled last stored',
  source: 'hvf-facts §2.3: hv_vm_config_get/set_el2_enabled [H]',
});

const hv_vm_config_set_el2_enabled: CallSpec = {
  name: 'hv_vm_config_set_el2_enabled',
  arch: 'arm64',
  summary: 'Enables or disables EL2 for the VM a configuration creates.',
  availability: 'macOS 15.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [
    vmConfigParam,
    { name: 'el2_enabled', dir: 'in', type: IN.bool(), doc: 'whether guests may run at EL2' },
  ],
  rows: [
    badVmConfig,
    {
      id: 'unsupported',
      when: 'el2_enabled is true on a host without EL2 support (hv_vm_config_get_el2_supported says false)',
      applies: (s, c) => arg<boolean>(c, 'el2_enabled') && !s.env.el2Supported,
      requires: (env) => !env.el2Supported,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.3: EL2 guests need hardware support (M3+), which hv_vm_config_get_el2_supported reports [H]; the code is undocumented [U]',
    },
    {
      id: 'ok',
      when: 'disabling, or enabling on a host that supports EL2',
      applies: always,
      ret: SUCCESS,
      result: 'the configuration holds the switch; a VM created from it runs guests with EL2 when it is on',
      evidence: H,
      source: 'hvf-facts §2.3: hv_vm_config_set_el2_enabled (15.0) [H]',
      effect: storeInVmConfig('el2Enabled', 'el2_enabled'),
    },
  ],
};

const hv_vm_config_get_default_ipa_granule: CallSpec = {
  name: 'hv_vm_config_get_default_ipa_granule',
  arch: 'arm64',
  summary: 'Reads the stage-2 granule a VM gets by default.',
  availability: 'macOS 26.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [
    {
      name: 'granule',
      dir: 'out',
      type: OUT.u32('hv_ipa_granule_t *', VOCABS.ipaGranule),
      doc: 'the default granule',
    },
  ],
  rows: [
    {
      id: 'no-granule-api',
      when: 'the host has no IPA granule API (before macOS 26: no HV_IPA_GRANULE_4KB either)',
      applies: (s) => !s.env.ipaGranule4k,
      requires: (env) => !env.ipaGranule4k,
      ret: NOT_SUCCESS,
      evidence: H,
      source: 'hvf-facts §2.3: the granule calls are macOS 26.0 additions [H]; an older host has none [U]',
    },
    {
      id: 'ok',
      when: 'the host has the granule API',
      applies: always,
      ret: SUCCESS,
      result: 'value = HV_IPA_GRANULE_16KB',
      evidence: R,
      source: 'hvf-facts §2.5: the default stage-2 granule is 16 KiB [H/R]',
      expect: () => HV_IPA_GRANULE.HV_IPA_GRANULE_16KB,
    },
  ],
};

// ---- host memory for guests (hv_vm_allocate.h) ----------------------------------------------------

/** Whether uva and size are exactly one allocation of hv_vm_allocate. */
function wholeAllocation(s: SpecState, c: SpecCall): boolean {
  const uva = arg<Uva>(c, 'uva');
  const size = s.allocations.get(uva.mem.id);
  return uva.offset === 0 && size !== undefined && BigInt(size) === arg<bigint>(c, 'size');
}

function mappedFrom(s: SpecState, mem: number): boolean {
  for (const maps of s.vm?.spaces.values() ?? []) if (maps.some((m) => m.mem === mem)) return true;
  return false;
}

/** Forgets the allocation at the call's uva: it is no longer host memory the VMM may use. */
function deallocate(s: SpecState, c: SpecCall): void {
  const mem = arg<Uva>(c, 'uva').mem.id;
  s.allocations.delete(mem);
  s.buffers.delete(mem);
}

const hv_vm_allocate: CallSpec = {
  name: 'hv_vm_allocate',
  arch: 'arm64',
  summary: 'Allocates anonymous host memory suitable to be mapped as guest memory.',
  availability: 'macOS 12.1',
  thread: 'process',
  header: 'hv_vm_allocate.h',
  params: [
    {
      name: 'uvap',
      dir: 'out',
      type: OUT.mem('void **', 'size'),
      doc: 'the memory (in JS a HostMemory, usable wherever a host buffer is)',
    },
    { name: 'size', dir: 'in', type: IN.u64('size_t'), doc: 'bytes, a multiple of the page size' },
    {
      name: 'flags',
      dir: 'in',
      type: IN.u64('hv_allocate_flags_t', VOCABS.allocateFlags),
      doc: 'HV_ALLOCATE_DEFAULT',
    },
  ],
  rows: [
    {
      id: 'bad-flags',
      when: 'flags is not HV_ALLOCATE_DEFAULT (0)',
      applies: (_s, c) => arg<bigint>(c, 'flags') !== 0n,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.1: HV_ALLOCATE_DEFAULT is the only flag [H]; others are undocumented',
    },
    {
      id: 'size-zero',
      when: 'size is 0',
      applies: (_s, c) => arg<bigint>(c, 'size') === 0n,
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the spec makes no use of the value',
      evidence: U,
      source: 'hvf-facts §2.3: "size multiple of PAGE_SIZE"; a zero size is undocumented',
    },
    {
      id: 'size-not-pages',
      when: 'size is not a multiple of the host page size',
      applies: (s, c) => arg<bigint>(c, 'size') % BigInt(s.env.pageSize) !== 0n,
      ret: NOT_SUCCESS,
      evidence: H,
      source: 'hvf-facts §2.3: the size must be a multiple of PAGE_SIZE [H]; the code is undocumented [U]',
    },
    {
      id: 'ok',
      when: 'a positive multiple of the page size, default flags (no VM needed)',
      applies: always,
      ret: SUCCESS,
      result:
        'value = size bytes of zeroed, page-aligned host memory of its own, usable by hv_vm_map until hv_vm_deallocate',
      evidence: H,
      source: 'hvf-facts §2.3: hv_vm_allocate: anonymous memory with VM_PROT_DEFAULT (12.1) [H]',
      value: (s, c, v) => {
        const mem = v as HostMemory | undefined;
        if (typeof mem !== 'object' || mem === null || typeof mem.id !== 'number')
          return `uvap: expected host memory, got ${String(v)}`;
        if (s.buffers.has(mem.id)) return `uvap: buffer ${mem.id} is already in use`;
        return BigInt(mem.size) === arg<bigint>(c, 'size')
          ? undefined
          : `uvap: expected ${arg<bigint>(c, 'size')} bytes, got ${mem.size}`;
      },
      effect: (s, _c, o) => {
        const mem = o.value as HostMemory;
        s.allocations.set(mem.id, mem.size);
        s.buffers.set(mem.id, mem.size);
      },
    },
  ],
};

const hv_vm_deallocate: CallSpec = {
  name: 'hv_vm_deallocate',
  arch: 'arm64',
  summary: 'Frees host memory from hv_vm_allocate.',
  availability: 'macOS 12.1',
  thread: 'process',
  header: 'hv_vm_allocate.h',
  params: [
    {
      name: 'uva',
      dir: 'in',
      type: IN.uva('void *'),
      doc: 'the memory hv_vm_allocate returned (in JS its HostMemory, offset 0)',
      extent: 'size',
      frees: true,
    },
    { name: 'size', dir: 'in', type: IN.u64('size_t'), doc: 'its size' },
  ],
  rows: [
    {
      id: 'not-allocated',
      when: 'uva is not memory from hv_vm_allocate (a host_alloc buffer, or freed already)',
      applies: (s, c) => !s.allocations.has(arg<Uva>(c, 'uva').mem.id),
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §2.3: hv_vm_deallocate frees what hv_vm_allocate made [H]; other memory is undocumented',
      dangerous:
        'the framework may unmap whatever host memory is there (it is anonymous memory management), under the VMM',
    },
    {
      id: 'partial',
      when: 'uva is not the start of the allocation, or size is not its size',
      applies: (s, c) => !wholeAllocation(s, c),
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the spec no longer uses the memory at all',
      evidence: U,
      source: 'hvf-facts §2.3: undocumented',
      dangerous: 'on the framework a partial free may leave part of the memory unmapped under the VMM',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) deallocate(s, c);
      },
    },
    {
      id: 'mapped',
      when: 'the memory is still mapped into the VM',
      applies: (s, c) => mappedFrom(s, arg<Uva>(c, 'uva').mem.id),
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the spec no longer uses the memory (the mapping stays as it was)',
      evidence: U,
      source: 'hvf-facts §2.3: undocumented',
      dangerous: 'freeing host memory that guest mappings still use',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) deallocate(s, c);
      },
    },
    {
      id: 'ok',
      when: 'the whole of an allocation that is not mapped',
      applies: always,
      ret: SUCCESS,
      result: 'the memory is gone: the buffer may no longer be used',
      evidence: H,
      source: 'hvf-facts §2.3: hv_vm_deallocate (12.1) [H]',
      effect: deallocate,
    },
  ],
};

/** The calls of this file, in the order of Apple's headers. */
export const ARM64_CONFIG_CALLS: readonly CallSpec[] = [
  hv_vm_config_get_el2_supported,
  hv_vm_config_get_el2_enabled,
  hv_vm_config_set_el2_enabled,
  hv_vm_config_get_default_ipa_granule,
  hv_vm_allocate,
  hv_vm_deallocate,
  hv_vcpu_config_create,
  hv_vcpu_config_get_feature_reg,
  hv_vcpu_config_get_ccsidr_el1_sys_reg_values,
];
