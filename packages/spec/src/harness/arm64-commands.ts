/**
 * Commands for the arm64 calls whose rules need more than their parameter types give: host memory from
 * `hv_vm_allocate` (a buffer later commands use), vCPU configurations handed to `hv_vcpu_create`, GIC
 * bases and INTIDs near the edges the rules draw, and three sequences a VMM makes around the GIC —
 * creating it, giving a vCPU its affinity and redistributor, saving and restoring its state — each call
 * of them judged on its own.
 * @module
 */
import fc from 'fast-check';
import type { GicParameters, HostMemory, ThreadId, Vcpu } from '../backend.js';
import { forgeVcpu } from '../backend.js';
import { VOCABS, type Vocab } from '../calls/params.js';
import type { SpecCall } from '../calls/types.js';
import type { SpecState } from '../state.js';
import { CPSR_EL1H_DAIF, HV_GIC_MSI_REG, HV_REG, HV_SYS_REG } from '../vocabulary/arm64.js';
import { THREADS, threadArb, u64Arb } from './choices.js';
import type { HvCommand, Weighted } from './commands.js';
import type { Model, Real } from './context.js';
import { describeCall } from './describe.js';
import { execute } from './execute.js';

const call = (name: string, t: ThreadId, args: Record<string, unknown>): SpecCall => ({ name, t, args });

/** A command that makes several checked calls, each chosen when the one before has answered. */
export class SequenceCommand implements HvCommand {
  private readonly made: SpecCall[] = [];
  constructor(
    readonly label: string,
    private readonly steps: (m: Model, run: (c: SpecCall) => Promise<unknown>) => Promise<void>,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    this.made.length = 0;
    await this.steps(m, async (c) => {
      this.made.push(c);
      return execute(m, r, c);
    });
  }
  toString(): string {
    return this.made.length ? this.made.map(describeCall).join('; ') : `${this.label}(—)`;
  }
}

// ---- host memory ------------------------------------------------------------------------------------

/** `hv_vm_allocate`: the memory it returns becomes a host buffer the other commands may use. */
function allocate(page: number): fc.Arbitrary<HvCommand> {
  const size = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => BigInt(n * page)) },
    { weight: 1, arbitrary: fc.constantFrom(0n, BigInt(page / 4), BigInt(page + 4096)) },
  );
  const flags = fc.oneof(
    { weight: 8, arbitrary: fc.constant(0n) },
    { weight: 1, arbitrary: fc.constant(1n) },
  );
  return fc.tuple(size, flags, threadArb).map(
    ([sz, fl, t]) =>
      new SequenceCommand('hv_vm_allocate', async (m, run) => {
        if (m.mems.size >= 4) return;
        const mem = (await run(call('hv_vm_allocate', t, { size: sz, flags: fl }))) as HostMemory | undefined;
        if (mem && m.state.allocations.has(mem.id)) m.mems.set(mem.id, mem);
      }),
  );
}

/**
 * `hv_vm_deallocate`: mostly a whole allocation; sometimes part of one, a host_alloc buffer, or an
 * allocation the VMM maps first (at the top of the IPA space, where nothing else goes).
 */
function deallocate(page: number): fc.Arbitrary<HvCommand> {
  const how = fc.oneof(
    { weight: 6, arbitrary: fc.constant('whole' as const) },
    { weight: 1, arbitrary: fc.constant('part' as const) },
    { weight: 1, arbitrary: fc.constant('other' as const) },
    { weight: 1, arbitrary: fc.constant('mapped' as const) },
  );
  return fc.tuple(how, fc.nat(3), threadArb).map(
    ([h, i, t]) =>
      new SequenceCommand('hv_vm_deallocate', async (m, run) => {
        const allocated = [...m.mems.values()].filter((x) => m.state.allocations.has(x.id));
        const others = [...m.mems.values()].filter(
          (x) => !m.state.allocations.has(x.id) && !m.codeMems.has(x.id),
        );
        const pool = h === 'other' ? others : allocated;
        const mem = pool[i % Math.max(pool.length, 1)];
        if (!mem) return;
        const vm = m.state.vm;
        if (h === 'mapped' && vm) {
          const ipa = vm.addrLimit - BigInt(mem.size) - BigInt(vm.granule) * 4n;
          await run(call('hv_vm_map', t, { uva: { mem, offset: 0 }, ipa, size: BigInt(mem.size), flags: 3 }));
        }
        const size = h === 'part' ? BigInt(Math.max(mem.size - page, page)) : BigInt(mem.size);
        await run(call('hv_vm_deallocate', t, { uva: { mem, offset: h === 'part' ? page : 0 }, size }));
        if (!m.state.buffers.has(mem.id)) m.mems.delete(mem.id);
      }),
  );
}

