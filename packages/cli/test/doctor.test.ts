import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import { doctor } from '../src/doctor.ts';

it('hvspec doctor names the backends; where /dev/kvm exists the native one is available with its deviations', async () => {
  const { lines, code } = await doctor();
  assert.match(lines[0] ?? '', /^model: available/);
  const native = lines.find((l) => l.startsWith('native:')) ?? '';
  if (process.platform === 'linux' && existsSync('/dev/kvm')) {
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
