/**
 * The bench's files: output paths checked before any measuring starts (a run that cannot save its
 * results should fail in a second, not after a minute), written atomically (a temporary file renamed
 * over the target, so a reader never sees half a report), and the history directory of saved runs.
 * @module
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type BenchReport, checkReport } from './report.js';

/** A path the bench cannot write; the message says which and why. */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Proves that `dir` accepts a new file by creating and removing one; leaves nothing behind. */
function probeDirectory(dir: string, what: string): void {
  const probe = join(dir, `.hvspec-bench-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    throw new OutputError(`${what}: cannot create files in ${dir} (${code(e)})`);
  }
  try {
    unlinkSync(probe);
  } catch {
    // Created but not removable: the directory is writable, which is all this checks.
  }
}

/**
 * `mkdir -p`, one level at a time. (Node 20's recursive mkdirSync spins forever on a path under
 * /proc, where mkdir of a child of an existing directory reports ENOENT.)
 */
export function makeDirectories(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  while (!existsSync(p)) {
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if (code(e) !== 'EEXIST') throw new OutputError(`cannot create directory ${d} (${code(e)})`);
    }
  }
}

/**
 * Checks that `file` can be written: its directory exists and accepts a new file, and an existing
 * `file` is a regular file. Creates nothing that stays.
 */
export function checkWritableFile(file: string, what: string): void {
  const path = resolve(file);
  const dir = dirname(path);
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new OutputError(`${what}: directory ${dir} does not exist (${code(e)})`);
  }
  if (!st.isDirectory()) throw new OutputError(`${what}: ${dir} is not a directory`);
  if (existsSync(path) && !statSync(path).isFile())
    throw new OutputError(`${what}: ${path} exists and is not a regular file`);
  probeDirectory(dir, what);
}

/** Creates `dir` when missing and checks it accepts new files. */
export function checkWritableDirectory(dir: string, what: string): void {
  const path = resolve(dir);
  if (existsSync(path) && !statSync(path).isDirectory())
    throw new OutputError(`${what}: ${path} exists and is not a directory`);
  makeDirectories(path);
  probeDirectory(path, what);
}

/** Writes `data` to `file` through a temporary file in the same directory and a rename. */
export function writeFileAtomic(file: string, data: string): void {
  const path = resolve(file);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created.
    }
    throw new OutputError(`cannot write ${path} (${code(e)})`);
  }
}

/** The HTML report's path for a JSON path: `b.json` → `b.html`, `b` → `b.html`. */
export function htmlPathFor(jsonPath: string): string {
  return /\.json$/i.test(jsonPath) ? jsonPath.replace(/\.json$/i, '.html') : `${jsonPath}.html`;
}

/** A report saved in the history directory. */
export interface HistoryEntry {
  readonly file: string;
  readonly report: BenchReport;
}

/** The file name a report is saved under in the history directory: its date, sortable, and `-quick`. */
export function historyFileName(report: BenchReport): string {
  return `bench-${report.date.replace(/[:.]/g, '-')}${report.options.quick ? '-quick' : ''}.json`;
}

/** Saves `report` in `dir` under a new name (never over another run); returns the path. */
export function saveToHistory(dir: string, report: BenchReport): string {
  const base = historyFileName(report).replace(/\.json$/, '');
  for (let i = 1; i < 1000; i++) {
    const path = join(resolve(dir), `${base}${i === 1 ? '' : `-${i}`}.json`);
    if (existsSync(path)) continue;
    writeFileAtomic(path, `${JSON.stringify(report)}\n`);
    return path;
  }
  throw new OutputError(`cannot find a free file name for ${base} in ${dir}`);
}

/**
 * Reads every bench report in `dir` (files ending in .json), oldest first, one per run date. Files
 * that are not bench reports are listed in `problems` and left out.
 */
export function loadHistory(dir: string): { entries: HistoryEntry[]; problems: string[] } {
  const problems: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch (e) {
    return { entries: [], problems: [`cannot read ${dir} (${code(e)})`] };
  }
  const byDate = new Map<string, HistoryEntry>();
  for (const name of names.sort()) {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(`${file}: not JSON (${(e as Error).message})`);
      continue;
    }
    const problem = checkReport(parsed);
    if (problem) {
      problems.push(`${file}: not a bench report (${problem})`);
      continue;
    }
    const report = parsed as BenchReport;
    if (!byDate.has(report.date)) byDate.set(report.date, { file, report });
  }
  const entries = [...byDate.values()].sort((a, b) => Date.parse(a.report.date) - Date.parse(b.report.date));
  return { entries, problems };
}
