import { readFileSync } from 'node:fs';
import type { BuildInfo } from '../exposition/exposition.js';

/** package.json and REVISION sit at the package root: two levels up from src/cli/ (tsx), three from dist/src/cli/. */
function readPackageFile(name: string): string | undefined {
  for (const rel of [`../../${name}`, `../../../${name}`]) {
    try {
      return readFileSync(new URL(rel, import.meta.url), 'utf8');
    } catch {
      // Try the next level.
    }
  }
  return undefined;
}

/** The single executable has no package root to read: its build (build/executable.ts) defines this with esbuild. */
declare const QTE_BUILD_INFO: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (typeof QTE_BUILD_INFO !== 'undefined') return QTE_BUILD_INFO;
  const pkg = JSON.parse(readPackageFile('package.json') ?? '{"version":"unknown"}') as { version: string };
  return { version: pkg.version, revision: readPackageFile('REVISION')?.trim() || 'unknown' };
}
