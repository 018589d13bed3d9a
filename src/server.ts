import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { SnapshotReader } from './snapshot.js';

export interface ServerOptions {
  telemetryPath: string;
  version: string;
  reader: SnapshotReader;
  metrics: Metrics;
  log: Logger;
  ready: () => boolean;
}

/**
 * Concurrent scrapes share one scrape in flight (read, fill the registry, render): a second request waits for
 * the first instead of reading /proc again, and two renders never interleave on the shared registry.
 */
function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => (inFlight ??= run().finally(() => { inFlight = undefined; }));
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function buildServer(o: ServerOptions): FastifyInstance {
  // Request logs off (info); fastify's own warnings and errors stay.
  const logger: FastifyBaseLogger = o.log.child({ component: 'http' }, { level: 'warn' });
  const app = Fastify({ loggerInstance: logger });
  const scrape = singleFlight(async () => {
    const t0 = process.hrtime.bigint();
    const snap = await o.reader.read();
    o.metrics.update(snap, Number(process.hrtime.bigint() - t0) / 1e9);
    return o.metrics.registry.metrics();
  });

  app.get(o.telemetryPath, async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await scrape()));

  app.get('/', async (_req, reply) => {
    const path = escapeHtml(o.telemetryPath);
    return reply.type('text/html; charset=utf-8').send(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>QEMU Thread Exporter</title></head>
<body><h1>QEMU Thread Exporter</h1><p>Version ${escapeHtml(o.version)}</p>
<ul><li><a href="${path}">Metrics</a></li><li><a href="/-/healthy">Health</a></li><li><a href="/-/ready">Readiness</a></li></ul>
</body></html>
`);
  });

  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('Healthy.\n'));
  app.get('/-/ready', async (_req, reply) =>
    o.ready() ? reply.type('text/plain').send('Ready.\n') : reply.code(503).type('text/plain').send('Not ready: first inventory not built yet.\n'));

  return app;
}
