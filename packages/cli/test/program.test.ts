import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, hvspec } from './run-hvspec.ts';

const COMMANDS = ['check', 'replay', 'probe', 'rules', 'explain', 'doctor', 'bench'];

function assertExitCodes(help: string): void {
  assert.match(
    help,
    /^Exit codes:\n {2}0 {2}all good\n {2}1 {2}a check, trace or comparison failed\n {2}2 {2}usage or environment error/m,
  );
}

describe('hvspec (process): the program', () => {
  it('--version prints the package version', () => {
    const version = JSON.parse(readFileSync(join(CLI, 'package.json'), 'utf8')).version;
    for (const flag of ['--version', '-V']) {
      const r = hvspec([flag]);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('--help lists every command and the exit codes', () => {
    const r = hvspec(['--help']);
    assert.equal(r.status, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^ {2}${c} `, 'm'), c);
    assertExitCodes(r.stdout);
  });

  for (const c of COMMANDS) {
    it(`${c} --help lists its options and the exit codes`, () => {
      const r = hvspec([c, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: hvspec ${c} `));
      assert.match(r.stdout, /^Options:\n(.*\n)* {2}-h, --help /m);
      assertExitCodes(r.stdout);
    });
  }

  it('--json is an option of every command that reports (bench writes its own JSON with --out)', () => {
    for (const c of COMMANDS.filter((x) => x !== 'bench'))
      assert.match(hvspec([c, '--help']).stdout, /--json/, c);
  });

  it('no command, or an unknown one, is a usage error', () => {
    assert.equal(hvspec([]).status, 2);
    const r = hvspec(['chekc']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'chekc'.*\n.*Did you mean check\?/);
  });
});
