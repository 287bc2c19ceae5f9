/**
 * The conformance commands: one per `hv_*` call (plus host memory allocation), each resolving its
 * choices against the spec's state when it runs and printing itself as the call it made.
 * @module
 */
import fc from 'fast-check';
import type { AddressSpace, Arch, HostMemory, ThreadId, Uva, VmConfig } from '../backend.js';
import { forgeSpace } from '../backend.js';
import type { ObjectKind, Vocab } from '../calls/params.js';
import { callSpecs, inParams } from '../calls/registry.js';
import type { CallSpec, InParam, SpecCall } from '../calls/types.js';
import type { SpecEnv } from '../state.js';
import { HV_REG, HV_REG_COUNT } from '../vocabulary/arm64.js';
import {
  CPU_BASED2,
  canonicalizeControl,
  HV_FPSTATE_SIZE_TESTED,
  HV_SHADOW_VMCS,
  HV_VM_OPTIONS,
  HV_VMX_CAP,
  SHADOW_FIELDS_TESTED,
  VMCS,
} from '../vocabulary/x86.js';
import { arm64Shaped, gicChoices, gicSequences, SequenceCommand, setUpGic } from './arm64-commands.js';
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

/**
 * One argument, chosen before the run and resolved against the spec's state when the command runs.
 * `undefined` from `resolve` skips the command (for example a map with no buffer yet).
 */
interface ArgGen<C = unknown> {
  readonly arb: fc.Arbitrary<C>;
  readonly resolve: (c: C, m: Model) => unknown;
}

const gen = <C>(arb: fc.Arbitrary<C>, resolve: (c: C, m: Model) => unknown = (c) => c): ArgGen =>
  ({ arb, resolve }) as ArgGen;

/** Values of an enum-valued parameter: mostly its names, sometimes just past them, sometimes anything. */
function vocabArb(v: Vocab, bits: 32 | 64): fc.Arbitrary<number | bigint> {
  const values = [...v.names.values()];
  let max = 0n;
  for (const x of values) if (x > max) max = x;
  const near = fc.bigInt({ min: 0n, max: max + 8n > (1n << BigInt(bits)) - 1n ? max : max + 8n });
  const any = bits === 32 ? fc.bigInt({ min: 0n, max: 0xffff_ffffn }) : u64Arb;
  const big = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...values) },
    { weight: 2, arbitrary: near },
    { weight: 1, arbitrary: any },
  );
  return bits === 32 ? big.map(Number) : big;
}

const spaceChoice = fc.oneof(
  { weight: 6, arbitrary: fc.nat(3).map((i) => ({ known: true, i })) },
  { weight: 1, arbitrary: fc.nat(3).map((i) => ({ known: false, i: 50 + i })) },
);
const resolveSpace = (m: Model, c: { known: boolean; i: number }): AddressSpace => {
  if (!c.known) return forgeSpace(c.i);
  const spaces = [...(m.state.vm?.spaces.keys() ?? [0])];
  return forgeSpace(spaces[c.i % spaces.length] ?? 0);
};

type ConfigChoice = { kind: 'null' | 'known' | 'bogus'; i: number };
const configChoice = fc.oneof(
  { weight: 6, arbitrary: fc.constant<ConfigChoice>({ kind: 'null', i: 0 }) },
  { weight: 4, arbitrary: fc.nat(3).map((i): ConfigChoice => ({ kind: 'known', i })) },
  { weight: 1, arbitrary: fc.constant<ConfigChoice>({ kind: 'bogus', i: 999 }) },
);

/** The handles of one kind of arm64 object the spec knows. */
function objectHandles(m: Model, kind: ObjectKind): number[] {
  const s = m.state;
  switch (kind) {
    case 'config':
      return [...s.configs.keys()];
    case 'vcpu_config':
      return [...s.vcpuConfigs];
    case 'gic_config':
      return [...s.gicConfigs.keys()];
    case 'gic_state':
      return [...s.gicStates.keys()];
  }
}

const resolveObject = (m: Model, c: ConfigChoice, kind: ObjectKind): number | null | undefined => {
  if (c.kind === 'null') return null;
  if (c.kind === 'bogus') return c.i;
  const known = objectHandles(m, kind);
  return known[c.i % Math.max(known.length, 1)];
};
const resolveConfig = (m: Model, c: ConfigChoice): VmConfig | null | undefined =>
  resolveObject(m, c, 'config') as VmConfig | null | undefined;

