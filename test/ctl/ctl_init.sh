# ctl_init.sh - shmfsctl init and fini (fd_shmem_cfg parity): init mounts
# shmfs with a permission, user and group and a backing store; fini refuses
# while processes map regions (naming them), tears everything down with -f,
# and copes with a daemon that died. Uses the default backing root, which
# the harness does not know: cleaned up here.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

DEF_BACKING=
init_cleanup() {
	if mountpoint -q "$T_MNT" 2>/dev/null || [ -n "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)" ]; then
		"$SHMFSCTL_BIN" --mount "$T_MNT" -q fini -f >/dev/null 2>&1 || umount -l "$T_MNT" 2>/dev/null
	fi
	# (not t_backing_teardown: /proc/mounts writes the backslash of this
	# path as \134, so it would not find these mounts)
	if [ -n "$DEF_BACKING" ] && [ -d "$DEF_BACKING" ]; then
		local t i
		for i in 1 2 3; do
			for t in .normal .huge .gigantic; do
				find "$DEF_BACKING/$t" -mindepth 1 -delete 2>/dev/null
				umount -l "$DEF_BACKING/$t" 2>/dev/null
			done
		done
		rm -rf "$DEF_BACKING"
	fi
	t_cleanup
}
trap init_cleanup EXIT
mkdir -p "$T_MNT"

# the daemon's pid, found by its mountpoint on its command line (to kill it)
daemon_pid() {
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- " $T_MNT\$\| $T_MNT "; then
			case $(tr '\0' ' ' <"$p/cmdline") in *shmfs\ *-o*) echo "${p#/proc/}"; return ;; esac
		fi
	done
}

t_is "init as another user fails" 1 "$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" init 0755 >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says init needs root" "needs root" "$(cat "$T_DIR/o")"
t_is "init with a bad permission is a usage error" 2 "$(ctl init 0789 >/dev/null 2>&1; echo $?)"
t_is "init with a signed permission is a usage error" 2 "$(ctl init +0770 >/dev/null 2>&1; echo $?)"
t_is "init with an unknown user is a usage error" 2 "$(ctl init 0755 no-such-user-xyz >/dev/null 2>&1; echo $?)"
t_is "init with an unknown group is a usage error" 2 "$(ctl init 0755 0 no-such-group-xyz >/dev/null 2>&1; echo $?)"
t_is "nothing was mounted by refused inits" no "$(mountpoint -q "$T_MNT" && echo yes || echo no)"

t_check "init mounts shmfs" ctl init 0750 "$T_UID" 0
t_check "the mount point is a mount" mountpoint -q "$T_MNT"
DEF_BACKING=$(ctl_x "$T_MNT" user.shmfs.backing)
t_like "the backing root is the default one under /run/shmfs" "^/run/shmfs/" "$DEF_BACKING"
t_check "the backing store has the Firedancer layout" test -d "$DEF_BACKING/.normal" -a -d "$DEF_BACKING/.huge"
t_is "the node directories get PERM" "750" "$(stat -c %a "$T_MNT/normal/node$N0")"
t_is "the node directories belong to USER" "$T_UID" "$(stat -c %u "$T_MNT/normal/node$N0")"
t_is "the node directories belong to GROUP" "0" "$(stat -c %g "$T_MNT/normal/node$N0")"
t_check "USER may create regions" t_as_user touch "$T_MNT/normal/node$N0/byuser"
t_is "init on a mounted shmfs fails" 1 "$(ctl init 0755 >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says it is already mounted" "already mounted" "$(cat "$T_DIR/o")"

# fini refuses while a region is mapped, naming who maps it
ctl create held 1 normal "node$N0" 0644 >/dev/null
ctl_map M "$T_MNT/normal/node$N0/held"
t_is "fini refuses while a region is mapped" 1 "$(ctl fini >"$T_DIR/o" 2>&1; echo $?)"
t_like "it names the region and the process" "normal/node$N0/held mapped by pid $M" "$(cat "$T_DIR/o")"
t_like "it says what to do" "fini -f" "$(cat "$T_DIR/o")"
t_check "the mount is still there" mountpoint -q "$T_MNT"
t_is "fini as another user fails" 1 "$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" fini -f >/dev/null 2>&1; echo $?)"
t_check "fini -f tears down anyway" ctl fini -f
t_is "the mount is gone" no "$(mountpoint -q "$T_MNT" && echo yes || echo no)"
t_is "the backing root is gone" "" "$(ls -d "$DEF_BACKING" 2>/dev/null)"
t_is "no backing mount is left" "" "$(awk -v b="$DEF_BACKING" 'index($2, b) == 1' /proc/mounts)"
t_check "the mapper still has its memory" kill -0 "$M"
ctl_kill "$M"
t_is "fini without a mount fails" 1 "$(ctl fini >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says no shmfs is mounted there" "no shmfs is mounted" "$(cat "$T_DIR/o")"

