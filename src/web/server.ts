import type { TLSSocket } from 'node:tls';
import { stat } from 'node:fs/promises';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { landingPage } from './landing-page.js';
import type { ExplainReport } from '../explain/report.js';
import type { Exposition } from '../exposition/exposition.js';
import { singleFlight } from '../util/single-flight.js';
import type { TimedSnapshot } from '../model/pipeline.js';
import { BasicAuth, loadWebConfig, type TlsConfig, type WebConfig } from './web-config.js';

export interface ServerOptions {
  telemetryPath: string;
  version: string;
  /** One snapshot of every VM, read by the given deadline (ms since the epoch), and the seconds it took. */
  snapshot: (deadline: number) => Promise<TimedSnapshot>;
  /** Findings from the recent history, for every VM or one domain. */
  explain: (domain?: string) => ExplainReport;
  /** The landing page reloads itself this often. */
  refreshSeconds: number;
  exposition: Exposition;
  log: Logger;
  ready: () => boolean;
  /** --scrape.timeout in ms; Prometheus's X-Prometheus-Scrape-Timeout-Seconds can only shorten it. */
  scrapeTimeoutMs: number;
  /** --web.max-requests: concurrent requests beyond this get 503 (0: no limit). */
  maxRequests: number;
  /** --web.config.file and its loaded content (loaded before the server exists: TLS is fixed at creation). */
  webConfigFile: string | undefined;
  webConfig: WebConfig;
}

/** Time Prometheus needs to receive and parse an answer, taken off its scrape timeout. */
const TIMEOUT_OFFSET_MS = 250;
const WEB_CONFIG_RECHECK_MS = 1000;
const PATHS = ['/', '/-/healthy', '/-/ready', '/api/v1/explain'];
const HTML_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/** Node's TLS options for a config; requestCert/rejectUnauthorized are read per connection from the server. */
function tlsOptions(t: TlsConfig): {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  minVersion: TlsConfig['minVersion'];
  maxVersion: TlsConfig['maxVersion'];
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  return {
    cert: t.cert,
    key: t.key,
    ca: t.ca,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    requestCert: t.clientAuth !== 'NoClientCert',
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
  };
}

