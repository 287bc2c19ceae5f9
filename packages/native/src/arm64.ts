/**
 * The arm64 flavour of the native backend (Hypervisor.framework on Apple Silicon). Not run on the
 * project's Linux machines: reviewed only, type-checked with the rest of the package.
 * @module
 */
import {
  type Arm64Backend,
  type Arm64Exit,
  type Capabilities,
  checkBool,
  checkThread,
  checkU32,
  checkU64,
  checkVcpuList,
  HV,
  type Result,
  type ThreadId,
  type Uva,
  type Vcpu,
  type VmConfig,
} from '@hvspec/spec';
import type { Arm64Addon } from './addon.js';
import { NativeBase } from './base.js';

const U64_MASK = 0xffff_ffff_ffff_ffffn;

export class NativeArm64Backend extends NativeBase<Arm64Addon> implements Arm64Backend {
  readonly arch = 'arm64' as const;

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
   * hv_return_t is a signed 32-bit mach_error_t whose error codes are negative as i32 (hvf-facts.md
   * §0.1 [H]); the addon already returns it as an unsigned Number, and `>>> 0` keeps every code this
   * class hands out in the spec's unsigned spelling (HV_UNSUPPORTED = 0xfae9400f) whatever the addon
   * build.
   */
  private u(ret: number): number {
    return ret >>> 0;
  }
  private big(raw: number): Result<bigint> {
    const ret = this.u(raw);
    return ret === HV.HV_SUCCESS ? { ret, value: this.out[0] ?? 0n } : { ret };
  }
  private num(raw: number): Result<number> {
    const ret = this.u(raw);
    return ret === HV.HV_SUCCESS ? { ret, value: Number(this.out[0]) } : { ret };
  }
  private bool(raw: number): Result<boolean> {
    const ret = this.u(raw);
    return ret === HV.HV_SUCCESS ? { ret, value: this.out[0] !== 0n } : { ret };
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

  private runResult(raw: number, vcpu: number): Result<Arm64Exit> {
    const ret = this.u(raw);
    if (ret !== HV.HV_SUCCESS) return { ret };
    const exit = this.exit(vcpu);
    return exit === undefined ? { ret } : { ret, value: exit };
  }

  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number> {
    checkThread(t);
    return this.num(this.addon.hv_vm_get_max_vcpu_count(t));
  }

  hv_vm_config_get_max_ipa_size(t: ThreadId): Result<number> {
    checkThread(t);
    return this.num(this.addon.hv_vm_config_get_max_ipa_size(t));
  }

  hv_vm_config_get_default_ipa_size(t: ThreadId): Result<number> {
    checkThread(t);
    return this.num(this.addon.hv_vm_config_get_default_ipa_size(t));
  }

  hv_vm_config_create(t: ThreadId): Result<VmConfig> {
    checkThread(t);
    const ret = this.u(this.addon.hv_vm_config_create(t));
    return ret === HV.HV_SUCCESS ? { ret, value: Number(this.out[0]) as VmConfig } : { ret };
  }

  hv_vm_config_set_ipa_size(t: ThreadId, config: VmConfig, ipa_bit_length: number): Result {
    checkThread(t);
    checkU32('config', config);
    checkU32('ipa_bit_length', ipa_bit_length);
    return { ret: this.addon.hv_vm_config_set_ipa_size(t, config, ipa_bit_length) >>> 0 };
  }

  hv_vm_config_get_ipa_size(t: ThreadId, config: VmConfig): Result<number> {
    checkThread(t);
    checkU32('config', config);
    return this.num(this.addon.hv_vm_config_get_ipa_size(t, config));
  }

  hv_vm_config_set_ipa_granule(t: ThreadId, config: VmConfig, granule: number): Result {
    checkThread(t);
    checkU32('config', config);
    checkU32('granule', granule);
    return { ret: this.addon.hv_vm_config_set_ipa_granule(t, config, granule) >>> 0 };
  }

  hv_vm_config_get_ipa_granule(t: ThreadId, config: VmConfig): Result<number> {
    checkThread(t);
    checkU32('config', config);
    return this.num(this.addon.hv_vm_config_get_ipa_granule(t, config));
  }

  hv_vm_create(t: ThreadId, config: VmConfig | null): Result {
    checkThread(t);
    if (config !== null) checkU32('config', config);
    return { ret: this.addon.hv_vm_create(t, config) >>> 0 };
  }

  hv_vm_destroy(t: ThreadId): Result {
    checkThread(t);
    return { ret: this.addon.hv_vm_destroy(t) >>> 0 };
  }

  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result {
    checkThread(t);
    const src = this.uva(uva);
    checkU64('ipa', ipa);
    checkU64('size', size);
    checkU32('flags', flags);
    if (src === undefined) return { ret: HV.HV_BAD_ARGUMENT };
    return { ret: this.addon.hv_vm_map(t, src.id, src.offset, ipa, size, flags) >>> 0 };
  }

  hv_vm_unmap(t: ThreadId, ipa: bigint, size: bigint): Result {
    checkThread(t);
    checkU64('ipa', ipa);
    checkU64('size', size);
    return { ret: this.addon.hv_vm_unmap(t, ipa, size) >>> 0 };
  }

  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result {
    checkThread(t);
    checkU64('ipa', ipa);
    checkU64('size', size);
    checkU32('flags', flags);
    return { ret: this.addon.hv_vm_protect(t, ipa, size, flags) >>> 0 };
  }

  hv_vcpu_create(t: ThreadId, config: null): Result<Vcpu> {
    checkThread(t);
    if (config !== null)
      throw new TypeError('config must be null (hv_vcpu_config_t objects are not modelled)');
    const ret = this.u(this.addon.hv_vcpu_create(t));
    return ret === HV.HV_SUCCESS ? { ret, value: this.created(t) as Vcpu } : { ret };
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    const ret = this.u(this.addon.hv_vcpu_destroy(t, vcpu));
    if (ret === HV.HV_SUCCESS) this.vcpus.delete(vcpu);
    return { ret };
  }

  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    return this.big(this.addon.hv_vcpu_get_reg(t, vcpu, reg));
  }

