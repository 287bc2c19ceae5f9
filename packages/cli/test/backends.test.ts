/** `--backend el2`: arm64 only, and where QEMU and the EL2 runtime are missing an environment error that says how to install them. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { BACKEND_NAMES, BackendUnavailable, openBackend } from '../src/backends.js';

const CLI = join(import.meta.dirname, '..');

it('el2 is a backend name; it is arm64 only', async () => {
  assert.ok(BACKEND_NAMES.includes('el2'));
  await assert.rejects(
    openBackend('el2', 'x86_64'),
    (e: unknown) => e instanceof BackendUnavailable && /arm64 only/.test(e.message),
  );
});

it('opening el2 gives the el2 backend, or says why not and how to install what it needs', async () => {
  let b: Awaited<ReturnType<typeof openBackend>> | undefined;
  try {
    b = await openBackend('el2', 'arm64');
  } catch (e) {
    assert.ok(e instanceof BackendUnavailable, String(e));
    if (/not installed|not built/.test(e.message))
      assert.match(e.message, /apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu/);
    return;
  }
  assert.equal(b.capabilities.backend, 'el2');
  assert.equal(b.capabilities.arch, 'arm64');
  await b.close();
  // And end to end: an example trace replays on it.
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(CLI, 'src/main.ts'),
      'replay',
      '--backend',
      'el2',
      join(CLI, '../../traces/arm64/hvc.json'),
    ],
    { cwd: CLI, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^PASS /);
});
