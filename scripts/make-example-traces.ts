#!/usr/bin/env node
/**
 * Writes the example traces of traces/x86_64 and traces/arm64 that show one exit kind each: the
 * traces the docs show a VMM author. Run from the repository root:
 *
 *     node --import tsx scripts/make-example-traces.ts          # (re)write them
 *     node --import tsx scripts/make-example-traces.ts --check  # exit 1 if a file on disk differs
 *
 * Nothing here is typed by hand that the spec can compute: guest code comes from the spec's
 * assemblers (assembleX86 / assembleArm64 through the predictions), and every expected exit —
 * reason, qualification, syndrome, addresses, RIP/PC, the VMM's register writes — comes from the
 * spec's predictions (predictX86 / predictArm64) and encoders (eptQualification, esrDataAbort, ...),
 * never from running a backend: the model is what these traces check.
 *
 * The output is stable (same input, same bytes): 2-space JSON laid out as the repository's formatter
 * (biome, line width 110) lays out JSON, numbers of 2^16 and above as hex strings, addresses always hex.
 * Traces in those folders that are not listed here (the lifecycle traces) are written by hand and left alone.
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  A64,
  ARM64_EC,
  ARM64_PSTATE_V80_MASK,
  type Arch,
  type Arm64Action,
  type Arm64MmuConfig,
  type Arm64PredictedExit,
  type Arm64S1Entry,
  type Arm64Scenario,
  type Arm64StartMode,
  arm64ScenarioTraceSteps,
  assembleArm64,
  assembleX86,
  CPSR_EL1H_DAIF,
  CPU_BASED,
  defaultX86Answer,
  EPT_QUALIFICATION_MASK,
  esrInstructionAbort,
  esrNoIss,
  FSC,
  HV_EXIT_REASON,
  HV_MEMORY,
  HV_REG,
  HV_SYS_REG,
  IDT_VECTOR_INFO_INVALID_MASK,
  IDT_VECTOR_INFO_MASK,
  type JsonValue,
  parseTrace,
  predictArm64,
  predictX86,
  type Step,
  TRACE_FORMAT,
  type Trace,
  VMEXIT_IRQ_INFO_MASK,
  VMX_REASON,
  wordsToBytes,
  X86_SETUP_CPU_BASED,
  type X86Action,
  type X86ExpectedExit,
  type X86Mode,
  type X86RegName,
  type X86VmmQuestion,
  x86CanonicalPageTables,
  x86PageTablesSize,
} from '@hvspec/spec';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TRACES = join(ROOT, 'traces');

// ---- numbers and names ---------------------------------------------------------------------------

/** Always hex: addresses, sizes of mappings, register values, syndromes, masks. */
const hex = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
/** A JSON number below 2^16, a hex string from there on. */
const num = (v: bigint | number): number | string => (BigInt(v) < 0x1_0000n ? Number(v) : hex(v));
const bytesHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function nameOf(table: Record<string, number>, value: number, prefix = ''): string {
  const hit = Object.entries(table).find(([k, v]) => v === value && k.startsWith(prefix));
  if (!hit) throw new Error(`no name for ${value}`);
  return hit[0];
}
const vmxReasonName = (r: number): string => nameOf(VMX_REASON, r);
const exitReasonName = (r: number): string => nameOf(HV_EXIT_REASON, r);
const regName = (n: number): string => nameOf(HV_REG, n);
const sysRegName = (n: number): string => nameOf(HV_SYS_REG, n);

/** The value, or an error naming what the spec was expected to predict. */
function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`the spec's prediction has no ${what}`);
  return v;
}

const OK = { ret: 'HV_SUCCESS' } as const;

/** The logical thread that owns the vCPU in every example: a VMM's vCPU thread, not the main thread. */
const T = 1;
const on = (s: Omit<Step, 'thread'>): Step => ({ thread: T, ...s });

// ---- the examples ----------------------------------------------------------------------------------

interface Example {
  readonly file: string;
  readonly trace: Trace;
}
const examples: Example[] = [];

function add(arch: Arch, name: string, title: string, description: string, steps: Step[]): void {
  const dir = arch === 'x86_64' ? 'x86_64' : 'arm64';
  examples.push({
    file: `${dir}/${name}.json`,
    trace: { format: TRACE_FORMAT, arch, title, description, steps },
  });
}

// ---- x86 -------------------------------------------------------------------------------------------

/** Where the x86 examples put their code: one 4 KiB page, mapped READ|WRITE|EXEC. */
const X86_CODE = 0x1000n;
const X86_PAGE = 0x1000n;

interface X86Map {
  readonly name: string;
  readonly gpa: bigint;
  readonly flags: number;
}

const flagNames = (flags: number): string[] =>
  (['READ', 'WRITE', 'EXEC'] as const).filter((f) => (flags & HV_MEMORY[f]) !== 0);

/** The mappings as the prediction sees them (code page RWX, plus `extra`). */
function x86Lookup(extra: readonly X86Map[]): (gpa: bigint) => { flags: number } | undefined {
  const all = [{ name: 'ram', gpa: X86_CODE, flags: 7 }, ...extra];
  return (gpa) => all.find((m) => gpa >= m.gpa && gpa < m.gpa + X86_PAGE);
}

function x86Predict(
  actions: X86Action[],
  extra: readonly X86Map[] = [],
  answer?: (q: X86VmmQuestion) => number,
  excBitmap?: number,
) {
  const p = predictX86({
    program: { actions },
    gpa: X86_CODE,
    lookup: x86Lookup(extra),
    ...(answer ? { answer } : {}),
    ...(excBitmap !== undefined ? { excBitmap } : {}),
  });
  if (p.unspecified) throw new Error(`the spec does not predict this program: ${p.unspecified.reason}`);
  return p;
}

