/**
 * The TypeScript API reference: typedoc over the public door (`src/index.ts`) of every workspace
 * package, merged into one site under `api/` of the reference. The package list is the root
 * `package.json`'s workspaces; every package gets the same options (`packageOptions`), so no package
 * needs a typedoc configuration of its own.
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, ConsoleLogger, LogLevel, type TypeDocOptions } from 'typedoc';

/** What typedoc said while building. */
export interface ApiDocsReport {
  /** Package directories documented, relative to the repository root. */
  readonly packages: readonly string[];
  /** Exports without a doc comment, as typedoc's validation names them. */
  readonly undocumented: readonly string[];
  /** Other warnings. */
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
}

/** The workspace packages that have a `src/index.ts`, from the root `package.json`. */
export function workspacePackages(repoRoot: string): string[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces?: string[] };
  return (root.workspaces ?? []).filter((w) => existsSync(join(repoRoot, w, 'src', 'index.ts')));
}

class CapturingLogger extends ConsoleLogger {
  readonly messages: { level: LogLevel; text: string }[] = [];
  override log(message: string, level: Exclude<LogLevel, LogLevel.None>): void {
    this.messages.push({ level, text: message });
  }
}

/** The API reference's front page: every package with the description its package.json gives. */
export function apiReadme(repoRoot: string): string {
  const rows = workspacePackages(repoRoot).map((p) => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, p, 'package.json'), 'utf8')) as {
      name: string;
      description?: string;
    };
    return `| \`${pkg.name}\` | \`${p}\` | ${pkg.description ?? ''} |`;
  });
  return [
    '# hvspec API',
    '',
    "The TypeScript API of every hvspec package: each package's public door, `src/index.ts`. The reference of the `hv_*` functions themselves — every rule row with its evidence — is the [hvspec reference](../index.html).",
    '',
    '| package | directory | what |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Options shared by every package (also what a test inspects). */
export function typedocOptions(repoRoot: string, outDir: string, readme: string): TypeDocOptions {
  return {
    entryPoints: workspacePackages(repoRoot).map((p) => join(repoRoot, p)),
    entryPointStrategy: 'packages',
    packageOptions: {
      entryPoints: ['src/index.ts'],
      excludePrivate: true,
      excludeProtected: true,
      excludeInternal: true,
      skipErrorChecking: true,
      readme: 'none',
    },
    name: 'hvspec API',
    readme,
    out: outDir,
    skipErrorChecking: true,
    excludePrivate: true,
    // Protected members are the classes' plumbing (no exported class is meant to be subclassed).
    excludeProtected: true,
    githubPages: false,
    cleanOutputDir: true,
    hideGenerator: true,
    // invalidPath: the front page links `../index.html`, the reference one level above the API, which
    // typedoc would take for a file of its own to copy (the browser test checks every link on disk).
    validation: {
      notExported: false,
      invalidLink: false,
      invalidPath: false,
      notDocumented: true,
      rewrittenLink: false,
    },
    // Every exported declaration; members of documented interfaces and classes are not required.
    requiredToBeDocumented: ['Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias', 'Namespace'],
    packagesRequiringDocumentation: workspacePackages(repoRoot).map(
      (p) => (JSON.parse(readFileSync(join(repoRoot, p, 'package.json'), 'utf8')) as { name: string }).name,
    ),
    logLevel: 'Warn',
    navigationLinks: { 'hvspec reference': '../index.html' },
    favicon: fileURLToPath(new URL('../assets/favicon.svg', import.meta.url)),
  };
}

/** Builds the API reference into `outDir`. Throws when typedoc reports errors. */
export async function buildApiDocs(repoRoot: string, outDir: string): Promise<ApiDocsReport> {
  const readmeDir = mkdtempSync(join(tmpdir(), 'hvspec-api-'));
  const readme = join(readmeDir, 'README.md');
  writeFileSync(readme, apiReadme(repoRoot));
  try {
    return await convertAndRender(repoRoot, outDir, readme);
  } finally {
    rmSync(readmeDir, { recursive: true, force: true });
  }
}

async function convertAndRender(repoRoot: string, outDir: string, readme: string): Promise<ApiDocsReport> {
  const options = typedocOptions(repoRoot, outDir, readme);
  const app = await Application.bootstrapWithPlugins(options);
  const logger = new CapturingLogger();
  logger.level = LogLevel.Warn;
  app.logger = logger;
  const project = await app.convert();
  if (!project) {
    throw new Error(
      `typedoc could not convert the packages:\n${logger.messages.map((m) => m.text).join('\n')}`,
    );
  }
  app.validate(project);
  await app.generateDocs(project, outDir);
  const text = (level: LogLevel): string[] =>
    logger.messages.filter((m) => m.level === level).map((m) => m.text);
  const warnings = text(LogLevel.Warn);
  const errors = text(LogLevel.Error);
  if (errors.length > 0) throw new Error(`typedoc reported errors:\n${errors.join('\n')}`);
  return {
    packages: workspacePackages(repoRoot),
    undocumented: warnings.filter((w) => /does not have any documentation/.test(w)),
    // A clone without an `origin` remote (a `git init`, a worktree) only loses typedoc's source links.
    warnings: warnings.filter(
      (w) => !/does not have any documentation|git remote "origin" was not valid/.test(w),
    ),
    errors,
  };
}
