/**
 * The conformance commands: one per `hv_*` call (plus host memory allocation), each resolving its
 * choices against the spec's state when it runs and printing itself as the call it made.
 * @module
 */
import fc from 'fast-check';
import type { Arch, HostMemory, ThreadId, Uva, VmConfig } from '../backend.js';
import { forgeSpace } from '../backend.js';
import type { SpecCall } from '../calls/types.js';
import { HV_INTERRUPT_TYPE, HV_REG, HV_REG_COUNT, HV_SYS_REG } from '../vocabulary/arm64.js';
import { HV_VM_OPTIONS, HV_VMX_CAP, VMCS } from '../vocabulary/x86.js';
import {
  addrArb,
  flagsArb,
  resolveVcpu,
  sizeArb,
  THREADS,
  threadArb,
  u64Arb,
  type VcpuChoice,
  vcpuChoice,
} from './choices.js';
import type { Model, Real } from './context.js';
import { describeCall } from './describe.js';
import { execute } from './execute.js';

/** A command arbitrary with its selection weight. */
export interface Weighted {
  readonly weight: number;
  readonly arbitrary: fc.Arbitrary<HvCommand>;
}

function weighted(weight: number, arbitrary: fc.Arbitrary<HvCommand>): Weighted {
  return { weight, arbitrary };
}

/** A command of the conformance run. */
export interface HvCommand extends fc.AsyncCommand<Model, Real, false> {
  /** The name of the call (or host step) this command makes. */
  readonly label: string;
}

/** A command that makes one `hv_*` call, resolved from choices at run time. */
export class CallCommand implements HvCommand {
  private made: SpecCall | undefined;
  constructor(
    readonly label: string,
    private readonly resolve: (m: Model) => SpecCall | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    this.made = this.resolve(m);
    if (this.made) await execute(m, r, this.made);
  }
  toString(): string {
    return this.made ? describeCall(this.made) : `${this.label}(—)`;
  }
}

/** Allocates a host buffer (not an `hv_*` call; what `host_alloc` is in traces). */
export class HostAllocCommand implements HvCommand {
  readonly label = 'host_alloc';
  private mem: HostMemory | undefined;
  constructor(private readonly pages: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (m.mems.size >= 4) return;
    this.mem = r.backend.host_alloc(this.pages * r.backend.capabilities.pageSize);
    m.mems.set(this.mem.id, this.mem);
    m.state.buffers.set(this.mem.id, this.mem.size);
    r.log.push({ kind: 'host_alloc', mem: this.mem });
  }
  toString(): string {
    return this.mem
      ? `host_alloc(size=0x${this.mem.size.toString(16)}) -> mem${this.mem.id}`
      : 'host_alloc(—)';
  }
}

const call = (name: string, t: ThreadId, args: Record<string, unknown>): SpecCall => ({ name, t, args });

/** Picks a host buffer and an offset into it (page multiples, sometimes not). */
function uvaChoice(unit: number): fc.Arbitrary<{ index: number; offset: number }> {
  return fc.record({
    index: fc.nat(3),
    offset: fc.oneof(
      { weight: 8, arbitrary: fc.constant(0) },
      { weight: 3, arbitrary: fc.nat(3).map((n) => n * unit) },
      { weight: 1, arbitrary: fc.constant(unit / 2) },
    ),
  });
}

function resolveUva(m: Model, c: { index: number; offset: number }): Uva | undefined {
  const mems = [...m.mems.values()].filter((mem) => !m.codeMems.has(mem.id));
  const mem = mems[c.index % Math.max(mems.length, 1)];
  return mem ? { mem, offset: c.offset } : undefined;
}

/** A range: random, or a sub-range starting inside an existing mapping (so unmap/protect hit mapped memory). */
type RangeChoice =
  | { readonly inside: false; readonly addr: bigint; readonly size: bigint }
  | {
      readonly inside: true;
      readonly index: number;
      readonly skip: number;
      readonly pages: number;
      readonly granule: number;
    };

function rangeChoice(
  addr: fc.Arbitrary<bigint>,
  size: fc.Arbitrary<bigint>,
  granule: number,
): fc.Arbitrary<RangeChoice> {
  return fc.oneof(
    fc.record({ inside: fc.constant(false as const), addr, size }),
    fc.record({
      inside: fc.constant(true as const),
      index: fc.nat(7),
      skip: fc.nat(2),
      pages: fc.integer({ min: 1, max: 3 }),
      granule: fc.constant(granule),
    }),
  );
}

