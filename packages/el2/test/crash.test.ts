/**
 * When QEMU dies or stops answering, the call in flight returns HV_ERROR with the reason on stderr,
 * later calls say the backend is gone, and nothing is left behind: no QEMU process, no FIFO, no RAM
 * file — also when the Node process itself is killed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HV, HV_EXIT_REASON } from '@hvspec/spec';
import { createEl2Backend } from '../src/index.ts';
import { A64, code, exitOf, oneVcpu, skip } from './helpers.ts';

/** Our own entries under /dev/shm (the machines' private directories while they start). */
function shmEntries(): string[] {
  return existsSync('/dev/shm') ? readdirSync('/dev/shm').filter((n) => n.startsWith('hvspec-el2-')) : [];
}

/** Whether a process is alive (a zombie, killed and not yet reaped, counts as dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !alive(pid);
}

/** Collects what the backend writes to stderr while `f` runs. */
async function stderrOf<T>(f: () => Promise<T>): Promise<{ value: T; text: string }> {
  const chunks: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => {
    chunks.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await f(), text: chunks.join('') };
  } finally {
    process.stderr.write = write;
  }
}

describe('el2 when QEMU dies or hangs', { skip }, () => {
  it('killing QEMU during an async run: HV_ERROR, the reason on stderr, later calls HV_ERROR, nothing left', async () => {
    const before = shmEntries();
    const b = createEl2Backend();
    const { cpu } = await oneVcpu(b, code(A64.spin), 1);
    const { value, text } = await stderrOf(async () => {
      const run = b.hv_vcpu_run_async(1, cpu);
      const pid = b.qemuPid as number;
      await new Promise((r) => setTimeout(r, 20));
      process.kill(pid, 'SIGKILL');
      const r = await run;
      return { r, pid, later: b.hv_vcpu_get_reg(1, cpu, 31).ret };
    });
    assert.equal(value.r.ret, HV.HV_ERROR);
    assert.match(text, /QEMU (exited|machine is gone)/);
    assert.equal(value.later, HV.HV_ERROR);
    assert.match(b.gone ?? '', /QEMU/);
    assert.ok(await gone(value.pid), 'QEMU is gone');
    assert.deepEqual(shmEntries(), before);
    // reset() starts over on a new machine.
    await b.reset();
    const again = await oneVcpu(b, code(A64.hvc(5)));
    assert.equal(exitOf(b.hv_vcpu_run(0, again.cpu)).exception.syndrome, 0x5a00_0005n);
    await b.close();
  });

  it('killing QEMU during a synchronous run of a spinning guest: the run returns HV_ERROR', async () => {
    const b = createEl2Backend();
    const { cpu } = await oneVcpu(b, code(A64.spin));
    const pid = b.qemuPid as number;
    // The run blocks this thread: a separate process does the killing.
    spawn('sh', ['-c', `sleep 0.3; kill -9 ${pid}`], { stdio: 'ignore' });
    const { value } = await stderrOf(async () => b.hv_vcpu_run(0, cpu));
    assert.equal(value.ret, HV.HV_ERROR);
    assert.ok(await gone(pid));
    await b.close();
  });

  it('a QEMU that stops answering is declared gone after the silence limit, and killed', async () => {
    const b = createEl2Backend({ silenceMs: 1500 });
    const { cpu } = await oneVcpu(b, code(A64.spin));
    const pid = b.qemuPid as number;
    process.kill(pid, 'SIGSTOP');
    const { value, text } = await stderrOf(async () => b.hv_vcpu_run(0, cpu));
    assert.equal(value.ret, HV.HV_ERROR);
    assert.match(text, /no answer or heartbeat/);
    assert.ok(await gone(pid));
    await b.close();
  });

  it('a spinning guest is not mistaken for a dead QEMU: heartbeats keep a long run alive', async () => {
    const b = createEl2Backend({ silenceMs: 600 });
    const { cpu } = await oneVcpu(b, code(A64.spin), 1);
    const run = b.hv_vcpu_run_async(1, cpu);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(b.gone, undefined);
    b.hv_vcpus_exit(0, [cpu], 1);
    assert.equal(exitOf(await run).reason, HV_EXIT_REASON.HV_EXIT_REASON_CANCELED);
    await b.close();
  });

  it('when the Node process is killed, its QEMU dies too and no file is left', async () => {
    const before = shmEntries();
    const script = `
      import { createEl2Backend } from ${JSON.stringify(join(import.meta.dirname, '../src/index.ts'))};
      const b = createEl2Backend();
      b.hv_vm_create(0, null);
      const ram = b.host_alloc(0x4000);
      b.host_write(ram, 0, new Uint8Array([0, 0, 0, 0x14]));
      b.hv_vm_map(0, { mem: ram, offset: 0 }, 0x10000n, 0x4000n, 7);
      const cpu = b.hv_vcpu_create(1, null).value;
      b.hv_vcpu_set_reg(1, cpu, 31, 0x10000n);
      b.hv_vcpu_set_reg(1, cpu, 34, 0x3c5n);
      void b.hv_vcpu_run_async(1, cpu);
      process.stdout.write(String(b.qemuPid) + '\\n');
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 100);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    await new Promise((r) => child.on('exit', r));
    const pid = Number(out.trim());
    assert.ok(pid > 0, `the child printed QEMU's pid: ${JSON.stringify(out)}`);
    assert.ok(await gone(pid), 'QEMU died with its parent (setpriv --pdeathsig)');
    assert.deepEqual(shmEntries(), before);
  });
});
