/** The exporter command: flags → the exporter daemon, listening until SIGTERM or SIGINT. */
import { ConfigExit, parseConfig, type Config } from './flags.js';
import { Exporter, type ExporterOptions } from '../exporter.js';
import type { BuildInfo } from '../exposition/exposition.js';
import { createLogger } from '../util/log.js';
import { loadWebConfig, type WebConfig } from '../web/web-config.js';

const SHUTDOWN_MS = 4500;

/** The options the command line gives. */
export function exporterOptions(
  cfg: Config,
  rest: Pick<ExporterOptions, 'webConfig' | 'build' | 'log'>,
): ExporterOptions {
  return {
    roots: { procfs: cfg.procfs, sysfs: cfg.sysfs, rootfs: cfg.rootfs, libvirtStatusDir: cfg.libvirtStatusDir },
    processPattern: cfg.processPattern,
    censusIntervalMs: cfg.censusIntervalMs,
    peakWindowMs: cfg.peakWindowMs,
    telemetryPath: cfg.telemetryPath,
    scrapeTimeoutMs: cfg.scrapeTimeoutMs,
    maxRequests: cfg.maxRequests,
    explain: cfg.explain,
    sources: cfg.sources,
    webConfigFile: cfg.webConfigFile,
    ...rest,
  };
}

function config(argv: string[], build: BuildInfo): Config {
  try {
    return parseConfig(argv, build.version, build.revision);
  } catch (err) {
    if (!(err instanceof ConfigExit)) throw err;
    (err.code === 0 ? process.stdout : process.stderr).write(
      `${err.code === 0 ? '' : 'qemu-thread-exporter: '}${err.message}\n`,
    );
    process.exit(err.code);
  }
}

/** Runs the exporter until it is told to stop; exits the process on bad flags or when it cannot listen. */
export async function serve(argv: string[], build: BuildInfo): Promise<void> {
  const cfg = config(argv, build);
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  let webConfig: WebConfig = { tls: undefined, headers: {}, users: new Map() };
  if (cfg.webConfigFile !== undefined) {
    try {
      webConfig = await loadWebConfig(cfg.webConfigFile);
    } catch (err) {
      process.stderr.write(`qemu-thread-exporter: --web.config.file: ${(err as Error).message}\n`);
      process.exit(2);
    }
  }
  const exporter = new Exporter(exporterOptions(cfg, { webConfig, build, log }));
  const { app } = exporter;

  const listen = `${cfg.listenHost.includes(':') ? `[${cfg.listenHost}]` : cfg.listenHost}:${cfg.listenPort}`;
  log.info(
    {
      version: build.version,
      revision: build.revision,
      tls: webConfig.tls !== undefined,
      basic_auth: webConfig.users.size > 0,
      procfs: cfg.procfs,
      sysfs: cfg.sysfs,
      rootfs: cfg.rootfs,
      libvirt_status_dir: cfg.libvirtStatusDir,
      listen,
    },
    'starting qemu-thread-exporter',
  );
  try {
    if (cfg.listenHost !== '') await app.listen({ host: cfg.listenHost, port: cfg.listenPort });
    else {
      // ":port" means every address; fall back to IPv4 where IPv6 is disabled.
      await app
        .listen({ host: '::', port: cfg.listenPort })
        .catch(() => app.listen({ host: '0.0.0.0', port: cfg.listenPort }));
    }
  } catch (err) {
    log.error({ err: (err as Error).message, listen }, 'cannot listen');
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timeout = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_MS).unref());
    void Promise.race([exporter.stop(), timeout]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });

  await exporter.start();
  log.info(
    {
      vms: exporter.inventory.vms.size,
      addresses: app
        .addresses()
        .map((a) => (typeof a === 'string' ? a : `${a.address}:${a.port}`))
        .join(','),
    },
    'ready',
  );
}
