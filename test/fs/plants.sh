#!/bin/bash
# plants.sh - the backing store changed behind the daemon's back (issue 10):
# directories, FIFOs, sockets, symlinks, device nodes, foreign files and
# names that are not region names planted in each type directory and each
# metadata directory, before a start and while the daemon runs; a region's
# metadata file replaced by a FIFO, a directory, a symlink, garbage, a
# truncated, an empty or a huge file; the metadata directory removed
# (fd_shmem_cfg fini, rm -rf) or emptied while the daemon runs; a backing
# file renamed and removed while it is open. The daemon starts, keeps
# serving (create, size, read, list), leaves alone what is not its own, and
# says so in exactly one line per object.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

FDCTL=$SHMFS_BUILD_ROOT/test/fs/fdctl
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
# every line the daemon may write here names a planted object or the repair
T_ALLOWED_STDERR="^shmfs: '$T_BACKING/[^']*' in the backing store: |^shmfs: The metadata directory '$T_BACKING/\.shmfs' was removed or replaced"
fs_setup 4
BH=$T_BACKING/.huge
BN=$T_BACKING/.normal
MH=$T_BACKING/.shmfs/huge
MN=$T_BACKING/.shmfs/normal
# every backing directory the machine has: gigantic too when it has the pages
BDIRS="$BH $BN"
MDIRS="$MH $MN"
if [ -d "$T_BACKING/.gigantic" ]; then
	BDIRS="$BDIRS $T_BACKING/.gigantic"
	MDIRS="$MDIRS $T_BACKING/.shmfs/gigantic"
fi
KINDS="dir fifo sock link dev badname longname"
LONG=$(printf 'l%.0s' $(seq 1 60))

# plant_name PREFIX KIND: the name a planted object gets.
plant_name() {
	case $2 in
	badname) echo "$1@bad" ;;
	longname) echo "$1$LONG" ;;
	*) echo "${1}_$2" ;;
	esac
}

# plant PATH KIND: put an object of that kind at PATH.
plant() {
	case $2 in
	dir) mkdir "$1" ;;
	fifo) mkfifo "$1" ;;
	sock) "$FDCTL" sock "$1" >/dev/null ;;
	link) ln -s /etc/hostname "$1" ;;
	dev) mknod "$1" c 1 3 ;;
	badname | longname) : >"$1" ;;
	esac
}

# plant_all PREFIX DIR...: one object of each kind in each DIR, listed as
# "PATH KIND" in $T_DIR/planted.PREFIX (hugetlbfs cannot hold a symlink:
# what a filesystem refuses is not planted, so not checked).
plant_all() {
	local pre=$1 d k p; shift
	: >"$T_DIR/planted.$pre"
	for d in "$@"; do
		for k in $KINDS; do
			p=$d/$(plant_name "$pre" "$k")
			plant "$p" "$k" 2>/dev/null && echo "$p $k" >>"$T_DIR/planted.$pre"
		done
	done
}

# is_kind PATH KIND: PATH still holds such an object.
is_kind() {
	case $2 in
	dir) [ -d "$1" ] && [ ! -L "$1" ] ;;
	fifo) [ -p "$1" ] ;;
	sock) [ -S "$1" ] ;;
	link) [ -L "$1" ] ;;
	dev) [ -c "$1" ] ;;
	badname | longname) [ -f "$1" ] && [ ! -L "$1" ] ;;
	esac
}

# Daemon stderr from the mark on (one daemon run, or part of one).
MARK=0
log_mark() { MARK=$(wc -l <"$T_DAEMON_ERR"); }
log_lines() { tail -n +$((MARK + 1)) "$T_DAEMON_ERR" | grep -cF "'$1' in the backing store" ; }

# watch_sync: the daemon has handled every backing store event so far (events
# come in order: a file made now shows in the tree after the earlier ones).
SYNC=0
watch_sync() {
	SYNC=$((SYNC + 1))
	: >"$BN/sync$SYNC"
	t_wait_for 10 test -e "$R/sync$SYNC"
	rm -f "$BN/sync$SYNC"
	t_wait_for 10 test ! -e "$R/sync$SYNC"
}

# still_serves WHAT: create, size, write, read and list a fresh region.
still_serves() {
	local n=serve$SYNC$RANDOM
	t_check "$1: a huge region can be created and sized" truncate -s "$HP" "$H/$n"
	t_is "... and has its size" "$HP" "$(fs_st %s "$H/$n")"
	t_check "$1: a normal region can be written" sh -c 'printf "%s" "$2" >"$1"' sh "$R/$n" "bytes-$n"
	t_is "... and read back" "OK bytes-$n" "$("$TSYS" pread "$R/$n" 0 $((6 + ${#n})))"
	t_is "... and is listed among the regions only" "$(printf '%s\n' "$2" "$n" | sort | xargs)" \
		"$(ls "$H" | grep -v '^\.' | xargs)"
	rm -f "$H/$n" "$R/$n"
}

truncate -s "$HP" "$H/a"
"$TSYS" pwrite "$H/a" 100 region-a >/dev/null
setfattr -n user.app -v first "$H/a"
printf 'region-b' >"$R/b"

# --- planted before a start
t_kill_daemon
# shellcheck disable=SC2086 # the directory lists have no blanks
plant_all p $BDIRS $MDIRS
# numeric names look like metadata in the metadata directories
plant "$MH/4000000001" fifo
plant "$MH/4000000002" dir
log_mark
t_mount || exit 1
while read -r p k; do
	d=$(dirname "$p")
	t_check "start over a planted $k in ${d#"$T_BACKING"/}: left as it is" is_kind "$p" "$k"
	t_is "... and logged in one line" 1 "$(log_lines "$p")"
