/**
 * The arm64 rule tables: every modelled `hv_*` function of the Apple Silicon flavour, row by row.
 * @module
 */
import type { Arm64Exit } from '../backend.js';
import { afterGuestRun, newVcpu, type SpecState, type SpecVcpu, type SpecVmConfig } from '../state.js';
import {
  HV_EXIT_REASON,
  HV_REG,
  HV_REG_COUNT,
  HV_SIMD_FP_REG_COUNT,
  HV_SYS_REG,
  isKnownSysReg,
} from '../vocabulary/arm64.js';
import { HV } from '../vocabulary/returns.js';
import { ARM64_CONFIG_CALLS } from './arm64-config.js';
import {
  ANY,
  always,
  arg,
  code,
  expectEqual,
  expectNew,
  H,
  liveVcpu,
  NOT_SUCCESS,
  noVmRow,
  ownerCall,
  R,
  SUCCESS,
  T,
  U,
} from './dsl.js';
import { execTimeSpec } from './exec-time.js';
import { GIC_CALLS } from './gic.js';
import { vcpuDestroySpec, vmDestroySpec } from './lifecycle.js';
import { mapRows, protectRows, unmapRows } from './memory.js';
import { IN, type InType, OUT, type OutType, VOCABS } from './params.js';
import type { CallSpec, InParam, Outcome, Param, Row, SpecCall } from './types.js';
import { badVmConfig, storeInVmConfig, vmConfigGetter, vmConfigOf } from './vm-config.js';
import { interruptRows } from './x86.js';

const configParam: InParam = {
  name: 'config',
  dir: 'in',
  type: IN.config('hv_vm_config_t'),
  doc: 'a configuration object',
};

/** X0..X30 and PC read back what was written (QEMU and libkrun sync them every exit [T]). */
const REG_EXACT = (reg: number): boolean => reg <= HV_REG.HV_REG_PC;

/** System registers that are plain 64-bit storage with no RES0/RES1 bits the framework might fix. */
/** The feature ID registers: op0 3, op1 0, CRn 0, CRm 1..7 (Arm ARM D19; MIDR/MPIDR are CRm 0). */
function isIdSpaceSysReg(r: number): boolean {
  return r >> 7 === 0b11_000_0000 && ((r >> 3) & 15) !== 0;
}

const SYS_REG_EXACT: ReadonlySet<number> = new Set([
  HV_SYS_REG.HV_SYS_REG_TPIDR_EL0,
  HV_SYS_REG.HV_SYS_REG_TPIDR_EL1,
  HV_SYS_REG.HV_SYS_REG_TPIDRRO_EL0,
  HV_SYS_REG.HV_SYS_REG_SP_EL0,
  HV_SYS_REG.HV_SYS_REG_SP_EL1,
  HV_SYS_REG.HV_SYS_REG_ELR_EL1,
  HV_SYS_REG.HV_SYS_REG_FAR_EL1,
  HV_SYS_REG.HV_SYS_REG_MAIR_EL1,
  HV_SYS_REG.HV_SYS_REG_CNTV_CVAL_EL0,
]);

function hostQuery(
  name: string,
  summary: string,
  outDoc: string,
  expected: (s: SpecState) => number,
): CallSpec {
  return {
    name,
    arch: 'arm64',
    summary,
    availability: name === 'hv_vm_get_max_vcpu_count' ? 'macOS 11.0' : 'macOS 13.0',
    thread: 'process',
    header: name === 'hv_vm_get_max_vcpu_count' ? 'hv_vm.h' : 'hv_vm_config.h',
    params: [{ name: 'value', dir: 'out', type: OUT.u32('uint32_t *'), doc: outDoc }],
    rows: [
      {
        id: 'ok',
        when: 'always (no VM needed)',
        applies: always,
        ret: SUCCESS,
        result: `value = ${outDoc} (host dependent; the backend declares it)`,
        evidence: H,
        source: `hvf-facts §2.3: ${name} [H]`,
        expect: (s) => expected(s),
      },
    ],
  };
}

