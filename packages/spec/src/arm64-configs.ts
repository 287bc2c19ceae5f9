/**
 * The arm64 configuration objects a backend keeps without running a guest (`hv_vm_config_t`,
 * `hv_vcpu_config_t`), and what the configuration calls answer once their prologue (argument checks,
 * busy thread) is past: the order of checks and the codes of packages/model/README.md ("What the model
 * answers"). The model and the el2 backend both keep their configurations here, so that differential
 * runs compare guests rather than bookkeeping.
 * @module
 */
import type { Arm64Backend, Result, ThreadId, VcpuConfig, VmConfig } from './backend.js';
import { HV_IPA_GRANULE, IPA_SIZE_DEFAULT } from './vocabulary/arm64.js';
import { HV } from './vocabulary/returns.js';

/** What the host offers, as the backend's capabilities say. */
export interface Arm64ConfigHost {
  /** `hv_vm_config_get_max_ipa_size`. */
  readonly maxIpaSize: number;
  /** `HV_IPA_GRANULE_4KB` and the granule calls exist (macOS 26, hvf-facts.md §2.3 [H]). */
  readonly ipaGranule4k: boolean;
  /** `hv_vm_config_get_el2_supported`. */
  readonly el2Supported: boolean;
}

/** An `hv_vm_config_t`: IPA size 0 means "use the default" (model README, choices). */
interface VmConfigRecord {
  ipaSize: number;
  granule: number;
  /** hv_vm_config_set_el2_enabled (absent: never set, off). */
  el2?: boolean;
}

/** What `hv_vm_create` builds a VM from. */
export interface Arm64VmShape {
  readonly ipaSize: number;
  /** The stage-2 granule in bytes. */
  readonly granuleBytes: number;
  readonly el2: boolean;
}

const GRANULE_BYTES: Readonly<Record<number, number>> = {
  [HV_IPA_GRANULE.HV_IPA_GRANULE_4KB]: 4096,
  [HV_IPA_GRANULE.HV_IPA_GRANULE_16KB]: 16384,
};

const SUCCESS: Result = Object.freeze({ ret: HV.HV_SUCCESS });
function ok<T>(value: T): Result<T> {
  return { ret: HV.HV_SUCCESS, value };
}
function fail(ret: number): Result<never> {
  return { ret };
}

/** The VM and vCPU configurations of one backend; one id space, so that one is never taken for another. */
export class Arm64Configs {
  private readonly vms = new Map<number, VmConfigRecord>();
  private readonly vcpus = new Set<number>();
  private next = 1;

  constructor(private readonly host: Arm64ConfigHost) {}

  /** A fresh id of the configuration objects' id space (the model's GIC configs and states draw here too). */
  newId(): number {
    return this.next++;
  }

  /** Forgets every configuration (ids are not reused). */
  clear(): void {
    this.vms.clear();
    this.vcpus.clear();
  }

  /** `hv_vm_config_create`: a VM configuration with the defaults (IPA size 0 = default, 16 KiB granule, no EL2). */
  createVm(): Result<VmConfig> {
    const id = this.newId();
    this.vms.set(id, { ipaSize: 0, granule: HV_IPA_GRANULE.HV_IPA_GRANULE_16KB });
    return ok(id as VmConfig);
  }

