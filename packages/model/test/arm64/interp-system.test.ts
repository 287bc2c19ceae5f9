/**
 * The interpreter's exception model, PSTATE, system registers and stage-1 walker, on hand-written
 * machine code and hand-written descriptors (independent of the spec's assembler and table builder,
 * which the agreement test uses). Instruction words were produced by llvm-mc 14
 * (`-triple=aarch64 -show-encoding`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arm64Engine } from '../../src/arm64/interp.js';
import type { Arm64Cpu } from '../../src/arm64/state.js';
import type { Arm64RunContext, Arm64Stop } from '../../src/engine.js';
import { code, context, freshCpu, PAGE, R, TestMemory, W, X } from './helpers.js';

const CODE = 0x10000n;
const RAM = 0x20000n;
const TABLES = 0x40000n; // 16 KiB of RW memory for descriptors
const END = 0xd41fffe2; // hvc #0xffff
const VBAR = 0x80000n; // vectors: each slot `hvc #(0xfe00 | slot); eret`
const S = {
  SCTLR: 0xc080,
  TCR: 0xc102,
  TTBR0: 0xc100,
  TTBR1: 0xc101,
  MAIR: 0xc510,
  VBAR: 0xc600,
  ESR: 0xc290,
  ELR: 0xc201,
  SPSR: 0xc200,
  FAR: 0xc300,
  SP_EL0: 0xc208,
  SP_EL1: 0xe208,
  CNTKCTL: 0xc708,
} as const;

function machine(
  words: number[],
  o: { cpsr?: bigint; over?: Partial<Arm64RunContext> } = {},
): { mem: TestMemory; cpu: Arm64Cpu; ctx: Arm64RunContext } {
  const mem = new TestMemory()
    .map(CODE, PAGE, R | W | X)
    .map(RAM, PAGE, R | W)
    .map(TABLES, PAGE, R | W)
    .map(VBAR, PAGE, R | X);
  mem.poke(CODE, code(...words, END));
  const vec: number[] = [];
  for (let slot = 0; slot < 16; slot++)
    vec.push(0xd4000002 | ((0xfe00 | slot) << 5), 0xd69f03e0, ...new Array(30).fill(0));
  mem.poke(VBAR, code(...vec));
  const cpu = freshCpu(CODE, o.cpsr ?? 0x3c5n);
  cpu.setSys(S.VBAR, VBAR);
  return { mem, cpu, ctx: context(cpu, mem, o.over) };
}
const run = (m: { ctx: Arm64RunContext }, budget = 1000): Arm64Stop => arm64Engine(m.ctx, budget);
const hvc = (imm: number): Arm64Stop => ({
  kind: 'exception',
  syndrome: BigInt((0x5a000000 | imm) >>> 0),
  virtual_address: 0n,
  physical_address: 0n,
});
const report = (slot: number): Arm64Stop => hvc(0xfe00 | slot);
const end = hvc(0xffff);

test('bitfield, extract, extended add, carry, conditional compare, one/two/three-source ops', () => {
  const m = machine([
    0xd2824680, // movz x0, #0x1234
    0xf2b579a0, // movk x0, #0xabcd, lsl #16
    0xd34c5c01, // ubfx x1, x0, #12, #12
    0x93407c02, // sxtw x2, w0
    0xd37c1c03, // ubfiz x3, x0, #4, #8
    0x93c02004, // extr x4, x0, x0, #8
    0x8b204c05, // add x5, x0, w0, uxtw #3
    0xab000006, // adds x6, x0, x0
    0x9a1f03e7, // adc x7, xzr, xzr
    0xfa401804, // ccmp x0, #0, #4, ne
    0xdac01008, // clz x8, x0
    0xdac00c09, // rev x9, x0
    0x9ac0080a, // udiv x10, x0, x0
    0x9b007c0b, // mul x11, x0, x0
    0x9bc07c0c, // umulh x12, x0, x0
  ]);
  assert.deepEqual(run(m), end);
  const c = m.cpu;
  const x0 = 0xabcd_1234n;
  assert.equal(c.getX(0), x0);
  assert.equal(c.getX(1), (x0 >> 12n) & 0xfffn);
  assert.equal(c.getX(2), BigInt.asUintN(64, BigInt.asIntN(32, x0)));
  assert.equal(c.getX(3), (x0 & 0xffn) << 4n);
  assert.equal(c.getX(4), ((x0 >> 8n) | (x0 << 56n)) & 0xffff_ffff_ffff_ffffn);
  assert.equal(c.getX(5), x0 + (x0 << 3n));
  assert.equal(c.getX(6), 2n * x0);
  assert.equal(c.getX(7), 0n); // adds x0+x0 has no carry
  assert.equal(c.cpsr >> 28n, 0b0010n); // ccmp x0, #0: x0 > 0, C set
  assert.equal(c.getX(8), 32n);
  assert.equal(c.getX(9), 0x3412_cdab_0000_0000n);
  assert.equal(c.getX(10), 1n);
  assert.equal(c.getX(11), (x0 * x0) & 0xffff_ffff_ffff_ffffn);
  assert.equal(c.getX(12), (x0 * x0) >> 64n);
});

test('PSTATE registers: NZCV, DAIF, CurrentEL, SPSel, SP_EL0 at EL1', () => {
  const m = machine([
    0xd53b4200, // mrs x0, NZCV
    0xd53b4221, // mrs x1, DAIF
    0xd5384242, // mrs x2, CurrentEL
    0xd5384203, // mrs x3, SPSel
    0xd2800064, // movz x4, #3
    0xd5184104, // msr SP_EL0, x4
    0xd50040bf, // msr SPSel, #0
    0x910003e5, // mov x5, sp (SP_EL0 now)
    0xd50041bf, // msr SPSel, #1
    0xd50342ff, // msr daifclr, #2
  ]);
  m.cpu.setSys(S.SP_EL1, 0x1000n);
  assert.deepEqual(run(m), end);
  const c = m.cpu;
  assert.deepEqual([c.getX(0), c.getX(1), c.getX(2), c.getX(3), c.getX(5)], [0n, 0x3c0n, 4n, 1n, 3n]);
  assert.equal(c.getSys(S.SP_EL0), 3n);
  assert.equal(c.getSys(S.SP_EL1), 0x1000n);
  assert.equal(c.cpsr, 0x345n); // I cleared
  // SP_EL0 with SPSel = 0 is UNDEFINED; SP_EL1 at EL1 too.
  const u = machine([0xd538410a], { cpsr: 0x3c4n }); // mrs x10, SP_EL0 at EL1t
  assert.deepEqual(run(u), report(0));
  assert.equal(u.cpu.getSys(S.ESR), 0x0200_0000n);
});

test('SP alignment checking (SCTLR_EL1.SA) and unprivileged loads (LDTR) at EL1', () => {
  const m = machine([0xf94003e0]); // ldr x0, [sp]
  m.cpu.setSys(S.SP_EL1, RAM + 8n);
  m.cpu.setSys(S.SCTLR, 1n << 3n);
  assert.deepEqual(run(m), report(4));
  assert.equal(m.cpu.getSys(S.ESR), 0x9a00_0000n); // EC 0x26
  assert.equal(m.cpu.getSys(S.ELR), CODE);
  // LDTR at EL1 checks EL0 permissions: with the MMU off every access is allowed, so it loads.
  const t = machine([0xf8400820]); // ldtr x0, [x1]
  t.cpu.setX(1, RAM);
  t.mem.poke(RAM, code(0x1234, 0));
  assert.deepEqual(run(t), end);
  assert.equal(t.cpu.getX(0), 0x1234n);
});

test('exception return: to EL0, to an illegal mode, and back through the vector', () => {
  // eret to EL0 with SPSR 0 and ELR = the svc; the svc comes back to EL1 at the lower-EL vector.
  const m = machine([
    0xd2800009, // movz x9, #0
    0xd5184009, // msr SPSR_EL1, x9
    0x10000069, // adr x9, #12
    0xd5184029, // msr ELR_EL1, x9
    0xd69f03e0, // eret
    0xd4000a21, // svc #0x51
  ]);
  assert.deepEqual(run(m), report(8));
  assert.equal(m.cpu.getSys(S.ESR), 0x5600_0051n);
  assert.equal(m.cpu.getSys(S.ELR), CODE + 24n);
  assert.equal(m.cpu.getSys(S.SPSR), 0n);
  assert.equal(m.cpu.cpsr, 0x3c5n);
  assert.equal(m.cpu.event, true); // ERET sets the event register
  // The vector's eret returns to EL0 at the end marker, where HVC is UNDEFINED.
  assert.deepEqual(run(m), report(8));
  assert.equal(m.cpu.getSys(S.ESR), 0x0200_0000n);
  // An illegal return (SPSR M = EL2h): IL set, the next instruction takes EC 0x0E; SPSR_EL1 keeps IL.
  const i = machine([0xd2807929, 0xd5184009, 0x10000069, 0xd5184029, 0xd69f03e0]); // movz x9, #0x3c9
  assert.deepEqual(run(i), report(4));
  assert.equal(i.cpu.getSys(S.ESR), 0x3a00_0000n);
  assert.equal(i.cpu.getSys(S.SPSR), 0x10_03c5n);
  assert.equal(i.cpu.getSys(S.ELR), CODE + 20n);
});

test('interrupt lines: masked, unmasked, WFI and WFE', () => {
  const irq = machine([0xd503207f, 0xd50342ff], { over: { pendingIrq: true } }); // wfi; msr daifclr, #2
  assert.deepEqual(run(irq), report(5)); // the WFI completed; the IRQ came after the msr
  assert.equal(irq.cpu.getSys(S.ELR), CODE + 8n);
  const fiq = machine([0xd503201f], { cpsr: 0n, over: { pendingFiq: true } });
  assert.deepEqual(run(fiq), report(10));
  assert.equal(fiq.cpu.getSys(S.ELR), CODE);
  // WFE completes while the event register is set (and clears it); then it traps.
  const wfe = machine([0xd503205f, 0xd503205f]);
  wfe.cpu.event = true;
  const s = run(wfe);
  assert.deepEqual(s, {
    kind: 'exception',
    syndrome: 0x07e0_0001n,
    virtual_address: 0n,
    physical_address: 0n,
  });
  assert.equal(wfe.cpu.pc, CODE + 4n);
  // SEV sets it too.
  const sev = machine([0xd503209f, 0xd503205f]);
  assert.deepEqual(run(sev), end);
});

test('EL0 traps to EL1: counter with CNTKCTL_EL1 = 0 and allowed with EL0VCTEN, DAIF with UMA = 0', () => {
  const c = machine([0xd53be040], { cpsr: 0n }); // mrs x0, CNTVCT_EL0
  assert.deepEqual(run(c), report(8));
  assert.equal(c.cpu.getSys(S.ESR), 0x6234_f801n); // EC 0x18: Op0 3, Op2 2, Op1 3, CRn 14, Rt 0, CRm 0, read
  const ok = machine([0xd53be040, 0xd4000021], { cpsr: 0n }); // ... ; svc #1
  ok.cpu.setSys(S.CNTKCTL, 2n); // EL0VCTEN
  assert.deepEqual(run(ok), report(8));
  assert.equal(ok.cpu.getSys(S.ESR), 0x5600_0001n); // the counter read did not trap
  const d = machine([0xd53b4220], { cpsr: 0n }); // mrs x0, DAIF
  assert.deepEqual(run(d), report(8));
  assert.equal(d.cpu.getSys(S.ESR) >> 26n, 0x18n);
});

/** 4 KiB granule, T0SZ 25: L1 table at TABLES, L2 at +0x1000, L3 at +0x2000; TTBR1 L1 at +0x3000. */
function withMmu(
  m: { mem: TestMemory; cpu: Arm64Cpu },
  leaves: [bigint, bigint][],
  more: { tcr?: bigint; sctlr?: bigint } = {},
): void {
  const put = (at: bigint, v: bigint): void => {
    const b = new Uint8Array(8);
    for (let i = 0; i < 8; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    m.mem.poke(at, b);
  };
  put(TABLES, TABLES + 0x1000n + 3n);
  put(TABLES + 0x1000n, TABLES + 0x2000n + 3n);
  for (const [va, d] of leaves) put(TABLES + 0x2000n + ((va >> 12n) & 0x1ffn) * 8n, d);
  m.cpu.setSys(S.TTBR0, TABLES);
  m.cpu.setSys(S.TCR, more.tcr ?? 25n | (1n << 23n) | (2n << 30n) | (2n << 32n));
  m.cpu.setSys(S.MAIR, 0xffn);
  m.cpu.setSys(S.SCTLR, more.sctlr ?? 1n);
}
const PAGE_RW_EL1 = 0x703n; // valid page, AttrIndx 0, AP 00, SH inner, AF
const CODE_RX = 0x7c3n; // AP 11

test('the walker: hierarchical APTable, WXN, TLB maintenance', () => {
  // APTable[1] (read-only below) on the L2 table descriptor makes a RW page read-only.
  const m = machine([0xf9000020]); // str x0, [x1]
  withMmu(m, [
    [CODE, CODE | CODE_RX],
    [VBAR, VBAR | CODE_RX],
    [RAM, RAM | PAGE_RW_EL1],
  ]);
  m.mem.poke(TABLES + 0x1000n, code(Number(TABLES + 0x2000n + 3n), 1 << 30)); // bit 62 of the descriptor
  m.cpu.setX(1, RAM);
  assert.deepEqual(run(m), report(4));
  assert.equal(m.cpu.getSys(S.ESR), 0x9600_004fn); // EC 0x25, WnR, permission level 3
  // WXN: a writable page is never executable.
  const w = machine([0xd61f0020]); // br x1
  withMmu(
    w,
    [
      [CODE, CODE | CODE_RX],
      [VBAR, VBAR | CODE_RX],
      [RAM, RAM | PAGE_RW_EL1],
    ],
    { sctlr: 1n | (1n << 19n) },
  );
  w.cpu.setX(1, RAM);
  assert.deepEqual(run(w), report(4));
  assert.equal(w.cpu.getSys(S.ESR), 0x8600_000fn); // EC 0x21, permission level 3
  // A cached translation survives a change of its descriptor until TLBI (as a TLB may), then not.
  const t = machine([
    0xf9400020, // ldr x0, [x1]
    0xf900005f, // str xzr, [x2]: RAM's descriptor is now invalid
    0xf9400020, // ldr x0, [x1]: still translated from the TLB
    0xd508871f, // tlbi vmalle1
    0xf9400020, // ldr x0, [x1]: walks again and faults
  ]);
  withMmu(t, [
    [CODE, CODE | CODE_RX],
    [VBAR, VBAR | CODE_RX],
    [RAM, RAM | PAGE_RW_EL1],
    [TABLES + 0x2000n, (TABLES + 0x2000n) | PAGE_RW_EL1],
  ]);
  t.cpu.setX(1, RAM);
  t.cpu.setX(2, TABLES + 0x2000n + 0x20n * 8n);
  assert.deepEqual(run(t), report(4));
  assert.equal(t.cpu.getSys(S.ESR), 0x9600_0007n); // translation fault, level 3
  assert.equal(t.cpu.getSys(S.ELR), CODE + 16n);
});

test('the walker: TTBR1, an address-size fault, and an unaligned Normal access across two pages', () => {
  const m = machine([0xf9400020]); // ldr x0, [x1]
  withMmu(
    m,
    [
      [CODE, CODE | CODE_RX],
      [VBAR, VBAR | CODE_RX],
    ],
    {
      tcr: 25n | (25n << 16n) | (2n << 30n) | (2n << 32n),
    },
  );
  // TTBR1: one L1 table whose entry 0 is a 1 GiB block at IPA 0 (EL1 RW).
  m.mem.poke(TABLES + 0x3000n, code(0x701, 0));
  m.cpu.setSys(S.TTBR1, TABLES + 0x3000n);
  m.cpu.setX(1, 0xffff_ff80_0000_0000n + RAM + 8n);
  m.mem.poke(RAM + 8n, code(0xabcd, 0));
  assert.deepEqual(run(m), end);
  assert.equal(m.cpu.getX(0), 0xabcdn);
  // An output address beyond IPS (32 bits here): address-size fault at the leaf's level.
  const a = machine([0xf9400020]);
  withMmu(
    a,
    [
      [CODE, CODE | CODE_RX],
      [VBAR, VBAR | CODE_RX],
      [RAM, 0x1_0000_0000n | PAGE_RW_EL1],
    ],
    {
      tcr: 25n | (1n << 23n) | (2n << 30n),
    },
  );
  a.cpu.setX(1, RAM);
  assert.deepEqual(run(a), report(4));
  assert.equal(a.cpu.getSys(S.ESR), 0x9600_0003n);
  // Normal memory with SCTLR_EL1.A = 0: an unaligned load may cross into the next page.
  const x = machine([0xf9400020]);
  x.mem.map(RAM + PAGE, PAGE, R | W);
  withMmu(x, [
    [CODE, CODE | CODE_RX],
    [VBAR, VBAR | CODE_RX],
    [RAM + 0x3000n, (RAM + 0x3000n) | PAGE_RW_EL1],
    [RAM + 0x4000n, (RAM + 0x4000n) | PAGE_RW_EL1],
  ]);
  x.mem.poke(RAM + 0x3ffcn, code(0x44332211, 0x88776655));
  x.cpu.setX(1, RAM + 0x3ffcn);
  assert.deepEqual(run(x), end);
  assert.equal(x.cpu.getX(0), 0x8877_6655_4433_2211n);
});

test('store pairs write nothing when the second element faults', () => {
  const m = machine([0xa9000820]); // stp x0, x2, [x1]
  m.cpu.setX(0, 0x1111n);
  m.cpu.setX(2, 0x2222n);
  m.cpu.setX(1, RAM + PAGE - 8n);
  const s = run(m);
  assert.equal(s.kind, 'exception');
  if (s.kind === 'exception') assert.equal(s.physical_address, RAM + PAGE);
  assert.deepEqual([...m.mem.peek(RAM + PAGE - 8n, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('outside the model: top-byte-ignore, reserved granules, fetches from Device memory', () => {
  const t = machine([0xd503201f]);
  t.cpu.setSys(S.TCR, 1n << 37n);
  assert.equal(run(t).kind, 'unsupported');
  const g = machine([0xf9400020]);
  withMmu(
    g,
    [
      [CODE, CODE | CODE_RX],
      [VBAR, VBAR | CODE_RX],
    ],
    { tcr: 25n | (3n << 14n) | (1n << 23n) },
  );
  const s = run(g);
  assert.equal(s.kind, 'unsupported');
  const d = machine([0xd61f0020]); // br x1 into a Device page (AttrIndx 1, MAIR attr 1 = 0)
  withMmu(d, [
    [CODE, CODE | CODE_RX],
    [VBAR, VBAR | CODE_RX],
    [RAM, RAM | 0x787n],
  ]);
  d.cpu.setX(1, RAM);
  assert.equal(run(d).kind, 'unsupported');
});

test('outside the model: software step and enabled breakpoints/watchpoints stop the run as unsupported', () => {
  const MDSCR = 0x8012;
  const DBGWCR1 = 0x800f;
  // MDSCR_EL1.SS = 1 before the run: a step exception the model does not raise.
  const step = machine([0xd503201f]);
  step.cpu.setSys(MDSCR, 1n);
  const s = run(step);
  assert.equal(s.kind, 'unsupported');
  if (s.kind === 'unsupported') assert.match(s.reason, /MDSCR_EL1\.SS/);
  // MDE alone, or an enabled watchpoint without MDE, raises nothing: the program runs.
  const mde = machine([0xd503201f]);
  mde.cpu.setSys(MDSCR, 0x8000n);
  assert.deepEqual(run(mde), hvc(0xffff));
  const wcr = machine([0xd503201f]);
  wcr.cpu.setSys(DBGWCR1, 0x1ff7n);
  assert.deepEqual(run(wcr), hvc(0xffff));
  // The guest itself arms one: msr MDSCR_EL1, x1 with MDE while DBGWCR1_EL1.E = 1 stops at the msr.
  const guest = machine([0xd5100241, 0xd503201f]); // msr mdscr_el1, x1; nop
  guest.cpu.setSys(DBGWCR1, 0x1ff7n);
  guest.cpu.setX(1, 0x8000n);
  const g = run(guest);
  assert.equal(g.kind, 'unsupported');
  if (g.kind === 'unsupported') assert.match(g.reason, /MDE = 1 with a breakpoint or watchpoint/);
  // Cleared again by the VMM, the next run goes on.
  guest.cpu.setSys(MDSCR, 0n);
  guest.cpu.pc = CODE + 4n;
  assert.deepEqual(run(guest), hvc(0xffff));
});
