# ctl_pools.sh - huge page pools through the tree (.nr_pages, .free_pages,
# directory xattrs) and through shmfsctl alloc/free: exact reservations
# checked in sysfs, shrinking around pages regions use, unreachable targets
# that leave the pool as it was, strict parsing, root only.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

ctl_no_overcommit
t_mount
D=$T_MNT/huge/node$N0
NR=$D/.nr_pages

# Start from a pool with nothing free and nothing used by us: USED pages
# belong to no one we know (normally 0).
t_pool_set huge "$N0" "$(( $(t_hp_total huge "$N0") - $(t_hp_free huge "$N0") ))"
USED=$(t_hp_total huge "$N0")

t_errno "echo N > .nr_pages succeeds" OK pwrite "$NR" 0 "$((USED + 6))"
t_is "the node's pool holds exactly N pages (sysfs)" "$((USED + 6))" "$(t_hp_total huge "$N0")"
t_is ".nr_pages reads back N" "$((USED + 6))" "$(cat "$NR")"
t_is ".free_pages reads the free pages" "$(t_hp_free huge "$N0")" "$(cat "$D/.free_pages")"
t_is "the node directory's pool.total xattr agrees" "$((USED + 6))" "$(ctl_x "$D" user.shmfs.pool.total)"
t_is "the node directory's pool.free xattr agrees" "$(t_hp_free huge "$N0")" "$(ctl_x "$D" user.shmfs.pool.free)"
t_like "the node directory has a pool.reserved xattr" '^[0-9]+$' "$(ctl_x "$D" user.shmfs.pool.reserved)"
t_is "the node directory's pool.surplus xattr is 0" "0" "$(ctl_x "$D" user.shmfs.pool.surplus)"

echo +2 >"$NR"
t_is "writing +2 grows the pool by 2" "$((USED + 8))" "$(t_hp_total huge "$N0")"
echo -3 >"$NR"
t_is "writing -3 shrinks the pool by 3" "$((USED + 5))" "$(t_hp_total huge "$N0")"
echo "$(( (USED + 4) * HUGE_SZ / 1048576 ))M" >"$NR"
t_is "writing a size with a unit sets the pool to that many bytes" "$((USED + 4))" "$(t_hp_total huge "$N0")"

# Relative writes are read-modify-write in the daemon: concurrent ones all
# count, none is lost to another's read.
# writers N TEXT: N processes write TEXT to .nr_pages at once; wait for them
# (not for the daemon, also a child of this shell).
writers() {
	local pids=() i
	for i in $(seq 1 "$1"); do
		sh -c 'echo "$2" >"$1"' sh "$NR" "$2" &
		pids+=("$!")
	done
	wait "${pids[@]}"
}
before=$(t_hp_total huge "$N0")
writers 16 +1
t_is "16 concurrent writes of +1 grow the pool by exactly 16" "$((before + 16))" "$(t_hp_total huge "$N0")"
writers 16 -1
t_is "16 concurrent writes of -1 shrink it by exactly 16" "$before" "$(t_hp_total huge "$N0")"

# Shrinking around pages in use.
touch "$D/inuse"
truncate -s $((2 * HUGE_SZ)) "$D/inuse"
ctl_map MAPPER "$D/inuse"
printf 'keepme' | dd of="$D/inuse" conv=notrunc status=none
t_errno "shrinking to the pages in use succeeds while a region is mapped" OK \
	pwrite "$NR" 0 "$((USED + 2))"
t_is "the pool then holds exactly the pages in use" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_is "the region's bytes are untouched" "keepme" "$(head -c 6 "$D/inuse")"
t_errno "shrinking below the pages in use is EBUSY" EBUSY pwrite "$NR" 0 "$USED"
t_is "a refused shrink leaves the pool as it was" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_is "a refused shrink leaves no surplus pages" "0" "$(cat "$(t_hp_dir huge "$N0")/surplus_hugepages")"

# A target no machine this size can reach: refused (ENOMEM) before the
# kernel is asked, which would first take all memory.
GNR=$T_MNT/gigantic/node$N0/.nr_pages
G_BEFORE=$(t_hp_total gigantic "$N0")
MEM_KB=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
G_TOO_MANY=$(( MEM_KB / 1048576 + 2 ))
t_errno "an unreachable target fails with ENOMEM" ENOMEM pwrite "$GNR" 0 "$G_TOO_MANY"
t_is "after an unreachable target the pool is exactly as before" "$G_BEFORE" "$(t_hp_total gigantic "$N0")"
t_is "an unreachable target leaves the other pools alone" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_is "after an unreachable target the region is still intact" "keepme" "$(head -c 6 "$D/inuse")"

# Strict parsing: anything but the canonical forms is EINVAL, nothing changes.
for bad in " 4" "4 " "04" "+" "-" "4x" "1.5" "4gg" "4GBi" "0x10" "++1" $'4\n\n' $'\n' \
	"4 5" "-$((USED + 100))" "18446744073709551616"; do
	t_errno "writing '$(printf %q "$bad")' to .nr_pages is EINVAL" EINVAL pwrite "$NR" 0 "$bad"
done
t_errno "one trailing newline is accepted" OK pwrite "$NR" 0 "$((USED + 2))"$'\n'
t_is "refused writes changed nothing" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_errno ".free_pages cannot be written" EACCES pwrite "$D/.free_pages" 0 1

