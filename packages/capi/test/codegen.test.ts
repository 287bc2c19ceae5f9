/**
 * The libraries' C code is generated from the registry (scripts/codegen.ts): the generated files are
 * current, each library exports exactly the flavour's hv_* functions (no list written by hand can leave
 * one out), and the macOS interposer compiles (syntax only: there is no Mac here).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { callSpecs } from '@hvspec/spec';
import { libraryFile } from '../src/flags.ts';
import { ROOT } from './helpers.ts';

const REPO = join(ROOT, '..', '..');

function exported(file: string): string[] {
  return execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split(' ').pop() as string)
    .sort();
}

describe('generated C', () => {
  it('is current', () => {
    execFileSync(
      'node',
      ['--import', 'tsx', join(REPO, 'scripts', 'generate.ts'), '--check', '--only', 'capi'],
      {
        cwd: REPO,
        stdio: 'pipe',
      },
    );
  });

  it("exports every hv_* function of the flavour's registry, and nothing else", () => {
    const names = (arch: 'x86_64' | 'arm64') => callSpecs(arch).map((s) => s.name);
    assert.deepEqual(exported(libraryFile('model', 'x86_64')), names('x86_64').sort());
    assert.deepEqual(exported(libraryFile('kvm', 'x86_64')), names('x86_64').sort());
    // os_release: the arm64 config objects are OS objects (<os/object.h>).
    assert.deepEqual(exported(libraryFile('model', 'arm64')), [...names('arm64'), 'os_release'].sort());
  });

  it('builds the macOS interposer syntax-only in both flavours', () => {
    const out = execFileSync('sh', [join(ROOT, 'scripts', 'syntax-check-macos.sh')], { encoding: 'utf8' });
    assert.match(out, /syntax-check-macos: ok \(x86_64 and arm64\)/);
  });
});