// ---- objects -------------------------------------------------------------------------------------------

/** An object-creating call, at most four objects of its kind at a time. */
function creator(name: string, count: (s: SpecState) => number): fc.Arbitrary<HvCommand> {
  return threadArb.map(
    (t) =>
      new SequenceCommand(name, async (m, run) => {
        if (count(m.state) < 4) await run(call(name, t, {}));
      }),
  );
}

type VcpuConfigChoice = 'null' | 'known' | 'bogus' | 'fill';

/**
 * `hv_vcpu_create` with NULL, a vCPU configuration, or a forged one; or a VMM starting one vCPU per
 * thread that has none, until the VM's limit refuses one.
 */
function vcpuCreate(): fc.Arbitrary<HvCommand> {
  const config = fc.oneof(
    { weight: 6, arbitrary: fc.constant<VcpuConfigChoice>('null') },
    { weight: 3, arbitrary: fc.constant<VcpuConfigChoice>('known') },
    { weight: 1, arbitrary: fc.constantFrom<VcpuConfigChoice>('bogus', 'fill') },
  );
  return fc.tuple(config, fc.nat(3), fc.nat(THREADS - 1)).map(
    ([k, i, t]) =>
      new SequenceCommand('hv_vcpu_create', async (m, run) => {
        if (k === 'fill') {
          const s = m.state;
          if (!s.vm) return;
          for (let u = 0; u < THREADS; u++) {
            if ([...s.vcpus.values()].some((v) => v.owner === u)) continue;
            const full = s.vcpus.size >= s.env.maxVcpus;
            await run(call('hv_vcpu_create', u, { config: null }));
            if (full) return;
          }
          return;
        }
        const known = [...m.state.vcpuConfigs];
        const cfg = k === 'null' ? null : k === 'bogus' ? 998 : known[i % Math.max(known.length, 1)];
        if (cfg === undefined) return;
        await run(call('hv_vcpu_create', t, { config: cfg }));
      }),
  );
}

// ---- GIC ------------------------------------------------------------------------------------------------

type BaseChoice = 'unset' | 'good' | 'zero' | 'misaligned' | 'overlap' | 'high' | 'overflow';

const baseChoice: fc.Arbitrary<BaseChoice> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<BaseChoice>('good') },
  { weight: 3, arbitrary: fc.constant<BaseChoice>('unset') },
  {
    weight: 3,
    arbitrary: fc.constantFrom<BaseChoice>('zero', 'misaligned', 'overlap', 'high', 'overflow'),
  },
);

/** Distinct, aligned homes of the three regions (well below any IPA limit), as VMMs lay them out. */
const HOME = { distributor: 0x0800_0000n, redistributor: 0x0a00_0000n, msi: 0x0900_0000n } as const;

function baseFor(
  g: GicParameters,
  region: keyof typeof HOME,
  choice: BaseChoice,
  other: bigint,
): bigint | undefined {
  const size = BigInt(
    region === 'distributor'
      ? g.distributorSize
      : region === 'redistributor'
        ? g.redistributorRegionSize
        : g.msiRegionSize,
  );
  const align = BigInt(
    region === 'distributor'
      ? g.distributorBaseAlignment
      : region === 'redistributor'
        ? g.redistributorBaseAlignment
        : g.msiRegionBaseAlignment,
  );
  switch (choice) {
    case 'unset':
      return undefined;
    case 'good':
      return HOME[region];
    case 'zero':
      return 0n;
    case 'misaligned':
      return HOME[region] + (align > 1n ? align / 2n : 0n) + 0x40n;
    case 'overlap':
      return other;
    case 'high':
      return (1n << 40n) - ((size + align - 1n) / align) * align;
    case 'overflow':
      return (1n << 64n) - size + (size > 1n ? 1n : 0n);
  }
}

