/**
 * Races the spec decides, as scenarios any backend can run (the model, the native backend, el2), over
 * many iterations. In JavaScript synchronous calls are sequential; what overlaps them is an async run
 * (`hv_vcpu_run_async`) on another logical thread, so each scenario keeps guests running while other
 * threads call. Every call is judged by the registry's rows through {@link execute}, with the spec's
 * state as the model; a run's outcome is judged against what the spec allows for it:
 *
 * - `cancel-vs-run`: a kick (`hv_vcpu_interrupt` / `hv_vcpus_exit`, from any thread) before, right
 *   after or a while after a run of a spinning guest starts, once or twice. The run returns
 *   HV_SUCCESS at the loop (arm64: HV_EXIT_REASON_CANCELED; x86: an exit of unspecified reason with RIP
 *   in the loop), never hangs: a kick is never lost (hvf-facts §2.4 [H], §1.7 [R]). A kick that lands
 *   after the run ended stays pending for the next run, which then returns at once (sticky, §5.2).
 * - `memory-vs-run`: a guest loads from a data page in a loop while thread 0 unmaps, remaps and
 *   protects it and maps, unmaps and protects the pages next to the code and the data (memory calls are
 *   process-wide: any thread, any time). The run ends only in a kick, or in a fault on the data page at
 *   its load after the page stopped being readable; never a fault on the code or on a page it does not
 *   touch, never an error. On x86 a fault where the page now allows the access is a spurious exit the
 *   VMM runs again, as the spec allows for `hv_vcpu_run` (§5.1).
 * - `vcpu-churn`: logical threads create and destroy vCPUs, write their registers, run spinning guests
 *   asynchronously and kick them from other threads, in random order, up to the vCPU limit; at the end
 *   every vCPU and the VM go. Creates, destroys and kicks are judged by the rows (handles, owners,
 *   limits, stale handles).
 * - `destroy-vs-cancel` (dangerous: the model only): kicks that land before a vCPU's destroy, after it
 *   (a stale handle), and after its handle was given to a new vCPU. The spec: a stale handle is not
 *   HV_SUCCESS; a kick of a recycled handle cancels the new vCPU's next run; a kick before a destroy
 *   goes with the vCPU, so a new vCPU's first run is not cancelled. Reported to panic real hosts when
 *   the destroy and the kick race (hvf-facts §3, §5.17 [R]): calls the spec marks `dangerous`.
 *
 * A violation throws {@link ConformanceError} naming the race, the iteration, the seed and the calls.
 * @module
 */
import type {
  Arch,
  Arm64Backend,
  Arm64Exit,
  Backend,
  HostMemory,
  Result,
  ThreadId,
  Vcpu,
} from '../backend.js';
import { basicExitReason, decodeEptQualification, isSpuriousExitReason } from '../guest/x86/exits.js';
import { writeX86Prot32Setup } from '../guest/x86/setup.js';
import { envFromCapabilities, initialState } from '../state.js';
import { ESR_EC, HV_EXIT_REASON, HV_REG } from '../vocabulary/arm64.js';
import { HV_MEMORY } from '../vocabulary/memory.js';
import { HV, hvReturnName } from '../vocabulary/returns.js';
import { HV_X86_REG, VMCS, VMX_REASON } from '../vocabulary/x86.js';
import type { Model, Real } from './context.js';
import { describeCall } from './describe.js';
import { ConformanceError, execute } from './execute.js';

/** The races. */
export type RaceName = 'cancel-vs-run' | 'memory-vs-run' | 'vcpu-churn' | 'destroy-vs-cancel';

/** One entry of {@link RACES}: a race's name, a one-line description, and whether a real host may run it. */
export interface RaceScenario {
  readonly name: RaceName;
  readonly description: string;
  /** Makes calls the spec marks dangerous on real hardware: run on the model only. */
  readonly dangerous: boolean;
}

/** Every race, in the order the tests run them. */
export const RACES: readonly RaceScenario[] = [
  {
    name: 'cancel-vs-run',
    description: 'a kick before, during or after a run of a spinning guest; the run returns at the loop',
    dangerous: false,
  },
  {
    name: 'memory-vs-run',
    description: 'map, unmap and protect while a guest loads from the page in a loop',
    dangerous: false,
  },
  {
    name: 'vcpu-churn',
    description: 'threads creating, running, kicking and destroying vCPUs in random order',
    dangerous: false,
  },
  {
    name: 'destroy-vs-cancel',
    description: 'kicks around a destroy and a recycled handle (dangerous on real hosts)',
    dangerous: true,
  },
];

