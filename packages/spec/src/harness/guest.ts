/**
 * Guest-program commands: run a generated program on a vCPU and check every exit against the spec's
 * prediction, doing what a VMM does in between (emulate the access, write the result register,
 * advance the instruction pointer). Also the cancellation command: a spinning guest run asynchronously
 * on its owner thread and kicked from another thread.
 * @module
 */
import fc from 'fast-check';
import type { Arch, Arm64Backend, Backend, HostMemory, Uva, X86Backend } from '../backend.js';
import { forgeVcpu } from '../backend.js';
import {
  type Arm64Layout,
  type Arm64Scenario,
  arm64Granules,
  arm64HostByteReader,
  arm64Idst,
  arm64Lse2,
  arm64ScenarioArb,
  arm64ScenarioFor,
  arm64ScenarioTraceSteps,
  runArm64Scenario,
} from '../guest/arm64/scenario.js';
import { X86_MODES, type X86Mode, x86ModePaging } from '../guest/x86/actions.js';
import { x86PageTablesSize } from '../guest/x86/paging.js';
import type { X86Prediction } from '../guest/x86/predict.js';
import {
  runX86Scenario,
  type X86Layout,
  type X86Scenario,
  x86ModeDeviation,
  x86ScenarioArb,
  x86ScenarioTraceSteps,
} from '../guest/x86/scenario.js';
import { writeX86Prot32Setup } from '../guest/x86/setup.js';
import { afterGuestRun, type SpecVcpu } from '../state.js';
import { HV_EXIT_REASON, HV_REG, HV_SYS_REG } from '../vocabulary/arm64.js';
import { HV_MEMORY } from '../vocabulary/memory.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { HV_DEADLINE_FOREVER, HV_X86_REG, VMCS } from '../vocabulary/x86.js';
import type { HvCommand, Weighted } from './commands.js';
import type { Model, Real } from './context.js';
import type { DiffingBackend } from './diff.js';
import { ConformanceError, execute } from './execute.js';

/** Where guest code lives: above the window the mapping commands use, below a 32-bit IPA space. */
const CODE_ADDR: Record<Arch, bigint> = { x86_64: 0x20_0000n, arm64: 0x100_0000n };
/**
 * Where arm64 guests with the MMU on keep their stage-1 tables: 1 MiB (up to 16 tables of the 64 KiB
 * granule), above the code and still outside the window the mapping commands use.
 */
const ARM64_TABLES = { ipa: 0x180_0000n, size: 0x10_0000 } as const;

/**
 * x86 real-mode code: below 1 MiB (a real-mode CS reaches no further), just above the window the mapping
 * commands use, so that its 64 KiB code segment (base 0x40000) overlaps the window's last pages and
 * jumps can reach mappings there.
 */
const X86_REAL_CODE_ADDR = 0x4_8000n;
/** x86 paging modes: where the VMM puts the canonical page tables, next to the code (mapped READ|WRITE). */
const X86_TABLES_ADDR = 0x20_1000n;

/**
 * VMCS fields a VMM puts back to their reset values before it (re)starts a vCPU (Intel SDM), including
 * the controls the spec's predictions assume at their reset value: the page-fault error-code mask and
 * match (0: a #PF exits exactly by bit 14 of the exception bitmap) and the CR3-target count (0: every
 * CR3 write exits under CR3-load exiting).
 */
const VMM_VMCS_RESET: readonly (readonly [number, bigint])[] = [
  [VMCS.VMCS_GUEST_IA32_EFER, 0n],
  [VMCS.VMCS_GUEST_IA32_PAT, 0x0007_0406_0007_0406n],
  [VMCS.VMCS_GUEST_ACTIVITY_STATE, 0n],
  [VMCS.VMCS_GUEST_IGNORE_IRQ, 0n],
  [VMCS.VMCS_GUEST_DEBUG_EXC, 0n],
  [VMCS.VMCS_GUEST_LINK_POINTER, 0xffff_ffff_ffff_ffffn],
  [VMCS.VMCS_CTRL_VMENTRY_IRQ_INFO, 0n],
  [VMCS.VMCS_CTRL_PF_ERROR_MASK, 0n],
  [VMCS.VMCS_CTRL_PF_ERROR_MATCH, 0n],
  [VMCS.VMCS_CTRL_CR3_COUNT, 0n],
];

/**
 * x86 registers a VMM puts back: DR6/DR7 bits 63:32 must be 0, TPR is 4 bits, XCR0.x87 must be 1 (Intel SDM,
 * VM-entry checks).
 */
