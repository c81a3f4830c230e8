#!/bin/bash
# vm.sh - the multi-NUMA-node test, host side. This machine has one NUMA node,
# so nothing here can show that a region in node1/ really sits on node 1. This
# script boots a small qemu guest with three nodes (two with a CPU each, one
# with memory only, like CXL-attached memory), runs shmfs inside it and
# re-emits the guest's checks as this test's TAP. -cpu max gives the guest
# 1 GiB pages (pdpe1gb), so all three page types exist in it.
#
# The guest is the Debian kernel installed in /boot (its fuse module loaded
# with insmod) and an initramfs built here, now: busybox-static, the shmfs
# binaries of this build tree with the shared libraries ldd lists, and
# guest.sh, which prints TAP on the second serial port and a final marker,
# then powers off. A "not ok", a missing marker or a timeout fails the test.
#
# Environment (meson sets the first ones): SHMFS_BIN, SHMFSCTL_BIN, TSYS,
# VMNUMA, SHMFS_SOURCE_ROOT; SHMFS_VM_TIMEOUT (seconds, default 420),
# SHMFS_VM_BOOT_TIMEOUT (seconds without any guest output before the boot
# counts as hung and is retried once, default 150),
# SHMFS_VM_KERNEL (a vmlinuz to use instead of the newest in /boot),
# SHMFS_VM_KEEP=1 keeps the work directory (serial logs, initramfs tree),
# SHMFS_VM_GUEST runs another guest script and SHMFS_VM_APPEND adds to the
# kernel command line (for debugging).
set -uo pipefail

: "${SHMFS_BIN:?run through meson test}" "${SHMFSCTL_BIN:?}" "${TSYS:?}" "${VMNUMA:?}"
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${SHMFS_VM_TIMEOUT:-420}

work=$(mktemp -d /tmp/shmfs-vm.XXXXXX)
qemu_pid=
cleanup() {
	if [ -n "$qemu_pid" ]; then
		kill -9 "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	if [ "${SHMFS_VM_KEEP:-0}" = 1 ]; then
		echo "# work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bail() {
	echo "Bail out! $*"
	exit 1
}

# ------------------------------------------------------------ the kernel

# The newest /boot/vmlinuz-* whose modules are installed (the fuse module
# must come from the same build as the kernel).
pick_kernel() {
	local k v best=
	if [ -n "${SHMFS_VM_KERNEL:-}" ]; then
		echo "$SHMFS_VM_KERNEL"
		return
	fi
	for k in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V); do
		v=${k#/boot/vmlinuz-}
		[ -r "$k" ] && [ -f "/lib/modules/$v/modules.dep" ] && best=$k
	done
	echo "$best"
}

kernel=$(pick_kernel)
[ -n "$kernel" ] || bail "no /boot/vmlinuz-* with modules in /lib/modules (tools/deps.sh installs linux-image-amd64)"
kver=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$kver
command -v qemu-system-x86_64 >/dev/null || bail "qemu-system-x86_64 missing (tools/deps.sh installs qemu-system-x86)"
busybox=/bin/busybox   # busybox-static's: the guest has no libc of its own
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	bail "no static /bin/busybox (tools/deps.sh installs busybox-static)"
fi

# ------------------------------------------------------------ the initramfs

root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,run,tmp,mnt,etc,lib/modules}
cp "$busybox" "$root/bin/busybox"
ln -s /proc/self/mounts "$root/etc/mtab"   # libfuse must not try to edit an mtab file

