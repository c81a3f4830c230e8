#!/bin/bash
# mount.sh - mounting and running (SPEC 10 and the daemon contract): mount -t
# fuse.shmfs finds shmfs in PATH, an fstab line works, fstab-only words are
# accepted, the daemon goes to the background and exits when unmounted,
# regions outlive it, a restart presents the same tree, and without backing=
# the backing root is derived from the mountpoint.
#
# mount(8) runs its helpers with a sanitised environment (no PATH), so
# mount.fuse3 finds `shmfs` only in the default PATH, where an installed
# shmfs lives. To test that path without installing anything on the host,
# the test runs in a private mount namespace in which /usr/local/sbin is a
# directory holding a link to the shmfs under test. Everything mounted here
# vanishes with the namespace.
if [ -z "${FS_MOUNT_NS:-}" ]; then
	FS_MOUNT_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"
t_need systemd-escape

N=$FS_N0
BIN=$T_DIR/bin
mkdir -p "$BIN" "$T_MNT"
ln -s "$SHMFS_BIN" "$BIN/shmfs"
mount --bind "$BIN" /usr/local/sbin || { echo "Bail out! cannot bind $BIN on /usr/local/sbin"; exit 1; }
export PATH=$BIN:$PATH
EXE=$(readlink -f "$SHMFS_BIN")
DEF_BACKING=/run/shmfs/$(systemd-escape --path "$T_MNT")
FSTAB=$T_DIR/fstab
COMMA_BACKING=$T_DIR/back,ing

# The daemons here are not our children: find them by their executable and
# our private mountpoint in their arguments, end them by pid.
daemon_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$EXE" ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$T_MNT" && echo "${p#/proc/}"
	done
}
no_daemon() { [ -z "$(daemon_pids)" ]; }
not_mounted() { ! mountpoint -q "$T_MNT"; }
mount_cleanup() {
	local p m
	umount "$T_MNT" 2>/dev/null || umount -l "$T_MNT" 2>/dev/null
	for p in $(daemon_pids); do
		kill -9 "$p"
	done
	# The escaped name holds a backslash, which /proc/mounts escapes again:
	# undo the backing mounts by name rather than through t_backing_teardown.
	for m in "$DEF_BACKING"/.gigantic "$DEF_BACKING"/.huge "$DEF_BACKING"/.normal \
		 "$COMMA_BACKING"/.gigantic "$COMMA_BACKING"/.huge "$COMMA_BACKING"/.normal; do
		mountpoint -q "$m" || continue
		find "$m" -mindepth 1 -delete 2>/dev/null
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$DEF_BACKING" "$COMMA_BACKING"
	rmdir /run/shmfs 2>/dev/null
	umount /usr/local/sbin 2>/dev/null
}
trap 'mount_cleanup; t_cleanup' EXIT

# ---------------------------------------------------------------- mount -t

t_check "mount -t fuse.shmfs with fstab-only words works" \
	mount -t fuse.shmfs shmfs "$T_MNT" \
	-o "allow_other,backing=$T_BACKING,defaults,noauto,nofail,_netdev,x-systemd.automount"
t_check "... the mountpoint is mounted" mountpoint -q "$T_MNT"
t_is "... as fuse.shmfs" "fuse.shmfs" "$(awk -v m="$T_MNT" '$2 == m { print $3 }' /proc/mounts)"
pids=$(daemon_pids)
t_is "... served by one daemon in the background" 1 "$(echo "$pids" | grep -c .)"
t_check "... that is usable" touch "$T_MNT/huge/node$N/kept"
t_check "... and allows other users" t_as_user ls "$T_MNT/huge/node$N"
t_check "umount works" umount "$T_MNT"
t_check "... the daemon exits" t_wait_for 20 no_daemon
t_check "... the region outlives it" test -f "$T_BACKING/.huge/kept"
t_check "... and so do the backing mounts" mountpoint -q "$T_BACKING/.huge"

# ---------------------------------------------------------------- fstab

echo "shmfs $T_MNT fuse.shmfs noauto,nofail,_netdev,allow_other,backing=$T_BACKING,x-systemd.requires=local-fs.target 0 0" >"$FSTAB"
t_check "mount of an fstab line works" mount -T "$FSTAB" "$T_MNT"
t_check "... the region is there again" test -f "$T_MNT/huge/node$N/kept"
t_check "umount works" umount "$T_MNT"
t_check "... the daemon exits" t_wait_for 20 no_daemon

# ---------------------------------------------------------------- shmfs itself

t_check "shmfs -o with fstab-only words mounts and returns" \
	shmfs -o "backing=$T_BACKING,allow_other,defaults,auto,noauto,user,users,nofail,_netdev,rw,x-foo=bar" shmfs "$T_MNT"
t_check "... the mountpoint is mounted" mountpoint -q "$T_MNT"
t_check "... the region is there again" test -f "$T_MNT/huge/node$N/kept"
t_check "fusermount3 -u works" fusermount3 -u "$T_MNT"
t_check "... the daemon exits" t_wait_for 20 no_daemon
t_fails "an unknown option is refused" shmfs -o "backing=$T_BACKING,no_such_option" "$T_MNT"
t_check "... and nothing is mounted" not_mounted
t_check "... and no daemon is left" t_wait_for 20 no_daemon
t_fails "a missing mountpoint is refused" shmfs -o "backing=$T_BACKING" "$T_DIR/nowhere"
t_check "shmfs --help works" shmfs --help

# ---------------------------------------------------------------- default backing root

t_check "mount without backing= works" mount -t fuse.shmfs shmfs "$T_MNT" -o allow_other
t_is "... the backing root is derived from the mountpoint" "$DEF_BACKING" \
	"$(fs_x "$T_MNT" user.shmfs.backing)"
t_check "... it holds the huge backing mount" mountpoint -q "$DEF_BACKING/.huge"
t_is "... and is not the other backing root" "" "$(ls "$T_MNT/huge/node$N")"
t_check "umount works" umount "$T_MNT"
t_check "... the daemon exits" t_wait_for 20 no_daemon

# ---------------------------------------------------------------- commas

# libfuse splits option lists at commas: a source or a backing path holding
# one must stay one value (escaped as \, the way fuse_opt reads it).
t_check "shmfs with a comma in the source and in backing= mounts" \
	shmfs -o "backing=${COMMA_BACKING//,/\\,},allow_other" "a,b" "$T_MNT"
t_is "... the source is shown whole" "a,b" "$(findmnt -n -o SOURCE "$T_MNT")"
t_is "... the backing root is the path with the comma" "$COMMA_BACKING" \
	"$(fs_x "$T_MNT" user.shmfs.backing)"
t_check "... a region can be made" touch "$T_MNT/huge/node$N/c"
t_check "... in that backing root" test -f "$COMMA_BACKING/.huge/c"
t_check "umount works" umount "$T_MNT"
t_check "... the daemon exits" t_wait_for 20 no_daemon

t_done
