/** systemd-analyze, for the repository's unit (systemd.test.ts) and the one the .deb installs (dist.test.ts). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireTool } from '../support/require-tool.js';

const execFileAsync = promisify(execFile);

/** Runs systemd-analyze; resolves with stdout + stderr and the exit code (it reports problems on both streams). */
export async function systemdAnalyze(args: string[]): Promise<{ out: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileAsync(requireTool('systemd-analyze'), args, { encoding: 'utf8', timeout: 60_000 });
    return { out: stdout + stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { out: (e.stdout ?? '') + (e.stderr ?? ''), code: e.code ?? -1 };
  }
}

/** `systemd-analyze security --offline` of a unit file: its overall exposure (0 best, 10 worst). */
export async function exposure(unitFile: string): Promise<number> {
  const { out } = await systemdAnalyze(['security', '--offline=true', unitFile]);
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
  if (!m) throw new Error(`no exposure in:\n${out}`);
  return Number(m[1]);
}