const queries: CallSpec[] = [
  hostQuery(
    'hv_vm_get_max_vcpu_count',
    'Reads the maximum number of vCPUs of a VM.',
    'the maximum vCPU count',
    (s) => s.env.maxVcpus,
  ),
  hostQuery(
    'hv_vm_config_get_max_ipa_size',
    'Reads the largest IPA size this host supports.',
    'the maximum IPA size in bits',
    (s) => s.env.maxIpaSize,
  ),
  hostQuery(
    'hv_vm_config_get_default_ipa_size',
    'Reads the IPA size a VM gets by default.',
    'the default IPA size in bits',
    (s) => s.env.defaultIpaSize,
  ),
];

const hv_vm_config_create: CallSpec = {
  name: 'hv_vm_config_create',
  arch: 'arm64',
  summary: 'Creates a VM configuration object with default values.',
  availability: 'macOS 13.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [
    {
      name: 'config',
      dir: 'out',
      type: OUT.config('hv_vm_config_t'),
      doc: 'the new configuration',
      c: 'return',
    },
  ],
  rows: [
    {
      id: 'ok',
      when: 'always',
      applies: always,
      ret: SUCCESS,
      result: 'config = a new object; the VM it creates uses the default IPA size and granule',
      evidence: H,
      source: 'hvf-facts §2.3: hv_vm_config_create [H]',
      value: expectNew('config', 'a new object', (s) => s.configs),
      effect: (s, _c, o) => {
        s.configs.set(Number(o.value), { ipaSize: undefined, granule: undefined, el2Enabled: undefined });
      },
    },
  ],
};

const hv_vm_config_set_ipa_size: CallSpec = {
  name: 'hv_vm_config_set_ipa_size',
  arch: 'arm64',
  summary: 'Sets the IPA size of the VM a configuration creates.',
  availability: 'macOS 13.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [
    configParam,
    { name: 'ipa_bit_length', dir: 'in', type: IN.u32('uint32_t'), doc: 'IPA size in bits' },
  ],
  rows: [
    badVmConfig,
    {
      id: 'above-max',
      when: 'ipa_bit_length is above hv_vm_config_get_max_ipa_size (including UINT32_MAX)',
      applies: (s, c) => arg<number>(c, 'ipa_bit_length') > s.env.maxIpaSize,
      ret: code(HV.HV_UNSUPPORTED),
      evidence: T,
      source:
        'hvf-facts §3: applevisor tests on the real framework: > max (or UINT32_MAX) is HV_UNSUPPORTED [T]',
    },
    {
      id: 'ok',
      when: 'ipa_bit_length is 0..max',
      applies: always,
      ret: SUCCESS,
      result: 'the configuration holds the IPA size',
      evidence: T,
      source: 'hvf-facts §3: applevisor tests: 0..max accepted at config time [T]',
      effect: storeInVmConfig('ipaSize', 'ipa_bit_length'),
    },
  ],
};

const hv_vm_config_get_ipa_size = vmConfigGetter({
  get: 'hv_vm_config_get_ipa_size',
  summary: 'Reads the IPA size a configuration holds.',
  availability: 'macOS 13.0',
  config: configParam,
  out: { name: 'ipa_bit_length', dir: 'out', type: OUT.u32('uint32_t *'), doc: 'IPA size in bits' },
  field: 'ipaSize',
  last: 'the size last set',
  source: 'hvf-facts §2.3: hv_vm_config_get_ipa_size [H]',
});

