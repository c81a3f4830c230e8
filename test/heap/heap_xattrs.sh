#!/bin/bash
# heap_xattrs.sh - a heap formatted in a real shmfs region on huge pages:
# the daemon shows its statistics as user.shmfs.heap.* xattrs, equal to
# what the library's peek sees, following allocations by processes that have
# since exited; a region without a heap has no heap.* xattrs.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"

export LC_ALL=C
HEAPTOOL=$SHMFS_BUILD_ROOT/test/heap/heaptool
HP=$(( $(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo) * 1024 ))
N=$(cut -d, -f1 /sys/devices/system/node/has_memory | cut -d- -f1)
x() { "$TSYS" getxattr "$1" "$2" 2>/dev/null | sed -n '1s/^OK //p'; }

t_check "2 free huge pages can be reserved for the test" t_pool_grow huge "$N" 2
t_mount || exit 1
R=$T_MNT/huge/node$N/heap
touch "$R"
truncate -s $((2 * HP)) "$R"

t_errno "a region without a heap has no heap.used" ENODATA getxattr "$R" user.shmfs.heap.used
t_is "a heap is formatted in a huge page region" OK "$("$HEAPTOOL" format "$R")"
read -r size used free cnt <<<"$("$HEAPTOOL" stats "$R")"
t_is "heap.size is the heap's size" "$size" "$(x "$R" user.shmfs.heap.size)"
t_is "an empty heap has heap.used 0" 0 "$(x "$R" user.shmfs.heap.used)"
t_is "an empty heap has heap.free = heap.size" "$size" "$(x "$R" user.shmfs.heap.free)"
t_is "a process allocates 10 x 100 bytes and exits" OK "$("$HEAPTOOL" alloc "$R" 10 100)"
t_is "a process allocates 3 x 20000 bytes and exits" OK "$("$HEAPTOOL" alloc "$R" 3 20000)"
read -r size used free cnt <<<"$("$HEAPTOOL" stats "$R")"
t_is "peek counts them (10 x 112 + 3 x 20480 bytes)" "$((10 * 112 + 3 * 20480)) 13" "$used $cnt"
t_is "heap.used follows" "$used" "$(x "$R" user.shmfs.heap.used)"
t_is "heap.free follows" "$free" "$(x "$R" user.shmfs.heap.free)"
t_is "heap.alloc_count follows" 13 "$(x "$R" user.shmfs.heap.alloc_count)"
t_like "getfattr lists the heap attributes" "user.shmfs.heap.used" "$(getfattr -d -m 'user.shmfs.heap' "$R" 2>&1)"
rm -f "$R"
t_done