/** Options of {@link runRace}. */
export interface RaceOptions {
  /** Iterations (default 100). */
  readonly iterations?: number;
  /** Seed of the random choices (default: from the clock). Timing on a real backend is not seeded. */
  readonly seed?: number;
  /** How long a kicked run may take to return before the kick counts as lost, ms (default 10000). */
  readonly kickTimeoutMs?: number;
  /** Run a dangerous race (default: only on the model). */
  readonly allowDangerous?: boolean;
}

/**
 * What {@link runRace} saw when every outcome was one the spec allows (otherwise it throws): the seed that
 * replays the random choices, the outcomes met and the rows the calls hit.
 */
export interface RaceReport {
  readonly race: RaceName;
  readonly arch: Arch;
  readonly backend: string;
  readonly iterations: number;
  readonly seed: number;
  /** How often each allowed outcome happened (which orders and endings the iterations met). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Calls judged by the registry's rows. */
  readonly calls: number;
  /** Rule ids those calls hit. */
  readonly rulesCovered: readonly string[];
}

/** Where the scenarios put things: aligned to 16 KiB, so that every flavour's granule divides them. */
const CODE = 0x10000n;
const DATA = 0x40000n;

/** A spinning guest: x86 `jmp $`; arm64 `b .`. */
const SPIN: Record<Arch, Uint8Array> = {
  x86_64: Uint8Array.of(0xeb, 0xfe),
  arm64: Uint8Array.of(0x00, 0x00, 0x00, 0x14),
};

/**
 * A guest loading from DATA in a loop, and the offset of its load. x86 (32-bit protected mode):
 * `L: mov eax, [0x40000]` (A1 moffs32, Intel SDM Vol. 2 MOV) `; jmp L` (EB F9). arm64 (x0 = DATA):
 * `L: ldr w1, [x0]` (0xb9400001) `; b L` (0x17ffffff).
 */
const LOAD_LOOP: Record<Arch, { bytes: Uint8Array; length: number }> = {
  x86_64: { bytes: Uint8Array.of(0xa1, 0x00, 0x00, 0x04, 0x00, 0xeb, 0xf9), length: 7 },
  arm64: { bytes: Uint8Array.of(0x01, 0x00, 0x40, 0xb9, 0xff, 0xff, 0xff, 0x17), length: 8 },
};

type Rng = () => number;

/** An async run in flight, and whether it has returned yet (as the event loop has seen it). */
interface Run {
  readonly promise: Promise<Result<Arm64Exit | undefined>>;
  settled: boolean;
}

/**
 * mulberry32: a small seeded generator of numbers in [0, 1), so that a failing iteration's choices can be
 * replayed (the races use it; so may any test that wants a reproducible stream without fast-check).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A run's ending, as a VMM reads it. */
interface Ending {
  readonly ret: number;
  /** x86: the basic exit reason; arm64: the exit reason. */
  readonly reason: number;
  /** RIP / PC after the run. */
  readonly pc: bigint;
  /** x86 EPT violation / arm64 data abort: the faulting guest-physical address and the access. */
  readonly fault?: { readonly addr: bigint; readonly access: 'read' | 'write' | 'fetch' };
  /** arm64: a cancel exit; x86: an exit the kick may have caused (IRQ, or any reason not a fault). */
  readonly cancel: boolean;
  /** One line for messages. */
  readonly text: string;
}

class Race {
  readonly m: Model;
  readonly r: Real;
  readonly arch: Arch;
  readonly outcomes = new Map<string, number>();
  calls = 0;
  iteration = 0;
  readonly granule: bigint;
  private mem: HostMemory | undefined;

  constructor(
    readonly backend: Backend,
    readonly name: RaceName,
    readonly seed: number,
    readonly rnd: Rng,
    readonly kickTimeoutMs: number,
    allowDangerous: boolean,
  ) {
    this.arch = backend.arch;
    this.granule = BigInt(backend.capabilities.pageSize);
    this.m = {
      state: initialState(envFromCapabilities(backend.capabilities)),
      mems: new Map(),
      codeMems: new Set(),
      coverage: new Set(),
      exits: new Set(),
      differences: [],
    };
    this.r = { backend, log: [], allowDangerous };
  }

