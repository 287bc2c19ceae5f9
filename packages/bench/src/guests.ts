/**
 * The guest programs the bench runs, as machine code written out byte by byte (the spec's assemblers
 * have no arithmetic loops), and the VMM loops that drive them through the backend interface. The
 * same functions serve the model and the native backend, so both are measured doing the same work.
 *
 * x86 code runs in the spec's canonical 32-bit protected mode (`x86SetupSteps`, hvf-facts.md §1.8
 * [T]); encodings are from the Intel SDM Vol. 2 opcode tables (32-bit operand size, no prefixes).
 * arm64 code runs at EL1h with the MMU off (CPSR 0x3c5, SCTLR_EL1 0, hvf-facts.md §2.6 [T/R]);
 * encodings are from the Arm ARM A64 tables.
 * @module
 */
import {
  type Arm64Backend,
  type Arm64Exit,
  CPSR_EL1H_DAIF,
  ESR_EC,
  type HostMemory,
  HV,
  HV_EXIT_REASON,
  HV_MEMORY,
  HV_REG,
  HV_SYS_REG,
  HV_X86_REG,
  hvReturnName,
  type ThreadId,
  type Vcpu,
  VMCS,
  VMX_REASON,
  type X86Backend,
  x86CanonicalPageTables,
  x86PageTablesSize,
  x86SetupSteps,
} from '@hvspec/spec';

/** The I/O port the x86 programs write to (any port exits: the framework forces I/O exiting, §1.8). */
export const BENCH_PORT = 0x10;
/** Guest-physical address the code is loaded at, on both architectures: aligned to both hosts' pages. */
export const CODE_GPA = 0x10000n;
/** Size of the code mapping: one 16 KiB page covers both hosts' page sizes (4 KiB x86, 16 KiB arm64). */
export const CODE_SIZE = 0x4000;

/** A guest program: its bytes, and the offsets the VMM loop and the tests need. */
export interface GuestProgram {
  readonly bytes: Uint8Array;
  /** Offset of the instruction that exits. */
  readonly exitAt: number;
  /** Length of the exiting instruction. */
  readonly exitLength: number;
}

/** Guest instructions the throughput loop executes per run: the set-up, 3 per iteration, the exiting one. */
export function throughputInstructions(iterations: number): number {
  return 1 + 3 * iterations + 1;
}

function checkIterations(iterations: number, max: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > max)
    throw new TypeError(`iterations must be an integer in [1, ${max}], got ${iterations}`);
}

/**
 * x86 throughput loop, `iterations` times round three simple instructions, then one exit:
 *
 * | offset | bytes | instruction |
 * |---|---|---|
 * | 0 | B9 id | `mov ecx, iterations` (B8+r id, r = 1) |
 * | 5 | 83 C0 01 | `L: add eax, 1` (83 /0 ib, ModRM 11 000 000) |
 * | 8 | 49 | `dec ecx` (48+r, a one-byte form only outside 64-bit mode) |
 * | 9 | 75 FA | `jnz L` (75 cb; rel8 = 5 − 11 = −6) |
 * | 11 | E6 10 | `out 0x10, al` (E6 ib) — exits with VMX_REASON_IO |
 */
export function x86ThroughputProgram(iterations: number): GuestProgram {
  return x86CountingLoop(iterations, [0x49]);
}

/**
 * The x86 throughput loop as 64-bit code (IA-32e mode with 4-level paging, the spec's `long64` setup):
 * the same three instructions per iteration, with `dec ecx` in its two-byte form because 0x48–0x4F are
 * REX prefixes in 64-bit mode.
 *
 * | offset | bytes | instruction |
 * |---|---|---|
 * | 0 | B9 id | `mov ecx, iterations` |
 * | 5 | 83 C0 01 | `L: add eax, 1` |
 * | 8 | FF C9 | `dec ecx` (FF /1, ModRM 11 001 001) |
 * | 10 | 75 F9 | `jnz L` (rel8 = 5 − 12 = −7) |
 * | 12 | E6 10 | `out 0x10, al` |
 */
export function x86LongThroughputProgram(iterations: number): GuestProgram {
  return x86CountingLoop(iterations, [0xff, 0xc9]);
}