/** The generator of one `in` parameter, from its type in the registry. */
function paramGen(p: InParam, unit: number): ArgGen | undefined {
  const t = p.type;
  switch (t.kind) {
    case 'u32':
      return t.trace.t === 'int' && t.trace.vocab
        ? gen(vocabArb(t.trace.vocab, 32))
        : gen(fc.oneof(fc.constantFrom(0, 1, 32, 36, 40, 0xffff_ffff), fc.nat()));
    case 'u64':
      return t.trace.t === 'int' && t.trace.vocab ? gen(vocabArb(t.trace.vocab, 64)) : gen(u64Arb);
    case 'u128':
      return gen(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }));
    case 'bool':
      return gen(fc.boolean());
    case 'flags':
      return gen(flagsArb);
    case 'options': {
      const names = t.trace.t === 'options' ? [...t.trace.vocab.names.values()] : [0n];
      return gen(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant(0n) },
          { weight: 2, arbitrary: fc.constantFrom(...names) },
          { weight: 1, arbitrary: fc.constant(1n << 20n) },
        ),
      );
    }
    case 'asid':
      return gen(spaceChoice, (c, m) => resolveSpace(m, c));
    case 'config': {
      const kind = t.object ?? 'config';
      if (t.nullable === 'only') return gen(fc.constant(null));
      return t.nullable
        ? gen(configChoice, (c, m) => resolveObject(m, c, kind))
        : gen(
            configChoice.filter((c) => c.kind !== 'null'),
            (c, m) => resolveObject(m, c, kind),
          );
    }
    case 'bytes':
      return gen(fc.uint8Array({ maxLength: 64 }));
    case 'length':
      // The size of the bytes before it: filled in by genericCommand.
      return gen(fc.constant(null));
    case 'uva':
      return gen(uvaChoice(unit), (c, m) => resolveUva(m, c));
    case 'vcpu':
    case 'vcpus':
    case 'count':
      return undefined; // the call's target (see genericCommand)
  }
}

/**
 * The command of a registry entry, derived from its parameters: a per-vCPU call picks its vCPU and
 * thread together (mostly the owner, sometimes another thread, a stale or a bogus handle); a kick
 * picks a list of vCPUs; every other parameter gets the generator of its type.
 */
