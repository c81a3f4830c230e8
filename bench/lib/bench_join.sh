#!/bin/bash
# bench_join.sh - run bench_join on a private shmfs mount: a 1 GiB region on
# 2 MiB pages joined through libshmfs against a raw mmap of its backing file
# and against a 4 KiB-page tmpfs file of the same size, then join latency. Reserves the huge pages it
# needs and puts pools and mounts back as found (it reuses the test
# harness, and takes the same machine-wide lock as the tests).
# Usage (root): bench/lib/bench_join.sh [BUILD_DIR]   (default: build)
# Takes about two minutes; needs 1 GiB of free 2 MiB pages (reserved and
# released here) and 1 GiB for the tmpfs file.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
export SHMFS_SOURCE_ROOT=$top SHMFS_BIN=$build/fs/shmfs TSYS=$build/test/tsys
BENCH=$build/bench/lib/bench_join
. "$top/test/harness.sh" >/dev/null
GIB=$((1024 * 1024 * 1024))

exec 3>&1
run() {
	t_pool_grow huge 0 $((512 + 1)) || { echo "cannot reserve 1 GiB of 2 MiB pages on node 0" >&3; return 1; }
	t_mount || return 1
	export SHMFS_PATH=$T_MNT
	truncate -s $GIB "$T_MNT/huge/node0/bench" || return 1
	truncate -s $((2 * 1024 * 1024)) "$T_MNT/huge/node0/lat" || return 1

	tmp=$T_DIR/tmpfs
	mkdir -p "$tmp"
	# huge=never: 4 KiB pages even where tmpfs would use THP.
	mount -t tmpfs -o huge=never,size=$((GIB + 4096)) none "$tmp" || return 1
	truncate -s $GIB "$tmp/f"
	"$BENCH" reads huge/node0/bench \
		"$(getfattr --absolute-names --only-values -n user.shmfs.backing "$T_MNT/huge/node0/bench")" \
		"$tmp/f" >&3
	status=$?
	rm -f "$tmp/f"
	umount "$tmp"
	[ $status -eq 0 ] || return $status
	"$BENCH" latency "$T_MNT/huge/node0/lat" \
		"$(getfattr --absolute-names --only-values -n user.shmfs.backing "$T_MNT/huge/node0/lat")" >&3
}
run
status=$?
rm -f "$T_MNT/huge/node0/bench" "$T_MNT/huge/node0/lat"
exit $status
