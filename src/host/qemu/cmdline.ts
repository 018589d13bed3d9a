/**
 * A model of a QEMU command line: VM identity, iothreads, thread-pool limits and disks.
 *
 * Pure: input is the process's argv, output a record. No input throws (not even ParseError): a weird argv only
 * yields less, and an option whose value cannot be read (malformed JSON, a dangling drive reference) is skipped
 * and described in `warnings`.
 */
import type { DiskSpec } from './disk-spec.js';

export interface IothreadSpec {
  id: string;
  /** `thread-pool-max` of the iothread's block worker pool (QEMU >= 7.1); unset means QEMU's default (64). */
  poolMax?: number;
}

export interface QemuCmdline {
  name?: string;
  /** `-uuid`, else the system UUID of `-smbios type=1,uuid=…` (Proxmox VE sets only that). */
  uuid?: string;
  /** Proxmox VE's VM id: `-id N`, an option its QEMU build adds. */
  vmid?: string;
  /** The command line uses options only QEMU has (`-machine`, `-smp`, `-drive`, …): tells a QEMU run as `kvm` from another program of that name. */
  qemuOptions: boolean;
  debugThreads: boolean;
  iothreads: IothreadSpec[];
  /** `thread-pool-max` of the main loop's pool, from `-object main-loop`. */
  mainLoopPoolMax?: number;
  disks: DiskSpec[];
  /** Options that were skipped because they could not be read. */
  warnings: string[];
}

/** Option properties: JSON values, or strings from QEMU's `key=value,...` syntax. */
type Props = Record<string, unknown>;

interface Opt { name: string; value: string }

/** QEMU options that take no argument: they must not swallow the next one (from qemu-options.hx, old and new). */
const FLAGS = new Set([
  'h', 'help', 'version', 'S', 's', 'snapshot', 'nographic', 'full-screen', 'alt-grab', 'ctrl-grab', 'no-quit',
  'no-frame', 'portrait', 'sdl', 'curses', 'win2k-hack', 'no-fd-bootchk', 'no-acpi', 'no-hpet', 'usb',
  'nodefaults', 'nodefconfig', 'no-user-config', 'singlestep', 'no-reboot', 'no-shutdown', 'enable-kvm', 'no-kvm',
  'no-kvm-irqchip', 'no-kvm-pit', 'no-kvm-pit-reinjection', 'enable-nesting', 'tdf', 'localtime', 'std-vga',
  'rtc-td-hack', 'show-cursor', 'xen-attach', 'xen-create', 'xen-domid-restrict', 'daemonize', 'old-param',
  'semihosting', 'only-migratable', 'preconfig', 'enable-fips', 'mem-prealloc', 'async-teardown',
  'enable-sync-profile',
]);

/** Options read here; they always take the next argument, as QEMU does, even one starting with '-'. */
const READ = new Set(['name', 'uuid', 'id', 'smbios', 'object', 'drive', 'blockdev', 'device', 'hda', 'hdb', 'hdc', 'hdd', 'cdrom', 'fda', 'fdb']);

/** Options of QEMU's that every management layer passes (libvirt, Proxmox VE, KubeVirt, scripts). */
const QEMU_OPTIONS = new Set(['name', 'uuid', 'machine', 'M', 'accel', 'enable-kvm', 'smp', 'm', 'cpu', 'drive', 'blockdev', 'device', 'object', 'chardev', 'qmp', 'mon', 'nodefaults', 'display', 'nographic', 'vnc', 'kernel']);

/** Legacy shortcuts, as QEMU expands them into `-drive` options. */
const SHORTCUTS = new Map([
  ['hda', 'index=0,media=disk'], ['hdb', 'index=1,media=disk'], ['hdc', 'index=2,media=disk'], ['hdd', 'index=3,media=disk'],
  ['cdrom', 'index=2,media=cdrom'], ['fda', 'if=floppy,index=0'], ['fdb', 'if=floppy,index=1'],
]);

/**
 * Splits argv into options. A known flag takes no value, an option read here always takes one, and any other option
 * takes the next argument unless it starts with '-' (an option QEMU did not know when this was written).
 * A bare argument is a disk image, as QEMU reads it (`-hda`).
 */
