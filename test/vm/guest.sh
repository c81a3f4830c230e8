#!/bin/sh
# guest.sh - the multi-NUMA-node checks, run by busybox sh inside the qemu
# guest that vm.sh boots (nodes 0 and 1 with a CPU and 1 GiB each, node 2 with
# 3 GiB, no CPU and one 1 GiB page reserved at boot). Prints TAP on stdout (the guest's second serial port) and
# "VM-DONE" as its very last line; the host treats a missing marker as a
# failure, so an early exit or a hang can never pass.
#
# Placement is asked of the kernel, never of shmfs: vmnuma maps a region's
# backing file as a joining process does and reports move_pages(2) and its
# /proc/self/numa_maps line; pools are read from the guest's sysfs.

. /vm.env
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
MNT=/mnt/shmfs
B=/run/shmfs-vm          # the backing root
SYSN=/sys/devices/system/node
HP=hugepages-2048kB      # x86's 2 MiB pages: the "huge" type
GP=hugepages-1048576kB   # 1 GiB pages: the "gigantic" type
N=0
FAIL=0

ok()    { N=$((N + 1)); echo "ok $N - $*"; }
notok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
diag()  { sed 's/^/# /'; }

# is DESC EXPECTED ACTUAL
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		notok "$1"
		printf 'expected: %s\n     got: %s\n' "$2" "$3" | diag
	fi
}

# check DESC CMD... : passes when CMD exits 0.
check() {
	desc=$1
	shift
	if "$@" >/tmp/out 2>&1; then
		ok "$desc"
	else
		notok "$desc"
		{ echo "command: $*"; cat /tmp/out; } | diag
	fi
}

# errno DESC ERRNAME TSYS-ARGS... : the call fails with exactly ERRNAME.
errno_is() {
	desc=$1
	want=$2
	shift 2
	is "$desc" "$want" "$("$TSYS" "$@" 2>&1 | head -n 1 | cut -d' ' -f1)"
}

finish() {
	echo "1..$N"
	echo "VM-DONE failed=$FAIL"
	exit 0
}

# ---------------------------------------------------------------- topology

echo "# guest kernel $(uname -r), $(nproc) CPUs"
is "three NUMA nodes are online" "0-2" "$(cat $SYSN/online)"
is "nodes 0 and 1 have CPUs" "0-1" "$(cat $SYSN/has_cpu)"
is "every node has memory, CPU-less node 2 included" "0-2" "$(cat $SYSN/has_memory)"
is "node 0 holds cpu 0" "0" "$(cat $SYSN/node0/cpulist)"
is "node 1 holds cpu 1" "1" "$(cat $SYSN/node1/cpulist)"
is "node 2 holds no CPU (memory only, like CXL)" "" "$(cat $SYSN/node2/cpulist)"
node2_kb=$(awk '/MemTotal/ { print $4 }' $SYSN/node2/meminfo)
check "node 2 has more than 2.5 GiB of memory besides its 1 GiB page" [ "${node2_kb:-0}" -gt 2621440 ]
check "node 2 has a 2 MiB huge page pool" [ -w $SYSN/node2/hugepages/$HP/nr_hugepages ]
is "shmfsctl numa-cnt counts 3 nodes" "3" "$("$SHMFSCTL_BIN" numa-cnt 2>&1)"
is "shmfsctl cpu-cnt counts 2 CPUs" "2" "$("$SHMFSCTL_BIN" cpu-cnt 2>&1)"
is "shmfsctl numa-idx 1 puts cpu 1 on node 1" "1" "$("$SHMFSCTL_BIN" numa-idx 1 2>&1)"
is "shmfsctl cpu-idx 1 gives cpu 1 as node 1's first CPU" "1" "$("$SHMFSCTL_BIN" cpu-idx 1 2>&1)"
is "shmfsctl cpu-idx 2 says the CPU-less node has no CPU" "-" "$("$SHMFSCTL_BIN" cpu-idx 2 2>&1)"
is "node 2 has its one 1 GiB page, the only one in the guest" "0 0 1" \
	"$(cat $SYSN/node0/hugepages/$GP/nr_hugepages $SYSN/node1/hugepages/$GP/nr_hugepages \
		$SYSN/node2/hugepages/$GP/nr_hugepages | tr '\n' ' ' | sed 's/ $//')"