  count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  fail(what: string): never {
    const calls = this.r.log
      .slice(-12)
      .map((e) =>
        e.kind === 'call' ? `  ${describeCall(e.call)} -> ${hvReturnName(e.outcome.ret)}` : `  (${e.kind})`,
      )
      .join('\n');
    throw new ConformanceError(
      `${this.name} on ${this.backend.capabilities.backend} (${this.arch}), iteration ${this.iteration}, seed ${this.seed}: ${what}\nlast calls:\n${calls}`,
    );
  }

  /** A call judged by the registry's rows (throws ConformanceError on a mismatch). */
  async call(name: string, t: ThreadId, args: Record<string, unknown>): Promise<unknown> {
    this.calls++;
    // The log only serves failure messages here: keep its tail.
    if (this.r.log.length > 200) this.r.log.splice(0, 100);
    return execute(this.m, this.r, { name, t, args });
  }

  last(): number {
    const e = this.r.log[this.r.log.length - 1];
    return e?.kind === 'call' ? e.outcome.ret : HV.HV_SUCCESS;
  }

  get addrArg(): 'gpa' | 'ipa' {
    return this.arch === 'x86_64' ? 'gpa' : 'ipa';
  }

  /** The VM and one host buffer holding the code page and the data pages (8 granules). */
  async vm(): Promise<void> {
    await this.call('hv_vm_create', 0, this.arch === 'x86_64' ? { flags: 0n } : { config: null });
    if (this.last() !== HV.HV_SUCCESS) this.fail(`hv_vm_create returned ${hvReturnName(this.last())}`);
    this.mem = this.backend.host_alloc(Number(this.granule) * 8);
    this.m.mems.set(this.mem.id, this.mem);
    this.m.state.buffers.set(this.mem.id, this.mem.size);
    this.r.log.push({ kind: 'host_alloc', mem: this.mem });
  }

  /** Host page `i` of the buffer (0: code; 1..7: data and neighbours). */
  uva(i: number): { mem: HostMemory; offset: number } {
    return { mem: this.mem!, offset: i * Number(this.granule) };
  }

  async map(page: number, addr: bigint, flags: number): Promise<number> {
    await this.call('hv_vm_map', 0, { uva: this.uva(page), [this.addrArg]: addr, size: this.granule, flags });
    return this.last();
  }

  /** Writes guest code into host page 0 and maps it READ|EXEC at CODE. */
  async code(bytes: Uint8Array): Promise<void> {
    this.backend.host_write(this.mem!, 0, bytes);
    this.r.log.push({ kind: 'host_write', mem: this.mem!, offset: 0, bytes });
    if ((await this.map(0, CODE, HV_MEMORY.READ | HV_MEMORY.EXEC)) !== HV.HV_SUCCESS)
      this.fail(`mapping the code page returned ${hvReturnName(this.last())}`);
  }

  async create(t: ThreadId): Promise<Vcpu | undefined> {
    const v = await this.call('hv_vcpu_create', t, this.arch === 'x86_64' ? { flags: 0n } : { config: null });
    return this.last() === HV.HV_SUCCESS ? (v as Vcpu) : undefined;
  }

  /** Points a vCPU at CODE: x86 the spec's canonical 32-bit setup, arm64 EL1h with x0 = DATA. */
  setup(t: ThreadId, vcpu: Vcpu): void {
    const b = this.backend;
    const check = (what: string, ret: number): void => {
      if (ret !== HV.HV_SUCCESS) this.fail(`setup: ${what} returned ${hvReturnName(ret)}`);
    };
    if (b.arch === 'x86_64') {
      writeX86Prot32Setup(b, t, vcpu, CODE, check);
      check('hv_vcpu_write_register(RAX)', b.hv_vcpu_write_register(t, vcpu, HV_X86_REG.HV_X86_RAX, 0n).ret);
    } else {
      for (const [reg, value] of [
        [HV_REG.HV_REG_PC, CODE],
        [HV_REG.HV_REG_CPSR, 0x3c5n],
        [HV_REG.HV_REG_X0, DATA],
      ] as const)
        check(`hv_vcpu_set_reg(${reg})`, b.hv_vcpu_set_reg(t, vcpu, reg, value).ret);
    }
  }

