#!/bin/bash
# fdshmem.sh - the backing store is Firedancer's layout (SPEC 2), usable from
# both sides: a region made through shmfs is a plain file at
# <backing>/.TYPE/NAME that fd_shmem-style code opens and maps, and a file
# made there directly (as fd_shmem_create does) shows up in the tree as a
# region with no creator process (creator_pid 0, never orphaned); renames and
# removals done behind the daemon's back are followed, even by a cached tree.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
fs_setup 4
BH=$T_BACKING/.huge
BN=$T_BACKING/.normal

# shmfs -> fd_shmem
truncate -s "$HP" "$H/wksp"
"$TSYS" pwrite "$H/wksp" 100 via-mount >/dev/null
t_is "a region made through shmfs is the file .huge/NAME" "$HP" "$(fs_st %s "$BH/wksp")"
t_is "... which a process maps and reads (an fd_shmem join)" "OK via-mount" \
	"$("$FS_PROBE" peek "$BH/wksp" 100 9)"

# fd_shmem -> shmfs
t_errno "the tree does not know a name before it exists (a cached negative entry)" ENOENT stat "$H/direct"
fallocate -l $((2 * HP)) "$BH/direct"
t_check "a file made in .huge directly appears as a region" t_wait_for 10 test -e "$H/direct"
t_is "... with the file's size" $((2 * HP)) "$(fs_st %s "$H/direct")"
t_is "... listed by ls" "direct wksp" "$(ls "$H" | xargs)"
t_is "... with no creator process" "0" "$(fs_x "$H/direct" user.shmfs.creator_pid)"
t_is "... and never orphaned" "false" "$(fs_x "$H/direct" user.shmfs.orphaned)"
t_is "... its pages where the kernel put them" "$N" "$(fs_x "$H/direct" user.shmfs.numa_nodes)"
t_is "... and its backing path" "$BH/direct" "$(fs_x "$H/direct" user.shmfs.backing)"
head -c 8192 /dev/urandom >"$T_DIR/n2"
cp "$T_DIR/n2" "$BN/direct2"
t_check "a file made in .normal directly appears too" t_wait_for 10 test -e "$T_MNT/normal/node$N/direct2"
t_check "... with its bytes" cmp "$T_DIR/n2" "$T_MNT/normal/node$N/direct2"

mv "$BH/direct" "$BH/moved"
t_check "a rename in the backing store is followed" t_wait_for 10 test -e "$H/moved"
t_check "... and the old name goes" t_wait_for 10 test ! -e "$H/direct"
rm "$BN/direct2"
t_check "a removal in the backing store is followed" t_wait_for 10 test ! -e "$T_MNT/normal/node$N/direct2"
touch "$BH/.hidden"
t_is "hidden files in the backing store are not regions" "moved wksp" "$(ls -A "$H" | grep -v '^\.' | xargs)"
t_errno "... and cannot be reached" ENOENT stat "$H/.hidden"
rm -f "$BH/.hidden"

f0=$(t_hp_free huge "$N")
t_check "rm through the mount of such a region works" rm "$H/moved"
t_errno "... and removes its backing file" ENOENT stat "$BH/moved"
t_is "... and frees its pages" $((f0 + 2)) "$(t_hp_free huge "$N")"

# It keeps what it got across a restart.
fallocate -l "$HP" "$BH/kept"
t_wait_for 10 test -e "$H/kept"
created=$(fs_x "$H/kept" user.shmfs.created)
t_kill_daemon
t_mount || exit 1
t_is "a region found in the backing store keeps its creation time across a restart" \
	"$created" "$(fs_x "$H/kept" user.shmfs.created)"
t_is "... and has still no creator" "0" "$(fs_x "$H/kept" user.shmfs.creator_pid)"

t_done