if command -v numactl >/dev/null; then
	numactl -H 2>&1 | diag
fi

# ---------------------------------------------------------------- helpers

# sysfs pool numbers of a node: hp NODE nr|free (2 MiB), gp for 1 GiB
hp() { cat $SYSN/node$1/hugepages/$HP/$2_hugepages; }
gp() { cat $SYSN/node$1/hugepages/$GP/$2_hugepages; }

# pools_of TYPE TOTAL FREE NODE...: the pools of these nodes are exactly that,
# seen through the kernel, .nr_pages, .free_pages and df (1K blocks).
pools_of() {
	type=$1
	total=$2
	free=$3
	shift 3
	case $type in
	huge) sysfs=hp; kb=2048 ;;
	gigantic) sysfs=gp; kb=1048576 ;;
	esac
	for n in "$@"; do
		d=$MNT/$type/node$n
		is "$type node $n: the kernel's pool is $total pages, $free free" "$total $free" \
			"$($sysfs $n nr) $($sysfs $n free)"
		is "$type node $n: .nr_pages and .free_pages read $total and $free" "$total $free" \
			"$(cat $d/.nr_pages 2>&1) $(cat $d/.free_pages 2>&1)"
		is "$type node $n: df shows $((total * kb)) KiB, $((free * kb)) KiB free" \
			"$((total * kb)) $((free * kb))" \
			"$("$DF" -kP $d 2>&1 | awk 'NR == 2 { print $2, $4 }')"
	done
}
pools() { pools_of huge "$@"; }

# placement TYPE NAME: where the kernel has the pages of a region's backing file.
placement() { "$VMNUMA" nodes "$B/.$1/$2" 2>&1 | head -n 1; }
layout() { "$VMNUMA" nodes "$B/.$1/$2" 2>&1 | sed -n 's/^layout: //p'; }
numa_maps() { "$VMNUMA" nodes "$B/.$1/$2" 2>&1 | sed -n 's/^numa_maps: //p'; }

# ---------------------------------------------------------------- mount

mkdir -p $MNT
"$SHMFS_BIN" -f -o backing=$B,allow_other $MNT 2>/tmp/daemon.err &
daemon=$!
i=0
while ! grep -q " $MNT " /proc/mounts && kill -0 $daemon 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! grep -q " $MNT " /proc/mounts; then
	notok "shmfs mounts inside the guest"
	diag </tmp/daemon.err
	finish
fi
ok "shmfs mounts inside the guest"

# ---------------------------------------------------------------- the tree

for t in normal huge; do
	is "$t/ has one directory per node with memory, CPU-less node2 included" \
		"node0 node1 node2" "$(ls $MNT/$t 2>&1 | tr '\n' ' ' | sed 's/ $//')"
done
if [ -d $SYSN/node0/hugepages/hugepages-1048576kB ]; then
	is "gigantic/ has one directory per node with memory, CPU-less node2 included" \
		"node0 node1 node2" "$(ls $MNT/gigantic 2>&1 | tr '\n' ' ' | sed 's/ $//')"
fi

# ---------------------------------------------------------------- pools

for n in 0 1 2; do
	before=$(for m in 0 1 2; do [ $m = $n ] || echo "node$m=$(hp $m nr)"; done)
	check "writing 8 to huge/node$n/.nr_pages succeeds" sh -c "echo 8 >$MNT/huge/node$n/.nr_pages"
	is "huge/node$n/.nr_pages reserves 8 pages on node $n" "8" "$(hp $n nr)"
	after=$(for m in 0 1 2; do [ $m = $n ] || echo "node$m=$(hp $m nr)"; done)
	is "huge/node$n/.nr_pages reserves on no other node" "$before" "$after"
done
pools 8 8 0 1 2
check "writing +2 to huge/node2/.nr_pages succeeds" sh -c "echo +2 >$MNT/huge/node2/.nr_pages"
is "+2 grows the CPU-less node's pool by 2 pages" "10" "$(hp 2 nr)"
check "writing -2 to huge/node2/.nr_pages succeeds" sh -c "echo -2 >$MNT/huge/node2/.nr_pages"
is "-2 shrinks the CPU-less node's pool by 2 pages" "8" "$(hp 2 nr)"
errno_is "reserving more than node 2 holds (1600 pages = 3.2 GiB) fails with ENOMEM" ENOMEM \
	pwrite $MNT/huge/node2/.nr_pages 0 1600
