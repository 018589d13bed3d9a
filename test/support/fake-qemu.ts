/** A fake QEMU process (see fake-qemu.c) whose threads look like QEMU's in /proc. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { access, link, mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from './require-tool.js';

const SOURCE = fileURLToPath(new URL('fake-qemu.c', import.meta.url));
const CACHE = fileURLToPath(new URL('../.cache/', import.meta.url));

let binary: Promise<string> | undefined;

/** Compiles fake-qemu.c once (cached by source hash) into test/.cache/fake-qemu-HASH/qemu-system-x86_64. */
export function fakeQemuBinary(): Promise<string> {
  binary ??= (async () => {
    const source = await readFile(SOURCE);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
    const dir = `${CACHE}fake-qemu-${hash}`;
    const path = `${dir}/qemu-system-x86_64`;
    try {
      await access(path);
    } catch {
      await mkdir(dir, { recursive: true });
      const tmp = `${path}.${String(process.pid)}.tmp`;
      await run('gcc', ['-O2', '-Wall', '-pthread', '-o', tmp, SOURCE]);
      await rename(tmp, path); // atomic: concurrent test processes may compile too
    }
    return path;
  })();
  return binary;
}

export interface FakeQemuOptions {
  name: string;
  uuid?: string;
  vcpus?: number;
  /** Initial size of the `worker` pool. Default 0. */
  workers?: number;
  /** Name the threads (`-name guest=…,debug-threads=on`). Default true. */
  debugThreads?: boolean;
  /** Name the rcu thread `call_rcu` (real QEMU does or does not, racily). Default false: it keeps the process name. */
  namedRcu?: boolean;
  /** How long threads sleep between wake-ups. Default 20 ms (4000 threads: ~170% of a CPU at 20 ms, ~33% at 100 ms). */
  tickMs?: number;
  /** Start with the pool workers parked: they never wake until `park 0` (a mostly idle host). Default false. */
  parked?: boolean;
  /** Extra QEMU-like args (ignored by the fake, but visible in /proc/PID/cmdline). */
  extraArgs?: string[];
  /**
   * Run the fake under this file name (a hard link next to the binary; its comm is the first 15 characters),
   * so a benchmark can select its own fakes with --qemu.process-pattern. Default `qemu-system-x86_64`.
   */
  executable?: string;
}

/** The fake binary under another file name (see FakeQemuOptions.executable). */
async function fakeQemuAs(executable: string): Promise<string> {
  const binary = await fakeQemuBinary();
  const path = `${dirname(binary)}/${executable}`;
  try {
    await link(binary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return path;
}

export interface FakeQemu {
  readonly pid: number;
  readonly name: string;
  readonly uuid: string;
  /** Sends one command (`workers N`, `burst N MS`, `spin MS`, `park 1|0`, `tids`) and resolves with its one-line answer. */
  send(cmd: string): Promise<string>;
  /** The fake's own view of its threads (pool workers included, burst workers not). */
  threads(): Promise<{ tid: number; name: string }[]>;
  /** SIGKILL and wait for the exit. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startFakeQemu(opts: FakeQemuOptions): Promise<FakeQemu> {
  const uuid = opts.uuid ?? randomUUID();
  const args = [
    '-name',
    `guest=${opts.name.replaceAll(',', ',,')}${opts.debugThreads === false ? '' : ',debug-threads=on'}`,
    '-uuid',
    uuid,
    '-smp',
    String(opts.vcpus ?? 2),
    '-object',
    'iothread,id=iothread1',
    ...(opts.extraArgs ?? []),
  ];
  const env = {
    ...process.env,
    FAKE_QEMU_WORKERS: String(opts.workers ?? 0),
    FAKE_QEMU_TICK_MS: String(opts.tickMs ?? 20),
    FAKE_QEMU_NAME_RCU: opts.namedRcu ? '1' : '0',
    FAKE_QEMU_PARKED: opts.parked ? '1' : '0',
  };
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(
    await (opts.executable ? fakeQemuAs(opts.executable) : fakeQemuBinary()),
    args,
    { env, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  child.stdin.on('error', () => undefined); // EPIPE once the child died: its exit already failed the waiters
  const exited = new Promise<void>((resolve) => {
    child
      .on('close', () => {
        resolve();
      })
      .on('error', () => {
        resolve();
      });
  });

  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  const fail = (err: Error) => {
    for (const w of waiting.splice(0)) w.reject(err);
  };
  child.on('error', fail);
  child.on('close', (code, signal) => {
    fail(new Error(`fake qemu ${opts.name} exited (${String(code ?? signal)})`));
  });
  const nextLine = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));

  let queue = Promise.resolve('');
  const send = (cmd: string): Promise<string> => {
    queue = queue
      .catch(() => '')
      .then(() => {
        const answer = nextLine();
        child.stdin.write(`${cmd}\n`);
        return answer;
      });
    return queue;
  };

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  try {
    const ready = await nextLine();
    if (ready !== 'ready') throw new Error(`fake qemu said ${JSON.stringify(ready)} instead of "ready"`);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    pid: child.pid!,
    name: opts.name,
    uuid,
    send,
    async threads() {
      const line = await send('tids');
      return line.split('\t').map((entry) => {
        const eq = entry.indexOf('=');
        return { tid: Number(entry.slice(0, eq)), name: entry.slice(eq + 1) };
      });
    },
    stop,
  };
}