/** VM, code page, extra pages, vCPU on thread 1, `x86_setup` (default `prot32`) at the code. */
function x86Prologue(code: Uint8Array, extra: readonly X86Map[] = [], mode: X86Mode = 'prot32'): Step[] {
  const steps: Step[] = [
    { call: 'hv_vm_create', args: { flags: 0 }, expect: OK },
    { call: 'host_alloc', args: { name: 'ram', size: hex(X86_PAGE) } },
    { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: bytesHex(code) } },
    {
      call: 'hv_vm_map',
      args: { uva: { mem: 'ram', offset: 0 }, gpa: hex(X86_CODE), size: hex(X86_PAGE), flags: flagNames(7) },
      expect: OK,
    },
  ];
  for (const m of extra) {
    steps.push(
      { call: 'host_alloc', args: { name: m.name, size: hex(X86_PAGE) } },
      {
        call: 'hv_vm_map',
        args: {
          uva: { mem: m.name, offset: 0 },
          gpa: hex(m.gpa),
          size: hex(X86_PAGE),
          flags: flagNames(m.flags),
        },
        expect: OK,
      },
    );
  }
  steps.push(
    on({ call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu', expect: OK }),
    on({ call: 'x86_setup', args: { vcpu: '$cpu', mode, rip: hex(X86_CODE) } }),
  );
  return steps;
}

const x86Epilogue = (): Step[] => [
  on({ call: 'hv_vcpu_destroy', args: { vcpu: '$cpu' }, expect: OK }),
  { call: 'hv_vm_destroy', args: {}, expect: OK },
];

const readVmcs = (field: string, value: JsonValue): Step =>
  on({
    call: 'hv_vmx_vcpu_read_vmcs',
    args: { vcpu: '$cpu', field },
    expect: { ret: 'HV_SUCCESS', value } as never,
  });
const readReg32 = (reg: X86RegName, value: number): Step =>
  on({
    call: 'hv_vcpu_read_register',
    args: { vcpu: '$cpu', reg: `HV_X86_${reg}` },
    // 32-bit protected mode: the guest owns the low 32 bits.
    expect: { ret: 'HV_SUCCESS', value: { value: hex(value), mask: '0xffffffff' } },
  });
const writeReg = (reg: string, value: bigint | number): Step =>
  on({ call: 'hv_vcpu_write_register', args: { vcpu: '$cpu', reg, value: hex(value) }, expect: OK });

/**
 * One predicted exit as a VMM handles it: run, read what the VMM reads (exit reason, qualification,
 * GPA for EPT violations, instruction length where it is defined, RIP, the registers the exit is
 * about), then the VMM's register writes and its new RIP (`resume: false` leaves RIP alone).
 */
function x86Exit(e: X86ExpectedExit, opts: { regs?: readonly X86RegName[]; resume?: boolean } = {}): Step[] {
  const steps: Step[] = [
    on({ call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, expect: OK }),
    readVmcs('VMCS_RO_EXIT_REASON', vmxReasonName(e.reason)),
    readVmcs(
      'VMCS_RO_EXIT_QUALIFIC',
      e.qualificationMask === 0xffff_ffff_ffff_ffffn
        ? hex(e.qualification)
        : { value: hex(e.qualification), mask: hex(e.qualificationMask) },
    ),
  ];
  if (e.gpa !== undefined) steps.push(readVmcs('VMCS_GUEST_PHYSICAL_ADDRESS', hex(e.gpa)));
  if (e.gla !== undefined) steps.push(readVmcs('VMCS_RO_GUEST_LIN_ADDR', hex(e.gla)));
  if (e.instrLen !== undefined) steps.push(readVmcs('VMCS_RO_VMEXIT_INSTR_LEN', num(e.instrLen)));
  if (e.irqInfo !== undefined) {
    steps.push(
      readVmcs('VMCS_RO_VMEXIT_IRQ_INFO', { value: hex(e.irqInfo), mask: hex(VMEXIT_IRQ_INFO_MASK) }),
    );
  }
  if (e.irqError !== undefined) steps.push(readVmcs('VMCS_RO_VMEXIT_IRQ_ERROR', num(e.irqError)));
  if (e.idtVectorInfo !== undefined)
    steps.push(
      readVmcs(
        'VMCS_RO_IDT_VECTOR_INFO',
        e.idtVectorInfo === 0
          ? { value: '0x0', mask: hex(IDT_VECTOR_INFO_INVALID_MASK) }
          : { value: hex(e.idtVectorInfo), mask: hex(IDT_VECTOR_INFO_MASK) },
      ),
    );
  if (e.idtVectorError !== undefined) steps.push(readVmcs('VMCS_RO_IDT_VECTOR_ERROR', num(e.idtVectorError)));
  if (e.rip !== undefined) steps.push(readVmcs('VMCS_GUEST_RIP', hex(e.rip)));
  // At the end marker the prediction knows all eight GPRs, but only from the values the trace itself
  // set: a fresh vCPU's registers are not the spec's to predict (at reset EDX holds the CPU signature).
  const regs = opts.regs ?? (e.kind === 'x86.end' ? ['RAX'] : (Object.keys(e.regs) as X86RegName[]));
  for (const r of regs) steps.push(readReg32(r, e.regs[r] as number));
  if (opts.resume === false || e.vmmRip === undefined) return steps;
  for (const [r, v] of Object.entries(e.vmmRegs) as [X86RegName, number][])
    steps.push(writeReg(`HV_X86_${r}`, v));
  steps.push(writeReg('HV_X86_RIP', e.vmmRip));
  return steps;
}

const X86_COMMON =
  "x86_setup puts the vCPU in 32-bit flat protected mode with paging off, as Apple's XNU test does (hvf-facts.md §1.8 [T]), so guest-linear = guest-physical. " +
  "The framework never moves RIP for the VMM (§1.7 [T]). Every program ends with `out 0xe0, al`, the spec's end marker (an ordinary I/O exit). " +
  "Machine code and expectations are generated by scripts/make-example-traces.ts from the spec's assembler and prediction. Needs a backend that executes guest code.";

function x86Examples(): void {
  // out imm8, 1/2/4 bytes.
  {
    const p = x86Predict([
      { op: 'mov', reg: 'eax', value: 0x11223344 },
      { op: 'out', size: 1, port: 0x80, form: 'imm8' },
      { op: 'out', size: 2, port: 0x80, form: 'imm8' },
      { op: 'out', size: 4, port: 0x80, form: 'imm8' },
    ]);
    add(
      'x86_64',
      'io-out-imm8',
      'out imm8 of 1, 2 and 4 bytes: VMX_REASON_IO with the I/O qualification, data in RAX, the VMM advances RIP by VMCS_RO_VMEXIT_INSTR_LEN',
      "I/O exits (VMX_REASON_IO = 30, hvf-facts.md §1.5 [H]) although x86_setup requests no I/O exiting: the framework's must-be-1 controls force it (§1.8 [T]). " +
        'Qualification (§1.6 [T]): bits 2:0 = size − 1 (0, 1, 3), bit 3 = 0 (OUT), bit 6 = 1 (port is an imm8), bits 31:16 = port 0x80. ' +
        'The data is the low 1, 2 or 4 bytes of RAX (0x11223344). RIP stays at the out; the VMM writes RIP += VMCS_RO_VMEXIT_INSTR_LEN: 2 for `out 0x80, al` / `out 0x80, eax` (E6/E7 ib), 3 for `out 0x80, ax` (0x66 prefix) (§1.6, §1.7 [T]). ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: ['RAX'] })),
        ...x86Epilogue(),
      ],
    );
  }
  // out dx.
  {
    const p = x86Predict([
      { op: 'mov', reg: 'eax', value: 0x41 },
      { op: 'out', size: 1, port: 0x3f8, form: 'dx' },
      { op: 'mov', reg: 'eax', value: 0x8000_0010 },
      { op: 'out', size: 4, port: 0xcf8, form: 'dx' },
    ]);
    add(
      'x86_64',
      'io-out-dx',
      'out dx, al and out dx, eax: the port comes from DX, the qualification has bit 6 (immediate) clear, the instruction is one byte long',
      'VMX_REASON_IO (§1.5 [H]); qualification (§1.6 [T]): size − 1 in bits 2:0, bit 3 = 0 (OUT), bit 6 = 0 (port in DX), port in bits 31:16 — 0x3f8 (a UART) and 0xcf8 (PCI config address), ports above 0xff that only the DX form can reach. ' +
        'The data is AL (0x41) or EAX (0x80000010). `out dx, al` (EE) and `out dx, eax` (EF) are 1 byte: VMCS_RO_VMEXIT_INSTR_LEN = 1, and the VMM writes RIP += 1 (§1.7 [T]). ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e, i) =>
          x86Exit(e, { regs: i === p.exits.length - 1 ? ['RAX'] : ['RAX', 'RDX'] }),
        ),
        ...x86Epilogue(),
      ],
    );
  }
  // in imm8.
  {
    const answer = (q: X86VmmQuestion): number => (q.kind === 'in' && q.port === 0x71 ? 0x5a : 0);
    const p = x86Predict(
      [
        { op: 'mov', reg: 'eax', value: 0x11223344 },
        { op: 'in', size: 1, port: 0x71, form: 'imm8' },
      ],
      [],
      answer,
    );
    add(
      'x86_64',
      'io-in-imm8',
      'in al, imm8: the VMM writes the byte into AL, keeping the rest of RAX, then RIP += VMCS_RO_VMEXIT_INSTR_LEN; the guest sees the value',
      'VMX_REASON_IO (§1.5 [H]); qualification (§1.6 [T]): bits 2:0 = 0 (1 byte), bit 3 = 1 (IN), bit 6 = 1 (imm8), port 0x71 in bits 31:16. ' +
        'For IN the VMM supplies the data: it writes RAX with only the low byte replaced (0x11223344 → 0x1122335a; an 8-bit IN leaves bits 31:8 of EAX alone), then RIP += VMCS_RO_VMEXIT_INSTR_LEN (2 for E4 ib) (§1.6, §1.7 [T]). ' +
        "The end marker then exits with RAX = 0x1122335a: the guest continued after the in with the VMM's value. " +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: ['RAX'] })),
        ...x86Epilogue(),
      ],
    );
  }
  // in dx.
  {
    const answer = (q: X86VmmQuestion): number => (q.kind === 'in' && q.port === 0xcfc ? 0x8086 : 0);
    const p = x86Predict(
      [
        { op: 'mov', reg: 'eax', value: 0xffff_ffff },
        { op: 'in', size: 2, port: 0xcfc, form: 'dx' },
      ],
      [],
      answer,
    );
    add(
      'x86_64',
      'io-in-dx',
      'in ax, dx: port from DX, a 2-byte IN; the VMM writes AX into RAX and advances RIP by the 2-byte instruction (0x66 prefix)',
      'VMX_REASON_IO (§1.5 [H]); qualification (§1.6 [T]): bits 2:0 = 1 (2 bytes), bit 3 = 1 (IN), bit 6 = 0 (port in DX), port 0xcfc (PCI config data) in bits 31:16. ' +
        'The VMM writes RAX with the low 16 bits replaced (0xffffffff → 0xffff8086) and RIP += VMCS_RO_VMEXIT_INSTR_LEN, which is 2 here (66 ED) (§1.7 [T]); the end marker shows the guest got the value. ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e, i) =>
          x86Exit(e, { regs: i === p.exits.length - 1 ? ['RAX'] : ['RAX', 'RDX'] }),
        ),
        ...x86Epilogue(),
      ],
    );
  }
  // hlt.
  {
    const p = x86Predict([{ op: 'hlt' }]);
    add(
      'x86_64',
      'hlt-exit',
      'hlt in 32-bit protected mode exits with VMX_REASON_HLT, RIP at the hlt and an instruction length of 1',
      "x86_setup requests HLT exiting (CPU_BASED_HLT), as Apple's XNU test does (hvf-facts.md §1.8 [T]); VMX_REASON_HLT = 12 (§1.5 [H]); the qualification is 0 (Intel SDM: cleared for exits that define none). " +
        'The framework never advances RIP: a VMM that resumes the guest adds VMCS_RO_VMEXIT_INSTR_LEN (§1.7 [T]); hlt (F4) is one byte, and the next run reaches the end marker. ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: [] })),
        ...x86Epilogue(),
      ],
    );
  }

  // ud2 under the canonical exception bitmap: an exception exit the VMM skips.
  {
    const p = x86Predict([{ op: 'ud2' }]);
    add(
      'x86_64',
      'exception-ud2',
      'ud2 under the canonical exception bitmap exits with VMX_REASON_EXC_NMI and #UD in VMCS_RO_VMEXIT_IRQ_INFO; RIP stays at the ud2',
      "x86_setup sets VMCS_CTRL_EXC_BITMAP to 0xffffffff, as Apple's XNU test does, so every guest exception exits (hvf-facts.md §1.8 [T]); VMX_REASON_EXC_NMI = 0 (§1.5 [H]). " +
        'VMCS_RO_VMEXIT_IRQ_INFO = valid | hardware exception (type 3) | vector 6 = 0x80000306 (§1.6; the XNU test checks the same layout for #PF: & 0x800003ff == 0x8000030e [T]); bit 12 is not compared (undefined with NMI exiting and no virtual NMIs). ' +
        'VMCS_RO_VMEXIT_INSTR_LEN is not defined for a hardware exception: the VMM knows ud2 (0F 0B) is two bytes and skips it. ' +
        'On a backend that declares it never reports exception exits (the KVM provider: kvm.controls) this trace is unsupported. ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: [] })),
        ...x86Epilogue(),
      ],
    );
  }
  // ud2 with the exception bitmap cleared: the guest gets #UD, its IDT is empty, and it triple-faults.
  {
    const p = x86Predict([{ op: 'ud2' }], [], undefined, 0);
    add(
      'x86_64',
      'triple-fault',
      'ud2 with VMCS_CTRL_EXC_BITMAP = 0: #UD goes to the guest, whose IDT limit is 0, so #GP then #DF, and the vCPU triple-faults (VMX_REASON_TRIPLE_FAULT)',
      'With the bitmap clear the exception is delivered through the guest IDT; x86_setup leaves IDTR limit 0 (§1.8 [T]), so delivery faults into #GP, then #DF, then shutdown: VMX_REASON_TRIPLE_FAULT = 2 (§1.5 [H], Intel SDM). ' +
        'RIP at a triple fault is not compared; the vCPU is in shutdown and a VMM resets it. ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        on({
          call: 'hv_vmx_vcpu_write_vmcs',
          args: { vcpu: '$cpu', field: 'VMCS_CTRL_EXC_BITMAP', value: 0 },
          expect: OK,
        }),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: [], resume: false })),
      ],
    );
  }

  const EPT_COMMON =
    'EPT violation: VMX_REASON_EPT_VIOLATION = 48 (§1.5 [H]), the GPA in VMCS_GUEST_PHYSICAL_ADDRESS (§1.4 [H]). ' +
    'Qualification (§1.6 [T]): bit 0 read / bit 1 write / bit 2 fetch, bits 3–5 = what the GPA allowed (readable, writable, executable), bits 7 and 8 set (the guest-linear address is valid and was translated: with paging off every access is one); ' +
    'compared under 0x' +
    EPT_QUALIFICATION_MASK.toString(16) +
    ', leaving out bit 6 and bits 9–11, which depend on the host CPU [U]. ' +
    'The VM-exit instruction length is NOT defined for EPT violations (§1.6 [U: Intel SDM rule]): the VMM must decode the instruction at RIP itself, so this trace never reads VMCS_RO_VMEXIT_INSTR_LEN. ';
  // EPT read of an unmapped GPA.
  {
    const answer = (q: X86VmmQuestion): number => (q.kind === 'mmio-read' ? 0xfeedface : 0);
    const p = x86Predict([{ op: 'load', size: 4, addr: 0xd000_0000n, via: 'moffs' }], [], answer);
    add(
      'x86_64',
      'ept-read-unmapped',
      'mov eax, [0xd0000000] from an unmapped GPA: an EPT violation (data read, no permissions); the VMM emulates the MMIO load and skips the 5-byte instruction it decoded',
      'A read (bit 0) of a GPA nothing is mapped at (bits 3–5 clear), RIP at the load. The VMM emulates the device: it writes the value (0xfeedface) into RAX and sets RIP past the instruction, 5 bytes by its own decoding (A1 + moffs32); the end marker shows RAX. ' +
        EPT_COMMON +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: ['RAX'] })),
        ...x86Epilogue(),
      ],
    );
  }
  // EPT write to an unmapped GPA.
  {
    const p = x86Predict([
      { op: 'mov', reg: 'eax', value: 0xbeef },
      { op: 'store', size: 2, addr: 0xd000_0004n, via: 'ebx' },
    ]);
    add(
      'x86_64',
      'ept-write-unmapped',
      'mov [ebx], ax to an unmapped GPA: an EPT violation (data write); the data is in AX, the VMM skips the 3-byte instruction it decoded',
      'A write (bit 1) to an unmapped GPA 0xd0000004, RIP at `mov [ebx], ax` (66 89 03), EBX = the address. The stored data is the low 2 bytes of RAX (0xbeef); the VMM takes it from RAX, not from the qualification, and sets RIP += 3 by its own decoding. ' +
        EPT_COMMON +
        X86_COMMON,
      [...x86Prologue(p.assembly.bytes), ...p.exits.flatMap((e) => x86Exit(e)), ...x86Epilogue()],
    );
  }
  // EPT write to a READ|EXEC mapping, then hv_vm_protect and re-run (dirty tracking).
  {
    const data: X86Map = { name: 'data', gpa: 0x2000n, flags: HV_MEMORY.READ | HV_MEMORY.EXEC };
    const actions: X86Action[] = [
      { op: 'mov', reg: 'eax', value: 0xcafe_f00d },
      { op: 'store', size: 4, addr: 0x2010n, via: 'moffs' },
    ];
    const before = x86Predict(actions, [data]);
    const after = x86Predict(actions, [{ ...data, flags: 7 }]);
    const fault = must(before.exits[0], 'first exit');
    if (fault.kind !== 'x86.ept.write.readonly') throw new Error(`expected a write fault, got ${fault.kind}`);
    const written = after.memory.find((m) => m.gpa === 0x2010n);
    if (!written) throw new Error('the store should reach memory once writable');
    add(
      'x86_64',
      'ept-write-readonly-protect',
      'a store to a READ|EXEC page is an EPT violation (write; readable and executable); after hv_vm_protect(READ|WRITE|EXEC) the VMM re-runs without moving RIP and the store lands',
      "A write (bit 1) to GPA 0x2010 of a page mapped READ|EXEC, so bits 3 and 5 are set and bit 4 is clear (READ→readable, EXEC→executable is the spec's assumption of HVF's EPT mapping [U]). " +
        "This is how a VMM tracks dirty pages on HVF (no dirty log): map read-only, take the write fault, hv_vm_protect the page writable and run again WITHOUT advancing RIP, so the guest re-executes the store (Apple's XNU test does this with READ-only pages and hv_vm_protect(READ|WRITE), §1.8 [T]; QEMU's dirty logging, §1.7 [T]). " +
        'The next exit is the end marker, and the host buffer holds the stored 0xcafef00d. ' +
        EPT_COMMON +
        X86_COMMON,
      [
        ...x86Prologue(before.assembly.bytes, [data]),
        ...x86Exit(fault, { resume: false }),
        {
          call: 'hv_vm_protect',
          args: { gpa: hex(data.gpa), size: hex(X86_PAGE), flags: flagNames(7) },
          expect: OK,
        },
        ...after.exits.flatMap((e) => x86Exit(e, { regs: ['RAX'] })),
        {
          call: 'host_read',
          args: { mem: 'data', offset: Number(written.gpa - data.gpa), size: written.bytes.length },
          expect: { bytes: bytesHex(written.bytes) },
        },
        ...x86Epilogue(),
      ],
    );
  }
  // Instruction fetch from an unmapped GPA.
  {
    const p = x86Predict([{ op: 'jump', target: { addr: 0x8000_0000n } }]);
    add(
      'x86_64',
      'ept-fetch-unmapped',
      'jmp to an unmapped GPA: an EPT violation (instruction fetch) with RIP = the target; the VMM decides where the guest goes next',
      "The jmp itself executes; fetching the first instruction at 0x80000000 faults: bit 2 (fetch), bits 3–5 clear, GPA = RIP = 0x80000000 (Apple's test recognises a fetch fault by (qual & 0x86) == 0x84, §1.8 [T]). " +
        "A fetch fault is never MMIO to emulate (QEMU only emulates data accesses, §1.6 [T]): a VMM maps memory there, injects a fault, or stops; this trace's VMM sets RIP back to the instruction after the jmp, and the guest reaches the end marker. " +
        EPT_COMMON +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        ...p.exits.flatMap((e) => x86Exit(e, { regs: [] })),
        ...x86Epilogue(),
      ],
    );
  }
  // Kick before run.
  {
    const p = x86Predict([{ op: 'mov', reg: 'eax', value: 0x2a }, { op: 'hlt' }]);
    add(
      'x86_64',
      'kick-before-run',
      'hv_vcpu_interrupt before hv_vcpu_run: the next run returns at once without entering the guest (RIP unchanged); the run after that executes it',
      'hv_vcpu_interrupt may be called from any thread (hvf-facts.md §1.2 [H]); on a vCPU that is not running it makes the next entry exit immediately — kicks are sticky (§1.7, §5.2 [R]). ' +
        'The kicked run returns HV_SUCCESS with RIP still at the first instruction (`mov eax, 0x2a`, 5 bytes): had the guest run, it would have stopped at the hlt after it. ' +
        'Which exit reason a kick produces is not documented (most likely VMX_REASON_IRQ, §1.7 [U]): the trace reads VMCS_RO_EXIT_REASON as a VMM would but does not check the value. ' +
        'The second run enters the guest and exits at the hlt with EAX = 0x2a. ' +
        X86_COMMON,
      [
        ...x86Prologue(p.assembly.bytes),
        { call: 'hv_vcpu_interrupt', args: { vcpus: ['$cpu'], vcpu_count: 1 }, expect: OK },
        on({ call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, expect: OK }),
        on({
          call: 'hv_vmx_vcpu_read_vmcs',
          args: { vcpu: '$cpu', field: 'VMCS_RO_EXIT_REASON' },
          expect: OK,
        }),
        readVmcs('VMCS_GUEST_RIP', hex(X86_CODE)),
        ...x86Exit(must(p.exits[0], 'hlt exit'), { regs: ['RAX'], resume: false }),
        ...x86Epilogue(),
      ],
    );
  }
  // Async spin + kick from another thread.
  {
    // `jmp $`: a jump to its own address, assembled by the spec (rel32 = -5). The prediction does not
    // cover a spin (it never exits), so only the assembler is used.
    const p = assembleX86({ actions: [{ op: 'jump', target: { addr: X86_CODE } }] }, X86_CODE).bytes;
    add(
      'x86_64',
      'kick-spinning-vcpu',
      'a vCPU spinning on `jmp $` in hv_vcpu_run on its thread is stopped by hv_vcpu_interrupt from the main thread; RIP is still at the jmp',
      'hv_vcpu_interrupt "forces an immediate VM exit of the listed vCPUs" and may be called from any thread (hvf-facts.md §1.2 [H]); the run returns HV_SUCCESS. ' +
        'The run is started asynchronously on the vCPU\'s thread 1 (`"async": true`), thread 0 kicks it, `await` collects the result. If the kick lands before the guest is entered, the sticky-kick rule gives the same result (§1.7 [R]). ' +
        'The exit reason of a kick is undocumented (most likely VMX_REASON_IRQ, §1.7 [U]) and is read but not checked; RIP must be the jmp, the only instruction the guest executes. ' +
        X86_COMMON,
      [
        ...x86Prologue(p),
        on({ call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'spin' }),
        { call: 'hv_vcpu_interrupt', args: { vcpus: ['$cpu'], vcpu_count: 1 }, expect: OK },
        { call: 'await', args: { label: 'spin' }, expect: OK },
        on({
          call: 'hv_vmx_vcpu_read_vmcs',
          args: { vcpu: '$cpu', field: 'VMCS_RO_EXIT_REASON' },
          expect: OK,
        }),
        readVmcs('VMCS_GUEST_RIP', hex(X86_CODE)),
        ...x86Epilogue(),
      ],
    );
  }
}

// ---- x86: the other modes, and the exits beyond I/O, HLT, EPT and #UD ------------------------------

/** Where the paging modes' canonical page tables go (mapped READ|WRITE, written by the VMM). */
const X86_TABLES = 0x10000n;
/**
 * The CPU-based controls the mode examples' predictions assume: what x86_setup asks for (HLT, CR8
 * load/store) and CR3-load/-store exiting, which the model's capability makes must-be-1 (on a host
 * whose controls leave them off, the CR3 example fails at its first exit).
 */
