#!/bin/bash
# nonroot.sh - the daemon run by an ordinary user (SPEC 2: "without root it
# uses backing mounts given by options"): the user owns a tmpfs and a
# hugetlbfs, names them with normal= and huge=, mounts through fusermount3
# and gets the same tree, sizing, bytes, attributes and persistence as under
# root; only the pools stay root's (writing .nr_pages is EACCES).
# fusermount3 wants a user with a passwd entry: one is made for the test and
# removed afterwards.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
NR_USER=shmfs-t$$
POOLS=$T_DIR/pools
BACK=$T_DIR/nrbacking

nonroot_cleanup() {
	t_umount
	find "$POOLS" -mindepth 2 -delete 2>/dev/null
	umount "$POOLS/huge" 2>/dev/null
	umount "$POOLS/normal" 2>/dev/null
	id "$NR_USER" >/dev/null 2>&1 && userdel "$NR_USER" 2>/dev/null
}
trap 'nonroot_cleanup; t_cleanup' EXIT

useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$NR_USER" ||
	{ echo "Bail out! cannot create the test user $NR_USER"; exit 1; }
NR_UID=$(id -u "$NR_USER")
NR_GID=$(id -g "$NR_USER")
# as_nr CMD...: CMD as the user, a build-tree program as its copy the user can
# run (t_user_path), from a directory the user may enter
as_nr() {
	local prog
	prog=$(t_user_path "$1") || return 1
	shift
	( cd "$T_DIR" && exec setpriv --reuid="$NR_UID" --regid="$NR_GID" --clear-groups --inh-caps=-all -- \
		"$prog" "$@" )
}
nr_errno() { as_nr "$TSYS" "$@" 2>&1 | head -n 1 | cut -d' ' -f1; }

fs_no_overcommit
t_check "8 free huge pages can be reserved for the test" t_pool_grow huge "$N" 8
mkdir -p "$POOLS/normal" "$POOLS/huge" "$BACK" "$T_MNT"
mount -t tmpfs -o "size=64M,uid=$NR_UID,gid=$NR_GID,mode=0700" tmpfs "$POOLS/normal" ||
	{ echo "Bail out! cannot mount the user's tmpfs"; exit 1; }
mount -t hugetlbfs -o "pagesize=$((HP / 1024))K,uid=$NR_UID,gid=$NR_GID,mode=0700" none "$POOLS/huge" ||
	{ echo "Bail out! cannot mount the user's hugetlbfs"; exit 1; }
chown "$NR_UID:$NR_GID" "$BACK" "$T_MNT"

NR_SHMFS_BIN=$(t_user_path "$SHMFS_BIN")
# nr_mount: the daemon as the user, in the foreground, backing mounts by option.
nr_mount() {
	# setpriv itself in the background (exec'd from the subshell, not the
	# as_nr function, which would fork again): $! is then the daemon
	( cd "$T_DIR" && exec setpriv --reuid="$NR_UID" --regid="$NR_GID" --clear-groups --inh-caps=-all -- \
		"$NR_SHMFS_BIN" -f -o "backing=$BACK,normal=$POOLS/normal,huge=$POOLS/huge" "$T_MNT" \
		2>>"$T_DAEMON_ERR" ) &
	T_DAEMON_PID=$!
	# root may not look into a mount without allow_other: ask the user
	t_wait_for 10 as_nr mountpoint -q "$T_MNT"
}

# nr_gone PID: the daemon has exited (reaped: a zombie still answers kill -0).
# Read from /proc: a missing tool must not look like a gone daemon.
nr_gone() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$st" ] || [ "$st" = Z ]
}

t_check "the user mounts shmfs over the mounts it owns" nr_mount
H=$T_MNT/huge/node$N
R=$T_MNT/normal/node$N
t_is "the daemon runs as the user" "$NR_UID" "$(ps -o uid= -p "$T_DAEMON_PID" | tr -d ' ')"
t_is "the tree has the types given, no other" "huge normal" "$(as_nr ls "$T_MNT" | xargs)"
t_is "the node directory is there" "node$N" "$(as_nr ls "$T_MNT/huge" | grep -x "node$N")"

