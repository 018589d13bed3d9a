/**
 * A thread's status is read only when schedstat says it ran since the last read (src/model/snapshot-reader.ts).
 * Proof that this is exact: random thread activity — runs, sleeps, run-queue waits without a run, state changes
 * without a run, exits, spawns, TID reuse — on a host tree, read by the exporter's pipeline and by the same pipeline
 * reading every file of every thread each time: every exported value is the same after every step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { renderVmMetrics } from '../../src/exposition/vm-families.js';
import { ReadPipeline } from '../../src/model/pipeline.js';
import { runs } from '../support/fuzz.js';
import { ProcScenario, type ScenarioThread, type ScenarioVm } from '../support/proc-scenario.js';

const PID = 7000;

type Op =
  | { op: 'run'; thread: number; vol: number; invol: number; ticks: number }
  | { op: 'wait'; thread: number; ns: number }
  | { op: 'state'; thread: number; state: string }
  | { op: 'exit'; thread: number }
  | { op: 'spawn'; name: string }
  | { op: 'reuse'; thread: number }
  | { op: 'scrape' };

const thread = fc.nat({ max: 40 });
const ops: fc.Arbitrary<Op> = fc.oneof(
  // A run: the kernel counts timeslices and switches as a thread comes onto and leaves a CPU, and its CPU time grows.
  fc
    .record({
      op: fc.constant('run' as const),
      thread,
      vol: fc.nat({ max: 50 }),
      invol: fc.nat({ max: 5 }),
      ticks: fc.nat({ max: 3 }),
    })
    .filter((r) => r.vol + r.invol > 0),
  fc.record({ op: fc.constant('wait' as const), thread, ns: fc.integer({ min: 1, max: 1e6 }) }),
  fc.record({ op: fc.constant('state' as const), thread, state: fc.constantFrom('R', 'S', 'D', 'I') }),
  fc.record({ op: fc.constant('exit' as const), thread }),
  fc.record({
    op: fc.constant('spawn' as const),
    name: fc.constantFrom('worker', 'IO iothread1', 'CPU 2/KVM', 'qemu-system-x86'),
  }),
  fc.record({ op: fc.constant('reuse' as const), thread }),
  fc.constant({ op: 'scrape' as const }),
);

function vmOf(threads: ScenarioThread[]): ScenarioVm {
  return {
    pid: PID,
    comm: 'qemu-system-x86',
    argv: [
      'qemu-system-x86_64',
      '-name',
      'guest=prop,debug-threads=on',
      '-object',
      'iothread,id=iothread1',
      '-smp',
      '2',
    ],
    threads,
  };
}

const fresh = (tid: number, comm: string, start: number): ScenarioThread => ({
  tid,
  comm,
  state: 'S',
  utime: 1,
  stime: 1,
  vol: 1,
  invol: 0,
  waitNs: 1000,
  start,
});

test("reading a thread's status only when it ran exports exactly what reading every file gives", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(ops, { minLength: 5, maxLength: 60 }), async (steps) => {
      const host = ProcScenario.create();
      const threads = [
        fresh(PID, 'qemu-system-x86', 100),
        fresh(PID + 1, 'qemu-system-x86', 100),
        fresh(PID + 2, 'IO iothread1', 101),
        fresh(PID + 3, 'CPU 0/KVM', 102),
        fresh(PID + 4, 'CPU 1/KVM', 102),
        fresh(PID + 5, 'worker', 103),
      ];
      host.writeVm(vmOf(threads));
      const open = (readEveryStatus: boolean) =>
        new ReadPipeline({
          roots: host.roots,
          processPattern: /^qemu-system-.+$/,
          peakWindowMs: 30_000,
          log: pino({ level: 'silent' }),
          readEveryStatus,
        });
      const [lean, full] = [open(false), open(true)];
      let now = 1_000_000;
      let nextTid = PID + 100;
      let clock = 200;
      try {
        await lean.open(now);
        await full.open(now);
        const compare = async (step: number) => {
          now += 1000;
          const [a, b] = await Promise.all([lean.snapshot(Infinity, now), full.snapshot(Infinity, now)]);
          assert.equal(renderVmMetrics(a.snapshot), renderVmMetrics(b.snapshot), `after step ${String(step)}`);
        };
        await compare(-1);
        for (const [i, s] of steps.entries()) {
          const t = threads[s.op === 'scrape' || s.op === 'spawn' ? 0 : s.thread % threads.length]!;
          switch (s.op) {
            case 'run':
              t.vol += s.vol;
              t.invol += s.invol;
              t.utime += s.ticks;
              break;
            case 'wait':
              t.waitNs += s.ns;
              break;
            case 'state':
              t.state = s.state;
              break;
            case 'exit':
              if (t.tid !== PID) threads.splice(threads.indexOf(t), 1);
              break;
            case 'spawn':
              threads.push(fresh(nextTid++, s.name, clock++));
              break;
            case 'reuse':
              // The same TID, a new thread (a new start time), which may well have run less than the old one.
              if (t.tid !== PID) threads[threads.indexOf(t)] = fresh(t.tid, t.comm, clock++);
              break;
            case 'scrape':
              break;
          }
          host.writeVm(vmOf(threads));
          if (s.op === 'scrape' || i % 3 === 2) await compare(i);
        }
        await compare(steps.length);
      } finally {
        await lean.stop();
        await full.stop();
        host.cleanup();
      }
    }),
    runs(60),
  );
});