function genericCommand(spec: CallSpec, unit: number): fc.Arbitrary<HvCommand> {
  const params = inParams(spec);
  if (params.some((p) => p.type.kind === 'vcpus')) return kickList(spec.name);
  const gens = params.filter((p) => p.type.kind !== 'vcpu').map((p) => [p.name, paramGen(p, unit)] as const);
  const onVcpu = params.some((p) => p.type.kind === 'vcpu');
  const target: fc.Arbitrary<VcpuChoice | ThreadId> = onVcpu
    ? vcpuChoice
    : spec.thread === 'any'
      ? fc.nat(THREADS - 1)
      : threadArb;
  return fc.tuple(target, fc.tuple(...gens.map(([, g]) => (g as ArgGen).arb))).map(
    ([tc, choices]) =>
      new CallCommand(spec.name, (m) => {
        const args: Record<string, unknown> = {};
        let t: ThreadId;
        if (onVcpu) {
          const v = resolveVcpu(m.state, tc as VcpuChoice);
          if (!v) return undefined;
          t = v.t;
          args.vcpu = v.vcpu;
        } else t = tc as ThreadId;
        let last: unknown;
        for (const [i, [name, g]] of gens.entries()) {
          let value = (g as ArgGen).resolve(choices[i], m);
          if (value === undefined) return undefined;
          if (value === null && params.find((p) => p.name === name)?.type.kind === 'length')
            value = BigInt(last instanceof Uint8Array ? last.length : 0);
          args[name] = value;
          last = value;
        }
        return call(spec.name, t, args);
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
          { weight: 2, arbitrary: vcpuChoice.map((c) => ({ ...c, kind: 'stale' as const })) },
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

/**
 * A run that the spec can predict without a guest program: a kick is pending, or the call is misuse.
 * (Runs of guest programs are the guest-program commands, harness/guest.ts.)
 */
function runWithoutGuest(spec: CallSpec): fc.Arbitrary<HvCommand> {
  const deadline = inParams(spec).some((p) => p.name === 'deadline');
  return vcpuChoice.map(
    (vc) =>
      new CallCommand(spec.name, (m) => {
        const target = resolveVcpu(m.state, vc);
        if (!target) return undefined;
        const v = m.state.vcpus.get(target.vcpu);
        if (v && v.owner === target.t && !v.cancel) return undefined;
        return call(spec.name, target.t, {
          vcpu: target.vcpu,
          ...(deadline ? { deadline: (1n << 64n) - 1n } : {}),
        });
      }),
  );
}

/** Per-flavour shape of the memory calls: where mappings go, so that they meet and overlap. */
interface MemoryShape {
  readonly unit: number;
  readonly granule: number;
  readonly high: readonly bigint[];
}

const SHAPE: Record<Arch, MemoryShape> = {
  x86_64: { unit: 4096, granule: 4096, high: [0xffff_ffff_ffff_f000n, 1n << 52n] },
  arm64: { unit: 4096, granule: 16384, high: [(1n << 36n) - 16384n, 1n << 36n, 1n << 40n] },
};

/**
 * Commands whose arguments need more shape than their types give: memory ranges that meet existing
 * mappings, VMCS fields with rows of their own, runs, and how often the calls that build state run.
 */
function shapedCommands(arch: Arch): Map<string, Weighted> {
  const { unit, granule, high } = SHAPE[arch];
  const a = arch === 'x86_64' ? 'gpa' : 'ipa';
  const addr = addrArb(unit, granule, high);
  const size = sizeArb(unit, granule);
  const spaced = (name: string) => (arch === 'x86_64' ? `${name}_space` : name);
  const out = new Map<string, Weighted>();
  const set = (name: string, weight: number, arbitrary: fc.Arbitrary<HvCommand>) =>
    out.set(name, weighted(weight, arbitrary));
  const withSpace = (sc: { known: boolean; i: number } | undefined, m: Model) =>
    sc === undefined ? {} : { asid: resolveSpace(m, sc) };
  for (const space of arch === 'x86_64' ? [false, true] : [false]) {
    const sc = space ? spaceChoice : fc.constant(undefined);
    set(
      space ? spaced('hv_vm_map') : 'hv_vm_map',
      space ? 2 : 8,
      fc.tuple(sc, uvaChoice(unit), addr, size, flagsArb, threadArb).map(
        ([s, u, gpa, sz, flags, t]) =>
          new CallCommand(space ? spaced('hv_vm_map') : 'hv_vm_map', (m) => {
            const uva = resolveUva(m, u);
            return uva
              ? call(space ? spaced('hv_vm_map') : 'hv_vm_map', t, {
                  ...withSpace(s, m),
                  uva,
                  [a]: gpa,
                  size: sz,
                  flags,
                })
              : undefined;
          }),
      ),
    );
    // Unmap and protect: a range that meets existing mappings (protect with flags of its own).
    for (const [base, flagsChoice] of [
      ['hv_vm_unmap', fc.constant(undefined)],
      ['hv_vm_protect', flagsArb],
    ] as const) {
      const name = space ? spaced(base) : base;
      set(
        name,
        space ? 2 : 3,
        fc.tuple(sc, rangeChoice(addr, size, granule), flagsChoice, threadArb).map(
          ([s, rc, flags, t]) =>
            new CallCommand(name, (m) => {
              const w = withSpace(s, m);
              const r = resolveRange(m, rc, Number(w.asid ?? 0));
              return call(name, t, {
                ...w,
                [a]: r.addr,
                size: r.size,
                ...(flags === undefined ? {} : { flags }),
              });
            }),
        ),
      );
    }
  }
  if (arch === 'x86_64') {
    set(
      'hv_vm_create',
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
    );
    set(
      'hv_vcpu_create',
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
    );
    const vmcsFieldArb = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...VMCS_FIELDS) },
      { weight: 3, arbitrary: fc.constantFrom(...VMCS_INTERESTING) },
      { weight: 1, arbitrary: fc.nat(0x7fff) },
    );
    set(
      'hv_vmx_vcpu_read_vmcs',
      2,
      perVcpu('hv_vmx_vcpu_read_vmcs', vmcsFieldArb, (field) => ({ field })),
    );
    set(
      'hv_vmx_vcpu_write_vmcs',
      2,
      perVcpu(
        'hv_vmx_vcpu_write_vmcs',
        fc.oneof(
          { weight: 6, arbitrary: fc.tuple(vmcsFieldArb, u64Arb) },
          // Secondary controls with VMCS shadowing, as Apple's shadow-VMCS test sets them (§1.8).
          { weight: 2, arbitrary: fc.constant(['shadowing', 0n] as const) },
        ),
        ([field, value], m) =>
          field === 'shadowing'
            ? {
                field: VMCS.VMCS_CTRL_CPU_BASED2,
                value: BigInt(
                  canonicalizeControl(
                    m.state.env.vmxCapabilities[HV_VMX_CAP.HV_VMX_CAP_PROCBASED2] ?? 0n,
                    CPU_BASED2.CPU_BASED2_VMCS_SHADOW,
                  ),
                ),
              }
            : { field, value },
      ),
    );
    // fpstate: mostly the size QEMU passes, sometimes too small, larger, or past any buffer.
    for (const name of ['hv_vcpu_read_fpstate', 'hv_vcpu_write_fpstate'])
      set(
        name,
        2,
        perVcpu(
          name,
          fc.tuple(
            uvaChoice(unit),
            fc.oneof(
              { weight: 8, arbitrary: fc.constant(BigInt(HV_FPSTATE_SIZE_TESTED)) },
              { weight: 2, arbitrary: fc.constantFrom(0n, 512n, 8192n, 1n << 40n) },
            ),
          ),
          ([u, size], m) => {
            const buffer = resolveUva(m, u);
            return buffer ? { buffer, size } : undefined;
          },
        ),
      );
    // Shadow VMCS: mostly the fields (and EPTP) and the access Apple's test uses. A call on a tested
    // field whose vCPU lacks what Apple's test set up first (shadowing in the secondary controls, READ |
    // WRITE access) sometimes makes that set-up call instead, so that the tested rows are reached.
    const rw = BigInt(HV_SHADOW_VMCS.HV_SHADOW_VMCS_READ | HV_SHADOW_VMCS.HV_SHADOW_VMCS_WRITE);
    const shadowFieldArb = (extra: readonly number[]) =>
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...SHADOW_FIELDS_TESTED, ...extra) },
        { weight: 1, arbitrary: vmcsFieldArb },
      );
    const shadowCommand = (
      name: string,
      weight: number,
      rest: fc.Arbitrary<Record<string, unknown> & { field: number }>,
      needsAccess: boolean,
    ) =>
      set(
        name,
        weight,
        fc.tuple(vcpuChoice, rest, fc.boolean()).map(
          ([vc, args, prepare]) =>
            new CallCommand(name, (m) => {
              const target = resolveVcpu(m.state, vc);
              if (!target) return undefined;
              const v = m.state.vcpus.get(target.vcpu);
              const enabled =
                v?.cpuBased2 !== undefined &&
                (v.cpuBased2 & BigInt(CPU_BASED2.CPU_BASED2_VMCS_SHADOW)) !== 0n;
              if (prepare && v && v.owner === target.t && SHADOW_FIELDS_TESTED.includes(args.field)) {
                // A tested field already set up on this vCPU, if there is one.
                const ready = needsAccess
                  ? SHADOW_FIELDS_TESTED.find((f) => v.shadowAccess.get(f) === rw)
                  : undefined;
                if (enabled && ready !== undefined)
                  return call(name, target.t, { vcpu: target.vcpu, ...args, field: ready });
                if (!enabled)
                  return call('hv_vmx_vcpu_write_vmcs', target.t, {
                    vcpu: target.vcpu,
                    field: VMCS.VMCS_CTRL_CPU_BASED2,
                    value: BigInt(
                      canonicalizeControl(
                        m.state.env.vmxCapabilities[HV_VMX_CAP.HV_VMX_CAP_PROCBASED2] ?? 0n,
                        CPU_BASED2.CPU_BASED2_VMCS_SHADOW,
                      ),
                    ),
                  });
                if (needsAccess && v.shadowAccess.get(args.field) !== rw)
                  return call('hv_vmx_vcpu_set_shadow_access', target.t, {
                    vcpu: target.vcpu,
                    field: args.field,
                    flags: rw,
                  });
              }
              return call(name, target.t, { vcpu: target.vcpu, ...args });
            }),
        ),
      );
    shadowCommand(
      'hv_vmx_vcpu_set_shadow_access',
      3,
      fc
        .tuple(
          shadowFieldArb([VMCS.VMCS_CTRL_EPTP]),
          fc.oneof({ weight: 6, arbitrary: fc.constant(rw) }, { weight: 2, arbitrary: fc.bigInt(0n, 7n) }),
        )
        .map(([field, flags]) => ({ field, flags })),
      false,
    );
    shadowCommand(
      'hv_vmx_vcpu_write_shadow_vmcs',
      3,
      fc.tuple(shadowFieldArb([]), u64Arb).map(([field, value]) => ({ field, value })),
      true,
    );
    shadowCommand(
      'hv_vmx_vcpu_read_shadow_vmcs',
      3,
      shadowFieldArb([]).map((field) => ({ field })),
      true,
    );
    set(
      'hv_vmx_vcpu_get_cap_write_vmcs',
      2,
      perVcpu('hv_vmx_vcpu_get_cap_write_vmcs', vmcsFieldArb, (field) => ({ field })),
    );
  } else {
    set(
      'hv_vm_create',
      5,
      // Now and then the VMM makes the configuration first and sets its IPA size (0 included: accepted
      // at config time, §3 [T]), or sets its GIC up right after the VM (hvf-facts §2.7). Both are
      // options, which shrink to nothing: a counterexample that needs only the VM keeps a plain
      // hv_vm_create.
      fc
        .tuple(
          configChoice,
          threadArb,
          fc.option(fc.constantFrom(0, 36, 40), { freq: 8 }),
          fc.option(gicChoices, { freq: 3 }),
        )
        .map(
          ([cc, t, ipaBits, gic]) =>
            new SequenceCommand('hv_vm_create', async (m, run) => {
              let config = resolveConfig(m, cc);
              if (ipaBits !== null && m.state.vm === null) {
                config = (await run(call('hv_vm_config_create', t, {}))) as VmConfig | undefined;
                if (config === undefined) return;
                await run(call('hv_vm_config_set_ipa_size', t, { config, ipa_bit_length: ipaBits }));
              }
              if (config === undefined) return;
              await run(call('hv_vm_create', t, { config }));
              if (gic !== null && m.state.vm !== null && !m.state.vm.vcpusCreated)
                await setUpGic(m, run, gic, t);
            }),
        ),
    );
    for (const [name, w] of arm64Shaped(granule)) out.set(name, w);
    set(
      'hv_vm_config_create',
      2,
      threadArb.map(
        (t) =>
          new CallCommand('hv_vm_config_create', (m) =>
            m.state.configs.size < 4 ? call('hv_vm_config_create', t, {}) : undefined,
          ),
      ),
    );
    set(
      'hv_vm_config_set_ipa_size',
      2,
      fc
        .tuple(
          configChoice.filter((c) => c.kind !== 'null'),
          fc.constantFrom(0, 0, 32, 36, 40, 41, 52, 0xffff_ffff),
          threadArb,
        )
        .map(
          ([cc, ipa_bit_length, t]) =>
            new CallCommand('hv_vm_config_set_ipa_size', (m) => {
              const config = resolveConfig(m, cc);
              return config ? call('hv_vm_config_set_ipa_size', t, { config, ipa_bit_length }) : undefined;
            }),
        ),
    );
    set(
      'hv_vcpu_set_reg',
      2,
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
    );
  }
  for (const spec of callSpecs(arch)) if (spec.runsGuest) set(spec.name, 2, runWithoutGuest(spec));
  return out;
}

