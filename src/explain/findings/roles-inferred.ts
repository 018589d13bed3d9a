/** roles_inferred: how roles were told apart when QEMU does not name its threads. */
import type { VmSnapshot } from '../../model/snapshot.js';
import type { Finding } from './finding.js';
import { roleSnapshot } from './points.js';

/** Without debug-threads QEMU's threads all carry the process name: say how roles were told apart. */
export function rolesInferred(vm: VmSnapshot): Finding {
  const other = roleSnapshot(vm, 'other')?.threads ?? 0;
  const how =
    vm.identity.source === 'libvirt'
      ? "vCPUs from libvirt's vCPU thread IDs, iothreads and their workers from libvirt's cgroups (the first thread in an iothread's group is the iothread, later ones its workers), the main loop from its thread ID (the PID)"
      : 'only the main loop (its thread ID is the PID), kernel threads and vhost threads (named by the kernel); no libvirt status file names this VM';
  return {
    id: 'roles_inferred',
    severity: 'info',
    subject: 'thread roles',
    summary: `debug-threads is off, so QEMU's threads all carry the process name and roles were inferred: ${how}. ${String(other)} thread${other === 1 ? ' is' : 's are'} 'other'.`,
    evidence: [{ what: "threads of role 'other'", value: other, unit: '' }],
    advice:
      'Start QEMU with -name guest=NAME,debug-threads=on (libvirt does so for every QEMU that supports it) to have every thread named by its role.',
  };
}