const hv_vm_config_set_ipa_granule: CallSpec = {
  name: 'hv_vm_config_set_ipa_granule',
  arch: 'arm64',
  summary: 'Sets the stage-2 granule (4 KiB or 16 KiB) of the VM a configuration creates.',
  availability: 'macOS 26.0',
  thread: 'process',
  header: 'hv_vm_config.h',
  params: [
    configParam,
    {
      name: 'granule',
      dir: 'in',
      type: IN.u32('hv_ipa_granule_t', VOCABS.ipaGranule),
      doc: 'HV_IPA_GRANULE_4KB or _16KB',
    },
  ],
  rows: [
    badVmConfig,
    {
      id: 'bad-granule',
      when: 'granule is not HV_IPA_GRANULE_4KB (0) or HV_IPA_GRANULE_16KB (1)',
      applies: (_s, c) => arg<number>(c, 'granule') > 1,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.1: two granules [H]; other values are undocumented',
    },
    {
      id: 'no-4k',
      when: 'granule is 4 KiB and the host has no 4 KiB IPA granule (before macOS 26)',
      applies: (s, c) => arg<number>(c, 'granule') === 0 && !s.env.ipaGranule4k,
      requires: (env) => !env.ipaGranule4k,
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §2.3/§5.4: the 4 KiB granule is a macOS 26 addition [H]; older behaviour is undocumented',
    },
    {
      id: 'ok',
      when: 'granule is supported',
      applies: always,
      ret: SUCCESS,
      result: 'the configuration holds the granule',
      evidence: R,
      source:
        'hvf-facts §2.5: with HV_IPA_GRANULE_4KB, 4 KiB-aligned mappings work (measured, macOS 26.5) [R]',
      effect: storeInVmConfig('granule', 'granule'),
    },
  ],
};

const hv_vm_config_get_ipa_granule = vmConfigGetter({
  get: 'hv_vm_config_get_ipa_granule',
  summary: 'Reads the granule a configuration holds.',
  availability: 'macOS 26.0',
  config: configParam,
  out: {
    name: 'granule',
    dir: 'out',
    type: OUT.u32('hv_ipa_granule_t *', VOCABS.ipaGranule),
    doc: 'the granule',
  },
  field: 'granule',
  last: 'the granule last set',
  source: 'hvf-facts §2.3 [H]',
});

function vmFromConfig(s: SpecState, cfg: SpecVmConfig | undefined): void {
  const bits = cfg?.ipaSize ? cfg.ipaSize : s.env.defaultIpaSize;
  s.vm = {
    granule: cfg?.granule === 0 ? 4096 : 16384,
    addrLimit: 1n << BigInt(bits),
    spaces: new Map([[0, []]]),
    el2: cfg?.el2Enabled === true,
  };
}

const hv_vm_create: CallSpec = {
  name: 'hv_vm_create',
  arch: 'arm64',
  summary: 'Creates the VM of the current process.',
  availability: 'macOS 11.0',
  thread: 'process',
  header: 'hv_vm.h',
  params: [
    {
      name: 'config',
      dir: 'in',
      type: IN.config('hv_vm_config_t _Nullable', 'or-handle'),
      doc: 'NULL for defaults, or a configuration',
    },
  ],
  rows: [
    {
      id: 'bad-config',
      when: 'config is neither NULL nor an object from hv_vm_config_create',
      applies: (s, c) => c.args.config !== null && !vmConfigOf(s, c),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'undocumented (whether this or an existing VM is checked first is undocumented too)',
    },
    {
      id: 'vm-exists',
      when: 'a VM already exists in this process',
      applies: (s) => s.vm !== null,
      ret: code(HV.HV_BUSY),
      evidence: T,
      source: 'hvf-facts §3: applevisor tests on the real framework [T]',
    },
    {
      id: 'ipa-size-zero',
      when: "config's IPA size was explicitly set to 0",
      applies: (s, c) => c.args.config !== null && vmConfigOf(s, c)?.ipaSize === 0,
      ret: ANY,
      result: 'undocumented: on HV_SUCCESS the VM is assumed to get the default IPA size',
      evidence: U,
      source: 'hvf-facts §3: 0 is accepted at config time [T]; what hv_vm_create then does is undocumented',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) vmFromConfig(s, vmConfigOf(s, c));
      },
    },
    {
      id: 'ok',
      when: 'no VM exists (including after hv_vm_destroy)',
      applies: always,
      ret: SUCCESS,
      result: 'the process has a VM with the configured (or default: 36-bit, 16 KiB) IPA space',
      evidence: T,
      source: 'hvf-facts §3: create after destroy succeeds (applevisor) [T]; defaults §2.3 [R]',
      effect: (s, c) => vmFromConfig(s, c.args.config === null ? undefined : vmConfigOf(s, c)),
    },
  ],
};

