/**
 * QEMU's command-line syntax: how argv splits into options, the `key=value,…` form (with `,,` and implied keys),
 * JSON values, and typed reads of an option's properties. Pure; never throws.
 */
/** Option properties: JSON values, or strings from QEMU's `key=value,...` syntax. */
export type Props = Record<string, unknown>;

export interface Opt {
  name: string;
  value: string;
}

/** QEMU options that take no argument: they must not swallow the next one (from qemu-options.hx, old and new). */
const FLAGS = new Set([
  'h',
  'help',
  'version',
  'S',
  's',
  'snapshot',
  'nographic',
  'full-screen',
  'alt-grab',
  'ctrl-grab',
  'no-quit',
  'no-frame',
  'portrait',
  'sdl',
  'curses',
  'win2k-hack',
  'no-fd-bootchk',
  'no-acpi',
  'no-hpet',
  'usb',
  'nodefaults',
  'nodefconfig',
  'no-user-config',
  'singlestep',
  'no-reboot',
  'no-shutdown',
  'enable-kvm',
  'no-kvm',
  'no-kvm-irqchip',
  'no-kvm-pit',
  'no-kvm-pit-reinjection',
  'enable-nesting',
  'tdf',
  'localtime',
  'std-vga',
  'rtc-td-hack',
  'show-cursor',
  'xen-attach',
  'xen-create',
  'xen-domid-restrict',
  'daemonize',
  'old-param',
  'semihosting',
  'only-migratable',
  'preconfig',
  'enable-fips',
  'mem-prealloc',
  'async-teardown',
  'enable-sync-profile',
]);

/** Options read here; they always take the next argument, as QEMU does, even one starting with '-'. */
const READ = new Set([
  'name',
  'uuid',
  'id',
  'smbios',
  'object',
  'drive',
  'blockdev',
  'device',
  'hda',
  'hdb',
  'hdc',
  'hdd',
  'cdrom',
  'fda',
  'fdb',
]);

/** Options of QEMU's that every management layer passes (libvirt, Proxmox VE, KubeVirt, scripts). */
const QEMU_OPTIONS = new Set([
  'name',
  'uuid',
  'machine',
  'M',
  'accel',
  'enable-kvm',
  'smp',
  'm',
  'cpu',
  'drive',
  'blockdev',
  'device',
  'object',
  'chardev',
  'qmp',
  'mon',
  'nodefaults',
  'display',
  'nographic',
  'vnc',
  'kernel',
]);

/** Legacy shortcuts, as QEMU expands them into `-drive` options. */
export const SHORTCUTS = new Map([
  ['hda', 'index=0,media=disk'],
  ['hdb', 'index=1,media=disk'],
  ['hdc', 'index=2,media=disk'],
  ['hdd', 'index=3,media=disk'],
  ['cdrom', 'index=2,media=cdrom'],
  ['fda', 'if=floppy,index=0'],
  ['fdb', 'if=floppy,index=1'],
]);

/**
 * Splits argv into options. A known flag takes no value, an option read here always takes one, and any other option
 * takes the next argument unless it starts with '-' (an option QEMU did not know when this was written).
 * A bare argument is a disk image, as QEMU reads it (`-hda`).
 */
export function splitOptions(argv: readonly string[], warnings: string[]): { opts: Opt[]; qemuOptions: boolean } {
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

export function isProps(v: unknown): v is Props {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads an option's value: JSON when it starts with `{` (for the options that accept JSON), else key=value. */
export function readProps(opt: Opt, impliedKey: string | undefined, warnings: string[]): Props | undefined {
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
export function nest(flat: Props): Props {
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
export function own(p: Props, key: string): unknown {
  return Object.hasOwn(p, key) ? p[key] : undefined;
}

export function str(p: Props, key: string): string | undefined {
  const v = own(p, key);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

/** A QEMU boolean: JSON true/false or on/off, yes/no, true/false; undefined when unset or anything else. */
export function bool(p: Props, key: string): boolean | undefined {
  const v = own(p, key);
  if (typeof v === 'boolean') return v;
  if (v === 'on' || v === 'yes' || v === 'true') return true;
  if (v === 'off' || v === 'no' || v === 'false') return false;
  return undefined;
}

/** A non-negative integer, from a JSON number or a decimal string. */
export function int(p: Props, key: string): number | undefined {
  const v = own(p, key);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}
