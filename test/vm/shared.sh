#!/bin/bash
# shared.sh - one region tree over memory two hosts share (issue 16), across
# two qemu guests at once. The host makes two files, the shared memory (64
# MiB) and a mailbox (1 MiB), and gives both to each guest as
# memory-backend-file share=on objects behind ivshmem-plain devices, so the
# two guests map the same host pages, as hosts map one CXL memory pool. Guest
# A formats the device through its BAR and is the master; guest B is a
# replica (shared-guest.sh has the checks: how soon B sees A's new regions,
# bytes and attributes alike, EROFS on B, a heap both allocate in at once,
# A's daemon killed while creating; they take turns through the mailbox). lib.sh builds the one initramfs both boot, runs them and turns
# their checks into this test's TAP, each prefixed with its guest's name.
#
# Environment (meson sets the first ones): SHMFS_BIN, SHMFSCTL_BIN, TSYS,
# TJOIN, HEAPTOOL, VMSHARED, SHMFS_SOURCE_ROOT; SHMFS_VM_TIMEOUT (seconds,
# default 400); lib.sh lists the others.
set -uo pipefail

: "${SHMFS_BIN:?run through meson test}" "${SHMFSCTL_BIN:?}" "${TSYS:?}" "${TJOIN:?}" \
	"${HEAPTOOL:?}" "${VMSHARED:?}"
. "$(dirname "$0")/lib.sh"
timeout_s=${SHMFS_VM_TIMEOUT:-400}

vm_init
for v in TJOIN HEAPTOOL VMSHARED; do
	vm_add_binary "${!v}" || vm_bail "cannot copy ${!v} and its libraries into the initramfs"
	vm_env "$v" "${!v}"
done
vm_initramfs "$vm_here/shared-guest.sh"
vm_accel

# The memory the guests share: sparse files in the work directory (only what
# the guests touch takes room), made zero again before each boot.
vm_reset() {
	rm -f "$work/shared.mem" "$work/mailbox.mem" &&
		truncate -s 64M "$work/shared.mem" && truncate -s 1M "$work/mailbox.mem"
}

# Two CPUs each: with one, TCG emits a guest's atomic instructions as plain
# loads and stores (nothing else runs in that qemu), and the heap's atomics
# would not be atomic against the other guest. 256 MiB is plenty for the
# kernel, the initramfs and shmfs.
guest_args() {
	local -n args=qemu_args_$1
	args=(
		-accel "$accel" -cpu "$cpu" -smp 2 -m 256M
		-object memory-backend-file,id=shm,mem-path="$work/shared.mem",size=64M,share=on
		-device ivshmem-plain,memdev=shm
		-object memory-backend-file,id=mbox,mem-path="$work/mailbox.mem",size=1M,share=on
		-device ivshmem-plain,memdev=mbox
		-kernel "$kernel" -initrd "$work/initrd.cpio"
		-append "console=ttyS0 panic=-1 oops=panic shmfs_role=$1 ${SHMFS_VM_APPEND:-}"
		$(vm_serial "$1")
	)
}
guest_args A
guest_args B
echo "# kernel $kernel, accel $accel, initramfs $(du -k "$work/initrd.cpio" | cut -f1) KiB"
echo "# qemu-system-x86_64 ${qemu_args_A[*]}"

vm_run "$timeout_s" A B
vm_report A B