/** A vCPU-targeted command with a shaped argument. */
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

/**
 * Every command of an architecture, weighted: one per registry entry (derived from its parameters, or
 * shaped where the rules need more), plus host allocation; the calls that build state (a VM, vCPUs,
 * buffers, mappings) are picked more often, so that the calls that need that state get to run.
 */
export function lifecycleCommands(arch: Arch, env?: Pick<SpecEnv, 'gic'>): Weighted[] {
  const shaped = shapedCommands(arch);
  const { unit } = SHAPE[arch];
  const commandOf = (spec: CallSpec): fc.Arbitrary<HvCommand> =>
    shaped.get(spec.name)?.arbitrary ?? genericCommand(spec, unit);
  const specs = callSpecs(arch);
  const gic = specs.filter((spec) => spec.name.startsWith('hv_gic_'));
  // The GIC's forty calls share the weight of four, so that they do not crowd out the calls every VM
  // needs; its deeper rows come from the GIC sequences (a VMM's setup, registers, snapshots), which
  // only a host with hv_gic gets.
  const gicCommands =
    arch !== 'arm64'
      ? []
      : [
          weighted(env !== undefined && env.gic === undefined ? 2 : 8, fc.oneof(...gic.map(commandOf))),
          ...(env !== undefined && env.gic === undefined ? [] : gicSequences()),
        ];
  return [
    weighted(
      3,
      fc.integer({ min: 1, max: 8 }).map((pages) => new HostAllocCommand(pages)),
    ),
    ...specs
      .filter((spec) => !spec.name.startsWith('hv_gic_'))
      .map(
        (spec) => shaped.get(spec.name) ?? weighted(LIGHT.has(spec.name) ? 1 : 2, genericCommand(spec, unit)),
      ),
    ...gicCommands,
  ];
}

/** Calls with few rows and no state of their own: picked half as often as the others. */
const LIGHT: ReadonlySet<string> = new Set([
  'hv_vm_config_get_el2_supported',
  'hv_vm_config_get_el2_enabled',
  'hv_vm_config_set_el2_enabled',
  'hv_vm_config_get_default_ipa_granule',
  'hv_vcpu_config_get_feature_reg',
  'hv_vcpu_config_get_ccsidr_el1_sys_reg_values',
]);
