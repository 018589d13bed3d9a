/**
 * The lab's guest under one real cause of trouble (CPU contention, slow storage, stuck storage), with the real
 * exporter watching it and the real `qemu-thread-exporter explain` asked about it: the harness of the
 * test/lab/cause-*.test.ts tests. Everything a test starts is undone by its Cleanup, in reverse order, also
 * when the test fails or times out (run it from the test's t.after).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Finding } from '../../src/explain/findings/finding.js';
import type { ExplainReport, VmReport } from '../../src/explain/report.js';
import { runCommand, startCli, type Cli } from '../support/cli.js';
import { buildGuest } from './guest-image.js';
import { startGuestVm, type AioMode, type GuestVm } from './guest-vm.js';

export const log = (msg: string): void => {
  console.log(`lab: ${msg}`);
};

/** Resolves `p`, or rejects after `ms` with `what` in the message. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      p,
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${what}: no end after ${String(ms / 1000)} s`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

/** Polls `test` every `everyMs` until it returns something other than undefined; rejects after `ms`. */
export async function until<T>(
  test: () => T | undefined | Promise<T | undefined>,
  ms: number,
  what: string,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await test();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${String(ms / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Undo steps, run last-registered first; each one runs whatever the others did, and every failure is reported. */
export class Cleanup {
  private readonly steps: { what: string; run: () => Promise<void> | void }[] = [];

  defer(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  async run(): Promise<void> {
    const errors: Error[] = [];
    const t0 = Date.now();
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await within(Promise.resolve(step.run()), 60_000, `cleanup: ${step.what}`);
      } catch (err) {
        errors.push(new Error(`cleanup: ${step.what}: ${(err as Error).message}`, { cause: err }));
      }
    }
    log(
      `cleanup took ${((Date.now() - t0) / 1000).toFixed(1)} s${errors.length > 0 ? `, ${String(errors.length)} step(s) failed` : ''}`,
    );
    if (errors.length === 1) throw errors[0]!;
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
  }
}

/** The real exporter, watching only real QEMUs, keeping a history point every second over `window`. */
export async function startExporter(cleanup: Cleanup, window: string): Promise<Cli> {
  const cli = await startCli([
    '--qemu.process-pattern=^qemu-system-x86_64$', // on a crowded host (other tests' fake QEMUs) the census would fall behind
    '--census.interval=250ms',
    '--explain.interval=1s',
    `--explain.window=${window}`,
  ]);
  cleanup.defer('stop the exporter', async () => {
    await cli.terminate();
  });
  return cli;
}

export interface CauseGuest {
  readonly vm: GuestVm;
  readonly domain: string;
  /** The guest's last console lines (for error messages). */
  readonly console: string[];
  /** Sends `go` until fio's (only) phase has started; returns when it has. */
  go(): Promise<void>;
  /** Throws if QEMU has exited. */
  alive(): void;
}

export interface CauseGuestOptions {
  name: string;
  disk: string;
  aio: AioMode;
  /** fio's runtime, seconds: longer than the test looks (QEMU is killed when it is done). */
  runtimeS: number;
  iodepth: number;
}

/** Boots the lab guest (built and cached on first use) and waits until it is ready to run fio. */
export async function bootGuest(cleanup: Cleanup, o: CauseGuestOptions): Promise<CauseGuest> {
  const guest = await buildGuest(log);
  const lines: string[] = [];
  const said = { ready: false, started: false, exited: false };
  const t0 = Date.now();
  const vm = startGuestVm({
    name: o.name,
    guest,
    disk: o.disk,
    aio: o.aio,
    runtimeS: o.runtimeS,
    iodepths: [o.iodepth],
    onLine: (line) => {
      lines.push(line);
      if (lines.length > 40) lines.shift();
      if (line === 'LAB ready') said.ready = true;
      else if (/^LAB iodepth=\d+ start$/.test(line)) said.started = true;
      else if (line.startsWith('LAB error') || line.startsWith('qemu: ')) log(`${o.name}: ${line}`);
    },
  });
  cleanup.defer(`kill QEMU (${o.name})`, () => vm.kill());
  void vm.exited.then(() => {
    said.exited = true;
  });
  const consoleTail = () => `\nlast console lines:\n${lines.join('\n')}`;
  const alive = () => {
    if (said.exited) throw new Error(`${o.name}: QEMU exited${consoleTail()}`);
  };
  try {
    await until(() => (said.ready || said.exited ? true : undefined), 240_000, 'the guest to boot');
    alive();
  } catch (err) {
    throw new Error(`${o.name}: ${(err as Error).message}${consoleTail()}`, { cause: err });
  }
  log(`${o.name}: guest ready ${((Date.now() - t0) / 1000).toFixed(1)} s after QEMU started`);
  return {
    vm,
    domain: o.name,
    console: lines,
    alive,
    async go() {
      // A line sent before the guest reads its console can be lost: say it again until fio starts.
      for (let tries = 0; !said.started && tries < 24; tries++) {
        alive();
        vm.send('go');
        await until(() => (said.started || said.exited ? true : undefined), 5000, 'fio to start').catch(
          () => undefined,
        );
      }
      alive();
      if (!said.started) throw new Error(`${o.name}: fio did not start${consoleTail()}`);
      log(`${o.name}: fio started (iodepth ${String(o.iodepth)}, aio=${o.aio})`);
    },
  };
}

/** The exporter's /api/v1/explain for one domain (undefined while it does not know the VM yet). */
export async function apiExplain(cli: Cli, domain: string): Promise<VmReport | undefined> {
  const res = await fetch(`${cli.url}/api/v1/explain?domain=${encodeURIComponent(domain)}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /api/v1/explain: ${String(res.status)}`);
  return ((await res.json()) as ExplainReport).vms[0];
}

/** Polls /api/v1/explain until a finding passes `wanted`; on timeout the error carries the last findings. */
export async function waitForFinding(
  cli: Cli,
  guest: CauseGuest,
  wanted: (f: Finding) => boolean,
  ms: number,
  what: string,
): Promise<Finding> {
  let last: VmReport | undefined;
  try {
    return await until(
      async () => {
        guest.alive();
        last = await apiExplain(cli, guest.domain);
        return last?.findings.find(wanted);
      },
      ms,
      what,
      1000,
    );
  } catch (err) {
    const seen = last ? last.findings.map((f) => `${f.severity} [${f.id}] ${f.summary}`).join('\n') : '(no report)';
    throw new Error(`${(err as Error).message}; findings last seen:\n${seen}`, { cause: err });
  }
}

/** What `qemu-thread-exporter explain DOMAIN --url …` printed, as text and (asked right after) as JSON. */
export interface Explained {
  text: string;
  vm: VmReport;
}

export async function explainCli(cli: Cli, domain: string): Promise<Explained> {
  const args = ['explain', domain, `--url=${cli.url}`];
  const [text, json] = await Promise.all([runCommand(args), runCommand([...args, '--output=json'])]);
  if (text.code !== 0 || json.code !== 0)
    throw new Error(`explain exited ${String(text.code)}/${String(json.code)}: ${text.stderr}${json.stderr}`);
  const report = JSON.parse(json.stdout) as ExplainReport;
  if (report.vms.length !== 1 || report.vms[0]!.domain !== domain)
    throw new Error(
      `explain ${domain} --output=json answered about ${report.vms.map((v) => v.domain).join(', ') || 'no VM'}`,
    );
  console.log(`$ qemu-thread-exporter explain ${domain} --url=${cli.url}\n${text.stdout}`);
  return { text: text.stdout, vm: report.vms[0]! };
}

/** The one finding `id` in the JSON (asserting there is exactly one), with the text around it for messages. */
export function onlyFinding(e: Explained, id: string): Finding {
  const found = e.vm.findings.filter((f) => f.id === id);
  if (found.length !== 1) throw new Error(`want one ${id} finding, got ${String(found.length)}:\n${e.text}`);
  return found[0]!;
}

/** An evidence value by (the start of) its label. */
export function evidence(f: Finding, what: string | RegExp): number {
  const e = f.evidence.find((x) => (typeof what === 'string' ? x.what === what : what.test(x.what)));
  if (!e) throw new Error(`[${f.id}] has no evidence ${String(what)}: ${f.evidence.map((x) => x.what).join('; ')}`);
  return e.value;
}