function resolveRange(m: Model, c: RangeChoice, space: number): { addr: bigint; size: bigint } {
  if (!c.inside) return c;
  const maps = m.state.vm?.spaces.get(space) ?? [];
  const g = BigInt(m.state.vm?.granule ?? c.granule);
  const target = maps[c.index % Math.max(maps.length, 1)];
  if (!target) return { addr: BigInt(c.skip) * g, size: BigInt(c.pages) * g };
  // Stay inside the 64-bit address space: a range starting past 2^64 is not a value a C caller can pass.
  return { addr: (target.addr + BigInt(c.skip) * g) & 0xffff_ffff_ffff_ffffn, size: BigInt(c.pages) * g };
}

/** A vCPU-targeted command: resolves the vCPU and thread, then builds the call. */
function perVcpu<A>(
  name: string,
  extra: fc.Arbitrary<A>,
  build: (a: A, m: Model) => Record<string, unknown> | undefined,
): fc.Arbitrary<HvCommand> {
  return fc.tuple(vcpuChoice, extra).map(
    ([vc, a]: [VcpuChoice, A]) =>
      new CallCommand(name, (m) => {
        const target = resolveVcpu(m.state, vc);
        const rest = build(a, m);
        return target && rest ? call(name, target.t, { vcpu: target.vcpu, ...rest }) : undefined;
      }),
  );
}

/** The list of a vCPU kick: mostly live handles, sometimes a stale or bogus one. */
function kickList(name: string): fc.Arbitrary<HvCommand> {
  return fc
    .tuple(
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: vcpuChoice },
          { weight: 1, arbitrary: vcpuChoice.map((c) => ({ ...c, kind: 'stale' as const })) },
        ),
        { minLength: 0, maxLength: 3 },
      ),
      threadArb,
    )
    .map(
      ([choices, t]) =>
        new CallCommand(name, (m) => {
          const vcpus = choices.map((c) => resolveVcpu(m.state, c)?.vcpu).filter((v) => v !== undefined);
          return call(name, t, { vcpus, vcpu_count: vcpus.length });
        }),
    );
}

/** A run that the spec can predict without a guest program: a kick is pending, or the call is misuse. */
function runWithoutGuest(name: string, extra: Record<string, unknown> = {}): fc.Arbitrary<HvCommand> {
  return vcpuChoice.map(
    (vc) =>
      new CallCommand(name, (m) => {
        const target = resolveVcpu(m.state, vc);
        if (!target) return undefined;
        const v = m.state.vcpus.get(target.vcpu);
        if (v && v.owner === target.t && !v.cancel) return undefined;
        return call(name, target.t, { vcpu: target.vcpu, ...extra });
      }),
  );
}

function memoryCommands(
  arch: Arch,
  unit: number,
  granule: number,
  high: readonly bigint[],
): (fc.Arbitrary<HvCommand> | Weighted)[] {
  const a = arch === 'x86_64' ? 'gpa' : 'ipa';
  const addr = addrArb(unit, granule, high);
  const size = sizeArb(unit, granule);
  return [
    weighted(
      3,
      fc.integer({ min: 1, max: 8 }).map((pages) => new HostAllocCommand(pages)),
    ),
    weighted(
      8,
      fc.tuple(uvaChoice(unit), addr, size, flagsArb, threadArb).map(
        ([u, gpa, sz, flags, t]) =>
          new CallCommand('hv_vm_map', (m) => {
            const uva = resolveUva(m, u);
            return uva ? call('hv_vm_map', t, { uva, [a]: gpa, size: sz, flags }) : undefined;
          }),
      ),
    ),
    weighted(
      3,
      fc.tuple(rangeChoice(addr, size, granule), threadArb).map(
        ([rc, t]) =>
          new CallCommand('hv_vm_unmap', (m) => {
            const r = resolveRange(m, rc, 0);
            return call('hv_vm_unmap', t, { [a]: r.addr, size: r.size });
          }),
      ),
    ),
    weighted(
      3,
      fc.tuple(rangeChoice(addr, size, granule), flagsArb, threadArb).map(
        ([rc, flags, t]) =>
          new CallCommand('hv_vm_protect', (m) => {
            const r = resolveRange(m, rc, 0);
            return call('hv_vm_protect', t, { [a]: r.addr, size: r.size, flags });
          }),
      ),
    ),
  ];
}

