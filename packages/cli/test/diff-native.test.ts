// Differential run model vs native where a hypervisor exists: wherever the spec is exact the two must
// answer alike (the CLI's `--diff model,native`, as `npm run check` runs it).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCheck } from '../src/check.ts';

const hardware = process.platform === 'darwin' || existsSync('/dev/kvm');
const arch = process.platform === 'darwin' && process.arch === 'arm64' ? 'arm64' : 'x86_64';

describe('differential run, model vs native', {
  skip: hardware ? false : 'no hypervisor on this machine (no /dev/kvm, not macOS)',
}, () => {
  it(`${arch}: no difference where the spec is exact`, async () => {
    const report = await runCheck({
      backend: 'model',
      diff: 'native',
      arch,
      runs: 150,
      seed: 7,
      outDir: 'hvspec-counterexamples',
      progress: false,
    });
    assert.equal(report.ok, true, `${report.failure?.message}\n${report.failure?.commands}`);
    assert.match(report.backend, /^model\+native-/);
  });
});
