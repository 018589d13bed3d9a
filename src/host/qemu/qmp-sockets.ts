/**
 * The QMP sockets a QEMU command line listens on, as system/vl.c and chardev/ read them (qemu-options.hx: -qmp,
 * -qmp-pretty, -mon, -chardev socket). Pure; never throws: an option that cannot be read just yields no socket.
 */
import { bool, parseKeyval, str, type Props } from './option-syntax.js';

/** Options whose value is always the next argument, even one starting with '-' (QEMU's HAS_ARG). */
const READ = new Set(['qmp', 'qmp-pretty', 'mon', 'chardev']);

/** Socket options under which the peer does not speak plain QMP: telnet, TN3270 or WebSocket framing, TLS. */
const FRAMED = ['telnet', 'tn3270', 'websocket'];

/** One monitor: in control mode (QMP), on a chardev given by id or inline (`-qmp unix:…`). */
type Monitor = { chardev: string } | { inline: Props };

/**
 * The paths of the UNIX sockets on which this QEMU serves QMP, in the order of their monitors on the command line
 * (Proxmox VE: its own `/var/run/qemu-server/VMID.qmp`). Only sockets QEMU listens on (`server=on`) count: one it
 * connects out to (`server` off, `reconnect-ms=`: Proxmox VE's qmeventd) is another program's. A chardev given as
 * `fd=N` (libvirt passes its monitor as an fd) or in the abstract namespace has no path; a readline monitor
 * (`-monitor`, `-mon` without `mode=control`) is HMP. A relative path is relative to QEMU's working directory.
 * Not read: `-readconfig` files.
 */
export function qmpSocketsOf(argv: readonly string[]): string[] {
  const chardevs = new Map<string, Props>();
  const monitors: Monitor[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) continue;
    const name = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const value = argv[i + 1];
    if (!READ.has(name)) {
      // Any other option takes the next argument unless it is an option itself; a flag's image argument is skipped too.
      if (value !== undefined && !value.startsWith('-')) i++;
      continue;
    }
    if (value === undefined) break;
    i++;
    if (name === 'chardev') {
      const p = parseKeyval(value, 'backend');
      const id = str(p, 'id');
      // A second chardev of one id makes QEMU exit; the first one is what a running QEMU has.
      if (id !== undefined && !chardevs.has(id)) chardevs.set(id, p);
    } else if (name === 'mon') {
      const p = parseKeyval(value, 'chardev');
      const chardev = str(p, 'chardev');
      // -mon defaults to HMP (monitor/monitor.c, monitor_init)
      if (chardev !== undefined && str(p, 'mode') === 'control') monitors.push({ chardev });
    } else {
      const monitor = compatMonitor(value);
      if (monitor) monitors.push(monitor);
    }
  }
  const paths: string[] = [];
  for (const m of monitors) {
    const p = 'chardev' in m ? chardevs.get(m.chardev) : m.inline;
    const path = p && listeningPath(p);
    if (path !== undefined && !paths.includes(path)) paths.push(path);
  }
  return paths;
}

/**
 * `-qmp DEV`: `chardev:ID` names a -chardev; anything else is the legacy device syntax (system/vl.c, monitor_parse;
 * chardev/char.c, qemu_chr_parse_compat), of which only `unix:PATH[,server=on|off][,wait=on|off]…` (old QEMUs:
 * `unix:PATH,server,nowait`) is a UNIX socket. A leading `mon:` multiplexes it, and changes nothing here.
 */
function compatMonitor(value: string): Monitor | undefined {
  if (value.startsWith('chardev:')) return { chardev: value.slice('chardev:'.length) };
  const dev = value.startsWith('mon:') ? value.slice('mon:'.length) : value;
  if (!dev.startsWith('unix:')) return undefined;
  return { inline: { ...parseKeyval(dev.slice('unix:'.length), 'path'), backend: 'socket' } };
}

/** The path of a UNIX socket chardev that QEMU listens on and speaks plain QMP on (chardev/char-socket.c, tcp_chr_parse). */
function listeningPath(p: Props): string | undefined {
  const path = str(p, 'path');
  if (str(p, 'backend') !== 'socket' || path === undefined || path === '') return undefined;
  // QEMU refuses a chardev with more than one of path, fd and host.
  if (str(p, 'fd') !== undefined || str(p, 'host') !== undefined) return undefined;
  if (bool(p, 'server') !== true || bool(p, 'abstract') === true) return undefined;
  if (FRAMED.some((k) => bool(p, k) === true) || str(p, 'tls-creds') !== undefined) return undefined;
  return path;
}