const VMCS_FIELDS = Object.values(VMCS).filter((f) => f !== VMCS.VMCS_MAX);
/** Fields with rows of their own: framework-owned, controls checked against capabilities, exit information. */
const VMCS_INTERESTING = [
  VMCS.VMCS_CTRL_EPTP,
  VMCS.VMCS_CTRL_PIN_BASED,
  VMCS.VMCS_CTRL_CPU_BASED,
  VMCS.VMCS_CTRL_CPU_BASED2,
  VMCS.VMCS_CTRL_VMENTRY_CONTROLS,
  VMCS.VMCS_CTRL_VMEXIT_CONTROLS,
  VMCS.VMCS_RO_EXIT_REASON,
  VMCS.VMCS_GUEST_RIP,
  VMCS.VMCS_HOST_RIP,
];
const vmcsFieldArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VMCS_FIELDS) },
  { weight: 3, arbitrary: fc.constantFrom(...VMCS_INTERESTING) },
  { weight: 1, arbitrary: fc.nat(0x7fff) },
);

function x86Commands(): (fc.Arbitrary<HvCommand> | Weighted)[] {
  const unit = 4096;
  const spaceChoice = fc.oneof(
    { weight: 6, arbitrary: fc.nat(3).map((i) => ({ known: true, i })) },
    { weight: 1, arbitrary: fc.nat(3).map((i) => ({ known: false, i: 50 + i })) },
  );
  const resolveSpace = (m: Model, c: { known: boolean; i: number }): number => {
    if (!c.known) return c.i;
    const spaces = [...(m.state.vm?.spaces.keys() ?? [0])];
    return spaces[c.i % spaces.length] ?? 0;
  };
  const addr = addrArb(unit, unit, [0xffff_ffff_ffff_f000n, 1n << 52n]);
  const size = sizeArb(unit, unit);
  return [
    ...memoryCommands('x86_64', unit, unit, [0xffff_ffff_ffff_f000n, 1n << 52n]),
    fc
      .tuple(fc.constantFrom(0, 1, 2), threadArb)
      .map(
        ([capability, t]) => new CallCommand('hv_capability', () => call('hv_capability', t, { capability })),
      ),
    weighted(
      5,
      fc
        .tuple(
          fc.oneof(
            { weight: 8, arbitrary: fc.constant(0n) },
            { weight: 1, arbitrary: fc.constant(BigInt(HV_VM_OPTIONS.HV_VM_SPECIFY_MITIGATIONS | 0x5e)) },
            { weight: 1, arbitrary: fc.constant(1n << 20n) },
          ),
          threadArb,
        )
        .map(([flags, t]) => new CallCommand('hv_vm_create', () => call('hv_vm_create', t, { flags }))),
    ),
    threadArb.map((t) => new CallCommand('hv_vm_destroy', () => call('hv_vm_destroy', t, {}))),
    threadArb.map((t) => new CallCommand('hv_vm_space_create', () => call('hv_vm_space_create', t, {}))),
    fc
      .tuple(spaceChoice, threadArb)
      .map(
        ([sc, t]) =>
          new CallCommand('hv_vm_space_destroy', (m) =>
            call('hv_vm_space_destroy', t, { asid: forgeSpace(resolveSpace(m, sc)) }),
          ),
      ),
    fc.tuple(spaceChoice, uvaChoice(unit), addr, size, flagsArb, threadArb).map(
      ([sc, u, gpa, sz, flags, t]) =>
        new CallCommand('hv_vm_map_space', (m) => {
          const uva = resolveUva(m, u);
          return uva
            ? call('hv_vm_map_space', t, { asid: forgeSpace(resolveSpace(m, sc)), uva, gpa, size: sz, flags })
            : undefined;
        }),
    ),
    fc
      .tuple(spaceChoice, addr, size, threadArb)
      .map(
        ([sc, gpa, sz, t]) =>
          new CallCommand('hv_vm_unmap_space', (m) =>
            call('hv_vm_unmap_space', t, { asid: forgeSpace(resolveSpace(m, sc)), gpa, size: sz }),
          ),
      ),
    fc
      .tuple(spaceChoice, addr, size, flagsArb, threadArb)
      .map(
        ([sc, gpa, sz, flags, t]) =>
          new CallCommand('hv_vm_protect_space', (m) =>
            call('hv_vm_protect_space', t, { asid: forgeSpace(resolveSpace(m, sc)), gpa, size: sz, flags }),
          ),
      ),
    weighted(
      6,
      fc
        .tuple(
          fc.oneof(
            { weight: 8, arbitrary: fc.constant(0n) },
            { weight: 1, arbitrary: fc.constantFrom(1n, 2n, 1n << 9n) },
          ),
          fc.nat(THREADS - 1),
        )
        .map(([flags, t]) => new CallCommand('hv_vcpu_create', () => call('hv_vcpu_create', t, { flags }))),
    ),
    perVcpu('hv_vcpu_destroy', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_set_space', spaceChoice, (sc, m) => ({ asid: forgeSpace(resolveSpace(m, sc)) })),
    perVcpu('hv_vcpu_read_register', fc.integer({ min: 0, max: 53 }), (reg) => ({ reg })),
    perVcpu('hv_vcpu_write_register', fc.tuple(fc.integer({ min: 0, max: 53 }), u64Arb), ([reg, value]) => ({
      reg,
      value,
    })),
    fc
      .tuple(
        fc.oneof(fc.constantFrom(...Object.values(HV_VMX_CAP)), fc.integer({ min: 0, max: 40 })),
        threadArb,
      )
      .map(
        ([field, t]) =>
          new CallCommand('hv_vmx_read_capability', () => call('hv_vmx_read_capability', t, { field })),
      ),
    perVcpu('hv_vmx_vcpu_read_vmcs', vmcsFieldArb, (field) => ({ field })),
    perVcpu('hv_vmx_vcpu_write_vmcs', fc.tuple(vmcsFieldArb, u64Arb), ([field, value]) => ({ field, value })),
    kickList('hv_vcpu_interrupt'),
    runWithoutGuest('hv_vcpu_run'),
    runWithoutGuest('hv_vcpu_run_until', { deadline: (1n << 64n) - 1n }),
  ];
}

const SYS_REGS = Object.values(HV_SYS_REG);
const simdRegArb = fc.oneof(
  { weight: 4, arbitrary: fc.nat(31) },
  { weight: 1, arbitrary: fc.integer({ min: 32, max: 40 }) },
);

function arm64Commands(): (fc.Arbitrary<HvCommand> | Weighted)[] {
  const configChoice = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: 'null' as const, i: 0 }) },
    { weight: 4, arbitrary: fc.nat(3).map((i) => ({ kind: 'known' as const, i })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'bogus' as const, i: 999 }) },
  );
  const resolveConfig = (
    m: Model,
    c: { kind: 'null' | 'known' | 'bogus'; i: number },
  ): VmConfig | null | undefined => {
    if (c.kind === 'null') return null;
    if (c.kind === 'bogus') return c.i as VmConfig;
    const known = [...m.state.configs.keys()];
    const k = known[c.i % Math.max(known.length, 1)];
    return k === undefined ? undefined : (k as VmConfig);
  };
  const configCall = <A>(name: string, extra: fc.Arbitrary<A>, build: (a: A) => Record<string, unknown>) =>
    fc
      .tuple(
        configChoice.filter((c) => c.kind !== 'null'),
        extra,
        threadArb,
      )
      .map(
        ([cc, a, t]) =>
          new CallCommand(name, (m) => {
            const config = resolveConfig(m, cc);
            return config === undefined || config === null
              ? undefined
              : call(name, t, { config, ...build(a) });
          }),
      );
  const unit = 4096;
  const granule = 16384;
  const boolArb = fc.boolean();
  return [
    ...memoryCommands('arm64', unit, granule, [(1n << 36n) - BigInt(granule), 1n << 36n, 1n << 40n]),
    threadArb.map(
      (t) => new CallCommand('hv_vm_get_max_vcpu_count', () => call('hv_vm_get_max_vcpu_count', t, {})),
    ),
    threadArb.map(
      (t) =>
        new CallCommand('hv_vm_config_get_max_ipa_size', () => call('hv_vm_config_get_max_ipa_size', t, {})),
    ),
    threadArb.map(
      (t) =>
        new CallCommand('hv_vm_config_get_default_ipa_size', () =>
          call('hv_vm_config_get_default_ipa_size', t, {}),
        ),
    ),
    threadArb.map(
      (t) =>
        new CallCommand('hv_vm_config_create', (m) =>
          m.state.configs.size < 4 ? call('hv_vm_config_create', t, {}) : undefined,
        ),
    ),
    configCall(
      'hv_vm_config_set_ipa_size',
      fc.constantFrom(0, 0, 32, 36, 40, 41, 52, 0xffff_ffff),
      (ipa_bit_length) => ({
        ipa_bit_length,
      }),
    ),
    configCall('hv_vm_config_get_ipa_size', fc.constant(null), () => ({})),
    configCall('hv_vm_config_set_ipa_granule', fc.constantFrom(0, 1, 1, 2), (granule) => ({ granule })),
    configCall('hv_vm_config_get_ipa_granule', fc.constant(null), () => ({})),
    weighted(
      5,
      fc.tuple(configChoice, threadArb).map(
        ([cc, t]) =>
          new CallCommand('hv_vm_create', (m) => {
            const config = resolveConfig(m, cc);
            return config === undefined ? undefined : call('hv_vm_create', t, { config });
          }),
      ),
    ),
    threadArb.map((t) => new CallCommand('hv_vm_destroy', () => call('hv_vm_destroy', t, {}))),
    weighted(
      6,
      fc
        .nat(THREADS - 1)
        .map((t) => new CallCommand('hv_vcpu_create', () => call('hv_vcpu_create', t, { config: null }))),
    ),
    perVcpu('hv_vcpu_destroy', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_get_reg', fc.integer({ min: 0, max: HV_REG_COUNT + 1 }), (reg) => ({ reg })),
    perVcpu(
      'hv_vcpu_set_reg',
      fc.tuple(
        fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 0, max: HV_REG.HV_REG_PC }) },
          { weight: 2, arbitrary: fc.integer({ min: HV_REG.HV_REG_FPCR, max: HV_REG_COUNT + 1 }) },
        ),
        u64Arb,
      ),
      ([reg, value]) => ({ reg, value }),
    ),
    perVcpu('hv_vcpu_get_simd_fp_reg', simdRegArb, (reg) => ({ reg })),
    perVcpu(
      'hv_vcpu_set_simd_fp_reg',
      fc.tuple(simdRegArb, fc.bigInt({ min: 0n, max: (1n << 128n) - 1n })),
      ([reg, value]) => ({ reg, value }),
    ),
    perVcpu(
      'hv_vcpu_get_sys_reg',
      fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...SYS_REGS) }, fc.nat(0xffff)),
      (reg) => ({
        reg,
      }),
    ),
    perVcpu(
      'hv_vcpu_set_sys_reg',
      fc.tuple(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...SYS_REGS) }, fc.nat(0xffff)), u64Arb),
      ([reg, value]) => ({ reg, value }),
    ),
    perVcpu(
      'hv_vcpu_get_pending_interrupt',
      fc.constantFrom(HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_IRQ, 1, 1, 2),
      (type) => ({
        type,
      }),
    ),
    perVcpu(
      'hv_vcpu_set_pending_interrupt',
      fc.tuple(fc.constantFrom(0, 1, 1, 2), boolArb),
      ([type, pending]) => ({
        type,
        pending,
      }),
    ),
    perVcpu('hv_vcpu_get_vtimer_mask', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_set_vtimer_mask', boolArb, (vtimer_is_masked) => ({ vtimer_is_masked })),
    perVcpu('hv_vcpu_get_vtimer_offset', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_set_vtimer_offset', u64Arb, (vtimer_offset) => ({ vtimer_offset })),
    perVcpu('hv_vcpu_get_trap_debug_exceptions', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_set_trap_debug_exceptions', boolArb, (value) => ({ value })),
    perVcpu('hv_vcpu_get_trap_debug_reg_accesses', fc.constant(null), () => ({})),
    perVcpu('hv_vcpu_set_trap_debug_reg_accesses', boolArb, (value) => ({ value })),
    kickList('hv_vcpus_exit'),
    runWithoutGuest('hv_vcpu_run'),
  ];
}

/**
 * Every command of an architecture, weighted: the calls that build state (a VM, vCPUs, buffers,
 * mappings) are picked more often, so that the calls that need that state get to run.
 */
export function lifecycleCommands(arch: Arch): Weighted[] {
  const all = arch === 'x86_64' ? x86Commands() : arm64Commands();
  return all.map((a) => ('weight' in a ? a : { weight: 2, arbitrary: a }));
}
