#!/bin/bash
# crash.sh - persistence (SPEC 2 and 4): the daemon is killed with SIGKILL in
# the middle of a create/size/write storm and restarted on the same backing
# root. Every region whose operations completed is there with identical bytes
# and metadata, no half-made region is visible, and the pool accounting is
# exact. A quiet tree survives a second SIGKILL unchanged.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
PG=$FS_NORMAL_SZ
WORKERS=2
PER_WORKER=60          # huge regions of one page each: at most WORKERS * PER_WORKER / 2
KILL_AFTER=24          # completed regions before the kill
fs_no_overcommit
t_check "$((WORKERS * PER_WORKER / 2)) free huge pages can be reserved for the test" \
	t_pool_grow huge "$N" $((WORKERS * PER_WORKER / 2))
t_mount || exit 1
free0=$(t_hp_free huge "$N")
LOG=$T_DIR/done.log
: >"$LOG"

# One worker: create, size, write, tag, rename, then log the region as
# complete with the metadata it has. Any failure (the daemon gone) ends it.
storm() {
	local w=$1 i type size name r created creator
	for i in $(seq 1 "$PER_WORKER"); do
		name=w${w}_$i
		if [ $((i % 2)) = 1 ]; then type=huge; size=$HP; else type=normal; size=$(( (i % 7 + 1) * PG )); fi
		r=$T_MNT/$type/node$N/$name
		"$TSYS" open "$r" cx 0640 >/dev/null || return
		"$TSYS" truncate "$r" "$size" >/dev/null || return
		fs_pattern "$name" "$size" | dd of="$r" bs=1M iflag=fullblock conv=notrunc status=none 2>/dev/null || return
		setfattr -n user.tag -v "$name" "$r" 2>/dev/null || return
		created=$(fs_x "$r" user.shmfs.created); creator=$(fs_x "$r" user.shmfs.creator_pid)
		[ -n "$created" ] && [ -n "$creator" ] || return
		mv "$r" "${r}r" 2>/dev/null || return
		echo "$type $name $size $created $creator" >>"$LOG"
	done
}

workers=()
for w in $(seq 1 "$WORKERS"); do
	t_bg storm "$w"
	workers+=("$!")
done
log_has() { [ "$(wc -l <"$LOG")" -ge "$1" ]; }
t_check "the storm completes $KILL_AFTER regions" t_wait_for 300 log_has "$KILL_AFTER"
t_kill_daemon
# Each worker ends at its first failed operation (ENOTCONN, then ENOENT on the
# bare mountpoint); waiting for it also waits for its commands, so none of
# them can reach the restarted daemon.
for p in "${workers[@]}"; do
	wait "$p"
done
T_PIDS=()
done_cnt=$(wc -l <"$LOG")
t_check "the storm was still running when the daemon was killed" test "$done_cnt" -lt $((WORKERS * PER_WORKER))
echo "# $done_cnt regions completed before the kill" 

t_mount || exit 1
t_check "the daemon restarts on the same backing root" mountpoint -q "$T_MNT"

# Every completed region, identical.
missing=0 bytes=0 meta=0
while read -r type name size created creator; do
	r=$T_MNT/$type/node$N/${name}r
	if [ ! -f "$r" ]; then
		missing=$((missing + 1)); echo "missing: $type/$name" | t_diag; continue
	fi
	if ! fs_pattern "$name" "$size" | cmp -s - "$r"; then
		bytes=$((bytes + 1)); echo "bytes differ: $type/$name" | t_diag
	fi
	got="$(fs_st '%s %a %u %g' "$r") $(fs_x "$r" user.tag) $(fs_x "$r" user.shmfs.created) $(fs_x "$r" user.shmfs.creator_pid)"
	want="$size 640 0 0 $name $created $creator"
	if [ "$got" != "$want" ]; then
		meta=$((meta + 1)); printf 'metadata of %s: want %s got %s\n' "$type/$name" "$want" "$got" | t_diag
	fi
done <"$LOG"
t_is "every completed region is present" 0 "$missing"
t_is "every completed region has identical bytes" 0 "$bytes"
t_is "every completed region has identical size, mode, owner, xattrs, creation time, creator" 0 "$meta"

# No half-made region: the tree and the backing store agree, and what was in
# flight is at most one region per worker, each of a whole-page size.
for type in huge normal; do
	t_is "$type: the tree lists exactly the backing files" \
		"$(ls "$T_BACKING/.$type" | xargs)" "$(ls "$T_MNT/$type/node$N" | xargs)"
done
extra=$(for type in huge normal; do ls "$T_MNT/$type/node$N" | sed "s|^|$type |"; done |
	grep -vxF -f <(awk '{ print $1, $2 "r" }' "$LOG") || true)