export function buildServer(o: ServerOptions): FastifyInstance {
  // Request logs off (info); fastify's own warnings and errors stay.
  const logger: FastifyBaseLogger = o.log.child({ component: 'http' }, { level: 'warn' });
  const timeouts = {
    connectionTimeout: 60_000,
    keepAliveTimeout: 10_000,
    requestTimeout: o.scrapeTimeoutMs + 10_000,
    return503OnClosing: true,
  };
  // The routes do not depend on the transport: type an HTTPS instance as the plain one.
  const app: FastifyInstance = o.webConfig.tls
    ? // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it: the https overload returns an https-typed instance
      (Fastify({
        loggerInstance: logger,
        ...timeouts,
        https: tlsOptions(o.webConfig.tls),
      }) as unknown as FastifyInstance)
    : Fastify({ loggerInstance: logger, ...timeouts });

  let config = o.webConfig;
  const auth = new BasicAuth();
  const reload = webConfigReloader(o, app, (c) => {
    config = c;
  });

  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    await reload();
    for (const [name, value] of Object.entries(config.headers)) void reply.header(name, value);
    if (o.maxRequests > 0 && inFlight >= o.maxRequests) {
      return reply.code(503).header('Retry-After', '1').type('text/plain').send('Too many concurrent requests.\n');
    }
    inFlight++;
    (req as { counted?: boolean }).counted = true;
    const tlsSock = req.raw.socket as Partial<TLSSocket>;
    if (config.tls && typeof tlsSock.getPeerCertificate === 'function') {
      const cert = tlsSock.getPeerCertificate();
      const hasCert = Object.keys(cert).length > 0;
      const need = config.tls.clientAuth;
      if (
        (need === 'RequireAnyClientCert' && !hasCert) ||
        (need === 'VerifyClientCertIfGiven' && hasCert && tlsSock.authorized !== true)
      ) {
        return reply.code(403).type('text/plain').send('Client certificate required.\n');
      }
    }
    if (!auth.check(config.users, req.headers.authorization)) {
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Basic realm="qemu-thread-exporter"')
        .type('text/plain')
        .send('Unauthorized.\n');
    }
    return undefined;
  });
  const release = (req: object): void => {
    const r = req as { counted?: boolean };
    if (r.counted) {
      r.counted = false;
      inFlight--;
    }
  };
  app.addHook('onResponse', (req, _reply, done) => {
    release(req);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    release(req);
    done();
  });

  // No stack traces or internal paths in any answer: the details go to the log.
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    req.log.error({ err: err.message, url: req.url }, 'request failed');
    const code = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply
      .code(code)
      .type('text/plain')
      .send(code === 500 ? 'Internal error.\n' : 'Bad request.\n');
  });
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).type('text/plain').send('Not found.\n'));

  // Concurrent scrapes share one scrape in flight (read and render): two renders never interleave on the registry.
  const scrape = singleFlight(async (deadline: number) => {
    const { snapshot, seconds } = await o.snapshot(deadline);
    return o.exposition.render(snapshot, seconds);
  });

  app.get(o.telemetryPath, async (req, reply) => {
    let timeoutMs = o.scrapeTimeoutMs;
    const header = Number(req.headers['x-prometheus-scrape-timeout-seconds']);
    if (Number.isFinite(header) && header > 0)
      timeoutMs = Math.min(timeoutMs, Math.max(0, header * 1000 - TIMEOUT_OFFSET_MS));
    return reply.type(o.exposition.contentType).send(await scrape(Date.now() + timeoutMs));
  });

  app.get('/', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .headers(HTML_HEADERS)
      .send(
        landingPage(o.explain(), {
          version: o.version,
          telemetryPath: o.telemetryPath,
          refreshSeconds: o.refreshSeconds,
        }),
      ),
  );

  app.get('/api/v1/explain', async (req, reply) => {
    const { domain } = req.query as { domain?: unknown };
    if (domain !== undefined && typeof domain !== 'string')
      return reply.code(400).type('text/plain').send('Bad request: one domain at most.\n');
    const report = o.explain(domain);
    return reply
      .code(domain !== undefined && report.vms.length === 0 ? 404 : 200)
      .header('X-Content-Type-Options', 'nosniff')
      .send(report);
  });

  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('Healthy.\n'));
  app.get('/-/ready', async (_req, reply) =>
    o.ready()
      ? reply.type('text/plain').send('Ready.\n')
      : reply.code(503).type('text/plain').send('Not ready: first inventory not built yet.\n'),
  );

  // Only GET and HEAD: any other method on a known path is refused, saying which are allowed.
  app.route({
    method: ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/*',
    handler: async (req, reply) => {
      const known = req.url === o.telemetryPath || PATHS.includes(req.url.split('?')[0] ?? '');
      return known
        ? reply.code(405).header('Allow', 'GET, HEAD').type('text/plain').send('Method not allowed.\n')
        : reply.code(404).type('text/plain').send('Not found.\n');
    },
  });

  return app;
}

/**
 * Re-reads --web.config.file when it changed (checked at most once a second, on requests): users, headers and
 * certificates take effect without a restart. A broken new version is logged and the previous one kept.
 */
function webConfigReloader(o: ServerOptions, app: FastifyInstance, apply: (c: WebConfig) => void): () => Promise<void> {
  const file = o.webConfigFile;
  if (file === undefined) return () => Promise.resolve();
  let checkedAt = 0;
  let seen: string | undefined;
  let pending: Promise<void> | undefined;
  const check = async (): Promise<void> => {
    let version: string;
    try {
      const st = await stat(file);
      version = `${String(st.ino)}:${String(st.size)}:${String(st.mtimeMs)}`;
    } catch (err) {
      version = `error:${(err as Error).message}`;
    }
    if (seen === undefined) {
      seen = version;
      return;
    }
    if (version === seen) return;
    seen = version;
    try {
      const next = await loadWebConfig(file);
      if (Boolean(next.tls) !== Boolean(o.webConfig.tls)) throw new Error('turning TLS on or off needs a restart');
      if (next.tls) {
        const server = app.server as unknown as {
          setSecureContext(opts: object): void;
          requestCert: boolean;
          rejectUnauthorized: boolean;
        };
        const opts = tlsOptions(next.tls);
        server.setSecureContext(opts);
        server.requestCert = opts.requestCert;
        server.rejectUnauthorized = opts.rejectUnauthorized;
      }
      apply(next);
      o.log.info({ file }, 'web config reloaded');
    } catch (err) {
      o.log.error({ file, err: (err as Error).message }, 'web config change ignored: keeping the previous one');
    }
  };
  void check();
  return async () => {
    const now = Date.now();
    if (now - checkedAt >= WEB_CONFIG_RECHECK_MS) {
      checkedAt = now;
      pending = check().finally(() => {
        pending = undefined;
      });
    }
    await pending;
  };
}