/** `mov ecx, n; L: add eax, 1; dec ecx; jnz L; out 0x10, al`, with the mode's encoding of `dec ecx`. */
function x86CountingLoop(iterations: number, decEcx: readonly number[]): GuestProgram {
  checkIterations(iterations, 0xffff_ffff);
  const n = iterations >>> 0;
  const movEcx = [0xb9, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  const body = [0x83, 0xc0, 0x01, ...decEcx]; // L: add eax, 1; dec ecx
  const jnz = [0x75, -(body.length + 2) & 0xff]; // rel8 back to L, from the end of the jnz
  const bytes = Uint8Array.from([...movEcx, ...body, ...jnz, 0xe6, BENCH_PORT]);
  return { bytes, exitAt: bytes.length - 2, exitLength: 2 };
}

/**
 * x86 exit loop, one I/O exit per `hv_vcpu_run` once the VMM has advanced RIP past the `out`:
 *
 * | offset | bytes | instruction |
 * |---|---|---|
 * | 0 | E6 10 | `L: out 0x10, al` — exits with VMX_REASON_IO, RIP at the `out` (§1.7 [T]) |
 * | 2 | EB FC | `jmp L` (EB cb; rel8 = 0 − 4 = −4) |
 */
export function x86ExitLoopProgram(): GuestProgram {
  return { bytes: Uint8Array.of(0xe6, BENCH_PORT, 0xeb, 0xfc), exitAt: 0, exitLength: 2 };
}

function words(ws: readonly number[]): Uint8Array {
  const out = new Uint8Array(ws.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < ws.length; i++) view.setUint32(i * 4, ws[i]! >>> 0, true);
  return out;
}

/**
 * arm64 throughput loop:
 *
 * | offset | word | instruction |
 * |---|---|---|
 * | 0 | D2800000 \| imm16<<5 \| 1 | `movz x1, #iterations` (MOVZ, sf = 1, hw = 0) |
 * | 4 | 91000400 | `L: add x0, x0, #1` (ADD immediate, sf = 1, imm12 = 1) |
 * | 8 | F1000421 | `subs x1, x1, #1` (SUBS immediate, sf = 1, imm12 = 1) |
 * | 12 | 54FFFFC1 | `b.ne L` (B.cond, cond NE = 1, imm19 = −8/4 = −2) |
 * | 16 | D4000002 | `hvc #0` — exits with EC 0x16, PC already past it (§2.8) |
 */
export function arm64ThroughputProgram(iterations: number): GuestProgram {
  checkIterations(iterations, 0xffff);
  return {
    bytes: words([
      (0xd2800000 | (iterations << 5) | 1) >>> 0,
      0x91000400,
      0xf1000421,
      0x54ffffc1,
      0xd4000002,
    ]),
    exitAt: 16,
    exitLength: 4,
  };
}

/**
 * arm64 exit loop, one HVC exit per `hv_vcpu_run` with no VMM work (PC is already past the `hvc`):
 *
 * | offset | word | instruction |
 * |---|---|---|
 * | 0 | D4000002 | `L: hvc #0` |
 * | 4 | 17FFFFFF | `b L` (B, imm26 = −4/4 = −1) |
 */
export function arm64ExitLoopProgram(): GuestProgram {
  return { bytes: words([0xd4000002, 0x17ffffff]), exitAt: 0, exitLength: 4 };
}

/** A backend call failed while setting up or running a bench guest: a bench failure, not a measurement. */
export class BenchGuestError extends Error {
  constructor(what: string, ret: number) {
    super(`${what} returned ${hvReturnName(ret)} (0x${(ret >>> 0).toString(16)})`);
    this.name = 'BenchGuestError';
  }
}

function must<T>(what: string, r: { ret: number; value?: T }): T {
  if (r.ret !== HV.HV_SUCCESS) throw new BenchGuestError(what, r.ret);
  return r.value as T;
}

/** An x86 VM with one vCPU, `program` at CODE_GPA and RIP on it, set up as `x86SetupSteps` says. */
export interface X86Guest {
  readonly backend: X86Backend;
  readonly t: ThreadId;
  readonly vcpu: Vcpu;
  readonly mem: HostMemory;
  readonly program: GuestProgram;
}

/**
 * Creates the VM (the backend must have none), maps the code read+execute, creates a vCPU owned by
 * logical thread `t`, applies the canonical prot32 setup with RIP at the program, and zeroes RAX/RCX.
 */
export function setupX86Guest(backend: X86Backend, t: ThreadId, program: GuestProgram): X86Guest {
  const mem = createX86Vm(backend, program);
  const vcpu = createX86Vcpu(backend, t, 'prot32');
  return { backend, t, vcpu, mem, program };
}

/** Creates the VM (the backend must have none) and maps `program` read+execute at CODE_GPA. */
function createX86Vm(backend: X86Backend, program: GuestProgram): HostMemory {
  must('hv_vm_create', backend.hv_vm_create(0, 0n));
  const mem = backend.host_alloc(CODE_SIZE);
  backend.host_write(mem, 0, program.bytes);
  must(
    'hv_vm_map',
    backend.hv_vm_map(0, { mem, offset: 0 }, CODE_GPA, BigInt(CODE_SIZE), HV_MEMORY.READ | HV_MEMORY.EXEC),
  );
  return mem;
}

/** A vCPU owned by `t` with Apple's setup of `mode`, RIP at CODE_GPA, and RAX and RCX zero. */
function createX86Vcpu(backend: X86Backend, t: ThreadId, mode: 'prot32' | 'long64', cr3?: bigint): Vcpu {
  const vcpu = must('hv_vcpu_create', backend.hv_vcpu_create(t, 0n));
  const readCapability = (id: number): bigint =>
    must('hv_vmx_read_capability', backend.hv_vmx_read_capability(t, id));
  for (const { field, value } of x86SetupSteps(readCapability, mode, CODE_GPA, cr3))
    must(
      `hv_vmx_vcpu_write_vmcs(0x${field.toString(16)})`,
      backend.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value),
    );
  for (const name of ['HV_X86_RAX', 'HV_X86_RCX'] as const)
    must(`hv_vcpu_write_register(${name})`, backend.hv_vcpu_write_register(t, vcpu, HV_X86_REG[name], 0n));
  return vcpu;
}

