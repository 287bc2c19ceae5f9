/**
 * The x86 guest-action language: what a generated guest program does, at the level of the exits it
 * can cause. Mode: 32-bit flat protected mode with paging off (the `prot32` setup of `setup.ts`), so a
 * guest-linear address is the guest-physical address.
 *
 * Register conventions (fixed, so the prediction knows which register holds what):
 * - data of loads, stores, IN and OUT is in EAX (AL / AX / EAX by size);
 * - the `via: 'ebx'` forms address memory through EBX, which the action itself loads with the GPA;
 * - the `form: 'dx'` I/O forms take the port from DX, which the action itself loads with the port;
 * - `mov` sets any 32-bit register to an immediate (to prepare EAX for a store or an OUT).
 *
 * The end of every program is the **end marker** `out 0xe0, al` (bytes `E6 E0`): an OUT to port 0xE0,
 * which no generated `in`/`out` action uses (see {@link X86_END_PORT}). It is an ordinary I/O exit, so
 * any backend can run it; the harness stops at it.
 * @module
 */

/** An access size in bytes. */
export type X86Size = 1 | 2 | 4;

/** The 32-bit general-purpose registers, by their Intel names. */
export type X86Gpr = 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi';

/** The registers in Intel encoding order (the `reg` / `rm` number of each is its index). */
export const X86_GPRS: readonly X86Gpr[] = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

/** How a load or store addresses memory. */
export type X86AddressForm =
  /** `mov al/ax/eax, [moffs32]` / `mov [moffs32], al/ax/eax` (opcodes A0–A3): the GPA is in the instruction. */
  | 'moffs'
  /** `mov ebx, gpa` then `mov al/ax/eax, [ebx]` / `mov [ebx], al/ax/eax` (opcodes 8A/8B/88/89, ModRM 0x03). */
  | 'ebx';

/** Where a jump goes: the start of a later action of the same program, or any GPA. */
export type X86JumpTarget = { readonly action: number } | { readonly gpa: bigint };

/** One guest action. */
export type X86Action =
  /** `mov r32, imm32` (B8+r id). Never exits. */
  | { readonly op: 'mov'; readonly reg: X86Gpr; readonly value: number }
  /** Load `size` bytes at `gpa` into AL/AX/EAX (the rest of EAX is kept for sizes 1 and 2). */
  | { readonly op: 'load'; readonly size: X86Size; readonly gpa: bigint; readonly via: X86AddressForm }
  /** Store AL/AX/EAX (by `size`) at `gpa`. */
  | { readonly op: 'store'; readonly size: X86Size; readonly gpa: bigint; readonly via: X86AddressForm }
  /** `out imm8, al/ax/eax` (E6/E7) or `mov edx, port; out dx, al/ax/eax` (EE/EF). Always exits (reason 30). */
  | { readonly op: 'out'; readonly size: X86Size; readonly port: number; readonly form: 'imm8' | 'dx' }
  /** `in al/ax/eax, imm8` (E4/E5) or `mov edx, port; in al/ax/eax, dx` (EC/ED). Always exits (reason 30). */
  | { readonly op: 'in'; readonly size: X86Size; readonly port: number; readonly form: 'imm8' | 'dx' }
  /** `hlt` (F4). Exits with reason 12 under the canonical setup (CPU_BASED_HLT). */
  | { readonly op: 'hlt' }
  /**
   * `jmp rel32` (E9 cd) to a later action of this program (an instruction fetch that succeeds, since the
   * code is executable) or to a GPA outside the program (a fetch there). A fetch from a GPA that is not
   * mapped executable is an EPT violation; the VMM then resumes the program at the next action.
   */
  | { readonly op: 'jump'; readonly target: X86JumpTarget }
  /**
   * `ud2` (0F 0B): raises #UD (vector 6, a fault: RIP stays at the ud2). With bit 6 of
   * VMCS_CTRL_EXC_BITMAP set (the canonical setup) it exits with reason 0 and the VMM skips the two
   * bytes; with the bit clear the guest delivers #UD through its IDT, which under the canonical setup
   * (IDTR limit 0) ends in a triple fault (reason 2) and the program stops there.
   */
  | { readonly op: 'ud2' };

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
  switch (a.op) {
    case 'mov':
      return `mov ${a.reg}, ${hex(a.value)}`;
    case 'load':
      return a.via === 'moffs'
        ? `mov ${reg(a.size)}, [${hex(a.gpa)}]`
        : `mov ebx, ${hex(a.gpa)}; mov ${reg(a.size)}, [ebx]`;
    case 'store':
      return a.via === 'moffs'
        ? `mov [${hex(a.gpa)}], ${reg(a.size)}`
        : `mov ebx, ${hex(a.gpa)}; mov [ebx], ${reg(a.size)}`;
    case 'out':
      return a.form === 'imm8'
        ? `out ${hex(a.port)}, ${reg(a.size)}`
        : `mov edx, ${hex(a.port)}; out dx, ${reg(a.size)}`;
    case 'in':
      return a.form === 'imm8'
        ? `in ${reg(a.size)}, ${hex(a.port)}`
        : `mov edx, ${hex(a.port)}; in ${reg(a.size)}, dx`;
    case 'hlt':
      return 'hlt';
    case 'jump':
      return 'action' in a.target ? `jmp action#${a.target.action}` : `jmp ${hex(a.target.gpa)}`;
    case 'ud2':
      return 'ud2';
  }
}

/** The program as assembly text, one action per line, ending with the end marker. */
export function describeX86Program(p: X86Program): string {
  return [
    ...p.actions.map((a, i) => `${i}: ${describeX86Action(a)}`),
    `${p.actions.length}: out 0xe0, al  ; end marker`,
  ].join('\n');
}