type RangeChoice = 'none' | 'half' | 'all' | 'outside' | 'empty';
const rangeChoice: fc.Arbitrary<RangeChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<RangeChoice>('half') },
  { weight: 3, arbitrary: fc.constantFrom<RangeChoice>('none', 'all') },
  { weight: 2, arbitrary: fc.constantFrom<RangeChoice>('outside', 'empty') },
);

function rangeFor(g: GicParameters, choice: RangeChoice): readonly [number, number] | undefined {
  switch (choice) {
    case 'none':
      return undefined;
    case 'half':
      return [g.spiBase, Math.max(1, Math.floor(g.spiCount / 2))];
    case 'all':
      return [g.spiBase, g.spiCount];
    case 'outside':
      return [Math.max(0, g.spiBase - 1), g.spiCount];
    case 'empty':
      return [g.spiBase + 1, 0];
  }
}

/** How a VMM's GIC setup goes: each base set or not, placed well or not; the MSI range; the config passed. */
export interface GicChoices {
  readonly distributor: BaseChoice;
  readonly redistributor: BaseChoice;
  readonly msi: BaseChoice;
  readonly range: RangeChoice;
  readonly bogus: boolean;
}

/** Mostly a configured GIC; now and then a configuration left as it was created (no base, no range). */
export const gicChoices: fc.Arbitrary<GicChoices> = fc.oneof(
  {
    weight: 15,
    arbitrary: fc.record({
      distributor: baseChoice,
      redistributor: baseChoice,
      msi: fc.oneof(
        { weight: 1, arbitrary: fc.constant<BaseChoice>('unset') },
        { weight: 2, arbitrary: baseChoice },
      ),
      range: rangeChoice,
      bogus: fc.oneof(
        { weight: 12, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constant<GicChoices>({
      distributor: 'unset',
      redistributor: 'unset',
      msi: 'unset',
      range: 'none',
      bogus: false,
    }),
  },
);

/** A configuration, its bases and MSI range, then hv_gic_create: each call checked. */
export async function setUpGic(
  m: Model,
  run: (c: SpecCall) => Promise<unknown>,
  c: GicChoices,
  t: ThreadId,
): Promise<void> {
  const g = m.state.env.gic;
  if (!g || m.state.gicConfigs.size >= 4) return;
  const config = (await run(call('hv_gic_config_create', t, {}))) as number | undefined;
  if (config === undefined) return;
  const dist = baseFor(g, 'distributor', c.distributor, HOME.redistributor);
  const redist = baseFor(g, 'redistributor', c.redistributor, dist ?? 0n);
  const msiBase = baseFor(g, 'msi', c.msi, dist ?? 0n);
  const set = async (name: string, arg: string, v: bigint | undefined): Promise<void> => {
    if (v !== undefined) await run(call(name, t, { config, [arg]: v }));
  };
  await set('hv_gic_config_set_distributor_base', 'distributor_base_address', dist);
  await set('hv_gic_config_set_redistributor_base', 'redistributor_base_address', redist);
  await set('hv_gic_config_set_msi_region_base', 'msi_region_base_address', msiBase);
  const r = rangeFor(g, c.range);
  if (r)
    await run(
      call('hv_gic_config_set_msi_interrupt_range', t, {
        config,
        msi_intid_base: r[0],
        msi_intid_count: r[1],
      }),
    );
  await run(call('hv_gic_create', t, { gic_config: c.bogus ? 997 : config }));
}

/**
 * A VMM's GIC setup on its own: after hv_vm_create and before any vCPU most often, but at any point
 * (the creation-order rows).
 */
function gicCreate(): fc.Arbitrary<HvCommand> {
  return fc
    .tuple(gicChoices, threadArb)
    .map(([c, t]) => new SequenceCommand('hv_gic_create', (m, run) => setUpGic(m, run, c, t)));
}

/** A vCPU of the GIC's VM: its affinity in MPIDR_EL1 (or not yet), then its redistributor's IPA. */
function gicVcpu(): fc.Arbitrary<HvCommand> {
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      fc.nat(THREADS - 1),
      fc.nat(2),
    )
    .map(
      ([affinity, t, aff]) =>
        new SequenceCommand('hv_gic_get_redistributor_base', async (m, run) => {
          const s = m.state;
          if (!s.vm?.gic) return;
          let v = [...s.vcpus.values()].find((x) => x.owner === t);
          if (!v && s.vcpus.size < s.env.maxVcpus) {
            await run(call('hv_vcpu_create', t, { config: null }));
            v = [...s.vcpus.values()].find((x) => x.owner === t);
          }
          if (!v) return;
          const vcpu: Vcpu = forgeVcpu(v.handle);
          if (affinity)
            await run(
              call('hv_vcpu_set_sys_reg', t, {
                vcpu,
                reg: HV_SYS_REG.HV_SYS_REG_MPIDR_EL1,
                value: 0x8000_0000n | BigInt((v.handle + aff) % s.env.maxVcpus),
              }),
            );
          await run(call('hv_gic_get_redistributor_base', (t + aff) % THREADS, { vcpu }));
        }),
    );
}

type DataChoice = 'same' | 'short' | 'corrupted' | 'other';
/** What happens between the save and the restore: nothing, a run (that may fail), a GIC reset. */
type Between = 'nothing' | 'run' | 'reset';

/**
 * Save the GIC (state object, size, data), then restore data that is it, a piece of it, or spoilt;
 * in between, now and then a vCPU runs (the restore then comes too late) or the GIC is reset, as a VMM
 * resetting its VM does.
 */
function gicState(): fc.Arbitrary<HvCommand> {
  const data = fc.oneof(
    { weight: 3, arbitrary: fc.constant<DataChoice>('same') },
    { weight: 3, arbitrary: fc.constantFrom<DataChoice>('short', 'corrupted', 'other') },
  );
  const between = fc.oneof(
    { weight: 8, arbitrary: fc.constant<Between>('nothing') },
    { weight: 2, arbitrary: fc.constantFrom<Between>('run', 'reset') },
  );
  return fc.tuple(data, fc.boolean(), threadArb, between, fc.nat(7), runMode).map(
    ([d, sizeFirst, t, b, i, mode]) =>
      new SequenceCommand('hv_gic_set_state', async (m, run) => {
        const s = m.state;
        if (!s.vm?.gic || s.gicStates.size >= 4) return;
        const state = (await run(call('hv_gic_state_create', t, {}))) as number | undefined;
        if (state === undefined) return;
        if (sizeFirst) await run(call('hv_gic_state_get_size', t, { state }));
        const blob = (await run(call('hv_gic_state_get_data', t, { state }))) as Uint8Array | undefined;
        if (!blob) return;
        if (b === 'run') await runOnce(m, run, i, mode);
        if (b === 'reset') await run(call('hv_gic_reset', t, {}));
        let bytes: Uint8Array = blob.slice();
        if (d === 'short') bytes = blob.slice(0, Math.max(0, blob.length - 0x10));
        else if (d === 'corrupted') bytes[0] = (bytes[0] ?? 0) ^ 0xff;
        else if (d === 'other') bytes = bytes.map((x, i) => (i === bytes.length - 1 ? x ^ 1 : x));
        await run(
          call('hv_gic_set_state', t, { gic_state_data: bytes, gic_state_size: BigInt(bytes.length) }),
        );
      }),
  );
}

/** EL1h, or EL2h, which no guest of a VM without EL2 runs in (a run that fails). */
const runMode = fc.oneof(
  { weight: 1, arbitrary: fc.constant(BigInt(CPSR_EL1H_DAIF)) },
  { weight: 1, arbitrary: fc.constant(0x3c9n) },
);

/**
 * A run of a vCPU of the GIC's VM, so that later restores meet the "before any vCPU runs" rule. The
 * spec predicts no guest behaviour in a VM with a GIC, so the run is made to end at once whatever the
 * GIC does: PC and VBAR_EL1 at an IPA nothing is mapped at, the MMU off, so that the first fetch (or
 * that of any exception vector) is a stage-2 fault. Only the calls' rows are judged.
 */
async function runOnce(
  m: Model,
  run: (c: SpecCall) => Promise<unknown>,
  i: number,
  mode: bigint,
): Promise<void> {
  const s = m.state;
  const vm = s.vm;
  if (!vm?.gic) return;
  if (s.vcpus.size === 0) await run(call('hv_vcpu_create', 1, { config: null }));
  const live = [...s.vcpus.values()].filter((v) => !v.cancel);
  const v = live[i % Math.max(live.length, 1)];
  if (!v) return;
  const maps = vm.spaces.get(0) ?? [];
  const g = BigInt(vm.granule);
  let ipa = vm.addrLimit - g;
  while (ipa > 0n && maps.some((x) => ipa < x.addr + x.size && x.addr < ipa + g)) ipa -= g;
  const t = v.owner;
  const vcpu = forgeVcpu(v.handle);
  await run(call('hv_vcpu_set_sys_reg', t, { vcpu, reg: HV_SYS_REG.HV_SYS_REG_SCTLR_EL1, value: 0n }));
  await run(call('hv_vcpu_set_sys_reg', t, { vcpu, reg: HV_SYS_REG.HV_SYS_REG_VBAR_EL1, value: ipa }));
  await run(call('hv_vcpu_set_reg', t, { vcpu, reg: HV_REG.HV_REG_CPSR, value: mode }));
  await run(call('hv_vcpu_set_reg', t, { vcpu, reg: HV_REG.HV_REG_PC, value: ipa }));
  await run(call('hv_vcpu_run', t, { vcpu }));
}

function gicRun(): fc.Arbitrary<HvCommand> {
  return fc
    .tuple(fc.nat(7), runMode)
    .map(([i, mode]) => new SequenceCommand('hv_vcpu_run', (m, run) => runOnce(m, run, i, mode)));
}

type RegFamily = 'distributor' | 'redistributor' | 'icc' | 'ich' | 'icv' | 'msi';

/**
 * Register numbers of each family: the enum's names, the ones with rows of their own (read-only, EL2),
 * array entries, and a few that are no register.
 */
function registerArb(family: RegFamily): fc.Arbitrary<number> {
  const names = (v: Vocab): number[] => [...v.names.values()].map(Number);
  const pick = (all: number[], special: number[], bad: number[]): fc.Arbitrary<number> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...all) },
      { weight: 3, arbitrary: fc.constantFrom(...special) },
      { weight: 2, arbitrary: fc.constantFrom(...bad) },
    );
  switch (family) {
    case 'distributor':
      return fc.oneof(
        {
          weight: 6,
          arbitrary: pick(
            names(VOCABS.gicDistributorReg),
            [0x0004, 0xffe8, 0x0008, 0x000c, 0x0040, 0x0f00, 0x7f00],
            [0x0102, 0x1_0000, 0xffff],
          ),
        },
        { weight: 2, arbitrary: fc.nat(255).map((i) => 0x0400 + 4 * i) },
      );
    case 'redistributor':
      return pick(names(VOCABS.gicRedistributorReg), [0x0008, 0xffe8], [0x0000, 0x0014, 0x10001, 0x2_0000]);
    case 'icc':
      return pick(names(VOCABS.gicIccReg), [0xc65b, 0xe64d], [0xc000, 0xc66f, 0xffff]);
    case 'ich':
      return pick(names(VOCABS.gicIchReg), [0xe659, 0xe65a, 0xe65b, 0xe65d], [0xe641, 0xffff]);
    case 'icv':
      return fc.constantFrom(0xc230, 0xc664, 0xc667);
    case 'msi':
      return pick(names(VOCABS.gicMsiReg), [0x0008], [0x0000, 0x0044]);
  }
}

