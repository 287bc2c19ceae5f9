/**
 * The arm64 flavour of the native backend (Hypervisor.framework on Apple Silicon). Not run on the
 * project's Linux machines: reviewed only, type-checked with the rest of the package. The `hv_*`
 * methods come from the registry (generated/calls.ts); this class adds the ones that keep the
 * wrapper's own state: config ids, vCPU exit-record slots and the exit record a run returns.
 * @module
 */
import {
  ARM64_ARG_CHECKS,
  type Arm64Backend,
  type Arm64Exit,
  type Capabilities,
  HV,
  type Result,
  type ThreadId,
  type Uva,
  type Vcpu,
  type VcpuConfig,
} from '@hvspec/spec';
import type { Arm64Addon } from './addon.js';
import { Arm64Calls } from './generated/calls.js';

export class NativeArm64Backend extends Arm64Calls<Arm64Addon> implements Arm64Backend {
  readonly arch = 'arm64' as const;

  /**
   * Built by {@link createNativeBackend}, which loads the addon and probes the host.
   * @internal
   */
  constructor(
    addon: Arm64Addon,
    readonly capabilities: Capabilities,
    private readonly closed: () => void,
  ) {
    super(addon);
  }

  protected onClose(): void {
    this.closed();
  }

  /**
   * The exit record: the slot holds a copy of the framework's hv_vcpu_exit_t made on the owner
   * thread right after hv_vcpu_run (addon/hv_arm64_calls.cc; layout hvf-facts.md §2.1 [H]).
   */
  private exit(vcpu: number): Arm64Exit | undefined {
    const v = this.vcpus.get(vcpu);
    if (v === undefined) return undefined;
    const base = v.slot * this.slotWords;
    if (this.rec[base + 4] !== 1n) return undefined;
    return {
      reason: this.rec32[base * 2] ?? 0,
      exception: {
        syndrome: this.rec[base + 1] ?? 0n,
        virtual_address: this.rec[base + 2] ?? 0n,
        physical_address: this.rec[base + 3] ?? 0n,
      },
    };
  }

  private runResult(ret: number, vcpu: number): Result<Arm64Exit> {
    if (ret !== HV.HV_SUCCESS) return { ret };
    const exit = this.exit(vcpu);
    return exit === undefined ? { ret } : { ret, value: exit };
  }

  /** Only memory from hv_vm_allocate, whole (the addon refuses the rest, addon/hv_arm64_calls.cc). */
  hv_vm_deallocate(t: ThreadId, uva: Uva, size: bigint): Result {
    ARM64_ARG_CHECKS.hv_vm_deallocate(t, uva, size);
    const mem = this.mem(uva.mem, 'uva.mem');
    const ret = this.addon.hv_vm_deallocate(t, mem.id, uva.offset, size);
    if (ret === HV.HV_SUCCESS) this.forgetBuffer(mem);
    return { ret };
  }

  hv_vcpu_create(t: ThreadId, config: VcpuConfig | null): Result<Vcpu> {
    ARM64_ARG_CHECKS.hv_vcpu_create(t, config);
    return this.created(t, this.addon.hv_vcpu_create(t, config));
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    ARM64_ARG_CHECKS.hv_vcpu_destroy(t, vcpu);
    return this.destroyed(vcpu, this.addon.hv_vcpu_destroy(t, vcpu));
  }

  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit> {
    ARM64_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    return this.runResult(this.addon.hv_vcpu_run(t, vcpu), vcpu);
  }

  /** Needs a logical thread > 0: thread 0 is the JS thread, which must not block in the guest. */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>> {
    return this.startAsync(t, vcpu).then((ret) => this.runResult(ret, vcpu));
  }
}
