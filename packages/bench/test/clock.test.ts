/**
 * The samples' clock: CPU time is monotonic, never runs ahead of wall time on this single busy
 * thread by more than the reads cost, and converts wall spans by taking the off-CPU time off.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { benchClock } from '../src/clock.js';

test('the cpu clock is monotonic and counts a busy thread like the wall clock, less any waiting', () => {
  const clock = benchClock();
  assert.equal(clock.name, 'cpu');
  const w0 = performance.now();
  const c0 = clock.now();
  let last = c0;
  let x = 0;
  for (let i = 0; i < 2000; i++) {
    for (let j = 0; j < 200; j++) x += Math.sqrt(j);
    const c = clock.now();
    assert.ok(c >= last, 'monotonic');
    last = c;
  }
  const w1 = performance.now();
  assert.ok(x > 0);
  assert.ok(last > c0, 'a busy loop uses CPU time');
  // The clock is the process's CPU time: this thread's, plus whatever V8's compiler and GC threads did
  // meanwhile, so it may pass the wall clock, but never by more than every core busy for the whole span
  // (a unit error, microseconds for milliseconds, would be off by 1000x).
  const cores = availableParallelism();
  assert.ok(last - c0 <= (w1 - w0) * cores + 1, `cpu ${last - c0} ms, wall ${w1 - w0} ms, ${cores} cores`);
});

test('fromWall takes the off-CPU time off a wall span, never below zero', () => {
  const cpu = benchClock('cpu');
  assert.equal(cpu.fromWall(10, 10, 10), 10, 'never off the CPU');
  assert.equal(cpu.fromWall(10, 12, 8), 6, '4 ms off the CPU');
  assert.equal(cpu.fromWall(10, 10, 12), 10, 'helper threads: CPU ahead of wall, nothing to take off');
  assert.equal(cpu.fromWall(1, 10, 1), 0);
  const wall = benchClock('wall');
  assert.equal(wall.name, 'wall');
  assert.equal(wall.fromWall(10, 12, 8), 10);
  assert.ok(Math.abs(wall.now() - performance.now()) < 5);
});
