#!/bin/bash
# ops.sh - the file operations of SPEC 4 through the real tools: mv within a
# node, mv across page types (EXDEV, so mv copies), mkdir/rmdir/link/symlink/
# mknod refused with EPERM, rm with shm_unlink semantics, chmod/chown, df per
# pool, an honest stat, ls -l.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
fs_setup 8
W=$T_DIR/work
mkdir -p "$W"
head -c $((2 * HP)) /dev/urandom >"$W/a"
head -c $((2 * HP)) /dev/urandom >"$W/b"

# ---------------------------------------------------------------- rename

cp "$W/a" "$H/m1"
setfattr -n user.note -v kept "$H/m1"
created=$(fs_x "$H/m1" user.shmfs.created)
t_check "mv within a node works" mv "$H/m1" "$H/m2"
t_errno "the old name is gone" ENOENT stat "$H/m1"
t_check "the new name has the bytes" cmp "$W/a" "$H/m2"
t_errno "the old backing file is gone" ENOENT stat "$(fs_backing huge m1)"
t_check "the backing file has the new name" cmp "$W/a" "$(fs_backing huge m2)"
t_is "user.shmfs.backing follows the rename" "$(fs_backing huge m2)" "$(fs_x "$H/m2" user.shmfs.backing)"
t_is "the creation time is kept" "$created" "$(fs_x "$H/m2" user.shmfs.created)"
t_is "user xattrs are kept" "kept" "$(fs_x "$H/m2" user.note)"

cp "$W/b" "$H/m3"
f0=$(t_hp_free huge "$N")
t_check "mv over an existing region replaces it" mv -f "$H/m2" "$H/m3"
t_check "... the target has the moved bytes" cmp "$W/a" "$H/m3"
t_errno "... the source name is gone" ENOENT stat "$H/m2"
t_is "... the replaced region's pages are freed" $((f0 + 2)) "$(t_hp_free huge "$N")"
t_is "... one backing file is left" "m3" "$(ls "$T_BACKING/.huge" | xargs)"

touch "$H/x1"
t_errno "rename across page types is EXDEV" EXDEV rename "$H/m3" "$R/m3"
t_check "... and changes nothing" cmp "$W/a" "$H/m3"
t_errno "... and creates nothing" ENOENT stat "$R/m3"
f0=$(t_hp_free huge "$N")
t_check "mv across page types works (copy and unlink)" mv "$H/m3" "$R/m3"
t_check "... the bytes arrive" cmp "$W/a" "$R/m3"
t_errno "... the source is gone" ENOENT stat "$H/m3"
t_is "... its huge pages are freed" $((f0 + 2)) "$(t_hp_free huge "$N")"
t_check "... the normal backing file holds them" cmp "$W/a" "$(fs_backing normal m3)"
t_errno "rename of a region to the root is refused" EPERM rename "$H/x1" "$T_MNT/x1"
t_errno "rename of a region into a type directory is refused" EPERM rename "$H/x1" "$T_MNT/huge/x1"
t_errno "rename of a node directory is refused" EPERM rename "$H" "$T_MNT/huge/nodeX"
t_errno "rename of a type directory is refused" EPERM rename "$T_MNT/huge" "$T_MNT/huge2"
t_errno "rename of a control file is refused" EPERM rename "$H/.nr_pages" "$H/y"
for n in $FS_NODES; do
	[ "$n" = "$N" ] && continue
	t_check "mv to node$n of the same type works" mv "$R/m3" "$T_MNT/normal/node$n/m3"
	t_is "... and the pages move to node$n" "$n" "$(fs_x "$T_MNT/normal/node$n/m3" user.shmfs.numa_nodes)"
	mv "$T_MNT/normal/node$n/m3" "$R/m3"
done

# ---------------------------------------------------------------- refused

for d in "$T_MNT" "$T_MNT/huge" "$H" "$R"; do
	t_errno "mkdir in ${d#$T_MNT} is EPERM" EPERM mkdir "$d/dir"
done
t_errno "rmdir of a node directory is EPERM" EPERM rmdir "$H"
t_errno "rmdir of a type directory is EPERM" EPERM rmdir "$T_MNT/huge"
t_errno "link is EPERM" EPERM link "$H/x1" "$H/x2"
t_errno "symlink is EPERM" EPERM symlink x1 "$H/x3"
t_errno "mknod is EPERM" EPERM mknod "$H/x4"
t_fails "ln(1) fails" ln "$H/x1" "$H/x5"
t_is "nothing was created by them" "x1" "$(ls "$H" | xargs)"
t_is "nothing was created in the backing store" "x1" "$(ls "$T_BACKING/.huge" | xargs)"
t_errno "unlink of a control file is EPERM" EPERM unlink "$H/.nr_pages"
t_errno "unlink of .status is EPERM" EPERM unlink "$T_MNT/.status"

# ---------------------------------------------------------------- rm

truncate -s $((2 * HP)) "$H/gone"
b=$(fs_backing huge gone)
f0=$(t_hp_free huge "$N")
fs_map mapper "$b" r
t_check "rm of a mapped region works" rm "$H/gone"
t_errno "... its name is gone" ENOENT stat "$H/gone"
t_errno "... its backing name is gone" ENOENT stat "$b"
t_is "... its pages stay while it is mapped" "$f0" "$(t_hp_free huge "$N")"
t_errno "... its name can be reused at once" OK open "$H/gone" cx
fs_unmap "$mapper"
t_is "... its pages are freed when the last mapping goes" $((f0 + 2)) "$(t_hp_free huge "$N")"
t_check "rm of an unmapped region works" rm "$H/gone"
cp "$W/b" "$H/open"
exec 7<"$H/open"
t_check "rm of a region open for reading works" rm "$H/open"
t_check "... the open file still reads its bytes" sh -c 'cmp - "$1" <&7' sh "$W/b"
exec 7<&-
t_is "rm left no backing file behind" "x1" "$(ls "$T_BACKING/.huge" | xargs)"