# Root only.
t_is "another user cannot write .nr_pages (EACCES)" EACCES \
	"$(t_as_user "$TSYS" pwrite "$NR" 0 "$((USED + 5))" | cut -d' ' -f1)"
t_is "another user cannot write .control (EACCES)" EACCES \
	"$(t_as_user "$TSYS" pwrite "$T_MNT/.control" 0 reset | cut -d' ' -f1)"
t_is "another user can read .nr_pages" "$((USED + 2))" "$(t_as_user cat "$NR")"
t_is "the pool is unchanged by the refused writes" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_errno ".control accepts compact" OK pwrite "$T_MNT/.control" 0 compact
t_errno ".control refuses an unknown word" EINVAL pwrite "$T_MNT/.control" 0 defrag
t_errno ".control refuses a padded word" EINVAL pwrite "$T_MNT/.control" 0 " reset"

# shmfsctl alloc / free
ctl_kill "$MAPPER"
ctl alloc "$((USED + 7))" huge "$N0" >"$T_DIR/alloc.out" 2>&1
t_is "shmfsctl alloc exits 0" 0 $?
t_is "shmfsctl alloc reserves exactly CNT pages (sysfs)" "$((USED + 7))" "$(t_hp_total huge "$N0")"
t_like "shmfsctl alloc says what the pool now holds" "huge pages on node $N0: $((USED + 7)) " "$(cat "$T_DIR/alloc.out")"
ctl alloc "$(( (USED + 3) * HUGE_SZ / 1048576 ))M" huge "node$N0" >/dev/null
t_is "shmfsctl alloc accepts a size with a unit and nodeN" "$((USED + 3))" "$(t_hp_total huge "$N0")"
ctl --json alloc "$((USED + 4))" huge "$N0" >"$T_DIR/alloc.json"
t_is "shmfsctl --json alloc reports the exact total" "$((USED + 4))" "$(ctl_json "$T_DIR/alloc.json" 'd["total"]')"
t_is "shmfsctl --json alloc reports the page size" "$HUGE_SZ" "$(ctl_json "$T_DIR/alloc.json" 'd["page_size"]')"
t_fails "shmfsctl alloc of an unreachable count fails" ctl alloc "$G_TOO_MANY" gigantic "$N0"
t_like "it says the pool is unchanged and what to do" "unchanged.*Free memory" "$(cat "$T_DIR/out")"
t_is "after a failed alloc the pool is as before" "$G_BEFORE" "$(t_hp_total gigantic "$N0")"
t_check "shmfsctl free succeeds with a region using pages" ctl free huge "$N0"
t_is "shmfsctl free leaves exactly the pages in use" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_fails "shmfsctl alloc below the pages in use fails" ctl alloc "$USED" huge "$N0"
t_like "it says the pages are in use" " $((USED + 2)) are in use" "$(cat "$T_DIR/out")"
t_like "it says the pool is unchanged" "the pool is unchanged" "$(cat "$T_DIR/out")"
t_is "after a refused alloc the pool is as before" "$((USED + 2))" "$(t_hp_total huge "$N0")"

# bad input to alloc/free: exit status 2 with a message naming the problem
alloc_status() { ctl "$@" >"$T_DIR/bad.out" 2>&1; echo $?; }
t_is "alloc of an unknown page type is a usage error" 2 "$(alloc_status alloc 1 hug "$N0")"
t_like "it names the types this kernel offers" "unknown page type 'hug'.*huge" "$(cat "$T_DIR/bad.out")"
t_is "alloc of normal pages is refused" 2 "$(alloc_status alloc 1 normal "$N0")"
t_is "alloc on a node that does not exist is refused" 2 "$(alloc_status alloc 1 huge 999)"
t_like "it lists the nodes with memory" "999 does not exist.*nodes with memory" "$(cat "$T_DIR/bad.out")"
t_is "alloc on a negative node is refused" 2 "$(alloc_status alloc 1 huge -1)"
t_is "alloc taking the pool below zero is refused" 2 "$(alloc_status alloc -999999999 huge "$N0")"
t_like "it says how many pages the pool holds" "it holds [0-9]+" "$(cat "$T_DIR/bad.out")"
t_is "alloc of a non-numeric count is refused" 2 "$(alloc_status alloc many huge "$N0")"
t_is "alloc of a fractional count is refused" 2 "$(alloc_status alloc 1.5 huge "$N0")"
t_is "alloc of a size that is not whole pages is refused" 2 "$(alloc_status alloc 3K huge "$N0")"
t_is "alloc with missing arguments is refused" 2 "$(alloc_status alloc 1 huge)"
t_is "free of an unknown type is refused" 2 "$(alloc_status free tiny "$N0")"
t_is "free on a node that does not exist is refused" 2 "$(alloc_status free huge 999)"
t_is "bad input changed no pool" "$((USED + 2))" "$(t_hp_total huge "$N0")"
t_is "alloc as another user fails" 1 "$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" alloc 9 huge "$N0" >"$T_DIR/bad.out" 2>&1; echo $?)"
t_like "it says only root may resize pools" "Only root" "$(cat "$T_DIR/bad.out")"
t_is "alloc on a missing mount fails" 1 "$("$SHMFSCTL_BIN" --mount "$T_DIR/nowhere" alloc 1 huge "$N0" >"$T_DIR/bad.out" 2>&1; echo $?)"
t_like "it says how to get a mount" "shmfsctl init" "$(cat "$T_DIR/bad.out")"

rm -f "$D/inuse"
t_done
