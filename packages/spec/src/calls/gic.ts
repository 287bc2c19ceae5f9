/**
 * The in-framework GICv3 of macOS 15 (`hv_gic_*`), as far as hvf-facts.md §2.7 and §3 describe it:
 * configuration objects and their bases, creation after the VM and before any vCPU, the parameter
 * queries, SPI and MSI range checks, register access (codes only: what the registers hold is the
 * architecture's, which the facts do not pin), state save and restore, and reset.
 *
 * Every table starts with `no-gic-support`: a host without `hv_gic` (before macOS 15, or a backend
 * that declares none) has no answer but failure.
 * @module
 */
import type { GicParameters } from '../backend.js';
import type { SpecGic, SpecGicConfig, SpecState, SpecVcpu } from '../state.js';
import {
  HV_GIC_ICC_REG,
  HV_GIC_ICH_REG,
  HV_GIC_INT,
  HV_GIC_MSI_REG,
  HV_GIC_REDISTRIBUTOR_REG,
} from '../vocabulary/arm64.js';
import { HV } from '../vocabulary/returns.js';
import {
  ANY,
  always,
  arg,
  code,
  expectNew,
  H,
  liveVcpu,
  NOT_SUCCESS,
  noVmRow,
  SUCCESS,
  show,
  T,
  U,
  vcpuOf,
  vcpuPrelude,
} from './dsl.js';
import { IN, type InType, OUT, VOCABS, valueIn, valueOut } from './params.js';
import type { AppleHeader, CallSpec, InParam, Row, SpecCall } from './types.js';

const U64_END = 1n << 64n;

/** The INTID that GICM_SET_SPI_NSR sits at in the MSI frame (hvf-facts §2.7 [H]). */
export const GICM_SET_SPI_NSR = 0x40n;

function gicEnv(s: SpecState): GicParameters {
  const g = s.env.gic;
  if (!g) throw new Error('spec: a GIC row reached on a host without hv_gic');
  return g;
}

function gicOf(s: SpecState): SpecGic | undefined {
  return s.vm?.gic;
}

function liveGic(s: SpecState): SpecGic {
  const g = gicOf(s);
  if (!g) throw new Error('spec: a GIC row reached without a GIC');
  return g;
}

const noGicSupport: Row = {
  id: 'no-gic-support',
  when: 'the host has no hv_gic (before macOS 15.0)',
  applies: (s) => s.env.gic === undefined,
  requires: (env) => env.gic === undefined,
  ret: NOT_SUCCESS,
  evidence: H,
  source: 'hvf-facts §2.7: hv_gic_* are macOS 15.0 functions [H]; a host without them has none to call [U]',
};

const noGic: Row = {
  id: 'no-gic',
  when: 'the process has no VM, or its VM has no GIC',
  applies: (s) => gicOf(s) === undefined,
  ret: NOT_SUCCESS,
  evidence: U,
  source: "hvf-facts §2.7: the calls act on the VM's one GIC; without one the code is undocumented",
};

/**
 * A GIC call: its first row is `no-gic-support` (a host without hv_gic), and every other row needs a host
 * with `hv_gic`; rows after a `no-el2` row need a host that runs EL2 guests: coverage counts them only there.
 */
function spec(
  name: string,
  header: AppleHeader,
  thread: CallSpec['thread'],
  summary: string,
  params: CallSpec['params'],
  rows: readonly Row[],
): CallSpec {
  let el2 = false;
  const gated = rows.map((r): Row => {
    const needsEl2 = el2;
    if (r.id === 'no-el2') el2 = true;
    const prior = r.requires;
    return {
      ...r,
      requires: (env) =>
        env.gic !== undefined && (!needsEl2 || env.el2Supported) && (prior === undefined || prior(env)),
    };
  });
  return {
    name,
    arch: 'arm64',
    summary,
    availability: 'macOS 15.0',
    thread,
    header,
    params,
    rows: [noGicSupport, ...gated],
  };
}

// ---- parameters (hv_gic_parameters.h) --------------------------------------------------------------

/**
 * The backend's value of a parameter query: {@link GicParameters} names each field as the query is named
 * without `hv_gic_get_`, in camel case (`distributor_base_alignment` → `distributorBaseAlignment`).
 */
function parameterValue(query: string): (g: GicParameters) => number {
  const field = query.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase()) as keyof GicParameters;
  return (g) => g[field];
}

/** A parameter query: its out parameter and the backend's value are both named after it. */
function parameter(name: `hv_gic_get_${string}`, summary: string): CallSpec {
  const query = name.slice('hv_gic_get_'.length);
  const value = parameterValue(query);
  return spec(
    name,
    'hv_gic_parameters.h',
    'process',
    summary,
    [{ name: query, dir: 'out', type: OUT.u64('size_t *'), doc: 'the value in bytes' }],
    [
      {
        id: 'ok',
        when: 'always (no VM needed)',
        applies: always,
        ret: SUCCESS,
        result: "value = the host's value (the backend declares it)",
        evidence: T,
        source:
          'hvf-facts §2.7: runtime parameter queries [H]; applevisor reads each one on the real framework without creating a VM [T]',
        expect: (s) => BigInt(value(gicEnv(s))),
      },
    ],
  );
}

const parameters: CallSpec[] = [
  parameter('hv_gic_get_distributor_size', 'Reads the size of the distributor region.'),
  parameter('hv_gic_get_distributor_base_alignment', 'Reads the alignment the distributor base needs.'),
  parameter(
    'hv_gic_get_redistributor_region_size',
    'Reads the size of the redistributor region: one redistributor per vCPU the VM supports.',
  ),
  parameter('hv_gic_get_redistributor_size', 'Reads the size of one redistributor (two 64 KiB frames).'),
  parameter('hv_gic_get_redistributor_base_alignment', 'Reads the alignment the redistributor base needs.'),
  parameter('hv_gic_get_msi_region_size', 'Reads the size of the MSI region.'),
  parameter('hv_gic_get_msi_region_base_alignment', 'Reads the alignment the MSI region base needs.'),
];

