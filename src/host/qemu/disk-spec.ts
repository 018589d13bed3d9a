/** One guest disk as configured (libvirt status XML or QEMU command line), before host-device resolution. */
export interface DiskSpec {
  /** Label value: libvirt's target dev (`sdc`, `vda`); from a bare command line, the device id, else the drive id / node-name. */
  name: string;
  /** Guest bus: `scsi`, `virtio`, `ide`, `sata`, `usb`, … ('' when unknown). */
  bus: string;
  /** `disk`, `lun` (SCSI passthrough, e.g. scsi-block), `cdrom`, `floppy`. */
  deviceType: string;
  /** Host path of the backing file or block device ('' when none: empty CD-ROM, network disk). */
  source: string;
  /** Cache mode as configured: none|writeback|writethrough|directsync|unsafe, or `default` when unset. */
  cache: string;
  /** AIO mode as configured: native|threads|io_uring, or `default` when unset. */
  io: string;
  /** QEMU id of the iothread serving the disk (`iothread1`), '' when it runs in the main loop. */
  iothread: string;
}
