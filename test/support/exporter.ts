import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/cli/flags.js';
import { exporterOptions } from '../../src/cli/serve.js';
import { Exporter } from '../../src/exporter.js';
import type { Roots } from '../../src/host/host-fs.js';

export const HOST_ROOTS: Roots = { procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: '/run/libvirt/qemu' };

const HOST1 = new URL('../fixtures/host1', import.meta.url).pathname;

/** A copy of the fixture host (test/fixtures/host1) for a test to change, its roots, and how to remove it. */
export function copyOfHost1(): { dir: string; roots: Roots; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'qte-host1-'));
  chmodSync(dir, 0o755); // the no-privilege tests read it as nobody
  cpSync(HOST1, dir, { recursive: true, verbatimSymlinks: true });
  return {
    dir,
    roots: {
      procfs: join(dir, 'proc'),
      sysfs: join(dir, 'sys'),
      rootfs: join(dir, 'rootfs'),
      libvirtStatusDir: join(dir, 'run/libvirt/qemu'),
    },
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An in-process exporter with the CLI's defaults, over the given roots; `scrape()` returns the /metrics text. */
export async function startExporter(
  roots: Roots,
  flags: string[] = [],
): Promise<{ exporter: Exporter; scrape: () => Promise<string>; stop: () => Promise<void> }> {
  const cfg = parseConfig(flags, 'test');
  const exporter = new Exporter(
    exporterOptions(
      { ...cfg, ...roots },
      {
        webConfig: { tls: undefined, headers: {}, users: new Map() },
        build: { version: 'test', revision: 'test' },
        log: pino({ level: 'silent' }),
      },
    ),
  );
  await exporter.start();
  return {
    exporter,
    scrape: async () => {
      const res = await exporter.app.inject({ method: 'GET', url: cfg.telemetryPath });
      if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}: ${res.body}`);
      return res.body;
    },
    stop: () => exporter.stop(),
  };
}

/** `name{labels} value` lines → a map from `name{labels}` to value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The value of one series, by name and an exact label subset. */
export function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const [series, v] of samples(text)) {
    if (!series.startsWith(`${name}{`) && series !== name) continue;
    if (Object.entries(labels).every(([k, val]) => series.includes(`${k}="${val}"`))) return v;
  }
  return undefined;
}