const hv_gic_get_spi_interrupt_range = spec(
  'hv_gic_get_spi_interrupt_range',
  'hv_gic_parameters.h',
  'process',
  'Reads the range of SPI INTIDs the GIC offers.',
  [
    { name: 'spi_intid_base', dir: 'out', type: OUT.u32('uint32_t *'), doc: 'the first SPI INTID' },
    { name: 'spi_intid_count', dir: 'out', type: OUT.u32('uint32_t *'), doc: 'how many SPIs' },
  ],
  [
    {
      id: 'ok',
      when: 'always (no VM needed)',
      applies: always,
      ret: SUCCESS,
      result: "value = {spi_intid_base, spi_intid_count}: the host's range (the backend declares it)",
      evidence: T,
      source: 'hvf-facts §2.7 [H]; applevisor reads it without a VM and configures MSIs inside it [T]',
      value: (s, _c, v) => {
        const g = gicEnv(s);
        const r = v as { spi_intid_base?: unknown; spi_intid_count?: unknown } | undefined;
        if (r?.spi_intid_base !== g.spiBase || r?.spi_intid_count !== g.spiCount)
          return `value: expected {spi_intid_base: ${g.spiBase}, spi_intid_count: ${g.spiCount}}, got {spi_intid_base: ${String(r?.spi_intid_base)}, spi_intid_count: ${String(r?.spi_intid_count)}}`;
        return undefined;
      },
    },
  ],
);

const INTIDS: ReadonlySet<number> = new Set(Object.values(HV_GIC_INT));

const hv_gic_get_intid = spec(
  'hv_gic_get_intid',
  'hv_gic_parameters.h',
  'process',
  'Reads the INTID of an interrupt the framework reserves (timers, PMU, maintenance).',
  [
    {
      name: 'interrupt',
      dir: 'in',
      type: IN.u32('hv_gic_intid_t', VOCABS.gicIntid),
      doc: 'the reserved interrupt',
    },
    { name: 'intid', dir: 'out', type: OUT.u32('uint32_t *'), doc: 'its INTID' },
  ],
  [
    {
      id: 'bad-interrupt',
      when: 'interrupt is not an hv_gic_intid_t value (23, 25, 26, 27, 30)',
      applies: (_s, c) => !INTIDS.has(arg<number>(c, 'interrupt')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: "hvf-facts §2.7: the header's enum lists five reserved interrupts [H]; others are undocumented",
    },
    {
      id: 'ok',
      when: 'interrupt names a reserved interrupt (no VM needed)',
      applies: always,
      ret: SUCCESS,
      result: 'value = its INTID (host dependent; not predicted)',
      evidence: T,
      source:
        'hvf-facts §2.7: hv_gic_get_intid [H]; applevisor reads all five, the EL2 ones included, without a VM [T]',
    },
  ],
);

// ---- configuration (hv_gic_config.h) ---------------------------------------------------------------

const configParam: InParam = {
  name: 'config',
  dir: 'in',
  type: IN.config('hv_gic_config_t'),
  doc: 'a GIC configuration',
};

function configOf(s: SpecState, c: SpecCall): SpecGicConfig | undefined {
  return s.gicConfigs.get(Number(c.args.config));
}

const badConfig: Row = {
  id: 'bad-config',
  when: 'config is not an object returned by hv_gic_config_create',
  applies: (s, c) => !configOf(s, c),
  ret: NOT_SUCCESS,
  evidence: U,
  source: 'hvf-facts §2.7: GIC configurations come from hv_gic_config_create; others are undocumented',
};

const hv_gic_config_create = spec(
  'hv_gic_config_create',
  'hv_gic_config.h',
  'process',
  'Creates a GIC configuration object (no bases, no MSI range).',
  [
    {
      name: 'config',
      dir: 'out',
      type: OUT.config('hv_gic_config_t'),
      doc: 'the new configuration',
      c: 'return',
    },
  ],
  [
    {
      id: 'ok',
      when: 'the host has hv_gic (Apple: "create the GIC configuration after the VM")',
      applies: always,
      ret: SUCCESS,
      result: 'config = a new object with no base and no MSI range set',
      evidence: T,
      source:
        'hvf-facts §2.7: hv_gic_config_create [H]; applevisor creates and fills GIC configurations without a VM [T]',
      value: expectNew('config', 'a new object', (s) => s.gicConfigs),
      effect: (s, _c, o) => {
        s.gicConfigs.set(Number(o.value), {
          distributorBase: undefined,
          redistributorBase: undefined,
          msiRegionBase: undefined,
          msiRange: undefined,
        });
      },
    },
  ],
);

type BaseField = 'distributorBase' | 'redistributorBase' | 'msiRegionBase';

/**
 * `hv_gic_config_set_<region>_base`: its argument is `<region>_base_address`, the configuration field
 * `<region>Base`; the base must be aligned to `hv_gic_get_<region>_base_alignment`, and `sizeQuery`
 * bytes from it must fit below 2^64.
 */
function baseSetter(name: `hv_gic_config_set_${string}_base`, what: string, sizeQuery: string): CallSpec {
  const region = name.slice('hv_gic_config_set_'.length); // `distributor_base`
  const argName = `${region}_address`;
  const field = region.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase()) as BaseField;
  const size = parameterValue(sizeQuery);
  const align = parameterValue(`${region}_alignment`);
  const sizeCall = `hv_gic_get_${sizeQuery}`;
  const alignCall = `hv_gic_get_${region}_alignment`;
  const base = (c: SpecCall): bigint => arg<bigint>(c, argName);
  const store = (s: SpecState, c: SpecCall): void => {
    const cfg = configOf(s, c);
    if (cfg) cfg[field] = base(c);
  };
  return spec(
    name,
    'hv_gic_config.h',
    'process',
    `Sets the base IPA of the ${what} region in a GIC configuration.`,
    [configParam, { name: argName, dir: 'in', type: IN.u64('hv_ipa_t'), doc: `the ${what} base IPA` }],
    [
      badConfig,
      {
        id: 'overflow',
        when: `the region (${sizeCall} bytes from the base) would end past 2^64`,
        applies: (s, c) => base(c) + BigInt(size(gicEnv(s))) > U64_END,
        ret: code(HV.HV_BAD_ARGUMENT),
        evidence: T,
        source:
          'hvf-facts §2.7/§3: a base whose region would overflow 2^64 is HV_BAD_ARGUMENT (applevisor) [T]',
      },
      {
        id: 'misaligned',
        when: `the base is not a multiple of ${alignCall}`,
        applies: (s, c) => base(c) % BigInt(align(gicEnv(s))) !== 0n,
        ret: ANY,
        result:
          'undocumented which call refuses it; on HV_SUCCESS the configuration holds it (hv_gic_create then fails)',
        evidence: U,
        source: `hvf-facts §2.7: the base is to be aligned to ${alignCall} [H]; where that is checked is undocumented [U]`,
        effect: (s, c, o) => {
          if (o.ret === HV.HV_SUCCESS) store(s, c);
        },
      },
      {
        id: 'ok',
        when: 'an aligned base whose region fits below 2^64',
        applies: always,
        ret: SUCCESS,
        result: 'the configuration holds the base',
        evidence: T,
        source: 'hvf-facts §2.7 [H]; applevisor sets aligned bases up to the top of the address space [T]',
        effect: store,
      },
    ],
  );
}