const REG_CALLS: Record<RegFamily, { get: string; set: string; perVcpu: boolean }> = {
  distributor: { get: 'hv_gic_get_distributor_reg', set: 'hv_gic_set_distributor_reg', perVcpu: false },
  redistributor: { get: 'hv_gic_get_redistributor_reg', set: 'hv_gic_set_redistributor_reg', perVcpu: true },
  icc: { get: 'hv_gic_get_icc_reg', set: 'hv_gic_set_icc_reg', perVcpu: true },
  ich: { get: 'hv_gic_get_ich_reg', set: 'hv_gic_set_ich_reg', perVcpu: true },
  icv: { get: 'hv_gic_get_icv_reg', set: 'hv_gic_set_icv_reg', perVcpu: true },
  msi: { get: 'hv_gic_get_msi_reg', set: 'hv_gic_set_msi_reg', perVcpu: false },
};

/** How an MSI goes: none, to the frame's GICM_SET_SPI_NSR, to the frame's base, or outside the range. */
type MsiChoice = 'none' | 'ok' | 'base' | 'outside';

/**
 * A VMM saving or restoring GIC registers, as it does around a snapshot: read some, and maybe write
 * back what it read (or another value), on the owner thread of a vCPU for the per-vCPU families (now
 * and then from another thread); then an SPI, and maybe an MSI through the frame. In a VM without a
 * GIC the same calls meet the no-GIC rows.
 */