const X86_REGISTER_RESET: readonly (readonly [number, bigint])[] = [
  [HV_X86_REG.HV_X86_DR6, 0xffff0ff0n],
  [HV_X86_REG.HV_X86_DR7, 0x400n],
  [HV_X86_REG.HV_X86_TPR, 0n],
  [HV_X86_REG.HV_X86_XCR0, 1n],
];

/**
 * arm64 system registers a VMM puts back: EL1h with the MMU off (and TCR_EL1 0: the model does not run
 * top-byte-ignore), the virtual timer off (hvf-facts §2.6, §5.7: fresh state is undefined) and self-hosted
 * debug off (MDSCR_EL1.SS and MDE clear: with trap-debug-exceptions on, a software step or breakpoint armed
 * by an earlier hv_vcpu_set_sys_reg would end the spin with a debug exit — Arm ARM D2).
 */
const ARM64_SYS_REG_RESET: readonly (readonly [number, bigint])[] = [
  [HV_SYS_REG.HV_SYS_REG_SCTLR_EL1, 0n],
  [HV_SYS_REG.HV_SYS_REG_TCR_EL1, 0n],
  [HV_SYS_REG.HV_SYS_REG_CNTV_CTL_EL0, 0n],
  [HV_SYS_REG.HV_SYS_REG_MDSCR_EL1, 0n],
];

/** What a guest command needs from the model: a live vCPU its owner can run, and a code page. */
interface GuestSetup {
  readonly vcpu: SpecVcpu;
  readonly code: { readonly addr: bigint; readonly size: number; readonly uva: Uva };
}

/**
 * Finds a runnable vCPU and makes sure a code page is mapped READ|EXEC at the code address, making
 * the host buffer and the mapping through checked calls when they are missing. Returns undefined
 * when the state does not allow a guest run (no VM, no vCPU, a pending kick, or the code address is
 * taken by something else).
 */
async function prepare(m: Model, r: Real, index: number, at?: bigint): Promise<GuestSetup | undefined> {
  const s = m.state;
  // The spec predicts no guest behaviour in a VM with an in-framework GIC (hvf-facts §2.7: which exits
  // still reach the VMM there is undocumented [U]).
  if (!s.vm || s.vm.gic) return undefined;
  const live = [...s.vcpus.values()].filter((v) => !v.cancel);
  const vcpu = live[index % Math.max(live.length, 1)];
  if (!vcpu) return undefined;
  const arch = s.env.arch;
  const page = s.vm.granule;
  const addr = at ?? CODE_ADDR[arch];
  const maps = s.vm.spaces.get(vcpu.space) ?? [];
  const existing = maps.find((x) => addr >= x.addr && addr < x.addr + x.size);
  if (existing) {
    const mem = m.mems.get(existing.mem);
    const rx = HV_MEMORY.READ | HV_MEMORY.EXEC;
    if (!mem || existing.addr !== addr || (existing.flags & rx) !== rx || existing.flags & HV_MEMORY.WRITE)
      return undefined;
    return { vcpu, code: { addr, size: page, uva: { mem, offset: existing.offset } } };
  }
  if (m.mems.size >= 6) return undefined;
  const mem = await mapNewBuffer(m, r, vcpu.space, addr, BigInt(page), HV_MEMORY.READ | HV_MEMORY.EXEC);
  return { vcpu, code: { addr, size: page, uva: { mem, offset: 0 } } };
}

/**
 * What a VMM does before it (re)starts a vCPU whose state earlier commands may have scrambled: put back
 * the registers the canonical setup (Apple's test, on a fresh vCPU) does not write but VM entry or the
 * guest program depends on. All through checked calls.
 */
async function vmmReset(m: Model, r: Real, vcpu: SpecVcpu): Promise<void> {
  const t = vcpu.owner;
  const handle = forgeVcpu(vcpu.handle);
  const writes =
    m.state.env.arch === 'x86_64'
      ? [
          ...X86_REGISTER_RESET.map(([reg, value]) => ({
            name: 'hv_vcpu_write_register',
            args: { reg, value },
          })),
          ...VMM_VMCS_RESET.map(([field, value]) => ({
            name: 'hv_vmx_vcpu_write_vmcs',
            args: { field, value },
          })),
          // The predictions assume no native MSR (every RDMSR/WRMSR exits, predict.ts): the VMM takes
          // back those an earlier command made native.
          ...[...vcpu.nativeMsrs].map((msr) => ({
            name: 'hv_vcpu_enable_native_msr',
            args: { msr, enable: false },
          })),
        ]
      : ARM64_SYS_REG_RESET.map(([reg, value]) => ({ name: 'hv_vcpu_set_sys_reg', args: { reg, value } }));
  for (const { name, args } of writes) await execute(m, r, { name, t, args: { vcpu: handle, ...args } });
}