pools 8 8 2

# ---------------------------------------------------------------- placement

for n in 0 1 2; do
	check "a 2-page region is made in huge/node$n" truncate -s 4194304 $MNT/huge/node$n/h$n
	is "every page of huge/node$n/h$n is on node $n (move_pages)" \
		"pages=2 allocated=2 N$n=2" "$(placement huge h$n)"
	nm=$(numa_maps huge h$n)
	echo "evidence huge/node$n/h$n numa_maps: $nm" | diag
	is "numa_maps counts huge/node$n/h$n's pages on node $n only" \
		"N$n=2" "$(echo "$nm" | grep -o ' N[0-9]*=[0-9]*' | tr -d ' ' | tr '\n' ' ' | sed 's/ $//')"
	is "huge/node$n/h$n's numa_nodes xattr names node $n" \
		"OK $n" "$("$TSYS" getxattr $MNT/huge/node$n/h$n user.shmfs.numa_nodes 2>&1)"
done
pools 8 6 0 1 2

# Pages moved behind shmfs's back (migratepages, NUMA balancing): the xattr
# asks the kernel, it does not repeat what shmfs remembers.
check "h1's pages are moved to node 0 behind shmfs's back" "$VMNUMA" move $B/.huge/h1 0
is "h1's numa_nodes xattr then names node 0, where the kernel has them" "OK 0" \
	"$("$TSYS" getxattr $MNT/huge/node1/h1 user.shmfs.numa_nodes 2>&1)"
check "h1's pages are moved back to node 1" "$VMNUMA" move $B/.huge/h1 1
is "h1's numa_nodes xattr names node 1 again" "OK 1" \
	"$("$TSYS" getxattr $MNT/huge/node1/h1 user.shmfs.numa_nodes 2>&1)"
pools 8 6 0 1

for n in 0 1 2; do
	check "a 16-page normal region is made in normal/node$n" truncate -s 65536 $MNT/normal/node$n/n$n
	is "every page of normal/node$n/n$n is on node $n (move_pages)" \
		"pages=16 allocated=16 N$n=16" "$(placement normal n$n)"
	nm=$(numa_maps normal n$n)
	echo "evidence normal/node$n/n$n numa_maps: $nm" | diag
done
check "n0 is filled with a known pattern" "$VMNUMA" fill $B/.normal/n0 10
check "mv normal/node0/n0 normal/node2/ succeeds" mv $MNT/normal/node0/n0 $MNT/normal/node2/n0
is "after mv, every page of n0 is on the CPU-less node 2 (move_pages)" \
	"pages=16 allocated=16 N2=16" "$(placement normal n0)"
check "after mv, n0's bytes are intact" "$VMNUMA" check $B/.normal/n0 10

# ---------------------------------------------------------------- migration

check "h0 is filled with a known pattern" "$VMNUMA" fill $B/.huge/h0 11
sum=$(md5sum <$MNT/huge/node0/h0 | cut -d' ' -f1)
check "mv huge/node0/h0 huge/node1/ succeeds" mv $MNT/huge/node0/h0 $MNT/huge/node1/h0
is "after mv, h0 is listed in node1/ only" "no yes" \
	"$([ -e $MNT/huge/node0/h0 ] && echo yes || echo no) $([ -e $MNT/huge/node1/h0 ] && echo yes || echo no)"
is "after mv, every page of h0 is on node 1 (move_pages)" "pages=2 allocated=2 N1=2" "$(placement huge h0)"
echo "evidence huge/node1/h0 (moved from node0) numa_maps: $(numa_maps huge h0)" | diag
check "after mv, h0's bytes are intact (mapping)" "$VMNUMA" check $B/.huge/h0 11
is "after mv, h0 reads the same through shmfs" "$sum" "$(md5sum <$MNT/huge/node1/h0 | cut -d' ' -f1)"
pools 8 8 0
pools 8 4 1

