#!/bin/bash
# bench_join.sh - run bench_join on a private shmfs mount: a 1 GiB region on
# 2 MiB pages joined through libshmfs, a raw hugetlbfs file and a 4 KiB-page
# tmpfs file of the same size, then join latency. Reserves the huge pages it
# needs and puts pools and mounts back as found (it reuses the test
# harness, and takes the same machine-wide lock as the tests).
# Usage (root): bench/lib/bench_join.sh [BUILD_DIR]   (default: build)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
export SHMFS_SOURCE_ROOT=$top SHMFS_BIN=$build/fs/shmfs TSYS=$build/test/tsys
BENCH=$build/bench/lib/bench_join
. "$top/test/harness.sh" >/dev/null
GIB=$((1024 * 1024 * 1024))

exec 3>&1
run() {
	t_pool_grow huge 0 $((2 * 512 + 2)) || { echo "cannot reserve 2 GiB of 2 MiB pages on node 0" >&3; return 1; }
	t_mount || return 1
	export SHMFS_PATH=$T_MNT
	truncate -s $GIB "$T_MNT/huge/node0/bench" || return 1
	truncate -s $((2 * 1024 * 1024)) "$T_MNT/huge/node0/lat" || return 1

	raw=$T_DIR/raw
	mkdir -p "$raw/huge" "$raw/tmpfs"
	mount -t hugetlbfs -o pagesize=2M none "$raw/huge" || return 1
	mount -t tmpfs -o huge=never,size=$((GIB + 4096)) none "$raw/tmpfs" || { umount "$raw/huge"; return 1; }
	truncate -s $GIB "$raw/huge/f" "$raw/tmpfs/f"
	"$BENCH" reads huge/node0/bench "$raw/huge/f" "$raw/tmpfs/f" >&3
	status=$?
	rm -f "$raw/huge/f" "$raw/tmpfs/f"
	umount "$raw/huge" "$raw/tmpfs"
	[ $status -eq 0 ] || return $status
	"$BENCH" latency "$T_MNT/huge/node0/lat" \
		"$(getfattr --only-values -n user.shmfs.backing "$T_MNT/huge/node0/lat")" >&3
}
run
status=$?
rm -f "$T_MNT/huge/node0/bench" "$T_MNT/huge/node0/lat"
exit $status
