/**
 * One QEMU `virt` machine running the EL2 runtime, and the channel to it.
 *
 * - RAM is a `memory-backend-file` with `share=on` in a private (0700) directory under /dev/shm; the
 *   host keeps a file descriptor and reads and writes it with positional I/O, so host buffers are
 *   guest memory.
 * - The PL011 UART is a `-chardev pipe`: two FIFOs in the same directory. A worker thread does
 *   blocking reads of the runtime's one-byte answers and counts them per kind in a SharedArrayBuffer;
 *   the main thread writes doorbells and waits with `Atomics.wait` for synchronous answers; the end
 *   of an asynchronous run is posted to the main thread as a message.
 * - No TCP port, nothing left on disk: once QEMU has opened the RAM file and the FIFOs (the runtime's
 *   READY proves it), they are unlinked and the directory removed. QEMU runs under
 *   `setpriv --pdeathsig KILL`, so it dies with this process however this process ends.
 * - If QEMU exits, answers EOF, panics, or stays silent too long, the machine is *gone*: every call in
 *   flight and after returns HV_ERROR (the backend's job), the reason is written to stderr once, and
 *   QEMU is killed.
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ABI_VERSION, CTRL, CTRL_OFFSET, DB_OUT, HOST_POOL_OFFSET, MAGIC, MAX_SLOTS } from './abi.js';

/** Words of the shared counter array (Int32). */
const W = {
  /** Bumped on every batch of bytes the worker reads, and on EOF. */
  SEQ: 0,
  /** 0 alive, 1 EOF (QEMU gone), 2 runtime panic. */
  DEAD: 1,
  OPENED: 2,
  HEARTBEATS: 3,
  /** Count of control answers, and the last one. */
  CTL_COUNT: 4,
  CTL_LAST: 5,
  /** Per slot: count of DONE answers; and whether the main thread wants a message for it. */
  DONE: 8,
  ASYNC: 8 + MAX_SLOTS,
} as const;
const WORDS = 8 + 2 * MAX_SLOTS;

