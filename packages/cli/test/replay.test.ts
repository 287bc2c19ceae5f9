import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Arch, type Backend, type Capabilities, type HostMemory, HV, type Result } from '@hvspec/spec';
import { type BackendName, BackendUnavailable, openBackend } from '../src/backends.js';
import { type ReplayIo, runReplay } from '../src/replay.js';
import { hvspec as run } from './run-hvspec.ts';

const CLI = join(import.meta.dirname, '..');
const TRACES = join(CLI, '../../traces');
const scratch = mkdtempSync(join(tmpdir(), 'hvspec-cli-test-'));

const hvspec = (...args: string[]) => run(args);

function file(name: string, content: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const goodTrace = {
  format: 'hvspec-trace/1',
  arch: 'arm64',
  title: 'create twice',
  steps: [
    { call: 'hv_vm_create', args: { config: null }, expect: { ret: 'HV_SUCCESS' } },
    { call: 'hv_vm_create', args: { config: null }, expect: { ret: 'HV_BUSY' } },
  ],
};

describe('hvspec (process): usage and malformed traces exit 2', () => {
  it('prints the TraceError of a malformed trace', () => {
    const bad = file('bad.json', {
      ...goodTrace,
      steps: [{ call: 'hv_vm_map', args: { ipa: 0, size: true } }],
    });
    const r = hvspec('replay', bad);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(
        `${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: step 0 \\(hv_vm_map\\): args\\.uva: missing`,
      ),
    );
  });

  it('reports an unreadable file', () => {
    const r = hvspec('replay', join(scratch, 'no-such-trace.json'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no-such-trace\.json: cannot read/);
  });

  it('reports invalid JSON', () => {
    const r = hvspec('replay', file('broken.json', '{"format": '));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /broken\.json: not valid JSON/);
  });

  it('rejects an unknown backend, a missing file argument and an unknown option', () => {
    assert.equal(hvspec('replay', '--backend', 'qemu', file('ok.json', goodTrace)).status, 2);
    assert.equal(hvspec('replay').status, 2);
    assert.equal(hvspec('replay', '--frobnicate', file('ok2.json', goodTrace)).status, 2);
    assert.equal(hvspec('no-such-command').status, 2);
  });

  it('exits 0 for --help', () => {
    const r = hvspec('replay', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--backend <name>/);
    assert.match(r.stdout, /--allow-unsupported/);
  });
});

/** A tiny arm64 backend: enough for VM create/destroy traces. */
function fakeArm64(caps: Partial<Capabilities> = {}): Backend {
  let vm = false;
  let closed = 0;
  const backend = {
    arch: 'arm64',
    capabilities: {
      backend: 'fake',
      arch: 'arm64',
      pageSize: 16384,
      maxVcpus: 1,
      guestExecution: false,
      enforcedPermissions: [0, 1, 2, 3, 4, 5, 6, 7],
      deviations: [],
      ...caps,
    },
    async reset() {
      vm = false;
    },
    async close() {
      closed++;
    },
    host_alloc: (size: number): HostMemory => ({ id: 1, size }),
    hv_vm_create(): Result {
      if (vm) return { ret: HV.HV_BUSY };
      vm = true;
      return { ret: HV.HV_SUCCESS };
    },
    hv_vcpu_create: (): Result => ({ ret: HV.HV_SUCCESS, value: 0 as never }),
    hv_vm_map: (): Result => ({ ret: vm ? HV.HV_SUCCESS : HV.HV_NO_DEVICE }),
    get closed() {
      return closed;
    },
  };
  return backend as unknown as Backend;
}

function io(open: (name: BackendName, arch: Arch) => Promise<Backend>) {
  const out: string[] = [];
  const err: string[] = [];
  const value: ReplayIo = { out: (l) => out.push(l), err: (l) => err.push(l), open };
  return { io: value, out, err };
}

