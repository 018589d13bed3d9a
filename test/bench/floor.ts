/**
 * The floors: a C program (floor-reader.c) reading the files our exporter reads per scrape, nothing else. `all`
 * reads every file of every thread (the floor of reading everything); `changed` reads a thread's status only when
 * its schedstat moved, as our exporter does (the floor of our design).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { compileC } from './compile-c.js';
import type { Contender } from './contender.js';
import type { SyntheticHost } from './synthetic-host.js';

export type FloorKind = 'all' | 'changed';

export async function startFloor(host: SyntheticHost, kind: FloorKind): Promise<Contender> {
  const binary = await compileC(new URL('floor-reader.c', import.meta.url), 'floor-reader');
  const child = spawn(
    binary,
    [...(kind === 'changed' ? ['--changed-only'] : []), ...host.vms.map((vm) => String(vm.pid))],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    label: kind === 'changed' ? 'floor (C), changed only' : 'floor (C), all files',
    pid: child.pid!,
    exposes: false,
    async scrape() {
      child.stdin.write('scan\n');
      const line = await lines.next();
      if (line.done) throw new Error('floor-reader exited');
      return line.value;
    },
    threadsSeen: (answer) => new Map([['*', Number(/threads=(\d+)/.exec(answer)?.[1] ?? NaN)]]),
    statusReads: (answer) => Number(/status=(\d+)/.exec(answer)?.[1] ?? NaN),
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}
