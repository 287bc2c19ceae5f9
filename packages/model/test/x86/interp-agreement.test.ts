/**
 * The heart of the x86 guest work: two independent implementations agree. The spec predicts the exits
 * of a program from what its actions mean (packages/spec/src/guest/x86/predict.ts); the model runs the
 * assembled machine code instruction by instruction (packages/model/src/x86/interp.ts) and encodes the
 * exits itself (exit.ts). For generated layouts and programs, a minimal VMM loop over the model must
 * see exactly the predicted exits, registers and memory.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
// The spec's guest modules, by path until packages/spec/src/index.ts exports guest/x86 (the lead wires it).
import {
  describeX86Program,
  X86_GPRS,
  X86_MODES,
  type X86Mode,
  x86ModePaging,
} from '../../../spec/src/guest/x86/actions.js';
import { decodeIoQualification } from '../../../spec/src/guest/x86/exits.js';
import { defaultX86Answer, X86_EXIT_KINDS, type X86RegName } from '../../../spec/src/guest/x86/predict.js';
import {
  predictX86Scenario,
  type X86Layout,
  type X86LayoutMapping,
  type X86Scenario,
  x86ScenarioArb,
  x86ScenarioCpuBased,
  x86ScenarioPageTables,
} from '../../../spec/src/guest/x86/scenario.js';
import { x86ExitFields } from '../../src/x86/exit.js';
import { x86Engine } from '../../src/x86/interp.js';
import { MODEL_VMX_CAPABILITIES } from '../../src/x86/vmx-capabilities.js';
import { modeCpu, Pages, R, W, X } from './helpers.js';

const REG_INDEX: Record<X86RegName, number> = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
};
/** Initial memory outside the code: a fixed pattern, so loads from mapped memory read something non-zero. */
const pattern = (g: bigint): number => Number((g * 0x9dn + 0x17n) & 0xffn);

/** Pages over a layout's mappings, with `pattern` as initial content. */
class LayoutMemory extends Pages {
  constructor(mappings: readonly X86LayoutMapping[]) {
    super();
    for (const m of mappings) this.map(m.gpa, Number(m.size), m.flags);
    for (const [p, page] of this.pages)
      page.data = Uint8Array.from({ length: 4096 }, (_, i) => pattern(p + BigInt(i)));
  }
}

const dummyUva = { mem: { id: 0, size: 0x1000 }, offset: 0 };
const TABLES = 0x30000n;
const readCap = (id: number): bigint => MODEL_VMX_CAPABILITIES[id] ?? 0n;

/**
 * Layouts for a mode: a code page (executable) and up to four data mappings with any flags, at distinct
 * places, plus the page tables' mapping (READ|WRITE) in the paging modes. The code lies where the mode
 * reaches it: below 1 MiB in real mode, in the identity-mapped 64 MiB with paging.
 */
const layoutArb = (mode: X86Mode): fc.Arbitrary<X86Layout> =>
  fc
    .record({
      codeFlags: fc.constantFrom(X, R | X, R | W | X),
      codePages: fc.integer({ min: 1, max: 2 }),
      data: fc.array(
        fc.record({ flags: fc.integer({ min: 0, max: 7 }), pages: fc.integer({ min: 1, max: 2 }) }),
        { maxLength: 4 },
      ),
      codeGpa:
        mode === 'prot32' ? fc.constantFrom(0x10000n, 0x7fff_0000n) : fc.constantFrom(0x10000n, 0x8_1000n),
      dataBase: fc.constantFrom(0x2000n, 0x20000n),
    })
    .map(({ codeFlags, codePages, data, codeGpa, dataBase }) => {
      const mappings: X86LayoutMapping[] = [
        { gpa: codeGpa, size: BigInt(codePages) * 0x1000n, flags: codeFlags },
      ];
      for (const [k, d] of data.entries())
        mappings.push({
          gpa: dataBase + BigInt(k) * 0x4000n,
          size: BigInt(d.pages) * 0x1000n,
          flags: d.flags,
        });
      const paging = x86ModePaging(mode);
      if (paging) mappings.push({ gpa: TABLES, size: 0x3000n, flags: R | W });
      return {
        mappings,
        code: { gpa: codeGpa, size: codePages * 0x1000, uva: dummyUva },
        ...(paging ? { tables: { gpa: TABLES, uva: dummyUva } } : {}),
      };
    });

const scenarioArb = (mode: X86Mode) =>
  layoutArb(mode).chain((layout) => x86ScenarioArb(layout, mode).map((s) => ({ ...s, layout })));

