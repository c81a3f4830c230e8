#!/bin/bash
# deps.sh - install what building and testing shmfs needs on Debian 12 and 13, and
# only what is missing. Safe to run again.
set -euo pipefail

packages=(
	# build
	gcc meson ninja-build pkg-config libfuse3-dev libnuma-dev libcmocka-dev
	# run: fusermount3 and mount.fuse3
	fuse3
	# tests: getfattr/setfattr, numactl, setpriv/mountpoint, fuser, a JSON parser for --json checks
	attr numactl util-linux psmisc python3
	# tests: ps (procps), systemd-escape for the mount unit's name (systemd), useradd (passwd)
	procps systemd passwd
	# tests: a real Prometheus text parser for shmfsctl info --prometheus
	python3-prometheus-client
	# the qemu tests (test/vm): qemu, a Debian kernel, busybox, cpio
	qemu-system-x86 linux-image-amd64 busybox-static cpio
	# the DPDK test (test/fs/dpdk.sh): the real dpdk-test on the backing store
	dpdk
	# hugeadm on the same pools (test/fs/hugeadm.sh)
	libhugetlbfs-bin
	# the heap's libFuzzer target (test/fuzz): clang and its fuzzer runtime
	clang libclang-rt-dev
	# the heap benchmark's shared-memory peer (bench/heap/bench_boost.cpp):
	# Boost.Interprocess, header-only, and a C++ compiler
	g++ libboost-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# dpdk-test is in the dpdk package up to Debian 12 and in dpdk-dev from
# Debian 13 on.
if ! command -v dpdk-test >/dev/null && [ "$(id -u)" -eq 0 ]; then
	echo "deps.sh: installing dpdk-dev (dpdk-test)"
	[ ${#missing[@]} -gt 0 ] || apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
fi
# fusermount3 reads the mount table through /etc/mtab, which a fresh chroot
# or container may lack.
[ -e /etc/mtab ] || ln -s ../proc/self/mounts /etc/mtab
# FUSE needs the module (built in on most kernels) and /dev/fuse.
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