  /** Puts the guest back at the top of the loop (between runs). */
  restart(t: ThreadId, vcpu: Vcpu): void {
    const b = this.backend;
    const ret =
      b.arch === 'x86_64'
        ? b.hv_vmx_vcpu_write_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP, CODE).ret
        : b.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_PC, CODE).ret;
    if (ret !== HV.HV_SUCCESS) this.fail(`putting the guest back at the loop returned ${hvReturnName(ret)}`);
  }

  run(t: ThreadId, vcpu: Vcpu): Run {
    const promise = this.backend.hv_vcpu_run_async(t, vcpu) as Promise<Result<Arm64Exit | undefined>>;
    const run: Run = { promise, settled: false };
    const settled = (): void => {
      run.settled = true;
    };
    promise.then(settled, settled);
    return run;
  }

  /**
   * Kicks a run to stop it, unless it has returned already: a kick of a vCPU that is not running stays
   * pending and ends its next run at once (sticky), so kicking every ended run would end every next
   * run before its guest ran. Returns whether it kicked.
   */
  async stop(from: ThreadId, vcpu: Vcpu, run: Run): Promise<boolean> {
    if (run.settled) return false;
    if ((await this.kick(from, vcpu)) !== HV.HV_SUCCESS)
      this.fail(`the kick returned ${hvReturnName(this.last())}`);
    return true;
  }

  async kick(from: ThreadId, vcpu: Vcpu): Promise<number> {
    await this.call(this.arch === 'x86_64' ? 'hv_vcpu_interrupt' : 'hv_vcpus_exit', from, {
      vcpus: [vcpu],
      vcpu_count: 1,
    });
    return this.last();
  }

  /** Waits for a run; a run that does not return in time after its kick is a lost kick. */
  async settle(run: Run, what: string): Promise<Result<Arm64Exit | undefined>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.kickTimeoutMs);
    });
    const r = await Promise.race([run.promise, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      // Leave nothing running: reset() kicks every run (and the backend is not judged after this).
      await this.backend.reset();
      this.fail(`${what}: the run did not return within ${this.kickTimeoutMs} ms of its kick (a lost kick)`);
    }
    return r;
  }

  /** Reads how a run ended, as a VMM does after it returns. */
  ending(t: ThreadId, vcpu: Vcpu, result: Result<Arm64Exit | undefined>): Ending {
    const b = this.backend;
    if (result.ret !== HV.HV_SUCCESS)
      return { ret: result.ret, reason: -1, pc: 0n, cancel: false, text: hvReturnName(result.ret) };
    if (b.arch === 'x86_64') {
      const read = (field: number): bigint => {
        const r = b.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
        if (r.ret !== HV.HV_SUCCESS)
          this.fail(`reading VMCS 0x${field.toString(16)} returned ${hvReturnName(r.ret)}`);
        return r.value ?? 0n;
      };
      const full = read(VMCS.VMCS_RO_EXIT_REASON);
      const reason = basicExitReason(full);
      const pc = read(VMCS.VMCS_GUEST_RIP);
      if (reason === VMX_REASON.VMX_REASON_EPT_VIOLATION) {
        const addr = read(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS);
        const access = decodeEptQualification(read(VMCS.VMCS_RO_EXIT_QUALIFIC)).access;
        return {
          ret: HV.HV_SUCCESS,
          reason,
          pc,
          fault: { addr, access },
          cancel: false,
          text: `EPT violation (${access} of 0x${addr.toString(16)}) at RIP 0x${pc.toString(16)}`,
        };
      }
      return {
        ret: HV.HV_SUCCESS,
        reason,
        pc,
        cancel: isSpuriousExitReason(full) || reason !== VMX_REASON.VMX_REASON_EPT_MISCONFIG,
        text: `exit reason ${reason} at RIP 0x${pc.toString(16)}`,
      };
    }
    const exit = result.value!;
    const a = b as Arm64Backend;
    const pc = a.hv_vcpu_get_reg(t, vcpu, HV_REG.HV_REG_PC).value ?? 0n;
    if (exit.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
      const ec = Number((exit.exception.syndrome >> 26n) & 0x3fn);
      if (ec === ESR_EC.DABT_LOWER) {
        const wnr = (exit.exception.syndrome >> 6n) & 1n;
        const addr = exit.exception.physical_address;
        return {
          ret: HV.HV_SUCCESS,
          reason: exit.reason,
          pc,
          fault: { addr, access: wnr ? 'write' : 'read' },
          cancel: false,
          text: `data abort (${wnr ? 'write' : 'read'} of 0x${addr.toString(16)}) at PC 0x${pc.toString(16)}`,
        };
      }
      return {
        ret: HV.HV_SUCCESS,
        reason: exit.reason,
        pc,
        cancel: false,
        text: `exception, EC 0x${ec.toString(16)}, at PC 0x${pc.toString(16)}`,
      };
    }
    return {
      ret: HV.HV_SUCCESS,
      reason: exit.reason,
      pc,
      cancel: exit.reason === HV_EXIT_REASON.HV_EXIT_REASON_CANCELED,
      text: `exit reason ${exit.reason} at PC 0x${pc.toString(16)}`,
    };
  }

  /** A random wait while a run goes on: none, a few event-loop turns, or up to 2 ms. */
  async pause(): Promise<string> {
    const k = this.rnd();
    if (k < 0.25) return 'at once';
    if (k < 0.6) {
      const turns = 1 + Math.floor(this.rnd() * 6);
      for (let i = 0; i < turns; i++) await new Promise((res) => setImmediate(res));
      return 'after a few turns';
    }
    await new Promise((res) => setTimeout(res, this.rnd() * 2));
    return 'after a while';
  }

  report(iterations: number): RaceReport {
    return {
      race: this.name,
      arch: this.arch,
      backend: this.backend.capabilities.backend,
      iterations,
      seed: this.seed,
      outcomes: Object.fromEntries([...this.outcomes].sort(([a], [b]) => a.localeCompare(b))),
      calls: this.calls,
      rulesCovered: [...this.m.coverage].sort(),
    };
  }
}

