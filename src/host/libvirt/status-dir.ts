import { basename } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { HostFs } from '../host-fs.js';
import { FsError } from '../host-fs.js';
import { reasonOf, type Problems } from '../problems.js';
import type { Source } from '../source.js';
import { parseLibvirtStatus, type LibvirtDomain } from './status-xml.js';

/**
 * A real status file is 10–40 KB (most of it libvirt's qemuCaps flags); parsing runs on the event loop (~100 ms
 * per MB), so anything past 1 MiB is refused rather than allowed to stall scrapes.
 */
const MAX_STATUS_BYTES = 1024 * 1024;

/**
 * A file read this soon after its mtime may be rewritten within the same timestamp tick, in place and to the same
 * size: its version would not change, and chokidar drops such a change too. It is read once more by the next rescan.
 */
const RACY_MS = 1000;

/**
 * Watches libvirt's status directory (`<name>.xml`, rewritten by libvirt on every state change) and keeps the
 * last good parse of each file. A half-written or malformed file keeps the previous version and counts an error.
 * Reading happens here, on file events, never on the scrape path.
 */
export class LibvirtStatusDir implements Source {
  readonly name = 'libvirt';
  private readonly byFile = new Map<string, LibvirtDomain>();
  /** Version (inode, size, mtime) of the last read of each file, good or bad (or refused: too big, not a file). */
  private readonly readVersion = new Map<string, string>();
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Files whose latest version could not be used (their last good version, if any, is still served). */
  private readonly failing = new Set<string>();
  /** Files last read so soon after they were written that an unseen rewrite could share their version (RACY_MS). */
  private readonly racy = new Set<string>();
  private watcher: FSWatcher | undefined;
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly fs: HostFs,
    private readonly problems: Problems,
    private readonly rescanMs = 5000,
  ) {}

  /** Starts watching; resolves once the initial contents have been read. */
  async start(): Promise<void> {
    await this.watchDir();
    await this.settled();
    this.rescanTimer = setInterval(() => {
      this.rescan();
    }, this.rescanMs);
  }

  /**
   * The safety net under the watcher. inotify events are lost when a file is rewritten right after a rename
   * (libvirt saves status twice in a row at domain start), so any file whose version differs from the one last
   * read is read again. And chokidar never reports files of a directory created after watching began (libvirtd
   * started after the exporter), so a directory that appears gets a watcher then.
   */
  private rescan(): void {
    let versions: Map<string, string>;
    try {
      versions = this.fs.fileVersions(this.fs.libvirt(), '.xml');
    } catch {
      versions = new Map();
    }
    if (!this.watcher && versions.size > 0) void this.watchDir();
    for (const [file, version] of versions) {
      if (this.readVersion.get(file) === version && !this.racy.has(file)) continue;
      // Noted before the read: a file refused for what it is (too big, a FIFO) is retried only once it changes.
      this.readVersion.set(file, version);
      this.load(this.fs.libvirt(file));
    }
    for (const file of [...this.readVersion.keys()]) if (!versions.has(file)) this.load(this.fs.libvirt(file));
  }

  /** Watches the directory if it exists. */
  private async watchDir(): Promise<void> {
    const dir = this.fs.libvirt();
    try {
      this.fs.listDir(dir);
    } catch {
      return;
    }
    const watcher = watch(dir, {
      depth: 0,
      ignoreInitial: false,
      // The exporter's HTTP server keeps the process alive; an unref'd watch cannot. chokidar 5 can orphan a watch
      // when close() races a file being added (paulmillr/chokidar#1482), which kept a test process alive forever.
      persistent: false,
      // Only <domain>.xml files: libvirt also keeps *.pid files and subdirectories here.
      ignored: (path, stats) => path !== dir && (stats?.isDirectory() === true || !path.endsWith('.xml')),
    });
    this.watcher = watcher;
    watcher.on('add', (path) => {
      this.load(path);
    });
    watcher.on('change', (path) => {
      this.load(path);
    });
    // An unlink is a cue to look again, not a verdict: events can come late, after the name was written anew.
    watcher.on('unlink', (path) => {
      this.load(path);
    });
    watcher.on('unlinkDir', (path) => {
      if (path !== dir) return;
      for (const file of [...this.readVersion.keys()]) this.load(this.fs.libvirt(file));
      this.watcher = undefined;
      void watcher.close();
    });
    watcher.on('error', (err) => {
      this.problems.report('libvirt', 'io', 'watch', `watching ${dir} failed: ${String(err)}`);
    });
    await new Promise<void>((resolve) =>
      watcher.once('ready', () => {
        resolve();
      }),
    );
  }

  private forget(file: string): void {
    this.byFile.delete(file);
    this.readVersion.delete(file);
    this.failing.delete(file);
    this.racy.delete(file);
  }

  /** Waits for reads in flight (tests and startup use it). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending.values());
  }

  async stop(): Promise<void> {
    clearInterval(this.rescanTimer);
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
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

  /** Reads a file after any read of it in flight; a file that is gone by then is forgotten. */
  private load(path: string): void {
    const file = basename(path);
    this.enqueue(file, () => this.read(path, file));
  }

  /** Runs the operations on one file one after another, in the order their events came. */
  private enqueue(file: string, op: () => Promise<void> | void): void {
    const run = (this.pending.get(file) ?? Promise.resolve()).then(op).catch((err: unknown) => {
      this.problems.report('libvirt', reasonOf(err), `internal:${file}`, `cannot use ${file}: ${String(err)}`);
    });
    this.pending.set(file, run);
    void run.finally(() => {
      if (this.pending.get(file) === run) this.pending.delete(file);
    });
  }

  private async read(path: string, file: string): Promise<void> {
    try {
      const started = Date.now();
      const { text, version, mtimeMs } = await this.fs.readFileCapped(path, MAX_STATUS_BYTES);
      this.readVersion.set(file, version);
      if (started - mtimeMs < RACY_MS) this.racy.add(file);
      else this.racy.delete(file);
      this.byFile.set(file, parseLibvirtStatus(text));
      this.failing.delete(file);
    } catch (err) {
      if (err instanceof FsError && err.kind === 'gone') {
        this.forget(file);
        return;
      }
      this.failing.add(file);
      const reason = reasonOf(err);
      const refused = err instanceof FsError && (err.code === 'EFBIG' || err.code === 'ENOTREG');
      // A file refused for what it is waits for its next version; a denied or failed read is retried by the rescan.
      if (err instanceof FsError && !refused) this.readVersion.delete(file);
      const hint =
        reason === 'denied'
          ? ' (status files are 0600 root: run as root or grant CAP_DAC_READ_SEARCH)'
          : err instanceof FsError && err.code === 'EFBIG'
            ? ` (larger than ${String(MAX_STATUS_BYTES)} bytes: not a libvirt status file)`
            : refused
              ? ' (not a regular file)'
              : '';
      this.problems.report(
        'libvirt',
        reason,
        `${reason}:${file}`,
        `cannot use ${path}: ${(err as Error).message}${hint}`,
      );
    }
  }
}