function gicRegisters(): fc.Arbitrary<HvCommand> {
  const family = fc.constantFrom<RegFamily>('distributor', 'redistributor', 'icc', 'ich', 'icv', 'msi');
  const fromOwner = fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  );
  const access = fc
    .tuple(family, fc.nat(7), fc.boolean(), u64Arb, fromOwner)
    .chain(([f, i, write, value, owner]) =>
      registerArb(f).map((reg) => ({ f, i, write, value, owner, reg })),
    );
  const msiChoice = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom<MsiChoice>('none', 'ok') },
    { weight: 1, arbitrary: fc.constantFrom<MsiChoice>('base', 'outside') },
  );
  return fc
    .tuple(
      fc.array(access, { minLength: 1, maxLength: 4 }),
      msiChoice,
      fc.nat(THREADS - 1),
      intidArb(),
      fc.boolean(),
    )
    .map(
      ([accesses, msi, t, spi, level]) =>
        new SequenceCommand('hv_gic_get_distributor_reg', async (m, run) => {
          const s = m.state;
          if (!s.vm) return;
          if (s.vm.gic && s.vcpus.size === 0) await run(call('hv_vcpu_create', t, { config: null }));
          for (const { f, i, write, value, owner, reg } of accesses) {
            const calls = REG_CALLS[f];
            const live = [...s.vcpus.values()];
            const v = live[i % Math.max(live.length, 1)];
            if (calls.perVcpu && !v) continue;
            // The owner rule (§2.7 [H]): per-vCPU registers from the vCPU's thread, or another.
            const target =
              calls.perVcpu && v
                ? {
                    t: owner ? v.owner : (v.owner + 1 + (i % (THREADS - 1))) % THREADS,
                    args: { vcpu: forgeVcpu(v.handle) },
                  }
                : { t, args: {} };
            const got = await run(call(calls.get, target.t, { ...target.args, reg }));
            if (write)
              await run(
                call(calls.set, target.t, {
                  ...target.args,
                  reg,
                  value: typeof got === 'bigint' ? got : value,
                }),
              );
          }
          await run(call('hv_gic_set_spi', t, { intid: spi(s), level }));
          const frame = s.vm?.gic?.msi;
          if (msi === 'none') return;
          const nsr = BigInt(HV_GIC_MSI_REG.HV_GIC_REG_GICM_SET_SPI_NSR);
          // A GIC without an MSI frame: where VMMs put one (the no-MSI row).
          if (!frame) {
            await run(call('hv_gic_send_msi', t, { address: HOME.msi + nsr, intid: 0 }));
            return;
          }
          const k = accesses.length;
          await run(
            call('hv_gic_send_msi', t, {
              address: msi === 'base' ? frame.base : frame.base + nsr,
              intid:
                msi === 'outside' ? frame.intidBase + frame.count + k : frame.intidBase + (k % frame.count),
            }),
          );
        }),
    );
}

