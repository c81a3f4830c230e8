# lib.sh - the host side of the qemu tests, sourced by vm.sh and shared.sh:
# one way to find the kernel, build the initramfs, boot guests and turn what
# they print into this test's TAP.
#
# A guest is the Debian kernel installed in /boot (its fuse module loaded
# with insmod) and an initramfs built here, now: busybox-static, the shmfs
# binaries of this build tree with the shared libraries ldd lists,
# guest-lib.sh and the test's guest script, which prints TAP on the second
# serial port and a final "VM-DONE" marker, then powers off. A "not ok", a
# missing marker or a timeout fails the test.
#
#   vm_init                          work directory, cleanup trap, kernel, tools
#   vm_add_binary PATH               a binary and its libraries, at their paths
#   vm_env NAME VALUE                a variable the guest script finds in /vm.env
#   vm_initramfs GUEST_SCRIPT        /init, then $work/initrd.cpio
#   vm_accel                         $accel and $cpu: KVM where it works, else TCG
#   vm_run LIMIT NAME...             boot the guests NAME (qemu arguments in the
#                                    array qemu_args_NAME) at once, until they
#                                    power off or LIMIT seconds pass; retried
#                                    once when one prints nothing at all; a
#                                    function vm_reset, if the test has one,
#                                    runs before each boot (what the guests
#                                    share starts afresh)
#   vm_report NAME...                their checks as TAP (each prefixed with
#                                    its name when there are several), the plan
#
# Environment: SHMFS_VM_BOOT_TIMEOUT (seconds without any guest output before
# a boot counts as hung and is retried once, default 150), SHMFS_VM_KERNEL (a
# vmlinuz to use instead of the newest in /boot), SHMFS_VM_KEEP=1 keeps the
# work directory (serial logs, initramfs tree), SHMFS_VM_APPEND adds to the
# kernel command line, SHMFS_VM_ACCEL=tcg forbids KVM (for debugging).

vm_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A vm_pids=()      # NAME -> pid of its running qemu
vm_cleanup_hooks=()        # more commands for the EXIT trap (a test's temp files)

vm_bail() {
	echo "Bail out! $*"
	exit 1
}

vm_kill() {
	local name pid
	for name in "${!vm_pids[@]}"; do
		pid=${vm_pids[$name]}
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "vm_pids[$name]"
	done
}

vm_cleanup() {
	local h
	vm_kill
	for h in "${vm_cleanup_hooks[@]}"; do
		eval "$h"
	done
	if [ "${SHMFS_VM_KEEP:-0}" = 1 ]; then
		echo "# work directory kept: $work"
	else
		rm -rf "$work"
	fi
}

