import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '../../..');

test("the files generated from the registry are up to date: C headers, the addon's argument table, the wrapper's methods (npm run generate)", () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/generate.ts', '--check', '--only', 'native'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
});
