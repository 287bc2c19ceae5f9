/**
 * Helpers of the browser test: a static file server for a built site, a link checker over its files,
 * and the chromium this machine has (installed by scripts/ensure-chromium.sh when absent and root).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
};

/** Serves `root` on 127.0.0.1 (a free port). Only files under `root`; 404 otherwise. */
export async function serve(root: string): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server, requests };
}

/** Every file under `dir`, as paths relative to it with `/`. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

/** A link that does not resolve. */
export interface BrokenLink {
  readonly page: string;
  readonly href: string;
  readonly why: string;
}

const idCache = new Map<string, Set<string>>();
function idsOf(file: string): Set<string> {
  let ids = idCache.get(file);
  if (!ids) {
    const text = readFileSync(file, 'utf8');
    ids = new Set([...text.matchAll(/\s(?:id|name)="([^"]+)"/g)].map((m) => m[1] ?? ''));
    idCache.set(file, ids);
  }
  return ids;
}

/**
 * Checks every `href` and `src` of every HTML and SVG file of a site: the target file must exist and,
 * when the link has a fragment and the target is HTML or SVG, an element with that id must exist.
 * External links (a scheme) are not followed.
 */
export function checkLinks(root: string, files = listFiles(root)): { checked: number; broken: BrokenLink[] } {
  const broken: BrokenLink[] = [];
  let checked = 0;
  for (const page of files.filter((f) => f.endsWith('.html') || f.endsWith('.svg'))) {
    const text = readFileSync(join(root, page), 'utf8');
    for (const m of text.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
      const raw = (m[1] ?? '').replace(/&amp;/g, '&');
      if (raw === '' || /^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('//')) continue;
      checked++;
      const [pathAndQuery = '', fragment] = raw.split('#');
      const path = pathAndQuery.split('?')[0] ?? '';
      const target =
        path === '' ? join(root, page) : normalize(join(dirname(join(root, page)), decodeURI(path)));
      const file = existsSync(target) && statSync(target).isDirectory() ? join(target, 'index.html') : target;
      if (!file.startsWith(root + sep) && file !== root) {
        broken.push({ page, href: raw, why: 'leaves the site' });
        continue;
      }
      if (!existsSync(file)) {
        broken.push({ page, href: raw, why: 'no such file' });
        continue;
      }
      if (fragment && /\.(html|svg)$/.test(file) && !idsOf(file).has(decodeURIComponent(fragment)))
        broken.push({ page, href: raw, why: `no element with id "${fragment}"` });
    }
  }
  return { checked, broken };
}

/**
 * The chromium to drive: Debian's, installed by the project's own setup script when it is missing and
 * this is root. Returns the path, or why there is none.
 */
export function ensureChromium(): { path?: string; why?: string } {
  const script = fileURLToPath(new URL('../scripts/ensure-chromium.sh', import.meta.url));
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0) return { path: r.stdout.trim().split('\n').pop() ?? '' };
  return { why: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
}
