/** Compiles a C helper once, cached by source hash under test/.cache/ (like test/support/fake-qemu.ts). */
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { run } from '../support/require-tool.js';

const CACHE = fileURLToPath(new URL('../.cache/', import.meta.url));

/** Path of the compiled `source` (a path or file: URL), built with gcc -O2 on first use. */
export async function compileC(source: URL, name: string): Promise<string> {
  const file = fileURLToPath(source);
  const hash = createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
    .slice(0, 12);
  const dir = `${CACHE}${name}-${hash}`;
  const path = `${dir}/${name}`;
  try {
    await access(path);
  } catch {
    await mkdir(dir, { recursive: true });
    const tmp = `${path}.${String(process.pid)}.tmp`;
    await run('gcc', ['-O2', '-Wall', '-o', tmp, file]);
    await rename(tmp, path); // atomic: a concurrent run may compile too
  }
  return path;
}