/** The kickers: any thread may kick (hvf-facts §1.2, §2.4 [H]); never the runner itself, which is busy. */
const KICKERS: readonly ThreadId[] = [0, 2, 3];

async function cancelVsRun(x: Race, iterations: number): Promise<void> {
  await x.vm();
  await x.code(SPIN[x.arch]);
  const t = 1;
  const v = await x.create(t);
  if (v === undefined) x.fail(`hv_vcpu_create returned ${hvReturnName(x.last())}`);
  x.setup(t, v);
  for (x.iteration = 0; x.iteration < iterations; x.iteration++) {
    const order = x.pick(['before', 'during', 'during', 'twice']);
    const from = x.pick(KICKERS);
    let when = 'before the run';
    let run: Run;
    if (order === 'before') {
      if ((await x.kick(from, v)) !== HV.HV_SUCCESS) x.fail(`the kick returned ${hvReturnName(x.last())}`);
      run = x.run(t, v);
    } else {
      run = x.run(t, v);
      when = await x.pause();
      // A run that returned before its kick (a host interrupt on x86, a kick left over) is run again.
      while (!(await x.stop(from, v, run))) {
        const early = x.ending(t, v, await x.settle(run, 'a run that returned early'));
        if (early.ret !== HV.HV_SUCCESS || !early.cancel || early.pc !== CODE)
          x.fail(`a run ended by itself in ${early.text}`);
        x.count('returned before its kick, run again');
        run = x.run(t, v);
      }
      if (order === 'twice') {
        when = `twice, ${when}`;
        await x.pause();
        // The second kick may land after the run returned: it then ends the next run at once.
        await x.stop(x.pick(KICKERS), v, run);
      }
    }
    const e = x.ending(t, v, await x.settle(run, `kicked ${when}`));
    if (e.ret !== HV.HV_SUCCESS) x.fail(`the kicked run returned ${e.text}`);
    if (!e.cancel || e.fault) x.fail(`the kicked run ended in ${e.text}, not a cancel`);
    if (e.pc !== CODE) x.fail(`the kicked run stopped at 0x${e.pc.toString(16)}, not at the loop`);
    // The kick was consumed by this run (the spec's state); one that landed after it stays pending on
    // the backend and ends the next run at once, which is allowed and looks the same.
    for (const vcpu of x.m.state.vcpus.values()) vcpu.cancel = false;
    x.count(`kicked ${when}`);
  }
  await x.call('hv_vcpu_destroy', t, { vcpu: v });
  await x.call('hv_vm_destroy', 0, {});
}