check "mv huge/node1/h0 to the CPU-less node 2 succeeds" mv $MNT/huge/node1/h0 $MNT/huge/node2/h0
is "after mv, every page of h0 is on node 2 (move_pages)" "pages=2 allocated=2 N2=2" "$(placement huge h0)"
echo "evidence huge/node2/h0 (moved from node1) numa_maps: $(numa_maps huge h0)" | diag
check "after mv to node 2, h0's bytes are intact" "$VMNUMA" check $B/.huge/h0 11
pools 8 6 1
pools 8 4 2

# Node 2 full: a migration there must fail with ENOMEM and change nothing.
check "a region takes node 2's last 4 free pages" truncate -s 8388608 $MNT/huge/node2/full
pools 8 0 2
check "h1 is filled with a known pattern" "$VMNUMA" fill $B/.huge/h1 12
errno_is "mv of h1 to node 2, which has no free page, fails with ENOMEM" ENOMEM \
	rename $MNT/huge/node1/h1 $MNT/huge/node2/h1
is "after the failed mv, h1 is still listed in node1/ only" "yes no" \
	"$([ -e $MNT/huge/node1/h1 ] && echo yes || echo no) $([ -e $MNT/huge/node2/h1 ] && echo yes || echo no)"
is "after the failed mv, every page of h1 is still on node 1" "pages=2 allocated=2 N1=2" "$(placement huge h1)"
check "after the failed mv, h1's bytes are intact" "$VMNUMA" check $B/.huge/h1 12
pools 8 6 1
pools 8 0 2

# ---------------------------------------------------------------- migration under a mapping

# A process that has joined the region keeps its mapping across the move: its
# own numa_maps must follow the pages.
holder_nodes() {
	grep "file=$B/.huge/hm" /proc/$holder/numa_maps 2>&1 |
		grep -o ' N[0-9]*=[0-9]*' | tr -d ' ' | tr '\n' ' ' | sed 's/ $//'
}
check "a 2-page region is made in huge/node0 (hm)" truncate -s 4194304 $MNT/huge/node0/hm
check "hm is filled with a known pattern" "$VMNUMA" fill $B/.huge/hm 14
"$VMNUMA" hold $B/.huge/hm >/tmp/hold.out 2>&1 &
holder=$!
i=0
while ! grep -q held /tmp/hold.out && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "a process joined to hm has its pages on node 0 (its numa_maps)" "N0=2" "$(holder_nodes)"
is "hm's mapper_pids xattr names that process" "OK $holder" \
	"$("$TSYS" getxattr $MNT/huge/node0/hm user.shmfs.mapper_pids 2>&1)"
check "mv huge/node0/hm huge/node1/ succeeds while a process maps it" \
	mv $MNT/huge/node0/hm $MNT/huge/node1/hm
is "the joined process's own mapping now has hm's pages on node 1 (its numa_maps)" "N1=2" "$(holder_nodes)"
echo "evidence huge/node1/hm, numa_maps of the joined pid $holder after mv from node0:" \
	"$(grep "file=$B/.huge/hm" /proc/$holder/numa_maps)" | diag
check "after mv under a mapping, hm's bytes are intact" "$VMNUMA" check $B/.huge/hm 14
check "rm of hm while it is mapped succeeds" rm $MNT/huge/node1/hm
pools 8 4 1
kill $holder
wait $holder 2>/dev/null
pools 8 6 1

# ---------------------------------------------------------------- split regions

# Now: node 0 has 8 free pages, node 1 6, node 2 none.
export SHMFS_PATH=$MNT
check "shmfsctl create sp 4 huge 0,1 0600 succeeds" "$SHMFSCTL_BIN" create sp 4 huge 0,1 0600
is "sp's home is node0/, the node of its first CPU" "yes no" \
	"$([ -e $MNT/huge/node0/sp ] && echo yes || echo no) $([ -e $MNT/huge/node1/sp ] && echo yes || echo no)"
is "sp's 4 pages are split evenly: 2 on node 0, 2 on node 1 (move_pages)" \
	"pages=4 allocated=4 N0=2 N1=2" "$(placement huge sp)"