/** Where the long-mode bench guest's page tables go: right after the code mapping. */
export const TABLES_GPA = CODE_GPA + BigInt(CODE_SIZE);

/**
 * Like {@link setupX86Guest}, in the spec's `long64` mode: the spec's canonical 4-level page tables
 * (2 MiB pages, the code identity-mapped) written to a READ|WRITE mapping at TABLES_GPA, CR3 their
 * root, then Apple's long-mode setup (`x86SetupSteps(…, 'long64', …)`, hvf-facts.md §1.8 [T]).
 */
export function setupX86LongGuest(backend: X86Backend, t: ThreadId, program: GuestProgram): X86Guest {
  const mem = createX86Vm(backend, program);
  const tables = x86CanonicalPageTables('long64', TABLES_GPA, 0xfff0_0000n);
  const size = x86PageTablesSize('long64');
  const tmem = backend.host_alloc(Number(size));
  for (const p of tables.pages) backend.host_write(tmem, Number(p.gpa - tables.root), p.bytes);
  must(
    'hv_vm_map(tables)',
    backend.hv_vm_map(0, { mem: tmem, offset: 0 }, TABLES_GPA, size, HV_MEMORY.READ | HV_MEMORY.WRITE),
  );
  const vcpu = createX86Vcpu(backend, t, 'long64', tables.root);
  return { backend, t, vcpu, mem, program };
}

/**
 * One run of the x86 throughput loop from the top: write RIP to the program's start, `hv_vcpu_run`
 * until the `out` exits. Host interrupts can end a run early with another reason (VMX_REASON_IRQ,
 * hvf-facts.md §1.7 [T]); the loop resumes, as a VMM does. Returns the final exit reason.
 */
export function x86ThroughputRun(g: X86Guest): number {
  const { backend, t, vcpu } = g;
  must(
    'hv_vcpu_write_register(HV_X86_RIP)',
    backend.hv_vcpu_write_register(t, vcpu, HV_X86_REG.HV_X86_RIP, CODE_GPA),
  );
  for (;;) {
    must('hv_vcpu_run', backend.hv_vcpu_run(t, vcpu));
    const reason = Number(
      must('read VMCS_RO_EXIT_REASON', backend.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_EXIT_REASON)) &
        0xffffn,
    );
    if (reason !== VMX_REASON.VMX_REASON_IRQ) return reason;
  }
}

/**
 * `exits` round trips of the x86 exit loop, as a VMM does them: `hv_vcpu_run`, read
 * VMCS_RO_EXIT_REASON; for an I/O exit read VMCS_RO_VMEXIT_INSTR_LEN and VMCS_GUEST_RIP and write
 * VMCS_GUEST_RIP past the instruction (RIP stays at an exiting instruction, §1.7 [T]); other exits
 * (host interrupts) just run again. These are exactly the calls of the native addon's C baseline loop
 * (`baseline_exit_loop` in addon/hv_x86_calls.cc), so "JS loop / C loop" measures the JS API's
 * overhead and nothing else. (RIP could also be written with hv_vcpu_write_register(HV_X86_RIP);
 * a provider may implement the two differently, so the bench does not mix them.)
 * Returns how many of the exits were I/O exits.
 */