async function memoryVsRun(x: Race, iterations: number): Promise<void> {
  await x.vm();
  const { bytes, length } = LOAD_LOOP[x.arch];
  await x.code(bytes);
  const g = x.granule;
  const t = 1;
  const v = await x.create(t);
  if (v === undefined) x.fail(`hv_vcpu_create returned ${hvReturnName(x.last())}`);
  x.setup(t, v);
  const RW = HV_MEMORY.READ | HV_MEMORY.WRITE;
  // The data page (host page 3) and its flags as the VMM set them; the neighbours with their host pages:
  // the page after the code and the page after the data are contiguous with them in guest and host
  // memory, so that a backend that merges such mappings (KVM memslots) splits and merges them around a
  // running guest; the page before the data, and one further away.
  let data: number | undefined;
  const neighbours: [bigint, number][] = [
    [CODE + g, 1],
    [DATA - g, 2],
    [DATA + g, 4],
    [DATA + 4n * g, 6],
  ];
  const setData = async (flags: number | undefined): Promise<void> => {
    if (flags === undefined) {
      await x.call('hv_vm_unmap', 0, { [x.addrArg]: DATA, size: g });
    } else if (data === undefined) {
      await x.map(3, DATA, flags);
    } else {
      await x.call('hv_vm_protect', 0, { [x.addrArg]: DATA, size: g, flags });
    }
    if (x.last() !== HV.HV_SUCCESS) x.fail(`changing the data page returned ${hvReturnName(x.last())}`);
    data = flags;
  };
  const readable = (): boolean => data !== undefined && (data & HV_MEMORY.READ) !== 0;
  for (x.iteration = 0; x.iteration < iterations; x.iteration++) {
    if (data !== RW) await setData(RW);
    x.restart(t, v);
    let unreadable = false;
    let run = x.run(t, v);
    const ops = 1 + Math.floor(x.rnd() * 5);
    for (let k = 0; k < ops; k++) {
      await x.pause();
      if (x.rnd() < 0.5) {
        await setData(
          x.pick([undefined, RW, HV_MEMORY.READ, HV_MEMORY.WRITE, 7, HV_MEMORY.READ | HV_MEMORY.EXEC]),
        );
        if (!readable()) unreadable = true;
      } else {
        // A neighbour: a map, an unmap or a protect, each judged by the rows (overlaps, unmapped pages).
        const [addr, host] = x.pick(neighbours);
        const flags = x.pick([RW, 7, HV_MEMORY.READ | HV_MEMORY.EXEC, HV_MEMORY.READ]);
        const op = x.pick(['map', 'unmap', 'protect']);
        if (op === 'map') await x.map(host, addr, flags);
        else if (op === 'unmap') await x.call('hv_vm_unmap', 0, { [x.addrArg]: addr, size: g });
        else await x.call('hv_vm_protect', 0, { [x.addrArg]: addr, size: g, flags });
      }
    }
    // Give the guest time to meet the page as the calls left it, then stop it (if it has not stopped).
    await x.pause();
    await x.stop(x.pick(KICKERS), v, run);
    for (;;) {
      const e = x.ending(t, v, await x.settle(run, 'after the memory calls'));
      if (e.ret !== HV.HV_SUCCESS) x.fail(`the run returned ${e.text}`);
      if (e.fault) {
        const page = e.fault.addr - (e.fault.addr % g);
        // x86 hv_vcpu_run reports EPT violations the kernel already handled: where the page now allows
        // the access, the VMM runs again (hvf-facts §5.1; the spec's x86 scenarios do the same).
        if (x.arch === 'x86_64' && page === DATA && readable() && e.fault.access === 'read') {
          x.count('a spurious EPT violation, run again');
          run = x.run(t, v);
          await x.stop(x.pick(KICKERS), v, run);
          continue;
        }
        if (page !== DATA)
          x.fail(`a fault on 0x${e.fault.addr.toString(16)}, which the guest does not touch: ${e.text}`);
        if (e.fault.access !== 'read') x.fail(`the guest only reads the data page: ${e.text}`);
        if (!unreadable)
          x.fail(`a fault on the data page while it was readable throughout the run: ${e.text}`);
        if (e.pc !== CODE) x.fail(`the fault is not at the load (0x${CODE.toString(16)}): ${e.text}`);
        x.count('a fault on the data page once it was unreadable');
        break;
      }
      if (!e.cancel || e.pc < CODE || e.pc >= CODE + BigInt(length))
        x.fail(`the run ended in ${e.text}, neither a kick at the loop nor a fault`);
      x.count(
        unreadable ? 'the kick, the data page unreadable for a while' : 'the kick, the data page readable',
      );
      break;
    }
    for (const vcpu of x.m.state.vcpus.values()) vcpu.cancel = false;
  }
  await x.call('hv_vcpu_destroy', t, { vcpu: v });
  await x.call('hv_vm_destroy', 0, {});
}