done <"$T_DIR/planted.p"
for p in "$MH/4000000001" "$MH/4000000002"; do
	t_check "start over a numeric non-file in .shmfs/huge: left as it is" test -e "$p"
	t_is "... and logged in one line" 1 "$(log_lines "$p")"
done
t_is "the regions are all there, nothing planted among them" "a" "$(ls "$H" | xargs)"
t_is "... in each type" "b" "$(ls "$R" | xargs)"
t_is "a region's bytes survive the start" "OK region-a" "$("$TSYS" pread "$H/a" 100 8)"
t_is "... and its attributes" "first" "$(fs_x "$H/a" user.app)"
still_serves "after a start over plants" "a"
# more events on the same objects (attributes changed) log nothing more
grep -v '/\.shmfs/' "$T_DIR/planted.p" | while read -r p k; do touch -h "$p"; done
watch_sync
while read -r p k; do
	t_is "events on a planted $k in ${p#"$T_BACKING"/} log nothing more" 1 "$(log_lines "$p")"
done < <(grep -v '/\.shmfs/' "$T_DIR/planted.p")

# --- planted while the daemon runs
log_mark
# shellcheck disable=SC2086
plant_all q $BDIRS
plant_all m "$MH"
ln "$BH/a" "$BH/a_link"
watch_sync
while read -r p k; do
	d=$(dirname "$p")
	t_check "a $k planted in ${d#"$T_BACKING"/} while running is left as it is" is_kind "$p" "$k"
	t_is "... and logged in one line" 1 "$(log_lines "$p")"
done <"$T_DIR/planted.q"
t_is "a hard link to a region's file is logged in one line" 1 "$(log_lines "$BH/a_link")"
t_errno "... and is not a second region" ENOENT stat "$H/a_link"
still_serves "with plants made while running" "a"
rm -f "$BH/a_link"

# --- a region's metadata file replaced by something else
ino=$(stat -c %i "$BH/a")
for k in fifo dir link garbage truncated empty huge; do
	cp "$MH/$ino" "$T_DIR/meta.good" 2>/dev/null
	t_kill_daemon
	rm -rf "${MH:?}/$ino"
	case $k in
	fifo | dir | link) plant "$MH/$ino" "$k" ;;
	garbage) head -c 3000 /dev/urandom >"$MH/$ino" ;;
	truncated) head -c 30 "$T_DIR/meta.good" >"$MH/$ino" ;;
	empty) : >"$MH/$ino" ;;
	huge) head -c $((1024 * 1024)) /dev/zero | tr '\0' x >"$MH/$ino" ;;
	esac
	log_mark
	t_check "the daemon starts with $k in place of a region's metadata" t_mount
	[ -n "$T_DAEMON_PID" ] || exit 1
	t_is "... the region is there with its bytes" "OK region-a" "$("$TSYS" pread "$H/a" 100 8)"
	t_is "... and logged in one line" 1 "$(log_lines "$MH/$ino")"
	if [ "$k" = fifo ]; then
		while read -r p q; do
			t_check "a $q planted in .shmfs/huge while running is left as it is" is_kind "$p" "$q"
			t_is "... and logged in one line at the next start" 1 "$(log_lines "$p")"
		done <"$T_DIR/planted.m"
	fi
	if [ "$k" = dir ]; then
		t_check "... the directory is left as it is" test -d "$MH/$ino"
	else
		t_check "... which is replaced by fresh metadata" sh -c 'test -f "$1" && ! test -L "$1" &&
			head -n 1 "$1" | grep -q "^shmfs-meta"' sh "$MH/$ino"
	fi
	still_serves "with $k for metadata" "a"
done
t_kill_daemon
rm -rf "${MH:?}/$ino"
t_mount || exit 1

# --- the metadata directory removed or emptied while the daemon runs
setfattr -n user.app -v kept "$H/a"
inob=$(stat -c %i "$BN/b")
rm -rf "$T_BACKING/.shmfs" 2>/dev/null
t_check "a create right after the metadata directory was removed works" \
	"$TSYS" open "$H/after" cx 0644
t_check "... the metadata of a region made before it is saved again" t_wait_for 10 test -f "$MH/$ino"
t_check "... and of the other page type" t_wait_for 10 test -f "$MN/$inob"
rm -f "$MN"/*
t_check "a metadata directory emptied while running gets its files back" \
	t_wait_for 10 test -f "$MN/$inob"
t_kill_daemon
log_mark
t_mount || exit 1
t_is "after a restart the region keeps its attributes" "kept" "$(fs_x "$H/a" user.app)"
t_check "... and the region made after the removal is there" test -e "$H/after"

# --- a backing file renamed, then removed, while a process has it open
printf 'held-bytes' >"$R/held"
exec 5<"$R/held"
held_size=$(stat -c %s "$R/held")
mv "$BN/held" "$BN/held2"
t_check "a backing file renamed while open shows under its new name" t_wait_for 10 test -e "$R/held2"
t_is "... and the open file still reads" "held-" "$(head -c 5 <&5)"
rm "$BN/held2"
t_check "removed while open, it leaves the tree" t_wait_for 10 test ! -e "$R/held2"
t_is "... and the open file still reads" "bytes" "$(head -c 5 <&5)"
# --cached=never: the daemon answers, not the kernel's attribute cache
t_is "... and answers fstat (its size, no links)" "$held_size 0" \
	"$(stat --cached=never -L -c '%s %h' "/proc/$$/fd/5" 2>&1)"
exec 5<&-
still_serves "after a backing file went while open" "a after"
t_done