describe('runReplay (in process, fake backend)', () => {
  it('prints PASS and exits 0, closing the backend', async () => {
    const backend = fakeArm64();
    const t = io(async () => backend);
    const path = file('pass.json', goodTrace);
    assert.equal(await runReplay([path], { backend: 'model' }, t.io), 0);
    assert.deepEqual(t.out, [`PASS ${path}`]);
    assert.equal((backend as unknown as { closed: number }).closed, 1);
  });

  it('prints FAIL with the file, step, call and expected/got, then the counts, and exits 1', async () => {
    const failing = {
      ...goodTrace,
      title: 'wrong code',
      steps: [goodTrace.steps[0], { ...goodTrace.steps[1], expect: { ret: 'HV_ERROR' } }],
    };
    const t = io(async () => fakeArm64());
    const pass = file('pass2.json', goodTrace);
    const fail = file('fail.json', failing);
    const code = await runReplay([pass, fail], { backend: 'model' }, t.io);
    assert.equal(code, 1);
    assert.deepEqual(t.out, [
      `PASS ${pass}`,
      `FAIL ${fail}: step 1 (hv_vm_create): ret: expected HV_ERROR, got HV_BUSY`,
      '2 traces: 1 passed, 1 failed',
    ]);
  });

  it('prints UNSUPPORTED and exits 1 unless --allow-unsupported when no declared deviation is the reason', async () => {
    const running = {
      ...goodTrace,
      title: 'needs a guest',
      steps: [
        goodTrace.steps[0],
        { call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu' },
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' } },
      ],
    };
    const path = file('unsupported.json', running);
    const t1 = io(async () => fakeArm64());
    assert.equal(await runReplay([path], { backend: 'model' }, t1.io), 1);
    assert.deepEqual(t1.out, [
      `UNSUPPORTED ${path}: step 2: fake does not execute guest code (capabilities.guestExecution is false)`,
    ]);
    const t2 = io(async () => fakeArm64());
    assert.equal(await runReplay([path], { backend: 'model', allowUnsupported: true }, t2.io), 0);
  });

  it('UNSUPPORTED by a declared deviation says so and passes, unless --strict', async () => {
    const mapExecOnly = {
      ...goodTrace,
      title: 'execute-only memory',
      steps: [
        goodTrace.steps[0],
        { call: 'host_alloc', args: { name: 'ram', size: 16384 } },
        { call: 'hv_vm_map', args: { uva: { mem: 'ram', offset: 0 }, ipa: 0, size: 16384, flags: ['EXEC'] } },
        { call: 'hv_vcpu_create', args: { config: null }, bind: 'cpu' },
        { call: 'hv_vcpu_run', args: { vcpu: '$cpu' } },
      ],
    };
    const caps = {
      enforcedPermissions: [0, 1, 3, 5, 7],
      deviations: [{ id: 'fake.exec-only', description: 'X memory is readable', permissions: [4] }],
    };
    const path = file('deviation.json', mapExecOnly);
    const t1 = io(async () => fakeArm64(caps));
    assert.equal(await runReplay([path, file('ok6.json', goodTrace)], { backend: 'model' }, t1.io), 0);
    assert.match(
      t1.out[0] ?? '',
      /^UNSUPPORTED .*deviation\.json: step 2 \(declared deviation fake\.exec-only\): /,
    );
    assert.equal(
      t1.out.at(-1),
      '2 traces: 1 passed, 0 failed, 1 unsupported by a declared deviation (fake.exec-only)',
    );
    const t2 = io(async () => fakeArm64(caps));
    assert.equal(await runReplay([path], { backend: 'model', strict: true }, t2.io), 1);
  });

  it('prints the reports with their files as JSON with --json', async () => {
    const t = io(async () => fakeArm64());
    const path = file('json.json', goodTrace);
    assert.equal(await runReplay([path], { backend: 'model', json: true }, t.io), 0);
    const reports = JSON.parse(t.out.join('\n'));
    assert.equal(reports[0].file, path);
    assert.equal(reports[0].status, 'pass');
    assert.equal(reports[0].steps.length, 2);
  });

  it('reports a malformed file, replays the others, and exits 2 at the end', async () => {
    const t = io(async () => fakeArm64());
    const ok = file('ok3.json', goodTrace);
    const code = await runReplay(
      [file('bad2.json', { ...goodTrace, arch: 'sparc' }), ok, file('bad3.json', '[')],
      { backend: 'model', json: false },
      t.io,
    );
    assert.equal(code, 2);
    assert.match(t.err[0] ?? '', /bad2\.json: arch: expected "x86_64" or "arm64", got "sparc"/);
    assert.match(t.err[1] ?? '', /bad3\.json: not valid JSON/);
    assert.deepEqual(t.out, [`PASS ${ok}`, '3 traces: 1 passed, 0 failed, 2 not replayed (errors above)']);
  });

  it('turns an unavailable backend into exit 2 with the reason', async () => {
    const t = io(async () => {
      throw new BackendUnavailable('no /dev/kvm');
    });
    assert.equal(await runReplay([file('ok4.json', goodTrace)], { backend: 'native' }, t.io), 2);
    assert.deepEqual(t.err, ['hvspec replay: no /dev/kvm (1 arm64 trace not replayed)']);
  });

  it('replays the traces of an architecture the backend can open, and exits 2 for the other', async () => {
    const x86 = {
      ...goodTrace,
      arch: 'x86_64',
      title: 'x86 create twice',
      steps: [{ call: 'hv_vm_create', args: { flags: 0 } }],
    };
    const t = io(async (_name, arch) => {
      if (arch === 'arm64') throw new BackendUnavailable('this host provides the x86_64 hv_* API, not arm64');
      return {
        ...fakeArm64(),
        arch: 'x86_64',
        capabilities: { ...fakeArm64().capabilities, arch: 'x86_64' },
      } as Backend;
    });
    const files = [file('a1.json', goodTrace), file('x1.json', x86), file('a2.json', goodTrace)];
    assert.equal(await runReplay(files, { backend: 'native' }, t.io), 2);
    assert.deepEqual(t.out, [
      `PASS ${files[1]}`,
      '3 traces: 1 passed, 0 failed, 2 not replayed (errors above)',
    ]);
    assert.deepEqual(t.err, [
      'hvspec replay: this host provides the x86_64 hv_* API, not arm64 (2 arm64 traces not replayed)',
    ]);
  });

  it('turns a backend that breaks outside any step into exit 2', async () => {
    const broken = fakeArm64();
    (broken as unknown as { reset: () => Promise<void> }).reset = async () => {
      throw new Error('reset failed: addon thread pool is gone');
    };
    const t = io(async () => broken);
    const path = file('ok5.json', goodTrace);
    assert.equal(await runReplay([path], { backend: 'native' }, t.io), 2);
    assert.deepEqual(t.err, [`hvspec replay: ${path}: reset failed: addon thread pool is gone`]);
  });

  it('--expand prints x86_setup as VMCS writes and leaves arm64 traces alone', async () => {
    const x86 = {
      format: 'hvspec-trace/1',
      arch: 'x86_64',
      title: 'setup',
      steps: [
        { call: 'hv_vm_create', args: { flags: 0 } },
        { thread: 1, call: 'hv_vcpu_create', args: { flags: 0 }, bind: 'cpu' },
        { call: 'x86_setup', args: { vcpu: '$cpu', mode: 'prot32', rip: '0x1000' } },
      ],
    };
    const backend = {
      arch: 'x86_64',
      capabilities: { arch: 'x86_64' },
      hv_vmx_read_capability: (): Result<bigint> => ({ ret: HV.HV_SUCCESS, value: 0xffff_ffff_0000_0000n }),
      async close() {},
    } as unknown as Backend;
    const t = io(async () => backend);
    assert.equal(
      await runReplay(
        [file('x86.json', x86), file('arm.json', goodTrace)],
        { backend: 'model', expand: true },
        t.io,
      ),
      0,
    );
    const expanded = JSON.parse(t.out[0] ?? '');
    // One step per line, as DESIGN.md writes traces.
    assert.equal(
      (t.out[0] ?? '').split('\n').filter((l) => l.includes('"call"')).length,
      expanded.steps.length,
    );
    assert.ok(expanded.steps.length > 10);
    assert.ok(
      expanded.steps
        .slice(2)
        .every(
          (s: { call: string; thread: number }) => s.call === 'hv_vmx_vcpu_write_vmcs' && s.thread === 1,
        ),
    );
    assert.deepEqual(expanded.steps.at(-1).args, { vcpu: '$cpu', field: 'VMCS_GUEST_RIP', value: '0x1000' });
    assert.deepEqual(JSON.parse(t.out[1] ?? ''), goodTrace);
  });
});

describe('openBackend', () => {
  it('reports a native backend that cannot be loaded or opened as BackendUnavailable', async () => {
    // Either @hvspec/native is not built here (cannot load), or it is and the arm64 flavour cannot run
    // on this x86_64 Linux host; both are environment errors with a reason, never a crash.
    await assert.rejects(openBackend('native', 'arm64'), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailable);
      assert.match(e.message, /native/);
      return true;
    });
  });
});

