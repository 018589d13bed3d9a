/**
 * Reads libvirt's per-domain status file (`/run/libvirt/qemu/NAME.xml`: `<domstatus pid>` around the live `<domain>`)
 * or a bare `<domain>` document (`virsh dumpxml`). Pure: text in, record out; throws ParseError for anything else.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { IothreadSpec } from '../qemu/cmdline.js';
import type { DiskSpec } from '../qemu/disk-spec.js';
import { ParseError } from '../parse-error.js';

export interface LibvirtDomain {
  name: string;
  uuid: string;
  /** QEMU's pid, from `<domstatus pid>`; absent for a bare `<domain>` document. */
  pid?: number;
  /** vCPU thread id → vCPU number, from `<domstatus><vcpus><vcpu id pid/>`. */
  vcpuTids: Map<number, number>;
  /** `iothreadN` for each `<iothreadids><iothread id='N'>`, and for the rest of the `<iothreads>` count. */
  iothreads: IothreadSpec[];
  /** `<defaultiothread thread_pool_max>`: the main loop's worker pool limit. */
  mainLoopPoolMax?: number;
  disks: DiskSpec[];
  /** What the management layer above libvirt wrote into `<metadata>`. */
  nova?: NovaInstance;
  /**
   * KubeVirt's `<metadata><kubevirt xmlns="http://kubevirt.io">` is there: the domain is a VMI, named
   * `NAMESPACE_NAME` (its `<uid>` is empty since KubeVirt 0.59: the launcher keeps it in memory).
   */
  kubevirt: boolean;
}

/** OpenStack Nova's `<nova:instance>` (nova/virt/libvirt/config.py): the names its users know the instance by. */
export interface NovaInstance {
  /** The instance's display name. */
  name: string;
  project: string;
  flavor: string;
}

const NOVA_NS = 'http://openstack.org/xmlns/libvirt/nova/1.1';
const KUBEVIRT_NS = 'http://kubevirt.io';

/**
 * An element as fast-xml-parser gives it with every element in an array: attributes under `@_name`, child elements
 * under their name, text under `#text`; an element with neither attributes nor children is just its text.
 */
type XmlNode = Record<string, unknown>;

/** An `<iothreads>` count beyond this is not a real domain; refusing it bounds the work. */
const MAX_IOTHREADS = 10_000;

