/**
 * What the in-framework GIC's calls (`hv_gic_*`, hvf-facts.md §2.7) answer once a backend's prologue
 * (argument checks, a gone machine) is past: the order of checks and the codes of packages/model/README.md
 * ("What the model answers"), over the software GIC of arm64-gic-device.ts. The model and the el2 backend
 * both make their GIC calls here, as they do their configuration calls (arm64-configs.ts).
 * @module
 */

import type { Arm64Configs } from './arm64-configs.js';
import { GicDevice, type GicLayout } from './arm64-gic-device.js';
import type { Arm64Backend, GicConfig, GicParameters, GicState, Result, ThreadId } from './backend.js';
import { HV_GIC_ICC_REG, HV_GIC_INT } from './vocabulary/arm64.js';
import { HV } from './vocabulary/returns.js';

/** An `hv_gic_config_t`: bases as set (absent: 0), the MSI INTID range. */
interface GicConfigRecord {
  distributorBase?: bigint;
  redistributorBase?: bigint;
  msiRegionBase?: bigint;
  msiRange?: readonly [number, number];
}

/** The GIC configurations and state objects of one backend, and the host's GIC parameters. */
export class Arm64Gics {
  private readonly configs = new Map<number, GicConfigRecord>();
  private readonly states = new Map<number, Uint8Array>();

  /**
   * @param params the host's answers to the parameter queries; undefined: no hv_gic on this host
   *   (every call answers HV_UNSUPPORTED, as before macOS 15).
   * @param ids the backend's configuration objects, whose id space the GIC's objects share.
   * @param slots redistributors of a GIC: the VM's vCPU limit.
   */
  constructor(
    readonly params: GicParameters | undefined,
    private readonly ids: Arm64Configs,
    readonly slots: number,
  ) {}

  /** Forgets every configuration and state object (with the backend's other configurations). */
  clear(): void {
    this.configs.clear();
    this.states.clear();
  }

  /** @internal */
  newConfig(): number {
    const id = this.ids.newId();
    this.configs.set(id, {});
    return id;
  }

  /** @internal */
  config(id: number): GicConfigRecord | undefined {
    return this.configs.get(id);
  }

  /** @internal */
  newState(data: Uint8Array): number {
    const id = this.ids.newId();
    this.states.set(id, data);
    return id;
  }

  /** @internal */
  state(id: number): Uint8Array | undefined {
    return this.states.get(id);
  }
}

/** The VM as the GIC calls see it (the backend's own VM record fits). */
export interface Arm64GicVm {
  /** The in-framework GIC, once hv_gic_create made it. */
  gic?: GicDevice;
  /** 2^ipa_size. */
  readonly ipaLimit: bigint;
  /** Created from a configuration with EL2 enabled (ICH/ICV registers and ICC_SRE_EL2 exist only then). */
  readonly el2?: boolean;
  /** vCPUs created so far, destroyed ones included (hv_gic_create must come before the first). */
  readonly nextVcpu: number;
  /** Live vCPUs. */
  readonly vcpus: { readonly size: number };
  /** A vCPU of this VM entered the guest (hv_gic_set_state must come before). */
  readonly ran?: boolean;
}

/** One vCPU as the GIC calls see it. */
export interface Arm64GicVcpu {
  readonly id: number;
  /** The logical thread that owns it. */
  readonly owner: number;
  /** Its MPIDR_EL1 now (which redistributor is its own). */
  readonly mpidr: bigint;
}

/** What a backend gives {@link installArm64GicCalls}. */
export interface Arm64GicSite<B> {
  /** Argument checks and the backend's own steps; a result ends the call. No busy-thread step (README). */
  readonly prologue: (self: B, name: Arm64GicCall, args: readonly unknown[]) => Result<never> | undefined;
  /** The backend's GIC configurations, state objects and parameters. */
  readonly gics: (self: B) => Arm64Gics;
  /** The backend's VM, or undefined when there is none. */
  readonly vm: (self: B) => Arm64GicVm | undefined;
  /** A live vCPU of the VM, or undefined. */
  readonly vcpu: (self: B, vcpu: number) => Arm64GicVcpu | undefined;
}

