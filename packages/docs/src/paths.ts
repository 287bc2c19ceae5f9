/**
 * Where things are: the repository root (this package sits in `packages/docs/`) and the default
 * output directory of `npm run docs`.
 * @module
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this package sits in (`packages/docs/…` → the root). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
/** Where `npm run docs` writes the site. */
export const DEFAULT_OUT = join(REPO_ROOT, 'packages', 'docs', 'site');