export function parseLibvirtStatus(xml: string): LibvirtDomain {
  // Entity declarations are the way to entity-expansion attacks; libvirt never writes a DOCTYPE.
  if (/<!(DOCTYPE|ENTITY)/i.test(xml)) throw new ParseError('libvirt XML: DOCTYPE/ENTITY declarations are refused');
  // XML 1.0 allows no control characters but tab and newlines, and no lone surrogates; the validator lets them through.
  const bad = NOT_XML_CHAR.exec(xml);
  if (bad)
    throw new ParseError(
      `libvirt XML: character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} at offset ${String(bad.index)} is not allowed in XML`,
    );
  // The validator catches what the lenient parser would accept: a file cut in the middle while being written.
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- its successor, fast-xml-validator, is not a dependency
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new ParseError(`libvirt XML: malformed at line ${valid.err.line}: ${valid.err.msg}`);
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false, // decoded here, predefined entities only
    ignoreDeclaration: true,
    ignorePiTags: true,
    isArray: (_tag, _path, _leaf, isAttribute) => !isAttribute,
  });
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    throw new ParseError(`libvirt XML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const rootNames = isNode(doc) ? Object.keys(doc) : [];
  const rootName = rootNames[0] ?? '';
  const rootEls = isNode(doc) ? children(doc, rootName) : [];
  if (rootNames.length !== 1 || rootEls.length !== 1)
    throw new ParseError('libvirt XML: expected a single root element');
  const root = rootEls[0]!;

  let domain: XmlNode;
  let pid: number | undefined;
  const vcpuTids = new Map<number, number>();
  if (rootName === 'domstatus') {
    const inner = child(root, 'domain');
    if (!inner) throw new ParseError('libvirt XML: <domstatus> without <domain>');
    domain = inner;
    pid = intAttr(root, 'pid', '<domstatus pid>');
    for (const vcpu of children(child(root, 'vcpus'), 'vcpu')) {
      const id = intAttr(vcpu, 'id', '<vcpu id>');
      const tid = intAttr(vcpu, 'pid', '<vcpu pid>');
      // an offline vCPU has no thread
      if (id !== undefined && tid !== undefined && tid > 0) vcpuTids.set(tid, id);
    }
  } else if (rootName === 'domain') {
    domain = root;
  } else {
    throw new ParseError(`libvirt XML: root element <${rootName}>, expected <domstatus> or <domain>`);
  }

  const name = text(child(domain, 'name'));
  const uuid = text(child(domain, 'uuid'));
  if (name === '') throw new ParseError('libvirt XML: domain without <name>');
  if (uuid === '') throw new ParseError(`libvirt XML: domain ${name} without <uuid>`);

  const metadata = child(domain, 'metadata');
  const result: LibvirtDomain = {
    name,
    uuid,
    vcpuTids,
    iothreads: iothreads(domain),
    disks: disks(child(domain, 'devices')),
    kubevirt: namespaced(metadata, KUBEVIRT_NS) !== undefined,
  };
  if (pid !== undefined) result.pid = pid;
  const nova = namespaced(metadata, NOVA_NS);
  if (nova) {
    const [instance, p] = nova;
    result.nova = {
      name: text(child(instance, `${p}name`)),
      project: text(child(child(instance, `${p}owner`), `${p}project`)),
      flavor: attr(child(instance, `${p}flavor`), 'name') ?? '',
    };
  }
  const mainLoopPoolMax = intAttr(
    child(domain, 'defaultiothread'),
    'thread_pool_max',
    '<defaultiothread thread_pool_max>',
  );
  if (mainLoopPoolMax !== undefined) result.mainLoopPoolMax = mainLoopPoolMax;
  return result;
}

function iothreads(domain: XmlNode): IothreadSpec[] {
  const byId = new Map<number, IothreadSpec>();
  for (const el of children(child(domain, 'iothreadids'), 'iothread')) {
    const id = intAttr(el, 'id', '<iothread id>');
    if (id === undefined) throw new ParseError('libvirt XML: <iothread> without id');
    const poolMax = intAttr(el, 'thread_pool_max', '<iothread thread_pool_max>');
    byId.set(id, poolMax === undefined ? { id: `iothread${id}` } : { id: `iothread${id}`, poolMax });
  }
  const countText = text(child(domain, 'iothreads'));
  const count = countText === '' ? 0 : toInt(countText, '<iothreads>');
  if (count > MAX_IOTHREADS) throw new ParseError(`libvirt XML: <iothreads>${count}</iothreads> is not plausible`);
  // libvirt gives the iothreads it has no <iothreadids> entry for the lowest free ids
  for (let id = 1; byId.size < count; id++) if (!byId.has(id)) byId.set(id, { id: `iothread${id}` });
  return [...byId.entries()].sort(([a], [b]) => a - b).map(([, spec]) => spec);
}

function disks(devices: XmlNode | undefined): DiskSpec[] {
  // A SCSI disk is served by its controller's iothread.
  const scsiIothreads = new Map<string, string>();
  for (const c of children(devices, 'controller')) {
    const iothread = attr(child(c, 'driver'), 'iothread');
    if (attr(c, 'type') === 'scsi' && iothread !== undefined)
      scsiIothreads.set(attr(c, 'index') ?? '0', `iothread${iothread}`);
  }
  return children(devices, 'disk').map((disk) => {
    const target = child(disk, 'target');
    const name = attr(target, 'dev');
    if (name === undefined) throw new ParseError('libvirt XML: <disk> without <target dev>');
    const bus = attr(target, 'bus') ?? '';
    const source = child(disk, 'source');
    const driver = child(disk, 'driver');
    const ownIothread = attr(driver, 'iothread');
    let iothread = '';
    if (ownIothread !== undefined) iothread = `iothread${ownIothread}`;
    else if (bus === 'scsi') iothread = scsiIothreads.get(attr(child(disk, 'address'), 'controller') ?? '0') ?? '';
    return {
      name,
      bus,
      deviceType: attr(disk, 'device') ?? 'disk',
      // network, volume, nvme and vhost-user disks have no host path
      source: attr(source, 'file') ?? attr(source, 'dev') ?? attr(source, 'dir') ?? '',
      cache: attr(driver, 'cache') ?? 'default',
      io: attr(driver, 'io') ?? 'default',
      iothread,
    };
  });
}

/**
 * The child element of `<metadata>` in namespace `uri` (each application owns one), with the prefix its own
 * children use (`nova:`, or '' under a default namespace). The parser keeps prefixes as written, so the
 * namespace is matched by its declaration, not by a prefix an application could change.
 */
function namespaced(metadata: XmlNode | undefined, uri: string): [XmlNode, string] | undefined {
  for (const tag of Object.keys(metadata ?? {})) {
    if (tag.startsWith('@_') || tag === '#text') continue;
    const colon = tag.indexOf(':');
    const prefix = colon < 0 ? '' : tag.slice(0, colon);
    for (const el of children(metadata, tag)) {
      if (attr(el, prefix === '' ? 'xmlns' : `xmlns:${prefix}`) === uri) return [el, prefix === '' ? '' : `${prefix}:`];
    }
  }
  return undefined;
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The child elements called `name`; a text-only element becomes a node holding its text. */
function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const list = node?.[name];
  if (!Array.isArray(list)) return [];
  return list.flatMap((el: unknown) => (isNode(el) ? [el] : typeof el === 'string' ? [{ '#text': el }] : []));
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return typeof v === 'string' ? decodeEntities(v) : undefined;
}

function text(node: XmlNode | undefined): string {
  const v = node?.['#text'];
  return typeof v === 'string' ? decodeEntities(v).trim() : '';
}

function intAttr(node: XmlNode | undefined, name: string, what: string): number | undefined {
  const v = attr(node, name);
  return v === undefined ? undefined : toInt(v, what);
}

function toInt(v: string, what: string): number {
  if (!/^\d{1,15}$/.test(v.trim())) throw new ParseError(`libvirt XML: ${what} is not a number: ${JSON.stringify(v)}`);
  return Number(v.trim());
}

const PREDEFINED = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['apos', "'"],
  ['quot', '"'],
]);

/** Characters outside XML 1.0's Char production (U+FFFD, what invalid UTF-8 decodes to, is allowed). */
const NOT_XML_CHAR =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Decodes XML's predefined entities and character references; other entities are left as written (never expanded). */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (!ref.startsWith('#')) return PREDEFINED.get(ref) ?? whole;
    const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    const char = code <= 0x10ffff ? String.fromCodePoint(code) : '\0';
    if (NOT_XML_CHAR.test(char)) throw new ParseError(`libvirt XML: ${whole} is not an XML character`);
    return char;
  });
}