/**
 * The arm64 table area: mapped READ|WRITE at ARM64_TABLES through checked calls when it is missing;
 * undefined when something else is there or no more buffers may be made (then no MMU scenarios).
 */
async function prepareArm64Tables(
  m: Model,
  r: Real,
): Promise<{ ipa: bigint; size: number; uva: Uva } | undefined> {
  const s = m.state;
  if (!s.vm) return undefined;
  const { ipa, size } = ARM64_TABLES;
  if (BigInt(size) % BigInt(s.vm.granule) !== 0n || ipa + BigInt(size) > s.vm.addrLimit) return undefined;
  const maps = s.vm.spaces.get(0) ?? [];
  const rw = HV_MEMORY.READ | HV_MEMORY.WRITE;
  const existing = maps.find((x) => x.addr < ipa + BigInt(size) && ipa < x.addr + x.size);
  if (existing) {
    const mem = m.mems.get(existing.mem);
    if (!mem || existing.addr !== ipa || existing.size !== BigInt(size) || existing.flags !== rw)
      return undefined;
    return { ipa, size, uva: { mem, offset: existing.offset } };
  }
  if (m.mems.size >= 6) return undefined;
  const mem = await mapNewBuffer(m, r, 0, ipa, BigInt(size), rw);
  const mapped = (s.vm?.spaces.get(0) ?? []).some((x) => x.addr === ipa);
  return mapped ? { ipa, size, uva: { mem, offset: 0 } } : undefined;
}

/** The mappings of the vCPU's address space, with their host buffers, as the scenarios want them. */
function layoutMappings(m: Model, v: SpecVcpu): { addr: bigint; size: bigint; flags: number; uva?: Uva }[] {
  return (m.state.vm?.spaces.get(v.space) ?? []).map((x) => {
    const mem = m.mems.get(x.mem);
    return { addr: x.addr, size: x.size, flags: x.flags, ...(mem ? { uva: { mem, offset: x.offset } } : {}) };
  });
}

/**
 * An x86 mapping of exactly `size` bytes at `addr` with `flags` and a host buffer of its own, made
 * through checked calls when missing: the page tables' place of the paging modes, and the real-mode
 * code segment's data page. Undefined when something else is there (an earlier command mapped or
 * protected that range differently) or no buffer can be made.
 */
async function ensureX86Mapping(
  m: Model,
  r: Real,
  vcpu: SpecVcpu,
  addr: bigint,
  size: bigint,
  flags: number,
): Promise<{ gpa: bigint; uva: Uva } | undefined> {
  const maps = m.state.vm?.spaces.get(vcpu.space) ?? [];
  const hit = maps.filter((x) => x.addr < addr + size && addr < x.addr + x.size);
  if (hit.length) {
    const t = hit[0]!;
    const mem = m.mems.get(t.mem);
    if (hit.length !== 1 || !mem || t.addr !== addr || t.size < size || (t.flags & 7) !== flags)
      return undefined;
    return { gpa: addr, uva: { mem, offset: t.offset } };
  }
  if (m.mems.size >= 6) return undefined;
  const mem = await mapNewBuffer(m, r, vcpu.space, addr, size, flags);
  const made = (m.state.vm?.spaces.get(vcpu.space) ?? []).find((x) => x.addr === addr && x.mem === mem.id);
  return made ? { gpa: addr, uva: { mem, offset: 0 } } : undefined;
}

/**
 * A new host buffer of `size` bytes for the guest's own pages (code, page tables), mapped whole at `addr`
 * in address space `space` with `flags` through a checked map call.
 */
async function mapNewBuffer(
  m: Model,
  r: Real,
  space: number,
  addr: bigint,
  size: bigint,
  flags: number,
): Promise<HostMemory> {
  const mem = r.backend.host_alloc(Number(size));
  m.mems.set(mem.id, mem);
  m.codeMems.add(mem.id);
  m.state.buffers.set(mem.id, mem.size);
  r.log.push({ kind: 'host_alloc', mem });
  await execute(m, r, {
    name: space === 0 ? 'hv_vm_map' : 'hv_vm_map_space',
    t: 0,
    args: {
      ...(space === 0 ? {} : { asid: space }),
      uva: { mem, offset: 0 },
      [m.state.env.arch === 'x86_64' ? 'gpa' : 'ipa']: addr,
      size,
      flags,
    },
  });
  return mem;
}

