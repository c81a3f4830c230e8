#!/bin/sh
# shared-guest.sh - one host of the shared-memory test (shared.sh), run by
# busybox sh in each of two qemu guests at once: A (shmfs_role=A on the kernel
# command line) is the master, B a replica. Both map one memory backend of
# the host through an ivshmem-plain device: its BAR, the sysfs file
# /sys/bus/pci/devices/BDF/resource2, is the shared device shmfs is given, as
# a DAX device would be on hosts sharing CXL memory.
#
# The guests take turns through a second, small ivshmem device, the mailbox
# (vmshared): each posts the stage it reached and waits for the other's; a
# guest that gives up posts an abort, so the other stops waiting at once.
# Every wait has a time limit and says how far the other guest got.

. /guest-lib.sh
ROLE=$(sed -n 's/.*shmfs_role=\([AB]\).*/\1/p' /proc/cmdline)
S=$MNT/shared/pool
MIB=1048576
WAIT=120                 # seconds any one wait for the other guest may take
ABORT=999999             # vmshared's VMSHARED_ABORT

# ivshmem SIZE: the BAR file of the ivshmem device (vendor 0x1af4, device
# 0x1110) whose memory BAR is SIZE bytes.
ivshmem() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1110 ] &&
			[ "$(stat -c %s $d/resource2)" = "$1" ] && echo $d/resource2
	done
}

if [ "$ROLE" = A ]; then
	ME=0 OTHER=1 PEER=B
else
	ME=1 OTHER=0 PEER=A
fi
post() { "$VMSHARED" post $MBOX $ME $1; }

# give_up WHY: this guest can go no further; the other must not wait for it.
give_up() {
	notok "$1"
	post $ABORT
	[ -n "${daemon:-}" ] && alive $daemon && kill -9 $daemon
	finish
}

# await STAGE WHAT: wait for the other guest to reach STAGE (it did WHAT).
await() {
	"$VMSHARED" wait $MBOX $OTHER $1 $WAIT >/tmp/wait.out 2>&1
	case $? in
	0) return 0 ;;
	3) notok "$PEER $2 (it gave up: see its checks)"; post $ABORT; finish ;;
	*) diag </tmp/wait.out; give_up "$PEER $2 within ${WAIT}s" ;;
	esac
}

# fingerprint REGION: what both hosts must show alike of a region.
fingerprint() {
	echo "$(stat -c '%n %s %a %u %g' $S/$1 2>&1)" \
		"$(for x in offset extent master device; do
			"$TSYS" getxattr $S/$1 user.shmfs.shared.$x 2>&1 | tr '\n' ' '
		done)"
}

echo "# guest $ROLE: kernel $(uname -r), $(nproc) CPUs"
DEV=$(ivshmem $((64 * MIB)))
MBOX=$(ivshmem $MIB)
[ -n "$MBOX" ] || { notok "the mailbox device (a 1 MiB ivshmem BAR) is there"; finish; }
[ -n "$DEV" ] || give_up "the shared device (a 64 MiB ivshmem BAR) is there"
ok "the shared device is an ivshmem BAR: $DEV"
# what makes a BAR file different from a file: only mmap reaches its bytes
echo "a read(2) of the BAR file: $("$TSYS" pread $DEV 0 1 2>&1)" | diag
: >/tmp/daemon.err
OPTS="shared=$DEV,shared_name=pool,shared_host=host$ROLE"

# ---------------------------------------------------------------- format, mount

if [ $ROLE = A ]; then
	check "the fresh device is not formatted (shmfsctl shared ls refuses it)" \
		sh -c "! $SHMFSCTL_BIN shared ls $DEV"
	"$SHMFSCTL_BIN" shared format $DEV --size 128M --master hostA >/tmp/out 2>&1
	is "formatting it as 128 MiB is refused: the BAR is 64 MiB" "1 yes" \
		"$? $(grep -q 'larger than the device (64.0M)' /tmp/out && echo yes)"
	diag </tmp/out
	check "shmfsctl shared format formats the BAR, master hostA" \
		"$SHMFSCTL_BIN" shared format $DEV --master hostA
	is "shmfsctl shared ls reads it back: master hostA, 64 MiB, no record yet" "hostA $((64 * MIB)) 0" \
		"$("$SHMFSCTL_BIN" --json shared ls $DEV 2>&1 | grep -E '"(master|size|records)"' |
			tr -d ' ",' | cut -d: -f2 | xargs)"
	start_daemon "$OPTS"
	grep -q " $MNT " /proc/mounts || { diag </tmp/daemon.err; give_up "A mounts shmfs with -o $OPTS"; }
	ok "A mounts shmfs with -o $OPTS"
	post 1
