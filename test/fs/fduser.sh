#!/bin/bash
# fduser.sh - Firedancer as its users run it (issue 12): `fd_shmem_cfg init
# 700 USER` and then fd_shmem_ctl run by USER against the backing store.
# Mounted with mode=0700,uid=USER,gid=USER (what `shmfsctl init 700 USER`
# passes), the backing store's type directories are USER's, mode 700, like
# the tree's directories: USER creates there exactly as fd_shmem_ctl does
# (open O_CREAT|O_EXCL, ftruncate, mmap, mbind, touch) and joins there; the
# daemon adopts what USER made as USER's regions; another user is refused
# there as through the tree.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

FDCTL=$SHMFS_BUILD_ROOT/test/fs/fdctl
N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
OTHER=$((T_UID + 1))
BH=$T_BACKING/.huge
BN=$T_BACKING/.normal
as_other() { setpriv --reuid="$OTHER" --regid="$OTHER" --clear-groups --inh-caps=-all -- "$@"; }

fs_no_overcommit
t_check "4 free huge pages can be reserved for the test" t_pool_grow huge "$N" 4
t_mount "mode=0700,uid=$T_UID,gid=$T_UID" || exit 1
H=$T_MNT/huge/node$N
R=$T_MNT/normal/node$N

t_is "the backing root is the user's, mode 700 (as fd_shmem_cfg init does)" "700 $T_UID $T_UID" \
	"$(stat -c '%a %u %g' "$T_BACKING")"
t_is "... and its huge directory" "700 $T_UID $T_UID" "$(stat -c '%a %u %g' "$BH")"
t_is "... and its normal directory" "700 $T_UID $T_UID" "$(stat -c '%a %u %g' "$BN")"
t_is "... like the tree's node directories" "700 $T_UID $T_UID" "$(stat -c '%a %u %g' "$H")"

f0=$(t_hp_free huge "$N")
t_is "the user creates a huge region in the backing store as fd_shmem_ctl does" \
	"OK size=$((2 * HP)) uid=$T_UID mode=600" \
	"$(t_as_user "$FDCTL" create "$BH/wksp" $((2 * HP)) "$N" 0600)"
t_is "... which takes its pages from the node's pool" $((f0 - 2)) "$(t_hp_free huge "$N")"
t_check "the daemon shows it as a region" t_wait_for 10 test -e "$H/wksp"
t_is "... owned by the user, with the mode it was made with" "$T_UID $T_UID 600" \
	"$(stat -c '%u %g %a' "$H/wksp")"
t_is "... and its size" $((2 * HP)) "$(fs_st %s "$H/wksp")"
t_is "... its pages on the node they were bound to" "$N" "$(fs_x "$H/wksp" user.shmfs.numa_nodes)"
t_is "the user joins it through the backing path" "OK joined" \
	"$(t_as_user "$FDCTL" join "$BH/wksp" 64 joined)"
t_is "... and reads those bytes through the tree" "OK joined" "$(t_as_user "$TSYS" pread "$H/wksp" 64 6)"
t_is "the user creates a normal region there too" "OK size=$((4 * PG)) uid=$T_UID mode=640" \
	"$(t_as_user "$FDCTL" create "$BN/small" $((4 * PG)) "$N" 0640)"
t_check "... which the daemon shows" t_wait_for 10 test -e "$R/small"
t_is "... as the user's" "$T_UID 640" "$(stat -c '%u %a' "$R/small")"
t_is "the user creates through the tree as well" "OK" "$(t_as_user "$TSYS" open "$H/viatree" cx 0600)"

t_is "another user cannot create in the backing store" "EACCES open" \
	"$(as_other "$FDCTL" create "$BH/theirs" "$HP" "$N" 0600)"
t_is "... nor join the user's region there" "EACCES open" \
	"$(as_other "$FDCTL" join "$BH/wksp" 64 x)"
t_is "... as through the tree: no create" "EACCES" \
	"$(as_other "$TSYS" open "$H/theirs" cx 0600 | cut -d' ' -f1)"
t_is "... and no join" "EACCES" "$(as_other "$TSYS" open "$H/wksp" r | cut -d' ' -f1)"
t_is "... and no pages were taken" $((f0 - 2)) "$(t_hp_free huge "$N")"

# a restart over the same backing store keeps all of it
t_kill_daemon
t_mount "mode=0700,uid=$T_UID,gid=$T_UID" || exit 1
t_is "after a restart the region is still the user's" "$T_UID 600" "$(stat -c '%u %a' "$H/wksp")"
t_is "... the directories still the user's" "700 $T_UID" "$(stat -c '%a %u' "$BH")"
t_is "... and the user still joins it" "OK joined" "$(t_as_user "$FDCTL" join "$BH/wksp" 64 joined)"
t_check "the user removes it in the backing store" t_as_user rm "$BH/wksp"
t_check "... and it leaves the tree" t_wait_for 10 test ! -e "$H/wksp"
t_is "... giving its pages back" "$f0" "$(t_hp_free huge "$N")"
t_umount

# The same through `shmfsctl init 700 USER USER` (its default backing root
# under /run/shmfs, which the harness does not know: cleaned up here).
CM=$T_DIR/ctlmnt
CB=
ctl_cleanup() {
	local t
	if [ -n "$(awk -v m="$CM" '$2 == m' /proc/mounts)" ]; then
		"$SHMFSCTL_BIN" --mount "$CM" -q fini -f >/dev/null 2>&1 || umount -l "$CM" 2>/dev/null
	fi
	if [ -n "$CB" ] && [ -d "$CB" ]; then
		for t in .normal .huge .gigantic; do
			find "$CB/$t" -mindepth 1 -delete 2>/dev/null
			umount -l "$CB/$t" 2>/dev/null
		done
		rm -rf "$CB"
	fi
	t_cleanup
}
trap ctl_cleanup EXIT
mkdir -p "$CM"
t_check "shmfsctl init 700 USER USER mounts shmfs" "$SHMFSCTL_BIN" --mount "$CM" -q init 0700 "$T_UID" "$T_UID"
CB=$(fs_x "$CM" user.shmfs.backing)
t_is "... whose backing huge directory is the user's, mode 700" "700 $T_UID $T_UID" \
	"$(stat -c '%a %u %g' "$CB/.huge" 2>&1)"
t_is "the user creates there as fd_shmem_ctl does" "OK size=$HP uid=$T_UID mode=600" \
	"$(t_as_user "$FDCTL" create "$CB/.huge/wksp2" "$HP" "$N" 0600)"
t_check "... and the region shows in the tree" t_wait_for 10 test -e "$CM/huge/node$N/wksp2"
t_is "... as the user's" "$T_UID" "$(stat -c %u "$CM/huge/node$N/wksp2")"
t_is "another user cannot create there" "EACCES open" \
	"$(as_other "$FDCTL" create "$CB/.huge/theirs" "$HP" "$N" 0600)"
t_check "shmfsctl fini -f tears it down" "$SHMFSCTL_BIN" --mount "$CM" -q fini -f

t_done