function splitOptions(argv: readonly string[], warnings: string[]): { opts: Opt[]; qemuOptions: boolean } {
  const opts: Opt[] = [];
  let qemuOptions = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      opts.push({ name: 'hda', value: arg });
      continue;
    }
    const name = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (QEMU_OPTIONS.has(name)) qemuOptions = true;
    if (FLAGS.has(name)) continue;
    const next = argv[i + 1];
    if (READ.has(name)) {
      if (next === undefined) warnings.push(`-${name}: missing value`);
      else opts.push({ name, value: next });
      i++;
    } else if (next !== undefined && !next.startsWith('-')) {
      i++;
    }
  }
  return { opts, qemuOptions };
}

/**
 * Reads QEMU's `key=value,...` syntax: `,,` is a literal comma, a first element without `=` is the value of
 * `impliedKey`, a later bare `key` means `key=on` (`nokey` means `key=off`), and a repeated key keeps its last value.
 */
export function parseKeyval(text: string, impliedKey?: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  let first = true;
  while (i < text.length) {
    let end = i;
    while (end < text.length && text[end] !== '=' && text[end] !== ',') end++;
    let key: string;
    let value: string;
    if (text[end] === '=') {
      key = text.slice(i, end);
      [value, i] = readValue(text, end + 1);
    } else if (first && impliedKey !== undefined) {
      key = impliedKey;
      [value, i] = readValue(text, i);
    } else {
      key = text.slice(i, end);
      value = 'on';
      if (key.startsWith('no') && key.length > 2) [key, value] = [key.slice(2), 'off'];
      i = end + 1;
    }
    first = false;
    // `__proto__` would set the object's prototype instead of a property (QEMU has no such property).
    if (key !== '' && key !== '__proto__') out[key] = value;
  }
  return out;
}

/** Reads a value up to a single comma; returns it and the index after that comma. */
function readValue(text: string, start: number): [string, number] {
  let value = '';
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] !== ',') return [value, i + 1];
      i++;
    }
    value += c;
    i++;
  }
  return [value, i];
}

