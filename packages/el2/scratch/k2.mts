import { spawn } from 'node:child_process';
import { createEl2Backend } from '../src/index.ts';
import { A64, code, oneVcpu, exitOf } from '../test/helpers.ts';
const hx = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
{
  const b = createEl2Backend();
  const { cpu } = await oneVcpu(b, code(A64.spin), 1);
  const run = b.hv_vcpu_run_async(1, cpu);
  const pid = b.qemuPid as number;
  await new Promise((r) => setTimeout(r, 20));
  process.kill(pid, 'SIGKILL');
  console.log('1', hx(await run));
  await b.reset();
  const again = await oneVcpu(b, code(A64.hvc(5)));
  console.log('1b', hx(b.hv_vcpu_run(0, again.cpu)));
  await b.close();
}
{
  const b = createEl2Backend();
  const { cpu } = await oneVcpu(b, code(A64.spin));
  const pid = b.qemuPid as number;
  spawn('sh', ['-c', `sleep 0.3; kill -9 ${pid}`], { stdio: 'ignore' });
  const t0 = performance.now();
  const r = b.hv_vcpu_run(0, cpu);
  console.log('2', hx(r), performance.now() - t0, hx(b.hv_vcpu_get_reg(0, cpu, 31)));
  await b.close();
}