  /** `hv_vm_config_set_ipa_size`: 0 (the default) up to the host's maximum; above it HV_UNSUPPORTED. */
  setIpaSize(config: VmConfig, bits: number): Result {
    const c = this.vms.get(config);
    if (c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    // 0..max accepted, above max HV_UNSUPPORTED (hvf-facts.md §3 [T]).
    if (bits > this.host.maxIpaSize) return fail(HV.HV_UNSUPPORTED);
    c.ipaSize = bits;
    return SUCCESS;
  }

  /** `hv_vm_config_get_ipa_size`: the bits last set, 0 when never set; HV_BAD_ARGUMENT for a handle that is not a VM configuration. */
  getIpaSize(config: VmConfig): Result<number> {
    const c = this.vms.get(config);
    return c === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(c.ipaSize);
  }

  /** `hv_vm_config_set_ipa_granule`: 4 KiB only where the host offers it (HV_UNSUPPORTED otherwise); an unknown granule is HV_BAD_ARGUMENT. */
  setIpaGranule(config: VmConfig, granule: number): Result {
    const c = this.vms.get(config);
    if (c === undefined || GRANULE_BYTES[granule] === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (granule === HV_IPA_GRANULE.HV_IPA_GRANULE_4KB && !this.host.ipaGranule4k)
      return fail(HV.HV_UNSUPPORTED);
    c.granule = granule;
    return SUCCESS;
  }

  /** `hv_vm_config_get_ipa_granule`: the granule last set (16 KiB by default). */
  getIpaGranule(config: VmConfig): Result<number> {
    const c = this.vms.get(config);
    return c === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(c.granule);
  }

  /** `hv_vm_config_get_max_ipa_size`: the host's largest IPA size. */
  maxIpaSize(): Result<number> {
    return ok(this.host.maxIpaSize);
  }

  /** `hv_vm_config_get_el2_supported`: whether the host runs EL2 guests. */
  el2Supported(): Result<boolean> {
    return ok(this.host.el2Supported);
  }

  /** The granule API is a macOS 26 addition, as is the 4 KiB granule (hvf-facts.md §2.3 [H]). */
  defaultIpaGranule(): Result<number> {
    if (!this.host.ipaGranule4k) return fail(HV.HV_UNSUPPORTED);
    return ok(HV_IPA_GRANULE.HV_IPA_GRANULE_16KB);
  }

  /** `hv_vm_config_get_el2_enabled`: whether EL2 was enabled in the configuration (off by default). */
  getEl2Enabled(config: VmConfig): Result<boolean> {
    const c = this.vms.get(config);
    return c === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(c.el2 === true);
  }

  /** `hv_vm_config_set_el2_enabled`: enabling needs a host with EL2 support (HV_UNSUPPORTED otherwise). */
  setEl2Enabled(config: VmConfig, enabled: boolean): Result {
    const c = this.vms.get(config);
    if (c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    // A host without EL2 support refuses it (hvf-facts.md §2.3: M3 and later [H]); code per the model README.
    if (enabled && !this.host.el2Supported) return fail(HV.HV_UNSUPPORTED);
    c.el2 = enabled;
    return SUCCESS;
  }

  /**
   * What `hv_vm_create(config)` builds: NULL is the defaults; a handle that is not a VM configuration is
   * undefined (HV_BAD_ARGUMENT).
   */
  vmShape(config: VmConfig | null): Arm64VmShape | undefined {
    const c = config === null ? undefined : this.vms.get(config);
    if (config !== null && c === undefined) return undefined;
    return {
      ipaSize: c === undefined || c.ipaSize === 0 ? IPA_SIZE_DEFAULT : c.ipaSize,
      granuleBytes: GRANULE_BYTES[c?.granule ?? HV_IPA_GRANULE.HV_IPA_GRANULE_16KB] as number,
      el2: c?.el2 === true,
    };
  }

  /** `hv_vcpu_config_create`: a vCPU configuration (the host's one kind of core). */
  createVcpu(): Result<VcpuConfig> {
    const id = this.newId();
    this.vcpus.add(id);
    return ok(id as VcpuConfig);
  }

  /** Whether `config` is a live vCPU configuration of this id space (what `hv_vcpu_create` accepts besides NULL). */
  isVcpu(config: VcpuConfig): boolean {
    return this.vcpus.has(config);
  }
}

/** The configuration calls whose answer, once the backend's prologue is past, is the configurations' alone. */
export type Arm64ConfigCall =
  | 'hv_vm_config_get_max_ipa_size'
  | 'hv_vm_config_get_default_ipa_size'
  | 'hv_vm_config_create'
  | 'hv_vm_config_set_ipa_size'
  | 'hv_vm_config_get_ipa_size'
  | 'hv_vm_config_set_ipa_granule'
  | 'hv_vm_config_get_ipa_granule'
  | 'hv_vm_config_get_default_ipa_granule'
  | 'hv_vm_config_get_el2_supported'
  | 'hv_vm_config_get_el2_enabled'
  | 'hv_vm_config_set_el2_enabled'
  | 'hv_vcpu_config_create';

type AfterThread<F> = F extends (t: ThreadId, ...rest: infer R) => unknown ? R : never;

/** How one configuration call is answered. */
interface ConfigAnswer<K extends Arm64ConfigCall> {
  /**
   * Whether a thread inside an async run gets HV_BUSY before the answer (the IPA calls), or the answer
   * (the EL2 and vCPU configuration calls, which need no vCPU thread: packages/model/README.md).
   */
  readonly busy: boolean;
  readonly answer: (c: Arm64Configs, ...args: AfterThread<Arm64Backend[K]>) => ReturnType<Arm64Backend[K]>;
}

/** Every configuration call both arm64 backends answer from {@link Arm64Configs}. */
const CONFIG_ANSWERS: { readonly [K in Arm64ConfigCall]: ConfigAnswer<K> } = {
  hv_vm_config_get_max_ipa_size: { busy: true, answer: (c) => c.maxIpaSize() },
  hv_vm_config_get_default_ipa_size: { busy: true, answer: () => ok(IPA_SIZE_DEFAULT) },
  hv_vm_config_create: { busy: true, answer: (c) => c.createVm() },
  hv_vm_config_set_ipa_size: { busy: true, answer: (c, config, bits) => c.setIpaSize(config, bits) },
  hv_vm_config_get_ipa_size: { busy: true, answer: (c, config) => c.getIpaSize(config) },
  hv_vm_config_set_ipa_granule: {
    busy: true,
    answer: (c, config, granule) => c.setIpaGranule(config, granule),
  },
  hv_vm_config_get_ipa_granule: { busy: true, answer: (c, config) => c.getIpaGranule(config) },
  hv_vm_config_get_default_ipa_granule: { busy: false, answer: (c) => c.defaultIpaGranule() },
  hv_vm_config_get_el2_supported: { busy: false, answer: (c) => c.el2Supported() },
  hv_vm_config_get_el2_enabled: { busy: false, answer: (c, config) => c.getEl2Enabled(config) },
  hv_vm_config_set_el2_enabled: { busy: false, answer: (c, config, on) => c.setEl2Enabled(config, on) },
  hv_vcpu_config_create: { busy: false, answer: (c) => c.createVcpu() },
};

/**
 * Makes the configuration-call methods ({@link Arm64ConfigCall}) of a backend class: each runs the backend's `prologue`
 * (argument checks, and HV_BUSY where `busy` says so; a result ends the call) and then the answer from
 * the backend's configurations. The class declares the methods with an interface of the same name.
 */
export function installArm64ConfigCalls<B extends object>(
  proto: B,
  prologue: (
    self: B,
    name: Arm64ConfigCall,
    busy: boolean,
    args: readonly unknown[],
  ) => Result<never> | undefined,
  configs: (self: B) => Arm64Configs,
): void {
  for (const [name, how] of Object.entries(CONFIG_ANSWERS) as [
    Arm64ConfigCall,
    ConfigAnswer<Arm64ConfigCall>,
  ][]) {
    const answer = how.answer as unknown as (c: Arm64Configs, ...args: unknown[]) => Result<unknown>;
    Object.defineProperty(proto, name, {
      value(this: B, ...args: unknown[]): Result<unknown> {
        return prologue(this, name, how.busy, args) ?? answer(configs(this), ...args.slice(1));
      },
      writable: true,
      configurable: true,
    });
  }
}
