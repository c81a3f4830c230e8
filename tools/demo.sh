#!/bin/bash
# demo.sh - set up a fresh machine and show shmfs working on a default setup:
# install what is missing, build, mount shmfs on /mnt/shmfs (or $SHMFS_PATH),
# reserve 2 MiB pages by writing a control file, create a region, show its
# extended attributes, share data through it between two processes with
# libshmfs, inspect it with shmfsctl; then put the machine back as it was.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: it mounts shmfs and reserves huge pages" >&2
	exit 1
fi
tools/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

export SHMFS_PATH=${SHMFS_PATH:-/mnt/shmfs}
mnt=$SHMFS_PATH
ctl=build/utils/shmfsctl
share=build/lib/examples/shmfs-share
if mountpoint -q "$mnt" 2>/dev/null; then
	echo "demo.sh: $mnt is already a mount point; set SHMFS_PATH to a free directory" >&2
	exit 1
fi

# The integration tests take this lock too: never change pools under them.
mkdir -p /run/lock
exec 9>/run/lock/shmfs-tests.lock
flock 9

pool=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
pool=/sys/devices/system/node/node0/hugepages/hugepages-${pool}kB/nr_hugepages
saved_pages=$(cat "$pool")
made_dir=
[ -d "$mnt" ] || { mkdir -p "$mnt"; made_dir=1; }
cleanup() {
	set +e
	echo "--- putting the machine back"
	PATH=$PWD/build/fs:$PATH "$ctl" fini -f >/dev/null
	echo "$saved_pages" >"$pool"
	[ -n "$made_dir" ] && rmdir "$mnt"
}
trap cleanup EXIT

show() { printf '\n$ %s\n' "$*"; "$@"; }

PATH=$PWD/build/fs:$PATH show "$ctl" init 1777
show ls -la "$mnt" "$mnt/huge"
echo "+4" >"$mnt/huge/node0/.nr_pages"; echo '$ echo +4 > huge/node0/.nr_pages'
show cat "$mnt/huge/node0/.nr_pages" "$mnt/huge/node0/.free_pages"
show truncate -s 4M "$mnt/huge/node0/demo"
show ls -l "$mnt/huge/node0"
show getfattr -d "$mnt/huge/node0/demo"
show df -h "$mnt/huge/node0"
show "$share" write huge/node0/demo "hello from process $$"
show "$share" read demo
show "$ctl" info
show cat "$mnt/.status"
