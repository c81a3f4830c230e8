#!/bin/bash
# bench_shared.sh - run bench_shared on two private shmfs mounts over one
# shared file (on tmpfs, standing for a DAX device that two hosts map): A is
# the master, B a replica. Reads and join cost of a 1 GiB region joined
# through B's tree against a raw mmap of the same device bytes, then how
# long B takes to show regions A creates. Puts mounts and files back as
# found (it reuses the test harness, and takes the same machine-wide lock as
# the tests).
# Usage (root): bench/shared/bench_shared.sh [BUILD_DIR]   (default: build)
# Takes about two minutes; needs 1.1 GiB of memory in /dev/shm.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
export SHMFS_SOURCE_ROOT=$top SHMFS_BIN=$build/fs/shmfs TSYS=$build/test/tsys
BENCH=$build/bench/shared/bench_shared
SHMFSCTL=$build/utils/shmfsctl
. "$top/test/harness.sh" >/dev/null
MIB=$((1024 * 1024))
DEV=/dev/shm/shmfs-bench-shared.$$
MB=$T_DIR/mntB
B_PID=

exec 3>&1
b_stop() {
	[ -n "$B_PID" ] || return 0
	mountpoint -q "$MB" && { fusermount3 -u "$MB" 2>/dev/null || umount -l "$MB"; }
	wait "$B_PID" 2>/dev/null
	B_PID=
	# the daemon's own mounts under its backing, deepest first
	for m in $(awk -v b="$T_DIR/backingB" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$T_DIR/backingB"
}
run() {
	"$SHMFSCTL" shared format "$DEV" --size $((1024 * MIB + 64 * MIB)) --master hostA >/dev/null || return 1
	t_mount "shared=$DEV,shared_name=pool,shared_host=hostA" || return 1
	mkdir -p "$MB"
	"$SHMFS_BIN" -f -o "backing=$T_DIR/backingB,allow_other,shared=$DEV,shared_name=pool,shared_host=hostB" \
		"$MB" 2>>"$T_DIR/daemonB.err" &
	B_PID=$!
	t_wait_for 10 mountpoint -q "$MB" || { echo "daemon B did not mount" >&3; return 1; }
	A=$T_MNT/shared/pool B=$MB/shared/pool
	: >"$A/bench" && truncate -s $((1024 * MIB)) "$A/bench" || return 1
	off=$(getfattr --absolute-names --only-values -n user.shmfs.shared.offset "$B/bench") || return 1
	echo "device $DEV (tmpfs), region shared/pool/bench at offset $off, joined through the replica" >&3
	"$BENCH" reads "$B/bench" "$DEV" "$off" >&3 || return 1
	: >"$A/lat" && truncate -s $((2 * MIB)) "$A/lat" || return 1
	SHMFS_PATH=$MB "$BENCH" join shared/pool/lat "$DEV" "$(getfattr --absolute-names --only-values -n user.shmfs.shared.offset "$B/lat")" >&3 ||
		return 1
	"$BENCH" visible "$A" "$B" 500 >&3 || return 1
}
run
status=$?
b_stop
t_umount
rm -f "$DEV"
exit $status
