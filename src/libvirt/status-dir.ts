import { basename } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { FsRoots } from '../fs-roots.js';
import { FsError } from '../fs-roots.js';
import type { Problems } from '../problems.js';
import { parseLibvirtStatus, type LibvirtDomain } from './status-xml.js';

/** A status file larger than this is not libvirt's (a real one is ~10–40 KB). */
const MAX_STATUS_BYTES = 8 * 1024 * 1024;

/**
 * Watches libvirt's status directory (`<name>.xml`, rewritten by libvirt on every state change) and keeps the
 * last good parse of each file. A half-written or malformed file keeps the previous version and counts an error.
 * Reading happens here, on file events, never on the scrape path.
 */
export class LibvirtStatusDir {
  private readonly byFile = new Map<string, LibvirtDomain>();
  /** Files whose latest version could not be used (their last good version, if any, is still served). */
  private readonly failing = new Set<string>();
  private watcher: FSWatcher | undefined;
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly fs: FsRoots, private readonly problems: Problems) {}

  /** Starts watching; resolves once the initial contents have been read. */
  async start(): Promise<void> {
    const dir = this.fs.libvirt();
    const watcher = watch(dir, {
      depth: 0,
      ignoreInitial: false,
      // Only <domain>.xml files: libvirt also keeps *.pid files and subdirectories here.
      ignored: (path, stats) => path !== dir && (stats?.isDirectory() === true || !path.endsWith('.xml')),
    });
    this.watcher = watcher;
    watcher.on('add', (path) => { this.load(path); });
    watcher.on('change', (path) => { this.load(path); });
    watcher.on('unlink', (path) => {
      this.byFile.delete(basename(path));
      this.failing.delete(basename(path));
    });
    watcher.on('error', (err) => {
      this.problems.report('libvirt', 'watch', 'watch', `watching ${dir} failed: ${String(err)}`);
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => { resolve(); }));
    await this.settled();
  }

  /** Waits for reads in flight (tests and startup use it). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values());
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
    await this.settled();
  }

  /** Domains by QEMU pid, from the last good version of every status file. */
  domainsByPid(): Map<number, LibvirtDomain> {
    const out = new Map<number, LibvirtDomain>();
    for (const d of this.byFile.values()) if (d.pid !== undefined) out.set(d.pid, d);
    return out;
  }

  /** False while any status file's latest version is unusable. */
  healthy(): boolean {
    return this.failing.size === 0;
  }

  private load(path: string): void {
    const file = basename(path);
    const run = (this.pending.get(file) ?? Promise.resolve()).then(() => this.read(path, file));
    this.pending.set(file, run);
    void run.finally(() => {
      if (this.pending.get(file) === run) this.pending.delete(file);
    });
  }

  private async read(path: string, file: string): Promise<void> {
    try {
      const xml = await this.fs.readFileCapped(path, MAX_STATUS_BYTES);
      this.byFile.set(file, parseLibvirtStatus(xml));
      this.failing.delete(file);
    } catch (err) {
      if (err instanceof FsError && err.kind === 'gone') {
        this.byFile.delete(file);
        this.failing.delete(file);
        return;
      }
      this.failing.add(file);
      const reason = err instanceof FsError ? (err.kind === 'denied' ? 'denied' : 'read') : 'parse';
      const hint = reason === 'denied' ? ' (status files are 0600 root: run as root or grant CAP_DAC_READ_SEARCH)' : '';
      this.problems.report('libvirt', reason, `${reason}:${file}`, `cannot use ${path}: ${(err as Error).message}${hint}`);
    }
  }
}