/** Whether every mapping's permissions are ones the backend enforces exactly (else the prediction cannot hold). */
function enforceable(backend: Backend, maps: readonly { flags: number }[]): boolean {
  return maps.every((x) => backend.capabilities.enforcedPermissions.includes(x.flags & 7));
}

/**
 * A command that runs guest code on a vCPU it sets up itself (so it always applies), printed as what it
 * ran once it has run.
 */
abstract class GuestRunCommand implements HvCommand {
  protected summary: string;
  constructor(
    readonly label: string,
    /** Picks the live vCPU the command runs on (see `prepare`). */
    protected readonly index: number,
  ) {
    this.summary = `${label}(—)`;
  }
  check(): boolean {
    return true;
  }
  abstract run(m: Model, r: Real): Promise<void>;
  toString(): string {
    return this.summary;
  }
}

/** Runs one generated program. */
export class GuestCommand extends GuestRunCommand {
  constructor(
    index: number,
    private readonly seed: number,
  ) {
    super('guest', index);
  }
  async run(m: Model, r: Real): Promise<void> {
    // x86: the mode comes from the seed (bit 0 picks hv_vcpu_run or hv_vcpu_run_until below).
    let mode: X86Mode = X86_MODES[(this.seed >>> 1) % X86_MODES.length]!;
    const x86 = m.state.env.arch === 'x86_64';
    // A mode the backend declares it cannot run (deviation x86.mode.<mode>): the program runs in prot32.
    if (r.backend.capabilities.deviations.some((d) => d.id === x86ModeDeviation(mode))) mode = 'prot32';
    const setup = await prepare(m, r, this.index, x86 && mode === 'real' ? X86_REAL_CODE_ADDR : undefined);
    if (!setup) return;
    const { vcpu, code } = setup;
    const rw = HV_MEMORY.READ | HV_MEMORY.WRITE;
    const tables =
      x86 && x86ModePaging(mode)
        ? await ensureX86Mapping(m, r, vcpu, X86_TABLES_ADDR, x86PageTablesSize(mode as 'long64'), rw)
        : undefined;
    // Without room for the page tables the program runs with paging off.
    if (x86 && x86ModePaging(mode) && !tables) mode = 'prot32';
    // Real mode: a data page in the code segment, which jumps can reach (a fetch there is an EPT violation).
    if (x86 && mode === 'real') await ensureX86Mapping(m, r, vcpu, X86_REAL_CODE_ADDR + 0x1000n, 0x1000n, rw);
    const maps = layoutMappings(m, vcpu);
    if (!enforceable(r.backend, maps)) {
      r.log.push({
        kind: 'skipped',
        call: { name: 'guest', t: vcpu.owner, args: {} },
        why: 'a mapping has permissions this backend cannot enforce',
      });
      return;
    }
    const handle = forgeVcpu(vcpu.handle);
    const memName = (mem: HostMemory): string => `mem${mem.id}`;
    let report: ScenarioReport;
    /** arm64: whether the scenario ran (the runner runs nothing of one it does not predict). */
    let ran = true;
    if (m.state.env.arch === 'x86_64') {
      await vmmReset(m, r, vcpu);
      // Earlier programs of other vCPUs may have left their page tables at the paging modes' place.
      const tablesSize = x86PageTablesSize('long64');
      const otherTables = maps.some(
        (x) => x.addr < X86_TABLES_ADDR + tablesSize && X86_TABLES_ADDR < x.addr + x.size,
      )
        ? { otherTables: { gpa: X86_TABLES_ADDR, size: tablesSize } }
        : {};
      const layout: X86Layout = {
        mappings: maps.map((x) => ({ ...x, gpa: x.addr })),
        code: { gpa: code.addr, size: code.size, uva: code.uva },
        ...(tables ? { tables } : {}),
        ...otherTables,
      };
      const scenario = sample(x86ScenarioArb(layout, mode, r.backend.capabilities), this.seed) as X86Scenario;
      this.summary = `t${vcpu.owner}: guest x86 ${mode} program of ${scenario.program.actions.length} actions on vcpu ${vcpu.handle}`;
      const x = r.backend as X86Backend;
      const readCapability = (id: number): bigint => x.hv_vmx_read_capability(0, id).value ?? 0n;
      // The trace is rendered later, when guest memory may have changed: it shows the prediction the run
      // was judged against, made from the memory as it was then (that of the backend the trace shows).
      let judged: X86Prediction | undefined;
      r.log.push({
        kind: 'guest',
        render: (name) =>
          x86ScenarioTraceSteps(scenario, {
            vcpu: name(vcpu.handle),
            thread: vcpu.owner,
            memName,
            readCapability,
            ...(judged ? { prediction: judged } : {}),
          }),
      });
      // Half the programs run through hv_vcpu_run_until(HV_DEADLINE_FOREVER), the call QEMU uses since
      // macOS 11 (hvf-facts §1.7, §5.1); the spec predicts the same exits for both.
      const viaUntil = (this.seed & 1) === 1;
      report = onEach(r.backend, handle, (b, v, mem) => {
        const run = runX86Scenario(
          viaUntil ? runUntilForever(b as X86Backend) : (b as X86Backend),
          vcpu.owner,
          v,
          {
            ...scenario,
            layout: x86LayoutOn(scenario.layout, mem),
          },
        );
        judged ??= run.prediction;
        return run;
      });
      m.coverage.add(viaUntil ? 'hv_vcpu_run_until.guest' : 'hv_vcpu_run.guest');
    } else {
      const tables = await prepareArm64Tables(m, r);
      // Stage-1 granules the vCPU implements, as its ID_AA64MMFR0_EL1 says (Apple's cores lack 64 KiB).
      const mmfr0 = (r.backend as Arm64Backend).hv_vcpu_get_sys_reg(
        vcpu.owner,
        handle,
        HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR0_EL1,
      );
      const layout: Arm64Layout = {
        mappings: layoutMappings(m, vcpu).map((x) => ({ ...x, ipa: x.addr })),
        code: { ipa: code.addr, size: code.size, uva: code.uva },
        ...(tables ? { tables } : {}),
        ipaBits: Number(m.state.vm?.addrLimit.toString(2).length ?? 37) - 1,
        granules: mmfr0.ret === HV.HV_SUCCESS ? arm64Granules(mmfr0.value ?? 0n) : [],
        ...coreOf(first(r.backend) as Arm64Backend, vcpu, handle),
      };
      // Without what the backend declares it cannot show (Deviation.arm64ExitKinds): not generated. In a
      // differential run each backend's core is asked, as each backend's run is predicted for its own.
      let scenario: Arm64Scenario | undefined = sample(arm64ScenarioArb(layout), this.seed) as Arm64Scenario;
      for (const core of coresOf(r.backend, vcpu, handle)) {
        if (!scenario) break;
        const on = { ...scenario.layout, ...core };
        const kept = arm64ScenarioFor(
          r.backend.capabilities,
          { ...scenario, layout: on },
          arm64HostByteReader(r.backend as Arm64Backend, on),
        );
        scenario = kept && { ...kept, layout: layout };
      }
      if (!scenario) {
        r.log.push({
          kind: 'skipped',
          call: { name: 'guest', t: vcpu.owner, args: {} },
          why: 'the program needs an exit kind this backend declares it never produces',
        });
        return;
      }
      this.summary = `t${vcpu.owner}: guest arm64 program of ${scenario.actions.length} actions on vcpu ${vcpu.handle}`;
      // A scenario the runner does not run (outside the prediction, or needing what the backend cannot
      // enforce) makes no call at all: the trace shows nothing of it, and the vCPU is as it was.
      r.log.push({
        kind: 'guest',
        render: (name) =>
          ran
            ? arm64ScenarioTraceSteps(scenario, {
                vcpu: name(vcpu.handle),
                thread: vcpu.owner,
                memName,
                masked: r.backend.capabilities.backend !== 'model',
              })
            : [],
      });
      // Each backend's run is predicted for its own core (FEAT_IDST, FEAT_LSE2), read as its vCPU reports it.
      report = onEach(r.backend, handle, (b, v, mem) =>
        runArm64Scenario(b as Arm64Backend, vcpu.owner, v, {
          ...scenario,
          layout: { ...arm64LayoutOn(scenario.layout, mem), ...coreOf(b as Arm64Backend, vcpu, v) },
        }),
      );
      ran = report.unsupported === undefined;
      if (ran) {
        // The state the scenario's VMM left: its debug traps, the vtimer unmasked (hvf-facts.md §2.4, §2.6).
        vcpu.trapDebugExceptions = scenario.trapDebug ?? true;
        vcpu.trapDebugRegAccesses = scenario.trapDebugRegs ?? false;
        vcpu.vtimerMask = false;
      }
    }
    if (ran) afterGuestRun(vcpu);
    if (m.state.env.arch === 'arm64') m.coverage.add('hv_vcpu_run.guest');
    if (report.unsupported) {
      r.log.push({
        kind: 'skipped',
        call: { name: 'guest', t: vcpu.owner, args: {} },
        why: report.unsupported,
      });
      return;
    }
    for (const k of report.exitsCovered) m.exits.add(k);
    if (!report.ok) {
      const first = report.mismatches[0];
      throw new ConformanceError(
        `${this.summary}: exit ${first?.exitIndex}: ${first?.field}: expected ${first?.expected}, got ${first?.got}` +
          (report.mismatches.length > 1 ? ` (and ${report.mismatches.length - 1} more)` : ''),
      );
    }
  }
}