const hv_vm_destroy = vmDestroySpec(
  'arm64',
  'macOS 11.0',
  {
    liveVcpus: 'hvf-facts §2.3: "Requires all vCPUs be destroyed" [H]; the code is undocumented [U]',
    ok: 'hvf-facts §3: applevisor destroys and re-creates VMs [T]',
  },
  'no VM; every mapping is gone',
);

const shape = { arch: 'arm64', addr: 'ipa', space: false } as const;
const memParams = {
  uva: {
    name: 'uva',
    dir: 'in',
    type: IN.uva('void *'),
    doc: 'host address: a host_alloc buffer and offset (granule aligned; size bytes of it are mapped)',
    extent: 'size',
  },
  ipa: {
    name: 'ipa',
    dir: 'in',
    type: IN.u64('hv_ipa_t'),
    doc: 'intermediate physical address, granule aligned',
  },
  size: { name: 'size', dir: 'in', type: IN.u64('size_t'), doc: 'size in bytes, a multiple of the granule' },
  flags: {
    name: 'flags',
    dir: 'in',
    type: IN.flags(VOCABS.memoryArm64),
    doc: 'HV_MEMORY_READ | _WRITE | _EXEC',
  },
} satisfies Record<string, InParam>;
const p = (n: keyof typeof memParams): InParam => memParams[n];

const mapping: CallSpec[] = [
  {
    name: 'hv_vm_map',
    arch: 'arm64',
    summary: "Maps host memory into the guest's IPA space.",
    availability: 'macOS 11.0',
    thread: 'process',
    header: 'hv_vm.h',
    params: [p('uva'), p('ipa'), p('size'), p('flags')],
    rows: mapRows(shape),
  },
  {
    name: 'hv_vm_unmap',
    arch: 'arm64',
    summary: 'Unmaps a range of the IPA space.',
    availability: 'macOS 11.0',
    thread: 'process',
    header: 'hv_vm.h',
    params: [p('ipa'), p('size')],
    rows: unmapRows(shape),
  },
  {
    name: 'hv_vm_protect',
    arch: 'arm64',
    summary: 'Changes the permissions of a mapped IPA range.',
    availability: 'macOS 11.0',
    thread: 'process',
    header: 'hv_vm.h',
    params: [p('ipa'), p('size'), p('flags')],
    rows: protectRows(shape),
  },
];

const hv_vcpu_create: CallSpec = {
  name: 'hv_vcpu_create',
  arch: 'arm64',
  summary: 'Creates a vCPU bound to the calling thread and returns its exit record.',
  availability: 'macOS 11.0',
  thread: 'any',
  header: 'hv_vcpu.h',
  params: [
    { name: 'vcpu', dir: 'out', type: OUT.vcpu('hv_vcpu_t *'), doc: 'the new vCPU' },
    {
      name: 'exit',
      dir: 'out',
      type: OUT.exitPointer(),
      doc: 'its exit record (in JS, every hv_vcpu_run returns it)',
    },
    {
      name: 'config',
      dir: 'in',
      type: IN.config('hv_vcpu_config_t _Nullable', 'or-handle'),
      doc: 'NULL for defaults, or a vCPU configuration',
    },
  ],
  rows: [
    noVmRow('hvf-facts §3: undocumented; HV_NO_DEVICE is the plausible code'),
    {
      id: 'bad-config',
      when: 'config is neither NULL nor an object from hv_vcpu_config_create',
      applies: (s, c) => c.args.config !== null && !s.vcpuConfigs.has(Number(c.args.config)),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.4: vCPU configurations come from hv_vcpu_config_create; others are undocumented',
    },
    {
      id: 'thread-owns-one',
      when: 'the calling thread already owns a live vCPU',
      applies: (s, c) => [...s.vcpus.values()].some((v) => v.owner === c.t),
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.4: "each thread can have only one vCPU at a time" [H]; the code is undocumented (HV_BUSY plausible) [U]',
    },
    {
      id: 'limit',
      when: 'hv_vm_get_max_vcpu_count vCPUs are live',
      applies: (s) => s.vcpus.size >= s.env.maxVcpus,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §3: undocumented (HV_NO_RESOURCES plausible)',
    },
    {
      id: 'ok',
      when: 'a VM exists; the thread owns no vCPU; below the limit',
      applies: always,
      ret: SUCCESS,
      result:
        'vcpu = a new handle owned by the calling thread; fresh state (CPSR and SCTLR_EL1 unspecified: set them); a configuration describes the host vCPU as NULL does',
      evidence: H,
      source: 'hvf-facts §2.4 [H]; §5.7 fresh state [T/R]',
      value: expectNew('vcpu', 'a new handle', (s) => s.vcpus),
      effect: (s, c, o) => {
        const h = Number(o.value);
        s.stale.delete(h);
        s.vcpus.set(h, newVcpu(h, c.t));
        if (s.vm) s.vm.vcpusCreated = true;
      },
    },
  ],
};

