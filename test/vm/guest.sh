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

. /guest-lib.sh
SYSN=/sys/devices/system/node
HP=hugepages-2048kB      # x86's 2 MiB pages: the "huge" type
GP=hugepages-1048576kB   # 1 GiB pages: the "gigantic" type

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

>/tmp/daemon.err
start_daemon
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
	"$VMNUMA" join $MNT/huge/node$n/h$n >/tmp/join.out 2>&1
	is "a process joining huge/node$n/h$n with libshmfs finds every page on node $n" \
		"pages=2 allocated=2 N$n=2" "$(head -n 1 /tmp/join.out)"
	nm=$(sed -n 's/^numa_maps: //p' /tmp/join.out)
	echo "evidence huge/node$n/h$n, numa_maps of a joined process: $nm" | diag
	is "its numa_maps counts huge/node$n/h$n's pages on node $n only" \
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
	"$VMNUMA" join $MNT/normal/node$n/n$n >/tmp/join.out 2>&1
	is "a process joining normal/node$n/n$n with libshmfs finds every page on node $n" \
		"pages=16 allocated=16 N$n=16" "$(head -n 1 /tmp/join.out)"
	nm=$(sed -n 's/^numa_maps: //p' /tmp/join.out)
	echo "evidence normal/node$n/n$n, numa_maps of a joined process: $nm" | diag
done
check "n0 is filled with a known pattern" "$VMNUMA" fill $B/.normal/n0 10
check "mv normal/node0/n0 normal/node2/ succeeds" mv $MNT/normal/node0/n0 $MNT/normal/node2/n0
is "after mv, every page of n0 is on the CPU-less node 2 (move_pages)" \
	"pages=16 allocated=16 N2=16" "$(placement normal n0)"
check "after mv, n0's bytes are intact" "$VMNUMA" check $B/.normal/n0 10

# Regions made by writing (no truncate first) get their pages on their node too.
check "writing 5 bytes to a new huge/node2/w2 succeeds" sh -c "printf hello >$MNT/huge/node2/w2"
is "w2 grew to one page, on node 2" "pages=1 allocated=1 N2=1" "$(placement huge w2)"
is "w2 reads back what was written" "hello" "$(head -c 5 $MNT/huge/node2/w2)"
check "writing 3 MiB with dd to a new huge/node1/w1 succeeds" \
	dd if=/dev/zero of=$MNT/huge/node1/w1 bs=1048576 count=3
is "w1 grew to two pages, both on node 1" "pages=2 allocated=2 N1=2" "$(placement huge w1)"
check "writing to a new normal/node2/w3 succeeds" sh -c "echo hello >$MNT/normal/node2/w3"
is "w3's page is on node 2" "pages=1 allocated=1 N2=1" "$(placement normal w3)"
check "the written regions are removed" rm $MNT/huge/node2/w2 $MNT/huge/node1/w1 $MNT/normal/node2/w3
pools 8 6 1 2

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

# A moved region lives on its new node: pages it gains later come from there.
check "h0, now in node2/, grows by one page" truncate -s 6291456 $MNT/huge/node2/h0
is "h0's new page is on node 2 too" "2 2 2" "$(layout huge h0)"
check "h0 shrinks back to 2 pages" truncate -s 4194304 $MNT/huge/node2/h0
check "after grow and shrink, h0's bytes are intact" "$VMNUMA" check $B/.huge/h0 11
pools 8 4 2

# Node 2 full: a migration there must fail with ENOMEM and change nothing.
check "a region takes node 2's last 4 free pages" truncate -s 8388608 $MNT/huge/node2/full
pools 8 0 2
check "h1 is filled with a known pattern" "$VMNUMA" fill $B/.huge/h1 12
errno_is "mv of h1 to node 2, which has no free page, fails with ENOMEM" ENOMEM \
	rename $MNT/huge/node1/h1 $MNT/huge/node2/h1
out=$(mv $MNT/huge/node1/h1 $MNT/huge/node2/h1 2>&1)
rc=$?
is "mv itself fails and says why (ENOMEM)" "1 Cannot allocate memory" \
	"$rc $(echo "$out" | grep -o 'Cannot allocate memory')"
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
"$VMNUMA" join $MNT/huge/node0/hm hold >/tmp/hold.out 2>&1 &
holder=$!
i=0
while ! grep -q held /tmp/hold.out && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "a process joined to hm with libshmfs has its pages on node 0 (its numa_maps)" "N0=2" "$(holder_nodes)"
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
is "sp's policy xattr records the split: 2 pages on node 0, 2 on node 1" "OK split:0=2,1=2" \
	"$("$TSYS" getxattr $MNT/huge/node0/sp user.shmfs.policy 2>&1)"

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
"$SHMFSCTL_BIN" create sy 1,1 huge node0,node2 0600 >/tmp/out 2>&1
rc=$?
is "shmfsctl create sy 1,1 huge node0,node2 fails: node 2 has no free page" "1" "$([ $rc -ne 0 ] && echo 1 || echo "0 ($(cat /tmp/out))")"
diag </tmp/out
is "the failed split leaves no region behind" "" "$(ls $MNT/huge/node0/sy $MNT/huge/node2/sy $B/.huge/sy 2>/dev/null)"
pools 8 5 0
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
kill_daemon
start_daemon
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
errno_is "shrinking node 2's pool below the pages its regions use fails with EBUSY" EBUSY \
	pwrite $MNT/huge/node2/.nr_pages 0 10
