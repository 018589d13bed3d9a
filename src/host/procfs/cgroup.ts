/**
 * Reads the libvirt thread group of a QEMU thread from /proc/PID/task/TID/cgroup: `vcpuN`, `iothreadN` or
 * `emulator`, or undefined when the thread is not in a libvirt-managed QEMU cgroup.
 *
 * Each line is `hierarchy-ID:controller-list:path`. The leaf must sit directly in one of libvirt's machine groups:
 * - `…/qemu-1-labvm.libvirt-qemu/vcpu0`                             (no systemd; v1 or v2)
 * - `…/machine-qemu\x2d1\x2dlabvm.scope/libvirt/vcpu0`             (systemd, libvirt ≥ 8.x nests a `libvirt` group)
 * - `…/machine-qemu\x2d1\x2dlabvm.scope/vcpu0`                     (systemd, older libvirt)
 * The `\x2d` escapes are systemd's and are left as they are: only the leaf is returned.
 *
 * A last line without its newline is ignored: it may have been cut.
 * Line preference: the v2 line (`0::`) when it yields a leaf, else a `cpu`/`cpuacct`/`cpuset` line (where libvirt
 * places vCPU/iothread groups on v1), else any other line.
 * Runs for every thread on every scrape: scans with indexOf and compares in place; the only string built is the leaf.
 */
export function parseLibvirtCgroup(text: string): string | undefined {
  let cpuLeaf: string | undefined;
  let otherLeaf: string | undefined;
  const len = text.length;
  let pos = 0;
  while (pos < len) {
    const eol = text.indexOf('\n', pos);
    // Every line ends with a newline: one without may have been cut (`vcpu12` → `vcpu1`), so it is not used.
    if (eol < 0) break;
    const c1 = text.indexOf(':', pos);
    const c2 = c1 < 0 || c1 >= eol ? -1 : text.indexOf(':', c1 + 1);
    // Lines without two colons are not cgroup lines: skip them rather than fail, the answer is only a hint.
    if (c2 >= 0 && c2 < eol) {
      const leaf = leafOf(text, c2 + 1, eol);
      if (leaf !== undefined) {
        if (c1 === pos + 1 && text.charCodeAt(pos) === 0x30 /* '0' */ && c2 === c1 + 1) return leaf;
        if (hasCpuController(text, c1 + 1, c2)) cpuLeaf ??= leaf;
        else otherLeaf ??= leaf;
      }
    }
    pos = eol + 1;
  }
  return cpuLeaf ?? otherLeaf;
}

/** The libvirt leaf of the cgroup path text[start, end), if the path has one of the layouts above. */
function leafOf(text: string, start: number, end: number): string | undefined {
  const slash = text.lastIndexOf('/', end - 1);
  if (slash <= start) return undefined; // the root, or a path with no parent directory
  const leafStart = slash + 1;
  if (!isRoleName(text, leafStart, end)) return undefined;
  const parentSlash = text.lastIndexOf('/', slash - 1);
  if (parentSlash < start) return undefined;
  if (isMachineGroup(text, parentSlash + 1, slash)) return text.slice(leafStart, end);
  // systemd layout with libvirt's nested group: …/machine-qemu….scope/libvirt/LEAF
  if (slash - parentSlash - 1 === 7 && text.startsWith('libvirt', parentSlash + 1)) {
    const grandSlash = text.lastIndexOf('/', parentSlash - 1);
    if (grandSlash >= start && isMachineGroup(text, grandSlash + 1, parentSlash)) return text.slice(leafStart, end);
  }
  return undefined;
}

/** `qemu-N-NAME.libvirt-qemu` (libvirt without systemd) or `machine-qemu….scope` (systemd-machined). */
function isMachineGroup(text: string, start: number, end: number): boolean {
  if (text.endsWith('.libvirt-qemu', end) && end - start > 13) return true;
  return text.startsWith('machine-qemu', start) && text.endsWith('.scope', end) && end - start > 18;
}

/** `emulator`, `vcpuN` or `iothreadN` exactly. */
function isRoleName(text: string, start: number, end: number): boolean {
  const n = end - start;
  if (n === 8 && text.startsWith('emulator', start)) return true;
  let digits: number;
  if (text.startsWith('vcpu', start)) digits = start + 4;
  else if (text.startsWith('iothread', start)) digits = start + 8;
  else return false;
  if (digits >= end) return false;
  for (let i = digits; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Whether the comma-separated controller list text[start, end) names cpu, cpuacct or cpuset. */
function hasCpuController(text: string, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    let comma = text.indexOf(',', i);
    if (comma < 0 || comma > end) comma = end;
    const n = comma - i;
    if (n === 3 && text.startsWith('cpu', i)) return true;
    if (n === 6 && text.startsWith('cpuset', i)) return true;
    if (n === 7 && text.startsWith('cpuacct', i)) return true;
    i = comma + 1;
  }
  return false;
}