const hv_vcpu_destroy = vcpuDestroySpec('arm64', 'macOS 11.0', {
  evidence: H,
  source: 'hvf-facts §2.4 [H]',
  result: 'the handle and its exit record are stale; the thread may create another vCPU',
});

/** A get/set pair over a per-vCPU value, with a validity test for the selector argument. */
function accessorPair(opts: {
  get: string;
  set: string;
  summary: string;
  availability?: string;
  selector?: { name: string; type: InType; valid: (n: number) => boolean; what: string };
  /** The value: written as `in`, read as `out`. */
  valueParam: { name: string; doc: string; in: InType; out: OutType };
  /** Which selectors read back exactly what was written (default: all). */
  exact?: (sel: number) => boolean;
  read: (v: SpecVcpu, sel: number) => unknown;
  write: (v: SpecVcpu, sel: number, value: unknown) => void;
  forget?: (v: SpecVcpu, sel: number) => void;
  /** After a write that returned HV_SUCCESS, whatever its row. */
  written?: (v: SpecVcpu, sel: number) => void;
  evidence: Row['evidence'];
  source: string;
  /** For registers whose writable bits the spec does not pin down: which selectors always accept a write. */
  setAlwaysSucceeds?: (sel: number) => boolean;
}): CallSpec[] {
  const sel = (c: SpecCall): number => (opts.selector ? arg<number>(c, opts.selector.name) : 0);
  const selParams: InParam[] = opts.selector
    ? [{ name: opts.selector.name, dir: 'in', type: opts.selector.type, doc: opts.selector.what }]
    : [];
  const { name: valueName, doc: valueDoc } = opts.valueParam;
  const badSel: Row[] = opts.selector
    ? [
        {
          id: 'bad-selector',
          when: `${opts.selector.name} is not ${opts.selector.what}`,
          applies: (_s, c) => !opts.selector?.valid(sel(c)),
          ret: NOT_SUCCESS,
          evidence: U,
          source: "values outside the header's enum are undocumented",
        },
      ]
    : [];
  /** One call of the pair: the selector and the value, then the selector's row and the call's own. */
  const accessor = (name: string, verb: string, value: Param, rows: readonly Row[]): CallSpec =>
    ownerCall({
      name,
      arch: 'arm64',
      summary: `${verb} ${opts.summary}.`,
      availability: opts.availability ?? 'macOS 11.0',
      params: [...selParams, value],
      rows: [...badSel, ...rows],
    });
  return [
    accessor(opts.get, 'Reads', { name: valueName, dir: 'out', type: opts.valueParam.out, doc: valueDoc }, [
      {
        id: 'ok',
        when: 'the owner reads a valid selector',
        applies: always,
        ret: SUCCESS,
        result: 'value = the value last written (where the spec pins it down); otherwise unspecified',
        evidence: opts.evidence,
        source: opts.source,
        expect: (s, c) => opts.read(liveVcpu(s, c), sel(c)),
      },
    ]),
    accessor(opts.set, 'Writes', { name: valueName, dir: 'in', type: opts.valueParam.in, doc: valueDoc }, [
      {
        id: 'ok',
        when: opts.setAlwaysSucceeds
          ? 'the owner writes a register whose value the spec pins down'
          : 'the owner writes a valid selector',
        applies: (_s, c) => opts.setAlwaysSucceeds?.(sel(c)) ?? true,
        ret: SUCCESS,
        result: 'the value is stored',
        evidence: opts.evidence,
        source: opts.source,
        effect: (s, c) => {
          const v = liveVcpu(s, c);
          if (opts.exact?.(sel(c)) ?? true) opts.write(v, sel(c), c.args[valueName]);
          else opts.forget?.(v, sel(c));
          opts.written?.(v, sel(c));
        },
      },
      ...(opts.setAlwaysSucceeds
        ? [
            {
              id: 'other',
              when: 'the owner writes a register whose writable bits the spec does not pin down',
              applies: always,
              ret: ANY,
              result:
                'on HV_SUCCESS the register holds a value the spec does not predict; otherwise it is unchanged',
              evidence: U,
              source: 'RES0/RES1 and read-only bits are undocumented',
              effect: (s: SpecState, c: SpecCall, o: Outcome) => {
                opts.forget?.(liveVcpu(s, c), sel(c));
                if (o.ret === HV.HV_SUCCESS) opts.written?.(liveVcpu(s, c), sel(c));
              },
            } satisfies Row,
          ]
        : []),
    ]),
  ];
}