/** The calls {@link installArm64GicCalls} makes: every `hv_gic_*` function. */
export type Arm64GicCall = Extract<keyof Arm64Backend, `hv_gic_${string}`>;

const SUCCESS: Result = Object.freeze({ ret: HV.HV_SUCCESS });
function ok<T>(value: T): Result<T> {
  return { ret: HV.HV_SUCCESS, value };
}
function fail(ret: number): Result<never> {
  return { ret };
}

/** One call's context after the prologue. */
class Call<B> {
  constructor(
    private readonly site: Arm64GicSite<B>,
    private readonly self: B,
    readonly t: number,
  ) {}

  get gics(): Arm64Gics {
    return this.site.gics(this.self);
  }

  /** The host's GIC parameters, or HV_UNSUPPORTED without hv_gic. */
  params(): GicParameters | number {
    return this.gics.params ?? HV.HV_UNSUPPORTED;
  }

  /** The GIC of the VM, or the code of a call that needs one (no hv_gic on this host; no VM or GIC). */
  gic(): GicDevice | number {
    if (!this.gics.params) return HV.HV_UNSUPPORTED;
    return this.site.vm(this.self)?.gic ?? HV.HV_NO_DEVICE;
  }

  /** The backend's VM, or undefined. */
  vm(): Arm64GicVm | undefined {
    return this.site.vm(this.self);
  }

  /** A live vCPU whatever its owner. */
  vcpuAny(vcpu: number): Arm64GicVcpu | undefined {
    return this.site.vcpu(this.self, vcpu);
  }

  /** The GIC, the caller's own vCPU and the VM of a per-vCPU register call, or its code. */
  own(vcpu: number): { gic: GicDevice; v: Arm64GicVcpu; vm: Arm64GicVm } | number {
    if (!this.gics.params) return HV.HV_UNSUPPORTED;
    const vm = this.vm();
    if (vm === undefined) return HV.HV_NO_DEVICE;
    const v = this.site.vcpu(this.self, vcpu);
    if (v === undefined || v.owner !== this.t) return HV.HV_BAD_ARGUMENT;
    const gic = this.gic();
    if (typeof gic === 'number') return gic;
    return { gic, v, vm };
  }

  /** own(), for an ICC register: ICC_SRE_EL2 is an EL2 register, only in a VM with EL2 (hvf-facts.md §3 [H]). */
  ownIcc(vcpu: number, reg: number): { gic: GicDevice; v: Arm64GicVcpu } | number {
    const x = this.own(vcpu);
    if (typeof x === 'number') return x;
    return reg === ICC_SRE_EL2 && !x.vm.el2 ? HV.HV_UNSUPPORTED : x;
  }

  /** own(), for the ICH and ICV registers, which exist in VMs with EL2 only (hvf-facts.md §2.7 [H]). */
  ownEl2(vcpu: number): { gic: GicDevice; v: Arm64GicVcpu } | number {
    const x = this.own(vcpu);
    if (typeof x === 'number') return x;
    return x.vm.el2 ? x : HV.HV_UNSUPPORTED;
  }

