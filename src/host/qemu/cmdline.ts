/**
 * A model of a QEMU command line: VM identity, iothreads, thread-pool limits and disks.
 *
 * Pure: input is the process's argv, output a record. No input throws (not even ParseError): a weird argv only
 * yields less, and an option whose value cannot be read (malformed JSON, a dangling drive reference) is skipped
 * and described in `warnings`.
 */
import type { DiskSpec } from './disk-spec.js';
import { qmpSocketsOf } from './qmp-sockets.js';
import { disksOf, type BlockOption, type Declared } from './disks.js';
import {
  bool,
  int,
  own,
  parseKeyval,
  readProps,
  nest,
  SHORTCUTS,
  splitOptions,
  str,
  type Props,
} from './option-syntax.js';

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
  /** QMP sockets (control-mode monitors with a path), in argv order: the first is the one to ask. */
  qmpSockets: string[];
  /** Options that were skipped because they could not be read. */
  warnings: string[];
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
  const result: QemuCmdline = {
    debugThreads: false,
    qemuOptions,
    iothreads: [],
    disks: [],
    qmpSockets: qmpSocketsOf(argv),
    warnings,
  };
  let smbiosUuid: string | undefined;
  const nameProps: Props = {};
  const declared: Declared = { drives: new Map(), anonymousDrives: new Set(), nodes: new Map(), devices: new Map() };
  const { drives, anonymousDrives, nodes, devices } = declared;
  const blockOpts: BlockOption[] = []; // candidate disks, in argv order

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
        const p = parseKeyval(
          shortcut === undefined ? opt.value : `${shortcut},file=${opt.value.replaceAll(',', ',,')}`,
        );
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

  result.disks = disksOf(blockOpts, declared, warnings);
  for (const list of ['disks', 'iothreads'] as const) {
    if (result[list].length <= MAX_PER_VM) continue;
    warnings.push(`${String(result[list].length)} ${list}: only the first ${String(MAX_PER_VM)} are read`);
    result[list].length = MAX_PER_VM;
  }
  return result;
}

/** Disks or iothreads beyond this are not a real VM (any local user can start a QEMU-named process): bounds the series. */
const MAX_PER_VM = 1024;
