/**
 * libhvspec-model's life beside a VMM (src/c/model/client.c, src/server/main.ts): the model server is a
 * child only this VMM can reach, guest memory is shared with it (the same memory object mapped in both
 * processes), it goes away with the VMM however the VMM ends, a dead server makes calls fail instead
 * of hang, and a guest that never exits does not block the other threads' calls.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createModel } from '@hvspec/model';
import { lintTrace, parseTrace, replayTrace } from '@hvspec/spec';
import {
  alive,
  build,
  EXAMPLES,
  eventually,
  holders,
  mappers,
  ROOT,
  run,
  scratch,
  serverOf,
  socketsOf,
} from './helpers.ts';

const SPIN = join(ROOT, 'test', 'fixtures', 'spin.c');

/** Starts `spin run` and resolves once its vCPU is in the guest, with the VMM's and the server's pids. */
function spinning(
  env: Record<string, string> = {},
): Promise<{ vmm: ReturnType<typeof spawn>; server: number; output: () => string }> {
  return new Promise((resolve, reject) => {
    const vmm = spawn(build(SPIN, 'model'), ['run'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    vmm.stderr?.on('data', (d) => {
      out += d;
    });
    vmm.stdout?.on('data', async (d) => {
      out += d;
      if (!out.includes('running')) return;
      // The run request is on its way; give the server a moment to enter the guest.
      await new Promise((r) => setTimeout(r, 300));
      const server = serverOf(vmm.pid as number);
      if (server === undefined) reject(new Error(`no model server under ${vmm.pid}: ${out}`));
      else resolve({ vmm, server, output: () => out });
    });
    vmm.on('error', reject);
  });
}

/** No process maps the VMM's guest memory or mailbox any more (memfds named after its pid). */
async function noMemoryLeft(pid: number): Promise<void> {
  for (const name of [`hvspec-guest-${pid}`, `hvspec-mailbox-${pid}`])
    assert.ok(await eventually(() => mappers(name).length === 0), `${name} left behind`);
}

describe('libhvspec-model and its server', () => {
  it('shares guest memory, and a VMM killed mid-run leaves no process, socket or shared memory', async () => {
    const file = scratch('killed.json');
    const { vmm, server } = await spinning({ HVSPEC_TRACE: file });
    const pid = vmm.pid as number;
    const exited = new Promise((r) => vmm.on('close', r));
    const guest = `memfd:hvspec-guest-${pid}`;
    const mailbox = `memfd:hvspec-mailbox-${pid}`;
    const byPid = (a: number, b: number): number => a - b;
    let sockets: string[];
    try {
      // The VMM's RAM is one memory object mapped by both processes: shared, not copied.
      assert.deepEqual(mappers(guest).sort(byPid), [pid, server].sort(byPid));
      assert.deepEqual(mappers(mailbox).sort(byPid), [pid, server].sort(byPid));
      // The two ends of the channel: the server's fd 3 and the VMM's only socket.
      const serverEnd = readlinkSync(`/proc/${server}/fd/3`);
      const vmmEnds = socketsOf(pid);
      assert.match(serverEnd, /^socket:\[\d+\]$/);
      assert.equal(vmmEnds.length, 1, `the VMM holds ${vmmEnds.join(', ')}`);
      sockets = [serverEnd, ...vmmEnds];
      assert.deepEqual(holders(serverEnd), [server]);
    } finally {
      vmm.kill('SIGKILL');
      await exited;
    }
    assert.ok(await eventually(() => !alive(server)), `the model server ${server} outlived its VMM`);
    await noMemoryLeft(pid);
    for (const socket of sockets)
      assert.ok(await eventually(() => holders(socket).length === 0), `${socket} left behind`);
    // The trace of the killed VMM is readable up to its last complete call (the run never returned).
    const trace = parseTrace(readFileSync(file, 'utf8'), file);
    assert.equal(trace.steps.at(-1)?.call, 'hv_vmx_vcpu_write_vmcs');
    assert.equal(lintTrace(trace).errors, 0);
  });

  it('makes the calls of a VMM whose server died fail with HV_ERROR instead of hanging', async () => {
    const { vmm, server, output } = await spinning();
    const exited = new Promise<number | null>((r) => vmm.on('close', (code) => r(code)));
    process.kill(server, 'SIGKILL');
    const timer = setTimeout(() => vmm.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    assert.match(output(), /run returned 0xfae94001/);
    assert.match(output(), /the model server has died/);
    assert.notEqual(code, 0);
  });

  it('leaves nothing behind when the VMM exits normally', async () => {
    let pid = 0;
    const r = await run(build(join(EXAMPLES, 'x86-io-mmio.c'), 'model'), [], {}, 60_000, (p) => {
      pid = p;
    });
    assert.equal(r.code, 0, r.stderr);
    await noMemoryLeft(pid);
  });

  it('lets another thread kick a vCPU whose guest never exits, and records the run as async + await', async () => {
    const file = scratch('kick.json');
    const r = await run(build(SPIN, 'model'), ['kick'], { HVSPEC_TRACE: file }, 30_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The kick ends the run with a host-interrupt exit (VMX_REASON_IRQ = 1), as the model answers.
    assert.match(r.stdout, /run returned 0x0\nexit reason 1/);
    // The kick happened while the run was in flight: the trace says so, in order, and replays.
    const trace = parseTrace(readFileSync(file, 'utf8'), file);
    const calls = trace.steps.map((s) => (s.async ? `${s.call}(async)` : s.call));
    const run0 = calls.indexOf('hv_vcpu_run(async)');
    assert.deepEqual(calls.slice(run0, run0 + 3), ['hv_vcpu_run(async)', 'hv_vcpu_interrupt', 'await']);
    assert.equal(lintTrace(trace).errors, 0);
    const replay = await replayTrace(trace, createModel('x86_64'));
    assert.equal(replay.status, 'pass', JSON.stringify(replay.firstProblem));
  });

  it('answers HV_UNSUPPORTED, and says why, when the server cannot start', async () => {
    const r = await run(build(join(EXAMPLES, 'x86-io-mmio.c'), 'model'), [], {
      HVSPEC_MODEL_SERVER: join(ROOT, 'no-such-server.js'),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot start the model server/);
    assert.match(r.stderr, /hv_vm_create\(HV_VM_DEFAULT\) returned 0xfae9400f/);
  });
});
