/** Debian's promtool (package prometheus), with its output captured whether it succeeds or not. */
import { spawn } from 'node:child_process';
import { requireTool } from './require-tool.js';

/** Runs `promtool ARGS` with `input` on stdin; resolves with its exit code and stdout + stderr. */
export function promtool(args: string[], input = ''): Promise<{ code: number | null; output: string }> {
  const child = spawn(requireTool('promtool'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    output += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    output += s;
  });
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, output });
    });
  });
}