echo "evidence huge/node0/sp (split over cpus 0,1) numa_maps: $(numa_maps huge sp)" | diag
is "sp's numa_nodes xattr lists both nodes" "OK 0-1" \
	"$("$TSYS" getxattr $MNT/huge/node0/sp user.shmfs.numa_nodes 2>&1)"
got=$("$TSYS" getxattr $MNT/huge/node0/sp user.shmfs.policy 2>&1)
case $got in
"OK split:0,1"|"OK split:0=2,1=2") ok "sp's policy xattr records the split ($got)" ;;
*) notok "sp's policy xattr records the split"; echo "got: $got" | diag ;;
esac

check "shmfsctl create sq 1,3 huge 0,1 0600 succeeds" "$SHMFSCTL_BIN" create sq 1,3 huge 0,1 0600
is "sq's pages are where asked: 1 on node 0, 3 on node 1 (move_pages)" \
	"pages=4 allocated=4 N0=1 N1=3" "$(placement huge sq)"
is "sq's pages are in the order asked: page 0 on node 0, pages 1-3 on node 1" \
	"0 1 1 1" "$(layout huge sq)"
check "sq's pattern is written" "$VMNUMA" fill $B/.huge/sq 13
check "sq's bytes read back through its mapping" "$VMNUMA" check $B/.huge/sq 13
pools 8 5 0
pools 8 1 1

check "writing +2 to huge/node2/.nr_pages succeeds" sh -c "echo +2 >$MNT/huge/node2/.nr_pages"
check "shmfsctl create sn 2 huge node2 0600 succeeds (the CPU-less node by name)" \
	"$SHMFSCTL_BIN" create sn 2 huge node2 0600
is "sn's pages are all on node 2 (move_pages)" "pages=2 allocated=2 N2=2" "$(placement huge sn)"
pools 10 0 2
got=$("$TSYS" truncate $MNT/huge/node1/h1 8388608 2>&1)
case $got in
ENOSPC|ENOMEM) ok "growing h1 past node 1's free pages is refused ($got)" ;;
*) notok "growing h1 past node 1's free pages is refused"; echo "got: $got" | diag ;;
esac
is "after the refused grow, h1 keeps its 2 pages on node 1" "pages=2 allocated=2 N1=2" "$(placement huge h1)"
pools 8 1 1

# A split region moved to one node gathers all its pages there.
check "writing +4 to huge/node2/.nr_pages succeeds" sh -c "echo +4 >$MNT/huge/node2/.nr_pages"
check "mv of the split region sp from node0/ to node2/ succeeds" mv $MNT/huge/node0/sp $MNT/huge/node2/sp
is "after mv, every page of sp is on node 2 (move_pages)" "pages=4 allocated=4 N2=4" "$(placement huge sp)"
is "after mv, sp's numa_nodes xattr names node 2 only" "OK 2" \
	"$("$TSYS" getxattr $MNT/huge/node2/sp user.shmfs.numa_nodes 2>&1)"
is "after mv, sp's policy xattr binds it to node 2" "OK bind:2" \
	"$("$TSYS" getxattr $MNT/huge/node2/sp user.shmfs.policy 2>&1)"
pools 14 0 2
pools 8 7 0
pools 8 3 1

# DRAM plus CXL-like memory in one region: a split naming the CPU-less node.
check "writing +1 to huge/node2/.nr_pages succeeds" sh -c "echo +1 >$MNT/huge/node2/.nr_pages"
check "shmfsctl create sx 1,1 huge node1,node2 0600 succeeds" \
	"$SHMFSCTL_BIN" create sx 1,1 huge node1,node2 0600
is "sx's page 0 is on node 1 and page 1 on the CPU-less node 2" "1 2" "$(layout huge sx)"
echo "evidence huge/node1/sx (split over node1,node2) numa_maps: $(numa_maps huge sx)" | diag
is "sx's numa_nodes xattr lists nodes 1 and 2" "OK 1-2" \
	"$("$TSYS" getxattr $MNT/huge/node1/sx user.shmfs.numa_nodes 2>&1)"
pools 15 0 2
pools 8 2 1

# ---------------------------------------------------------------- restart