# The newest /boot/vmlinuz-* whose modules are installed (the fuse module
# must come from the same build as the kernel).
vm_pick_kernel() {
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

vm_init() {
	work=$(mktemp -d /tmp/shmfs-vm.XXXXXX)
	trap vm_cleanup EXIT
	trap 'exit 130' INT TERM
	kernel=$(vm_pick_kernel)
	[ -n "$kernel" ] || vm_bail "no /boot/vmlinuz-* with modules in /lib/modules (tools/deps.sh installs linux-image-amd64)"
	kver=${kernel#/boot/vmlinuz-}
	moddir=/lib/modules/$kver
	command -v qemu-system-x86_64 >/dev/null || vm_bail "qemu-system-x86_64 missing (tools/deps.sh installs qemu-system-x86)"
	busybox=/bin/busybox   # busybox-static's: the guest has no libc of its own
	if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
		vm_bail "no static /bin/busybox (tools/deps.sh installs busybox-static)"
	fi

	root=$work/root
	mkdir -p "$root"/{bin,proc,sys,dev,run,tmp,mnt,etc,lib/modules}
	cp "$busybox" "$root/bin/busybox"
	ln -s /proc/self/mounts "$root/etc/mtab"   # libfuse must not try to edit an mtab file
	: >"$root/vm.env"
	: >"$root/modules.list"
	cp "$vm_here/guest-lib.sh" "$root/guest-lib.sh"

	local b p libgcc
	for b in "$SHMFS_BIN" "$SHMFSCTL_BIN" "$TSYS"; do
		vm_add_binary "$b" || vm_bail "cannot copy $b and its libraries into the initramfs"
	done
	# GNU df: busybox df statfs()es the mount point, not the path it is given,
	# so it cannot show a node directory's pool.
	DF=$(command -v df)
	vm_add_binary "$DF" || vm_bail "cannot copy $DF into the initramfs"
	# glibc dlopen()s libgcc_s for pthread_cancel (libfuse cancels its workers at
	# unmount); ldd cannot list it.
	libgcc=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ { print $NF; exit }')
	[ -n "$libgcc" ] && vm_add_file "$libgcc"
	# Optional tools: fusermount3 (libfuse's fallback mounter), numactl -H and
	# getfattr -d for the evidence printed as TAP comments.
	for b in fusermount3 numactl getfattr; do
		p=$(command -v "$b") && vm_add_binary "$p"
	done
	vm_add_module fuse || vm_bail "no fuse module for kernel $kver"
	vm_env SHMFS_BIN "$SHMFS_BIN"
	vm_env SHMFSCTL_BIN "$SHMFSCTL_BIN"
	vm_env TSYS "$TSYS"
	vm_env DF "$DF"
}

# vm_add_file PATH: copy a file into the guest at the same absolute path.
vm_add_file() {
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

# vm_add_binary PATH: the binary at its own path (so $ORIGIN rpaths resolve as
# in the build tree) plus every shared library ldd resolves, also at their paths.
vm_add_binary() {
	local lib
	vm_add_file "$1" || return 1
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || vm_add_file "$lib" || return 1
	done
}

vm_env() {
	printf "%s='%s'\n" "$1" "$2" >>"$root/vm.env"
}

# vm_add_module NAME: the module and what it depends on, in load order.
# modules.dep lines read "kernel/fs/fuse/fuse.ko.xz: dep1.ko dep2.ko".
declare -A vm_loaded
vm_add_module() {
	local name=$1 line rel dep out
	line=$(grep -E "(^|/)$name\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1)
	if [ -z "$line" ]; then
		# Built in: nothing to load.
		grep -qE "/$name\.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
		return 1
	fi
	rel=${line%%:*}
	[ -n "${vm_loaded[$rel]:-}" ] && return 0
	for dep in ${line#*:}; do
		vm_add_module "$(basename "${dep%%.ko*}")" || return 1
	done
	vm_loaded[$rel]=1
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

# vm_initramfs GUEST_SCRIPT: the guest runs it as "sh /guest.sh" with its
# TAP on ttyS1 (ttyS0 carries the kernel's console), then powers off.
vm_initramfs() {
	cp "$1" "$root/guest.sh"
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
sh /guest.sh >/dev/ttyS1 2>&1
sync
poweroff -f
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio" ||
		vm_bail "cannot build the initramfs"
}

# KVM only where it really runs a guest (on nested hosts /dev/kvm may exist
# and still fail); otherwise TCG, which every host has.
vm_accel() {
	accel=tcg,thread=multi
	if [ -w /dev/kvm ] && [ "${SHMFS_VM_ACCEL:-}" != tcg ]; then
		( timeout 10 qemu-system-x86_64 -accel kvm -cpu host -display none -m 128 -no-reboot \
			-kernel "$kernel" -append "console=ttyS0 panic=-1 rdinit=/nonexistent" \
			-serial file:"$work/kvm-probe.log" -monitor none; true ) >/dev/null 2>&1
		grep -q 'Linux version' "$work/kvm-probe.log" 2>/dev/null && accel=kvm
	fi
	cpu=max
	[ "$accel" = kvm ] && cpu=host
	return 0
}

# vm_serial NAME: the qemu arguments every guest gets: no display, no
# reboot, the kernel console on ttyS0 and the checks on ttyS1, both to files.
vm_serial() {
	echo -display none -monitor none -no-reboot -nodefaults \
		-serial "file:$work/$1.console.log" -serial "file:$work/$1.tap.log"
}

# vm_boot LIMIT NAME...: run the guests until all power off or LIMIT seconds
# pass. Returns 0 when all powered off, 1 on the time limit, 2 when one
# printed no check at all within vm_boot_limit seconds (a boot that hung: a
# healthy one prints its first line within some 30 s even on a loaded host).
vm_boot() {
	local limit=$1 name t0 now running
	shift
	if declare -F vm_reset >/dev/null; then
		vm_reset || vm_bail "cannot reset what the guests share"
	fi
	t0=$(date +%s)
	for name in "$@"; do
		local -n args=qemu_args_$name
		: >"$work/$name.tap.log"
		qemu-system-x86_64 "${args[@]}" >"$work/$name.qemu.out" 2>&1 &
		vm_pids[$name]=$!
		unset -n args
	done
	while :; do
		running=0
		for name in "${!vm_pids[@]}"; do
			if kill -0 "${vm_pids[$name]}" 2>/dev/null; then
				running=1
			else
				wait "${vm_pids[$name]}" 2>/dev/null
				unset "vm_pids[$name]"
			fi
		done
		[ $running = 0 ] && return 0
		now=$(date +%s)
		if [ $((now - t0)) -ge "$limit" ]; then
			vm_timed_out="$*"
			vm_kill
			return 1
		fi
		if [ $((now - t0)) -ge "$vm_boot_limit" ]; then
			for name in "$@"; do
				if [ ! -s "$work/$name.tap.log" ]; then
					vm_hung=$name
					vm_kill
					return 2
				fi
			done
		fi
		sleep 1
	done
}

# TCG on a loaded host has been seen (once) to hang before the guest printed
# anything; that is the emulator, not shmfs, so such a boot gets one retry,
# reported. Guests that started their checks are never run again.
vm_run() {
	local limit=$1 start name
	shift
	vm_boot_limit=${SHMFS_VM_BOOT_TIMEOUT:-150}
	start=$(date +%s)
	vm_boot "$limit" "$@"
	vm_rc=$?
	if [ $vm_rc -eq 2 ]; then
		echo "# guest $vm_hung printed nothing in ${vm_boot_limit}s (a hung boot); its console ended with:"
		tail -n 15 "$work/$vm_hung.console.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
		echo "# booting again, once"
		for name in "$@"; do
			mv "$work/$name.console.log" "$work/$name.console.1.log" 2>/dev/null
		done
		vm_boot $((limit - vm_boot_limit)) "$@"
		vm_rc=$?
	fi
	vm_elapsed=$(( $(date +%s) - start ))
	echo "# the guests ran ${vm_elapsed}s"
}

# vm_report NAME...: re-emit the guests' checks as this test's TAP, then one
# check per guest that it finished, then the plan; returns 1 on any failure.
vm_report() {
	local n=0 fail=0 name marker prefix line desc fail0
	for name in "$@"; do
		prefix=
		[ $# -gt 1 ] && prefix="$name: "
		marker=0
		fail0=$fail
		while IFS= read -r line; do
			line=${line%$'\r'}
			case $line in
			"ok "*|"not ok "*)
				n=$((n + 1))
				desc=$(printf '%s\n' "$line" | sed -E 's/^(not )?ok [0-9]+ *-? *//')
				case $line in
				"not ok "*) fail=$((fail + 1)); echo "not ok $n - $prefix$desc" ;;
				*) echo "ok $n - $prefix$desc" ;;
				esac
				;;
			"VM-DONE"*) marker=1 ;;
			"1.."*) ;;   # the guest's plan: ours replaces it
			"#"*) printf '#%s%s\n' "${prefix:+ $prefix}" "${line#\#}" ;;
			*) printf '# %s%s\n' "$prefix" "$line" ;;
			esac
		done <"$work/$name.tap.log"

		n=$((n + 1))
		if [ $vm_rc -eq 2 ]; then
			fail=$((fail + 1))
			echo "not ok $n - ${prefix}the guest boots (twice one printed nothing in ${vm_boot_limit}s)"
		elif [ $vm_rc -eq 1 ] && [ $marker = 0 ]; then
			fail=$((fail + 1))
			echo "not ok $n - ${prefix}the guest finished within the time limit"
		elif [ "$marker" = 1 ]; then
			echo "ok $n - ${prefix}the guest ran every check and reported completion"
		else
			fail=$((fail + 1))
			echo "not ok $n - ${prefix}the guest ran every check and reported completion (marker missing)"
		fi
		if [ "$fail" -gt "$fail0" ]; then
			echo "# ${prefix}last lines of the guest's console:"
			tail -n 40 "$work/$name.console.log" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
			sed 's/^/#   qemu: /' "$work/$name.qemu.out"
		fi
	done
	echo "1..$n"
	[ "$fail" -eq 0 ]
}