const X86_EXAMPLE_CPU_BASED =
  X86_SETUP_CPU_BASED | CPU_BASED.CPU_BASED_CR3_LOAD | CPU_BASED.CPU_BASED_CR3_STORE;
/**
 * VMCS_CTRL_CPU_BASED with MOV-DR exiting, as the MOV DR examples write it: x86_setup's value on the
 * model (HLT, CR8 load/store and the must-be-1 bits of its capability: the Intel default-1 bits,
 * unconditional I/O, CR3 load/store, secondary controls) plus CPU_BASED_MOV_DR. A trace cannot
 * canonicalise a control against another host's capability, so the write's result is not checked:
 * a host that rejects the value keeps its controls and fails (or is unsupported) at the first MOV DR.
 */
const X86_MOV_DR_CPU_BASED = (0x8519_e1f2 | CPU_BASED.CPU_BASED_MOV_DR) >>> 0;

const MODE_TEXT: Record<X86Mode, string> = {
  real:
    "x86_setup 'real' puts the vCPU in real-address mode exactly as Apple's XNU test does (setup_real_mode: CR0 0x20, segments base 0 limit 0xffff, hvf-facts.md §1.8 [T]); the framework runs it as an unrestricted guest. " +
    'Code is 16-bit (0x66 selects 32-bit operands), RIP is the offset in CS (base 0 here, so RIP = the linear address), data offsets above DS.limit 0xffff fault. ',
  prot32:
    "x86_setup 'prot32' puts the vCPU in 32-bit flat protected mode with paging off, as Apple's XNU test does (hvf-facts.md §1.8 [T]), so guest-linear = guest-physical. ",
  'prot32-paging':
    "x86_setup 'prot32-paging' is the protected-mode setup with CR0.PG and CR4.PSE (CR0 0x80000021, CR4 0x2010); the VMM writes the spec's canonical page directory (4 MiB pages: linear [0, 64 MiB) identity, [1 GiB, +64 MiB) → GPA 0, 2 GiB through a page table at the unmapped GPA 0xfff00000, the rest not present) to GPA 0x10000 and loads CR3 with it. ",
  long64:
    "x86_setup 'long64' puts the vCPU in IA-32e 64-bit mode as Apple's XNU test does (setup_long_mode: VMENTRY_GUEST_IA32E, CR0 0x80000021, CR4 0x2020, EFER 0x500, CS AR 0xa09b, hvf-facts.md §1.8 [T]); the VMM writes the spec's canonical 4-level tables (PML4, PDPT, one PD of 2 MiB pages: linear [0, 64 MiB) identity, [1 GiB, +64 MiB) → GPA 0, 2 GiB through a page directory at the unmapped GPA 0xfff00000, the rest not present) to GPA 0x10000 and loads CR3 with the PML4. Apple also makes MSR_IA32_KERNEL_GS_BASE native; no program here touches it. ",
};

const MODE_COMMON =
  'The framework never moves RIP for the VMM (§1.7 [T]); the VMM writes RIP past the instruction. All eight GPRs are zeroed first, so every register the trace reads is known. ' +
  "Every program ends with `out 0xe0, al`, the spec's end marker. Machine code and expectations are generated by scripts/make-example-traces.ts from the spec's assembler and prediction (Intel SDM Vol. 3 chapters 25–28 for what exits and how). Needs a backend that executes guest code.";

interface ModeExample {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly actions: X86Action[];
  readonly modes: readonly X86Mode[];
  readonly extra?: readonly X86Map[];
  readonly excBitmap?: number;
  readonly movDr?: boolean;
  readonly answer?: (q: X86VmmQuestion) => number;
}

function x86ModeLookup(
  mode: X86Mode,
  extra: readonly X86Map[],
): (gpa: bigint) => { flags: number } | undefined {
  const base = x86Lookup(extra);
  const tables = mode === 'long64' || mode === 'prot32-paging';
  const size = tables ? x86PageTablesSize(mode) : 0n;
  return (gpa) =>
    base(gpa) ?? (tables && gpa >= X86_TABLES && gpa < X86_TABLES + size ? { flags: 3 } : undefined);
}

/** One example in one mode: VM, code, page tables, setup, the VMM's writes, the exits, and the end. */
function x86ModeExample(mode: X86Mode, ex: ModeExample): void {
  const paging =
    mode === 'long64' || mode === 'prot32-paging'
      ? x86CanonicalPageTables(mode, X86_TABLES, 0xfff0_0000n)
      : undefined;
  const extra = ex.extra ?? [];
  const p = predictX86({
    program: { actions: ex.actions },
    gpa: X86_CODE,
    mode,
    ...(paging ? { paging } : {}),
    lookup: x86ModeLookup(mode, extra),
    ...(ex.answer ? { answer: ex.answer } : {}),
    ...(ex.excBitmap !== undefined ? { excBitmap: ex.excBitmap } : {}),
    cpuBased: X86_EXAMPLE_CPU_BASED | (ex.movDr ? CPU_BASED.CPU_BASED_MOV_DR : 0),
  });
  if (p.unspecified) throw new Error(`${mode}/${ex.name}: not predicted: ${p.unspecified.reason}`);
  const steps = x86Prologue(p.assembly.bytes, extra, mode);
  if (paging) {
    // The tables go in right after the code and its pages, before the vCPU exists (host_write order).
    const at = steps.findIndex((st) => st.call === 'hv_vcpu_create');
    steps.splice(
      at,
      0,
      { call: 'host_alloc', args: { name: 'tables', size: hex(x86PageTablesSize(paging.mode)) } },
      ...paging.pages.map(
        (pg): Step => ({
          call: 'host_write',
          args: { mem: 'tables', offset: Number(pg.gpa - paging.root), bytes: bytesHex(pg.bytes) },
        }),
      ),
      {
        call: 'hv_vm_map',
        args: {
          uva: { mem: 'tables', offset: 0 },
          gpa: hex(X86_TABLES),
          size: hex(x86PageTablesSize(paging.mode)),
          flags: flagNames(3),
        },
        expect: OK,
      },
    );
    steps.push(
      on({
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu: '$cpu', field: 'VMCS_GUEST_CR3', value: hex(paging.root) },
        expect: OK,
      }),
    );
  }
  if (ex.movDr)
    steps.push(
      on({
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu: '$cpu', field: 'VMCS_CTRL_CPU_BASED', value: hex(X86_MOV_DR_CPU_BASED) },
      }),
    );
  if (ex.excBitmap !== undefined)
    steps.push(
      on({
        call: 'hv_vmx_vcpu_write_vmcs',
        args: { vcpu: '$cpu', field: 'VMCS_CTRL_EXC_BITMAP', value: hex(ex.excBitmap) },
        expect: OK,
      }),
    );
  for (const r of ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI'])
    steps.push(writeReg(`HV_X86_${r}`, 0));
  for (const e of p.exits) steps.push(...x86Exit(e, { regs: Object.keys(e.regs) as X86RegName[] }));
  if (p.exits.at(-1)?.kind === 'x86.end') steps.push(...x86Epilogue());
  add(
    'x86_64',
    `${mode}-${ex.name}`,
    `${mode}: ${ex.title}`,
    ex.description + MODE_TEXT[mode] + MODE_COMMON,
    steps,
  );
}

