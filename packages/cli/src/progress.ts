/**
 * Progress of a long run. On a terminal: one bar, redrawn in place, with the rate and the time left.
 * Elsewhere (a pipe, a file, or CI=true, where carriage returns pile up into one unreadable line):
 * plain lines, one per tenth of the run or every 30 seconds, whichever comes first. A Ctrl-C during
 * the run ends the bar's line before the process stops, so the shell prompt starts on a line of its own.
 * @module
 */

/** Where progress goes: a stream with the few members used here. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Printed before the counts: `x86_64 model`. */
  readonly label: string;
  readonly total: number;
  /** What is counted, plural: `runs`. */
  readonly unit: string;
  readonly stream?: ProgressStream;
  /** `bar`, `lines`, or chosen from the stream and the environment (the default). */
  readonly mode?: 'bar' | 'lines';
  /** The clock, in milliseconds (replaced in tests). */
  readonly now?: () => number;
}

export interface Progress {
  /** `done` of the total are done. */
  update(done: number): void;
  /** Clears the bar (or does nothing for lines); safe to call twice. */
  finish(): void;
}

/** Whether the environment says it is CI (CI=true, as GitHub Actions, GitLab and most others set). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.toLowerCase();
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/** `75`, `1:15`, `1:02:03` (seconds in, a clock out). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

function rateText(rate: number, unit: string): string {
  if (!Number.isFinite(rate) || rate <= 0) return `? ${unit}/s`;
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} ${unit}/s`;
}

/** Starts showing the progress of a run of `total` steps. */
export function startProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const mode = opts.mode ?? (stream.isTTY && !isCi() ? 'bar' : 'lines');
  const start = now();
  let lastDraw = mode === 'bar' ? Number.NEGATIVE_INFINITY : start;
  let lastTenth = 0;
  let drawn = false;
  let finished = false;

  const stats = (done: number): { pct: number; rate: number; eta: number } => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    return {
      pct: opts.total ? Math.floor((done / opts.total) * 100) : 100,
      rate,
      eta: rate > 0 ? (opts.total - done) / rate : Number.NaN,
    };
  };

  const onSigint = (): void => {
    // The bar stays, so that one sees how far the run got; the prompt goes on the next line.
    if (drawn) stream.write('\n');
    drawn = false;
    finish();
    // The default action, which a listener replaces: stop, with the conventional 128 + SIGINT.
    process.exit(130);
  };
  if (mode === 'bar') process.once('SIGINT', onSigint);

  function finish(): void {
    if (finished) return;
    finished = true;
    if (mode === 'bar') {
      process.removeListener('SIGINT', onSigint);
      if (drawn) stream.write('\r\x1b[K');
    }
  }

  return {
    update(done: number): void {
      if (finished) return;
      const t = now();
      const { pct, rate, eta } = stats(done);
      if (mode === 'bar') {
        // Redraw at most ten times a second, and always at the end.
        if (t - lastDraw < 100 && done < opts.total) return;
        lastDraw = t;
        const counts = `${done}/${opts.total} ${opts.unit}`;
        const tail = ` ${String(pct).padStart(3)}%  ${counts}  ${rateText(rate, opts.unit)}  ETA ${formatDuration(eta)}`;
        const width = Math.max(
          10,
          Math.min(40, (stream.columns ?? 80) - opts.label.length - tail.length - 4),
        );
        const full = opts.total ? Math.round((done / opts.total) * width) : width;
        const bar = `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
        stream.write(`\r${opts.label} ${bar}${tail}\x1b[K`);
        drawn = true;
        return;
      }
      const tenth = opts.total ? Math.floor((done / opts.total) * 10) : 10;
      if (tenth > lastTenth || t - lastDraw >= 30_000) {
        lastTenth = Math.max(lastTenth, tenth);
        lastDraw = t;
        stream.write(
          `${opts.label}: ${done}/${opts.total} ${opts.unit} (${pct}%), ${rateText(rate, opts.unit)}, ETA ${formatDuration(eta)}\n`,
        );
      }
    },
    finish,
  };
}