# add_file PATH: copy a file into the guest at the same absolute path.
add_file() {
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

# add_binary PATH: the binary at its own path (so $ORIGIN rpaths resolve as in
# the build tree) plus every shared library ldd resolves, also at their paths.
add_binary() {
	local lib
	add_file "$1" || return 1
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || add_file "$lib" || return 1
	done
}

for b in "$SHMFS_BIN" "$SHMFSCTL_BIN" "$TSYS" "$VMNUMA"; do
	add_binary "$b" || bail "cannot copy $b and its libraries into the initramfs"
done
# GNU df: busybox df statfs()es the mount point, not the path it is given,
# so it cannot show a node directory's pool.
df_bin=$(command -v df)
add_binary "$df_bin" || bail "cannot copy $df_bin into the initramfs"
# glibc dlopen()s libgcc_s for pthread_cancel (libfuse cancels its workers at
# unmount); ldd cannot list it.
libgcc=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ { print $NF; exit }')
[ -n "$libgcc" ] && add_file "$libgcc"
# Optional tools: fusermount3 (libfuse's fallback mounter), numactl -H and
# getfattr -d for the evidence printed as TAP comments.
for b in fusermount3 numactl getfattr; do
	p=$(command -v "$b") && add_binary "$p"
done

# add_module NAME: the module and what it depends on, in load order.
# modules.dep lines read "kernel/fs/fuse/fuse.ko.xz: dep1.ko dep2.ko".
declare -A loaded
add_module() {
	local name=$1 line rel dep out
	line=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1)
	if [ -z "$line" ]; then
		# Built in: nothing to load.
		grep -qE "/$name\.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
		return 1
	fi
	rel=${line%%:*}
	[ -n "${loaded[$rel]:-}" ] && return 0
	for dep in ${line#*:}; do
		add_module "$(basename "${dep%%.ko*}")" || return 1
	done
	loaded[$rel]=1
	out=$root/lib/modules/$(basename "${rel%%.ko*}").ko
	# busybox insmod takes plain .ko files only.
	case $rel in
	*.ko.xz)  "$busybox" xzcat "$moddir/$rel" >"$out" ;;
	*.ko.gz)  "$busybox" zcat "$moddir/$rel" >"$out" ;;
	*.ko.zst) zstd -qdc "$moddir/$rel" >"$out" ;;
	*)        cp "$moddir/$rel" "$out" ;;
	esac || return 1
	basename "$out" >>"$root/modules.list"
}
: >"$root/modules.list"
add_module fuse || bail "no fuse module for kernel $kver"

cp "${SHMFS_VM_GUEST:-$here/guest.sh}" "$root/guest.sh"
cat >"$root/vm.env" <<EOF
SHMFS_BIN='$SHMFS_BIN'
SHMFSCTL_BIN='$SHMFSCTL_BIN'
TSYS='$TSYS'
VMNUMA='$VMNUMA'
DF='$df_bin'
EOF
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755 tmpfs /run
for m in $(cat /modules.list); do
	insmod /lib/modules/$m || echo "init: insmod $m failed" >/dev/ttyS1
done
# The checks talk on ttyS1; ttyS0 carries the kernel's console.
sh /guest.sh >/dev/ttyS1 2>&1
sync
poweroff -f
EOF
chmod 755 "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio" ||
	bail "cannot build the initramfs"

# ------------------------------------------------------------ boot

# KVM only where it really runs a guest (on nested hosts /dev/kvm may exist
# and still fail); otherwise TCG, which every host has.
accel=tcg,thread=multi
if [ -w /dev/kvm ] && [ "${SHMFS_VM_ACCEL:-}" != tcg ]; then
	( timeout 10 qemu-system-x86_64 -accel kvm -cpu host -display none -m 128 -no-reboot \
		-kernel "$kernel" -append "console=ttyS0 panic=-1 rdinit=/nonexistent" \
		-serial file:"$work/kvm-probe.log" -monitor none; true ) >/dev/null 2>&1
	grep -q 'Linux version' "$work/kvm-probe.log" 2>/dev/null && accel=kvm
fi
cpu=max
[ "$accel" = kvm ] && cpu=host

# Node 0 and 1: one CPU and 1 GiB each. Node 2: 3 GiB and no CPU, with one
# 1 GiB page reserved at boot: a gigantic page needs a free, aligned GiB,
# which a small guest's nodes never have once it runs (early boot allocations
# sit at the top of memory, node 2's last GiB; the one before stays free).
# Memory the guest never touches costs the host nothing.
qemu_args=(
	-accel "$accel" -cpu "$cpu" -smp 2 -m 5G
	-object memory-backend-ram,id=m0,size=1G
	-object memory-backend-ram,id=m1,size=1G
	-object memory-backend-ram,id=m2,size=3G
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	-numa node,nodeid=2,memdev=m2
	-kernel "$kernel" -initrd "$work/initrd.cpio"
	-append "console=ttyS0 panic=-1 oops=panic hugepagesz=1G hugepages=2:1 ${SHMFS_VM_APPEND:-}"
	-display none -monitor none -no-reboot -nodefaults
	-serial file:"$work/console.log" -serial file:"$work/tap.log"
)
echo "# kernel $kernel, accel $accel, initramfs $(du -k "$work/initrd.cpio" | cut -f1) KiB"
echo "# qemu-system-x86_64 ${qemu_args[*]}"