function x86ModeExamples(): void {
  const ALL: readonly X86Mode[] = ['real', 'prot32', 'prot32-paging', 'long64'];
  const NEW_MODES: readonly X86Mode[] = ['real', 'prot32-paging', 'long64'];
  const PAGING: readonly X86Mode[] = ['prot32-paging', 'long64'];
  const mmio = (q: X86VmmQuestion): number =>
    q.kind === 'mmio-read' ? 0xfeedface : q.kind === 'in' ? 0x5a : defaultX86Answer(q);
  const examples: ModeExample[] = [
    {
      name: 'vmcall',
      modes: ALL,
      title:
        'mov eax, 0x23456; vmcall exits with VMX_REASON_VMCALL, RAX = 0x23456, RIP at the vmcall, VMCS_RO_VMEXIT_INSTR_LEN 3',
      description:
        "Apple's XNU test runs exactly this guest in real, protected and long mode and expects reason 18 with RAX 0x23456; it advances VMCS_GUEST_RIP by VMCS_RO_VMEXIT_INSTR_LEN (hvf-facts.md §1.5 [H], §1.8 [T]). " +
        'VMCALL (0F 01 C1) exits unconditionally in VMX non-root operation (Intel SDM §26.1.2); qualification 0, length 3. In real mode `mov eax, imm32` needs the 0x66 prefix (66 B8 id: 6 bytes), so the vmcall is at 0x1006. ',
      actions: [{ op: 'mov', reg: 'eax', value: 0x23456 }, { op: 'vmcall' }],
    },
    {
      name: 'cpuid',
      modes: ALL,
      title:
        'cpuid exits with VMX_REASON_CPUID; the VMM writes EAX, EBX, ECX and EDX and skips the 2-byte instruction',
      description:
        'CPUID exits unconditionally in VMX non-root operation (Intel SDM §26.1.2): reason 10 (hvf-facts.md §1.5 [H]), qualification 0, length 2. QEMU and other HVF VMMs answer it themselves [T]. The leaf is in EAX (1), the subleaf in ECX; the VMM writes the four result registers (deterministic values here) and RIP += 2; the end marker shows the guest saw them. ',
      actions: [{ op: 'cpuid', leaf: 1 }],
    },
    {
      name: 'msr-efer',
      modes: ALL,
      title:
        'rdmsr / wrmsr of IA32_EFER exit with VMX_REASON_RDMSR / _WRMSR, the MSR in RCX, the value in EDX:EAX',
      description:
        "Apple's XNU test (rdar61961809) sees exactly this: rdmsr of 0xc0000080 exits with reason 31 and RCX = 0xc0000080; the VMM writes EDX:EAX; wrmsr exits with reason 32 with the value in EDX:EAX (hvf-facts.md §1.8 [T]). Every MSR exits unless the VMM made it native (hv_vcpu_enable_native_msr; Intel SDM §26.1.3). Qualification 0, length 2. This VMM answers the rdmsr with a deterministic value and ignores the write. ",
      actions: [
        { op: 'rdmsr', msr: 0xc000_0080 },
        { op: 'wrmsr', msr: 0xc000_0080 },
      ],
    },
    {
      name: 'mov-cr',
      modes: ALL,
      title:
        'mov to CR0/CR4 exits (VMX_REASON_MOV_CR) when a bit the guest/host mask owns differs from the read shadow; mov from CR0 reads the shadow and does not exit',
      description:
        "Under the canonical masks (bits 31:0 of CR0 and CR4 owned by the VMM, hvf-facts.md §1.8 [T]) a MOV to CR0 or CR4 with a value that differs from VMCS_CTRL_CR0_SHADOW / _CR4_SHADOW exits with reason 28 (§1.5 [H]); one with the shadow's value executes and changes nothing; a MOV from CR0 never exits and reads the shadow for owned bits (Intel SDM §26.1.3, §27.3). " +
        'Qualification (§1.6): bits 3:0 the CR, bits 5:4 the type (0 MOV to CR), bits 11:8 the GPR (3 = EBX); length 3. The VMM ignores the writes; the end marker shows ECX = the shadow. ',
      actions: [
        { op: 'mov', reg: 'ebx', value: 0x1234_0000 },
        { op: 'mov-to-cr', cr: 0, reg: 'ebx' },
        { op: 'mov-from-cr', cr: 0, reg: 'ecx' },
        { op: 'mov-to-cr', cr: 0, reg: 'ecx' },
        { op: 'mov-to-cr', cr: 4, reg: 'ebx' },
      ],
    },
    {
      name: 'mov-cr3',
      modes: ALL,
      title:
        'mov from/to CR3 exits under CR3-store/-load exiting (VMX_REASON_MOV_CR); the VMM answers the read',
      description:
        'MOV from CR3 exits under CPU_BASED_CR3_STORE and MOV to CR3 under CPU_BASED_CR3_LOAD with a CR3-target count of 0 (Intel SDM §26.1.3). x86_setup does not ask for them; they are on when the capability makes them must-be-1 (the Intel default-1 bits 15 and 16 of the non-TRUE CPU-based capability), as on the model; a backend whose controls leave them off runs the guest past the MOVs and fails at the first exit. ' +
        'Qualification: CR 3, type 1 (from) / 0 (to), GPR 7 (EDI). The VMM answers the read and ignores the write. ',
      actions: [
        { op: 'mov-from-cr', cr: 3, reg: 'edi' },
        { op: 'mov-to-cr', cr: 3, reg: 'edi' },
      ],
    },
    {
      name: 'mov-cr8',
      modes: ['long64'],
      title: 'mov to/from CR8 (REX.R) exits under CR8-load/-store exiting, which x86_setup requests',
      description:
        "x86_setup requests CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE as Apple's test does (hvf-facts.md §1.8 [T]), so MOV to and from CR8 (the task priority, 64-bit mode only: 44 0F 22 / 44 0F 20) exit with reason 28 and CR number 8 in the qualification (Intel SDM §26.1.3, Table 28-3); length 4. The VMM ignores the write and answers the read with a priority 0–15. ",
      actions: [
        { op: 'mov', reg: 'esi', value: 5 },
        { op: 'mov-to-cr', cr: 8, reg: 'esi' },
        { op: 'mov-from-cr', cr: 8, reg: 'edx' },
      ],
    },
    {
      name: 'mov-dr',
      modes: ALL,
      movDr: true,
      title:
        'with MOV-DR exiting, mov to/from DR0–DR3 exits with VMX_REASON_MOV_DR and the DR, direction and GPR in the qualification',
      description:
        'The VMM sets CPU_BASED_MOV_DR (bit 23) in VMCS_CTRL_CPU_BASED, so every MOV DR exits with reason 29 (hvf-facts.md §1.5 [H]; Intel SDM §26.1.3). Qualification (SDM Table 28-4): bits 2:0 the DR, bit 4 the direction (0 to DR, 1 from DR), bits 11:8 the GPR; length 3. The VMM ignores the write and answers the read. ' +
        "The write of VMCS_CTRL_CPU_BASED is the model's x86_setup value plus bit 23 ; its result is not checked: a host that rejects it keeps its controls and fails, or is unsupported, at the first MOV DR exit. ",
      actions: [
        { op: 'mov', reg: 'eax', value: 0x1000 },
        { op: 'mov-to-dr', dr: 0, reg: 'eax' },
        { op: 'mov-from-dr', dr: 3, reg: 'ecx' },
      ],
    },
    {
      name: 'hlt',
      modes: NEW_MODES,
      title: 'hlt exits with VMX_REASON_HLT, qualification 0, length 1',
      description:
        "x86_setup requests HLT exiting (CPU_BASED_HLT) as Apple's test does (hvf-facts.md §1.8 [T]): reason 12, qualification 0, length 1; the VMM advances RIP. ",
      actions: [{ op: 'hlt' }],
    },
    {
      name: 'io',
      modes: NEW_MODES,
      answer: mmio,
      title:
        'out/in with an imm8 port and with DX: VMX_REASON_IO with the I/O qualification; the VMM answers the in',
      description:
        'I/O exits (reason 30) although no I/O exiting is requested: the framework forces it (hvf-facts.md §1.8 [T]). Qualification (§1.6 [T]): bits 2:0 size − 1, bit 3 IN, bit 6 imm8 form, bits 31:16 port. The VMM writes IN data into the low bytes of RAX and RIP += VMCS_RO_VMEXIT_INSTR_LEN. ',
      actions: [
        { op: 'mov', reg: 'eax', value: 0x1122_3344 },
        { op: 'out', size: 4, port: 0x80, form: 'imm8' },
        { op: 'out', size: 1, port: 0x3f8, form: 'dx' },
        { op: 'in', size: 1, port: 0x71, form: 'imm8' },
        { op: 'in', size: 2, port: 0xcfc, form: 'dx' },
      ],
    },
    {
      name: 'string-io',
      modes: ALL,
      extra: [
        { name: 'src', gpa: 0x2000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
        { name: 'dst', gpa: 0x3000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
      ],
      title:
        'outs, rep outs, ins and rep ins: bit 4 (string) and bit 5 (REP) of the I/O qualification, the operand in VMCS_RO_GUEST_LIN_ADDR',
      description:
        'INS/OUTS exit like IN/OUT (reason 30, forced I/O exiting, hvf-facts.md §1.8 [T]) before touching memory; the qualification has bit 4 (string) and, with REP, bit 5, bit 6 clear (the port is in DX), and VMCS_RO_GUEST_LIN_ADDR holds the linear address of the memory operand, DS:ESI for OUTS and ES:EDI for INS (Intel SDM §28.2.1, §1.6). The length includes the prefixes. ' +
        'This VMM completes each instruction without moving data: ESI/EDI advance by size × count and ECX becomes 0 under REP, RIP += length. ',
      actions: [
        { op: 'outs', size: 1, port: 0x3f8, addr: 0x2000n },
        { op: 'outs', size: 2, port: 0x80, addr: 0x2100n, rep: 4 },
        { op: 'ins', size: 4, port: 0xcfc, addr: 0x3000n },
        { op: 'ins', size: 1, port: 0x60, addr: 0x3100n, rep: 16 },
      ],
    },
    {
      name: 'ept',
      modes: NEW_MODES,
      answer: mmio,
      extra: [{ name: 'data', gpa: 0x2000n, flags: HV_MEMORY.READ }],
      title:
        'EPT violations: an MMIO read of an unmapped GPA, a write to a read-only page, a fetch from an unmapped GPA',
      description:
        'EPT violations (reason 48): bit 0/1/2 the access, bits 3–5 what the GPA allows, bit 7 the guest-linear address is valid and bit 8 the access was to the translation of that address (hvf-facts.md §1.6 [T]); GPA in VMCS_GUEST_PHYSICAL_ADDRESS, the linear address in VMCS_RO_GUEST_LIN_ADDR; bits 6 and 9–11 are host dependent and masked [U]. The instruction length is not defined: the VMM decodes the instruction, emulates the load (RAX) and skips it; for the fetch it resumes after the jump. ',
      actions: [
        { op: 'load', size: 4, addr: 0x9000n, via: 'moffs' },
        { op: 'mov', reg: 'eax', value: 0xbeef },
        { op: 'store', size: 2, addr: 0x2010n, via: 'ebx' },
        { op: 'jump', target: { addr: 0xa000n } },
      ],
    },
    {
      name: 'ept-linear',
      modes: PAGING,
      answer: mmio,
      title:
        'with paging: an EPT violation through an alias (GLA ≠ GPA, bit 8 set) and one on a paging-structure entry (bit 8 clear, GPA = the entry)',
      description:
        "Through the alias at linear 1 GiB + 0x9000 the load reaches GPA 0x9000, which is unmapped: the GPA and the linear address differ, bits 7 and 8 set (Intel SDM Table 28-7; hvf-facts.md §1.6). A store to linear 2 GiB walks through a page table at GPA 0xfff00000, which the VMM never mapped: the EPT violation is on reading that entry, so VMCS_GUEST_PHYSICAL_ADDRESS is the entry's GPA and bit 8 is clear (the access was to a paging structure); bits 0–2 are masked too, since with EPT accessed/dirty flags the CPU treats paging-structure accesses as writes and whether the framework enables them is not known [U]. QEMU emulates MMIO only for bit 8 set [T]: this VMM skips the instruction without emulating. ",
      actions: [
        { op: 'load', size: 4, addr: 0x4000_9000n, via: 'ebx' },
        { op: 'store', size: 1, addr: 0x8000_1000n, via: 'moffs' },
      ],
    },
    {
      name: 'exceptions',
      modes: ALL,
      title:
        'guest exceptions under the canonical exception bitmap: #DE, #DB (int1), #BP (int3), #UD and #GP exit with VMX_REASON_EXC_NMI',
      description:
        "x86_setup sets VMCS_CTRL_EXC_BITMAP to 0xffffffff as Apple's test does, so every guest exception exits with reason 0 (hvf-facts.md §1.6, §1.8 [T]). VMCS_RO_VMEXIT_IRQ_INFO = valid | type | vector (bit 12 masked): #DE (div by zero) and #UD are hardware exceptions (type 3) whose RIP is the faulting instruction and whose length is not defined (the VMM decodes); #DB from int1 is a privileged software exception (type 5) and #BP from int3 a software exception (type 6), both with RIP at the instruction and length 1 (Intel SDM §28.2.2, §28.2.5); #DB's qualification B3–B0 are masked. " +
        '#GP comes from loading DS with a selector beyond the GDT limit 0 (error code = the selector, VMCS_RO_VMEXIT_IRQ_ERROR) in protected and long mode, and from a data access past DS.limit in real mode, where no error code is delivered (bit 11 clear). VMCS_RO_IDT_VECTOR_INFO is invalid (no event was being delivered). ',
      actions: [
        { op: 'div0' },
        { op: 'int1' },
        { op: 'int3' },
        { op: 'ud2' },
        { op: 'load', size: 1, addr: 0x1_0010n, via: 'ebx' },
      ],
    },
    {
      name: 'page-fault',
      modes: PAGING,
      title:
        '#PF under the canonical exception bitmap: the linear address in the qualification, the error code in VMCS_RO_VMEXIT_IRQ_ERROR',
      description:
        "A read and a write to linear 0xc0000000, which the canonical tables leave not present, and a jump there: each a #PF exit with reason 0, VMCS_RO_VMEXIT_IRQ_INFO 0x80000b0e (the XNU test's check `& 0x800003ff == 0x8000030e`, hvf-facts.md §1.8 [T]), the faulting linear address as the qualification (CR2 is not written: the exception was not delivered, Intel SDM §28.2.1) and the error code P = 0, W/R = the access, U/S = 0, I/D = 0 (no EFER.NXE) (SDM §4.7). RIP is the faulting instruction (for the jump: its target); the VMM skips the access and resumes after the jump. ",
      actions: [
        { op: 'load', size: 4, addr: 0xc000_0000n, via: 'moffs' },
        { op: 'store', size: 2, addr: 0xc000_1002n, via: 'ebx' },
        { op: 'jump', target: { addr: 0xc000_2000n } },
      ],
    },
    {
      name: 'int21-idt-vectoring',
      modes: ALL,
      title:
        'int 0x21 with the IDT limit 0: #GP exits with IDT-vectoring information naming the software interrupt and its length — how small VMMs service DOS calls',
      description:
        'INT n never consults the exception bitmap (Intel SDM §25.2): the guest delivers it through its IDT, whose limit is 0 after x86_setup (hvf-facts.md §1.8 [T]), so delivery fails with #GP (error code 0x21 × 8 + 2 outside real mode; none in real mode), which the canonical bitmap intercepts: reason 0, VMCS_RO_VMEXIT_IRQ_INFO #GP, VMCS_RO_IDT_VECTOR_INFO = valid | software interrupt (type 4) | 0x21 = 0x80000421, and VMCS_RO_VMEXIT_INSTR_LEN = 2, the length of the int (SDM §28.2.4, §28.2.5). RIP stays at the int. A real-mode VMM (DOS-style tools) reads AH from RAX, emulates the service and writes RIP += 2. ',
      actions: [
        { op: 'mov', reg: 'eax', value: 0x0900 },
        { op: 'int', vector: 0x21 },
      ],
    },
    {
      name: 'double-fault-vectoring',
      modes: ALL,
      excBitmap: 1 << 8,
      title:
        'ud2 with only #DF intercepted: #UD and the #GP of its failed delivery go to the guest; the #DF exits with the #GP as IDT-vectoring information',
      description:
        'With VMCS_CTRL_EXC_BITMAP = 1 << 8, #UD is delivered through the IDT (limit 0): that fails with #GP (error code 6 × 8 + 3: IDT, external; none in real mode), whose delivery fails again, and a #GP during a contributory exception is a #DF (Intel SDM §6.15 Table 6-5). The #DF is intercepted: reason 0, VMCS_RO_VMEXIT_IRQ_INFO #DF (error code 0 outside real mode), VMCS_RO_IDT_VECTOR_INFO = the #GP being delivered, with its error code in VMCS_RO_IDT_VECTOR_ERROR (SDM §28.2.4). No instruction length (all hardware events). ',
      actions: [{ op: 'ud2' }],
    },
    {
      name: 'triple-fault',
      modes: NEW_MODES,
      excBitmap: 0,
      title:
        'ud2 with VMCS_CTRL_EXC_BITMAP = 0 and the IDT limit 0: #UD, #GP, #DF, then a triple fault (VMX_REASON_TRIPLE_FAULT)',
      description:
        'Nothing is intercepted, every delivery fails (IDT limit 0), and a fault while delivering #DF shuts the processor down: reason 2 (hvf-facts.md §1.5 [H]; Intel SDM §6.15). RIP at a triple fault is not compared [U]; the vCPU is in shutdown and a VMM resets it. ',
      actions: [{ op: 'ud2' }],
    },
  ];
  for (const ex of examples)
    for (const mode of ex.modes) {
      // #GP from the DS limit is a real-mode fault; protected and long mode load a bad selector instead.
      const actions =
        ex.name === 'exceptions' && mode !== 'real'
          ? ex.actions.map((a): X86Action => (a.op === 'load' ? { op: 'load-ds', selector: 0x18 } : a))
          : ex.actions;
      x86ModeExample(mode, { ...ex, actions });
    }
}

// ---- arm64 -----------------------------------------------------------------------------------------

/** Code at IPA 0x10000 in one 16 KiB page (the default stage-2 granule, hvf-facts.md §2.5). */
const ARM_CODE = 0x10000n;
const ARM_PAGE = 0x4000n;
/** An unmapped IPA, where a VMM would put a device (QEMU's virt board has its UART there). */
const ARM_MMIO = 0x0900_0000n;

interface ArmMap {
  readonly name: string;
  readonly ipa: bigint;
  readonly flags: number;
}

function armLookup(extra: readonly ArmMap[]): (ipa: bigint) => { flags: number } | undefined {
  const all = [{ name: 'ram', ipa: ARM_CODE, flags: HV_MEMORY.READ | HV_MEMORY.EXEC }, ...extra];
  return (ipa) => all.find((m) => ipa >= m.ipa && ipa < m.ipa + ARM_PAGE);
}

function armPredict(
  actions: Arm64Action[],
  opts: { extra?: readonly ArmMap[]; answers?: readonly bigint[]; cancelFirst?: boolean } = {},
) {
  return predictArm64({
    actions,
    codeIpa: ARM_CODE,
    lookup: armLookup(opts.extra ?? []),
    answer: (i) => opts.answers?.[i] ?? 0n,
    ...(opts.cancelFirst ? { cancelFirst: true } : {}),
    // The traces are meant for hardware too: nothing that depends on the model's clock is checked.
    exactClock: false,
  });
}

const setReg = (reg: string, value: bigint | number): Step =>
  on({ call: 'hv_vcpu_set_reg', args: { vcpu: '$cpu', reg, value: hex(value) }, expect: OK });
const getReg = (reg: string, value: JsonValue): Step =>
  on({ call: 'hv_vcpu_get_reg', args: { vcpu: '$cpu', reg }, expect: { ret: 'HV_SUCCESS', value } as never });
const setSysReg = (reg: string, value: bigint | number): Step =>
  on({ call: 'hv_vcpu_set_sys_reg', args: { vcpu: '$cpu', reg, value: hex(value) }, expect: OK });

/** VM, code page (READ|EXEC), extra pages, vCPU on thread 1 at the code in EL1h with the MMU off. */
function armPrologue(code: Uint8Array, extra: readonly ArmMap[] = [], more: Step[] = []): Step[] {
  const steps: Step[] = [
    { call: 'hv_vm_create', args: { config: null }, expect: OK },
    { call: 'host_alloc', args: { name: 'ram', size: hex(ARM_PAGE) } },
    { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: bytesHex(code) } },
    {
      call: 'hv_vm_map',
      args: {
        uva: { mem: 'ram', offset: 0 },
        ipa: hex(ARM_CODE),
        size: hex(ARM_PAGE),
        flags: ['READ', 'EXEC'],
      },
      expect: OK,
    },
  ];
  for (const m of extra) {
    steps.push(
      { call: 'host_alloc', args: { name: m.name, size: hex(ARM_PAGE) } },
      {
        call: 'hv_vm_map',
        args: {
          uva: { mem: m.name, offset: 0 },
          ipa: hex(m.ipa),
          size: hex(ARM_PAGE),
          flags: flagNames(m.flags),
        },
        expect: OK,
      },
    );
  }
  steps.push(
    on({ call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu', expect: OK }),
    setReg('HV_REG_PC', ARM_CODE),
    setReg('HV_REG_CPSR', CPSR_EL1H_DAIF),
    setSysReg('HV_SYS_REG_SCTLR_EL1', 0),
    ...more,
  );
  return steps;
}

const armEpilogue = (): Step[] => [
  on({ call: 'hv_vcpu_destroy', args: { vcpu: '$cpu' }, expect: OK }),
  { call: 'hv_vm_destroy', args: {}, expect: OK },
];

/**
 * One predicted exit as a VMM handles it: the run with the exit record the spec predicts, PC, the
 * value a store or MSR wrote (read from Rt, as a VMM does), then the VMM's own register writes.
 */
function armExit(e: Arm64PredictedExit, opts: { pc?: boolean; resume?: boolean } = {}): Step[] {
  const exit: Record<string, JsonValue> = { reason: exitReasonName(e.reason) };
  if (e.reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION) {
    exit.syndrome = { value: hex(e.syndrome), mask: hex(e.syndromeMask) };
    if (e.virtual_address !== undefined) exit.virtual_address = hex(e.virtual_address);
    if (e.physical_address !== undefined)
      exit.physical_address =
        e.physicalAddressMask === undefined
          ? hex(e.physical_address)
          : { value: hex(e.physical_address), mask: hex(BigInt.asUintN(64, e.physicalAddressMask)) };
  }
  const steps: Step[] = [
    on({ call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, expect: { ret: 'HV_SUCCESS', exit, kind: e.kind } }),
  ];
  if (opts.pc !== false) steps.push(getReg('HV_REG_PC', hex(e.pc)));
  const w = e.vmm.written;
  const rt = writtenRt(e);
  if (w?.value !== undefined && rt !== undefined && rt !== 31) {
    steps.push(getReg(regName(rt), { value: hex(w.value), mask: hex((1n << BigInt(w.size * 8)) - 1n) }));
  }
  if (opts.resume === false) return steps;
  for (const s of e.vmm.setSysRegs) steps.push(setSysReg(sysRegName(s.reg), s.value));
  if (e.vmm.vtimerUnmask)
    steps.push(
      on({ call: 'hv_vcpu_set_vtimer_mask', args: { vcpu: '$cpu', vtimer_is_masked: false }, expect: OK }),
    );
  for (const s of e.vmm.setRegs) steps.push(setReg(regName(s.reg), s.value));
  return steps;
}

/** Rt of a store or MSR exit, from its syndrome (SRT for data aborts, Rt for sysreg traps). */
function writtenRt(e: Arm64PredictedExit): number | undefined {
  const iss = Number(e.syndrome & 0x1ff_ffffn);
  if (e.kind.startsWith('arm64.dabt')) return (iss >>> 16) & 0x1f;
  if (e.kind === 'arm64.sysreg') return (iss >>> 5) & 0x1f;
  return undefined;
}

const ARM_COMMON =
  'The vCPU starts at IPA 0x10000 in EL1h with interrupts masked (CPSR 0x3c5) and the MMU off (SCTLR_EL1 = 0), set explicitly because a fresh vCPU is at EL0 (hvf-facts.md §2.6, §5.7 [T/R]); VA = IPA. ' +
  "Every program ends with `hvc #0xffff`, the spec's end marker. Machine code, syndromes and addresses are generated by scripts/make-example-traces.ts from the spec's assembler, ESR encoders and prediction. Needs a backend that executes guest code.";

const DABT_COMMON =
  'Data abort from a lower EL: reason HV_EXIT_REASON_EXCEPTION, ESR EC 0x24, IL 1, ISV 1 (SAS, SSE, SRT, SF, AR valid), WnR, DFSC (hvf-facts.md §2.8 [T]); FAR (virtual_address) is the byte address. ' +
  "The syndrome mask leaves out DFSC bits 1:0, the translation-table level, which depends on the framework's stage-2 tables [U]; physical_address is compared on its page (hardware reports the IPA's page in HPFAR; whether HVF fills in the low 12 bits is [U]). " +
  'PC stays at the faulting instruction: the VMM emulates the access and writes PC += 4 (§2.8 [T]). ';

function armExamples(): void {
  // Data abort, read, unmapped.
  {
    const actions: Arm64Action[] = [{ op: 'ldr', size: 4, ipa: ARM_MMIO, base: 0, rt: 1 }];
    const p = armPredict(actions, { answers: [0x1234_5678n] });
    add(
      'arm64',
      'dabt-read-unmapped',
      'ldr w1, [x0] from an unmapped IPA: a data abort with a full syndrome (ISV, SAS = 2, SRT = 1, WnR = 0, translation fault); the VMM writes X1 and PC += 4',
      'A 4-byte read (SAS 2) into W1 (SRT 1, SF 0, SSE 0) of IPA 0x9000000, where nothing is mapped (DFSC translation fault, 0x04–0x07). ' +
        'The VMM completes the MMIO read: X1 = the device value (0x12345678, zero-extended because SF = 0), PC += 4; the end marker shows X1. ' +
        DABT_COMMON +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes),
        ...p.exits.flatMap((e) => armExit(e)),
        getReg('HV_REG_X1', hex(0x1234_5678n)),
        ...armEpilogue(),
      ],
    );
  }
  // Data abort, write, unmapped (the trace the DESIGN.md example shows).
  {
    const actions: Arm64Action[] = [
      { op: 'str', size: 4, ipa: ARM_MMIO, base: 0, rt: 1, value: 0xcafe_f00dn },
    ];
    const p = armPredict(actions);
    add(
      'arm64',
      'str-unmapped-data-abort',
      'str w1, [x0] to an unmapped IPA is a data abort with a valid syndrome (WnR = 1, SRT = 1); the VMM reads the data from X1 and writes PC += 4',
      'A 4-byte write (SAS 2, WnR 1) of W1 (SRT 1, SF 0) to IPA 0x9000000, nothing mapped there (DFSC translation fault). The data is not in the syndrome: the VMM reads it from the register SRT names (X1 = 0xcafef00d, low 4 bytes) and writes PC += 4. ' +
        DABT_COMMON +
        ARM_COMMON,
      [...armPrologue(p.program.bytes), ...p.exits.flatMap((e) => armExit(e)), ...armEpilogue()],
    );
  }
  // LDRSB: sign-extending loads.
  {
    const actions: Arm64Action[] = [
      { op: 'ldr', size: 1, ipa: ARM_MMIO, base: 0, rt: 1, signed: 'w' },
      { op: 'ldr', size: 1, ipa: ARM_MMIO + 1n, base: 0, rt: 2, signed: 'x' },
    ];
    const p = armPredict(actions, { answers: [0x80n, 0xfen] });
    const x1 = must(p.finalRegs[1], 'final X1');
    const x2 = must(p.finalRegs[2], 'final X2');
    add(
      'arm64',
      'dabt-ldrsb-sign-extend',
      'ldrsb w1 and ldrsb x2 from an unmapped IPA: SSE = 1 asks the VMM to sign-extend; SF says to 32 or 64 bits',
      'Two 1-byte reads (SAS 0) with SSE = 1 (sign-extending load): `ldrsb w1` (SRT 1, SF 0) and `ldrsb x2` (SRT 2, SF 1). ' +
        `The MMIO completion rule (§2.8 [T]): write Rt, sign-extend if SSE and size < 8, zero-extend to 32 bits if !SF. So the device byte 0x80 becomes X1 = ${hex(x1)} and 0xfe becomes X2 = ${hex(x2)}; a VMM that ignores SSE or SF gets these wrong. ` +
        DABT_COMMON +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes),
        ...p.exits.flatMap((e) => armExit(e)),
        getReg('HV_REG_X1', hex(x1)),
        getReg('HV_REG_X2', hex(x2)),
        ...armEpilogue(),
      ],
    );
  }
  // 64-bit STR.
  {
    const actions: Arm64Action[] = [
      { op: 'str', size: 8, ipa: ARM_MMIO + 8n, base: 0, rt: 1, value: 0x1122_3344_5566_7788n },
    ];
    const p = armPredict(actions);
    add(
      'arm64',
      'dabt-str-64bit',
      'str x1, [x0] to an unmapped IPA: SAS = 3 (8 bytes) and SF = 1 (an X register)',
      'An 8-byte write (SAS 3, WnR 1) of X1 (SRT 1, SF 1, the 64-bit register) to IPA 0x9000008. The VMM takes all 8 bytes from X1 (0x1122334455667788) and writes PC += 4. ' +
        DABT_COMMON +
        ARM_COMMON,
      [...armPrologue(p.program.bytes), ...p.exits.flatMap((e) => armExit(e)), ...armEpilogue()],
    );
  }
  // STR XZR: SRT = 31.
  {
    const actions: Arm64Action[] = [{ op: 'str', size: 8, ipa: ARM_MMIO + 0x10n, base: 0, rt: 31 }];
    const p = armPredict(actions);
    const fault = must(p.exits[0], 'data abort');
    add(
      'arm64',
      'dabt-str-xzr',
      'str xzr, [x0]: SRT = 31 means XZR (write zero), and HV_REG_X0 + 31 is HV_REG_PC, not a register holding the data',
      'An 8-byte write (SAS 3, SF 1, WnR 1) with SRT = 31, which for loads and stores is XZR/WZR, never SP. ' +
        "Rt = 31 is XZR: HV_REG_X0 + 31 is HV_REG_PC (hv_reg_t numbers X0..X30 as 0..30 and PC as 31, §2.1 [H]), so a VMM that reads hv_vcpu_get_reg(HV_REG_X0 + srt) writes the guest's PC to the device instead of 0 — the step reading HV_REG_PC shows that value. " +
        'QEMU and libkrun guard rt < 31 (§2.8 bug magnet, §5.6 [T]). The VMM writes 0 to the device and PC += 4. ' +
        DABT_COMMON +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes),
        ...armExit(fault),
        ...p.exits.slice(1).flatMap((e) => armExit(e)),
        ...armEpilogue(),
      ],
    );
  }
  // Permission fault on a READ-only mapping.
  {
    const data: ArmMap = { name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ };
    const actions: Arm64Action[] = [
      { op: 'str', size: 4, ipa: 0x20000n, base: 0, rt: 1, value: 0x1234_5678n },
    ];
    const p = armPredict(actions, { extra: [data] });
    add(
      'arm64',
      'dabt-write-permission',
      'str w1 to a READ-only mapping: a data abort with a permission fault (DFSC 0x0c–0x0f), the memory untouched',
      'A 4-byte write to IPA 0x20000, mapped with hv_vm_map(READ). The syndrome is that of any data abort but DFSC is a permission fault (0x0c–0x0f) — what hv_vm_protect produces, and how a VMM tracks dirty pages on arm64 (no dirty log, §2.5 [H/R]). ' +
        "The store did not happen: the host buffer still holds zeros. A dirty-tracking VMM would hv_vm_protect the page writable and re-run without advancing PC; this trace's VMM treats it as emulated MMIO and writes PC += 4. " +
        DABT_COMMON +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes, [data]),
        ...p.exits.flatMap((e) => armExit(e)),
        { call: 'host_read', args: { mem: 'data', offset: 0, size: 4 }, expect: { bytes: '00000000' } },
        ...armEpilogue(),
      ],
    );
  }
  // Instruction abort.
  {
    const target = 0x4000_0000n;
    const actions: Arm64Action[] = [{ op: 'branch', ipa: target, reg: 9 }];
    const p = armPredict(actions);
    add(
      'arm64',
      'iabt-unmapped',
      'br x9 to an unmapped IPA: an instruction abort (EC 0x20) with PC, FAR and the IPA all at the branch target',
      'Instruction abort from a lower EL: reason HV_EXIT_REASON_EXCEPTION, ESR EC 0x20, IL 1, IFSC translation fault (hvf-facts.md §2.5 [H], §2.8 [T]); the IFSC level bits (1:0) are masked [U], physical_address is compared on its page [U]. ' +
        "The branch itself completed, so PC = the target 0x40000000 = FAR. A fetch fault is not MMIO: a VMM maps memory, injects an abort into the guest, or stops. This trace's VMM sets PC to the instruction after the branch, and the guest reaches the end marker. " +
        ARM_COMMON,
      [...armPrologue(p.program.bytes), ...p.exits.flatMap((e) => armExit(e)), ...armEpilogue()],
    );
  }
  // HVC.
  {
    const p = armPredict([{ op: 'hvc', imm: 0x1234 }]);
    add(
      'arm64',
      'hvc',
      'hvc #0x1234 exits with EC 0x16 and imm16 in the ISS; PC already points past the hvc: do NOT advance PC after HVC',
      'HVC from AArch64: reason HV_EXIT_REASON_EXCEPTION, ESR EC 0x16, IL 1, ISS[15:0] = imm16 = 0x1234 (hvf-facts.md §2.8 [T]). HVF has no PSCI/SMCCC: guest HVCs reach the VMM (§2.6 [H/T]). ' +
        'HVC is an exception-generating instruction: when the run returns, PC is already the next instruction (0x10004). The VMM must NOT advance PC (QEMU: "do NOT advance PC for HVC", §2.8 [T]); here it writes nothing and the next run reaches the end marker. ' +
        ARM_COMMON,
      [...armPrologue(p.program.bytes), ...p.exits.flatMap((e) => armExit(e)), ...armEpilogue()],
    );
  }
  // WFI.
  {
    const p = armPredict([{ op: 'wfi' }]);
    add(
      'arm64',
      'wfi',
      'wfi traps to the VMM (EC 0x01, TI 0) with PC at the wfi; the VMM waits as it sees fit and writes PC += 4',
      'Without an in-framework GIC, HVF traps WFI to the VMM (hvf-facts.md §5.9 [T]): reason HV_EXIT_REASON_EXCEPTION, ESR EC 0x01, IL 1, TI (ISS bits 1:0) = 0 for WFI (§2.8). ' +
        'CV/COND (ISS bits 24:20) are left out of the mask: whether HVF fills them in is not known [U]. PC is at the wfi; the VMM (after sleeping until an interrupt or the timer is due) writes PC += 4 (§2.8 [T]). ' +
        ARM_COMMON,
      [...armPrologue(p.program.bytes), ...p.exits.flatMap((e) => armExit(e)), ...armEpilogue()],
    );
  }
  // BRK with debug exceptions trapped.
  {
    const p = armPredict([{ op: 'brk', imm: 0x42 }]);
    add(
      'arm64',
      'brk-trap-debug',
      'brk #0x42 with hv_vcpu_set_trap_debug_exceptions(true) exits with EC 0x3c and the comment in the ISS; PC at the brk',
      "hv_vcpu_set_trap_debug_exceptions(true) routes the guest's debug exceptions to the VMM (hvf-facts.md §2.4 [H]). BRK from AArch64: reason HV_EXIT_REASON_EXCEPTION, ESR EC 0x3c, IL 1, ISS[15:0] = the comment 0x42 (§2.8). " +
        "PC is at the brk (§2.8: re-inject or skip as the debugger dictates); this trace's VMM skips it with PC += 4. " +
        ARM_COMMON,
      [
        ...armPrologue(
          p.program.bytes,
          [],
          [
            on({
              call: 'hv_vcpu_set_trap_debug_exceptions',
              args: { vcpu: '$cpu', value: true },
              expect: OK,
            }),
          ],
        ),
        ...p.exits.flatMap((e) => armExit(e)),
        ...armEpilogue(),
      ],
    );
  }
  // Trapped system register: PMCR_EL0.
  {
    const actions: Arm64Action[] = [
      { op: 'sysreg', read: true, rt: 3 },
      { op: 'sysreg', read: false, rt: 4, value: 0x41n },
    ];
    const p = armPredict(actions, { answers: [0x4101_3000n] });
    add(
      'arm64',
      'sysreg-pmcr-trap',
      'mrs x3, PMCR_EL0 and msr PMCR_EL0, x4 trap to the VMM (EC 0x18) with Op0/Op1/CRn/CRm/Op2, Rt and the direction in the ISS',
      'With EL2 off, PMU register accesses trap to the VMM as EC 0x18 exits (hvf-facts.md §2.3 [H]). ' +
        'ISS of a sysreg trap (§2.8): Op0 bits 21:20 = 3, Op2 19:17 = 0, Op1 16:14 = 3, CRn 13:10 = 9, Rt 9:5, CRm 4:1 = 12, Direction bit 0 (1 = read, MRS). QEMU keys its sysreg switch on those fields (§2.8 [T]). ' +
        'PC is at the mrs/msr; for the read the VMM writes its value (0x41013000) into X3, for the write it takes the value from X4 (0x41); both then PC += 4 (§2.8 [T]). As with data aborts, Rt = 31 would be XZR. ' +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes),
        ...p.exits.flatMap((e) => armExit(e)),
        getReg('HV_REG_X3', hex(0x4101_3000n)),
        ...armEpilogue(),
      ],
    );
  }
  // VTIMER_ACTIVATED.
  {
    const p = armPredict([{ op: 'vtimer', delta: 100 }]);
    const [first, ...rest] = p.exits;
    const fire = must(first, 'VTIMER_ACTIVATED exit');
    add(
      'arm64',
      'vtimer-activated',
      'the guest arms its virtual timer and spins until it fires: HV_EXIT_REASON_VTIMER_ACTIVATED, after which the framework has set the vtimer mask',
      'The guest reads CNTVCT_EL0, sets CNTV_CVAL_EL0 = now + 100 and CNTV_CTL_EL0 = ENABLE, then polls CNTV_CTL_EL0.ISTATUS. When the timer condition is met the run returns HV_EXIT_REASON_VTIMER_ACTIVATED (hvf-facts.md §2.6 [H]). ' +
        'The vtimer is automatically masked on this exit: hv_vcpu_get_vtimer_mask returns true, and no further VTIMER_ACTIVATED exit comes until the VMM unmasks it (§2.6, §4 [H]). ' +
        "This trace's VMM (QEMU-like, §2.6 [T]) masks the timer in the guest (CNTV_CTL_EL0 = ENABLE|IMASK), unmasks the vtimer and re-runs; the guest sees ISTATUS and reaches the end marker. " +
        'Where PC is when the timer fires depends on the clock, so it is not checked. The vtimer mask and CNTV_CTL_EL0 are reset first, as a VMM does for a fresh vCPU. ' +
        ARM_COMMON,
      [
        ...armPrologue(
          p.program.bytes,
          [],
          [
            setSysReg('HV_SYS_REG_CNTV_CTL_EL0', 0),
            on({
              call: 'hv_vcpu_set_vtimer_mask',
              args: { vcpu: '$cpu', vtimer_is_masked: false },
              expect: OK,
            }),
          ],
        ),
        ...armExit(fire, { pc: false, resume: false }),
        on({
          call: 'hv_vcpu_get_vtimer_mask',
          args: { vcpu: '$cpu' },
          expect: { ret: 'HV_SUCCESS', value: true },
        }),
        ...armExit(fire, { pc: false }).slice(1),
        ...rest.flatMap((e) => armExit(e)),
        ...armEpilogue(),
      ],
    );
  }
  // hv_vcpus_exit before run.
  {
    const p = armPredict([{ op: 'hvc', imm: 0 }], { cancelFirst: true });
    const [first, ...rest] = p.exits;
    const canceled = must(first, 'CANCELED exit');
    add(
      'arm64',
      'vcpus-exit-before-run-canceled',
      'hv_vcpus_exit before hv_vcpu_run makes the next run return CANCELED without entering the guest; the run after that enters it',
      '"If a vcpu is not running, the next time hv_vcpu_run is called for the corresponding vcpu, it will return immediately without entering the guest" with reason HV_EXIT_REASON_CANCELED (hvf-facts.md §2.4 [H]); hv_vcpus_exit may be called from any thread (§2.4 [H]). ' +
        'PC is unchanged by the canceled run. The next run executes hvc #0 (EC 0x16, IL 1, imm16 0) and PC points past it (§2.8 [T]). ' +
        ARM_COMMON,
      [
        ...armPrologue(p.program.bytes),
        { call: 'hv_vcpus_exit', args: { vcpus: ['$cpu'], vcpu_count: 1 }, expect: OK },
        ...armExit(canceled),
        ...rest.flatMap((e) => armExit(e)),
        ...armEpilogue(),
      ],
    );
  }
  // Async spin + hv_vcpus_exit from another thread.
  {
    // `br x9` back to its own start: a spin loop from the spec's assembler (the prediction does not
    // cover a branch into executable memory, so only the assembly is used).
    const loop = assembleArm64([{ op: 'branch', ipa: ARM_CODE, reg: 9 }], ARM_CODE);
    const loopEnd = loop.endMarker; // the end marker after the loop is never reached
    if (loopEnd - ARM_CODE !== 12n) throw new Error('expected movz + movk + br');
    const bytes = loop.bytes;
    add(
      'arm64',
      'vcpus-exit-spinning-canceled',
      'a vCPU spinning in hv_vcpu_run on its thread is stopped by hv_vcpus_exit from the main thread: HV_EXIT_REASON_CANCELED, PC inside the loop',
      'hv_vcpus_exit "forces an immediate exit" of running vCPUs and may be called from any thread (hvf-facts.md §2.4 [H]); the run returns HV_SUCCESS with reason HV_EXIT_REASON_CANCELED (§2.6 [H]). ' +
        'The run is started asynchronously on the vCPU\'s thread 1 (`"async": true`), thread 0 cancels it, `await` collects the exit. If the cancel lands before the guest is entered, the documented pending-cancel rule gives the same exit. ' +
        'The guest loops on `movz x9, #0; movk x9, #1, lsl #16; br x9` at 0x10000..0x1000b, so PC is checked to be in that 16-byte block (mask 0xfffffffffffffff0). ' +
        ARM_COMMON,
      [
        ...armPrologue(bytes),
        on({ call: 'hv_vcpu_run', args: { vcpu: '$cpu' }, async: true, label: 'spin' }),
        { call: 'hv_vcpus_exit', args: { vcpus: ['$cpu'], vcpu_count: 1 }, expect: OK },
        {
          call: 'await',
          args: { label: 'spin' },
          expect: { ret: 'HV_SUCCESS', exit: { reason: 'HV_EXIT_REASON_CANCELED' } },
        },
        getReg('HV_REG_PC', { value: hex(ARM_CODE), mask: '0xfffffffffffffff0' }),
        ...armEpilogue(),
      ],
    );
  }
}

