/**
 * The x86 guest-action language: what a generated guest program does, at the level of the exits it
 * can cause, in each of the modes the canonical setups of `setup.ts` put a vCPU in:
 *
 * | mode | code | addresses |
 * |---|---|---|
 * | `real` | 16-bit, real-address mode | DS base 0, limit 0xffff: data offsets above 0xffff fault (#GP) |
 * | `prot32` | 32-bit protected mode, paging off | flat: linear = guest-physical |
 * | `prot32-paging` | 32-bit protected mode, 32-bit paging (4 MiB pages) | the canonical page tables of `paging.ts` |
 * | `long64` | 64-bit mode, 4-level paging (2 MiB pages) | the canonical page tables of `paging.ts` |
 *
 * An address in an action (`addr`) is the address the guest uses: an offset in DS (= the linear
 * address, DS base being 0), which is the guest-physical address only with paging off. With paging on,
 * `paging.ts` says which linear addresses map where (identically, through an alias, not at all, or
 * through a page table the VMM has not mapped).
 *
 * Register conventions (fixed, so the prediction knows which register holds what):
 * - data of loads, stores, IN and OUT is in EAX (AL / AX / EAX by size);
 * - the `via: 'ebx'` forms address memory through EBX, which the action itself loads with the address;
 * - the `form: 'dx'` I/O forms take the port from DX, which the action itself loads with the port;
 * - string I/O takes the port from DX, the memory address from ESI (OUTS) or EDI (INS) and, with REP,
 *   the count from ECX, all loaded by the action;
 * - CPUID takes its leaf from EAX, RDMSR/WRMSR the MSR from ECX, loaded by the action; WRMSR writes
 *   EDX:EAX as they are;
 * - `mov` sets any 32-bit register to an immediate (to prepare EAX for a store or an OUT).
 *
 * The end of every program is the **end marker** `out 0xe0, al` (bytes `E6 E0` in every mode): an OUT
 * to port 0xE0, which no generated `in`/`out` action uses (see {@link X86_END_PORT}). It is an ordinary
 * I/O exit, so any backend can run it; the harness stops at it.
 * @module
 */

/** The modes of the canonical setups (`x86_setup`'s mode word). */
export type X86Mode = 'real' | 'prot32' | 'prot32-paging' | 'long64';

/** Every mode, in the order the docs list them. */
export const X86_MODES: readonly X86Mode[] = ['real', 'prot32', 'prot32-paging', 'long64'];

/** Whether the mode has paging on (the canonical page tables of `paging.ts` translate addresses). */
export function x86ModePaging(mode: X86Mode): boolean {
  return mode === 'prot32-paging' || mode === 'long64';
}

/** An access size in bytes. */
export type X86Size = 1 | 2 | 4;

/** The 32-bit general-purpose registers, by their Intel names. */
export type X86Gpr = 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi';