# a daemon that died: fini still tears down the mount and the default backing
t_check "init again" ctl init 0755
t_check "the tree works" ctl create again 1 normal "node$N0" 0644
# a process mapping the region through the mount (FUSE passthrough)
skip=$(t_passthrough_skip)
MT=
if [ -n "$skip" ]; then
	t_skip "a region can be mapped through the mount" "$skip"
else
	out=$(mktemp "$T_DIR/map.XXXXXX")
	t_bg "$TSYS" map "$T_MNT/normal/node$N0/again" r >"$out" 2>&1 </dev/null
	MT=$!
	t_check "a region can be mapped through the mount" t_wait_for 20 grep -q '^OK' "$out"
fi
P=$(daemon_pid)
t_like "the daemon runs in the background" '^[0-9]+$' "$P"
kill -9 "$P"
t_wait_for 20 sh -c "! kill -0 $P 2>/dev/null"
t_is "with the daemon dead, query says so" 1 "$(ctl query >"$T_DIR/o" 2>&1; echo $?)"
t_like "and what to do" "died.*shmfsctl fini|shmfsctl fini" "$(cat "$T_DIR/o")"
if [ -n "$MT" ]; then
	t_is "with the daemon dead, fini refuses while a region is mapped through the mount" 1 \
		"$(ctl fini >"$T_DIR/o" 2>&1; echo $?)"
	t_like "it names the process" "mapped through the mount by pid $MT" "$(cat "$T_DIR/o")"
	ctl_kill "$MT"
else
	t_skip "with the daemon dead, fini refuses while a region is mapped through the mount" "$skip"
fi
t_check "fini tears down a mount whose daemon died" ctl fini
t_is "the dead mount is gone" "" "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)"
t_is "its backing root is gone" "" "$(ls -d "$DEF_BACKING" 2>/dev/null)"

# a plain umount (not fini): the daemon exits, the backing store and its
# regions stay; fini says so, and fini -f removes them, giving the pages back
t_check "init again" ctl init 0755
DEF_BACKING=$(ctl_x "$T_MNT" user.shmfs.backing)
ctl_no_overcommit
t_pool_grow huge "$N0" 1
hfree=$(t_hp_free huge "$N0")
t_check "a huge region can be made" ctl create kept 1 huge "node$N0" 0644
P=$(daemon_pid)
t_check "a plain umount unmounts" umount "$T_MNT"
t_wait_for 20 sh -c "! kill -0 $P 2>/dev/null"
t_is "the daemon is gone" "" "$(daemon_pid)"
t_check "the region is still in the backing store" test -f "$DEF_BACKING/.huge/kept"
t_is "... holding its page" "$((hfree - 1))" "$(t_hp_free huge "$N0")"
t_is "fini without -f then refuses" 1 "$(ctl fini >"$T_DIR/o" 2>&1; echo $?)"
t_like "... saying the backing store is still there and what -f does" \
	"no shmfs is mounted at.*Its backing store is still there; 'shmfsctl fini -f' removes it" \
	"$(tr '\n' ' ' <"$T_DIR/o")"
t_check "... and leaves it" test -f "$DEF_BACKING/.huge/kept"
t_check "fini -f after a plain umount succeeds" ctl fini -f
t_is "... the backing root is gone" "" "$(ls -d "$DEF_BACKING" 2>/dev/null)"
t_is "... no backing mount is left" "" "$(awk -v b="$DEF_BACKING" 'index($2, b) == 1' /proc/mounts)"
t_is "... and the region's page is back in the pool" "$hfree" "$(t_hp_free huge "$N0")"
t_is "fini -f with nothing left fails" 1 "$(ctl fini -f >"$T_DIR/o" 2>&1; echo $?)"
t_like "... saying no shmfs is mounted there" "no shmfs is mounted at" "$(cat "$T_DIR/o")"

# mount(8) through mount.fuse3, as fstab and the systemd unit do, with
# fstab-only words (the prog#source form runs this build's daemon; the
# installed mount.fuse.shmfs finds it in sbindir instead)
t_check "mount -t fuse with fstab words mounts shmfs" mount -t fuse "$SHMFS_BIN#shmfs" "$T_MNT" \
	-o allow_other,backing="$T_BACKING",defaults,nofail,_netdev,x-systemd.automount
t_is "the mount is of type fuse.shmfs" "fuse.shmfs" "$(awk -v m="$T_MNT" '$2 == m { print $3 }' /proc/mounts)"
t_check "shmfsctl works on it" ctl query
t_check "and fini takes it down" ctl fini
t_is "with its backing root" "" "$(ls -d "$T_BACKING" 2>/dev/null)"

t_done