/** The per-vCPU values a get/set pair reads and writes whole, with no selector. */
type WholeField = 'vtimerMask' | 'vtimerOffset' | 'trapDebugExceptions' | 'trapDebugRegAccesses';

/** A get/set pair over one {@link WholeField}; Apple's header declares each pair (hvf-facts §2.4 [H]). */
function wholeFieldPair(opts: {
  get: string;
  set: string;
  summary: string;
  field: WholeField;
  valueParam: { name: string; doc: string; in: InType; out: OutType };
  source: string;
}): CallSpec[] {
  const { field, ...rest } = opts;
  return accessorPair({
    ...rest,
    read: (v) => v[field],
    write: (v, _sel, value) => {
      v[field] = value as never;
    },
    evidence: H,
  });
}

const registers: CallSpec[] = [
  ...accessorPair({
    get: 'hv_vcpu_get_reg',
    set: 'hv_vcpu_set_reg',
    summary: 'a general register (X0–X30, PC, FPCR, FPSR, CPSR)',
    selector: {
      name: 'reg',
      type: IN.u32('hv_reg_t', VOCABS.arm64Reg),
      valid: (n) => n < HV_REG_COUNT,
      what: 'an hv_reg_t value (0–34)',
    },
    valueParam: { name: 'value', doc: 'the value', in: IN.u64('uint64_t'), out: OUT.u64('uint64_t *') },
    exact: REG_EXACT,
    read: (v, r) => v.regs.get(r),
    write: (v, r, value) => v.regs.set(r, value as bigint),
    forget: (v, r) => v.regs.delete(r),
    evidence: T,
    source: 'hvf-facts §2.4 [H]; QEMU and libkrun set and get X0–X30 and PC around every exit [T]',
    setAlwaysSucceeds: REG_EXACT,
  }),
  ...accessorPair({
    get: 'hv_vcpu_get_simd_fp_reg',
    set: 'hv_vcpu_set_simd_fp_reg',
    summary: 'a SIMD/FP register (Q0–Q31, 128 bits)',
    selector: {
      name: 'reg',
      type: IN.u32('hv_simd_fp_reg_t', VOCABS.simdReg),
      valid: (n) => n < HV_SIMD_FP_REG_COUNT,
      what: 'an hv_simd_fp_reg_t value (0–31)',
    },
    valueParam: {
      name: 'value',
      doc: 'the 128-bit value',
      in: IN.u128('hv_simd_fp_uchar16_t'),
      out: OUT.u128('hv_simd_fp_uchar16_t *'),
    },
    read: (v, r) => v.simd.get(r),
    write: (v, r, value) => v.simd.set(r, value as bigint),
    evidence: H,
    source: 'hvf-facts §2.4: hv_vcpu_get/set_simd_fp_reg [H]',
  }),
  ...accessorPair({
    get: 'hv_vcpu_get_sys_reg',
    set: 'hv_vcpu_set_sys_reg',
    summary: 'a system register',
    selector: {
      name: 'reg',
      type: IN.u32('hv_sys_reg_t', VOCABS.sysReg),
      valid: isKnownSysReg,
      what: 'an hv_sys_reg_t value the spec models',
    },
    valueParam: { name: 'value', doc: 'the value', in: IN.u64('uint64_t'), out: OUT.u64('uint64_t *') },
    exact: (r) => SYS_REG_EXACT.has(r),
    read: (v, r) => v.fields.get(r),
    write: (v, r, value) => {
      v.fields.set(r, value as bigint);
      if (isIdSpaceSysReg(r)) v.idRegsWritten = true;
    },
    forget: (v, r) => {
      v.fields.delete(r);
      if (isIdSpaceSysReg(r)) v.idRegsWritten = true;
    },
    written: (v, r) => {
      if (r === HV_SYS_REG.HV_SYS_REG_MPIDR_EL1) v.mpidrWritten = true;
    },
    evidence: U,
    source: 'hvf-facts §2.2/§2.4 [H]; read-back of plain 64-bit registers is not asserted by any test [U]',
    setAlwaysSucceeds: (r) => SYS_REG_EXACT.has(r),
  }),
  ...accessorPair({
    get: 'hv_vcpu_get_pending_interrupt',
    set: 'hv_vcpu_set_pending_interrupt',
    summary: 'a pending virtual interrupt line (IRQ or FIQ)',
    selector: {
      name: 'type',
      type: IN.u32('hv_interrupt_type_t', VOCABS.interruptType),
      valid: (n) => n <= 1,
      what: 'HV_INTERRUPT_TYPE_IRQ (0) or _FIQ (1)',
    },
    valueParam: { name: 'pending', doc: 'whether the line is asserted', in: IN.bool(), out: OUT.bool() },
    read: (v, t) => v.pending[t],
    write: (v, t, value) => {
      v.pending[t] = value as boolean;
    },
    evidence: H,
    source: 'hvf-facts §2.4: cleared automatically when hv_vcpu_run returns [H]',
  }),
  ...wholeFieldPair({
    get: 'hv_vcpu_get_vtimer_mask',
    set: 'hv_vcpu_set_vtimer_mask',
    summary: 'the virtual-timer mask',
    field: 'vtimerMask',
    valueParam: {
      name: 'vtimer_is_masked',
      doc: 'whether the vtimer is masked',
      in: IN.bool(),
      out: OUT.bool(),
    },
    source: 'hvf-facts §2.4/§2.6: set automatically by a VTIMER_ACTIVATED exit, cleared only by the VMM [H]',
  }),
  ...wholeFieldPair({
    get: 'hv_vcpu_get_vtimer_offset',
    set: 'hv_vcpu_set_vtimer_offset',
    summary: 'the virtual-timer offset (CNTVOFF_EL2)',
    field: 'vtimerOffset',
    valueParam: {
      name: 'vtimer_offset',
      doc: 'the offset',
      in: IN.u64('uint64_t'),
      out: OUT.u64('uint64_t *'),
    },
    source: 'hvf-facts §2.4: hv_vcpu_get/set_vtimer_offset [H]',
  }),
  // The two debug-trap switches differ only in what they trap.
  ...(
    [
      [
        'hv_vcpu_get_trap_debug_exceptions',
        'hv_vcpu_set_trap_debug_exceptions',
        'whether guest debug exceptions exit to the VMM',
        'trapDebugExceptions',
      ],
      [
        'hv_vcpu_get_trap_debug_reg_accesses',
        'hv_vcpu_set_trap_debug_reg_accesses',
        'whether guest debug-register accesses exit to the VMM',
        'trapDebugRegAccesses',
      ],
    ] as const
  ).flatMap(([get, set, summary, field]) =>
    wholeFieldPair({
      get,
      set,
      summary,
      field,
      valueParam: { name: 'value', doc: 'trap or not', in: IN.bool(), out: OUT.bool() },
      source: 'hvf-facts §2.4 [H]',
    }),
  ),
];

