#!/bin/bash
# tree.sh - the shape of the tree (SPEC 3): one directory per page type the
# kernel offers, one node directory per NUMA node with memory, the control
# files, the backing layout of SPEC 2, and `ls` showing only regions.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

t_mount || exit 1

want_root=$(echo $FS_TYPES | tr ' ' '\n' | sort | xargs)
t_is "the root lists one directory per page type the kernel offers" \
	"$want_root" "$(ls "$T_MNT" | xargs)"
t_is "ls -A of the root also shows .control, .quota and .status" \
	".control .quota .status $want_root" "$(ls -A "$T_MNT" | sort | xargs)"

want_nodes=$(for n in $FS_NODES; do echo "node$n"; done | sort | xargs)
for type in $FS_TYPES; do
	t_check "$type is a directory" test -d "$T_MNT/$type"
	t_is "$type has one directory per node with memory" \
		"$want_nodes" "$(ls "$T_MNT/$type" | xargs)"
done

for n in $FS_NODES; do
	for type in $FS_TYPES; do
		d=$T_MNT/$type/node$n
		t_check "$type/node$n is a directory" test -d "$d"
		t_is "$type/node$n is empty for ls" "" "$(ls "$d")"
	done
	for type in $(echo $FS_TYPES | sed 's/normal//'); do
		d=$T_MNT/$type/node$n
		t_is "$type/node$n holds .free_pages and .nr_pages" \
			".free_pages .nr_pages" "$(ls -A "$d" | xargs)"
		t_is "$type/node$n/.nr_pages reads the kernel's pool size" \
			"$(t_hp_total "$type" "$n")" "$(cat "$d/.nr_pages")"
		t_is "$type/node$n/.free_pages reads the kernel's free pages" \
			"$(t_hp_free "$type" "$n")" "$(cat "$d/.free_pages")"
		fs_errno_as_user "$type/node$n/.free_pages cannot be written by a user" \
			EACCES open "$d/.free_pages" w
		fs_errno_as_user "$type/node$n/.nr_pages cannot be written by a user" \
			EACCES open "$d/.nr_pages" w
	done
	t_is "normal/node$n has no pool files" "" "$(ls -A "$T_MNT/normal/node$n")"
done

t_check ".status is a readable regular file" test -f "$T_MNT/.status" -a -r "$T_MNT/.status"
t_check ".status says something" test -n "$(cat "$T_MNT/.status")"
t_check ".control is a regular file" test -f "$T_MNT/.control"
t_is ".control belongs to root" "0" "$(fs_st '%u' "$T_MNT/.control")"
fs_errno_as_user ".control cannot be written by a user" EACCES open "$T_MNT/.control" w

# ls shows regions, never the control files.
for type in $FS_TYPES; do
	touch "$T_MNT/$type/node$FS_N0/tree_a" "$T_MNT/$type/node$FS_N0/tree_b"
	t_is "ls of $type/node$FS_N0 shows exactly its regions" \
		"tree_a tree_b" "$(ls "$T_MNT/$type/node$FS_N0" | xargs)"
	t_check "a region in $type is a regular file" test -f "$T_MNT/$type/node$FS_N0/tree_a"
	t_check "a region in $type has its backing file at .$type/NAME" \
		test -f "$(fs_backing "$type" tree_a)"
done

t_like ".status lists the regions by path" "huge/node$FS_N0/tree_a" "$(cat "$T_MNT/.status")"

# The backing root: tmpfs for normal, hugetlbfs with the kernel's page size
# for each huge type (Firedancer's layout).
t_is "the backing .normal is a tmpfs" "tmpfs" \
	"$(awk -v m="$T_BACKING/.normal" '$2 == m { print $3 }' /proc/mounts)"
t_like "the backing .huge is a hugetlbfs of the default huge page size" \
	"^hugetlbfs .*pagesize=$((FS_HUGE_SZ / 1048576))M" \
	"$(awk -v m="$T_BACKING/.huge" '$2 == m { print $3, $4 }' /proc/mounts)"
if [ "$FS_GIG_SZ" -gt 0 ]; then
	t_like "the backing .gigantic is a hugetlbfs of the largest page size" \
		"^hugetlbfs .*pagesize=$((FS_GIG_SZ / 1048576))M" \
		"$(awk -v m="$T_BACKING/.gigantic" '$2 == m { print $3, $4 }' /proc/mounts)"
else
	t_skip "the backing .gigantic is a hugetlbfs of the largest page size" "$FS_GIG_SKIP"
fi
t_is "the backing root holds only what the layout names" \
	"$(for t in $FS_TYPES; do echo ".$t"; done | sort | xargs) .shmfs" \
	"$(ls -A "$T_BACKING" | sort | xargs)"

# Nothing of the daemon's own metadata leaks into the tree.
t_errno "the metadata directory is not in the tree" ENOENT stat "$T_MNT/.shmfs"
t_is "the mount is of type fuse.shmfs" "fuse.shmfs" \
	"$(awk -v m="$T_MNT" '$2 == m { print $3 }' /proc/mounts)"

t_done
