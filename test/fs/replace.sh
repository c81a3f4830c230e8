#!/bin/bash
# replace.sh - mv over an existing region replaces it exactly as rm of the
# target followed by the rename would: a process holding the replaced region
# open still stats and reads it, a process mapping it keeps its pages until
# it lets go, its metadata goes, and the new region is a region of its own.
# (A move from another node ends in the same code: this machine has one
# node, test/vm has several.)
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
fs_setup 8
W=$T_DIR/work
mkdir -p "$W"
head -c $((2 * HP)) /dev/urandom >"$W/a"
head -c $((2 * HP)) /dev/urandom >"$W/b"

# meta_of TYPE INO: the daemon's metadata file of a backing inode.
meta_of() { echo "$T_BACKING/.shmfs/$1/$2"; }

cp "$W/a" "$H/src"
cp "$W/b" "$H/dst"
setfattr -n user.note -v old "$H/dst"
dst_ino=$(fs_st %i "$(fs_backing huge dst)")
t_check "the target has metadata before" test -e "$(meta_of huge "$dst_ino")"
fs_map mapper "$(fs_backing huge dst)" r
exec 7<"$H/dst"
f0=$(t_hp_free huge "$N")
t_check "mv over a region that is open and mapped works" mv -f "$H/src" "$H/dst"
t_check "... the name has the moved bytes" cmp "$W/a" "$H/dst"
t_errno "... the source name is gone" ENOENT stat "$H/src"
t_is "... the new region has no user xattrs of the old" "" "$(fs_x "$H/dst" user.note)"
t_check "... the replaced region still stats through its open file" stat -L /dev/fd/7
t_is "... with no links and its size" "0 $((2 * HP))" "$(stat -L -c '%h %s' /dev/fd/7 2>&1)"
t_check "... and still reads its bytes" sh -c 'cmp - "$1" <&7' sh "$W/b"
t_errno "... its metadata is removed" ENOENT stat "$(meta_of huge "$dst_ino")"
t_is "... its pages stay while it is mapped" "$f0" "$(t_hp_free huge "$N")"
t_check "... the mapper still maps it" \
	awk -v i="$dst_ino" '$5 == i { found = 1 } END { exit !found }' "/proc/$mapper/maps"
t_is "... the new region has no mappers" "0" "$(fs_x "$H/dst" user.shmfs.mapper_count)"
exec 7<&-
fs_unmap "$mapper"
t_is "... its pages are freed when the last mapping goes" $((f0 + 2)) "$(t_hp_free huge "$N")"
t_is "one region is listed" "dst" "$(ls "$H" | xargs)"
t_is "one backing file is left" "dst" "$(ls "$T_BACKING/.huge" | xargs)"
t_is "one metadata file is left" "$(fs_st %i "$(fs_backing huge dst)")" \
	"$(ls "$T_BACKING/.shmfs/huge" | xargs)"

# The target's old inode was forgotten: a region made under the old name
# later is new, with its own metadata.
t_check "rm of the new region works" rm "$H/dst"
t_errno "a region can be made under that name again" OK open "$H/dst" cx
t_is "... and it is empty" "0" "$(fs_st %s "$H/dst")"
rm -f "$H/dst"

# Restart: the tree is what it was.
t_umount
t_mount || exit 1
t_is "after a restart the tree holds exactly the surviving regions" "" "$(ls "$H" | xargs)"

t_done