const setters: CallSpec[] = [
  baseSetter('hv_gic_config_set_distributor_base', 'distributor', 'distributor_size'),
  baseSetter('hv_gic_config_set_redistributor_base', 'redistributor', 'redistributor_region_size'),
  baseSetter('hv_gic_config_set_msi_region_base', 'MSI', 'msi_region_size'),
];

function outsideSpi(s: SpecState, base: number, count: number): boolean {
  const g = gicEnv(s);
  return base < g.spiBase || base + count > g.spiBase + g.spiCount;
}

const hv_gic_config_set_msi_interrupt_range = spec(
  'hv_gic_config_set_msi_interrupt_range',
  'hv_gic_config.h',
  'process',
  'Sets the range of SPI INTIDs that MSIs use.',
  [
    configParam,
    { name: 'msi_intid_base', dir: 'in', type: IN.u32('uint32_t'), doc: 'the lowest MSI INTID' },
    { name: 'msi_intid_count', dir: 'in', type: IN.u32('uint32_t'), doc: 'how many MSIs' },
  ],
  [
    badConfig,
    {
      id: 'outside-spi',
      when: 'the range is not inside hv_gic_get_spi_interrupt_range',
      applies: (s, c) => outsideSpi(s, arg<number>(c, 'msi_intid_base'), arg<number>(c, 'msi_intid_count')),
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source:
        'hvf-facts §2.7/§3: "If it is outside of the range given by hv_gic_get_spi_interrupt_range() an error will be returned" [H]; HV_BAD_ARGUMENT (applevisor) [T]',
    },
    {
      id: 'empty',
      when: 'msi_intid_count is 0 (an empty range inside the SPIs)',
      applies: (_s, c) => arg<number>(c, 'msi_intid_count') === 0,
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the configuration holds the empty range (no MSI)',
      evidence: U,
      source: 'hvf-facts §2.7: undocumented',
      effect: (s, c, o) => {
        const cfg = configOf(s, c);
        if (cfg && o.ret === HV.HV_SUCCESS) cfg.msiRange = [arg<number>(c, 'msi_intid_base'), 0];
      },
    },
    {
      id: 'ok',
      when: 'a range inside the SPIs',
      applies: always,
      ret: SUCCESS,
      result: 'the configuration holds the range; with an MSI base too, the GIC has an MSI frame',
      evidence: T,
      source: 'hvf-facts §2.7 [H]; applevisor sets the whole SPI range and half of it [T]',
      effect: (s, c) => {
        const cfg = configOf(s, c);
        if (cfg) cfg.msiRange = [arg<number>(c, 'msi_intid_base'), arg<number>(c, 'msi_intid_count')];
      },
    },
  ],
);

// ---- creation and injection (hv_gic.h) -------------------------------------------------------------

/** The regions a configuration places: distributor and redistributors always (0 when unset), MSI when set. */
function regions(s: SpecState, cfg: SpecGicConfig): { base: bigint; size: bigint; align: bigint }[] {
  const g = gicEnv(s);
  const out = [
    {
      base: cfg.distributorBase ?? 0n,
      size: BigInt(g.distributorSize),
      align: BigInt(g.distributorBaseAlignment),
    },
    {
      base: cfg.redistributorBase ?? 0n,
      size: BigInt(g.redistributorRegionSize),
      align: BigInt(g.redistributorBaseAlignment),
    },
  ];
  if (cfg.msiRegionBase !== undefined)
    out.push({
      base: cfg.msiRegionBase,
      size: BigInt(g.msiRegionSize),
      align: BigInt(g.msiRegionBaseAlignment),
    });
  return out;
}

function overlapping(rs: readonly { base: bigint; size: bigint }[]): boolean {
  for (let i = 0; i < rs.length; i++)
    for (let j = i + 1; j < rs.length; j++) {
      const a = rs[i] as { base: bigint; size: bigint };
      const b = rs[j] as { base: bigint; size: bigint };
      if (a.base < b.base + b.size && b.base < a.base + a.size) return true;
    }
  return false;
}

function gicConfig(s: SpecState, c: SpecCall): SpecGicConfig | undefined {
  return s.gicConfigs.get(Number(c.args.gic_config));
}

function createGic(s: SpecState, cfg: SpecGicConfig): void {
  if (!s.vm) return;
  const msi =
    cfg.msiRegionBase !== undefined && cfg.msiRange !== undefined && cfg.msiRange[1] > 0
      ? { base: cfg.msiRegionBase, intidBase: cfg.msiRange[0], count: cfg.msiRange[1] }
      : undefined;
  s.vm.gic = {
    distributorBase: cfg.distributorBase ?? 0n,
    redistributorBase: cfg.redistributorBase ?? 0n,
    msi,
    blobs: [],
  };
}

