#!/bin/bash
# vm.sh - the multi-NUMA-node test, host side. This machine has one NUMA node,
# so nothing here can show that a region in node1/ really sits on node 1. This
# script boots a small qemu guest with three nodes (two with a CPU each, one
# with memory only, like CXL-attached memory), runs shmfs inside it (guest.sh)
# and re-emits the guest's checks as this test's TAP (lib.sh: the kernel, the
# initramfs, booting, the report). -cpu max gives the guest 1 GiB pages
# (pdpe1gb), so all three page types exist in it.
#
# Environment (meson sets the first ones): SHMFS_BIN, SHMFSCTL_BIN, TSYS,
# VMNUMA, SHMFS_SOURCE_ROOT; SHMFS_VM_TIMEOUT (seconds, default 420),
# SHMFS_VM_GUEST runs another guest script; lib.sh lists the others.
set -uo pipefail

: "${SHMFS_BIN:?run through meson test}" "${SHMFSCTL_BIN:?}" "${TSYS:?}" "${VMNUMA:?}"
. "$(dirname "$0")/lib.sh"
timeout_s=${SHMFS_VM_TIMEOUT:-420}

vm_init
vm_add_binary "$VMNUMA" || vm_bail "cannot copy $VMNUMA and its libraries into the initramfs"
vm_env VMNUMA "$VMNUMA"
vm_initramfs "${SHMFS_VM_GUEST:-$vm_here/guest.sh}"
vm_accel

# Node 0 and 1: one CPU and 1 GiB each. Node 2: 3 GiB and no CPU, with one
# 1 GiB page reserved at boot: a gigantic page needs a free, aligned GiB,
# which a small guest's nodes never have once it runs (early boot allocations
# sit at the top of memory, node 2's last GiB; the one before stays free).
# Memory the guest never touches costs the host nothing.
qemu_args_guest=(
	-accel "$accel" -cpu "$cpu" -smp 2 -m 5G
	-object memory-backend-ram,id=m0,size=1G
	-object memory-backend-ram,id=m1,size=1G
	-object memory-backend-ram,id=m2,size=3G
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	-numa node,nodeid=2,memdev=m2
	-kernel "$kernel" -initrd "$work/initrd.cpio"
	-append "console=ttyS0 panic=-1 oops=panic hugepagesz=1G hugepages=2:1 ${SHMFS_VM_APPEND:-}"
	$(vm_serial guest)
)
echo "# kernel $kernel, accel $accel, initramfs $(du -k "$work/initrd.cpio" | cut -f1) KiB"
echo "# qemu-system-x86_64 ${qemu_args_guest[*]}"

vm_run "$timeout_s" guest
vm_report guest
