/** libvirt-like status files (`/run/libvirt/qemu/NAME.xml`) for tests that play libvirt. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A libvirt 9-like status file of a running domain: QEMU's pid, its vCPU thread ids, one iothread, one disk. */
export function statusXml(name: string, pid: number, vcpuTids: readonly number[] = [pid + 1, pid + 2]): string {
  const esc = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${String(c.charCodeAt(0))};`);
  const vcpus = vcpuTids.map((tid, id) => `    <vcpu id='${String(id)}' pid='${String(tid)}'/>`).join('\n');
  return `<domstatus state='running' reason='booted' pid='${String(pid)}'>
  <vcpus>
${vcpus}
  </vcpus>
  <domain type='kvm' id='1'>
    <name>${esc(name)}</name>
    <uuid>5a1b0e7e-1ab0-4a11-b0c5-${String(pid % 1e12).padStart(12, '0')}</uuid>
    <vcpu placement='static'>${String(vcpuTids.length)}</vcpu>
    <iothreads>1</iothreads>
    <devices>
      <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/><source file='/nonexistent/${esc(name)}.raw'/><target dev='vda' bus='virtio'/></disk>
    </devices>
  </domain>
</domstatus>
`;
}

/** Writes `dir/file` the way libvirt does: a new file renamed over the old one. */
export function writeStatusFile(dir: string, file: string, xml: string): void {
  writeFileSync(join(dir, `.${file}.new`), xml);
  renameSync(join(dir, `.${file}.new`), join(dir, file));
}

/**
 * The status file a KubeVirt pod's libvirt 9 writes for VMI `domain` (`NAMESPACE_NAME`): the captured libvirt 9
 * status file (test/fixtures/samples/libvirt-9.0-kvm) renamed, with the pod's QEMU pid and vCPU TIDs, and the
 * `<kubevirt>` element KubeVirt puts in `<metadata>` (its `<uid>` empty since KubeVirt 0.59).
 */
export function kubevirtStatusXml(domain: string, pid: number, vcpuTids: [number, number], diskPath?: string): string {
  const sample = readFileSync(
    new URL('../fixtures/samples/libvirt-9.0-kvm/run-libvirt-qemu-labvm.status.xml', import.meta.url),
    'utf8',
  );
  let xml = sample
    .replaceAll('labvm', domain)
    .replace("pid='18551'", `pid='${String(pid)}'`)
    .replace("pid='18558'", `pid='${String(vcpuTids[0])}'`)
    .replace("pid='18559'", `pid='${String(vcpuTids[1])}'`)
    .replace(
      /(<domain type='kvm' id='\d+'>\s*<name>[^<]*<\/name>\s*<uuid>[^<]*<\/uuid>)/,
      '$1\n    <metadata>\n      <kubevirt xmlns="http://kubevirt.io">\n        <uid></uid>\n      </kubevirt>\n    </metadata>',
    );
  if (diskPath !== undefined) xml = xml.replaceAll(`/var/lib/libvirt/images/${domain}-sdc.raw`, diskPath);
  if (!xml.includes('<kubevirt xmlns')) throw new Error('the libvirt sample changed: no place for the metadata');
  return xml;
}