type ScenarioReport = {
  ok: boolean;
  mismatches: readonly { exitIndex: number; field: string; expected: string; got: string }[];
  exitsCovered: readonly string[];
  unsupported?: string;
};

/**
 * Runs a scenario on the backend — or, in differential mode, on each of the two backends on its own,
 * each judged against the prediction, with the vCPU and buffers translated to the second backend's.
 */
function onEach(
  backend: Backend,
  vcpu: ReturnType<typeof forgeVcpu>,
  run: (b: Backend, v: ReturnType<typeof forgeVcpu>, mem: (m: HostMemory) => HostMemory) => ScenarioReport,
): ScenarioReport {
  const diff = (backend as Partial<DiffingBackend>).diff;
  if (!diff) return run(backend, vcpu, (m) => m);
  const a = run(diff.a, vcpu, (m) => m);
  const b = run(diff.b, forgeVcpu(diff.vcpuOfB(vcpu)), (m) => diff.memOfB(m));
  const tag = (which: string, r: ScenarioReport) =>
    r.mismatches.map((x) => ({ ...x, field: `${which}: ${x.field}` }));
  return {
    ok: a.ok && b.ok,
    mismatches: [...tag(diff.a.capabilities.backend, a), ...tag(diff.b.capabilities.backend, b)],
    exitsCovered: a.exitsCovered.filter((k) => b.exitsCovered.includes(k)),
    ...(a.unsupported || b.unsupported ? { unsupported: a.unsupported ?? b.unsupported } : {}),
  };
}