free0=$(fs_meminfo_free)
t_check "the user sizes a huge region" as_nr truncate -s $((2 * HP)) "$H/r"
t_is "... which takes exactly its 2 pages from the pool" $((free0 - 2)) "$(fs_meminfo_free)"
t_is "... on the node of its directory" "$N" "$(as_nr getfattr --only-values -n user.shmfs.numa_nodes "$H/r")"
t_is "the backing file is in the user's hugetlbfs" $((2 * HP)) "$(stat -c %s "$POOLS/huge/r")"
t_is "... owned by the user" "$NR_UID" "$(stat -c %u "$POOLS/huge/r")"
t_is "the fd_shmem layout points at the user's mounts" "$POOLS/huge" "$(readlink -f "$BACK/.huge")"

head -c $((2 * HP)) /dev/urandom >"$T_DIR/data"
chmod 644 "$T_DIR/data"
t_check "cp into the region works" as_nr dd if="$T_DIR/data" of="$H/r" bs=1M conv=notrunc status=none
t_check "cat gives the same bytes back" as_nr sh -c 'cat "$1" | cmp - "$2"' sh "$H/r" "$T_DIR/data"
t_check "the backing file holds them" cmp "$POOLS/huge/r" "$T_DIR/data"
t_is "a user attribute can be set" "" "$(as_nr setfattr -n user.app -v v1 "$H/r" 2>&1)"
t_is "... and read back" "v1" "$(as_nr getfattr --only-values -n user.app "$H/r")"

free1=$(fs_meminfo_free)
as_nr touch "$H/big"
t_like "a region larger than the free pages is refused (ENOMEM or ENOSPC)" '^(ENOMEM|ENOSPC)$' \
	"$(nr_errno truncate "$H/big" $(( (free1 + 1) * HP )))"
t_is "... and takes nothing from the pool" "$free1" "$(fs_meminfo_free)"
as_nr rm "$H/big"
t_is "the user cannot resize the pool" EACCES "$(nr_errno pwrite "$H/.nr_pages" 0 9)"

t_check "the user sizes a normal region" as_nr truncate -s $((4 * PG)) "$R/n"
t_is "... in the user's tmpfs" $((4 * PG)) "$(stat -c %s "$POOLS/normal/n")"
t_is "mmap through the mount needs a root daemon (passthrough): refused" ENODEV \
	"$(as_nr "$FS_PROBE" peek "$R/n" 0 1)"

# a crash and a restart by the user keep everything
kill -9 "$T_DAEMON_PID"
wait "$T_DAEMON_PID" 2>/dev/null
T_DAEMON_PID=
umount -l "$T_MNT" 2>/dev/null
t_check "the user mounts again after the daemon was killed" nr_mount
t_check "the region kept its bytes" as_nr cmp "$H/r" "$T_DIR/data"
t_is "... and its attributes" "v1" "$(as_nr getfattr --only-values -n user.app "$H/r")"
t_is "... and its pages" $((free0 - 2)) "$(fs_meminfo_free)"
t_check "rm removes the region" as_nr rm "$H/r"
t_is "... and its pages go back to the pool" "$free0" "$(fs_meminfo_free)"

t_check "the user unmounts with fusermount3" as_nr fusermount3 -u "$T_MNT"
if t_wait_for 10 nr_gone "$T_DAEMON_PID"; then
	t_ok "the daemon exits"
	wait "$T_DAEMON_PID"
	t_is "... with status 0" 0 "$?"
	T_DAEMON_PID=
else
	t_not_ok "the daemon exits"
	ps -L -o pid,tid,stat,wchan:30,comm -p "$T_DAEMON_PID" | t_diag
fi

t_done
