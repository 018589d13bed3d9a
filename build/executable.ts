/**
 * The single executable: src/main.ts bundled by esbuild into one CommonJS file (Node 20's single executable
 * applications run CommonJS only), embedded with postject into a copy of the Node binary that runs this script.
 * Nothing is downloaded: the executable holds exactly the Node the build ran on.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DIST = `${ROOT}dist`;
export const EXECUTABLE = `${DIST}/qemu-thread-exporter-linux-x64`;
/** postject's default sentinel, the one Node's binary carries. */
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const execFileAsync = promisify(execFile);

export async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  try {
    const { stdout } = await execFileAsync(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

export interface BuildInfo {
  version: string;
  revision: string;
}

export async function buildInfo(): Promise<BuildInfo> {
  const pkg = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as { version: string };
  // REVISION: where there is no .git, as in the image's build (its build argument).
  const revision =
    process.env.REVISION ??
    (await sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).then(
      (s) => s.trim(),
      () => 'unknown',
    ));
  return { version: pkg.version, revision };
}

/**
 * main.ts's shebang passes these V8 flags; a single executable takes no Node flags from its command line, so the
 * bundle sets them first thing (V8 applies both to the heap it grows afterwards).
 */
const BANNER = `require('node:v8').setFlagsFromString('--max-semi-space-size=1');
require('node:v8').setFlagsFromString('--optimize-for-size');`;

/** Bundles the exporter; returns the npm packages that went into it (for the licences). */
async function bundle(info: BuildInfo, out: string): Promise<string[]> {
  const result = await build({
    entryPoints: [`${ROOT}src/main.ts`],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The shebang's flags would be Node's, and Node's SEA loader gives a script no shebang handling.
    banner: { js: BANNER },
    define: { QTE_BUILD_INFO: JSON.stringify(info) },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  return bundledPackages(result.metafile);
}

/** `node_modules/NAME/…` (or `@scope/name`) of every input → the package directories. */
function bundledPackages(meta: Metafile): string[] {
  const dirs = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]!);
  }
  return [...dirs].sort();
}

/**
 * Builds dist/qemu-thread-exporter-linux-x64 and returns the npm package directories it bundles. The Node binary
 * is stripped first (its debug symbols are an eighth of it); stripping after injection would drop the blob.
 */
export async function buildExecutable(info: BuildInfo): Promise<string[]> {
  const work = `${DIST}/sea`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const packages = await bundle(info, `${work}/bundle.cjs`);
  const config = { main: `${work}/bundle.cjs`, output: `${work}/sea.blob`, disableExperimentalSEAWarning: true };
  await writeFile(`${work}/sea-config.json`, JSON.stringify(config));
  await sh(process.execPath, ['--experimental-sea-config', `${work}/sea-config.json`]);
  const tmp = `${EXECUTABLE}.tmp`;
  await rm(tmp, { force: true });
  await sh('strip', ['--strip-all', '-o', tmp, process.execPath]);
  // postject (LIEF) warns about the many notes of Node's binary, on stderr; only its exit status matters.
  await sh(process.execPath, [
    `${ROOT}node_modules/postject/dist/cli.js`,
    tmp,
    'NODE_SEA_BLOB',
    `${work}/sea.blob`,
    '--sentinel-fuse',
    FUSE,
  ]);
  await chmod(tmp, 0o755);
  await rename(tmp, EXECUTABLE);
  return packages;
}
