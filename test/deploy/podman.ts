/**
 * podman from Debian, configured by the tests alone: CONTAINERS_CONF points it at test/.cache/podman/containers.conf
 * (the machine's /etc/containers is left alone). On these machines podman needs two settings:
 * - default_ulimits: its default nofile limit (1048576) is above the hard limit here, and runc then refuses to start
 *   any container ("error setting rlimit type 7"); use this process's hard limit instead;
 * - runtime = "runc" (Debian's podman suggests crun, which is not installed).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireTool, run } from '../support/require-tool.js';

const CONF = fileURLToPath(new URL('../.cache/podman/containers.conf', import.meta.url));
const execFileAsync = promisify(execFile);

async function writeConf(): Promise<void> {
  const hardNofile = (await run('bash', ['-c', 'ulimit -Hn'])).trim();
  const text = `# Written by test/deploy/podman.ts\n[containers]\n` +
    `default_ulimits = ["nofile=${hardNofile}:${hardNofile}", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n`;
  const old = await readFile(CONF, 'utf8').catch(() => '');
  if (old === text) return;
  await mkdir(dirname(CONF), { recursive: true });
  await writeFile(CONF, text);
}

let ready: Promise<void> | undefined;

/** `podman ARGS` → stdout; rejects with podman's stderr. */
export async function podman(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  ready ??= (async () => {
    requireTool('runc');
    await writeConf();
  })();
  await ready;
  try {
    const { stdout } = await execFileAsync(requireTool('podman'), args, {
      env: { ...process.env, CONTAINERS_CONF: CONF },
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 64 << 20,
      encoding: 'utf8',
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`podman ${args.join(' ')} failed:\n${(e.stdout ?? '').slice(-4000)}${(e.stderr ?? '').slice(-4000)}`, { cause: err });
  }
}