else
	await 1 "formats the device and mounts"
	start_daemon "$OPTS"
	grep -q " $MNT " /proc/mounts || { diag </tmp/daemon.err; give_up "B mounts shmfs with -o $OPTS"; }
	ok "B mounts shmfs with -o $OPTS"
fi
is "$ROLE's role is $([ $ROLE = A ] && echo master || echo replica)" \
	"OK $([ $ROLE = A ] && echo master || echo replica)" \
	"$("$TSYS" getxattr $S user.shmfs.shared.role 2>&1)"
is "$ROLE names hostA as master" "OK hostA" "$("$TSYS" getxattr $S user.shmfs.shared.master 2>&1)"

# ---------------------------------------------------------------- a new region: how soon B sees it

# Stages: A posts 1 once mounted. Round k of 3: B posts 10+k as it starts
# watching for visK; A posts 10+2k, creates visK, posts 11+2k the moment its
# create returns (vmshared create). B's watch reads A's stage and stats visK
# in turn, timing both on B's clock alone.
if [ $ROLE = A ]; then
	for k in 1 2 3; do
		await $((10 + k)) "watches for vis$k"
		check "A creates a region (vis$k)" \
			"$VMSHARED" create $MBOX 0 $((10 + 2 * k)) $((11 + 2 * k)) $S/vis$k
		echo "vis$k on A: $(cat /tmp/out)" | diag
	done
else
	for k in 1 2 3; do
		"$VMSHARED" watch $MBOX 0 $((10 + 2 * k)) $((11 + 2 * k)) $S/vis$k $WAIT 1 $((10 + k)) \
			>/tmp/watch.out 2>&1
		rc=$?
		[ $rc = 3 ] && { notok "B sees A's new region vis$k (A gave up)"; post $ABORT; finish; }
		[ $rc = 0 ] || { diag </tmp/watch.out; give_up "B sees A's new region vis$k within ${WAIT}s"; }
		echo "vis$k on B: $(cat /tmp/watch.out)" | diag
		is "B's first stat after A's create of vis$k returned finds it (no polling interval)" \
			"failed_after_commit=0" "$(grep -o 'failed_after_commit=[-0-9]*' /tmp/watch.out)"
	done
	echo "start_us, commit_us: from A starting its create, and from its create returning, to" \
		"the end of B's stat that found the region (-1: that stat began before B read that" \
		"A had started, or returned); stat_us: how long that stat took; B's clock" | diag
fi

# ---------------------------------------------------------------- bytes, attributes

if [ $ROLE = A ]; then
	errno_is "A creates r1" OK open $S/r1 cx 0640
	check "A sizes r1 to 3 MiB" truncate -s $((3 * MIB)) $S/r1
	is "r1's extent is two 2 MiB pages" "OK $((4 * MIB))" \
		"$("$TSYS" getxattr $S/r1 user.shmfs.shared.extent 2>&1)"
	is "a process on A joins r1 with libshmfs and writes" "OK OK LEFT" \
		"$(printf 'write hello-from-A\nleave\n' | "$TJOIN" hold $S/r1 w 2>&1 | sed 's/OK [0-9]*/OK/' | xargs)"
	fingerprint r1 | "$VMSHARED" say $MBOX
	post 20
	await 20 "reads r1 and writes into it"
	is "A reads the bytes B wrote" "OK from-B" "$("$TSYS" pread $S/r1 100 6 2>&1)"
	is "B's refusals changed nothing on A" "r1 vis1 vis2 vis3 $((3 * MIB))" \
		"$(ls $S | xargs) $(stat -c %s $S/r1)"
else
	await 20 "creates r1, sizes it and writes into it"
	is "B lists r1 and the vis regions" "r1 vis1 vis2 vis3" "$(ls $S 2>&1 | xargs)"
	is "B shows r1's size, mode, owner, offset, extent, master and device as A does" \
		"$("$VMSHARED" heard $MBOX)" "$(fingerprint r1)"
	is "a process on B joins r1 with libshmfs and reads A's bytes" "OK SAME LEFT" \
		"$(printf 'check hello-from-A\nleave\n' | "$TJOIN" hold $S/r1 r 2>&1 | sed 's/OK [0-9]*/OK/' | xargs)"
	is "cat through B reads them too" "hello-from-A" "$(head -c 12 $S/r1)"
	errno_is "B writes bytes inside r1" OK pwrite $S/r1 100 from-B
	errno_is "B's create gets EROFS" EROFS open $S/new cx 0644
	errno_is "B's unlink gets EROFS" EROFS unlink $S/r1
	errno_is "B's truncate gets EROFS" EROFS truncate $S/r1 $((5 * MIB))
	errno_is "B's rename gets EROFS" EROFS rename $S/r1 $S/r2
	post 20