describe('hvspec replay on the model (example traces)', async () => {
  let available = true;
  try {
    await (await openBackend('model', 'arm64')).close();
  } catch (e) {
    if (!(e instanceof BackendUnavailable)) throw e;
    available = false;
  }
  const skip = available
    ? false
    : 'the model backend is not wired into @hvspec/model yet (no createModel export)';
  for (const arch of ['arm64', 'x86_64']) {
    it(`every ${arch} example trace passes, or is unsupported only for lack of guest execution`, {
      skip,
    }, async () => {
      const files = readdirSync(join(TRACES, arch)).map((f) => join(TRACES, arch, f));
      const t = io(openBackend);
      const code = await runReplay(files, { backend: 'model', allowUnsupported: true }, t.io);
      for (const line of t.out.slice(0, -1))
        assert.match(line, /^(PASS|UNSUPPORTED .*does not execute guest code)/, line);
      assert.match(t.out.at(-1) ?? '', /^\d+ traces: \d+ passed, 0 failed/);
      assert.equal(code, 0, t.out.join('\n'));
    });
  }
});

describe('hvspec replay (process): batches', () => {
  it('takes a directory, prints file names, and keeps going after a bad file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-batch-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify(goodTrace));
    writeFileSync(join(dir, 'b.json'), '{ not json');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ...goodTrace, title: 'again' }));
    writeFileSync(join(dir, 'notes.txt'), 'not a trace');
    const r = hvspec('replay', dir);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      `PASS ${join(dir, 'a.json')}`,
      `PASS ${join(dir, 'c.json')}`,
      '3 traces: 2 passed, 0 failed, 1 not replayed (errors above)',
    ]);
    assert.match(r.stderr, /b\.json: not valid JSON/);
  });

  it('an empty directory is an error, not a pass', () => {
    const r = hvspec('replay', mkdtempSync(join(tmpdir(), 'hvspec-empty-')));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no \.json traces in this directory/);
  });

  it('the traces of traces/ pass on the model, given as directories', () => {
    const r = hvspec('replay', join(TRACES, 'arm64'), join(TRACES, 'x86_64'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const n = readdirSync(join(TRACES, 'arm64')).length + readdirSync(join(TRACES, 'x86_64')).length;
    assert.match(r.stdout, new RegExp(`^${n} traces: ${n} passed, 0 failed$`, 'm'));
  });

  it('on the native backend, a trace unsupported by a declared deviation passes the batch unless --strict', {
    skip: process.platform === 'linux' && existsSync('/dev/kvm') ? false : 'no /dev/kvm on this machine',
  }, () => {
    const r = hvspec('replay', '--backend', 'native', join(TRACES, 'x86_64'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^UNSUPPORTED .*exception-ud2\.json: step \d+ \(declared deviation kvm\.controls\): /m,
    );
    assert.match(
      r.stdout,
      // Every deviation named is one the provider declares (kvm.controls for the exception and CPUID
      // traces; x86.mode.prot32-paging on hosts whose KVM runs no 32-bit paging).
      /^\d+ traces: \d+ passed, 0 failed, \d+ unsupported by a declared deviation \(kvm\.controls(, (kvm\.[\w-]+|x86\.mode\.[\w-]+))*\)$/m,
    );
    const strict = hvspec('replay', '--backend', 'native', '--strict', join(TRACES, 'x86_64'));
    assert.equal(strict.status, 1);
  });

  it('on the native backend, a real-mode triple fault through an IVT beyond the IDT limit is unsupported by x86.real-mode-idt-limit where declared', {
    skip: process.platform === 'linux' && existsSync('/dev/kvm') ? false : 'no /dev/kvm on this machine',
  }, () => {
    // real-triple-fault.json with `int 0x21` for `ud2` and RAM from GPA 0, IVT[0x21] = 0000:1800 (a hlt):
    // with IDT limit 0 the architecture ends in a triple fault whatever the IVT holds.
    const base = JSON.parse(readFileSync(join(TRACES, 'x86_64', 'real-triple-fault.json'), 'utf8'));
    const steps = base.steps.map((st: { call: string; args: Record<string, unknown> }) => {
      if (st.call === 'host_alloc') return { ...st, args: { ...st.args, size: '0x2000' } };
      if (st.call === 'host_write') return { ...st, args: { ...st.args, offset: 0x1000, bytes: 'cd21e6e0' } };
      if (st.call === 'hv_vm_map') return { ...st, args: { ...st.args, gpa: '0x0', size: '0x2000' } };
      return st;
    });
    const at = steps.findIndex((st: { call: string }) => st.call === 'host_write');
    steps.splice(
      at + 1,
      0,
      { call: 'host_write', args: { mem: 'ram', offset: 0x84, bytes: '00180000' } },
      { call: 'host_write', args: { mem: 'ram', offset: 0x1800, bytes: 'f4' } },
    );
    const trace = file('real-int-idt-limit.json', {
      ...base,
      title: 'real: int 0x21 with IDT limit 0',
      steps,
    });
    assert.equal(hvspec('replay', trace).status, 0, 'passes on the model');
    const r = hvspec('replay', '--backend', 'native', trace);
    const declared = hvspec('doctor', '--json').stdout.includes('x86.real-mode-idt-limit');
    if (declared)
      assert.match(r.stdout, /^UNSUPPORTED .*: step \d+ \(declared deviation x86\.real-mode-idt-limit\): /m);
    else assert.match(r.stdout, /^PASS /m);
  });
});