# boot_guest LIMIT: run the guest until it powers off or LIMIT seconds pass.
# Returns 0 when it powered off, 1 on the time limit, 2 when it printed no
# check at all within boot_limit seconds (a boot that hung: a healthy one
# prints its first line within some 30 s even on a loaded host).
boot_guest() {
	local limit=$1 t0 now
	: >"$work/tap.log"
	t0=$(date +%s)
	qemu-system-x86_64 "${qemu_args[@]}" >"$work/qemu.out" 2>&1 &
	qemu_pid=$!
	while kill -0 "$qemu_pid" 2>/dev/null; do
		now=$(date +%s)
		if [ $((now - t0)) -ge "$limit" ]; then
			kill -9 "$qemu_pid" 2>/dev/null
			wait "$qemu_pid" 2>/dev/null
			qemu_pid=
			return 1
		fi
		if [ $((now - t0)) -ge "$boot_limit" ] && [ ! -s "$work/tap.log" ]; then
			kill -9 "$qemu_pid" 2>/dev/null
			wait "$qemu_pid" 2>/dev/null
			qemu_pid=
			return 2
		fi
		sleep 1
	done
	wait "$qemu_pid" 2>/dev/null
	qemu_pid=
	return 0
}

# TCG on a loaded host has been seen (once) to hang before the guest printed
# anything; that is the emulator, not shmfs, so such a boot gets one retry,
# reported. A guest that started its checks is never run again.
boot_limit=${SHMFS_VM_BOOT_TIMEOUT:-150}
start=$(date +%s)
boot_guest "$timeout_s"
rc=$?
if [ $rc -eq 2 ]; then
	echo "# the guest printed nothing in ${boot_limit}s (a hung boot); its console ended with:"
	tail -n 15 "$work/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
	echo "# booting it again, once"
	mv "$work/console.log" "$work/console.1.log"
	boot_guest $((timeout_s - boot_limit))
	rc=$?
fi
elapsed=$(( $(date +%s) - start ))
echo "# the guest ran ${elapsed}s"

# ------------------------------------------------------------ results

n=0
fail=0
marker=0
while IFS= read -r line; do
	line=${line%$'\r'}
	case $line in
	"ok "*|"not ok "*)
		n=$((n + 1))
		desc=$(printf '%s\n' "$line" | sed -E 's/^(not )?ok [0-9]+ *-? *//')
		case $line in
		"not ok "*) fail=$((fail + 1)); echo "not ok $n - $desc" ;;
		*) echo "ok $n - $desc" ;;
		esac
		;;
	"VM-DONE"*) marker=1 ;;
	"1.."*) ;;   # the guest's plan: ours replaces it
	"#"*) printf '%s\n' "$line" ;;
	*) printf '# %s\n' "$line" ;;
	esac
done <"$work/tap.log"

n=$((n + 1))
if [ $rc -eq 2 ]; then
	fail=$((fail + 1))
	echo "not ok $n - the guest boots (twice it printed nothing in ${boot_limit}s)"
elif [ $rc -eq 1 ]; then
	fail=$((fail + 1))
	echo "not ok $n - the guest finished within ${timeout_s}s"
elif [ "$marker" = 1 ]; then
	echo "ok $n - the guest ran every check and reported completion"
else
	fail=$((fail + 1))
	echo "not ok $n - the guest ran every check and reported completion (marker missing)"
fi
if [ "$fail" -gt 0 ] || [ "$marker" = 0 ]; then
	echo "# last lines of the guest's console:"
	tail -n 40 "$work/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
	sed 's/^/#   qemu: /' "$work/qemu.out"
fi
echo "1..$n"
[ "$fail" -eq 0 ]
