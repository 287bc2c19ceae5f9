/**
 * The samples' clock: CPU time is monotonic, never runs ahead of wall time on this single busy
 * thread by more than the reads cost, and converts wall spans by taking the off-CPU time off.
 */
import assert from 'node:assert/strict';
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
  // Only this thread is busy: CPU time cannot exceed wall time by more than the clock's granularity.
  assert.ok(last - c0 <= w1 - w0 + 1, `cpu ${last - c0} ms, wall ${w1 - w0} ms`);
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