function isProps(v: unknown): v is Props {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads an option's value: JSON when it starts with `{` (for the options that accept JSON), else key=value. */
function readProps(opt: Opt, impliedKey: string | undefined, warnings: string[]): Props | undefined {
  if (!opt.value.startsWith('{')) return parseKeyval(opt.value, impliedKey);
  try {
    const parsed: unknown = JSON.parse(opt.value);
    if (isProps(parsed)) return parsed; // always, for text starting with '{'
  } catch (err) {
    warnings.push(`-${opt.name}: malformed JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return undefined;
}

/**
 * Expands dotted keys (`cache.direct=on`) into nested objects, as -blockdev's key=value form means them.
 * Only own properties are walked: `__proto__.x=1` from any process's argv must not reach Object.prototype.
 */
function nest(flat: Props): Props {
  const out: Props = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    if (parts.includes('__proto__')) continue;
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const child = own(node, part);
      if (isProps(child)) node = child;
      else if (child === undefined) node = node[part] = {};
      else break;
    }
    const last = parts[parts.length - 1]!;
    if (own(node, last) === undefined) node[last] = value;
  }
  return out;
}

/** An own property: an inherited one (`constructor`, `toString`) is never an option's value. */
function own(p: Props, key: string): unknown {
  return Object.hasOwn(p, key) ? p[key] : undefined;
}

function str(p: Props, key: string): string | undefined {
  const v = own(p, key);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** A QEMU boolean: JSON true/false or on/off, yes/no, true/false; undefined when unset or anything else. */
function bool(p: Props, key: string): boolean | undefined {
  const v = own(p, key);
  if (typeof v === 'boolean') return v;
  if (v === 'on' || v === 'yes' || v === 'true') return true;
  if (v === 'off' || v === 'no' || v === 'false') return false;
  return undefined;
}

/** A non-negative integer, from a JSON number or a decimal string. */
function int(p: Props, key: string): number | undefined {
  const v = own(p, key);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}

function poolMax(p: Props, what: string, warnings: string[]): number | undefined {
  const max = int(p, 'thread-pool-max');
  if (max === undefined && own(p, 'thread-pool-max') !== undefined) warnings.push(`${what}: bad thread-pool-max`);
  return max;
}

/** Reads argv as split from /proc/PID/cmdline (argv[0] is the binary). Never throws; see the module comment. */
export function parseQemuCmdline(argv: readonly string[]): QemuCmdline {
  const warnings: string[] = [];
  const { opts, qemuOptions } = splitOptions(argv, warnings);
  const result: QemuCmdline = { debugThreads: false, qemuOptions, iothreads: [], disks: [], warnings };
  let smbiosUuid: string | undefined;
  const nameProps: Props = {};
  const drives = new Map<string, Props>(); // legacy -drive by id
  const anonymousDrives = new Set<Props>(); // -drive without id: only useful with if!=none
  const nodes = new Map<string, Props>(); // -blockdev by node-name
  const devices = new Map<string, Props>(); // -device by id, to find a SCSI disk's controller
  const blockOpts: { drive?: Props; device?: Props }[] = []; // candidate disks, in argv order

  for (const opt of opts) {
    switch (opt.name) {
      case 'name':
        Object.assign(nameProps, parseKeyval(opt.value, 'guest'));
        break;
      case 'uuid':
        result.uuid = opt.value;
        break;
      case 'id':
        if (/^\d{1,15}$/.test(opt.value)) result.vmid = opt.value;
        else warnings.push(`-id: ${JSON.stringify(opt.value.slice(0, 40))} is not a VM id`);
        break;
      case 'smbios': {
        const p = parseKeyval(opt.value);
        if (p.type === '1' && p.uuid !== undefined) smbiosUuid = p.uuid;
        break;
      }
      case 'object': {
        const p = readProps(opt, 'qom-type', warnings);
        const type = p && str(p, 'qom-type');
        const id = p && str(p, 'id');
        if (!p || id === undefined) break;
        if (type === 'iothread') {
          const max = poolMax(p, `-object iothread ${id}`, warnings);
          result.iothreads.push(max === undefined ? { id } : { id, poolMax: max });
        } else if (type === 'main-loop') {
          const max = poolMax(p, '-object main-loop', warnings);
          if (max !== undefined) result.mainLoopPoolMax = max;
        }
        break;
      }
      case 'blockdev': {
        const p = readProps(opt, undefined, warnings);
        const node = p && (opt.value.startsWith('{') ? p : nest(p));
        const nodeName = node && str(node, 'node-name');
        if (node && nodeName !== undefined) nodes.set(nodeName, node);
        break;
      }
      case 'device': {
        const p = readProps(opt, 'driver', warnings);
        if (!p) break;
        const id = str(p, 'id');
        if (id !== undefined) devices.set(id, p);
        if (str(p, 'drive') !== undefined) blockOpts.push({ device: p });
        break;
      }
      default: {
        // -drive, or a shortcut for one (-hda, -cdrom, a bare argument, ...) whose value is a file name
        const shortcut = SHORTCUTS.get(opt.name);
        const p = parseKeyval(shortcut === undefined ? opt.value : `${shortcut},file=${opt.value.replaceAll(',', ',,')}`);
        const id = str(p, 'id');
        if (id !== undefined) drives.set(id, p);
        else anonymousDrives.add(p);
        blockOpts.push({ drive: p });
      }
    }
  }

  const guest = str(nameProps, 'guest');
  if (guest !== undefined) result.name = guest;
  if (result.uuid === undefined && smbiosUuid !== undefined) result.uuid = smbiosUuid;
  result.debugThreads = bool(nameProps, 'debug-threads') ?? false;

  const legacyIds = new LegacyDriveIds();
  for (const { drive, device } of blockOpts) {
    if (device) {
      result.disks.push(deviceDisk(device, { drives, nodes, devices }, warnings));
    } else if (drive) {
      const iface = str(drive, 'if') ?? DEFAULT_IF;
      const name = legacyIds.assign(drive, iface, anonymousDrives.has(drive));
      if (iface === 'none' || iface === 'pflash' || iface === 'mtd') continue; // not a guest disk by itself
      const media = str(drive, 'media');
      result.disks.push({
        name,
        bus: IF_BUS.get(iface) ?? iface,
        deviceType: iface === 'floppy' ? 'floppy' : media === 'cdrom' ? 'cdrom' : 'disk',
        ...legacyBacking(drive, undefined),
        iothread: '',
      });
    }
  }
  for (const list of ['disks', 'iothreads'] as const) {
    if (result[list].length <= MAX_PER_VM) continue;
    warnings.push(`${String(result[list].length)} ${list}: only the first ${String(MAX_PER_VM)} are read`);
    result[list].length = MAX_PER_VM;
  }
  return result;
}

/** Disks or iothreads beyond this are not a real VM (any local user can start a QEMU-named process): bounds the series. */
const MAX_PER_VM = 1024;

/** `-drive` without `if=` uses the machine's default interface: IDE on x86 pc and q35. */
const DEFAULT_IF = 'ide';
const IF_BUS = new Map([['floppy', 'fdc']]);
/** Units per bus for the interfaces that have buses (QEMU's if_max_devs). */
const IF_MAX_DEVS = new Map([['ide', 2], ['scsi', 7]]);

/**
 * Gives a `-drive` without `id=` the id QEMU would (`ide0-hd0`, `ide1-cd0`, `virtio0`): index= or bus=/unit=,
 * else the first free unit on the interface.
 */
class LegacyDriveIds {
  private readonly used = new Set<string>();
  /** Where the last search for a free unit from each start ended: everything before it is taken (keeps n drives O(n)). */
  private readonly searchedTo = new Map<string, number>();

  assign(drive: Props, iface: string, anonymous: boolean): string {
    const max = IF_MAX_DEVS.get(iface) ?? 0;
    let index = int(drive, 'index');
    if (index === undefined) {
      const bus = int(drive, 'bus') ?? 0;
      const unit = int(drive, 'unit');
      index = max > 0 ? bus * max + (unit ?? 0) : (unit ?? 0);
      if (unit === undefined) {
        const from = `${iface}:${index}`;
        index = this.searchedTo.get(from) ?? index;
        while (this.used.has(`${iface}:${index}`)) index++;
        this.searchedTo.set(from, index);
      }
    }
    this.used.add(`${iface}:${index}`);
    if (!anonymous) return str(drive, 'id')!;
    const media = iface === 'ide' || iface === 'scsi' ? (str(drive, 'media') === 'cdrom' ? '-cd' : '-hd') : '';
    return max > 0 ? `${iface}${Math.floor(index / max)}${media}${index % max}` : `${iface}${media}${index}`;
  }
}

interface Backing { source: string; cache: string; io: string }

interface Config { drives: Map<string, Props>; nodes: Map<string, Props>; devices: Map<string, Props> }

function deviceDisk(device: Props, config: Config, warnings: string[]): DiskSpec {
  const driver = str(device, 'driver') ?? '';
  const driveRef = str(device, 'drive')!;
  const writeCache = bool(device, 'write-cache');
  const drive = config.drives.get(driveRef);
  let backing: Backing;
  if (drive) {
    backing = legacyBacking(drive, writeCache);
  } else if (config.nodes.has(driveRef)) {
    backing = blockdevBacking(config.nodes, driveRef, writeCache, warnings);
  } else {
    warnings.push(`-device ${driver}: drive ${driveRef} not defined`);
    backing = { source: '', cache: 'default', io: 'default' };
  }
  const bus = deviceBus(driver);
  return {
    name: str(device, 'id') ?? driveRef,
    bus,
    deviceType: deviceType(driver, drive && str(drive, 'media')),
    ...backing,
    iothread: bus === 'scsi' ? controllerIothread(device, config.devices) : bus === 'virtio' ? (str(device, 'iothread') ?? '') : '',
  };
}

function deviceBus(driver: string): string {
  if (driver.startsWith('scsi-')) return 'scsi';
  if (driver.startsWith('virtio-blk')) return 'virtio';
  if (driver.startsWith('ide-')) return 'ide';
  if (driver === 'usb-storage') return 'usb';
  if (driver === 'floppy') return 'fdc';
  if (driver === 'nvme' || driver === 'nvme-ns') return 'nvme';
  if (driver === 'sd-card') return 'sd';
  return '';
}

function deviceType(driver: string, media: string | undefined): string {
  if (driver === 'scsi-block' || driver === 'scsi-generic') return 'lun';
  if (driver === 'scsi-cd' || driver === 'ide-cd') return 'cdrom';
  if (driver === 'floppy') return 'floppy';
  // generic drivers (scsi-disk, ide-drive) follow the drive's media
  return media === 'cdrom' ? 'cdrom' : 'disk';
}

/** A SCSI disk runs in its controller's iothread: its bus `CTRL.N` names the controller device `CTRL`. */
function controllerIothread(device: Props, devices: Map<string, Props>): string {
  const bus = str(device, 'bus');
  const dot = bus?.lastIndexOf('.') ?? -1;
  const controller = bus && dot > 0 ? devices.get(bus.slice(0, dot)) : undefined;
  return (controller && str(controller, 'iothread')) ?? '';
}

function legacyBacking(drive: Props, writeCache: boolean | undefined): Backing {
  const cache = str(drive, 'cache');
  return {
    source: localPath(str(drive, 'file') ?? ''),
    cache: cache !== undefined
      ? withWriteCache(cache, writeCache)
      : cacheMode(bool(drive, 'cache.direct'), bool(drive, 'cache.no-flush'), writeCache),
    io: str(drive, 'aio') ?? 'default',
  };
}

/** A `-drive file=` value is a host path unless it has a protocol prefix (`nbd:`, `rbd:`, `iscsi://`, `json:`). */
function localPath(file: string): string {
  const m = /^([A-Za-z0-9_+.-]+):/.exec(file);
  if (!m) return file;
  const protocol = m[1]!;
  return protocol === 'file' || protocol === 'host_device' || protocol === 'host_cdrom' ? file.slice(m[0].length) : '';
}

/** Storage drivers whose `filename` is a host path. */
const LOCAL_DRIVERS = new Set(['file', 'host_device', 'host_cdrom']);
/** Bounds the walk down `file` children: a cyclic or absurd chain is a broken command line. */
const MAX_CHAIN = 16;

/**
 * Walks a -blockdev chain from the node a device names down its `file` children (a node name or an inline node) to
 * the storage node. Children inherit `cache.direct` and `cache.no-flush` unless they set them, as in QEMU; a flush
 * dropped anywhere in the chain makes the disk unsafe.
 */
function blockdevBacking(nodes: Map<string, Props>, top: string, writeCache: boolean | undefined, warnings: string[]): Backing {
  let node = nodes.get(top);
  let leaf: Props = {};
  let direct: boolean | undefined;
  let noFlush: boolean | undefined;
  let anyNoFlush: boolean | undefined;
  for (let depth = 0; node; depth++) {
    if (depth === MAX_CHAIN) {
      warnings.push(`-blockdev ${top}: chain deeper than ${MAX_CHAIN} nodes`);
      break;
    }
    const cache = own(node, 'cache');
    if (isProps(cache)) {
      direct = bool(cache, 'direct') ?? direct;
      noFlush = bool(cache, 'no-flush') ?? noFlush;
    }
    if (noFlush !== undefined) anyNoFlush = (anyNoFlush ?? false) || noFlush;
    leaf = node;
    const file = own(node, 'file');
    node = typeof file === 'string' ? nodes.get(file) : isProps(file) ? file : undefined;
    if (typeof file === 'string' && !node) warnings.push(`-blockdev ${top}: node ${file} not defined`);
  }
  const local = LOCAL_DRIVERS.has(str(leaf, 'driver') ?? '');
  return {
    source: local ? (str(leaf, 'filename') ?? '') : '',
    cache: cacheMode(direct, anyNoFlush, writeCache),
    io: local ? (str(leaf, 'aio') ?? 'default') : 'default',
  };
}

/** Names the cache mode the way libvirt does from QEMU's three switches; `default` when none is set. */
function cacheMode(direct: boolean | undefined, noFlush: boolean | undefined, writeCache: boolean | undefined): string {
  if (direct === undefined && noFlush === undefined && writeCache === undefined) return 'default';
  if (noFlush === true) return 'unsafe';
  return withWriteCache(direct === true ? 'none' : 'writeback', writeCache);
}

/** A device with `write-cache=off` makes the guest see a write-through cache. */
function withWriteCache(cache: string, writeCache: boolean | undefined): string {
  if (writeCache !== false) return cache;
  if (cache === 'none') return 'directsync';
  if (cache === 'writeback') return 'writethrough';
  return cache;
}
