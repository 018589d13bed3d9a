/** The soak's checker flags every failure it exists for (a soak whose checks cannot fail proves nothing). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScrapeChecker } from './scrape-checker.js';

const vmInfo = (domain: string, pid: number) =>
  `qemu_vm_info{domain="${domain}",uuid="",pid="${String(pid)}",source="cmdline"} 1\n`;
const body = (...lines: string[]) => new TextEncoder().encode(`# TYPE qemu_vm_info gauge\n${lines.join('')}`);
const switches = (domain: string, n: number) =>
  `qemu_thread_context_switches_total{domain="${domain}",role="worker",kind="voluntary"} ${String(n)}\n`;
const cpu = (domain: string, n: number) =>
  `qemu_thread_cpu_seconds_total{domain="${domain}",role="worker",mode="user"} ${String(n)}\n`;
const threads = (domain: string, n: number) => `qemu_threads{domain="${domain}",role="worker"} ${String(n)}\n`;

/** Sends and answers one scrape at `sentAt` (answered 10 ms later). */
function scrape(c: ScrapeChecker, sentAt: number, b: Uint8Array, status = 200): void {
  const id = c.sending(sentAt);
  c.answered(id, { status, body: b, error: undefined, receivedAt: sentAt + 10 });
}

test('a counter that goes down while its VM lives is a failure; after a restart (new pid) it is not', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  scrape(c, 100, body(vmInfo('a', 1), switches('a', 50)));
  scrape(c, 200, body(vmInfo('a', 1), switches('a', 60)));
  assert.equal(c.failureCount, 0);
  scrape(c, 300, body(vmInfo('a', 1), switches('a', 59)));
  assert.equal(c.failureCount, 1);
  assert.match(c.failures[0]!, /went down, 60 → 59/);
  c.killing('a', 310);
  c.died('a', 1, 320);
  c.started('a', 2, 330);
  scrape(c, 400, body(vmInfo('a', 2), switches('a', 1)));
  assert.equal(c.failureCount, 1, 'a new process is a new counter');
  assert.equal(c.counts.counterChecks, 2);
});

test('two overlapping scrapes may be answered in either order; a scrape sent after an answer is checked against it', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  const slow = c.sending(100); // read first, its answer arrives last
  const fast = c.sending(105);
  c.answered(fast, { status: 200, body: body(vmInfo('a', 1), switches('a', 60)), error: undefined, receivedAt: 120 });
  c.answered(slow, { status: 200, body: body(vmInfo('a', 1), switches('a', 50)), error: undefined, receivedAt: 125 });
  assert.equal(c.failureCount, 0, 'neither was sent after the other was answered');
  scrape(c, 200, body(vmInfo('a', 1), switches('a', 55)));
  assert.equal(c.failureCount, 1, 'sent after both answers: checked against the last to arrive');
  assert.match(c.failures[0]!, /went down, 50 → 55|went down, 60 → 55/);
});

test('a dead VM in a scrape taken after its death is a failure; in a scrape that was already under way it is not', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  scrape(c, 100, body(vmInfo('a', 1)));
  const early = c.sending(490); // under way when the VM dies: it may show it
  c.killing('a', 495);
  c.died('a', 1, 500);
  const joined = c.sending(510); // sent after the death, but may share the scrape under way
  c.answered(early, { status: 200, body: body(vmInfo('a', 1)), error: undefined, receivedAt: 600 });
  c.answered(joined, { status: 200, body: body(vmInfo('a', 1)), error: undefined, receivedAt: 600 });
  assert.equal(c.failureCount, 0);
  scrape(c, 700, body(vmInfo('a', 1)));
  assert.equal(c.failureCount, 1);
  assert.match(c.failures[0]!, /died at \+500 ms and is still exported/);
  assert.deepEqual(c.uncheckedDeaths(1000), []);
});

test('a dead VM whose qemu_threads series lingers without its qemu_vm_info is a failure; a new process under its name is not', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  scrape(c, 100, body(vmInfo('a', 1), threads('a', 3)));
  c.killing('a', 190);
  c.died('a', 1, 200);
  scrape(c, 300, body(threads('a', 3)));
  assert.equal(c.failureCount, 1, c.failures.join('\n'));
  assert.match(
    c.failures[0]!,
    /a \(pid 1\) died at \+200 ms and its series linger without its qemu_vm_info: qemu_threads\{/,
  );
  c.started('a', 2, 400);
  scrape(c, 500, body(vmInfo('a', 2), threads('a', 1), switches('a', 1)));
  assert.equal(c.failureCount, 1, "the name is a new process's: its series are its own");
  scrape(c, 600, body(vmInfo('a', 1), threads('a', 1)));
  assert.match(c.failures.join('\n'), /a \(pid 1\) died at \+200 ms and is still exported/);
  assert.match(c.failures.join('\n'), /a \(pid 2\) lives and is missing/);
});

