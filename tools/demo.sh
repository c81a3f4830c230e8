#!/bin/bash
# demo.sh - set up a fresh machine and show shmfs working on a default setup:
# install what is missing, build, mount shmfs on /mnt/shmfs, reserve a few
# 2 MiB pages by writing a control file, create a region, show its xattrs,
# join it with the example program, then put everything back.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: it mounts shmfs and reserves huge pages" >&2
	exit 1
fi
tools/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

mnt=${SHMFS_PATH:-/mnt/shmfs}
huge_pool=$(ls -d /sys/kernel/mm/hugepages/hugepages-* | head -n 1)
saved_pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null || echo 0)
mkdir -p "$mnt"
build/fs/shmfs -o allow_other "$mnt"
cleanup() {
	rm -f "$mnt"/huge/node0/demo 2>/dev/null || true
	[ -e "$mnt/huge/node0/.nr_pages" ] && echo "$saved_pages" >"$mnt/huge/node0/.nr_pages" 2>/dev/null || true
	umount "$mnt" 2>/dev/null || true
	build/utils/shmfsctl fini --backing-only "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

set -x
ls -la "$mnt" "$mnt"/huge
echo +4 >"$mnt/huge/node0/.nr_pages"
cat "$mnt/huge/node0/.nr_pages" "$mnt/huge/node0/.free_pages"
truncate -s 4M "$mnt/huge/node0/demo"
ls -l "$mnt/huge/node0"
getfattr -d "$mnt/huge/node0/demo"
df -h "$mnt/huge/node0"
cat "$mnt/.status"
build/lib/examples/shmfs-share write huge/node0/demo "hello from $$"
build/lib/examples/shmfs-share read huge/node0/demo
build/utils/shmfsctl info