async function vcpuChurn(x: Race, iterations: number): Promise<void> {
  await x.vm();
  await x.code(SPIN[x.arch]);
  const threads: ThreadId[] = [1, 2, 3, 4, 5, 6];
  /** Live vCPUs by owner thread (the churn keeps one per thread), and the runs in flight. */
  const owned = new Map<ThreadId, Vcpu>();
  const running = new Map<ThreadId, Run>();
  const idle = (t: ThreadId): boolean => !running.has(t);
  // KVM never frees a vCPU id before its VM (deviation kvm.vcpu-ids): the VM is made anew after this
  // many creates, which also churns the VM itself.
  let creates = 0;
  const finish = async (t: ThreadId, from: ThreadId): Promise<void> => {
    const v = owned.get(t)!;
    const run = running.get(t)!;
    await x.stop(from, v, run);
    const e = x.ending(t, v, await x.settle(run, `the run on thread ${t}`));
    running.delete(t);
    if (e.ret !== HV.HV_SUCCESS || !e.cancel || e.pc !== CODE) x.fail(`the kicked run ended in ${e.text}`);
    const sv = x.m.state.vcpus.get(v);
    if (sv) sv.cancel = false;
  };
  const teardown = async (): Promise<void> => {
    for (const t of [...running.keys()]) await finish(t, 0);
    for (const [t, v] of owned) await x.call('hv_vcpu_destroy', t, { vcpu: v });
    owned.clear();
    await x.call('hv_vm_destroy', 0, {});
    if (x.last() !== HV.HV_SUCCESS)
      x.fail(`hv_vm_destroy after the churn returned ${hvReturnName(x.last())}`);
  };
  for (x.iteration = 0; x.iteration < iterations; x.iteration++) {
    if (creates >= 40) {
      await teardown();
      await x.vm();
      await x.code(SPIN[x.arch]);
      creates = 0;
      x.count('the VM destroyed and made anew');
    }
    const t = x.pick(threads);
    const action = x.pick(['create', 'create', 'destroy', 'run', 'run', 'register', 'wrong-thread']);
    const v = owned.get(t);
    if (!idle(t)) {
      // The thread is inside a run: stop it from an idle thread (one inside a run is busy).
      await finish(t, x.pick([0, ...threads.filter((k) => idle(k))]));
      x.count('a run kicked from another thread');
    } else if (action === 'create' || v === undefined) {
      creates++;
      const created = await x.create(t);
      if (created === undefined) {
        x.count(`hv_vcpu_create refused: ${hvReturnName(x.last())}`);
      } else if (v !== undefined) {
        // A second vCPU on a thread that has one (x86 allows it): keep the first, destroy this one.
        await x.call('hv_vcpu_destroy', t, { vcpu: created });
        x.count('a second vCPU on a thread, created and destroyed');
      } else {
        owned.set(t, created);
        x.setup(t, created);
        x.count('a vCPU created');
      }
    } else if (action === 'destroy') {
      await x.call('hv_vcpu_destroy', t, { vcpu: v });
      owned.delete(t);
      x.count('a vCPU destroyed');
    } else if (action === 'run') {
      x.restart(t, v);
      running.set(t, x.run(t, v));
      x.count('a run started');
    } else if (action === 'register') {
      const reg = x.arch === 'x86_64' ? HV_X86_REG.HV_X86_RBX : HV_REG.HV_REG_X1;
      await x.call(x.arch === 'x86_64' ? 'hv_vcpu_write_register' : 'hv_vcpu_set_reg', t, {
        vcpu: v,
        reg,
        value: BigInt(x.iteration),
      });
      x.count('a register written by its owner');
    } else {
      // A per-vCPU call from an idle thread that does not own the vCPU (judged: not HV_SUCCESS).
      const other = x.pick([0, ...threads.filter((k) => k !== t && idle(k))]);
      const reg = x.arch === 'x86_64' ? HV_X86_REG.HV_X86_RBX : HV_REG.HV_REG_X1;
      await x.call(x.arch === 'x86_64' ? 'hv_vcpu_read_register' : 'hv_vcpu_get_reg', other, {
        vcpu: v,
        reg,
      });
      x.count('a register read from another thread');
    }
  }
  await teardown();
}