const hv_gic_create = spec(
  'hv_gic_create',
  'hv_gic.h',
  'process',
  "Creates the VM's GICv3 (distributor, redistributors, MSI frame, CPU interface registers).",
  [{ name: 'gic_config', dir: 'in', type: IN.config('hv_gic_config_t'), doc: 'the GIC configuration' }],
  [
    noVmRow(
      'hvf-facts §2.7: "must only be called after a virtual machine has been created … If either of these conditions aren\'t met an error is returned" [H]; the code is undocumented [U]',
      H,
    ),
    {
      id: 'bad-config',
      when: 'gic_config is not an object returned by hv_gic_config_create',
      applies: (s, c) => !gicConfig(s, c),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.7: undocumented',
    },
    {
      id: 'gic-exists',
      when: 'the VM has a GIC already',
      applies: (s) => gicOf(s) !== undefined,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.7: "There must only be a single instance of this device per virtual machine" [H]; the code is undocumented [U]',
    },
    {
      id: 'vcpus-created',
      when: 'a vCPU of this VM was created (even if destroyed since)',
      applies: (s) => s.vm?.vcpusCreated === true,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.7/§4: "It must also be done before vCPU\'s have been created … an error is returned" [H]; the code is undocumented [U]',
    },
    {
      id: 'default-config',
      when: 'no base and no MSI range was set in gic_config',
      applies: (s, c) => {
        const cfg = gicConfig(s, c) as SpecGicConfig;
        return (
          cfg.distributorBase === undefined &&
          cfg.redistributorBase === undefined &&
          cfg.msiRegionBase === undefined &&
          cfg.msiRange === undefined
        );
      },
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source:
        'hvf-facts §2.7/§3: hv_gic_create with an all-default configuration is HV_BAD_ARGUMENT (applevisor) [T]',
    },
    {
      id: 'misaligned',
      when: 'a base in gic_config is not aligned as its hv_gic_get_*_base_alignment says',
      applies: (s, c) => regions(s, gicConfig(s, c) as SpecGicConfig).some((r) => r.base % r.align !== 0n),
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.7: each base is to be aligned to its hv_gic_get_*_base_alignment [H]; the code is undocumented [U]',
    },
    {
      id: 'overlap',
      when: 'two of the regions overlap (an unset distributor or redistributor base is 0)',
      applies: (s, c) => overlapping(regions(s, gicConfig(s, c) as SpecGicConfig)),
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the VM has a GIC with these regions',
      evidence: U,
      source:
        'hvf-facts §2.7: the all-default failure is "probably an overlap at IPA 0, inference" [U]; a GIC works once a base is set [T]',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) createGic(s, gicConfig(s, c) as SpecGicConfig);
      },
    },
    {
      id: 'outside-ipa',
      when: "a region ends past the VM's IPA space",
      applies: (s, c) =>
        regions(s, gicConfig(s, c) as SpecGicConfig).some(
          (r) => r.base + r.size > (s.vm?.addrLimit ?? U64_END),
        ),
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the VM has a GIC with these regions',
      evidence: U,
      source: 'hvf-facts §2.7: undocumented',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) createGic(s, gicConfig(s, c) as SpecGicConfig);
      },
    },
    {
      id: 'ok',
      when: 'a VM without GIC or vCPUs, and aligned, disjoint regions inside its IPA space',
      applies: always,
      ret: SUCCESS,
      result:
        'the VM has a GIC at the configured bases (unset ones at 0), with an MSI frame when both the MSI base and a range were set',
      evidence: T,
      source:
        'hvf-facts §2.7: creation order VM → GIC → vCPUs [H]; applevisor creates GICs with one, two or three bases set [T]',
      effect: (s, c) => createGic(s, gicConfig(s, c) as SpecGicConfig),
    },
  ],
);

const hv_gic_set_spi = spec(
  'hv_gic_set_spi',
  'hv_gic.h',
  'process',
  'Drives an SPI line: a level for level-triggered INTIDs, an edge on true for edge-triggered ones.',
  [
    { name: 'intid', dir: 'in', type: IN.u32('uint32_t'), doc: 'the SPI' },
    { name: 'level', dir: 'in', type: IN.bool(), doc: 'the line level' },
  ],
  [
    noGic,
    {
      id: 'outside-spi',
      when: 'intid is outside hv_gic_get_spi_interrupt_range',
      applies: (s, c) => outsideSpi(s, arg<number>(c, 'intid'), 1),
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: H,
      source:
        'hvf-facts §2.7/§3: "An interrupt identifier outside of hv_gic_get_spi_interrupt_range() … will return a HV_BAD_ARGUMENT error code" [H]',
    },
    {
      id: 'msi-range',
      when: "intid is inside the GIC's MSI range",
      applies: (s, c) => {
        const msi = liveGic(s).msi;
        const i = arg<number>(c, 'intid');
        return msi !== undefined && i >= msi.intidBase && i < msi.intidBase + msi.count;
      },
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source:
        'hvf-facts §2.7: "… or in the MSI interrupt range will return a HV_BAD_ARGUMENT" [H]; applevisor [T]',
    },
    {
      id: 'ok',
      when: 'an SPI outside the MSI range',
      applies: always,
      ret: SUCCESS,
      result: 'the line is driven (no owning-thread rule)',
      evidence: T,
      source:
        'hvf-facts §2.7: injection from any thread [H/T]; applevisor drives every SPI outside the MSIs [T]',
    },
  ],
);

const hv_gic_send_msi = spec(
  'hv_gic_send_msi',
  'hv_gic.h',
  'process',
  "Sends an MSI to the GIC's MSI frame, as a write of intid to its GICM_SET_SPI_NSR would.",
  [
    {
      name: 'address',
      dir: 'in',
      type: IN.u64('hv_ipa_t'),
      doc: 'the IPA of GICM_SET_SPI_NSR in the MSI frame',
    },
    { name: 'intid', dir: 'in', type: IN.u32('uint32_t'), doc: "the MSI's INTID" },
  ],
  [
    noGic,
    {
      id: 'no-msi',
      when: 'the GIC has no MSI frame (its configuration lacked the MSI base or range)',
      applies: (s) => liveGic(s).msi === undefined,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.7: "GIC MSI support is only provided if both an MSI region base address is configured and an MSI interrupt range is set" [H]; the code is undocumented [U]',
    },
    {
      id: 'outside-msi',
      when: 'intid is outside the MSI range',
      applies: (s, c) => {
        const msi = liveGic(s).msi as { intidBase: number; count: number };
        const i = arg<number>(c, 'intid');
        return i < msi.intidBase || i >= msi.intidBase + msi.count;
      },
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source: 'hvf-facts §2.7/§3: an MSI outside the MSI range is HV_BAD_ARGUMENT (applevisor) [T]',
    },
    {
      id: 'bad-address',
      when: "address is not the MSI frame's GICM_SET_SPI_NSR",
      applies: (s, c) => arg<bigint>(c, 'address') !== (liveGic(s).msi?.base ?? 0n) + GICM_SET_SPI_NSR,
      ret: ANY,
      result: 'undocumented',
      evidence: U,
      source:
        'hvf-facts §2.7: "Use the address of the HV_GIC_REG_GICM_SET_SPI_NSR register in the MSI frame" [H]; other addresses are undocumented',
    },
    {
      id: 'ok',
      when: "an MSI INTID at the frame's GICM_SET_SPI_NSR",
      applies: always,
      ret: SUCCESS,
      result: 'the MSI is delivered as its SPI',
      evidence: T,
      source: 'hvf-facts §2.7 [H]; applevisor sends every MSI of its range [T]',
    },
  ],
);