# ---------------------------------------------------------------- chmod, chown, umask

t_check "chmod works" chmod 0640 "$H/x1"
t_is "... stat shows it" "640" "$(fs_st %a "$H/x1")"
t_is "... the backing file carries it" "640" "$(fs_st %a "$(fs_backing huge x1)")"
t_check "chown works" chown 1234:5678 "$H/x1"
t_is "... stat shows it" "1234 5678" "$(fs_st '%u %g' "$H/x1")"
t_is "... the backing file carries it" "1234 5678" "$(fs_st '%u %g' "$(fs_backing huge x1)")"
t_errno "create with mode 0604 gives 0604" OK open "$H/mode1" cx 0604
t_is "... stat shows it" "604" "$(fs_st %a "$H/mode1")"
t_check "touch under umask 027 works" sh -c 'umask 027; touch "$1"' sh "$H/mode2"
t_is "... the umask is applied" "640" "$(fs_st %a "$H/mode2")"
t_is "... on the backing file too" "640" "$(fs_st %a "$(fs_backing huge mode2)")"
t_is "a region belongs to its creator" "0 0" "$(fs_st '%u %g' "$H/mode2")"

# ---------------------------------------------------------------- df, stat, ls -l

total=$(t_hp_total huge "$N"); free=$(t_hp_free huge "$N")
t_is "df of huge/node$N shows the node's pool (size, avail)" \
	"$((total * HP)) $((free * HP))" "$(df -B1 --output=size,avail "$H" | tail -n 1 | xargs)"
truncate -s $((2 * HP)) "$H/df"
t_is "df of huge/node$N drops by the region's pages" \
	"$((total * HP)) $(((free - 2) * HP))" "$(df -B1 --output=size,avail "$H" | tail -n 1 | xargs)"
tot_all=0; free_all=0
for n in $FS_NODES; do
	tot_all=$((tot_all + $(t_hp_total huge "$n"))); free_all=$((free_all + $(t_hp_free huge "$n")))
done
t_is "df of huge/ shows the pool of every node" \
	"$((tot_all * HP)) $((free_all * HP))" "$(df -B1 --output=size,avail "$T_MNT/huge" | tail -n 1 | xargs)"
t_like "df of normal/node$N shows a non-empty pool" '^[1-9][0-9]* [0-9]+$' \
	"$(df -B1 --output=size,avail "$R" | tail -n 1 | xargs)"
t_like "df of the mount root works and shows a size" '^[1-9][0-9]* [0-9]+$' \
	"$(df -B1 --output=size,avail "$T_MNT" | tail -n 1 | xargs)"
sum_size=0; sum_avail=0
for t in $FS_TYPES; do
	read -r sz av < <(df -B1 --output=size,avail "$T_MNT/$t" | tail -n 1)
	sum_size=$((sum_size + sz)); sum_avail=$((sum_avail + av))
done
t_is "df of the mount root adds up every type's pool (so a huge region shows as used)" \
	"$sum_size $sum_avail" "$(df -B1 --output=size,avail "$T_MNT" | tail -n 1 | xargs)"
if [ "$FS_GIG_SZ" -gt 0 ]; then
	t_is "df of gigantic/node$N shows the node's gigantic pool" \
		"$(( $(t_hp_total gigantic "$N") * FS_GIG_SZ )) $(( $(t_hp_free gigantic "$N") * FS_GIG_SZ ))" \
		"$(df -B1 --output=size,avail "$T_MNT/gigantic/node$N" | tail -n 1 | xargs)"
else
	t_skip "df of gigantic/node$N shows the node's gigantic pool" "$FS_GIG_SKIP"
fi

for r in "$H/df" "$H/x1" "$R/m3"; do
	type=huge; [ "$r" = "$R/m3" ] && type=normal
	b=$(fs_backing "$type" "$(basename "$r")")
	t_is "stat of ${r#$T_MNT/} is honest (size blocks mode uid gid) as the backing file" \
		"$(fs_st '%s %b %a %u %g' "$b")" "$(fs_st '%s %b %a %u %g' "$r")"
done
t_is "st_blocks of a 2-page huge region counts 2 huge pages" $((2 * HP / 512)) "$(fs_st %b "$H/df")"
t_is "st_blocks of an empty region is 0" "0" "$(fs_st %b "$H/x1")"
t_is "a region has one link" "1" "$(fs_st %h "$H/df")"
t_check "touch -d sets the modification time" touch -m -d @1500000000 "$H/df"
t_is "... stat shows it" "1500000000" "$(fs_st %Y "$H/df")"

t_like "ls -l shows a region's mode, owner, size and name" \
	"^-rw-r--r-- +1 root +root +$((2 * HP)) .* df$" "$(ls -l "$H" | grep ' df$')"
t_like "ls -l shows the chown'd owner numerically" \
	'^-rw-r----- +1 1234 +5678 +0 .* x1$' "$(ls -l "$H" | grep ' x1$')"
t_is "ls -l lists exactly the regions" "df mode1 mode2 x1" \
	"$(ls -l "$H" | tail -n +2 | awk '{ print $NF }' | xargs)"

# Kept by the daemon across a restart.
t_umount
t_mount || exit 1
t_is "the modification time survives a remount" "1500000000" "$(fs_st %Y "$H/df")"
t_is "mode and owner survive a remount" "640 1234 5678" "$(fs_st '%a %u %g' "$H/x1")"

t_done