/** The backend itself, or in differential mode the first of the two (whose run the trace shows). */
function first(backend: Backend): Backend {
  return (backend as Partial<DiffingBackend>).diff?.a ?? backend;
}

/** {@link coreOf} the backend's vCPU, or in differential mode of each backend's. */
function coresOf(
  backend: Backend,
  v: SpecVcpu,
  handle: ReturnType<typeof forgeVcpu>,
): ReturnType<typeof coreOf>[] {
  const diff = (backend as Partial<DiffingBackend>).diff;
  if (!diff) return [coreOf(backend as Arm64Backend, v, handle)];
  return [
    coreOf(diff.a as Arm64Backend, v, handle),
    coreOf(diff.b as Arm64Backend, v, forgeVcpu(diff.vcpuOfB(handle))),
  ];
}

/**
 * Whether the vCPU's core implements FEAT_IDST and FEAT_LSE2, from its ID_AA64MMFR2_EL1 — `'unknown'`
 * once the VMM wrote a feature ID register of it (then it reads that value, whatever the core does).
 */
function coreOf(
  b: Arm64Backend,
  v: SpecVcpu,
  handle: ReturnType<typeof forgeVcpu>,
): { idst: boolean | 'unknown'; lse2: boolean | 'unknown' } {
  if (v.idRegsWritten) return { idst: 'unknown', lse2: 'unknown' };
  const r = b.hv_vcpu_get_sys_reg(v.owner, handle, HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR2_EL1);
  if (r.ret !== HV.HV_SUCCESS) return { idst: 'unknown', lse2: 'unknown' };
  return { idst: arm64Idst(r.value ?? 0n), lse2: arm64Lse2(r.value ?? 0n) };
}

function x86LayoutOn(l: X86Layout, mem: (m: HostMemory) => HostMemory): X86Layout {
  return {
    mappings: l.mappings.map((x) =>
      x.uva ? { ...x, uva: { mem: mem(x.uva.mem), offset: x.uva.offset } } : x,
    ),
    code: { ...l.code, uva: { mem: mem(l.code.uva.mem), offset: l.code.uva.offset } },
    ...(l.tables
      ? { tables: { ...l.tables, uva: { mem: mem(l.tables.uva.mem), offset: l.tables.uva.offset } } }
      : {}),
  };
}

function arm64LayoutOn(l: Arm64Layout, mem: (m: HostMemory) => HostMemory): Arm64Layout {
  return {
    ...l,
    mappings: l.mappings.map((x) =>
      x.uva ? { ...x, uva: { mem: mem(x.uva.mem), offset: x.uva.offset } } : x,
    ),
    code: { ...l.code, uva: { mem: mem(l.code.uva.mem), offset: l.code.uva.offset } },
    ...(l.tables
      ? { tables: { ...l.tables, uva: { mem: mem(l.tables.uva.mem), offset: l.tables.uva.offset } } }
      : {}),
  };
}