// ---- registers (hv_gic.h) ---------------------------------------------------------------------------

/** GICv3 distributor register arrays, one bit / byte / two bits / eight bytes per INTID (Arm IHI 0069). */
const DISTRIBUTOR_ARRAYS: readonly { readonly base: number; readonly bitsPerIntid: number }[] = [
  { base: 0x0080, bitsPerIntid: 1 }, // IGROUPR
  { base: 0x0100, bitsPerIntid: 1 }, // ISENABLER
  { base: 0x0180, bitsPerIntid: 1 }, // ICENABLER
  { base: 0x0200, bitsPerIntid: 1 }, // ISPENDR
  { base: 0x0280, bitsPerIntid: 1 }, // ICPENDR
  { base: 0x0300, bitsPerIntid: 1 }, // ISACTIVER
  { base: 0x0380, bitsPerIntid: 1 }, // ICACTIVER
  { base: 0x0400, bitsPerIntid: 8 }, // IPRIORITYR
  { base: 0x0c00, bitsPerIntid: 2 }, // ICFGR
];

/**
 * The INTIDs a distributor register covers, when it is CTLR, TYPER, PIDR2 or an entry of one of the
 * register arrays whose names VMMs use with the framework (GICv3 offsets, hvf-facts §2.7 [H]); IROUTER<n>
 * (n ≥ 32) routes one SPI. `[0, 0]` for the single registers; undefined for any other offset.
 */
export function distributorRegIntids(reg: number): readonly [number, number] | undefined {
  if (reg === 0x0000 || reg === 0x0004 || reg === 0xffe8) return [0, 0];
  for (const a of DISTRIBUTOR_ARRAYS) {
    const bytes = (1024 * a.bitsPerIntid) / 8;
    if (reg >= a.base && reg < a.base + bytes && reg % 4 === 0) {
      const first = ((reg - a.base) * 8) / a.bitsPerIntid;
      return [first, first + 32 / a.bitsPerIntid];
    }
  }
  if (reg >= 0x6100 && reg < 0x6000 + 8 * 1020 && reg % 8 === 0) {
    const n = (reg - 0x6000) / 8;
    return [n, n + 1];
  }
  return undefined;
}

const distributorParam: InParam = {
  name: 'reg',
  dir: 'in',
  type: IN.u32('hv_gic_distributor_reg_t', VOCABS.gicDistributorReg),
  doc: 'the register: its GICD offset',
};

function distributorRows(set: boolean): Row[] {
  return [
    noGic,
    {
      id: 'bad-reg',
      when: 'reg is not a register offset of the 64 KiB distributor frame (4-byte aligned)',
      applies: (_s, c) => arg<number>(c, 'reg') >= 0x10000 || arg<number>(c, 'reg') % 4 !== 0,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.7: enum values are GICv3 distributor offsets [H]; others are undocumented',
    },
    {
      id: 'other-reg',
      when: 'reg is another offset of the frame (IIDR, TYPER2, SETSPI, SGIR, IGRPMODR, …), or an array entry for INTIDs beyond the SPIs',
      applies: (s, c) => {
        const intids = distributorRegIntids(arg<number>(c, 'reg'));
        const g = gicEnv(s);
        return intids === undefined || intids[0] >= g.spiBase + g.spiCount;
      },
      ret: ANY,
      result: set ? 'undocumented' : 'undocumented; the value is not predicted',
      evidence: U,
      source: "hvf-facts §2.7: whether the framework's enum covers these is undocumented",
    },
    {
      id: 'ok',
      when: 'reg is CTLR, TYPER, PIDR2, or an entry of IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER, IPRIORITYR, ICFGR, IROUTER for implemented INTIDs',
      applies: always,
      ret: SUCCESS,
      result: set
        ? "the write goes to the register (what it keeps is the architecture's; not predicted)"
        : 'value = the register (not predicted)',
      evidence: T,
      source:
        'hvf-facts §2.7: "enum values are equal to the device register offsets … The client can use the offset alternatively, while looping through large register arrays" [H]; applevisor reads and writes TYPER, PIDR2 and the first of each array [T]',
    },
  ];
}

const distributor: CallSpec[] = [
  spec(
    'hv_gic_get_distributor_reg',
    'hv_gic.h',
    'process',
    'Reads a GIC distributor register.',
    [distributorParam, valueOut('the register')],
    distributorRows(false),
  ),
  spec(
    'hv_gic_set_distributor_reg',
    'hv_gic.h',
    'process',
    'Writes a GIC distributor register.',
    [distributorParam, valueIn('the value to write')],
    distributorRows(true),
  ),
];

const vcpuParam: InParam = { name: 'vcpu', dir: 'in', type: IN.vcpu('hv_vcpu_t'), doc: 'the vCPU' };