/** The registers in Intel encoding order (the `reg` / `rm` number of each is its index). */
export const X86_GPRS: readonly X86Gpr[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

/** How a load or store addresses memory. */
export type X86AddressForm =
  /** `mov al/ax/eax, [moffs]` / `mov [moffs], al/ax/eax` (opcodes A0–A3): the address is in the instruction. */
  | 'moffs'
  /** `mov ebx, addr` then `mov al/ax/eax, [ebx]` / `mov [ebx], al/ax/eax` (opcodes 8A/8B/88/89). */
  | 'ebx';

/** Where a jump goes: the start of a later action of the same program, or any address. */
export type X86JumpTarget = { readonly action: number } | { readonly addr: bigint };

/** The control registers the `mov-cr` actions use. CR8 exists only in 64-bit mode. */
export type X86Cr = 0 | 3 | 4 | 8;

/** The debug registers the `mov-dr` actions use (DR4/DR5 alias DR6/DR7 or fault, by CR4.DE: left out). */
export type X86Dr = 0 | 1 | 2 | 3;

/** One guest action. */
export type X86Action =
  /** `mov r32, imm32` (B8+r id). Never exits. */
  | { readonly op: 'mov'; readonly reg: X86Gpr; readonly value: number }
  /** Load `size` bytes at `addr` into AL/AX/EAX (the rest of EAX is kept for sizes 1 and 2). */
  | { readonly op: 'load'; readonly size: X86Size; readonly addr: bigint; readonly via: X86AddressForm }
  /** Store AL/AX/EAX (by `size`) at `addr`. */
  | { readonly op: 'store'; readonly size: X86Size; readonly addr: bigint; readonly via: X86AddressForm }
  /** `out imm8, al/ax/eax` (E6/E7) or `mov edx, port; out dx, al/ax/eax` (EE/EF). Always exits (reason 30). */
  | { readonly op: 'out'; readonly size: X86Size; readonly port: number; readonly form: 'imm8' | 'dx' }
  /** `in al/ax/eax, imm8` (E4/E5) or `mov edx, port; in al/ax/eax, dx` (EC/ED). Always exits (reason 30). */
  | { readonly op: 'in'; readonly size: X86Size; readonly port: number; readonly form: 'imm8' | 'dx' }
  /**
   * String I/O: `mov esi/edi, addr; mov edx, port; [mov ecx, count;] [rep] outs/ins` (6E/6F, 6C/6D).
   * Always exits (reason 30) before any memory access, with the memory operand's linear address in
   * VMCS_RO_GUEST_LIN_ADDR.
   */
  | {
      readonly op: 'outs' | 'ins';
      readonly size: X86Size;
      readonly port: number;
      readonly addr: bigint;
      /** With REP: the count (≥ 1) in ECX; without: undefined. */
      readonly rep?: number;
    }
  /** `hlt` (F4). Exits with reason 12 under the canonical setups (CPU_BASED_HLT). */
  | { readonly op: 'hlt' }
  /**
   * A jump to a later action of this program (an instruction fetch that succeeds, since the code is
   * executable) or to an address outside the program (a fetch there): `jmp rel16/rel32` (E9), or in
   * 64-bit mode to an address outside the program `mov ebx, addr; jmp rbx` (BB id, FF E3), since a rel32
   * cannot reach every address below 4 GiB. A fetch that faults is an exit; the VMM then resumes the
   * program at the next action.
   */
  | { readonly op: 'jump'; readonly target: X86JumpTarget }
  /**
   * `ud2` (0F 0B): raises #UD (vector 6, a fault: RIP stays at the ud2). With bit 6 of
   * VMCS_CTRL_EXC_BITMAP set (the canonical setups) it exits with reason 0 and the VMM skips the two
   * bytes; with the bit clear the guest delivers #UD through its IDT (see `predict.ts`).
   */
  | { readonly op: 'ud2' }
  /** `vmcall` (0F 01 C1): exits with reason 18, instruction length 3. */
  | { readonly op: 'vmcall' }
  /** `mov eax, leaf; cpuid` (0F A2): exits with reason 10; the VMM writes EAX, EBX, ECX and EDX. */
  | { readonly op: 'cpuid'; readonly leaf: number }
  /** `mov ecx, msr; rdmsr` (0F 32): exits with reason 31 (the VMM has made no MSR native); the VMM writes EDX:EAX. */
  | { readonly op: 'rdmsr'; readonly msr: number }
  /** `mov ecx, msr; wrmsr` (0F 30): exits with reason 32 with the value in EDX:EAX. */
  | { readonly op: 'wrmsr'; readonly msr: number }
  /**
   * `mov crN, reg` (0F 22 /r; CR8 with REX.R: 44 0F 22 /r). Exits with reason 28 when the guest/host
   * mask says so (CR0, CR4) or the CPU-based controls do (CR3-load, CR8-load exiting); otherwise it
   * executes.
   */
  | { readonly op: 'mov-to-cr'; readonly cr: X86Cr; readonly reg: X86Gpr }
  /** `mov reg, crN` (0F 20 /r). CR0/CR4 reads never exit (they read the shadow); CR3/CR8 reads exit by the controls. */
  | { readonly op: 'mov-from-cr'; readonly cr: X86Cr; readonly reg: X86Gpr }
  /** `mov drN, reg` (0F 23 /r): exits with reason 29 under MOV-DR exiting, else executes. */
  | { readonly op: 'mov-to-dr'; readonly dr: X86Dr; readonly reg: X86Gpr }
  /** `mov reg, drN` (0F 21 /r): exits with reason 29 under MOV-DR exiting, else executes. */
  | { readonly op: 'mov-from-dr'; readonly dr: X86Dr; readonly reg: X86Gpr }
  /** `int3` (CC): #BP, a software exception (type 6) of vector 3; exits under bit 3 of the exception bitmap. */
  | { readonly op: 'int3' }
  /** `int1` (F1): #DB, a privileged software exception (type 5) of vector 1; exits under bit 1. */
  | { readonly op: 'int1' }
  /**
   * `int n` (CD ib): a software interrupt (type 4). Never consults the exception bitmap: it is delivered
   * through the guest's IDT, and with the canonical IDTR limit 0 delivery raises #GP, which exits under
   * bit 13 with IDT-vectoring information naming the interrupt (how small real-mode VMMs service
   * `int 0x21`).
   */
  | { readonly op: 'int'; readonly vector: number }
  /** `mov ecx, 0; div ecx` (F7 F1): #DE (vector 0, a fault). */
  | { readonly op: 'div0' }
  /**
   * `mov eax, selector; mov ds, ax` (8E D8) with a selector the GDT (limit 0 in the canonical setups)
   * does not hold: #GP with the selector as error code. Protected and 64-bit modes only (in real mode
   * the load just sets DS.base).
   */
  | { readonly op: 'load-ds'; readonly selector: number };

/** A program: actions, then the end marker. */
export interface X86Program {
  readonly actions: readonly X86Action[];
}

/** The port of the end marker `out 0xe0, al`. Generated I/O actions never use it. */
export const X86_END_PORT = 0xe0;

/** A readable one-line spelling of an action, for counterexamples. */
export function describeX86Action(a: X86Action): string {
  const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
  const reg = (size: X86Size): string => (size === 1 ? 'al' : size === 2 ? 'ax' : 'eax');
  const suffix = (size: X86Size): string => (size === 1 ? 'b' : size === 2 ? 'w' : 'd');
  switch (a.op) {
    case 'mov':
      return `mov ${a.reg}, ${hex(a.value)}`;
    case 'load':
      return a.via === 'moffs'
        ? `mov ${reg(a.size)}, [${hex(a.addr)}]`
        : `mov ebx, ${hex(a.addr)}; mov ${reg(a.size)}, [ebx]`;
    case 'store':
      return a.via === 'moffs'
        ? `mov [${hex(a.addr)}], ${reg(a.size)}`
        : `mov ebx, ${hex(a.addr)}; mov [ebx], ${reg(a.size)}`;
    case 'out':
      return a.form === 'imm8'
        ? `out ${hex(a.port)}, ${reg(a.size)}`
        : `mov edx, ${hex(a.port)}; out dx, ${reg(a.size)}`;
    case 'in':
      return a.form === 'imm8'
        ? `in ${reg(a.size)}, ${hex(a.port)}`
        : `mov edx, ${hex(a.port)}; in ${reg(a.size)}, dx`;
    case 'outs':
    case 'ins': {
      const index = a.op === 'outs' ? 'esi' : 'edi';
      const count = a.rep !== undefined ? `mov ecx, ${a.rep}; rep ` : '';
      return `mov ${index}, ${hex(a.addr)}; mov edx, ${hex(a.port)}; ${count}${a.op}${suffix(a.size)}`;
    }
    case 'hlt':
    case 'ud2':
    case 'vmcall':
    case 'int3':
    case 'int1':
      return a.op;
    case 'jump':
      return 'action' in a.target ? `jmp action#${a.target.action}` : `jmp ${hex(a.target.addr)}`;
    case 'cpuid':
      return `mov eax, ${hex(a.leaf)}; cpuid`;
    case 'rdmsr':
    case 'wrmsr':
      return `mov ecx, ${hex(a.msr)}; ${a.op}`;
    case 'mov-to-cr':
      return `mov cr${a.cr}, ${a.reg}`;
    case 'mov-from-cr':
      return `mov ${a.reg}, cr${a.cr}`;
    case 'mov-to-dr':
      return `mov dr${a.dr}, ${a.reg}`;
    case 'mov-from-dr':
      return `mov ${a.reg}, dr${a.dr}`;
    case 'int':
      return `int ${hex(a.vector)}`;
    case 'div0':
      return 'mov ecx, 0; div ecx';
    case 'load-ds':
      return `mov eax, ${hex(a.selector)}; mov ds, ax`;
  }
}

/** The program as assembly text, one action per line, ending with the end marker. */
export function describeX86Program(p: X86Program): string {
  return [
    ...p.actions.map((a, i) => `${i}: ${describeX86Action(a)}`),
    `${p.actions.length}: out 0xe0, al  ; end marker`,
  ].join('\n');
}