/** Runs a scenario through the model with a minimal VMM; returns the exit kinds seen (throws on disagreement). */
function agree(s: X86Scenario): string[] {
  const mode = s.mode ?? 'prot32';
  const pred = predictX86Scenario(s, pattern, undefined, readCap);
  assert.equal(pred.unspecified, undefined, 'the arbitrary only generates predictable programs');
  const mem = new LayoutMemory(s.layout.mappings);
  mem.poke(s.layout.code.gpa, pred.assembly.bytes);
  const tables = x86ScenarioPageTables(s);
  for (const t of tables?.pages ?? []) mem.poke(t.gpa, t.bytes);
  const cpu = modeCpu(mode, s.layout.code.gpa, tables?.root ?? 0n);
  for (const [i, r] of X86_GPRS.entries()) cpu.gpr[i] = BigInt((s.regs?.[r] ?? 0) >>> 0);
  cpu.ctl.cpuBased = x86ScenarioCpuBased(s, readCap);
  if (s.excBitmap !== undefined) cpu.ctl.excBitmap = s.excBitmap;
  const kinds: string[] = [];
  for (let k = 0; k < pred.exits.length; k++) {
    const e = pred.exits[k]!;
    const stop = x86Engine(cpu, mem, 10_000);
    const f = x86ExitFields(stop);
    assert.ok(
      f,
      `exit ${k}: the engine stopped with ${JSON.stringify(stop, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`,
    );
    const where = `exit ${k} (${e.kind})`;
    assert.equal(f.reason, e.reason, `${where}: VMCS_RO_EXIT_REASON`);
    assert.equal(
      f.qualification & e.qualificationMask,
      e.qualification & e.qualificationMask,
      `${where}: VMCS_RO_EXIT_QUALIFIC`,
    );
    if (e.gpa !== undefined) assert.equal(f.gpa, e.gpa, `${where}: VMCS_GUEST_PHYSICAL_ADDRESS`);
    if (e.gla !== undefined) assert.equal(f.gla, e.gla, `${where}: VMCS_RO_GUEST_LIN_ADDR`);
    if (e.instrLen !== undefined) assert.equal(f.instrLen, e.instrLen, `${where}: VMCS_RO_VMEXIT_INSTR_LEN`);
    assert.equal(f.irqInfo, e.irqInfo, `${where}: VMCS_RO_VMEXIT_IRQ_INFO`);
    assert.equal(f.irqError, e.irqError, `${where}: VMCS_RO_VMEXIT_IRQ_ERROR`);
    if (e.idtVectorInfo !== undefined)
      assert.equal(f.idtVectorInfo, e.idtVectorInfo, `${where}: VMCS_RO_IDT_VECTOR_INFO`);
    assert.equal(f.idtVectorError, e.idtVectorError, `${where}: VMCS_RO_IDT_VECTOR_ERROR`);
    if (e.rip !== undefined) assert.equal(cpu.rip, e.rip, `${where}: RIP`);
    for (const [name, v] of Object.entries(e.regs) as [X86RegName, number][])
      assert.equal(cpu.gpr[REG_INDEX[name]]! & 0xffff_ffffn, BigInt(v), `${where}: ${name}`);
    kinds.push(e.kind);
    if (e.vmmRip === undefined) break;
    // The VMM: an I/O exit is advanced by its own instruction length and an IN answered from the decoded
    // qualification; for everything else the prediction stands in for the VMM (its decoder, its answers).
    const io = f.reason === 30 ? decodeIoQualification(f.qualification) : undefined;
    if (io && !io.string && f.instrLen !== undefined) {
      if (io.in) {
        const v = defaultX86Answer({ kind: 'in', port: io.port, size: io.size, exitIndex: k });
        const mask = io.size === 4 ? 0xffff_ffffn : io.size === 2 ? 0xffffn : 0xffn;
        cpu.gpr[0] = (cpu.gpr[0]! & ~mask) | BigInt(v);
      }
      cpu.rip += BigInt(f.instrLen);
    } else {
      for (const [name, v] of Object.entries(e.vmmRegs) as [X86RegName, number][])
        cpu.gpr[REG_INDEX[name]] = BigInt(v >>> 0);
      cpu.rip = e.vmmRip;
    }
  }
  for (const [name, v] of Object.entries(pred.finalRegs) as [X86RegName, number][])
    if (pred.exits.at(-1)?.kind === 'x86.end')
      assert.equal(cpu.gpr[REG_INDEX[name]]! & 0xffff_ffffn, BigInt(v), `final ${name}`);
  for (const { gpa, bytes } of pred.memory) {
    assert.equal(
      mem.peek(gpa, bytes.length),
      Buffer.from(bytes).toString('hex'),
      `memory at 0x${gpa.toString(16)}`,
    );
  }
  return kinds;
}

for (const mode of X86_MODES) {
  test(`agreement (${mode}): the model runs generated machine code exactly as the spec predicts`, () => {
    fc.assert(
      fc.property(scenarioArb(mode), (s) => {
        try {
          agree(s);
        } catch (e) {
          throw new Error(
            `${(e as Error).message}\nlayout: ${s.layout.mappings.map((m) => `0x${m.gpa.toString(16)}+0x${m.size.toString(16)}:${m.flags}`).join(' ')}\nexcBitmap: ${s.excBitmap}, MOV-DR exiting: ${s.movDrExiting ?? false}\n${describeX86Program(s.program)}`,
          );
        }
      }),
      { numRuns: 150 },
    );
  });
}

test('agreement coverage: generated programs reach every exit kind (fixed seed)', () => {
  const seen = new Set<string>();
  for (const mode of X86_MODES)
    fc.assert(
      fc.property(scenarioArb(mode), (s) => {
        for (const k of agree(s)) seen.add(k);
      }),
      { numRuns: 200, seed: 20261125 },
    );
  const missing = X86_EXIT_KINDS.filter((k) => !seen.has(k));
  assert.deepEqual(missing, [], `exit kinds never generated: ${missing.join(', ')}`);
});
