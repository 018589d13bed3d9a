import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/cli/flags.js';
import { Exporter } from '../src/exporter.js';
import { pino } from 'pino';
import { startExporter, value } from './support/exporter.js';

const host1 = fileURLToPath(new URL('fixtures/host1', import.meta.url));
const roots = {
  procfs: join(host1, 'proc'),
  sysfs: join(host1, 'sys'),
  rootfs: join(host1, 'rootfs'),
  libvirtStatusDir: join(host1, 'run/libvirt/qemu'),
};

test('concurrent scrapes share one snapshot', async () => {
  const live = await startExporter(roots);
  try {
    const bodies = await Promise.all(Array.from({ length: 5 }, () => live.scrape()));
    // One read: the same scrape duration in every answer (separate reads would each time themselves).
    const durations = new Set(bodies.map((b) => value(b, 'qemu_exporter_scrape_duration_seconds', {})));
    assert.equal(durations.size, 1);
    const later = await live.scrape();
    assert.notEqual(value(later, 'qemu_exporter_scrape_duration_seconds', {}), [...durations][0]);
  } finally {
    await live.stop();
  }
});

test('landing page, health, readiness, and 404 elsewhere', async () => {
  const live = await startExporter(roots, ['--web.telemetry-path=/custom']);
  try {
    const app = live.exporter.app;
    const landing = await app.inject('/');
    assert.equal(landing.statusCode, 200);
    assert.match(landing.headers['content-type'] as string, /text\/html/);
    assert.match(landing.body, /<a href="\/custom">Metrics<\/a>/);
    assert.equal((await app.inject('/-/healthy')).statusCode, 200);
    assert.equal((await app.inject('/-/ready')).statusCode, 200);
    assert.equal((await app.inject('/metrics')).statusCode, 404);
    const metrics = await app.inject('/custom');
    assert.match(metrics.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  } finally {
    await live.stop();
  }
});

test('not ready until the first inventory is built', async () => {
  const exporter = new Exporter({
    roots,
    processPattern: /^qemu/,
    censusIntervalMs: 1000,
    peakWindowMs: 30_000,
    telemetryPath: '/metrics',
    scrapeTimeoutMs: 10_000,
    maxRequests: 40,
    explain: parseConfig([], 't').explain,
    sources: parseConfig([], 't').sources,
    webConfigFile: undefined,
    webConfig: { tls: undefined, headers: {}, users: new Map() },
    build: { version: 't', revision: 't' },
    log: pino({ level: 'silent' }),
  });
  try {
    assert.equal((await exporter.app.inject('/-/ready')).statusCode, 503);
    assert.equal((await exporter.app.inject('/-/healthy')).statusCode, 200);
    await exporter.start();
    assert.equal((await exporter.app.inject('/-/ready')).statusCode, 200);
  } finally {
    await exporter.stop();
  }
});
