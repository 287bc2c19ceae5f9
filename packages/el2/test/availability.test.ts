/** Without QEMU (or without the built runtime) the backend says it is unavailable and how to fix it. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createEl2Backend, EL2_INSTALL_COMMAND, el2Availability } from '../src/index.ts';

it('a missing QEMU makes el2 unavailable, with the Debian install command', () => {
  const a = el2Availability('/nonexistent/qemu-system-aarch64');
  assert.equal(a.available, false);
  assert.match(a.reason ?? '', /not installed/);
  assert.ok(a.fix?.includes(EL2_INSTALL_COMMAND));
  assert.equal(
    EL2_INSTALL_COMMAND,
    'apt-get update && apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu',
  );
  assert.throws(
    () => createEl2Backend({ qemu: '/nonexistent/qemu-system-aarch64' }),
    /not installed.*fix: apt-get/,
  );
});

it('bad options are TypeErrors naming the option', () => {
  assert.throws(() => createEl2Backend({ ramMiB: 100 }), /ramMiB/);
  assert.throws(() => createEl2Backend({ silenceMs: 5 }), /silenceMs/);
});