/** INTIDs around the SPI and MSI ranges. */
function intidArb(): fc.Arbitrary<(s: SpecState) => number> {
  return fc
    .tuple(fc.constantFrom('spi-low', 'spi-mid', 'spi-high', 'below', 'above', 'msi'), fc.nat(3))
    .map(([where, k]) => (s: SpecState) => {
      const g = s.env.gic;
      if (!g) return k;
      const msi = s.vm?.gic?.msi;
      switch (where) {
        case 'spi-low':
          return g.spiBase + k;
        case 'spi-mid':
          return g.spiBase + Math.floor(g.spiCount / 2) + k;
        case 'spi-high':
          return g.spiBase + g.spiCount - 1 - k;
        case 'below':
          return Math.max(0, g.spiBase - 1 - k);
        case 'above':
          return g.spiBase + g.spiCount + k;
        default:
          return msi ? msi.intidBase + (k % Math.max(msi.count, 1)) : g.spiBase + k;
      }
    });
}

function setSpi(): fc.Arbitrary<HvCommand> {
  return fc.tuple(intidArb(), fc.boolean(), threadArb).map(
    ([intid, level, t]) =>
      new SequenceCommand('hv_gic_set_spi', async (m, run) => {
        await run(call('hv_gic_set_spi', t, { intid: intid(m.state), level }));
      }),
  );
}