/** A per-vCPU register pair (owning thread), with the enum, the read-only registers and extra rows. */
function vcpuRegisterPair(opts: {
  get: string;
  set: string;
  what: string;
  type: InType;
  /** The enum's values, or undefined when the facts give none (every value then reaches `loose`). */
  names: ReadonlySet<number> | undefined;
  readOnly: ReadonlySet<number>;
  /** Rows after the GIC checks (EL2 requirements). */
  extra: (set: boolean) => Row[];
  evidence: { get: string; set: string };
}): CallSpec[] {
  const rows = (set: boolean): Row[] => {
    const r: Row[] = [...vcpuPrelude(set ? opts.set : opts.get), noGic, ...opts.extra(set)];
    const names = opts.names;
    if (names === undefined) {
      r.push({
        id: 'loose',
        when: 'any register',
        applies: always,
        ret: ANY,
        result: 'undocumented: the facts give no values for this enum',
        evidence: U,
        source: `hvf-facts §2.7: the ${opts.what} enum is not in the facts`,
      });
      return r;
    }
    r.push({
      id: 'bad-reg',
      when: `reg is not an ${opts.what} register of the header's enum`,
      applies: (_s, c) => !names.has(arg<number>(c, 'reg')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: "hvf-facts §2.7: the header's enum [H]; other values are undocumented",
    });
    if (set && opts.readOnly.size > 0)
      r.push({
        id: 'read-only',
        when: `reg is read-only in the architecture (${[...opts.readOnly].map((x) => show(x)).join(', ')})`,
        applies: (_s, c) => opts.readOnly.has(arg<number>(c, 'reg')),
        ret: ANY,
        result: 'undocumented',
        evidence: U,
        source: 'hvf-facts §2.7: writes to read-only registers are undocumented',
      });
    r.push({
      id: 'ok',
      when: `the owner ${set ? 'writes' : 'reads'} an ${opts.what} register of the VM's GIC`,
      applies: always,
      ret: SUCCESS,
      result: set
        ? 'the write goes to the register (what it keeps is not predicted)'
        : 'value = the register (not predicted)',
      evidence: H,
      source: set ? opts.evidence.set : opts.evidence.get,
    });
    return r;
  };
  const reg: CallSpec['params'][number] = {
    name: 'reg',
    dir: 'in',
    type: opts.type,
    doc: `the ${opts.what} register`,
  };
  return [false, true].map((set) =>
    spec(
      set ? opts.set : opts.get,
      'hv_gic.h',
      'owner',
      `${set ? 'Writes' : 'Reads'} a GIC ${opts.what} register of a vCPU.`,
      [vcpuParam, reg, set ? valueIn('the value to write') : valueOut('the register')],
      rows(set),
    ),
  );
}

/** ICH and ICV registers exist only for a VM created with EL2. */
const noEl2 = (what: 'ICH' | 'ICV'): Row => ({
  id: 'no-el2',
  when: 'the VM was created without EL2',
  applies: (s) => s.vm?.el2 !== true,
  ret: NOT_SUCCESS,
  evidence: H,
  source: `hvf-facts §2.7/§3: the ${what} registers are only available with EL2 enabled, otherwise an error [H]; the code is undocumented [U]`,
});

const ICC_SRE_EL2 = HV_GIC_ICC_REG.HV_GIC_ICC_REG_SRE_EL2;

const registers: CallSpec[] = [
  ...vcpuRegisterPair({
    get: 'hv_gic_get_redistributor_reg',
    set: 'hv_gic_set_redistributor_reg',
    what: 'redistributor',
    type: IN.u32('hv_gic_redistributor_reg_t', VOCABS.gicRedistributorReg),
    names: new Set(Object.values(HV_GIC_REDISTRIBUTOR_REG)),
    readOnly: new Set([
      HV_GIC_REDISTRIBUTOR_REG.HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER,
      HV_GIC_REDISTRIBUTOR_REG.HV_GIC_REDISTRIBUTOR_REG_GICR_PIDR2,
    ]),
    extra: () => [],
    evidence: {
      get: 'hvf-facts §2.7: hv_gic_get_redistributor_reg, owning thread; the enum is the RD/SGI frame offsets [H]',
      set: 'hvf-facts §2.7: hv_gic_set_redistributor_reg, owning thread [H]',
    },
  }),
  ...vcpuRegisterPair({
    get: 'hv_gic_get_icc_reg',
    set: 'hv_gic_set_icc_reg',
    what: 'ICC',
    type: IN.u32('hv_gic_icc_reg_t', VOCABS.gicIccReg),
    names: new Set(Object.values(HV_GIC_ICC_REG)),
    readOnly: new Set([HV_GIC_ICC_REG.HV_GIC_ICC_REG_RPR_EL1]),
    extra: () => [
      {
        id: 'el2-reg',
        when: 'reg is ICC_SRE_EL2 and the VM was created without EL2',
        applies: (s, c) => arg<number>(c, 'reg') === ICC_SRE_EL2 && s.vm?.el2 !== true,
        ret: NOT_SUCCESS,
        evidence: H,
        source:
          'hvf-facts §3: EL2 system registers without EL2 enabled are an error [H]; the code is undocumented [U]',
      },
    ],
    evidence: {
      get: 'hvf-facts §2.7: hv_gic_get_icc_reg, owning thread; the CPU interface state the GIC state blob leaves out [H]',
      set: 'hvf-facts §2.7: hv_gic_set_icc_reg, owning thread [H]',
    },
  }),
  ...vcpuRegisterPair({
    get: 'hv_gic_get_ich_reg',
    set: 'hv_gic_set_ich_reg',
    what: 'ICH',
    type: IN.u32('hv_gic_ich_reg_t', VOCABS.gicIchReg),
    names: new Set(Object.values(HV_GIC_ICH_REG)),
    readOnly: new Set([
      HV_GIC_ICH_REG.HV_GIC_ICH_REG_VTR_EL2 as number,
      HV_GIC_ICH_REG.HV_GIC_ICH_REG_MISR_EL2 as number,
      HV_GIC_ICH_REG.HV_GIC_ICH_REG_EISR_EL2 as number,
      HV_GIC_ICH_REG.HV_GIC_ICH_REG_ELRSR_EL2 as number,
    ]),
    extra: () => [noEl2('ICH')],
    evidence: {
      get: 'hvf-facts §2.7: hv_gic_get_ich_reg: EL2 VMs only, owning thread [H]',
      set: 'hvf-facts §2.7: hv_gic_set_ich_reg: EL2 VMs only, owning thread [H]',
    },
  }),
  ...vcpuRegisterPair({
    get: 'hv_gic_get_icv_reg',
    set: 'hv_gic_set_icv_reg',
    what: 'ICV',
    type: IN.u32('hv_gic_icv_reg_t'),
    names: undefined,
    readOnly: new Set(),
    extra: () => [noEl2('ICV')],
    evidence: { get: '', set: '' },
  }),
];

const MSI_REGS: ReadonlySet<number> = new Set(Object.values(HV_GIC_MSI_REG));

function msiRows(set: boolean): Row[] {
  return [
    noGic,
    {
      id: 'bad-reg',
      when: 'reg is not GICM_TYPER (0x8) or GICM_SET_SPI_NSR (0x40)',
      applies: (_s, c) => !MSI_REGS.has(arg<number>(c, 'reg')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: "hvf-facts §2.7: the header's enum has two MSI registers [H]; others are undocumented",
    },
    {
      id: 'no-msi',
      when: 'the GIC has no MSI frame',
      applies: (s) => liveGic(s).msi === undefined,
      ret: ANY,
      result: 'undocumented',
      evidence: U,
      source: 'hvf-facts §2.7: undocumented',
    },
    {
      id: 'ok',
      when: `the GIC has an MSI frame and reg is one of its registers`,
      applies: always,
      ret: SUCCESS,
      result: set ? 'the write goes to the register' : 'value = the register (not predicted)',
      evidence: T,
      source: 'hvf-facts §2.7: hv_gic_get/set_msi_reg [H]; applevisor reads and writes both registers [T]',
    },
  ];
}

const msiParam: InParam = {
  name: 'reg',
  dir: 'in',
  type: IN.u32('hv_gic_msi_reg_t', VOCABS.gicMsiReg),
  doc: 'the MSI frame register',
};

const msi: CallSpec[] = [
  spec(
    'hv_gic_get_msi_reg',
    'hv_gic.h',
    'process',
    "Reads a register of the GIC's MSI frame.",
    [msiParam, valueOut('the register')],
    msiRows(false),
  ),
  spec(
    'hv_gic_set_msi_reg',
    'hv_gic.h',
    'process',
    "Writes a register of the GIC's MSI frame.",
    [msiParam, valueIn('the value to write')],
    msiRows(true),
  ),
];

function redistributorBaseCheck(s: SpecState, v: SpecVcpu, value: unknown): string | undefined {
  const g = gicEnv(s);
  const base = liveGic(s).redistributorBase;
  if (typeof value !== 'bigint') return `redistributor_base_address: expected an IPA, got ${String(value)}`;
  const off = value - base;
  if (off < 0n || off >= BigInt(g.redistributorRegionSize) || off % BigInt(g.redistributorSize) !== 0n)
    return `redistributor_base_address: ${show(value)} is not a redistributor of the region at ${show(base)} (vCPU ${v.handle})`;
  return undefined;
}

const hv_gic_get_redistributor_base = spec(
  'hv_gic_get_redistributor_base',
  'hv_gic.h',
  'any',
  "Reads the IPA of a vCPU's redistributor (after its MPIDR_EL1 affinity is set).",
  [
    vcpuParam,
    {
      name: 'redistributor_base_address',
      dir: 'out',
      type: OUT.u64('hv_ipa_t *'),
      doc: 'the IPA of its redistributor',
    },
  ],
  [
    {
      id: 'bad-handle',
      when: 'the vcpu argument is not a live vCPU',
      applies: (s, c) => !vcpuOf(s, c),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §3: stale/destroyed handles are undocumented',
    },
    noGic,
    {
      id: 'mpidr-unset',
      when: "the VMM has not written the vCPU's MPIDR_EL1",
      applies: (s, c) => !liveVcpu(s, c).mpidrWritten,
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the value is a redistributor of the region',
      evidence: U,
      source:
        'hvf-facts §2.7, §5.8: "Must be called after the affinity of the given vCPU has been set in its MPIDR_EL1" [H]; before, undocumented',
      value: (s, c, v) => redistributorBaseCheck(s, liveVcpu(s, c), v),
    },
    {
      id: 'ok',
      when: 'a live vCPU whose MPIDR_EL1 the VMM wrote (any thread)',
      applies: always,
      ret: SUCCESS,
      result: 'value = the base of one redistributor of the region (two 64 KiB frames each, contiguous)',
      evidence: H,
      source:
        'hvf-facts §2.7: hv_gic_get_redistributor_base, no owning-thread rule; "two 64 KiB frames per vCPU", contiguous [H]',
      value: (s, c, v) => redistributorBaseCheck(s, liveVcpu(s, c), v),
    },
  ],
);

// ---- state (hv_gic_state.h, hv_gic.h) ---------------------------------------------------------------

const stateParam: InParam = {
  name: 'state',
  dir: 'in',
  type: IN.config('hv_gic_state_t'),
  doc: 'a GIC state object',
};

const badState: Row = {
  id: 'bad-state',
  when: 'state is not an object returned by hv_gic_state_create',
  applies: (s, c) => !s.gicStates.has(Number(c.args.state)),
  ret: NOT_SUCCESS,
  evidence: U,
  source: 'hvf-facts §2.7: undocumented',
};

const hv_gic_state_create = spec(
  'hv_gic_state_create',
  'hv_gic_state.h',
  'process',
  'Takes a GIC state object: the distributor and redistributors as they are now (not the CPU registers).',
  [
    {
      name: 'state',
      dir: 'out',
      type: OUT.config('hv_gic_state_t'),
      doc: 'the new state object',
      c: 'return',
    },
  ],
  [
    {
      id: 'no-gic',
      when: 'the process has no VM, or its VM has no GIC',
      applies: (s) => gicOf(s) === undefined,
      ret: NOT_SUCCESS,
      evidence: H,
      source: 'hvf-facts §2.7: hv_gic_state_create returns NULL if there is no GIC [H]',
    },
    {
      id: 'ok',
      when: 'the VM has a GIC and no vCPU is running',
      applies: always,
      ret: SUCCESS,
      result: 'state = a new object holding the GIC state of this moment',
      evidence: H,
      source: 'hvf-facts §2.7: hv_gic_state_create ("VM must be stopped") [H]',
      value: expectNew('state', 'a new object', (s) => s.gicStates),
      effect: (s, _c, o) => {
        s.gicStates.set(Number(o.value), { gic: liveGic(s), size: undefined });
      },
    },
  ],
);

const hv_gic_state_get_size = spec(
  'hv_gic_state_get_size',
  'hv_gic_state.h',
  'process',
  "Reads how many bytes the state object's data takes.",
  [stateParam, { name: 'gic_state_size', dir: 'out', type: OUT.u64('size_t *'), doc: 'the size in bytes' }],
  [
    badState,
    {
      id: 'ok',
      when: 'state is a GIC state object',
      applies: always,
      ret: SUCCESS,
      result: 'value = the size of its data (the same every time for one object)',
      evidence: H,
      source: 'hvf-facts §2.7: hv_gic_state_get_size of an object that is a snapshot [H]',
      expect: (s, c) => s.gicStates.get(Number(c.args.state))?.size,
      effect: (s, c, o) => {
        const st = s.gicStates.get(Number(c.args.state));
        if (st) st.size = o.value as bigint;
      },
    },
  ],
);

const hv_gic_state_get_data = spec(
  'hv_gic_state_get_data',
  'hv_gic_state.h',
  'process',
  "Reads the state object's data: an opaque, versioned blob of the whole GIC but its CPU registers.",
  [
    stateParam,
    {
      name: 'gic_state_data',
      dir: 'out',
      type: OUT.bytes('void *', 'hv_gic_state_get_size'),
      doc: 'the data (in C a buffer of hv_gic_state_get_size bytes)',
    },
  ],
  [
    badState,
    {
      id: 'ok',
      when: 'state is a GIC state object',
      applies: always,
      ret: SUCCESS,
      result: 'value = hv_gic_state_get_size bytes of state, which hv_gic_set_state takes back',
      evidence: H,
      source: 'hvf-facts §2.7: hv_gic_state_get_data (opaque, versioned, stable) [H]',
      value: (s, c, v) => {
        if (!(v instanceof Uint8Array)) return `gic_state_data: expected bytes, got ${String(v)}`;
        const size = s.gicStates.get(Number(c.args.state))?.size;
        return size === undefined || BigInt(v.length) === size
          ? undefined
          : `gic_state_data: ${v.length} bytes where hv_gic_state_get_size said ${size}`;
      },
      effect: (s, c, o) => {
        const st = s.gicStates.get(Number(c.args.state));
        const data = o.value as Uint8Array;
        if (!st) return;
        st.size = BigInt(data.length);
        if (!st.gic.blobs.some((b) => sameBytes(b, data))) st.gic.blobs.push(data.slice());
      },
    },
  ],
);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The bytes hv_gic_set_state reads: the first gic_state_size of gic_state_data. */
function stateData(c: SpecCall): Uint8Array {
  return arg<Uint8Array>(c, 'gic_state_data').subarray(0, Number(arg<bigint>(c, 'gic_state_size')));
}

const hv_gic_set_state = spec(
  'hv_gic_set_state',
  'hv_gic.h',
  'process',
  'Restores the GIC from data hv_gic_state_get_data produced (after the vCPUs exist, before any runs).',
  [
    { name: 'gic_state_data', dir: 'in', type: IN.bytes('const void *'), doc: 'the state data' },
    { name: 'gic_state_size', dir: 'in', type: IN.length('size_t'), doc: 'its size in bytes' },
  ],
  [
    noGic,
    {
      id: 'no-vcpus',
      when: 'the VM has no vCPU',
      applies: (s) => s.vcpus.size === 0,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §2.7: "GIC state can only be restored after a GIC device and vcpus have been created" [H]; the code is undocumented [U]',
    },
    {
      id: 'ran',
      when: 'a vCPU of the VM has run',
      applies: (s) => s.vm?.ran === true,
      requires: (env) => env.guestExecution !== false,
      ret: NOT_SUCCESS,
      evidence: H,
      source: 'hvf-facts §2.7: "… and must be done before vcpu\'s are run" [H]; the code is undocumented [U]',
    },
    {
      id: 'may-have-run',
      when: 'a run of a vCPU of the VM failed (whether it entered the guest is unknown)',
      applies: (s) => s.vm?.mayHaveRun === true,
      ret: ANY,
      result: 'undocumented; on HV_SUCCESS the GIC holds the data',
      evidence: U,
      source: 'hvf-facts §2.7: "must be done before vcpu\'s are run" [H]; after a failed run, undocumented',
    },
    {
      id: 'short',
      when: "gic_state_size is smaller than the GIC's state data",
      applies: (s, c) => liveGic(s).blobs.some((b) => stateData(c).length < b.length),
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source: 'hvf-facts §2.7/§3: a short buffer is HV_BAD_ARGUMENT (applevisor) [T]',
    },
    {
      id: 'corrupted',
      when: "the data is the GIC's state data with its first byte changed",
      applies: (s, c) => {
        const d = stateData(c);
        return liveGic(s).blobs.some((b) => b.length === d.length && b[0] !== d[0]);
      },
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source:
        'hvf-facts §2.7/§3: a corrupted buffer (applevisor zeroes its first byte) is HV_BAD_ARGUMENT [T]',
    },
    {
      id: 'ok',
      when: 'the data is state data hv_gic_state_get_data gave for this GIC',
      applies: (s, c) => liveGic(s).blobs.some((b) => sameBytes(b, stateData(c))),
      ret: SUCCESS,
      result: 'the distributor and redistributors hold that state (CPU registers are restored separately)',
      evidence: T,
      source: 'hvf-facts §2.7: hv_gic_set_state [H]; applevisor restores the data it just read [T]',
    },
    {
      id: 'other',
      when: 'any other data',
      applies: always,
      ret: ANY,
      result: 'undocumented (the format is opaque)',
      evidence: U,
      source: 'hvf-facts §2.7: the data is opaque and versioned; what else is refused is undocumented',
    },
  ],
);

const hv_gic_reset = spec(
  'hv_gic_reset',
  'hv_gic.h',
  'process',
  "Resets the GIC's distributor, redistributors and internal state (on VM reset).",
  [],
  [
    noGic,
    {
      id: 'ok',
      when: 'the VM has a GIC',
      applies: always,
      ret: SUCCESS,
      result: 'the GIC is back in its reset state',
      evidence: T,
      source: 'hvf-facts §2.7: hv_gic_reset [H]; applevisor resets a GIC [T]',
    },
  ],
);

/** Every GIC call, in the order of Apple's headers. */
export const GIC_CALLS: readonly CallSpec[] = [
  hv_gic_config_create,
  ...setters,
  hv_gic_config_set_msi_interrupt_range,
  ...parameters,
  hv_gic_get_spi_interrupt_range,
  hv_gic_get_intid,
  hv_gic_create,
  hv_gic_set_spi,
  hv_gic_send_msi,
  ...distributor,
  hv_gic_get_redistributor_base,
  ...registers,
  ...msi,
  hv_gic_set_state,
  hv_gic_reset,
  hv_gic_state_create,
  hv_gic_state_get_size,
  hv_gic_state_get_data,
];
