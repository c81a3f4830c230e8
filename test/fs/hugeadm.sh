#!/bin/bash
# hugeadm.sh - libhugetlbfs's hugeadm on the same pools as shmfs (issue 12):
# hugeadm and .nr_pages change the same kernel numbers; shrinking the pool
# below the pages regions hold turns them into surplus pages, which shmfs
# shows where a user looks (directory xattrs, .status, shmfsctl info), and
# no region is lost to it.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

if ! command -v hugeadm >/dev/null 2>&1; then
	t_skip "hugeadm on the same pools" "hugeadm is not installed (Debian: libhugetlbfs-bin)"
	t_done
fi
HP=$FS_HUGE_SZ
SZ=$(( HP / 1024 / 1024 ))M   # hugeadm names a page size like 2M
fs_setup 4
ctl() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }
sys=/sys/devices/system/node/node$FS_N0/hugepages/hugepages-$(( HP / 1024 ))kB
base=$(cat "$sys/nr_hugepages")

for i in 1 2 3 4; do truncate -s "$HP" "$H/r$i"; done
fs_pattern r1 4096 >"$T_DIR/r1"
dd if="$T_DIR/r1" of="$H/r1" conv=notrunc status=none
t_is "four regions hold four pages" 4 "$(( base - $(cat "$sys/free_hugepages") ))"

# hugeadm --pool-pages-min sets the whole pool (every node) to the count given
all=$(cat /sys/kernel/mm/hugepages/hugepages-$(( HP / 1024 ))kB/nr_hugepages)
t_check "hugeadm shrinks the pool below the pages in use" \
	hugeadm --pool-pages-min "$SZ:$(( all - base + 2 ))"
t_is "the kernel keeps the pages in use as surplus" 2 "$(cat "$sys/surplus_hugepages")"
t_is "the node directory shows the surplus" 2 "$(fs_x "$H" user.shmfs.pool.surplus)"
t_like ".status shows the surplus" "^huge +$HP +$FS_N0( +[0-9]+){3} +2( |$)" \
	"$(grep "^huge .* $FS_N0 " "$T_MNT/.status")"
t_like "shmfsctl info shows it" "surplus: 2" "$(ctl info)"
t_check "no region was lost" test -e "$H/r1" -a -e "$H/r2" -a -e "$H/r3" -a -e "$H/r4"
t_check "... nor a byte" cmp -n 4096 "$T_DIR/r1" "$H/r1"
t_is ".nr_pages reads what hugeadm set" "$(cat "$sys/nr_hugepages")" "$(cat "$H/.nr_pages")"

rm -f "$H/r3" "$H/r4"
t_is "surplus pages go back to the kernel when regions give them up" 0 "$(cat "$sys/surplus_hugepages")"
t_is "... and the directory says so" 0 "$(fs_x "$H" user.shmfs.pool.surplus)"
t_check ".nr_pages grows the pool hugeadm shrank" sh -c "echo +2 >'$H/.nr_pages'"
t_check "hugeadm --pool-list reads the same pool" sh -c \
	"hugeadm --pool-list | awk -v s=$HP '\$1 == s { print \$2 }' | grep -qx \$(cat /sys/kernel/mm/hugepages/hugepages-$(( HP / 1024 ))kB/nr_hugepages)"
rm -f "$H"/r*
t_done