export function x86ExitRoundTrips(g: X86Guest, exits: number): number {
  const { backend, t, vcpu } = g;
  let io = 0;
  for (let i = 0; i < exits; i++) {
    const run = backend.hv_vcpu_run(t, vcpu);
    if (run.ret !== HV.HV_SUCCESS) throw new BenchGuestError('hv_vcpu_run', run.ret);
    const reason = backend.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_EXIT_REASON);
    if (reason.ret !== HV.HV_SUCCESS) throw new BenchGuestError('read VMCS_RO_EXIT_REASON', reason.ret);
    if (Number((reason.value ?? 0n) & 0xffffn) !== VMX_REASON.VMX_REASON_IO) continue;
    io++;
    const len = backend.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_RO_VMEXIT_INSTR_LEN);
    const rip = backend.hv_vmx_vcpu_read_vmcs(t, vcpu, VMCS.VMCS_GUEST_RIP);
    if (len.ret !== HV.HV_SUCCESS) throw new BenchGuestError('read VMCS_RO_VMEXIT_INSTR_LEN', len.ret);
    if (rip.ret !== HV.HV_SUCCESS) throw new BenchGuestError('read VMCS_GUEST_RIP', rip.ret);
    const w = backend.hv_vmx_vcpu_write_vmcs(
      t,
      vcpu,
      VMCS.VMCS_GUEST_RIP,
      (rip.value ?? 0n) + (len.value ?? 0n),
    );
    if (w.ret !== HV.HV_SUCCESS) throw new BenchGuestError('hv_vmx_vcpu_write_vmcs(VMCS_GUEST_RIP)', w.ret);
  }
  return io;
}

/** An arm64 VM with one vCPU, `program` at CODE_GPA and PC on it, at EL1h with the MMU off. */
export interface Arm64Guest {
  readonly backend: Arm64Backend;
  readonly t: ThreadId;
  readonly vcpu: Vcpu;
  readonly mem: HostMemory;
  readonly program: GuestProgram;
}

/** Creates the VM (default configuration), maps the code read+execute, creates the vCPU on `t`, sets PC/CPSR/SCTLR_EL1, zeroes X0/X1. */
export function setupArm64Guest(backend: Arm64Backend, t: ThreadId, program: GuestProgram): Arm64Guest {
  must('hv_vm_create', backend.hv_vm_create(0, null));
  const mem = backend.host_alloc(CODE_SIZE);
  backend.host_write(mem, 0, program.bytes);
  must(
    'hv_vm_map',
    backend.hv_vm_map(0, { mem, offset: 0 }, CODE_GPA, BigInt(CODE_SIZE), HV_MEMORY.READ | HV_MEMORY.EXEC),
  );
  const vcpu = must('hv_vcpu_create', backend.hv_vcpu_create(t, null));
  must('hv_vcpu_set_reg(HV_REG_PC)', backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_PC, CODE_GPA));
  must(
    'hv_vcpu_set_reg(HV_REG_CPSR)',
    backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_CPSR, BigInt(CPSR_EL1H_DAIF)),
  );
  must(
    'hv_vcpu_set_sys_reg(HV_SYS_REG_SCTLR_EL1)',
    backend.hv_vcpu_set_sys_reg(t, vcpu, HV_SYS_REG.HV_SYS_REG_SCTLR_EL1, 0n),
  );
  must('hv_vcpu_set_reg(HV_REG_X0)', backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_X0, 0n));
  must('hv_vcpu_set_reg(HV_REG_X1)', backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_X1, 0n));
  return { backend, t, vcpu, mem, program };
}

/** The exception class of an exit record's syndrome (ESR bits 31:26). */
export function exitEc(exit: Arm64Exit): number {
  return Number((exit.exception.syndrome >> 26n) & 0x3fn);
}

/**
 * One run of the arm64 throughput loop from the top: PC to the start, `hv_vcpu_run` until the `hvc`
 * (spurious HV_EXIT_REASON_CANCELED exits run again). Returns the final exit record.
 */
export function arm64ThroughputRun(g: Arm64Guest): Arm64Exit {
  const { backend, t, vcpu } = g;
  must('hv_vcpu_set_reg(HV_REG_PC)', backend.hv_vcpu_set_reg(t, vcpu, HV_REG.HV_REG_PC, CODE_GPA));
  for (;;) {
    const exit = must('hv_vcpu_run', backend.hv_vcpu_run(t, vcpu));
    if (exit.reason !== HV_EXIT_REASON.HV_EXIT_REASON_CANCELED) return exit;
  }
}

/**
 * `exits` round trips of the arm64 exit loop: `hv_vcpu_run`, check the reason and the exception class
 * (PC is already past an HVC, so there is nothing to advance, §2.8). Returns how many were HVC exits.
 */
export function arm64ExitRoundTrips(g: Arm64Guest, exits: number): number {
  const { backend, t, vcpu } = g;
  let hvc = 0;
  for (let i = 0; i < exits; i++) {
    const run = backend.hv_vcpu_run(t, vcpu);
    if (run.ret !== HV.HV_SUCCESS) throw new BenchGuestError('hv_vcpu_run', run.ret);
    const exit = run.value;
    if (exit?.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION && exitEc(exit) === ESR_EC.HVC64) hvc++;
  }
  return hvc;
}