/** The backend with `hv_vcpu_run` answered by `hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER)`. */
function runUntilForever(b: X86Backend): X86Backend {
  return new Proxy(b, {
    get(target, prop, receiver) {
      if (prop === 'hv_vcpu_run')
        return (t: number, v: never) => target.hv_vcpu_run_until(t, v, HV_DEADLINE_FOREVER);
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function sample<T>(arb: fc.Arbitrary<T>, seed: number): T {
  const [v] = fc.sample(arb, { seed, numRuns: 1 });
  if (v === undefined) throw new Error('harness: could not generate a guest program');
  return v;
}

/** The spin instruction: x86 `jmp $` (EB FE), arm64 `b .` (0x14000000). */
const SPIN: Record<Arch, Uint8Array> = {
  x86_64: Uint8Array.of(0xeb, 0xfe),
  arm64: Uint8Array.of(0x00, 0x00, 0x00, 0x14),
};

/**
 * Cancellation: a guest spinning in a one-instruction loop runs asynchronously on its owner thread;
 * another thread kicks it (`hv_vcpus_exit` / `hv_vcpu_interrupt`); the run must return HV_SUCCESS with
 * the guest still at the loop (arm64: reason CANCELED, hvf-facts §2.4 [H]; x86: an exit, reason
 * unspecified [U], RIP at the jmp since the framework never advances it §1.7 [T]).
 */
export class SpinCancelCommand extends GuestRunCommand {
  constructor(
    index: number,
    private readonly kicker: number,
    private readonly delayMs: number,
  ) {
    super('spin-cancel', index);
  }
  async run(m: Model, r: Real): Promise<void> {
    const setup = await prepare(m, r, this.index);
    if (!setup) return;
    const { vcpu, code } = setup;
    const arch = m.state.env.arch;
    const t = vcpu.owner;
    // Thread 0 is the caller's own: it cannot sit in a spinning guest and kick it at the same time.
    if (t === 0) return;
    const handle = forgeVcpu(vcpu.handle);
    const kicker = this.kicker === t ? (t + 1) % 5 : this.kicker;
    this.summary = `t${t}: spin on vcpu ${vcpu.handle}, kicked from t${kicker} after ${this.delayMs} ms`;
    await vmmReset(m, r, vcpu);
    const b = r.backend;
    b.host_write(code.uva.mem, code.uva.offset, SPIN[arch]);
    r.log.push({ kind: 'host_write', mem: code.uva.mem, offset: code.uva.offset, bytes: SPIN[arch] });
    const fail = (what: string): never => {
      throw new ConformanceError(`${this.summary}: ${what}`);
    };
    let running: Promise<{ ret: number; value?: unknown }>;
    if (arch === 'x86_64') {
      const x = b as X86Backend;
      writeX86Prot32Setup(x, t, handle, code.addr, (what, ret) => {
        if (ret !== HV.HV_SUCCESS) fail(`setup: ${what} returned ${hvReturnName(ret)}`);
      });
      running = x.hv_vcpu_run_async(t, handle);
    } else {
      const a = b as Arm64Backend;
      for (const [reg, value] of [
        [HV_REG.HV_REG_PC, code.addr],
        [HV_REG.HV_REG_CPSR, 0x3c5n],
      ] as const) {
        const ret = a.hv_vcpu_set_reg(t, handle, reg, value).ret;
        if (ret !== HV.HV_SUCCESS) fail(`setup: hv_vcpu_set_reg(${reg}) returned ${hvReturnName(ret)}`);
      }
      running = a.hv_vcpu_run_async(t, handle);
    }
    // Observe a rejection now; it is reported when the run is awaited below.
    running.catch(() => undefined);
    // The trace shows the run started, the kick as the call it is (its own log entry, judged by the
    // spec), then the await: a label per spin, so that a trace may hold several.
    const label = `spin${r.log.length}`;
    const steps = spinSteps(arch, t, label, code.addr);
    r.log.push({ kind: 'guest', render: (name) => steps.start(name(vcpu.handle)) });
    await new Promise((res) => setTimeout(res, this.delayMs));
    try {
      await execute(m, r, {
        name: arch === 'x86_64' ? 'hv_vcpu_interrupt' : 'hv_vcpus_exit',
        t: kicker,
        args: { vcpus: [handle], vcpu_count: 1 },
      });
    } finally {
      r.log.push({ kind: 'guest', render: (name) => steps.finish(name(vcpu.handle)) });
    }
    const result = await running;
    // The kick is consumed by this run, whether it arrived during the run or just before it.
    vcpu.cancel = false;
    afterGuestRun(vcpu);
    m.coverage.add('hv_vcpu_run.guest');
    if (result.ret !== HV.HV_SUCCESS)
      fail(`hv_vcpu_run returned ${hvReturnName(result.ret)}, expected HV_SUCCESS`);
    if (arch === 'arm64') {
      const exit = result.value as { reason: number } | undefined;
      if (exit?.reason !== HV_EXIT_REASON.HV_EXIT_REASON_CANCELED)
        fail(`exit reason ${exit?.reason}, expected HV_EXIT_REASON_CANCELED`);
      const pc = (b as Arm64Backend).hv_vcpu_get_reg(t, handle, HV_REG.HV_REG_PC);
      if (pc.value !== code.addr)
        fail(`PC 0x${pc.value?.toString(16)}, expected 0x${code.addr.toString(16)} (the spin loop)`);
      m.exits.add('arm64.canceled');
    } else {
      const rip = (b as X86Backend).hv_vmx_vcpu_read_vmcs(t, handle, VMCS.VMCS_GUEST_RIP);
      if (rip.value !== code.addr)
        fail(`RIP 0x${rip.value?.toString(16)}, expected 0x${code.addr.toString(16)} (the spin loop)`);
      m.exits.add('x86.kick');
    }
  }
}

/** The trace steps of a spin: `start` before the kick (setup, the async run), `finish` after it. */
function spinSteps(
  arch: Arch,
  t: number,
  label: string,
  addr: bigint,
): { start: (vcpu: string) => unknown[]; finish: (vcpu: string) => unknown[] } {
  const on = (s: Record<string, unknown>) => (t ? { thread: t, ...s } : s);
  const hex = `0x${addr.toString(16)}`;
  const setup = (vcpu: string): unknown[] =>
    arch === 'x86_64'
      ? [on({ call: 'x86_setup', args: { vcpu: `$${vcpu}`, mode: 'prot32', rip: hex } })]
      : [
          on({
            call: 'hv_vcpu_set_reg',
            args: { vcpu: `$${vcpu}`, reg: 'HV_REG_PC', value: hex },
            expect: { ret: 'HV_SUCCESS' },
          }),
          on({
            call: 'hv_vcpu_set_reg',
            args: { vcpu: `$${vcpu}`, reg: 'HV_REG_CPSR', value: '0x3c5' },
            expect: { ret: 'HV_SUCCESS' },
          }),
        ];
  const awaitExpect =
    arch === 'x86_64'
      ? { ret: 'HV_SUCCESS' }
      : { ret: 'HV_SUCCESS', exit: { reason: 'HV_EXIT_REASON_CANCELED' } };
  const check = (vcpu: string): unknown =>
    arch === 'x86_64'
      ? on({
          call: 'hv_vmx_vcpu_read_vmcs',
          args: { vcpu: `$${vcpu}`, field: 'VMCS_GUEST_RIP' },
          expect: { ret: 'HV_SUCCESS', value: hex },
        })
      : on({
          call: 'hv_vcpu_get_reg',
          args: { vcpu: `$${vcpu}`, reg: 'HV_REG_PC' },
          expect: { ret: 'HV_SUCCESS', value: hex },
        });
  return {
    start: (vcpu) => [
      ...setup(vcpu),
      on({ call: 'hv_vcpu_run', args: { vcpu: `$${vcpu}` }, async: true, label }),
    ],
    // An await runs on the async step's own thread: the trace format forbids a thread on it.
    finish: (vcpu) => [{ call: 'await', args: { label }, expect: awaitExpect }, check(vcpu)],
  };
}

/** The guest commands for a backend that executes guest code (none otherwise). */
export function guestCommands(arch: Arch, backend: Backend): Weighted[] {
  if (!backend.capabilities.guestExecution) return [];
  // arm64 has more API calls beside the guest (configurations, memory, the GIC): the programs keep
  // their share of the commands.
  return [
    {
      weight: arch === 'arm64' ? 11 : 8,
      arbitrary: fc.tuple(fc.nat(7), fc.integer()).map(([i, seed]) => new GuestCommand(i, seed)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat(7), fc.nat(4), fc.integer({ min: 0, max: 3 }))
        .map(([i, kicker, delay]) => new SpinCancelCommand(i, kicker, delay)),
    },
  ];
}
