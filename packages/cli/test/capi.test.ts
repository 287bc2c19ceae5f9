import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hvspec, ROOT } from './run-hvspec.ts';

const EXAMPLE = join(ROOT, 'packages/capi/examples/x86-io-mmio.c');

describe('hvspec cflags / libs / lint (a C VMM built against hvspec)', () => {
  it('cc vmm.c $(hvspec cflags) $(hvspec libs --backend model) builds a VMM that runs, records, and lints clean', () => {
    const cflags = hvspec(['cflags']);
    const libs = hvspec(['libs', '--backend', 'model']);
    assert.equal(cflags.status, 0, cflags.stderr);
    assert.equal(libs.status, 0, libs.stderr);
    assert.match(cflags.stdout, /-I\S+\/include/);
    assert.match(libs.stdout, /-lhvspec-model-x86_64/);
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-cvmm-'));
    try {
      const exe = join(dir, 'vmm');
      const cc = spawnSync(
        'sh',
        ['-c', `cc -o ${exe} ${EXAMPLE} ${cflags.stdout.trim()} ${libs.stdout.trim()}`],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(cc.status, 0, cc.stderr);
      const trace = join(dir, 't.json');
      const run = spawnSync(exe, [], {
        encoding: 'utf8',
        env: { ...process.env, HVSPEC_TRACE: trace },
        timeout: 60_000,
      });
      assert.equal(run.status, 0, run.stderr + run.stdout);
      const lint = hvspec(['lint', trace]);
      assert.equal(lint.status, 0, lint.stdout + lint.stderr);
      const json = hvspec(['lint', '--json', trace]);
      assert.equal(json.status, 0);
      assert.doesNotThrow(() => JSON.parse(json.stdout));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors are one line and exit 2; an unreadable trace is exit 2', () => {
    for (const args of [
      ['libs'],
      ['libs', '--backend', 'nope'],
      ['libs', '--backend', 'kvm', '--arch', 'arm64'],
      ['cflags', '--arch', 'mips'],
    ]) {
      const r = hvspec(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    const dir = mkdtempSync(join(tmpdir(), 'hvspec-lint-'));
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{ not json');
      assert.equal(hvspec(['lint', bad]).status, 2);
      assert.equal(hvspec(['lint', join(dir, 'missing.json')]).status, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