pools 15 0 2
check "writing a size (32M) to huge/node1/.nr_pages succeeds" sh -c "echo 32M >$MNT/huge/node1/.nr_pages"
pools 16 10 1
check "writing 8 to huge/node1/.nr_pages gives back the 8 unused pages" sh -c "echo 8 >$MNT/huge/node1/.nr_pages"
pools 8 2 1
echo "shmfsctl query:" | diag
"$SHMFSCTL_BIN" query 2>&1 | diag
"$SHMFSCTL_BIN" query sx 2>&1 | diag

# ---------------------------------------------------------------- a migration cut short

# SIGKILL lands while the daemon sits in move_pages(2) (a syscall that
# finishes first), so this hits the moment between moving the pages and
# recording the move. After a restart the region must be whole: listed in one
# node directory, every page on that node, bytes intact.
check "node 0 and node 1 pools grow to 108 pages" sh -c \
	"echo 108 >$MNT/huge/node0/.nr_pages && echo 108 >$MNT/huge/node1/.nr_pages"
check "a 100-page region is made in huge/node1 (big)" truncate -s 209715200 $MNT/huge/node1/big
check "big is filled with a known pattern" "$VMNUMA" fill $B/.huge/big 15
mv $MNT/huge/node1/big $MNT/huge/node0/big 2>/dev/null &
mover=$!
sleep 0.05
kill_daemon
wait $mover 2>/dev/null
start_daemon
where=$(ls -d $MNT/huge/node*/big 2>&1 | sed "s|$MNT/huge/node||; s|/big||" | tr '\n' ' ' | sed 's/ $//')
is "after a SIGKILL in the middle of mv, big is listed in exactly one node directory" "1" \
	"$(echo "$where" | wc -w)"
is "every page of big is on the node it is listed in ($where)" "pages=100 allocated=100 N$where=100" \
	"$(placement huge big)"
check "big's bytes are intact" "$VMNUMA" check $B/.huge/big 15
check "big is removed" rm $MNT/huge/node$where/big
check "the pools of nodes 0 and 1 go back to 8 pages" sh -c \
	"echo 8 >$MNT/huge/node0/.nr_pages && echo 8 >$MNT/huge/node1/.nr_pages"
pools 8 7 0
pools 8 2 1

# Pages moved behind shmfs's back: a mv that follows them needs no free page.
check "huge/node1/h1 is removed" rm $MNT/huge/node1/h1
check "a 2-page region is made in huge/node1 (bb)" truncate -s 4194304 $MNT/huge/node1/bb
check "bb's pages are moved to node 0 behind shmfs's back" "$VMNUMA" move $B/.huge/bb 0
check "a region takes node 0's last 5 free pages" truncate -s 10485760 $MNT/huge/node0/f0
pools 8 0 0
check "mv huge/node1/bb huge/node0/ succeeds with node 0 full: bb's pages are there already" \
	mv $MNT/huge/node1/bb $MNT/huge/node0/bb
is "bb is in node0/ with every page on node 0" "yes pages=2 allocated=2 N0=2" \
	"$([ -e $MNT/huge/node0/bb ] && echo yes || echo no) $(placement huge bb)"
check "bb and f0 are removed" rm $MNT/huge/node0/bb $MNT/huge/node0/f0
pools 8 7 0
pools 8 4 1

# ---------------------------------------------------------------- a node's memory bounds normal regions

# normal/node0 can take only node 0's memory (1 GiB), though the tmpfs behind
# it is bigger: asking for more must be refused, not end in the OOM killer.
check "an empty normal region is made in normal/node0 (xl)" "$TSYS" open $MNT/normal/node0/xl cx 0644
# node 0's whole memory and 64 MiB more (a bigger ask only costs time)
xl_kb=$(( $(awk '/MemTotal/ { print $4 }' $SYSN/node0/meminfo) + 65536 ))
t0=$(date +%s)
got=$("$TSYS" truncate $MNT/normal/node0/xl $((xl_kb * 1024)) 2>&1)
echo "sizing xl to $xl_kb KiB took $(( $(date +%s) - t0 )) s" | diag
case $got in
ENOMEM|ENOSPC) ok "sizing xl past node 0's memory (its MemTotal + 64 MiB) is refused ($got)" ;;
*) notok "sizing xl past node 0's memory (its MemTotal + 64 MiB) is refused"; echo "got: $got" | diag ;;
esac
check "the daemon survives it" alive $daemon
is "xl is still empty" "OK size=0" "$("$TSYS" stat $MNT/normal/node0/xl 2>&1 | cut -d' ' -f1-2)"
check "xl is removed" rm $MNT/normal/node0/xl
for n in 0 1; do
	is "df of normal/node$n shows node $n's memory as its size, not the whole tmpfs" \
		"$(awk '/MemTotal/ { print $4 }' $SYSN/node$n/meminfo)" \
		"$("$DF" -kP $MNT/normal/node$n 2>&1 | awk 'NR == 2 { print $2 }')"
done

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

stop_daemon
finish
