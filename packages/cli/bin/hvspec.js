#!/usr/bin/env node
// The `hvspec` command. npm links a package's bin only when the file exists at install time, and
// dist/ exists only after the build; this file is always there. In the repository, a command run
// before anything was built builds the packages first (once), so `npm ci && npx hvspec …` works.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const inRepo = existsSync(`${root}turbo.json`);
  if (inRepo) {
    process.stderr.write('hvspec: building the packages first (npm run build)…\n');
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) {
      process.stderr.write('hvspec: the build failed; run `npm run build` to see why\n');
      process.exit(2);
    }
  } else {
    process.stderr.write('hvspec: dist/main.js is missing; reinstall the package\n');
    process.exit(2);
  }
}
await import(main.href);
