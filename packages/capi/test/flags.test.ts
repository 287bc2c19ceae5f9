import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cflags, FlagsError, hostArch, libraryDir, libs } from '../src/flags.ts';

describe('cflags', () => {
  it('names the directory of <Hypervisor/Hypervisor.h>, and the flavour when asked', () => {
    const flags = cflags();
    const include = /^-I(\S+)$/.exec(flags)?.[1];
    assert.ok(include, flags);
    assert.ok(existsSync(join(include, 'Hypervisor', 'Hypervisor.h')));
    assert.equal(cflags({ arch: 'arm64' }), `${flags} -DHVSPEC_API_ARM64`);
    assert.equal(cflags({ arch: 'x86_64' }), `${flags} -DHVSPEC_API_X86_64`);
    assert.throws(() => cflags({ arch: 'mips' as 'arm64' }), FlagsError);
  });
});

describe('libs', () => {
  it('links the model library of the host flavour by default, with an rpath', () => {
    const dir = libraryDir();
    assert.equal(libs({ backend: 'model' }), `-L${dir} -lhvspec-model-${hostArch()} -Wl,-rpath,${dir}`);
    assert.ok(existsSync(join(dir, `libhvspec-model-${hostArch()}.so`)));
  });

  it('adds the flavour define with --arch, so that one cc command compiles and links that flavour', () => {
    assert.match(
      libs({ backend: 'model', arch: 'arm64' }),
      /^-DHVSPEC_API_ARM64 -L\S+ -lhvspec-model-arm64 /,
    );
    assert.match(libs({ backend: 'kvm', arch: 'x86_64' }), /^-DHVSPEC_API_X86_64 -L\S+ -lhvspec-kvm /);
  });

  it('refuses what cannot be built, saying why', () => {
    assert.throws(() => libs({ backend: 'kvm', arch: 'arm64' }), /x86_64 API only/);
    assert.throws(() => libs({ backend: 'qemu' as 'kvm' }), /--backend must be model or kvm/);
  });
});