const hv_vcpu_run = ownerCall({
  name: 'hv_vcpu_run',
  arch: 'arm64',
  summary: 'Runs a vCPU until its next exit; fills the exit record.',
  runsGuest: true,
  async: true,
  params: [
    {
      name: 'exit',
      dir: 'out',
      type: OUT.exit(),
      doc: 'the exit record (in C: behind the pointer hv_vcpu_create returned)',
      c: 'none',
    },
  ],
  rows: [
    {
      id: 'canceled',
      when: 'an hv_vcpus_exit is pending for the vCPU',
      applies: (s, c) => liveVcpu(s, c).cancel,
      ret: SUCCESS,
      result:
        'returns at once without entering the guest: exit reason HV_EXIT_REASON_CANCELED, PC unchanged; pending IRQ/FIQ cleared',
      evidence: H,
      source:
        'hvf-facts §2.4: "the next time hv_vcpu_run is called … it will return immediately without entering the guest" [H]',
      value: (_s, _c, v) => {
        const exit = v as Arm64Exit | undefined;
        return expectEqual('exit.reason', HV_EXIT_REASON.HV_EXIT_REASON_CANCELED, exit?.reason);
      },
      effect: (s, c) => {
        const v = liveVcpu(s, c);
        v.cancel = false;
        v.pending[0] = false;
        v.pending[1] = false;
        v.ran = true;
      },
    },
    {
      id: 'guest',
      when: 'no cancel is pending',
      applies: always,
      ret: ANY,
      result:
        'enters the guest; the exit is what the guest program predicts; pending IRQ/FIQ cleared; a VTIMER_ACTIVATED exit masks the vtimer',
      evidence: H,
      source: 'hvf-facts §2.4/§2.6 [H]',
      effect: (s, c, o) => {
        const v = liveVcpu(s, c);
        afterGuestRun(v);
        // A run that returned HV_SUCCESS entered the guest; one that failed may or may not have.
        if (s.vm && o.ret === HV.HV_SUCCESS) s.vm.ran = true;
        else if (s.vm) s.vm.mayHaveRun = true;
        if ((o.value as Arm64Exit | undefined)?.reason === HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED)
          v.vtimerMask = true;
      },
    },
  ],
});