async function destroyVsCancel(x: Race, iterations: number): Promise<void> {
  await x.vm();
  await x.code(SPIN[x.arch]);
  for (x.iteration = 0; x.iteration < iterations; x.iteration++) {
    const t = x.pick([1, 2, 3]);
    const v = await x.create(t);
    if (v === undefined) x.fail(`hv_vcpu_create returned ${hvReturnName(x.last())}`);
    x.setup(t, v);
    const order = x.pick(['kick, run, destroy', 'kick idle, destroy', 'destroy, kick']);
    if (order === 'kick, run, destroy') {
      const run = x.run(t, v);
      await x.pause();
      await x.stop(x.pick(KICKERS.filter((k) => k !== t)), v, run);
      const e = x.ending(t, v, await x.settle(run, 'the kicked run'));
      if (!e.cancel) x.fail(`the kicked run ended in ${e.text}`);
      x.m.state.vcpus.get(v)!.cancel = false;
      await x.call('hv_vcpu_destroy', t, { vcpu: v });
    } else if (order === 'kick idle, destroy') {
      // The kick is pending when the vCPU goes: it goes with it.
      await x.kick(0, v);
      await x.call('hv_vcpu_destroy', t, { vcpu: v });
    } else {
      await x.call('hv_vcpu_destroy', t, { vcpu: v });
    }
    // The kick that lost the race: a stale handle (judged: not HV_SUCCESS, no vCPU affected).
    await x.kick(x.pick(KICKERS), v);
    if (x.last() === HV.HV_SUCCESS) x.fail('a kick of a destroyed vCPU returned HV_SUCCESS');
    // A new vCPU may get the old handle back; a kick with the old handle then names the new vCPU.
    const t2 = x.pick([1, 2, 3]);
    const w = await x.create(t2);
    if (w === undefined) x.fail(`hv_vcpu_create returned ${hvReturnName(x.last())}`);
    x.setup(t2, w);
    const recycled = w === v;
    if (recycled && x.rnd() < 0.5) {
      await x.kick(0, v);
      if (x.last() !== HV.HV_SUCCESS) x.fail('a kick of a live (recycled) handle failed');
      const e = x.ending(t2, w, await x.settle(x.run(t2, w), 'the run after a kick of the recycled handle'));
      if (!e.cancel) x.fail(`the new vCPU's run was not cancelled by the kick of its handle: ${e.text}`);
      x.m.state.vcpus.get(w)!.cancel = false;
      x.count('a kick of the old handle cancelled the new vCPU');
    } else {
      // No kick pending for the new vCPU: its run spins until kicked.
      const run = x.run(t2, w);
      await pauseTurns(20);
      if (run.settled)
        x.fail(`the new vCPU's first run returned without a kick (${order}): a cancel outlived its vCPU`);
      await x.stop(0, w, run);
      const e = x.ending(t2, w, await x.settle(run, 'the new vCPU'));
      if (!e.cancel) x.fail(`the new vCPU's run ended in ${e.text}`);
      x.m.state.vcpus.get(w)!.cancel = false;
      x.count(
        recycled
          ? 'a recycled handle, its first run not cancelled'
          : 'a new handle, its first run not cancelled',
      );
    }
    x.count(order);
    await x.call('hv_vcpu_destroy', t2, { vcpu: w });
  }
  await x.call('hv_vm_destroy', 0, {});
}

function pauseTurns(n: number): Promise<void> {
  return (async () => {
    for (let i = 0; i < n; i++) await new Promise((res) => setImmediate(res));
  })();
}

const SCENARIOS: Record<RaceName, (x: Race, iterations: number) => Promise<void>> = {
  'cancel-vs-run': cancelVsRun,
  'memory-vs-run': memoryVsRun,
  'vcpu-churn': vcpuChurn,
  'destroy-vs-cancel': destroyVsCancel,
};

/**
 * Runs one race on a backend (reset first and after). Throws {@link ConformanceError} on the first
 * outcome the spec does not allow, and TypeError for a dangerous race where dangerous calls are not
 * allowed (a real host: the spec's `dangerous` rows).
 */
export async function runRace(backend: Backend, name: RaceName, opts: RaceOptions = {}): Promise<RaceReport> {
  const scenario = RACES.find((r) => r.name === name);
  if (!scenario) throw new TypeError(`unknown race ${JSON.stringify(name)}`);
  const allowDangerous = opts.allowDangerous ?? backend.capabilities.backend === 'model';
  if (scenario.dangerous && !allowDangerous)
    throw new TypeError(`${name} makes calls the spec marks dangerous on real hardware: the model only`);
  const iterations = opts.iterations ?? 100;
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new TypeError(`iterations must be a positive integer, got ${iterations}`);
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const race = new Race(
    backend,
    name,
    seed,
    seededRandom(seed),
    opts.kickTimeoutMs ?? 10_000,
    allowDangerous,
  );
  await backend.reset();
  try {
    await SCENARIOS[name](race, iterations);
  } finally {
    await backend.reset();
  }
  return race.report(iterations);
}