// ---- arm64: guests as VMMs start them ---------------------------------------------------------------

/** The table area of the MMU examples: 256 KiB of guest RAM the VMM writes stage-1 tables into. */
const ARM_TABLES = 0x10_0000n;
const ARM_TABLES_SIZE = 0x4_0000;

/**
 * One example from a scenario: VM, the code buffer (READ|EXEC at ARM_CODE), the extra buffers and
 * mappings, the table area when the MMU is on, the vCPU on thread 1, then the scenario's own steps
 * (arm64ScenarioTraceSteps, with the hardware masks for the [U] fields), then teardown.
 */
function armScenario(
  name: string,
  title: string,
  description: string,
  s: Omit<Arm64Scenario, 'layout'> & { extra?: readonly ArmMap[] },
): void {
  const extra = s.extra ?? [];
  const names = new Map<number, string>([[0, 'ram']]);
  const fake = (id: number, size: number) => ({ mem: { id, size }, offset: 0 });
  const mappings = [
    { ipa: ARM_CODE, size: ARM_PAGE, flags: HV_MEMORY.READ | HV_MEMORY.EXEC, uva: fake(0, Number(ARM_PAGE)) },
    ...extra.map((m, i) => {
      names.set(i + 1, m.name);
      return { ipa: m.ipa, size: ARM_PAGE, flags: m.flags, uva: fake(i + 1, Number(ARM_PAGE)) };
    }),
  ];
  const tables = s.mmu
    ? { ipa: ARM_TABLES, size: ARM_TABLES_SIZE, uva: fake(99, ARM_TABLES_SIZE) }
    : undefined;
  if (tables) {
    names.set(99, 'tables');
    mappings.push({
      ipa: ARM_TABLES,
      size: BigInt(ARM_TABLES_SIZE),
      flags: HV_MEMORY.READ | HV_MEMORY.WRITE,
      uva: tables.uva,
    });
  }
  const { extra: _, ...rest } = s;
  const scenario: Arm64Scenario = {
    ...rest,
    layout: {
      mappings,
      code: { ipa: ARM_CODE, size: Number(ARM_PAGE), uva: mappings[0]!.uva },
      ...(tables ? { tables } : {}),
    },
  };
  const steps: Step[] = [
    { call: 'hv_vm_create', args: { config: null }, expect: OK },
    ...mappings.flatMap((m) => {
      const mem = names.get(m.uva.mem.id)!;
      return [
        { call: 'host_alloc', args: { name: mem, size: hex(m.size) } },
        {
          call: 'hv_vm_map',
          args: { uva: { mem, offset: 0 }, ipa: hex(m.ipa), size: hex(m.size), flags: flagNames(m.flags) },
          expect: OK,
        },
      ] as Step[];
    }),
    on({ call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu', expect: OK }),
    ...arm64ScenarioTraceSteps(scenario, {
      vcpu: 'cpu',
      thread: T,
      memName: (m) => names.get(m.id)!,
      masked: true,
    }),
    ...armEpilogue(),
  ];
  add('arm64', name, title, description, steps);
}

/** A page of the guest's stage-1 tables mapped to itself. */
const s1 = (va: bigint, o: Partial<Arm64S1Entry> = {}): Arm64S1Entry => ({
  va,
  level: 3,
  oa: va,
  ap: 1,
  uxn: false,
  pxn: false,
  af: true,
  device: false,
  ...o,
});
/** An MMU configuration over the example layout: the code page read-only and executable at EL0 and EL1. */
function mmu(
  granule: 4096 | 16384 | 65536,
  t0sz: number,
  entries: Arm64S1Entry[],
  more: Partial<Arm64MmuConfig> = {},
): Arm64MmuConfig {
  const g = BigInt(granule);
  return {
    granule,
    t0sz,
    t1sz: 39,
    ttbr1: false,
    tableIpa: ARM_TABLES,
    tableSize: ARM_TABLES_SIZE,
    entries: [s1(ARM_CODE & ~(g - 1n), { ap: 3 }), ...entries],
    ...more,
  };
}

const GUEST_COMMON =
  "Every program carries the guest's exception vectors at VBAR_EL1 = 0x10800 (code page + 0x800): each of the 16 slots is `hvc #(0xfe00 | slot)` then `eret`, so an exception the guest takes itself reaches the VMM as an HVC whose immediate names the vector — current EL with SP0 (slots 0–3), with SPx (4–7), lower EL AArch64 (8–11); +1 IRQ, +2 FIQ (Arm ARM, AArch64.TakeException). " +
  "At that exit the VMM reads ESR_EL1, ELR_EL1 (the preferred return address), SPSR_EL1 (PSTATE before) and, for aborts and alignment faults, FAR_EL1, and CPSR (EL1h with DAIF masked; CPSR and SPSR are compared on the Armv8.0 PSTATE fields, since a core with PAN also sets PAN on entry [U]); for a synchronous exception it sets ELR_EL1 to the next action so the vector's ERET goes on with the program. " +
  "The VMM also writes SCTLR_EL1, TCR_EL1, CNTKCTL_EL1 = 0 (EL0 counter and timer accesses trap to EL1), CNTV_CTL_EL0, MDSCR_EL1 = 0 (no software step, breakpoints or watchpoints), both debug traps and both interrupt lines explicitly: a fresh vCPU's state is not documented (hvf-facts.md §2.6). " +
  'Each run step names the exit kind the spec predicts (`expect.kind`); a backend that declares it never produces that kind reports the step unsupported. ' +
  "Machine code, syndromes and register values are generated by scripts/make-example-traces.ts from the spec's assembler, ESR encoders and prediction; the [U] fields carry masks. Needs a backend that executes guest code.";

function armGuestExamples(): void {
  // A fresh vCPU whose CPSR is never written, as a binding crate's tests run one (§2.6 [T]).
  {
    const code = wordsToBytes([A64.movReg(1, 0), A64.udf(0), A64.brk(0)]);
    const vector = 0x400n; // VBAR_EL1 (0 on a fresh vCPU) + lower EL, AArch64, synchronous
    add(
      'arm64',
      'fresh-vcpu-el0-udf',
      'a fresh vCPU runs at EL0 without CPSR being set: mov x1, x0 executes, the UDF is taken to EL1 through VBAR_EL1 = 0, and the fetch at IPA 0x400 is an instruction abort',
      "A fresh vCPU has CPSR 0 (EL0t, interrupts unmasked) and SCTLR_EL1 0 (MMU off) (hvf-facts.md §2.6, §5.7 [T/R]); this trace reads both, then runs code the way a binding crate's test does, setting only X0 and PC: `mov x1, x0`, then a word of zeros (UDF #0, permanently UNDEFINED), then `brk #0`. " +
        "The guest executes the MOV at EL0. The UDF is an Undefined Instruction exception taken to EL1 (Arm ARM AArch64.TakeException): ESR_EL1 = EC 0x00 with IL = 1, ELR_EL1 = the UDF's address, SPSR_EL1 = the EL0t PSTATE (0), CPSR = EL1h with DAIF masked (0x3c5; compared on the Armv8.0 PSTATE fields, a core with PAN also sets PAN), PC = VBAR_EL1 (0, fresh) + 0x400 (synchronous, from a lower EL in AArch64). Nothing is mapped at IPA 0x400, so fetching the vector is a stage-2 instruction abort: reason HV_EXIT_REASON_EXCEPTION, EC 0x20 (from a lower EL: EL1 is lower than EL2), a translation fault (level bits masked [U]), FAR = IPA = 0x400 (page-granular IPA compared, §2.8 [U]). " +
        'The BRK is never reached: an exit reason of EXCEPTION alone does not say which exception a guest hit. A VMM that starts guests at EL0 this way must give them vectors, or set CPSR (e.g. 0x3c5) as VMMs do.',
      [
        { call: 'hv_vm_create', args: { config: null }, expect: OK },
        { call: 'host_alloc', args: { name: 'ram', size: hex(ARM_PAGE) } },
        { call: 'host_write', args: { mem: 'ram', offset: 0, bytes: bytesHex(code) } },
        {
          call: 'hv_vm_map',
          args: {
            uva: { mem: 'ram', offset: 0 },
            ipa: hex(ARM_CODE),
            size: hex(ARM_PAGE),
            flags: ['READ', 'EXEC'],
          },
          expect: OK,
        },
        on({ call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu', expect: OK }),
        getReg('HV_REG_CPSR', '0x0'),
        on({
          call: 'hv_vcpu_get_sys_reg',
          args: { vcpu: '$cpu', reg: 'HV_SYS_REG_SCTLR_EL1' },
          expect: { ret: 'HV_SUCCESS', value: '0x0' },
        }),
        setReg('HV_REG_X0', 0x1234),
        setReg('HV_REG_PC', ARM_CODE),
        on({
          call: 'hv_vcpu_run',
          args: { vcpu: '$cpu' },
          expect: {
            ret: 'HV_SUCCESS',
            exit: {
              reason: 'HV_EXIT_REASON_EXCEPTION',
              syndrome: { value: hex(esrInstructionAbort({ ifsc: FSC.TRANSLATION_L3 })), mask: '0xfffffffc' },
              virtual_address: hex(vector),
              physical_address: { value: hex(vector), mask: hex(BigInt.asUintN(64, ~0xfffn)) },
            },
          },
        }),
        getReg('HV_REG_PC', hex(vector)),
        getReg('HV_REG_X1', '0x1234'),
        getReg('HV_REG_CPSR', { value: hex(CPSR_EL1H_DAIF), mask: hex(ARM64_PSTATE_V80_MASK) }),
        on({
          call: 'hv_vcpu_get_sys_reg',
          args: { vcpu: '$cpu', reg: 'HV_SYS_REG_ESR_EL1' },
          expect: { ret: 'HV_SUCCESS', value: hex(esrNoIss(ARM64_EC.UNKNOWN)) },
        }),
        on({
          call: 'hv_vcpu_get_sys_reg',
          args: { vcpu: '$cpu', reg: 'HV_SYS_REG_ELR_EL1' },
          expect: { ret: 'HV_SUCCESS', value: hex(ARM_CODE + 4n) },
        }),
        on({
          call: 'hv_vcpu_get_sys_reg',
          args: { vcpu: '$cpu', reg: 'HV_SYS_REG_SPSR_EL1' },
          expect: { ret: 'HV_SUCCESS', value: { value: '0x0', mask: hex(ARM64_PSTATE_V80_MASK) } },
        }),
        ...armEpilogue(),
      ],
    );
  }
  const el0 = (start: Arm64StartMode): string =>
    start === 'el0'
      ? 'The program runs at EL0t (CPSR 0). '
      : start === 'el1t'
        ? 'The program runs at EL1t (CPSR 0x3c4: SP_EL0). '
        : 'The program runs at EL1h (CPSR 0x3c5). ';
  armScenario(
    'el0-exceptions-reported',
    'a fresh vCPU at EL0 with vectors: UDF, SVC, and HVC/SMC (UNDEFINED at EL0) are taken to EL1; the program ends with svc #0xffff',
    'The VMM never writes CPSR: the fresh vCPU is at EL0t (hvf-facts.md §2.6 [T/R]). `udf #1` is UNDEFINED (ESR_EL1 EC 0x00, ELR at it); `svc #0x42` is EC 0x15 with the immediate, ELR after it (an exception-generating instruction); `hvc` and `smc` are UNDEFINED at EL0 (Arm ARM: HVC and SMC need EL1 or above). ' +
      'All are taken to EL1 through the lower-EL synchronous vector (VBAR_EL1 + 0x400, slot 8), with SPSR_EL1 = 0 (EL0t). HVC is the end marker at EL1; at EL0 the program ends with `svc #0xffff`, which the vector reports too. ' +
      GUEST_COMMON,
    {
      start: 'el0',
      freshCpsr: true,
      actions: [
        { op: 'udf', imm: 1 },
        { op: 'svc', imm: 0x42 },
        { op: 'hvc', imm: 7 },
        { op: 'smc', imm: 1 },
      ],
    },
  );
  armScenario(
    'el1-svc-brk-udf-in-guest',
    'at EL1h, svc, brk (debug exceptions not trapped) and udf are taken by the guest through VBAR_EL1 + 0x200 with ESR_EL1, ELR_EL1 and SPSR_EL1 as the Arm ARM sets them',
    el0('el1h') +
      'With hv_vcpu_set_trap_debug_exceptions(false) a BRK is the guest\'s own debug exception (hvf-facts.md §2.4 [H]): ESR_EL1 EC 0x3C with the comment, ELR at the brk. `svc #1` is EC 0x15 with ELR after it; `udf #2` is EC 0x00 with ELR at it. From EL1 with SP_EL1 selected the vector is "current EL with SPx" (VBAR_EL1 + 0x200, slot 4); SPSR_EL1 holds 0x3c5. ' +
      GUEST_COMMON,
    {
      trapDebug: false,
      actions: [
        { op: 'svc', imm: 1 },
        { op: 'brk', imm: 0x42 },
        { op: 'udf', imm: 2 },
      ],
    },
  );
  armScenario(
    'el1t-vector-sp0',
    'at EL1t (SP_EL0 selected) a guest exception goes to the "current EL with SP0" vector, VBAR_EL1 + 0x000',
    el0('el1t') +
      'The vector offset depends on where the exception comes from and which stack pointer was selected (Arm ARM, "Exception vectors"): EL1t uses slot 0 (VBAR_EL1 + 0), EL1h slot 4 (+0x200), EL0 slot 8 (+0x400). SPSR_EL1 = 0x3c4 records EL1t; after the ERET the program is back at EL1t. ' +
      GUEST_COMMON,
    { start: 'el1t', actions: [{ op: 'udf', imm: 0 }] },
  );
  armScenario(
    'smc-trap',
    'smc #0x1234 at EL1 exits with EC 0x17 and the immediate, PC at the smc; the VMM writes PC += 4',
    el0('el1h') +
      'HVF has no EL3; an SMC reaches the VMM only if the framework sets HCR_EL2.TSC, which is unverified (hvf-facts.md §2.8 [U]) — QEMU handles EC 0x17 and advances PC (§2.8 [T]), VMMs prefer PSCI over HVC. The spec predicts the trap: EC 0x17, IL 1, ISS[15:0] = imm16, PC at the smc (the preferred return address of a trap). Without TSC an SMC at EL1 would be UNDEFINED (EC 0x00 at EL1). ' +
      GUEST_COMMON,
    { actions: [{ op: 'smc', imm: 0x1234 }] },
  );
  armScenario(
    'wfe',
    'sevl; wfe; wfe: the first WFE consumes the event, the second waits and exits with EC 0x01, TI 1; the VMM writes PC += 4',
    el0('el1h') +
      'WFE traps to the VMM (HCR_EL2.TWE; QEMU handles WFE traps, hvf-facts.md §2.8 [T]) only when it would wait: a set event register makes it complete at once (Arm ARM, "The Event Register"). An exception return — such as the framework entering the guest — sets the event register, so a first WFE may not exit; SEVL sets it on purpose so that the first WFE consumes it and the second one traps, whatever happened before. Syndrome: EC 0x01, IL 1, TI = 1 (WFE); CV/COND masked [U]; PC at the second wfe. ' +
      GUEST_COMMON,
    { actions: [{ op: 'wfe' }] },
  );
  armScenario(
    'el0-wfi-trap-el1',
    'at EL0 with SCTLR_EL1 = 0, wfi traps to EL1 (nTWI = 0), not to the VMM',
    el0('el0') +
      "SCTLR_EL1.nTWI (bit 16) is 0: an EL0 WFI that would wait is trapped to EL1, which takes priority over the hypervisor's trap (Arm ARM, AArch64.CheckForWFxTrap). ESR_EL1: EC 0x01, TI 0 (WFI), CV/COND masked [U]; ELR at the wfi. " +
      GUEST_COMMON,
    { start: 'el0', actions: [{ op: 'wfi' }] },
  );
  armScenario(
    'el0-wfe-trap-el1',
    'at EL0 with SCTLR_EL1 = 0, a wfe that would wait traps to EL1 (nTWE = 0), not to the VMM',
    el0('el0') +
      "SCTLR_EL1.nTWE (bit 18) is 0: an EL0 WFE that would wait is trapped to EL1, which takes priority over the hypervisor's trap (Arm ARM, AArch64.CheckForWFxTrap). `sevl; wfe; wfe`: the first WFE consumes the event SEVL set, the second would wait. ESR_EL1: EC 0x01, TI 1 (WFE), CV/COND masked [U]; ELR at the second wfe. " +
      'A WFE trap is only guaranteed when the instruction would not otherwise complete (Arm ARM, SCTLR_EL1.nTWE, HCR_EL2.TWE): an implementation may complete every WFE at once, and then there is nothing to trap (QEMU does so; el2 declares it). ' +
      GUEST_COMMON,
    { start: 'el0', actions: [{ op: 'wfe' }] },
  );
  armScenario(
    'irq-pending-wfi-daifclr',
    'a pending IRQ line with DAIF masked: wfi completes without exiting, msr daifclr, #2 unmasks it and the guest takes the IRQ at VBAR_EL1 + 0x280',
    el0('el1h') +
      "hv_vcpu_set_pending_interrupt(IRQ, true) before the run sets the vCPU's virtual IRQ line (hvf-facts.md §2.4 [H]). PSTATE.I masks it, but a pending interrupt wakes WFI even when masked, so the WFI neither waits nor traps (HCR_EL2.TWI traps only a WFI that would wait). `msr daifclr, #2` clears PSTATE.I and the IRQ is taken before the next instruction: current EL with SPx, IRQ (slot 5, VBAR_EL1 + 0x280), ELR_EL1 = the instruction after the msr, SPSR_EL1 = 0x345 (I clear), ESR_EL1 and FAR_EL1 not written. The run returns there, which clears the line (§2.4 [H]); the vector's ERET resumes the program. " +
      GUEST_COMMON,
    {
      pending: 'irq',
      actions: [{ op: 'wfi' }, { op: 'daif', set: false, imm: 2 }, { op: 'hvc', imm: 1 }],
    },
  );
  armScenario(
    'el0-fiq-taken-at-once',
    'a fresh vCPU at EL0 (DAIF clear) with a pending FIQ line takes the FIQ before its first instruction (VBAR_EL1 + 0x500)',
    "The VMM leaves CPSR at the fresh 0: EL0t with D, A, I, F clear (hvf-facts.md §2.6 [T/R]). A pending FIQ line (hv_vcpu_set_pending_interrupt(FIQ), §2.4 [H]) is taken before the first instruction: lower EL AArch64, FIQ (slot 10, VBAR_EL1 + 0x500); ELR_EL1 = the program's first instruction, SPSR_EL1 = 0. The run returns at the report, which clears the line; the ERET goes back to EL0 and the program runs. " +
      GUEST_COMMON,
    { start: 'el0', freshCpsr: true, pending: 'fiq', actions: [{ op: 'svc', imm: 3 }] },
  );
  armScenario(
    'eret-to-el0',
    'the guest drops from EL1h to EL0 with ERET (SPSR_EL1 = 0, ELR_EL1 = the next instruction); the rest of the program runs at EL0',
    el0('el1h') +
      'ERET at EL1 restores PSTATE from SPSR_EL1 and branches to ELR_EL1 (Arm ARM AArch64.ExceptionReturn; it also sets the event register). With SPSR_EL1 = 0 the program continues at EL0t with interrupts unmasked: its `svc` is reported from the lower-EL vector (slot 8) with SPSR_EL1 = 0, its `udf` likewise, and it ends at EL0 with `svc #0xffff`. ' +
      GUEST_COMMON,
    {
      actions: [
        { op: 'eret', to: 'el0', daif: 0, reg: 9 },
        { op: 'svc', imm: 5 },
        { op: 'udf', imm: 6 },
      ],
    },
  );
  armScenario(
    'eret-illegal-state',
    'an ERET to EL2h, which the guest cannot enter, is an illegal exception return: PSTATE.IL is set and the next instruction raises an Illegal Execution state exception (EC 0x0E)',
    el0('el1h') +
      'SPSR_EL1 = 0x3c9 asks for EL2h. A return to a higher or unimplemented EL is illegal (Arm ARM, "Illegal return events from AArch64 state"): the EL and SP stay, DAIF and NZCV come from SPSR_EL1, PSTATE.IL is set, PC = ELR_EL1. The next instruction is not executed: it takes an Illegal Execution state exception to EL1, ESR_EL1 = EC 0x0E, ELR_EL1 = that instruction, SPSR_EL1 = 0x1003c5 (IL, bit 20, set). ' +
      "This trace's VMM clears SPSR_EL1.IL before resuming (else the vector's ERET would restore IL and fault again). " +
      GUEST_COMMON,
    {
      actions: [
        { op: 'eret', to: 'illegal', daif: 15, reg: 9 },
        { op: 'hvc', imm: 2 },
      ],
    },
  );
  armScenario(
    'alignment-fault-mmu-off',
    'with the MMU off, an unaligned load (Device-nGnRnE memory) is an alignment fault the guest takes at EL1 (DFSC 0x21, FAR = the address), not an exit',
    el0('el1h') +
      'With SCTLR_EL1.M = 0 every data access is to Device-nGnRnE memory, and an unaligned access to Device memory is an alignment fault (Arm ARM, stage 1 disabled) — checked at stage 1, before stage 2 — taken to EL1 even though IPA 0x20002 is mapped: ESR_EL1 EC 0x25 (data abort, current EL), ISV 0, WnR 0, DFSC 0x21; FAR_EL1 = 0x20002; ELR at the ldr. ' +
      GUEST_COMMON,
    {
      extra: [{ name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE }],
      actions: [{ op: 'ldr', size: 4, ipa: 0x20002n, base: 0, rt: 1 }],
    },
  );
  armScenario(
    'pc-alignment-fault',
    'br to an address that is not 4-byte aligned: a PC alignment fault at EL1 (EC 0x22), FAR_EL1 = ELR_EL1 = the target',
    el0('el1h') +
      'The branch completes; executing from a misaligned PC raises a PC alignment fault (Arm ARM, "PC alignment checking"), taken to EL1: ESR_EL1 EC 0x22 with IL 1, FAR_EL1 and ELR_EL1 = the target 0x10402, an address in the code page, which is mapped and executable. ' +
      GUEST_COMMON,
    { actions: [{ op: 'branch', ipa: ARM_CODE + 0x402n, reg: 9 }] },
  );
  armScenario(
    'pc-alignment-before-abort',
    'br to a misaligned address where nothing is mapped: the PC alignment fault comes first (EC 0x22 at EL1), not an instruction abort exit',
    el0('el1h') +
      'Fetching from 0x20002 would also fault in stage 2 (nothing is mapped there), but a PC alignment fault has priority over an Instruction Abort (Arm ARM, "Synchronous exception prioritization"): the guest takes EC 0x22 at EL1 with FAR_EL1 and ELR_EL1 = 0x20002, and the VMM sees no instruction abort. ' +
      GUEST_COMMON,
    { actions: [{ op: 'branch', ipa: 0x20002n, reg: 9 }] },
  );
  armScenario(
    'alignment-fault-ldar',
    'MMU on, Normal memory: an unaligned ldr completes, an ldar across a 16-byte boundary is an alignment fault the guest takes at EL1 (DFSC 0x21)',
    el0('el1h') +
      'With stage 1 on and the page Normal memory, unaligned loads are allowed (SCTLR_EL1.A = 0), so `ldr w1` at 0x20002 reads guest RAM. Load-acquire requires alignment whatever the memory type (Arm ARM, "Alignment of data accesses"); a core with FEAT_LSE2 relaxes that to "within 16 bytes" (AArch64.UnalignedAccessFaults, SCTLR_EL1.nAA = 0), so `ldar w3` at 0x2000e, whose four bytes cross 0x20010, faults on every core: an alignment fault taken to EL1, ESR_EL1 EC 0x25, ISV 0, DFSC 0x21, FAR_EL1 = 0x2000e, ELR at the ldar. ' +
      GUEST_COMMON,
    {
      extra: [{ name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE }],
      mmu: mmu(4096, 28, [s1(0x20000n)]),
      actions: [
        { op: 'ldr', size: 4, ipa: 0x20002n, base: 0, rt: 1 },
        { op: 'ldr', size: 4, ipa: 0x2000en, base: 2, rt: 3, acquire: true },
      ],
    },
  );
  armScenario(
    'mmu-translation-fault-levels',
    'MMU on, 4 KiB granule, T0SZ 25: a load from a VA with no page descriptor faults at level 3, one outside the first level-1 entry at level 1',
    el0('el1h') +
      "The VMM writes the guest's tables (4 KiB granule, 39-bit VA: the walk starts at level 1) mapping the code page and RAM at 0x20000 to themselves, then sets TCR_EL1, MAIR_EL1, TTBR0_EL1 and SCTLR_EL1.M (Arm ARM, VMSAv8-64). " +
      "VA 0x22000 lies under the level-1 and level-2 tables but has no level-3 descriptor: a translation fault at level 3 (DFSC 0x07); VA 0x40000000 is in level-1 entry 1, which is invalid: level 1 (DFSC 0x05). Both are the guest's own faults (ESR_EL1 EC 0x25, FAR_EL1 = the VA), not exits; the RAM load in between reads the guest's memory. " +
      GUEST_COMMON,
    {
      extra: [{ name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE }],
      mmu: mmu(4096, 25, [s1(0x20000n)]),
      actions: [
        { op: 'ldr', size: 8, ipa: 0x22000n, base: 0, rt: 1 },
        { op: 'ldr', size: 4, ipa: 0x20010n, base: 2, rt: 3 },
        { op: 'ldr', size: 8, ipa: 0x4000_0000n, base: 4, rt: 5 },
      ],
    },
  );
  armScenario(
    'mmu-permission-and-access-flag',
    'MMU on, 16 KiB granule: a store to a page mapped read-only (AP = 0b10) is a permission fault, a load from a page whose access flag is clear an access-flag fault',
    el0('el1h') +
      "Stage-1 attributes come from the guest's page descriptors (Arm ARM, VMSAv8-64): AP[2:1] = 0b10 is read-only at EL1, so `str` faults with DFSC 0x0F (permission, level 3) and WnR = 1; AF = 0 without hardware access-flag updates makes any access an access-flag fault, DFSC 0x0B. Both are taken to EL1 (ESR_EL1 EC 0x25, FAR_EL1 = the VA); stage 2 (READ|WRITE here) is never reached. " +
      GUEST_COMMON,
    {
      extra: [
        { name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
        { name: 'more', ipa: 0x24000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
      ],
      mmu: mmu(16384, 28, [s1(0x20000n, { ap: 2 }), s1(0x24000n, { af: false })]),
      actions: [
        { op: 'str', size: 4, ipa: 0x20008n, base: 0, rt: 1, value: 0x55n },
        { op: 'ldr', size: 4, ipa: 0x24000n, base: 2, rt: 3 },
      ],
    },
  );
  armScenario(
    'mmu-el0-permissions',
    'MMU on at EL0: a load from an EL1-only page (AP = 0b00) is a permission fault from a lower EL (EC 0x24); a store to an EL0-writable page (AP = 0b01) lands in RAM',
    el0('el0') +
      'EL0 needs AP[1] = 1 to read and AP = 0b01 to write (Arm ARM, stage 1 data access permissions). The code page is read-only at both ELs and executable at both. The faulting load is reported with ESR_EL1 EC 0x24 (data abort from a lower EL), DFSC 0x0F, FAR_EL1 = the VA; the store goes to guest RAM, which the trace reads back. ' +
      GUEST_COMMON,
    {
      start: 'el0',
      extra: [
        { name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
        { name: 'more', ipa: 0x24000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE },
      ],
      mmu: mmu(4096, 28, [s1(0x20000n, { ap: 0 }), s1(0x24000n, { ap: 1 })]),
      actions: [
        { op: 'ldr', size: 8, ipa: 0x20000n, base: 0, rt: 1 },
        { op: 'str', size: 4, ipa: 0x24004n, base: 2, rt: 3, value: 0xc0ffeen },
      ],
    },
  );
  armScenario(
    'mmu-alias-mmio',
    'MMU on: a load from VA 0x80000010, mapped by the guest to IPA 0x9000010 where nothing is mapped, exits with FAR = the VA and the IPA of the access',
    el0('el1h') +
      "Stage 1 translates VA 0x80000000 to IPA 0x9000000 (a device window in the guest's own tables); stage 2 has nothing there, so the load is a data abort to the VMM with a full instruction syndrome (ISV, SAS 2, SRT 1, translation fault; level masked [U]). virtual_address is FAR_EL2, the VA the guest used; physical_address is the IPA the VMM dispatches on (hardware reports its page in HPFAR_EL2, §2.8; the low 12 bits are [U]). The VMM writes X1 and PC += 4. " +
      GUEST_COMMON,
    {
      mmu: mmu(16384, 28, [s1(0x8000_0000n, { oa: ARM_MMIO, device: true })]),
      actions: [{ op: 'ldr', size: 4, ipa: 0x8000_0010n, base: 0, rt: 1 }],
      answerSeed: 1,
    },
  );
  armScenario(
    'mmu-s1ptw',
    "MMU on, 64 KiB granule: the guest's table descriptor points at an IPA with nothing behind it; the walk's read faults in stage 2 and exits with S1PTW = 1",
    el0('el1h') +
      "A level-2 table descriptor for VA 0x40000000–0x5fffffff points at IPA 0x80000000, which is not mapped. Reading the level-3 descriptor faults in stage 2 during the stage-1 walk: an exit with S1PTW = 1 (ESR bit 7), ISV = 0 (no instruction syndrome: it is not the instruction's own access), FAR = the VA, physical_address = the IPA of the descriptor (hvf-facts.md §2.8: not MMIO). WnR is left out of the mask (the Arm ARM has changed what it reports for walks). " +
      'For the load the exit is a data abort (EC 0x24) at the ldr; for the branch an instruction abort (EC 0x20) at the target. This VMM skips the load (PC += 4) and resumes after the branch. ' +
      GUEST_COMMON,
    {
      mmu: mmu(65536, 22, [], { badTables: [{ va: 0x4000_0000n, level: 2, ipa: 0x8000_0000n }] }),
      actions: [
        { op: 'ldr', size: 8, ipa: 0x4000_0010n, base: 0, rt: 1 },
        { op: 'branch', ipa: 0x4001_0000n, reg: 9 },
      ],
    },
  );
  armScenario(
    'mmu-iabt-pxn-el0-writable',
    'MMU on: EL1 branches into a page that EL0 may write (AP = 0b01): the Arm ARM makes it privileged execute-never, an instruction abort at EL1 (EC 0x21, permission)',
    el0('el1h') +
      'Memory writable at EL0 is never executable at EL1 (Arm ARM, "Instruction execution permissions"), whatever PXN says. The fetch from VA 0x20000 is a permission fault (IFSC 0x0F) taken to EL1: ESR_EL1 EC 0x21 (instruction abort, current EL), FAR_EL1 = ELR_EL1 = the target. ' +
      GUEST_COMMON,
    {
      extra: [{ name: 'data', ipa: 0x20000n, flags: HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC }],
      mmu: mmu(4096, 28, [s1(0x20000n, { ap: 1 })]),
      actions: [{ op: 'branch', ipa: 0x20000n, reg: 9 }],
    },
  );
  armScenario(
    'sysreg-os-lock',
    'msr OSLAR_EL1, mrs OSLSR_EL1 and msr OSDLR_EL1 trap to the VMM (EC 0x18); mrs of the write-only OSLAR_EL1 is UNDEFINED in the guest',
    el0('el1h') +
      "The OS lock registers trap to the VMM (MDCR_EL2.TDOSA): QEMU's HVF code emulates OSLAR_EL1, OSLSR_EL1 and OSDLR_EL1 (hvf-facts.md §2.8 [T]). ISS: Op0 2, Op1 0, CRn 1, CRm 0/1/3, Op2 4, Rt, direction. For a read the VMM writes its answer to Rt; for a write it takes Rt; PC += 4. OSLAR_EL1 is write-only: MRS of it is an unallocated encoding, UNDEFINED (EC 0x00 at EL1), before any trap. " +
      GUEST_COMMON,
    {
      actions: [
        { op: 'sysreg', reg: 'OSLAR_EL1', read: false, rt: 1, value: 1n },
        { op: 'sysreg', reg: 'OSLSR_EL1', read: true, rt: 2 },
        { op: 'sysreg', reg: 'OSDLR_EL1', read: false, rt: 3, value: 0n },
        { op: 'sysreg', reg: 'OSLAR_EL1', read: true, rt: 4 },
      ],
      answerSeed: 2,
    },
  );
  armScenario(
    'sysreg-gic-cpu-interface',
    'without an in-framework GIC the GICv3 CPU interface registers (ICC_IAR1_EL1, ICC_EOIR1_EL1, ICC_PMR_EL1) trap to the VMM (EC 0x18)',
    el0('el1h') +
      "QEMU's HVF code emulates the ICC_* registers when it provides the GIC itself (hvf-facts.md §2.7, §2.8 [T]): reads get the VMM's answer in Rt, writes hand it Rt, PC += 4. ICC_IAR1_EL1 is read-only and ICC_EOIR1_EL1 write-only (Arm GICv3). " +
      GUEST_COMMON,
    {
      actions: [
        { op: 'sysreg', reg: 'ICC_IAR1_EL1', read: true, rt: 0 },
        { op: 'sysreg', reg: 'ICC_EOIR1_EL1', read: false, rt: 0 },
        { op: 'sysreg', reg: 'ICC_PMR_EL1', read: false, rt: 1, value: 0xf0n },
      ],
      answerSeed: 3,
    },
  );
  armScenario(
    'sysreg-physical-timer',
    "CNTPCT_EL0, CNTP_CVAL_EL0 and CNTP_CTL_EL0 trap to the VMM at EL1 (EC 0x18): the EL1 physical counter and timer are the VMM's to emulate",
    el0('el1h') +
      "The guest's physical counter and timer are trapped by the hypervisor (CNTHCTL_EL2.EL1PCTEN/EL1PCEN); QEMU's HVF code emulates CNTPCT_EL0 and CNTP_CTL/CVAL_EL0 (hvf-facts.md §2.8 [T]; the framework offers CNTP_* registers only with a GIC, §2.2 [H]). The virtual timer (CNTV_*) is the guest's own. PC += 4 after each. " +
      GUEST_COMMON,
    {
      actions: [
        { op: 'sysreg', reg: 'CNTPCT_EL0', read: true, rt: 0 },
        { op: 'sysreg', reg: 'CNTP_CVAL_EL0', read: false, rt: 1, value: 0x1000n },
        { op: 'sysreg', reg: 'CNTP_CTL_EL0', read: false, rt: 2, value: 1n },
      ],
      answerSeed: 4,
    },
  );
  armScenario(
    'el0-counter-trap-el1',
    'at EL0 with CNTKCTL_EL1 = 0, mrs CNTPCT_EL0 traps to EL1 (EC 0x18 in ESR_EL1), not to the VMM',
    el0('el0') +
      'EL1 controls come first for EL0 accesses (Arm ARM): CNTKCTL_EL1.EL0PCTEN = 0 traps the counter read to EL1. ESR_EL1 EC 0x18 with the register (Op0 3, Op1 3, CRn 14, CRm 0, Op2 1), Rt and direction; ELR at the mrs. ' +
      GUEST_COMMON,
    { start: 'el0', actions: [{ op: 'sysreg', reg: 'CNTPCT_EL0', read: true, rt: 0 }] },
  );
  armScenario(
    'el0-daif-trap-el1',
    'at EL0 with SCTLR_EL1.UMA = 0, msr daifset traps to EL1 (EC 0x18 in ESR_EL1, Op1 3, Op2 6), not to the VMM',
    el0('el0') +
      'SCTLR_EL1.UMA = 0 traps EL0 MSR DAIFSet/DAIFClr to EL1 (Arm ARM, SCTLR_EL1.UMA), reported as a trapped MSR (immediate): ESR_EL1 EC 0x18 with Op0 0, Op1 3 (0b011), CRn 4, CRm = the immediate, Op2 6 for DAIFSet (7 for DAIFClr), Rt 31, direction 0 — the fields of the MSR (immediate) encoding. ELR at the msr. ' +
      GUEST_COMMON,
    { start: 'el0', actions: [{ op: 'daif', set: true, imm: 2 }] },
  );
  armScenario(
    'sysreg-id-registers',
    'ID registers the vCPU configuration does not hold (ID_AA64ISAR2_EL1, ID_AA64MMFR3_EL1) trap to the VMM on read; a write to one is UNDEFINED in the guest',
    el0('el1h') +
      'The framework answers the ID registers of its vCPU configuration itself (the hv_sys_reg_t ID registers, hvf-facts.md §2.2, §2.4); the rest of the ID space (Op0 3, Op1 0, CRn 0, CRm 1–7) reaches the VMM, and QEMU reads them as 0 (§2.8 [T]). ID registers are read-only: MSR to one is UNDEFINED (EC 0x00 at EL1). ' +
      GUEST_COMMON,
    {
      actions: [
        { op: 'sysreg', reg: 'ID_AA64ISAR2_EL1', read: true, rt: 0 },
        { op: 'sysreg', reg: 'ID_AA64MMFR3_EL1', read: true, rt: 1 },
        { op: 'sysreg', reg: 'ID_AA64ISAR2_EL1', read: false, rt: 2 },
      ],
      answerSeed: 5,
    },
  );
  armScenario(
    'sysreg-debug-trap',
    'with hv_vcpu_set_trap_debug_reg_accesses(true), MDSCR_EL1 and DBGBVR0_EL1 accesses trap to the VMM (EC 0x18)',
    el0('el1h') +
      'hv_vcpu_set_trap_debug_reg_accesses traps the debug registers (DBGB/W*VRn/CRn, MDSCR_EL1) to the VMM (hvf-facts.md §2.4 [H]; QEMU emulates them, §2.8 [T]); without it the guest reads and writes them itself. ' +
      GUEST_COMMON,
    {
      trapDebugRegs: true,
      actions: [
        { op: 'sysreg', reg: 'MDSCR_EL1', read: false, rt: 1, value: 0x8000n },
        { op: 'sysreg', reg: 'DBGBVR0_EL1', read: true, rt: 2 },
      ],
      answerSeed: 6,
    },
  );
}

// ---- output ----------------------------------------------------------------------------------------

const LINE_WIDTH = 110;

function compact(v: unknown): string {
  if (Array.isArray(v)) return v.length ? `[${v.map(compact).join(', ')}]` : '[]';
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return entries.length
      ? `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${compact(x)}`).join(', ')} }`
      : '{}';
  }
  return JSON.stringify(v);
}

/**
 * JSON the way biome (the repository's formatter, line width 110) prints it from compact input: a
 * value stays on one line when that line fits, otherwise its entries go one per line.
 */
function layout(v: unknown, indent: number, lead: number, trail: number): string {
  const one = compact(v);
  if (v === null || typeof v !== 'object' || lead + one.length + trail <= LINE_WIDTH) return one;
  const pad = ' '.repeat(indent + 2);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const items = v.map((x, i) => pad + layout(x, indent + 2, indent + 2, i < v.length - 1 ? 1 : 0));
    return `[\n${items.join(',\n')}\n${' '.repeat(indent)}]`;
  }
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([k, x], i) => {
    const key = `${JSON.stringify(k)}: `;
    return pad + key + layout(x, indent + 2, indent + 2 + key.length, i < entries.length - 1 ? 1 : 0);
  });
  return `{\n${lines.join(',\n')}\n${' '.repeat(indent)}}`;
}

function main(): void {
  const check = process.argv.includes('--check');
  x86Examples();
  x86ModeExamples();
  armExamples();
  armGuestExamples();
  let stale = 0;
  for (const { file, trace } of examples) {
    const text = `${layout(trace, 0, 0, 0)}\n`;
    // The spec's own parser must accept what we write (unknown calls, bad names, unbound $refs...).
    parseTrace(text, file);
    const path = join(TRACES, file);
    let old: string | undefined;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = undefined;
    }
    if (check) {
      if (old !== text) {
        stale++;
        process.stdout.write(`differs: traces/${file}\n`);
      }
      continue;
    }
    if (old !== text) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
    process.stdout.write(`${old === text ? 'unchanged' : 'wrote    '} traces/${file}  ${trace.title}\n`);
  }
  if (check && stale) {
    process.stdout.write(
      `${stale} example trace(s) are out of date: run node --import tsx scripts/make-example-traces.ts\n`,
    );
    process.exitCode = 1;
  }
}

main();