fi

# ---------------------------------------------------------------- a heap on both hosts at once

# Both guests allocate at the same moment (each run takes some 0.1 s; they
# start within the mailbox's 20 ms poll of each other): the allocator's
# atomics meet in the shared memory (qemu's TCG makes them host atomics for
# guests of two or more CPUs).
ALLOCS=20000
if [ $ROLE = A ]; then
	errno_is "A creates a region for a heap" OK open $S/heap cx 0666
	check "A sizes it to 16 MiB" truncate -s $((16 * MIB)) $S/heap
	is "a heap is formatted through a join on A" OK "$("$HEAPTOOL" format $S/heap 2>&1)"
	post 30
	await 30 "is ready to allocate"
	post 31
else
	await 30 "formats a heap"
	post 30
	await 31 "starts allocating"
fi
t0=$(cut -d' ' -f1 /proc/uptime)
is "a process on $ROLE allocates $ALLOCS blocks while the other guest does too" OK \
	"$("$HEAPTOOL" alloc $S/heap $ALLOCS 64 2>&1)"
echo "allocating took $(awk -v a=$t0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN { print int((b - a) * 1000) }') ms" | diag
post 32
await 32 "allocates its blocks"
stats=$("$HEAPTOOL" stats $S/heap 2>&1)
is "$ROLE counts both guests' $((2 * ALLOCS)) allocations" $((2 * ALLOCS)) "$(echo "$stats" | cut -d' ' -f4)"
check "shmfsctl heap check passes on $ROLE" "$SHMFSCTL_BIN" --mount $MNT heap check shared/pool/heap
if [ $ROLE = A ]; then
	echo "$stats" | "$VMSHARED" say $MBOX
	post 33
	await 33 "checks the heap"
	check "A removes the heap region" rm $S/heap
	post 34
else
	await 33 "checks the heap"
	is "B's heap statistics are A's" "$("$VMSHARED" heard $MBOX)" "$stats"
	check "shmfsctl unlink of the heap is refused on B" sh -c "! $SHMFSCTL_BIN --mount $MNT unlink shared/pool/heap"
	post 33
	await 34 "removes the heap region"
	is "B sees the heap region gone" "r1 vis1 vis2 vis3" "$(ls $S 2>&1 | xargs)"
	post 34
fi

# ---------------------------------------------------------------- the master killed

# A's daemon killed with SIGKILL while it creates and sizes regions: the log
# ends at a whole record or a torn one; B (which never stopped) and the
# restarted A replay the same tree, and A's next record follows the tail.
tree() { (cd $S && stat -c '%n %s %a %i' -- * | sort); }
if [ $ROLE = A ]; then
	await 34 "sees the heap region gone"
	(
		i=1
		while [ $i -le 500 ]; do
			: >$S/k$i || exit 0
			[ $((i % 4)) = 0 ] && { truncate -s $((i * 4096)) $S/k$i || exit 0; }
			i=$((i + 1))
		done
	) 2>/dev/null &
	loop=$!
	sleep 2
	kill_daemon
	wait $loop
	start_daemon "$OPTS"
	grep -q " $MNT " /proc/mounts || { diag </tmp/daemon.err; give_up "A mounts again after a SIGKILL"; }
	n=$(ls $S | grep -c '^k')
	ok "A mounts again after a SIGKILL while creating regions"
	check "A had made regions before it was killed ($n)" [ "$n" -gt 0 ]
	gaps=$(i=1; while [ $i -le $n ]; do [ -e $S/k$i ] || echo k$i; i=$((i + 1)); done)
	is "the regions A made are the first $n, no gap" "" "$gaps"
	errno_is "the restarted A appends a region after the log's tail" OK open $S/after cx 0644
	echo "$(tree | md5sum | cut -d' ' -f1) $(tree | wc -l)" | "$VMSHARED" say $MBOX
	post 35
	await 35 "compares the trees"
else
	await 35 "is killed while creating regions and restarted"
	is "B, which kept running, and the restarted A agree on the tree (names, sizes, modes, inodes)" \
		"$("$VMSHARED" heard $MBOX)" "$(tree | md5sum | cut -d' ' -f1) $(tree | wc -l)"
	is "B sees the region the restarted A made" after "$(ls $S | grep -x after)"
	post 35
fi

# ---------------------------------------------------------------- the end

"$SHMFSCTL_BIN" shared ls $DEV 2>&1 | diag
# the daemons say which backing they present
stop_daemon 'Shared backing'
if [ $ROLE = A ]; then
	await 40 "unmounts"
else
	post 40
fi
finish