  /** A base is stored when its region fits below 2^64 (hvf-facts.md §2.7 [T]); hv_gic_create checks alignment. */
  setBase(
    config: number,
    base: bigint,
    field: 'distributorBase' | 'redistributorBase' | 'msiRegionBase',
    size: (g: GicParameters) => number,
  ): Result {
    const g = this.params();
    if (typeof g === 'number') return fail(g);
    const c = this.gics.config(config);
    if (c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (base + BigInt(size(g)) > 1n << 64n) return fail(HV.HV_BAD_ARGUMENT);
    c[field] = base;
    return SUCCESS;
  }

  parameter(value: (g: GicParameters) => number): Result<bigint> {
    const g = this.params();
    return typeof g === 'number' ? fail(g) : ok(BigInt(value(g)));
  }
}

/** A call's answer from its context and its arguments after the thread. */
type Answer = (c: Call<unknown>, ...rest: never[]) => Result<unknown>;

/** A register read's result: undefined (no such register) is HV_BAD_ARGUMENT. */
function read(value: bigint | undefined): Result<bigint> {
  return value === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(value);
}

/** The answer of a per-vCPU call: the code `x` is, or `f` of the GIC and vCPU. */
function onVcpu<X, T>(x: X | number, f: (x: X) => Result<T>): Result<T> {
  return typeof x === 'number' ? fail(x) : f(x);
}

/** A register write's result: false (no such register) is HV_BAD_ARGUMENT. */
function written(done: boolean): Result {
  return done ? SUCCESS : fail(HV.HV_BAD_ARGUMENT);
}

const ICC_SRE_EL2 = HV_GIC_ICC_REG.HV_GIC_ICC_REG_SRE_EL2 as number;

const ANSWERS: { readonly [K in Arm64GicCall]: Answer } = {
  hv_gic_config_create: (c: Call<unknown>) => {
    const g = c.params();
    return typeof g === 'number' ? fail(g) : ok(c.gics.newConfig() as GicConfig);
  },
  hv_gic_config_set_distributor_base: (c: Call<unknown>, config: number, base: bigint) =>
    c.setBase(config, base, 'distributorBase', (g) => g.distributorSize),
  hv_gic_config_set_redistributor_base: (c: Call<unknown>, config: number, base: bigint) =>
    c.setBase(config, base, 'redistributorBase', (g) => g.redistributorRegionSize),
  hv_gic_config_set_msi_region_base: (c: Call<unknown>, config: number, base: bigint) =>
    c.setBase(config, base, 'msiRegionBase', (g) => g.msiRegionSize),
  hv_gic_config_set_msi_interrupt_range: (c: Call<unknown>, config: number, base: number, count: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    const r = c.gics.config(config);
    if (r === undefined) return fail(HV.HV_BAD_ARGUMENT);
    // Inside the SPI range or HV_BAD_ARGUMENT (hvf-facts.md §2.7, §3 [T]); an empty range is kept (no MSIs).
    if (base < g.spiBase || base + count > g.spiBase + g.spiCount) return fail(HV.HV_BAD_ARGUMENT);
    r.msiRange = [base, count];
    return SUCCESS;
  },
  hv_gic_get_distributor_size: (c: Call<unknown>) => c.parameter((g) => g.distributorSize),
  hv_gic_get_distributor_base_alignment: (c: Call<unknown>) => c.parameter((g) => g.distributorBaseAlignment),
  hv_gic_get_redistributor_region_size: (c: Call<unknown>) => c.parameter((g) => g.redistributorRegionSize),
  hv_gic_get_redistributor_size: (c: Call<unknown>) => c.parameter((g) => g.redistributorSize),
  hv_gic_get_redistributor_base_alignment: (c: Call<unknown>) =>
    c.parameter((g) => g.redistributorBaseAlignment),
  hv_gic_get_msi_region_size: (c: Call<unknown>) => c.parameter((g) => g.msiRegionSize),
  hv_gic_get_msi_region_base_alignment: (c: Call<unknown>) => c.parameter((g) => g.msiRegionBaseAlignment),
  hv_gic_get_spi_interrupt_range: (c: Call<unknown>) => {
    const g = c.params();
    return typeof g === 'number' ? fail(g) : ok({ spi_intid_base: g.spiBase, spi_intid_count: g.spiCount });
  },
  /** The reserved INTIDs are the PPIs the enum names (the Arm BSA's layout: 23, 25, 26, 27, 30). */
  hv_gic_get_intid: (c: Call<unknown>, interrupt: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    return (Object.values(HV_GIC_INT) as number[]).includes(interrupt)
      ? ok(interrupt)
      : fail(HV.HV_BAD_ARGUMENT);
  },
  /**
   * After the VM, before any vCPU, once (hvf-facts.md §2.7 [H]). Unset bases are 0; a configuration with
   * none set is HV_BAD_ARGUMENT ([T]); misaligned, overlapping or out-of-IPA-space regions are refused with
   * HV_BAD_ARGUMENT too (packages/model/README.md).
   */
  hv_gic_create: (c: Call<unknown>, config: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    const vm = c.vm();
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    const r = c.gics.config(config);
    if (r === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (vm.gic !== undefined || vm.nextVcpu > 0) return fail(HV.HV_BUSY);
    if (
      r.distributorBase === undefined &&
      r.redistributorBase === undefined &&
      r.msiRegionBase === undefined &&
      r.msiRange === undefined
    )
      return fail(HV.HV_BAD_ARGUMENT);
    const regions = [
      { base: r.distributorBase ?? 0n, size: g.distributorSize, align: g.distributorBaseAlignment },
      {
        base: r.redistributorBase ?? 0n,
        size: g.redistributorRegionSize,
        align: g.redistributorBaseAlignment,
      },
      ...(r.msiRegionBase === undefined
        ? []
        : [{ base: r.msiRegionBase, size: g.msiRegionSize, align: g.msiRegionBaseAlignment }]),
    ].map((x) => ({ base: x.base, end: x.base + BigInt(x.size), align: BigInt(x.align) }));
    if (regions.some((x) => x.base % x.align !== 0n)) return fail(HV.HV_BAD_ARGUMENT);
    for (const [i, a] of regions.entries())
      for (const b of regions.slice(i + 1))
        if (a.base < b.end && b.base < a.end) return fail(HV.HV_BAD_ARGUMENT);
    if (regions.some((x) => x.end > vm.ipaLimit)) return fail(HV.HV_BAD_ARGUMENT);
    const msi =
      r.msiRegionBase !== undefined && r.msiRange !== undefined && r.msiRange[1] > 0
        ? { base: r.msiRegionBase, intidBase: r.msiRange[0], count: r.msiRange[1] }
        : undefined;
    const layout: GicLayout = {
      distributorBase: r.distributorBase ?? 0n,
      redistributorBase: r.redistributorBase ?? 0n,
      msi,
    };
    vm.gic = new GicDevice(g, layout, c.gics.slots);
    return SUCCESS;
  },
  hv_gic_set_spi: (c: Call<unknown>, intid: number, level: boolean) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    const msi = gic.layout.msi;
    // Outside the SPIs or inside the MSI range: HV_BAD_ARGUMENT (hvf-facts.md §2.7 [H/T]).
    if (!gic.isSpi(intid)) return fail(HV.HV_BAD_ARGUMENT);
    if (msi && intid >= msi.intidBase && intid < msi.intidBase + msi.count) return fail(HV.HV_BAD_ARGUMENT);
    gic.setSpi(intid, level);
    return SUCCESS;
  },
  hv_gic_send_msi: (c: Call<unknown>, address: bigint, intid: number) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    const msi = gic.layout.msi;
    if (msi === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (intid < msi.intidBase || intid >= msi.intidBase + msi.count) return fail(HV.HV_BAD_ARGUMENT);
    if (address !== msi.base + 0x40n) return fail(HV.HV_BAD_ARGUMENT);
    gic.sendMsi(intid);
    return SUCCESS;
  },
  hv_gic_get_distributor_reg: (c: Call<unknown>, reg: number) => {
    const gic = c.gic();
    return typeof gic === 'number' ? fail(gic) : read(gic.readDistributor(reg));
  },
  hv_gic_set_distributor_reg: (c: Call<unknown>, reg: number, value: bigint) => {
    const gic = c.gic();
    return typeof gic === 'number' ? fail(gic) : written(gic.writeDistributor(reg, value));
  },
  /** Any thread may ask (no owning-thread rule, hvf-facts.md §2.7 [H]). */
  hv_gic_get_redistributor_base: (c: Call<unknown>, vcpu: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    if (c.vm() === undefined) return fail(HV.HV_NO_DEVICE);
    const v = c.vcpuAny(vcpu);
    if (v === undefined) return fail(HV.HV_BAD_ARGUMENT);
    const gic = c.gic();
    return typeof gic === 'number' ? fail(gic) : ok(gic.redistributorBase(v.mpidr));
  },
  hv_gic_get_redistributor_reg: (c: Call<unknown>, vcpu: number, reg: number) =>
    onVcpu(c.own(vcpu), (x) => read(x.gic.readRedistributor(x.v.mpidr, reg))),
  hv_gic_set_redistributor_reg: (c: Call<unknown>, vcpu: number, reg: number, value: bigint) =>
    onVcpu(c.own(vcpu), (x) => written(x.gic.writeRedistributor(x.v.mpidr, reg, value))),
  hv_gic_get_icc_reg: (c: Call<unknown>, vcpu: number, reg: number) =>
    onVcpu(c.ownIcc(vcpu, reg), (x) => read(x.gic.readIcc(x.v.id, reg))),
  hv_gic_set_icc_reg: (c: Call<unknown>, vcpu: number, reg: number, value: bigint) =>
    onVcpu(c.ownIcc(vcpu, reg), (x) => written(x.gic.writeIcc(x.v.id, reg, value))),
  hv_gic_get_ich_reg: (c: Call<unknown>, vcpu: number, reg: number) =>
    onVcpu(c.ownEl2(vcpu), (x) => read(x.gic.readIch(x.v.id, reg))),
  hv_gic_set_ich_reg: (c: Call<unknown>, vcpu: number, reg: number, value: bigint) =>
    onVcpu(c.ownEl2(vcpu), (x) => written(x.gic.writeIch(x.v.id, reg, value))),
  hv_gic_get_icv_reg: (c: Call<unknown>, vcpu: number, reg: number) =>
    onVcpu(c.ownEl2(vcpu), (x) => ok(x.gic.readIcv(x.v.id, reg))),
  hv_gic_set_icv_reg: (c: Call<unknown>, vcpu: number, reg: number, value: bigint) => {
    const x = c.ownEl2(vcpu);
    if (typeof x === 'number') return fail(x);
    x.gic.writeIcv(x.v.id, reg, value);
    return SUCCESS;
  },
  hv_gic_get_msi_reg: (c: Call<unknown>, reg: number) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    return gic.layout.msi === undefined ? fail(HV.HV_BAD_ARGUMENT) : read(gic.readMsi(reg));
  },
  hv_gic_set_msi_reg: (c: Call<unknown>, reg: number, value: bigint) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    if (gic.readMsi(reg) === undefined || gic.layout.msi === undefined) return fail(HV.HV_BAD_ARGUMENT);
    gic.writeMsi(reg, value);
    return SUCCESS;
  },
  /**
   * Restores state data of this GIC: after the vCPUs exist and before any has run (hvf-facts.md §2.7
   * [H], HV_BUSY otherwise, packages/model/README.md); data that is not this GIC's (short, damaged,
   * another geometry) is HV_BAD_ARGUMENT ([T]).
   */
  hv_gic_set_state: (c: Call<unknown>, data: Uint8Array, size: bigint) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    const vm = c.vm() as Arm64GicVm;
    if (vm.vcpus.size === 0 || vm.ran) return fail(HV.HV_BUSY);
    return written(gic.restore(data.subarray(0, Number(size))));
  },
  hv_gic_reset: (c: Call<unknown>) => {
    const gic = c.gic();
    if (typeof gic === 'number') return fail(gic);
    gic.reset();
    return SUCCESS;
  },
  /** A snapshot of the GIC as it is now (the framework's object is "representative of the current state"). */
  hv_gic_state_create: (c: Call<unknown>) => {
    const gic = c.gic();
    return typeof gic === 'number' ? fail(gic) : ok(c.gics.newState(gic.serialize()) as GicState);
  },
  hv_gic_state_get_size: (c: Call<unknown>, state: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    const data = c.gics.state(state);
    return data === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(BigInt(data.length));
  },
  hv_gic_state_get_data: (c: Call<unknown>, state: number) => {
    const g = c.params();
    if (typeof g === 'number') return fail(g);
    const data = c.gics.state(state);
    return data === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(data.slice());
  },
};

/**
 * Makes the `hv_gic_*` methods ({@link Arm64GicCall}) of a backend class: each runs the backend's
 * `prologue` (a result ends the call) and then answers from the backend's {@link Arm64Gics} and its VM's
 * {@link GicDevice}. The class declares the methods with an interface of the same name.
 */
export function installArm64GicCalls<B extends object>(proto: B, site: Arm64GicSite<B>): void {
  for (const name of Object.keys(ANSWERS) as Arm64GicCall[]) {
    const answer = ANSWERS[name] as (c: Call<B>, ...rest: unknown[]) => Result<unknown>;
    Object.defineProperty(proto, name, {
      value(this: B, ...args: unknown[]): Result<unknown> {
        const early = site.prologue(this, name, args);
        if (early) return early;
        return answer(new Call(site, this, args[0] as ThreadId), ...args.slice(1));
      },
      writable: true,
      configurable: true,
    });
  }
}
