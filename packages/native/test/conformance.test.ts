// The conformance harness on the native backend. Where /dev/kvm exists (or on a Mac) this must run and
// pass: an addon that cannot load there fails the test instead of skipping it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { type Backend, runConformance } from '@hvspec/spec';
import { createNativeBackend } from '../src/index.ts';

const hardware = process.platform === 'darwin' || existsSync('/dev/kvm');
const arch = process.platform === 'darwin' && process.arch === 'arm64' ? 'arm64' : 'x86_64';
const why = 'no hypervisor on this machine (no /dev/kvm, not macOS): the native conformance tests need one';

describe('native conformance', { skip: hardware ? false : why }, () => {
  let native: Backend | undefined;
  after(async () => {
    await native?.close();
  });

  it('the native backend loads where a hypervisor exists', () => {
    native = createNativeBackend(arch);
    assert.equal(native.arch, arch);
  });

  it(`${arch}: the spec's conformance suite passes, guest programs included`, async () => {
    assert.ok(native, 'the native backend did not load');
    const report = await runConformance(native, { runs: 300, seed: 20261125 });
    assert.equal(report.ok, true, `${report.failure?.message}\n${report.failure?.commands}`);
    assert.ok(report.exitKinds.length >= 8, `guest exits seen: ${report.exitKinds.join(', ')}`);
  });
});
