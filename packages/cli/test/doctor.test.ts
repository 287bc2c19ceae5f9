import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { doctor } from '../src/doctor.ts';
import { groupName, kvmAccessFix } from '../src/host.ts';
import { canDropToNobody, hvspec } from './run-hvspec.ts';

const hasKvm = process.platform === 'linux' && existsSync('/dev/kvm');

it('hvspec doctor names the backends; where /dev/kvm exists the native one is available with its deviations', async () => {
  const { lines, code } = await doctor();
  assert.match(lines[0] ?? '', /^model: available/);
  const native = lines.find((l) => l.startsWith('native:')) ?? '';
  if (hasKvm) {
    assert.equal(code, 0, lines.join('\n'));
    assert.match(native, /^native: available: native-kvm, x86_64/);
    assert.ok(
      lines.some((l) => l.includes('kvm.exec-only')),
      'the execute-only deviation is declared',
    );
  } else {
    assert.equal(code, 2);
    assert.match(native, /^native: not available/);
    assert.ok(
      lines.some((l) => l.trim().startsWith('fix:')),
      'a fix is suggested',
    );
  }
});

it('hvspec doctor says whether el2 runs here, and if not how to install what it needs', async () => {
  const { lines } = await doctor();
  const i = lines.findIndex((l) => l.startsWith('el2:'));
  assert.ok(i >= 0, lines.join('\n'));
  const line = lines[i] ?? '';
  if (line.startsWith('el2: available')) {
    assert.match(line, /QEMU emulator version/);
  } else {
    assert.match(line, /^el2: not available/);
    if (/not installed|not built/.test(line))
      assert.match(lines[i + 1] ?? '', /apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu/);
  }
});

describe('hvspec doctor (process)', () => {
  it('--json gives the same findings as the text, with the exit code', () => {
    const text = hvspec(['doctor']);
    const json = hvspec(['doctor', '--json']);
    assert.equal(json.status, text.status);
    const r = JSON.parse(json.stdout);
    assert.equal(r.code, json.status);
    const [model, el2, native] = r.backends;
    assert.equal(el2.name, 'el2');
    assert.deepEqual(model, { name: 'model', available: true, archs: ['x86_64', 'arm64'] });
    assert.equal(native.name, 'native');
    assert.equal(native.available, hasKvm);
    if (hasKvm) {
      assert.deepEqual(native.archs, ['x86_64']);
      assert.ok(native.deviations.some((d: { id: string }) => d.id === 'kvm.exec-only'));
      for (const d of native.deviations) assert.ok(text.stdout.includes(`    ${d.id}: `), d.id);
    } else {
      assert.ok(native.reason);
    }
  });

  it('a user without access to /dev/kvm is told what grants it here, never a group that does not exist', {
    skip:
      hasKvm && canDropToNobody()
        ? false
        : 'needs /dev/kvm, and root with setpriv over a checkout nobody can read (to run as nobody)',
  }, () => {
    const r = hvspec(['doctor'], { asNobody: true });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^native: not available here .*permission denied/m);
    const fix = /^ {2}fix: (.*)$/m.exec(r.stdout)?.[1] ?? '';
    const st = statSync('/dev/kvm');
    const group = groupName(readFileSync('/etc/group', 'utf8'), st.gid);
    if (group && group !== 'root' && (st.mode & 0o060) === 0o060)
      assert.match(fix, new RegExp(`usermod -aG ${group} `));
    else {
      assert.match(fix, /setfacl -m u:nobody:rw \/dev\/kvm/);
      assert.doesNotMatch(fix, /usermod/);
    }
    // Whatever it suggests, a group it names exists on this host.
    const named = /usermod -aG (\S+)/.exec(fix)?.[1];
    if (named)
      assert.ok(
        readFileSync('/etc/group', 'utf8')
          .split('\n')
          .some((l) => l.startsWith(`${named}:`)),
      );
  });
});

describe('kvmAccessFix', () => {
  const groups = 'root:x:0:\nkvm:x:993:\nusers:x:100:\n';
  it('names the group that owns the device when the group may read and write it', () => {
    assert.match(
      kvmAccessFix('/dev/kvm', { uid: 0, gid: 993, mode: 0o20660 }, groups, 'ann'),
      /'kvm' \(sudo usermod -aG kvm ann\)/,
    );
  });
  it('suggests an ACL when no group grants access (root:root 0600) or the group has no name', () => {
    for (const dev of [
      { uid: 0, gid: 0, mode: 0o20600 },
      { uid: 0, gid: 993, mode: 0o20600 },
      { uid: 0, gid: 4242, mode: 0o20660 },
    ]) {
      const fix = kvmAccessFix('/dev/kvm', dev, groups, 'ann');
      assert.match(fix, /setfacl -m u:ann:rw \/dev\/kvm/);
      assert.doesNotMatch(fix, /usermod/);
    }
    assert.match(
      kvmAccessFix('/dev/kvm', { uid: 0, gid: 0, mode: 0o20600 }, groups, 'ann'),
      /root:root mode 0600/,
    );
  });
});