test("a series whose domain no qemu_vm_info of its scrape has is a failure, even without the churn's events", () => {
  const c = new ScrapeChecker(10_000);
  scrape(c, 100, body(vmInfo('b', 7), threads('b', 3), switches('b', 5)));
  assert.equal(c.failureCount, 0);
  scrape(c, 200, body(threads('b', 3)));
  assert.equal(c.failureCount, 1, c.failures.join('\n'));
  assert.match(
    c.failures[0]!,
    /qemu_threads\{"domain":"b","role":"worker"\} carries domain "b", which no qemu_vm_info has: a VM gone \(last seen as pid 7 in scrape #0\)/,
  );
});

test('a counter series that vanishes while its VM lives is a failure; while it dies, after it restarts or in an overlapping scrape it is not', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  scrape(c, 100, body(vmInfo('a', 1), switches('a', 50), cpu('a', 1)));
  scrape(c, 200, body(vmInfo('a', 1), cpu('a', 2)));
  assert.equal(c.failureCount, 1, c.failures.join('\n'));
  assert.match(
    c.failures[0]!,
    /qemu_thread_context_switches_total\{.*\} vanished while its VM lives \(pid 1; it was in scrape #0\)/,
  );
  scrape(c, 250, body(vmInfo('a', 1), switches('a', 55), cpu('a', 2)));
  assert.equal(c.failureCount, 1);
  // Overlapping: the slow one was sent before the fast one's answer arrived, so it may have been read before the
  // iothread's first spawn.
  const spawns = `qemu_thread_spawns_total{domain="a",role="iothread"} 1\n`;
  const slow = c.sending(300);
  const fast = c.sending(305);
  c.answered(fast, {
    status: 200,
    body: body(vmInfo('a', 1), switches('a', 60), cpu('a', 3), spawns),
    error: undefined,
    receivedAt: 320,
  });
  c.answered(slow, {
    status: 200,
    body: body(vmInfo('a', 1), switches('a', 58), cpu('a', 3)),
    error: undefined,
    receivedAt: 325,
  });
  assert.equal(c.failureCount, 1, 'neither was sent after the other was answered');
  scrape(c, 330, body(vmInfo('a', 1), switches('a', 61), cpu('a', 3)));
  assert.equal(c.failureCount, 2, 'sent after both answers: checked against both');
  assert.match(
    c.failures[1]!,
    /qemu_thread_spawns_total\{.*\} vanished while its VM lives \(pid 1; it was in scrape #4\)/,
  );
  c.killing('a', 390);
  scrape(c, 400, body(vmInfo('a', 1), cpu('a', 4))); // read while the process was being killed: half gone
  assert.equal(c.failureCount, 2, 'a dying VM may lose its series one family at a time');
  c.died('a', 1, 420);
  c.started('a', 2, 430);
  scrape(c, 500, body(vmInfo('a', 2), cpu('a', 0)));
  assert.equal(c.failureCount, 2, 'a new process is new series');
  assert.ok(c.counts.vanishChecks > 0);
});

test('a live VM missing from a scrape is a failure', () => {
  const c = new ScrapeChecker(10_000);
  c.started('a', 1, 0);
  scrape(c, 100, body());
  assert.match(c.failures[0]!, /a \(pid 1\) lives and is missing/);
});

test('a 5xx, an error, a late answer and a malformed body are failures', () => {
  const c = new ScrapeChecker(1000);
  scrape(c, 0, body(), 503);
  c.answered(c.sending(100), { status: undefined, body: undefined, error: 'ECONNRESET', receivedAt: 110 });
  c.answered(c.sending(200), { status: 200, body: body(), error: undefined, receivedAt: 1300 });
  scrape(c, 1400, new TextEncoder().encode('a{x="\\q"} 1\n'));
  assert.equal(c.failureCount, 4, c.failures.join('\n'));
  assert.match(c.failures.join('\n'), /HTTP 503[\s\S]*ECONNRESET[\s\S]*over the 1000 ms deadline[\s\S]*invalid escape/);
});