for w in $(seq 1 "$WORKERS"); do
	t_check "at most one region of worker $w was in flight" \
		test "$(echo "$extra" | grep -c " w${w}_")" -le 1
done
for e in $(echo "$extra" | tr ' ' '/'); do
	type=${e%/*}; name=${e#*/}
	pg=$(fs_page_sz "$type")
	sz=$(fs_st %s "$T_MNT/$type/node$N/$name")
	t_is "the in-flight region $type/$name has a whole-page size" 0 $((sz % pg))
	t_is "the in-flight region $type/$name is the size of its backing file" \
		"$(fs_st %s "$(fs_backing "$type" "$name")")" "$sz"
	t_is "the in-flight region $type/$name holds exactly its pages" $((sz / 512)) \
		"$(fs_st %b "$(fs_backing "$type" "$name")")"
done

# Pool accounting: the pages in use are exactly the huge regions' pages.
used=0
for f in "$T_MNT/huge/node$N"/*; do
	[ -e "$f" ] && used=$((used + $(fs_st %s "$f") / HP))
done
t_is "the huge pages taken are exactly the regions' pages" "$used" $((free0 - $(t_hp_free huge "$N")))
t_is ".free_pages agrees with the kernel" "$(t_hp_free huge "$N")" "$(cat "$T_MNT/huge/node$N/.free_pages")"
t_is "user.shmfs.pool.free agrees with the kernel" "$(t_hp_free huge "$N")" \
	"$(fs_x "$T_MNT/huge/node$N" user.shmfs.pool.free)"

# The restarted daemon works, and a quiet tree survives another SIGKILL unchanged.
t_errno "a region can be created after the restart" OK open "$T_MNT/huge/node$N/after" cx
t_errno "... and sized" OK truncate "$T_MNT/huge/node$N/after" "$HP"
# Normal pages have no pool of their own: the normal directories' pool
# numbers (and .status, which shows them) follow the machine's free memory,
# which other programs move at any time, so they are left out.
snapshot() {
	(cd "$T_MNT" && ls -lR --time-style=+%s.%N . | grep -v ' \.status$' &&
		getfattr -R -d --absolute-names . 2>&1 |
		awk '/^# file: /{ normal = ($3 ~ /^\.\/normal\/node[0-9]+$/) } !(normal && /^user\.shmfs\.pool\./)')
}
snapshot >"$T_DIR/snap1"
t_kill_daemon
t_mount || exit 1
snapshot >"$T_DIR/snap2"
t_check "a quiet tree is identical after a second SIGKILL and restart" diff "$T_DIR/snap1" "$T_DIR/snap2"

t_check "every region can be removed" sh -c 'rm -f "$1"/huge/node*/* "$1"/normal/node*/*' sh "$T_MNT"
t_is "removing them gives every huge page back" "$free0" "$(t_hp_free huge "$N")"
t_is "... and leaves no backing file" "" "$(ls "$T_BACKING/.huge" "$T_BACKING/.normal" | grep -v ':$' | xargs)"

# SIGKILL while the daemon takes the pages of a large region: after the
# restart the region has its old size or the new one, and holds exactly the
# pages of that size (the kernel keeps pages an interrupted fallocate got).
BIG=256
t_check "$BIG more free huge pages can be reserved" t_pool_grow huge "$N" "$BIG"
fb=$(t_hp_free huge "$N")
freef=$(t_hp_dir huge "$N")/free_hugepages
touch "$T_MNT/huge/node$N/bigsize"
"$TSYS" truncate "$T_MNT/huge/node$N/bigsize" $((BIG * HP)) >/dev/null 2>&1 &
sizer=$!
# Kill as soon as the pages start going (a tight loop: no sleep to miss it).
while [ "$(cat "$freef")" -ge "$fb" ] && kill -0 "$sizer" 2>/dev/null; do :; done
t_kill_daemon
wait "$sizer"
t_mount || exit 1
sz=$(fs_st %s "$T_MNT/huge/node$N/bigsize")
t_like "a region whose sizing was killed has its old or its new size" "^(0|$((BIG * HP)))\$" "$sz"
t_is "... and holds exactly the pages of that size" $((sz / 512)) \
	"$(fs_st %b "$(fs_backing huge bigsize)")"
t_is "... and the pool lost exactly those pages" $((sz / HP)) $((fb - $(t_hp_free huge "$N")))
rm -f "$T_MNT/huge/node$N/bigsize"
t_is "removing it gives every page back" "$fb" "$(t_hp_free huge "$N")"

t_done
