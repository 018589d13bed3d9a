/**
 * A QEMU command line's disks, as libvirt would describe them: bus, device type, host source, cache and AIO mode,
 * iothread. From legacy `-drive` (with the ids QEMU gives), `-blockdev` chains and `-device` front ends. Pure.
 */
import type { DiskSpec } from './disk-spec.js';
import { bool, int, isProps, own, str, type Props } from './option-syntax.js';

/** `-drive` without `if=` uses the machine's default interface: IDE on x86 pc and q35. */
const DEFAULT_IF = 'ide';
const IF_BUS = new Map([['floppy', 'fdc']]);
/** Units per bus for the interfaces that have buses (QEMU's if_max_devs). */
const IF_MAX_DEVS = new Map([
  ['ide', 2],
  ['scsi', 7],
]);

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

interface Backing {
  source: string;
  cache: string;
  io: string;
}

/** What the command line declares, by id: legacy `-drive`s (and those without an id), `-blockdev` nodes, `-device`s. */
export interface Declared {
  drives: Map<string, Props>;
  /** `-drive` without id: only a disk with if!=none. */
  anonymousDrives: Set<Props>;
  nodes: Map<string, Props>;
  /** Every -device by id, to find a SCSI disk's controller. */
  devices: Map<string, Props>;
}

/** A candidate disk, in argv order: a -device with a drive=, or a -drive (or a shortcut for one). */
export interface BlockOption {
  drive?: Props;
  device?: Props;
}

/** The guest's disks: each -device with a drive, each -drive with an interface of its own. */
export function disksOf(blockOpts: BlockOption[], declared: Declared, warnings: string[]): DiskSpec[] {
  const disks: DiskSpec[] = [];
  const legacyIds = new LegacyDriveIds();
  for (const { drive, device } of blockOpts) {
    if (device) {
      disks.push(deviceDisk(device, declared, warnings));
    } else if (drive) {
      const iface = str(drive, 'if') ?? DEFAULT_IF;
      const name = legacyIds.assign(drive, iface, declared.anonymousDrives.has(drive));
      if (iface === 'none' || iface === 'pflash' || iface === 'mtd') continue; // not a guest disk by itself
      const media = str(drive, 'media');
      disks.push({
        name,
        bus: IF_BUS.get(iface) ?? iface,
        deviceType: iface === 'floppy' ? 'floppy' : media === 'cdrom' ? 'cdrom' : 'disk',
        ...legacyBacking(drive, undefined),
        iothread: '',
      });
    }
  }
  return disks;
}

function deviceDisk(device: Props, config: Declared, warnings: string[]): DiskSpec {
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
    iothread:
      bus === 'scsi'
        ? controllerIothread(device, config.devices)
        : bus === 'virtio'
          ? (str(device, 'iothread') ?? '')
          : '',
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
    cache:
      cache !== undefined
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
function blockdevBacking(
  nodes: Map<string, Props>,
  top: string,
  writeCache: boolean | undefined,
  warnings: string[],
): Backing {
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