const hv_vcpus_exit: CallSpec = {
  name: 'hv_vcpus_exit',
  arch: 'arm64',
  summary: 'Forces the listed vCPUs to exit; callable from any thread.',
  availability: 'macOS 11.0',
  thread: 'any',
  header: 'hv_vcpu.h',
  params: [
    { name: 'vcpus', dir: 'in', type: IN.vcpus('hv_vcpu_t *'), doc: 'the vCPUs' },
    { name: 'vcpu_count', dir: 'in', type: IN.count('uint32_t'), doc: 'how many' },
  ],
  rows: interruptRows('hv_vcpus_exit'),
};

/** Every arm64 rule table. */
export const ARM64_CALLS: readonly CallSpec[] = [
  ...queries,
  hv_vm_config_create,
  hv_vm_config_set_ipa_size,
  hv_vm_config_get_ipa_size,
  hv_vm_config_set_ipa_granule,
  hv_vm_config_get_ipa_granule,
  ...ARM64_CONFIG_CALLS.slice(0, 4),
  hv_vm_create,
  hv_vm_destroy,
  ...mapping,
  ...ARM64_CONFIG_CALLS.slice(4),
  hv_vcpu_create,
  hv_vcpu_destroy,
  ...registers,
  hv_vcpu_run,
  hv_vcpus_exit,
  execTimeSpec('arm64'),
  ...GIC_CALLS,
];