/** The worker: blocking reads of the runtime's answers (CommonJS, evaluated from a string). */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const a = new Int32Array(workerData.sab);
const W = workerData.W;
let fd;
try { fd = fs.openSync(workerData.path, 'r'); } catch (e) { fd = -1; }
Atomics.store(a, W.OPENED, 1);
Atomics.notify(a, W.OPENED);
const buf = Buffer.alloc(4096);
for (;;) {
  let n = 0;
  if (fd >= 0) {
    try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch (e) { if (e.code === 'EAGAIN' || e.code === 'EINTR') continue; n = 0; }
  }
  if (n === 0) {
    if (Atomics.load(a, W.DEAD) === 0) Atomics.store(a, W.DEAD, 1);
    Atomics.add(a, W.SEQ, 1);
    Atomics.notify(a, W.SEQ);
    parentPort.postMessage(-1);
    break;
  }
  for (let i = 0; i < n; i++) {
    const b = buf[i];
    if (b < ${MAX_SLOTS}) {
      Atomics.add(a, W.DONE + b, 1);
      if (Atomics.load(a, W.ASYNC + b)) parentPort.postMessage(b);
    } else if (b === ${DB_OUT.HEARTBEAT}) {
      Atomics.add(a, W.HEARTBEATS, 1);
    } else if (b === ${DB_OUT.PANIC}) {
      Atomics.store(a, W.DEAD, 2);
      parentPort.postMessage(-2);
    } else {
      Atomics.store(a, W.CTL_LAST, b);
      Atomics.add(a, W.CTL_COUNT, 1);
    }
  }
  Atomics.add(a, W.SEQ, 1);
  Atomics.notify(a, W.SEQ);
}
if (fd >= 0) fs.closeSync(fd);
`;

/** Where the pieces are and how big RAM is. */
export interface MachineOptions {
  /** The runtime image (dist/runtime/el2.elf). */
  readonly image: string;
  /** RAM in bytes (a multiple of 2 MiB, at least 128 MiB). */
  readonly ramSize: number;
  /** qemu-system-aarch64 to run. */
  readonly qemu?: string;
  /** How long without any sign of life (answers, heartbeats) before the machine counts as gone. */
  readonly silenceMs?: number;
}

/** Why a machine is gone, in words for stderr and errors. */
export type GoneReason = string;

export class Machine {
  readonly ramSize: number;
  private readonly sab = new SharedArrayBuffer(WORDS * 4);
  private readonly a = new Int32Array(this.sab);
  private readonly worker: Worker;
  private readonly child: ChildProcess;
  private readonly ramFd: number;
  private readonly logFd: number;
  private inFd = -1;
  private dir: string | undefined;
  private goneReason: GoneReason | undefined;
  private readonly silenceMs: number;
  /** Called with a slot when an async run's DONE arrives. */
  onAsync: ((slot: number) => void) | undefined;
  /** Called once when the machine is gone, with the reason. */
  onGone: ((reason: GoneReason) => void) | undefined;
  /** How far the host pool was ever used: pages below need zeroing before they are handed out again. */
  poolDirtyTop = HOST_POOL_OFFSET;
  /** Bumped for every new VM, so that the runtime's TLB generation never repeats across VMs. */
  tlbEpoch = 0;
  /**
   * 4 KiB pages of RAM (offset >> 12) that were ever mapped executable: QEMU may hold code translated
   * from them for as long as it runs, whichever backend mapped them.
   */
  readonly maybeCode = new Set<number>();
  private onExit = (): void => this.kill();
  private asyncCount = 0;

  private constructor(opts: MachineOptions) {
    this.ramSize = opts.ramSize;
    this.silenceMs = opts.silenceMs ?? 20_000;
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    // mkdtemp creates the directory with mode 0700.
    this.dir = mkdtempSync(join(base, 'hvspec-el2-'));
    const ram = join(this.dir, 'ram');
    const ch = join(this.dir, 'uart');
    this.ramFd = openSync(ram, 'w+', 0o600);
    ftruncateSync(this.ramFd, opts.ramSize);
    execFileSync('mkfifo', ['-m', '600', `${ch}.in`, `${ch}.out`]);
    this.logFd = openSync(join(this.dir, 'qemu.log'), 'w+', 0o600);
    const mib = opts.ramSize / (1024 * 1024);
    const qemu = opts.qemu ?? 'qemu-system-aarch64';
    const args = [
      '--pdeathsig',
      'KILL',
      '--',
      qemu,
      '-M',
      'virt,virtualization=on,gic-version=3,memory-backend=ram',
      '-cpu',
      'max,sve=off,sme=off',
      '-smp',
      '1',
      '-m',
      `${mib}M`,
      '-object',
      `memory-backend-file,id=ram,size=${mib}M,mem-path=${ram},share=on`,
      '-nodefaults',
      '-display',
      'none',
      '-monitor',
      'none',
      '-chardev',
      `pipe,id=uart,path=${ch}`,
      '-serial',
      'chardev:uart',
      '-kernel',
      opts.image,
    ];
    this.child = spawn('setpriv', args, { stdio: ['ignore', this.logFd, this.logFd] });
    this.child.unref();
    this.child.on('error', () => undefined);
    this.child.on('exit', () => {
      // EOF on the FIFO follows; this only makes sure a silent death is noticed too.
      if (!this.goneReason && Atomics.load(this.a, W.DEAD) === 0) {
        Atomics.store(this.a, W.DEAD, 1);
        Atomics.add(this.a, W.SEQ, 1);
        Atomics.notify(this.a, W.SEQ);
      }
    });
    process.on('exit', this.onExit);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Plain CommonJS whatever flags this process runs with (--input-type=module would make it ESM).
      execArgv: [],
      workerData: { sab: this.sab, path: `${ch}.out`, W },
    });
    this.worker.on('message', (m: number) => {
      if (m === -1 || m === -2) this.noteGone();
      else this.onAsync?.(m);
    });
    this.worker.on('error', () => this.noteGone());
    // After the listeners: adding a 'message' listener refs the worker's port again.
    this.worker.unref();
  }

  /**
   * Starts a machine and waits (synchronously) until the runtime is ready. Throws an Error saying
   * why when QEMU cannot start; nothing is left behind then.
   */
  static start(opts: MachineOptions): Machine {
    const m = new Machine(opts);
    try {
      m.waitReady();
    } catch (e) {
      m.kill();
      throw e;
    }
    return m;
  }

  private waitReady(): void {
    if (!this.waitFor(() => Atomics.load(this.a, W.OPENED) === 1 || this.dead() !== 0, 20_000))
      throw new Error(`QEMU did not open its serial port: ${this.log()}`);
    const ok = this.waitFor(() => Atomics.load(this.a, W.CTL_COUNT) > 0 || this.dead() !== 0, 20_000);
    if (!ok || this.dead() !== 0 || Atomics.load(this.a, W.CTL_LAST) !== DB_OUT.READY)
      throw new Error(`the EL2 runtime did not start: ${this.log() || 'no output from QEMU'}`);
    this.inFd = openSync(join(this.dir as string, 'uart.in'), 'r+');
    const magic = this.readU64(CTRL_OFFSET + CTRL.MAGIC);
    const version = this.readU64(CTRL_OFFSET + CTRL.VERSION);
    if (magic !== MAGIC || version !== BigInt(ABI_VERSION))
      throw new Error(`the EL2 runtime answered with ABI ${version} (magic 0x${magic.toString(16)})`);
    // QEMU holds the RAM file and the FIFOs open: the names are no longer needed.
    this.removeDir();
  }

  private removeDir(): void {
    if (this.dir === undefined) return;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort; the directory is private
    }
    this.dir = undefined;
  }

  /** 0 alive; otherwise gone. */
  private dead(): number {
    return Atomics.load(this.a, W.DEAD);
  }

  /** Why the machine is gone, or undefined while it runs. */
  get gone(): GoneReason | undefined {
    if (this.goneReason === undefined && this.dead() !== 0) this.noteGone();
    return this.goneReason;
  }

  /** Records why the machine is gone (once, on stderr) and kills QEMU. */
  private noteGone(reason?: string): void {
    if (this.goneReason !== undefined) return;
    const d = this.dead();
    this.goneReason =
      reason ??
      (d === 2
        ? `the EL2 runtime panicked: ${this.panicText()}`
        : `QEMU exited${this.child.exitCode !== null ? ` with status ${this.child.exitCode}` : this.child.signalCode ? ` on ${this.child.signalCode}` : ''}${this.log() ? `: ${this.log()}` : ''}`);
    process.stderr.write(`@hvspec/el2: the QEMU machine is gone: ${this.goneReason}\n`);
    this.kill();
    this.onGone?.(this.goneReason);
  }

  /** Declares the machine gone for `reason` (e.g. it stopped answering). */
  fail(reason: string): void {
    this.noteGone(reason);
  }

  private panicText(): string {
    try {
      const p = CTRL_OFFSET + CTRL.PANIC;
      const f = (i: number): string => `0x${this.readU64(p + 8 * i).toString(16)}`;
      const msg = this.read(CTRL_OFFSET + CTRL.MESSAGE, 256);
      const end = msg.indexOf(0);
      return `${Buffer.from(msg.subarray(0, end < 0 ? 256 : end)).toString('latin1')} (kind ${f(0)}, ESR_EL2 ${f(1)}, ELR_EL2 ${f(2)}, FAR_EL2 ${f(3)}, SPSR_EL2 ${f(4)})`;
    } catch {
      return 'no details';
    }
  }

  private log(): string {
    try {
      const b = Buffer.alloc(2048);
      const n = readSync(this.logFd, b, 0, b.length, 0);
      return b.subarray(0, n).toString('utf8').trim().split('\n').slice(-4).join(' / ');
    } catch {
      return '';
    }
  }

  /** Kills QEMU and releases everything (idempotent). */
  kill(): void {
    process.off('exit', this.onExit);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    if (this.goneReason === undefined) this.goneReason = 'the machine was shut down';
    // Wake the worker if it still waits for QEMU to open the FIFO, so that it ends.
    if (Atomics.load(this.a, W.OPENED) === 0 && this.dir !== undefined) {
      try {
        closeSync(openSync(join(this.dir, 'uart.out'), 'r+'));
      } catch {
        // gone already
      }
    }
    for (const fd of [this.inFd, this.ramFd, this.logFd]) {
      try {
        if (fd >= 0) closeSync(fd);
      } catch {
        // closed already
      }
    }
    this.inFd = -1;
    this.removeDir();
    void this.worker.terminate();
  }

  // ---- RAM ------------------------------------------------------------------------------------------

  read(offset: number, size: number): Uint8Array {
    const b = new Uint8Array(size);
    this.readInto(offset, b);
    return b;
  }

  readInto(offset: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.ramFd, into, done, into.length - done, offset + done);
      if (n === 0) throw new RangeError(`read past the end of RAM at 0x${(offset + done).toString(16)}`);
      done += n;
    }
  }

  write(offset: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length)
      done += writeSync(this.ramFd, bytes, done, bytes.length - done, offset + done);
  }

  readU64(offset: number): bigint {
    return Buffer.from(this.read(offset, 8)).readBigUInt64LE(0);
  }

  writeU64(offset: number, value: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    this.write(offset, b);
  }

  /** First byte of RAM available for host buffers. */
  get hostPoolStart(): number {
    return HOST_POOL_OFFSET;
  }

  // ---- doorbells ------------------------------------------------------------------------------------

  /** Rings a doorbell. False when the machine is gone. */
  ring(byte: number): boolean {
    if (this.gone) return false;
    try {
      writeSync(this.inFd, Uint8Array.of(byte));
      return true;
    } catch (e) {
      this.noteGone(`writing to QEMU's serial port failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /**
   * A control request (PING, RESET, TLB_FLUSH, INVALIDATE) and its answer. False when the machine is
   * gone or does not answer within the silence limit (then it is declared gone).
   */
  control(request: number, answer: number): boolean {
    const before = Atomics.load(this.a, W.CTL_COUNT);
    if (!this.ring(request)) return false;
    const ok = this.waitFor(
      () => Atomics.load(this.a, W.CTL_COUNT) !== before || this.dead() !== 0,
      this.silenceMs,
    );
    if (this.gone) return false;
    if (!ok) {
      this.noteGone(
        `the EL2 runtime did not answer request 0x${request.toString(16)} within ${this.silenceMs} ms`,
      );
      return false;
    }
    const last = Atomics.load(this.a, W.CTL_LAST);
    if (last !== answer) {
      this.noteGone(`the EL2 runtime answered 0x${last.toString(16)} to request 0x${request.toString(16)}`);
      return false;
    }
    return true;
  }

  /** The number of DONE answers a slot has had. */
  doneCount(slot: number): number {
    return Atomics.load(this.a, W.DONE + slot);
  }

  /**
   * Whether DONE of `slot` is posted as a message (async runs) or only counted (sync runs). While any
   * slot is async the worker keeps the process alive: the awaited run is all that is left to do.
   */
  setAsync(slot: number, on: boolean): void {
    const was = Atomics.exchange(this.a, W.ASYNC + slot, on ? 1 : 0) === 1;
    if (was === on) return;
    this.asyncCount += on ? 1 : -1;
    if (this.asyncCount === 1 && on) this.worker.ref();
    if (this.asyncCount === 0) this.worker.unref();
  }

  /**
   * Waits until `slot` has had more than `before` DONE answers. While the guest runs the runtime sends a
   * heartbeat about four times a second; silence for longer than the limit means QEMU stopped
   * (stopped process, runtime hang) and the machine is declared gone. False when it is gone.
   */
  waitDone(slot: number, before: number): boolean {
    for (;;) {
      const beats = Atomics.load(this.a, W.HEARTBEATS);
      const seq = Atomics.load(this.a, W.SEQ);
      if (this.doneCount(slot) !== before) return true;
      if (this.gone) return false;
      const r = Atomics.wait(this.a, W.SEQ, seq, this.silenceMs);
      if (
        r === 'timed-out' &&
        Atomics.load(this.a, W.HEARTBEATS) === beats &&
        this.doneCount(slot) === before
      ) {
        this.noteGone(`no answer or heartbeat from the EL2 runtime for ${this.silenceMs} ms during a run`);
        return false;
      }
    }
  }

  /** Changes whenever the runtime says anything, heartbeats included (for the async-run watchdog). */
  get activity(): number {
    return Atomics.load(this.a, W.SEQ);
  }

  get silenceLimitMs(): number {
    return this.silenceMs;
  }

  /** QEMU's process id (tests use it to simulate a crash). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private waitFor(pred: () => boolean, timeoutMs: number): boolean {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const seq = Atomics.load(this.a, W.SEQ);
      if (pred()) return true;
      const left = end - Date.now();
      if (left <= 0) return false;
      // OPENED is signalled on its own word; poll it with short waits.
      Atomics.wait(this.a, W.SEQ, seq, Math.min(left, 50));
    }
  }
}