  hv_vcpu_set_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
    return { ret: this.addon.hv_vcpu_set_reg(t, vcpu, reg, value) >>> 0 };
  }

  /**
   * The 128-bit Q register as one bigint. hv_simd_fp_uchar16_t is a 16-byte vector (hvf-facts.md §2.1
   * [H]); its bytes are taken as the register's little-endian memory image (byte i = bits 8i+7..8i),
   * as `str q` would store it on the little-endian arm64 host. Apple does not state the element order
   * [U]: the addon copies the 16 bytes unchanged into out[0] (low 64 bits) and out[1] (high).
   */
  hv_vcpu_get_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    const ret = this.u(this.addon.hv_vcpu_get_simd_fp_reg(t, vcpu, reg));
    return ret === HV.HV_SUCCESS
      ? { ret, value: ((this.out[1] ?? 0n) << 64n) | (this.out[0] ?? 0n) }
      : { ret };
  }

  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    if (typeof value !== 'bigint' || value < 0n || value >> 128n !== 0n) {
      throw new TypeError(
        `value must be a bigint in [0, 2^128), got ${typeof value === 'bigint' ? `${value}n` : String(value)}`,
      );
    }
    const ret = this.addon.hv_vcpu_set_simd_fp_reg(t, vcpu, reg, value & U64_MASK, value >> 64n);
    return { ret: ret >>> 0 };
  }

  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    return this.big(this.addon.hv_vcpu_get_sys_reg(t, vcpu, reg));
  }

  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('reg', reg);
    checkU64('value', value);
    return { ret: this.addon.hv_vcpu_set_sys_reg(t, vcpu, reg, value) >>> 0 };
  }

  hv_vcpu_get_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number): Result<boolean> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('type', type);
    return this.bool(this.addon.hv_vcpu_get_pending_interrupt(t, vcpu, type));
  }

  hv_vcpu_set_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number, pending: boolean): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU32('type', type);
    checkBool('pending', pending);
    return { ret: this.addon.hv_vcpu_set_pending_interrupt(t, vcpu, type, pending) >>> 0 };
  }

  hv_vcpu_get_vtimer_mask(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    return this.bool(this.addon.hv_vcpu_get_vtimer_mask(t, vcpu));
  }

  hv_vcpu_set_vtimer_mask(t: ThreadId, vcpu: Vcpu, vtimer_is_masked: boolean): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('vtimer_is_masked', vtimer_is_masked);
    return { ret: this.addon.hv_vcpu_set_vtimer_mask(t, vcpu, vtimer_is_masked) >>> 0 };
  }

  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    return this.big(this.addon.hv_vcpu_get_vtimer_offset(t, vcpu));
  }

  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkU64('vtimer_offset', vtimer_offset);
    return { ret: this.addon.hv_vcpu_set_vtimer_offset(t, vcpu, vtimer_offset) >>> 0 };
  }

  hv_vcpu_get_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    return this.bool(this.addon.hv_vcpu_get_trap_debug_exceptions(t, vcpu));
  }

  hv_vcpu_set_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('value', value);
    return { ret: this.addon.hv_vcpu_set_trap_debug_exceptions(t, vcpu, value) >>> 0 };
  }

  hv_vcpu_get_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    return this.bool(this.addon.hv_vcpu_get_trap_debug_reg_accesses(t, vcpu));
  }

  hv_vcpu_set_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    checkThread(t);
    checkU32('vcpu', vcpu);
    checkBool('value', value);
    return { ret: this.addon.hv_vcpu_set_trap_debug_reg_accesses(t, vcpu, value) >>> 0 };
  }

  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit> {
    checkThread(t);
    checkU32('vcpu', vcpu);
    return this.runResult(this.addon.hv_vcpu_run(t, vcpu), vcpu);
  }

  /** Needs a logical thread > 0: thread 0 is the JS thread, which must not block in the guest. */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>> {
    return this.startAsync(t, vcpu).then((ret) => this.runResult(ret, vcpu));
  }

  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    checkThread(t);
    checkVcpuList('vcpus', vcpus, 'vcpu_count', vcpu_count);
    if (vcpu_count > vcpus.length)
      throw new TypeError(`vcpu_count ${vcpu_count} exceeds vcpus.length ${vcpus.length}`);
    return { ret: this.addon.hv_vcpus_exit(t, vcpus, vcpu_count) >>> 0 };
  }
}
