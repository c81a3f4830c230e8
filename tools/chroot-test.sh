#!/bin/bash
# chroot-test.sh - run the README's test command on a fresh Debian of another
# release, as a newcomer would: a Debian root made with debootstrap (the
# kernel is this machine's), a fresh clone of this checkout's HEAD in its
# /root (mode 0700), then `tools/test.sh` there as root. Prints the run's
# output; its last line is test.sh's "N passed, N failed".
#
#   tools/chroot-test.sh [SUITE [COMMAND]]    SUITE: trixie (default), bookworm, ...
#
# The base root is made once a day and kept under /var/cache/shmfs-chroot
# (SHMFS_CHROOT_CACHE), with the packages deps.sh downloads, so a rerun
# starts in seconds; every run works on its own copy of it, thrown away
# afterwards. Everything runs in a private mount and PID namespace: the
# mounts it makes (/proc, /sys, /dev, /run/lock, the package cache) and the
# processes it starts go away with it even when it is killed, and a trap
# unmounts them on any exit. /run/lock is the host's, so the chroot's tests
# and the host's take the same machine-wide test lock.
# SHMFS_CHROOT_MIRROR picks the Debian mirror (default deb.debian.org).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

suite=${1:-trixie}
cmd=${2:-tools/test.sh}
cache=${SHMFS_CHROOT_CACHE:-/var/cache/shmfs-chroot}
mirror=${SHMFS_CHROOT_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
	echo "chroot-test.sh: run as root: it makes a chroot and mounts into it" >&2
	exit 1
fi
case $suite in
*[!a-z0-9-]* | "") echo "chroot-test.sh: bad suite name '$suite'" >&2; exit 2 ;;
esac
# Outside the namespaces: what this script needs on the host, installed when
# missing (a fresh Debian has neither debootstrap nor, often, git). The key
# ring lets debootstrap check the suite's Release signature.
if [ "${SHMFS_CHROOT_INNER:-}" != 1 ]; then
	missing=()
	for p in debootstrap git debian-archive-keyring; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "chroot-test.sh: installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
for t in debootstrap git unshare; do
	command -v "$t" >/dev/null || { echo "chroot-test.sh: $t is missing (apt-get install debootstrap git util-linux)" >&2; exit 1; }
done

# Inside the namespaces (re-executed by the code at the bottom).
if [ "${SHMFS_CHROOT_INNER:-}" = 1 ]; then
	root=$SHMFS_CHROOT_ROOT
	mounted=()
	undo() {
		local i
		for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
			umount -l "${mounted[i]}" 2>/dev/null || true
		done
	}
	trap undo EXIT
	bind() {   # bind SRC DEST-IN-ROOT [ro]
		mkdir -p "$root$2"
		mount --bind "$1" "$root$2"
		mounted+=("$root$2")
		[ "${3:-}" = ro ] && mount -o remount,bind,ro "$root$2"
		return 0
	}
	# nothing mounted here reaches the host
	mount --make-rprivate /
	# the root a test sees is a mount point, as on a real machine (unshare
	# --propagation and mount --make-private need one)
	mount --bind "$root" "$root"; mounted+=("$root")
	mount -t proc proc "$root/proc"; mounted+=("$root/proc")
	bind /sys /sys   # writable: the tests set the huge page pools
	bind /dev /dev
	bind /dev/pts /dev/pts
	[ -d /dev/hugepages ] && bind /dev/hugepages /dev/hugepages
	bind "$cache/$suite-apt" /var/cache/apt/archives
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"; mounted+=("$root/tmp")
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"; mounted+=("$root/run")
	# the host's lock directory, so both take the same test lock
	mkdir -p /run/lock
	bind /run/lock /run/lock
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /root/shmfs && $cmd"
	exit $?
fi

# The base root of the day: made once, kept.
mkdir -p "$cache"
base=$cache/$suite-$(date -u +%Y%m%d)
if [ ! -x "$base/bin/bash" ]; then
	echo "=== debootstrap $suite into $base"
	rm -rf "$base.tmp"
	if ! debootstrap --variant=minbase "$suite" "$base.tmp" "$mirror" >"$cache/$suite.debootstrap.log" 2>&1; then
		tail -n 30 "$cache/$suite.debootstrap.log" >&2
		rm -rf --one-file-system "$base.tmp"
		exit 1
	fi
	# no service starts in the chroot when packages install
	printf '#!/bin/sh\nexit 101\n' >"$base.tmp/usr/sbin/policy-rc.d"
	chmod 755 "$base.tmp/usr/sbin/policy-rc.d"
	mv "$base.tmp" "$base"
	# older bases are stale
	for old in "$cache/$suite"-[0-9]*; do
		[ "$old" = "$base" ] || rm -rf --one-file-system "$old"
	done
fi
mkdir -p "$cache/$suite-apt/partial"

# This run's root: a copy of the base, a fresh clone in /root.
work=$(mktemp -d "/var/tmp/shmfs-chroot-$suite.XXXXXX")
inner=
cleanup() {
	# stopped early: end the run (its namespaces end every process in it)
	if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
		kill -KILL "$inner" 2>/dev/null
		wait "$inner" 2>/dev/null || true   # (set -e: its status is not ours)
	fi
	# the namespace is gone by now and took its mounts along; nothing is
	# mounted under $work in this namespace, so this removes only the copy
	if [ -n "$(awk -v w="$work/" 'index($2, w) == 1' /proc/mounts)" ]; then
		echo "chroot-test.sh: mounts left under $work; not removing it" >&2
		return
	fi
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -a "$base/." "$work/"
cp /etc/resolv.conf "$work/etc/resolv.conf" 2>/dev/null || true
chmod 700 "$work/root"
git clone -q "$top" "$work/root/shmfs"
echo "=== $suite: $(cat "$work/etc/debian_version"); clone of $(git -C "$top" rev-parse --short HEAD) in /root/shmfs; running: $cmd"

# Run inside new mount and PID namespaces: when the command ends (or this
# script is killed) every process and mount of the run ends with them.
rc=0
SHMFS_CHROOT_INNER=1 SHMFS_CHROOT_ROOT=$work \
	unshare --mount --pid --fork --kill-child -- "$0" "$suite" "$cmd" </dev/null &
inner=$!
wait "$inner" || rc=$?
inner=
exit $rc