function sendMsi(): fc.Arbitrary<HvCommand> {
  return fc
    .tuple(
      intidArb(),
      fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      threadArb,
    )
    .map(
      ([intid, frame, t]) =>
        new SequenceCommand('hv_gic_send_msi', async (m, run) => {
          const base = m.state.vm?.gic?.msi?.base ?? 0x0900_0000n;
          const address = frame ? base + BigInt(HV_GIC_MSI_REG.HV_GIC_REG_GICM_SET_SPI_NSR) : base + 4n;
          await run(call('hv_gic_send_msi', t, { address, intid: intid(m.state) }));
        }),
    );
}

/** The shaped commands of the arm64 calls of this module, by call name, with their weights. */
export function arm64Shaped(page: number): Map<string, Weighted> {
  const w = (weight: number, arbitrary: fc.Arbitrary<HvCommand>): Weighted => ({ weight, arbitrary });
  return new Map([
    ['hv_vm_allocate', w(2, allocate(page))],
    ['hv_vm_deallocate', w(2, deallocate(page))],
    [
      'hv_vcpu_config_create',
      w(
        2,
        creator('hv_vcpu_config_create', (s) => s.vcpuConfigs.size),
      ),
    ],
    [
      'hv_gic_config_create',
      w(
        1,
        creator('hv_gic_config_create', (s) => s.gicConfigs.size),
      ),
    ],
    ['hv_vcpu_create', w(6, vcpuCreate())],
    ['hv_gic_set_spi', w(2, setSpi())],
    ['hv_gic_send_msi', w(2, sendMsi())],
  ]);
}

/** The GIC sequences (only where the backend has hv_gic), weighted. */
export function gicSequences(): Weighted[] {
  return [
    { weight: 4, arbitrary: gicCreate() },
    { weight: 2, arbitrary: gicVcpu() },
    { weight: 2, arbitrary: gicState() },
    { weight: 1, arbitrary: gicRun() },
    { weight: 4, arbitrary: gicRegisters() },
  ];
}
