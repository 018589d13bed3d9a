#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// V8 flags for a small resident set: a scrape's short-lived garbage would otherwise grow the heap's reserved pages
// to ~120 MB at 4,000 threads, where it stays; with these ~90 MB, for the same CPU (README, Performance).
// npm start and the container image pass the same flags.
import { readFileSync } from 'node:fs';
import { ConfigExit, parseConfig, type Config } from './cli/flags.js';
import { runExplain } from './cli/explain-command.js';
import { Exporter, exporterOptions } from './exporter.js';
import { createLogger } from './util/log.js';
import { loadWebConfig, type WebConfig } from './web/web-config.js';

const SHUTDOWN_MS = 4500;

/** package.json and REVISION sit at the package root: one level up from src/ (tsx), two from dist/src/. */
function readPackageFile(name: string): string | undefined {
  for (const rel of [`../${name}`, `../../${name}`]) {
    try {
      return readFileSync(new URL(rel, import.meta.url), 'utf8');
    } catch {
      // Try the next level.
    }
  }
  return undefined;
}

function buildInfo(): { version: string; revision: string } {
  const pkg = JSON.parse(readPackageFile('package.json') ?? '{"version":"unknown"}') as { version: string };
  return { version: pkg.version, revision: readPackageFile('REVISION')?.trim() || 'unknown' };
}

function config(argv: string[], version: string): Config {
  try {
    return parseConfig(argv, version);
  } catch (err) {
    if (!(err instanceof ConfigExit)) throw err;
    (err.code === 0 ? process.stdout : process.stderr).write(`${err.code === 0 ? '' : 'qemu-thread-exporter: '}${err.message}\n`);
    process.exit(err.code);
  }
}

async function main(): Promise<void> {
  const build = buildInfo();
  const argv = process.argv.slice(2);
  if (argv[0] === 'explain') process.exit(await runExplain(argv.slice(1), build));
  const cfg = config(argv, build.version);
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
  log.info({ version: build.version, revision: build.revision, tls: webConfig.tls !== undefined, basic_auth: webConfig.users.size > 0, procfs: cfg.procfs, sysfs: cfg.sysfs, rootfs: cfg.rootfs, libvirt_status_dir: cfg.libvirtStatusDir, listen }, 'starting qemu-thread-exporter');
  try {
    if (cfg.listenHost !== '') await app.listen({ host: cfg.listenHost, port: cfg.listenPort });
    else {
      // ":port" means every address; fall back to IPv4 where IPv6 is disabled.
      await app.listen({ host: '::', port: cfg.listenPort }).catch(() => app.listen({ host: '0.0.0.0', port: cfg.listenPort }));
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
  process.on('SIGTERM', () => { shutdown('SIGTERM'); });
  process.on('SIGINT', () => { shutdown('SIGINT'); });

  await exporter.start();
  log.info({ vms: exporter.inventory.vms.size, addresses: app.addresses().map((a) => (typeof a === 'string' ? a : `${a.address}:${a.port}`)).join(',') }, 'ready');
}

await main();
