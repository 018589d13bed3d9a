/**
 * PID 1 of the lab guest (busybox sh). It prints `LAB …` markers on the serial console so the host can tell
 * which fio phase is running, and reads its parameters from the kernel command line, so one initramfs serves
 * every runtime and iodepth list:
 *   lab.runtime=SECONDS   fio's runtime per phase
 *   lab.iodepths=1,8,…    one fio run per iodepth, in this order
 * After `LAB ready` it waits for a line on the console: the host sends `go` once QEMU's worker pool is empty,
 * so the first phase starts from a clean pool. After `LAB done` it waits for another (`bye`, or 60 s) before it
 * powers off: the host may still be asking about the VM.
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin LD_LIBRARY_PATH=/lib
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

runtime=5
iodepths="1 8 32 64"
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lab.runtime=*) runtime="\${arg#lab.runtime=}" ;;
    lab.iodepths=*) iodepths=$(echo "\${arg#lab.iodepths=}" | tr , ' ') ;;
  esac
done

# In dependency order (the kernel package ships no modules.dep; the host computed the order).
for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || echo "LAB error: insmod $m failed"
done
i=0
while [ ! -b /dev/sda ]; do
  i=$((i + 1))
  if [ $i -gt 300 ]; then echo "LAB error: no /dev/sda"; poweroff -f; fi
  sleep 0.1
done

echo "LAB ready"
read -t 120 go
for depth in $iodepths; do
  echo "LAB iodepth=$depth start"
  fio --name=lab --filename=/dev/sda --ioengine=libaio --direct=1 --rw=randread --bs=4k \\
    --iodepth="$depth" --runtime="$runtime" --time_based --output-format=terse
  echo "LAB iodepth=$depth end"
done
echo "LAB done"
read -t 60 bye
poweroff -f
`;