# Regions outlive the daemon: killed and restarted on the same backing, it
# presents every region in the node directory it was in, pages unmoved.
tree() {
	for t in normal huge gigantic; do
		for n in 0 1 2; do
			echo "$t/node$n: $(ls $MNT/$t/node$n 2>&1 | tr '\n' ' ')"
		done
	done
}
before=$(tree)
kill -9 $daemon
wait $daemon 2>/dev/null
umount -l $MNT
"$SHMFS_BIN" -f -o backing=$B,allow_other $MNT 2>>/tmp/daemon.err &
daemon=$!
i=0
while ! grep -q " $MNT " /proc/mounts && kill -0 $daemon 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "shmfs mounts again after a SIGKILL" grep -q " $MNT " /proc/mounts
is "after the restart every region is in the same node directory" "$before" "$(tree)"
is "after the restart sx is still split over nodes 1 and 2" "1 2" "$(layout huge sx)"
is "after the restart sx's numa_nodes xattr lists nodes 1 and 2" "OK 1-2" \
	"$("$TSYS" getxattr $MNT/huge/node1/sx user.shmfs.numa_nodes 2>&1)"
is "after the restart sx's policy is the split it was made with" "OK split:1=1,2=1" \
	"$("$TSYS" getxattr $MNT/huge/node1/sx user.shmfs.policy 2>&1)"
is "after the restart sp is still bound to node 2" "OK bind:2" \
	"$("$TSYS" getxattr $MNT/huge/node2/sp user.shmfs.policy 2>&1)"
pools 15 0 2
pools 8 2 1

# fd_shmem_cfg parity where it fell short: the CPU-less node is a target, and
# a pool with pages in use can still be resized.
check "shmfsctl alloc 20 huge 2 grows the CPU-less node's pool while regions use it" \
	"$SHMFSCTL_BIN" alloc 20 huge 2
pools 20 5 2
check "shmfsctl free huge 2 succeeds" "$SHMFSCTL_BIN" free huge 2
pools 15 0 2
pools 8 2 1
echo "shmfsctl query:" | diag
"$SHMFSCTL_BIN" query 2>&1 | diag
"$SHMFSCTL_BIN" query sx 2>&1 | diag

# ---------------------------------------------------------------- gigantic pages

# The CPU-less node's boot-time 1 GiB page: 1 GiB pages on CXL-like memory.
pools_of gigantic 1 1 2
pools_of gigantic 0 0 0 1
check "a 1 GiB region is made in gigantic/node2" truncate -s 1073741824 $MNT/gigantic/node2/g2
is "g2's 1 GiB page is on node 2 (move_pages)" "pages=1 allocated=1 N2=1" "$(placement gigantic g2)"
echo "evidence gigantic/node2/g2 numa_maps: $(numa_maps gigantic g2)" | diag
pools_of gigantic 1 0 2
got=$("$TSYS" truncate $MNT/gigantic/node2/g2 2147483648 2>&1)
case $got in
ENOSPC|ENOMEM) ok "growing g2 past node 2's last 1 GiB page is refused ($got)" ;;
*) notok "growing g2 past node 2's last 1 GiB page is refused"; echo "got: $got" | diag ;;
esac
is "after the refused grow, g2 is still 1 GiB on node 2" "pages=1 allocated=1 N2=1" "$(placement gigantic g2)"
errno_is "reserving a 1 GiB page on node 0 (1 GiB in all) fails with ENOMEM" ENOMEM \
	pwrite $MNT/gigantic/node0/.nr_pages 0 1
pools_of gigantic 0 0 0
pools_of gigantic 1 0 2

# ---------------------------------------------------------------- the end

echo "shmfs's view at the end (.status):" | diag
cat $MNT/.status 2>&1 | diag
if command -v getfattr >/dev/null; then
	getfattr -d $MNT/huge/node2/sp 2>&1 | diag
fi

umount $MNT
i=0
while kill -0 $daemon 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "shmfs exits when unmounted" sh -c "! kill -0 $daemon 2>/dev/null"
if [ -s /tmp/daemon.err ]; then
	notok "the daemon wrote nothing to stderr"
	head -n 40 /tmp/daemon.err | diag
else
	ok "the daemon wrote nothing to stderr"
fi
finish
