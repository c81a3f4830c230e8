#!/bin/bash
# shared.sh - one region tree over memory several hosts share (issue 16):
# two daemons on one machine over one shared file (on tmpfs, standing for a
# DAX device) play two hosts. A is the master (the superblock names hostA),
# B a replica. A creates and sizes a region and writes through a join; B
# lists it with the same size and xattrs, joins it and reads the bytes; joins
# resolve from the device's log (daemon stopped, unlink and extent reuse, the
# log's mode against a second user, a damaged record); B's changes to the
# tree get EROFS; A killed with SIGKILL while creating
# regions, B and a restarted A agree on the tree; a heap used from both
# names host and pid of its owners, and reclaim on one host leaves the
# other's processes alone.
#   shared.sh TJOIN HEAPTOOL
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

TJOIN=${1:?usage: shared.sh TJOIN HEAPTOOL}
HEAPTOOL=${2:?usage: shared.sh TJOIN HEAPTOOL}
MIB=$((1024 * 1024))
DEV=/dev/shm/shmfs-shared-test.$$   # tmpfs: sparse, only what is written takes memory
MB=$T_DIR/mntB
B_BACKING=$T_DIR/backingB
B_ERR=$T_DIR/daemonB.err
B_PID=
# the daemons say which backing they present, and about a torn log tail
T_ALLOWED_STDERR='Shared backing'
: >"$B_ERR"

b_mount() {
	mkdir -p "$MB"
	"$SHMFS_BIN" -f -o "backing=$B_BACKING,allow_other,shared=$DEV,shared_name=pool,shared_host=hostB" \
		"$MB" 2>>"$B_ERR" &
	B_PID=$!
	t_wait_for 10 mountpoint -q "$MB" || { echo "Bail out! daemon B did not mount"; t_diag <"$B_ERR"; exit 1; }
}

b_stop() {
	local m
	if [ -n "$B_PID" ]; then
		mountpoint -q "$MB" && { fusermount3 -u "$MB" 2>/dev/null || umount -l "$MB"; }
		t_wait_for 10 bash -c "! kill -0 $B_PID 2>/dev/null" || kill -9 "$B_PID" 2>/dev/null
		wait "$B_PID" 2>/dev/null
		B_PID=
	fi
	for m in $(awk -v b="$B_BACKING" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$B_BACKING"
}
trap 'b_stop; rm -f "$DEV"; t_cleanup' EXIT

A_OPTS="shared=$DEV,shared_name=pool,shared_host=hostA"

# ---------------------------------------------------------------- format
t_fails "an unformatted device is refused by ls" "$SHMFSCTL_BIN" shared ls /dev/null
t_check "shmfsctl shared format makes a 64 MiB shared backing mastered by hostA" \
	"$SHMFSCTL_BIN" shared format "$DEV" --size 256M --master hostA
t_fails "formatting it again needs --force" "$SHMFSCTL_BIN" shared format "$DEV"
t_fails "a bad master name is refused" "$SHMFSCTL_BIN" shared format "$DEV" --force --master 'a b'
t_like "the refused format left the superblock as it was" "master hostA" \
	"$("$SHMFSCTL_BIN" shared ls "$DEV" 2>&1)"

t_mount "$A_OPTS" || exit 1
b_mount
A=$T_MNT/shared/pool
B=$MB/shared/pool

# ---------------------------------------------------------------- the tree
t_like "the root lists shared/" "(^| )shared( |$)" "$(ls "$T_MNT" | xargs)"
t_is "shared/ holds the backing's directory" "pool" "$(ls "$T_MNT/shared")"
t_is "A is the master" "master" "$(fs_x "$A" user.shmfs.shared.role)"
t_is "B is a replica" "replica" "$(fs_x "$B" user.shmfs.shared.role)"
t_is "both name hostA as master" "hostA hostA" \
	"$(fs_x "$A" user.shmfs.shared.master) $(fs_x "$B" user.shmfs.shared.master)"

t_errno "A creates a region" OK open "$A/r1" cx 0640
t_check "A sizes it to 3 MiB" truncate -s $((3 * MIB)) "$A/r1"
t_is "A's size" $((3 * MIB)) "$(fs_st %s "$A/r1")"
t_is "its extent is two 2 MiB pages" $((4 * MIB)) "$(fs_x "$A/r1" user.shmfs.shared.extent)"
out=$(printf 'write hello-from-A\nleave\n' | "$TJOIN" hold "$A/r1" w)
t_like "a process under A joins it and writes" "^OK [0-9]+ OK LEFT$" "$(echo $out)"

t_is "B lists it" "r1" "$(ls "$B")"
t_is "B shows the same size, mode and owner" "$(fs_st '%s %a %u %g' "$A/r1")" "$(fs_st '%s %a %u %g' "$B/r1")"
for x in offset extent master device; do
	t_is "B shows the same user.shmfs.shared.$x" "$(fs_x "$A/r1" user.shmfs.shared.$x)" \
		"$(fs_x "$B/r1" user.shmfs.shared.$x)"
done
t_is "the offset is 2 MiB-aligned, past the superblock and log" 0 \
	$(( $(fs_x "$B/r1" user.shmfs.shared.offset) % (2 * MIB) ))
out=$(printf 'check hello-from-A\nleave\n' | "$TJOIN" hold "$B/r1" r)
t_like "a process under B joins it and reads A's bytes" "^OK [0-9]+ SAME LEFT$" "$(echo $out)"
t_is "cat through B reads them too" "hello-from-A" "$(head -c 12 "$B/r1")"
t_errno "B writes bytes inside the region" OK pwrite "$B/r1" 100 from-B
t_is "A reads B's bytes" "OK from-B" "$("$TSYS" pread "$A/r1" 100 6)"
t_is "cp out of B is byte-identical to A" "$(cmp "$A/r1" "$B/r1" && echo same)" same

# ---------------------------------------------------------------- joins from the log
# A join finds the region in the device's own log (the daemon only names the
# device, at a process's first join of the backing): both hosts' mounts give
# the same bytes, a region the master removed is gone for the next join even
# when its extent is reused, and the log's mode and owner are checked as the
# kernel checks an open.
HOLD_IN=$T_DIR/hold.in HOLD_OUT=$T_DIR/hold.out HOLD_PID=
# hold_start PATH: a process that holds a join of PATH and obeys hold_cmd
hold_start() {
	rm -f "$HOLD_IN"; mkfifo "$HOLD_IN"; : >"$HOLD_OUT"
	"$TJOIN" hold "$1" r <"$HOLD_IN" >"$HOLD_OUT" &
	HOLD_PID=$!
	exec 7>"$HOLD_IN"
	t_wait_for 10 grep -q '^OK' "$HOLD_OUT"
}
# hold_cmd SECONDS LINE: its answer (nothing when none came in time)
hold_cmd() {
	local n
	n=$(wc -l <"$HOLD_OUT")
	echo "$2" >&7
	t_wait_for "$1" bash -c '[ "$(wc -l <"$1")" -gt "$2" ]' - "$HOLD_OUT" "$n" && tail -n 1 "$HOLD_OUT"
}
hold_stop() { exec 7>&-; wait "$HOLD_PID" 2>/dev/null; HOLD_PID=; }

t_errno "A creates j1" OK open "$A/j1" cx 0644
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/j1"
t_errno "A writes into it" OK pwrite "$A/j1" 0 bytes-of-j1
out=$(printf 'join %s r\njoin %s r\njoin shared/pool/j1 w\n' "$A/j1" "$B/j1" |
	SHMFS_PATH=$MB "$TJOIN" hold "$B/r1" r)
t_like "one process joins j1 through A, through B and by its path under B: the same bytes" \
	"^OK [0-9]+ OK bytes-of-j1 OK bytes-of-j1 OK bytes-of-j1$" "$(echo $out)"

hold_start "$B/r1"
kill -STOP "$B_PID"
out=$(hold_cmd 3 "join $B/j1 r")
kill -CONT "$B_PID"
t_is "with daemon B stopped, a process that joined through B before joins j1 from the log alone" \
	"OK bytes-of-j1" "$out"
t_errno "A creates j2" OK open "$A/j2" cx 0644
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/j2"
t_errno "A writes into it" OK pwrite "$A/j2" 0 old-bytes-of-j2
t_is "the process joins j2 through B" "OK old-bytes-of-j2" "$(hold_cmd 10 "join $B/j2 r")"
off2=$(fs_x "$A/j2" user.shmfs.shared.offset)
t_check "A removes j2" rm "$A/j2"
t_is "the process's next join of j2 through B: ENOENT" ENOENT "$(hold_cmd 10 "join $B/j2 r")"
t_errno "A creates j3" OK open "$A/j3" cx 0644
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/j3"
t_is "j3 took j2's extent" "$off2" "$(fs_x "$A/j3" user.shmfs.shared.offset)"
t_errno "A writes into it" OK pwrite "$A/j3" 0 bytes-of-j3
t_is "j2 stays gone for the process" ENOENT "$(hold_cmd 10 "join $B/j2 r")"
t_is "j3 joins with its own bytes" "OK bytes-of-j3" "$(hold_cmd 10 "join $B/j3 w")"
hold_stop
t_check "A removes j1 and j3" rm "$A/j1" "$A/j3"

# the second user may open the device itself: only the log's mode stands
# between them and a region
chmod 0666 "$DEV"
t_errno "A creates p1 of mode 0600 (root's)" OK open "$A/p1" cx 0600
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/p1"
t_errno "A creates p2 of mode 0644 (root's)" OK open "$A/p2" cx 0644
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/p2"
t_errno "A writes into it" OK pwrite "$A/p2" 0 bytes-of-p2
out=$(printf 'join %s r\njoin %s w\njoin %s r\njoin %s w\n' "$B/p1" "$B/p1" "$B/p2" "$B/p2" |
	t_as_user "$TJOIN" hold "$B/p2" r)
t_is "a second user joins p2 (0644) to read, and is refused p1 (0600) read and write, p2 write" \
	"OK EACCES EACCES OK bytes-of-p2 EACCES" "$(echo $out | sed 's/^OK [0-9]*/OK/')"
t_is "so is a process of theirs that starts with p1" EACCES "$(t_as_user "$TJOIN" join "$B/p1" r)"
chmod 0600 "$DEV"
t_check "A removes p1 and p2" rm "$A/p1" "$A/p2"

t_errno "B's create gets EROFS" EROFS open "$B/new" cx 0644
t_errno "B's truncate gets EROFS" EROFS truncate "$B/r1" $((5 * MIB))
t_errno "B's write past the end gets EROFS" EROFS pwrite "$B/r1" $((3 * MIB)) x
t_errno "B's unlink gets EROFS" EROFS unlink "$B/r1"
t_errno "B's rename gets EROFS" EROFS rename "$B/r1" "$B/r2"
t_errno "B's chmod gets EROFS" EROFS chmod "$B/r1" 0600
t_check "touch of an existing region works on B (times are the log's)" touch "$B/r1"
t_is "B's refusals changed nothing" "r1 $((3 * MIB))" "$(ls "$A") $(fs_st %s "$A/r1")"

t_errno "a bad name is EINVAL" EINVAL open "$A/.bad" cx 0644
t_errno "a long name is ENAMETOOLONG" ENAMETOOLONG open "$A/$(printf 'a%.0s' $(seq 40))" cx 0644
t_errno "a second r1 is EEXIST" EEXIST open "$A/r1" cx 0644
t_errno "mkdir is refused" EPERM mkdir "$A/d"
t_errno "a move out of the branch is EXDEV" EXDEV rename "$A/r1" "$T_MNT/normal/node$FS_N0/r1"

# growth moves the bytes when the extent cannot grow where it is
t_errno "A creates r2 behind r1" OK open "$A/r2" cx 0644
t_check "and sizes it" truncate -s $((2 * MIB)) "$A/r2"
off1=$(fs_x "$A/r1" user.shmfs.shared.offset)
t_check "A grows r1 to 9 MiB" truncate -s $((9 * MIB)) "$A/r1"
t_is "r1 moved to a free extent (r2 was in the way)" moved \
	"$([ "$(fs_x "$A/r1" user.shmfs.shared.offset)" != "$off1" ] && echo moved)"
t_is "its bytes came along" "hello-from-A" "$(head -c 12 "$B/r1")"
t_is "the grown part reads as zeroes on B" 0 \
	"$(tail -c $((6 * MIB)) "$B/r1" | tr -d '\0' | wc -c)"
t_check "A renames r2" mv "$A/r2" "$A/r3"
t_is "B sees the rename at once (no cache of the branch)" "r1 r3" "$(ls "$B" | xargs)"
t_check "A removes r3" rm "$A/r3"
t_is "B sees it gone" "r1" "$(ls "$B" | xargs)"
t_like "df of the branch: 2 MiB blocks" "^2097152 " "$(stat -f -c '%S %b %f' "$B")"
t_errno "A's chmod is a record too" OK chmod "$A/r1" 0604
t_is "B shows the new mode" 604 "$(fs_st %a "$B/r1")"

# user attributes: records of the master's log, every host replays them
t_errno "A sets a user attribute on r1" OK setxattr "$A/r1" user.color blue
t_is "B reads it" blue "$(fs_x "$B/r1" user.color)"
t_like "B lists it beside the branch's own" "user.color" "$("$TSYS" listxattr "$B/r1")"
t_errno "B's setxattr gets EROFS" EROFS setxattr "$B/r1" user.color red
t_errno "B's removexattr gets EROFS" EROFS removexattr "$B/r1" user.color
t_errno "user.shmfs.* stay the daemon's" EPERM setxattr "$A/r1" user.shmfs.shared.offset 0
long=$(head -c 1024 /dev/zero | tr '\0' 'v')
t_errno "A sets a 1024-byte value (12 records)" OK setxattr "$A/r1" user.long "$long"
t_is "B reads the whole value" "$long" "$(fs_x "$B/r1" user.long)"
t_errno "a 1025-byte value is E2BIG" E2BIG setxattr "$A/r1" user.long "${long}v"
t_is "and changed nothing" 1024 "$(fs_x "$B/r1" user.long | tr -d '\n' | wc -c)"
t_errno "A replaces it" OK setxattr "$A/r1" user.long short
t_is "B sees the new value" short "$(fs_x "$B/r1" user.long)"
t_errno "A removes it" OK removexattr "$A/r1" user.long
t_errno "B sees it gone" ENODATA getxattr "$B/r1" user.long
t_is "shmfsctl --json shared ls: the region, its extent, the log's records" "r1 $((10 * MIB)) 0" \
	"$("$SHMFSCTL_BIN" --json shared ls "$DEV" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(x) for x in [d["regions"][0]["name"], d["regions"][0]["extent"], d["stop_errno"]]))')"
t_like "shmfsctl shared ls lists the log's tree" "r1 +$((9 * MIB)) " \
	"$("$SHMFSCTL_BIN" shared ls "$DEV")"

# ---------------------------------------------------------------- shmfsctl info, ls, clean
out=$("$SHMFSCTL_BIN" --mount "$MB" info)
t_like "shmfsctl info on B lists the shared region with its offset, extent and master" \
	"path: +shared/pool/r1 .*device: +$DEV offset: +$(fs_x "$A/r1" user.shmfs.shared.offset) extent: +10.0M master: +hostA this host: +hostB \\(replica\\)" \
	"$(echo "$out" | sed -n '/^r1$/,/^$/p' | xargs)"
t_like "and on A, the master, says so" "master: +hostA \\(this host\\)" \
	"$("$SHMFSCTL_BIN" --mount "$T_MNT" info | sed -n '/^r1$/,/^$/p' | xargs)"
t_is "shmfsctl --json info: path, type, offset, extent, master, role" \
	"shared/pool/r1 shared $(fs_x "$A/r1" user.shmfs.shared.offset) $((10 * MIB)) hostA replica False" \
	"$("$SHMFSCTL_BIN" --mount "$MB" --json info | python3 -c 'import json,sys
d=json.load(sys.stdin)
r=[x for x in d["regions"] if x["path"]=="shared/pool/r1"][0]
s=r["shared"]
print(r["path"], r["type"], s["offset"], s["extent"], s["master"], s["role"], r["orphaned"])')"
t_like "shmfsctl ls lists it as type shared" "^r1 +shared " "$("$SHMFSCTL_BIN" --mount "$MB" ls | grep '^r1 ')"
t_check "shmfsctl clean on A succeeds (nothing orphaned)" "$SHMFSCTL_BIN" --mount "$T_MNT" clean
t_is "and leaves the shared region alone" "r1" "$(ls "$B" | xargs)"
t_fails "shmfsctl clean of the shared region by name is refused" "$SHMFSCTL_BIN" --mount "$T_MNT" clean shared/pool/r1
t_fails "so is clean -f: the region is the master's, in the log" \
	"$SHMFSCTL_BIN" --mount "$T_MNT" clean -f shared/pool/r1
t_like "and says why" "only its master hostA removes it" \
	"$("$SHMFSCTL_BIN" --mount "$MB" clean -f shared/pool/r1 2>&1)"
t_is "the region is still in the tree on A and B" "r1 r1" "$(ls "$A" | xargs) $(ls "$B" | xargs)"

# ---------------------------------------------------------------- heap
t_errno "A creates a region for a heap" OK open "$A/heap" cx 0666
t_check "A sizes it to 8 MiB" truncate -s $((8 * MIB)) "$A/heap"
t_is "a heap is formatted through a join under A" OK "$("$HEAPTOOL" format "$A/heap")"
# The processes under B stand for processes of another host: SHMFS_HOST_ID
# gives them hostB's identity in the heap's owner slots (the machine's
# otherwise).
"$HEAPTOOL" alloc "$A/heap" 10 100 >"$T_DIR/allocA" & pa=$!; wait $pa
t_is "a process under A allocates 10 blocks" OK "$(cat "$T_DIR/allocA")"
SHMFS_HOST_ID=hostB "$HEAPTOOL" alloc "$B/heap" 10 100 >"$T_DIR/allocB" & pb=$!; wait $pb
t_is "a process of hostB, under B, allocates 10 more in the same heap" OK "$(cat "$T_DIR/allocB")"
t_like "A and B see the 20 allocations" "^[0-9]+ [0-9]+ [0-9]+ 20 / [0-9]+ [0-9]+ [0-9]+ 20$" \
	"$("$HEAPTOOL" stats "$A/heap") / $("$HEAPTOOL" stats "$B/heap")"
t_is "the stats agree" "$("$HEAPTOOL" stats "$A/heap")" "$("$HEAPTOOL" stats "$B/heap")"
heap_attrs() {
	local a
	for a in size used free alloc_count; do fs_x "$1" user.shmfs.heap.$a; done | xargs
}
t_is "B's heap attributes tell the same as the library (as a local heap's do)" \
	"$("$HEAPTOOL" stats "$A/heap")" "$(heap_attrs "$B/heap")"
t_is "and A's" "$("$HEAPTOOL" stats "$A/heap")" "$(heap_attrs "$A/heap")"
t_like "B lists them on the heap" "user.shmfs.heap.alloc_count" "$("$TSYS" listxattr "$B/heap")"
t_is "and not on a region without a heap" 0 "$("$TSYS" listxattr "$B/r1" | grep -c user.shmfs.heap)"
t_errno "where they are absent" ENODATA getxattr "$B/r1" user.shmfs.heap.size
t_like "heap usage without a name finds the shared heap" "shared/pool/heap" \
	"$("$SHMFSCTL_BIN" --mount "$MB" heap usage)"
t_check "shmfsctl heap check passes under B" "$SHMFSCTL_BIN" --mount "$MB" heap check shared/pool/heap
t_check "and under A" "$SHMFSCTL_BIN" --mount "$T_MNT" heap check "$A/heap"
t_like "it names the region by its tree path" "^shared/pool/heap: heap consistent" \
	"$("$SHMFSCTL_BIN" --mount "$MB" heap check shared/pool/heap)"
out=$("$SHMFSCTL_BIN" --mount "$T_MNT" heap usage shared/pool/heap)
t_like "heap usage names host and pid of each owner: A's process on this host" \
	"owner +[0-9]+ +pid $pa on $(hostname | cut -c1-15) \\(host [0-9a-f]{7}, this host\\)" "$out"
t_like "and B's on hostB, another host" "owner +[0-9]+ +pid $pb on hostB \\(host [0-9a-f]{7}, another host\\)" "$out"
t_is "--json heap usage: the owners' pids, hosts, and which is this host's" "$pa $(hostname | cut -c1-15) True $pb hostB False" \
	"$("$SHMFSCTL_BIN" --mount "$T_MNT" --json heap usage shared/pool/heap | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join("%d %s %s" % (o["pid"], o["host"], o["this_host"]) for o in sorted(d["regions"][0]["owner_list"], key=lambda o: o["pid"] != '"$pa"')))')"
t_like "heap reclaim on this host frees what its dead process held, and leaves hostB's process alone" \
	"reclaimed 10 allocations .* of 1 dead process.*left 1 owner of other hosts alone" \
	"$("$SHMFSCTL_BIN" --mount "$MB" heap reclaim shared/pool/heap | xargs)"
t_like "hostB's 10 allocations are still there" "^[0-9]+ [0-9]+ [0-9]+ 10$" "$("$HEAPTOOL" stats "$A/heap")"
t_like "heap reclaim as hostB frees them" "reclaimed 10 allocations .* of 1 dead process" \
	"$(SHMFS_HOST_ID=hostB "$SHMFSCTL_BIN" --mount "$MB" heap reclaim shared/pool/heap)"
t_like "the heap is empty" "^[0-9]+ 0 [0-9]+ 0$" "$("$HEAPTOOL" stats "$B/heap")"
t_check "and consistent" "$SHMFSCTL_BIN" --mount "$MB" heap check shared/pool/heap
t_like "shmfsctl query of a shared region under B: its tree path and type" \
	"path: +shared/pool/heap .*type: +shared \\(2.0M pages\\)" \
	"$("$SHMFSCTL_BIN" --mount "$MB" query shared/pool/heap | xargs)"
t_like "shmfsctl --json query gives its size and type" "\"size\": $((8 * MIB)),.*\"type\": \"shared\"|\"type\": \"shared\",.*\"size\": $((8 * MIB))" \
	"$("$SHMFSCTL_BIN" --mount "$MB" --json query shared/pool/heap | xargs -0 | tr -d '\n')"
t_fails "shmfsctl unlink through B is refused" "$SHMFSCTL_BIN" --mount "$MB" unlink shared/pool/heap
t_check "shmfsctl unlink through A removes it" "$SHMFSCTL_BIN" --mount "$T_MNT" unlink shared/pool/heap
t_is "gone on B too" "" "$(ls "$B" | grep -x heap)"

# ---------------------------------------------------------------- crash
# A killed at random points while creating and sizing regions: the log ends
# at a whole record or a torn one; B and a restarted A replay the same tree.
for round in 1 2 3; do
	(
		for i in $(seq 1 200); do
			: >"$A/k${round}_$i" || exit 0
			truncate -s $(( i % 8 == 0 ? MIB + i : 0 )) "$A/k${round}_$i" || exit 0
			# a 300-byte value: four records, committed whole or not at all
			setfattr -n user.v -v "$(printf "%0300d" "$i")" "$A/k${round}_$i" || exit 0
		done
	) 2>"$T_DIR/loop$round.err" &
	loop=$!
	sleep "0.$((RANDOM % 6 + 2))"
	t_kill_daemon
	wait "$loop" 2>/dev/null
	t_is "round $round: the loop stopped only because A was gone" "" \
		"$(grep -Ev 'Transport endpoint is not connected|Software caused connection abort|No such file or directory' "$T_DIR/loop$round.err")"
	t_mount "$A_OPTS" || exit 1
	la=$(cd "$A" && stat -c '%n %s %a' -- * | sort)
	lb=$(cd "$B" && stat -c '%n %s %a' -- * | sort)
	t_is "round $round: B and the restarted A agree on the tree" "$la" "$lb"
	n=$(echo "$la" | grep -c "^k${round}_")
	t_like "round $round: A got somewhere before it was killed ($n regions)" "^[1-9][0-9]*$" "$n"
	gaps=$(for i in $(seq 1 "$n"); do [ -e "$A/k${round}_$i" ] || echo "k${round}_$i"; done)
	t_is "round $round: the regions made are the first $n, no gap" "" "$gaps"
	xa=$(for f in "$A"/k*; do echo "$(basename "$f") $(fs_x "$f" user.v)"; done)
	t_is "round $round: user attributes agree" "$xa" \
		"$(for f in "$B"/k*; do echo "$(basename "$f") $(fs_x "$f" user.v)"; done)"
	t_is "round $round: each value is whole (or absent on the region being made)" "" \
		"$(echo "$xa" | awk '$2 != "" && $2 != sprintf("%0300d", substr($1, index($1, "_") + 1))' | head -3)"
	t_is "round $round: offsets agree" \
		"$(for f in "$A"/k*; do fs_x "$f" user.shmfs.shared.offset; done | xargs)" \
		"$(for f in "$B"/k*; do fs_x "$f" user.shmfs.shared.offset; done | xargs)"
	t_errno "round $round: the restarted A appends after the log's tail" OK open "$A/after$round" cx 0644
	t_is "round $round: B sees it" "after$round" "$(ls "$B" | grep "^after$round$")"
done
t_is "the tree still holds A's bytes" "hello-from-A" "$(head -c 12 "$B/r1")"
t_is "user attributes survive A's kills: B and the restarted A read them" "blue blue" \
	"$(fs_x "$A/r1" user.color) $(fs_x "$B/r1" user.color)"
before=$(cd "$B" && stat -c '%n %s %a %i' -- * | sort)
kill -9 "$B_PID"; wait "$B_PID" 2>/dev/null; B_PID=
umount -l "$MB" 2>/dev/null
b_mount
t_is "B killed with SIGKILL and restarted shows the same tree, inode numbers too" "$before" \
	"$(cd "$B" && stat -c '%n %s %a %i' -- * | sort)"

# ---------------------------------------------------------------- damage
# memory another host can write is untrusted: a scribbled record ends the
# replay there, and the daemons keep serving what came before it
b_stop
python3 - "$DEV" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(2 * 1024 * 1024 + 128 * 1 + 40)   # the second record's offset field
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0xff]))
EOF
b_mount
t_is "B replays only the record before the damage" "r1" "$(ls "$B" | xargs)"
t_like "and says why" "record 2,? .*does not replay" "$(cat "$B_ERR")"
t_check "B serves it" head -c 1 "$B/r1"
t_is "a join through B stops at the last good record too: r1 is empty there" EINVAL \
	"$("$TJOIN" join "$B/r1" r)"
t_is "a region A made after the damaged record is not joined through B" ENOENT \
	"$("$TJOIN" join "$B/after1" r)"
t_is "through A, the master, r1 joins as A wrote it" OK "$("$TJOIN" join "$A/r1" r)"
t_check "A grows r1 (B's replay stays before the damage)" truncate -s $((4 * MIB)) "$A/r1"
truncate -s $((3 * MIB)) "$DEV"
t_errno "the shared file cut short behind the daemons' backs: a read past its end is EFAULT" \
	EFAULT pread "$A/r1" 0 1
t_check "and the daemons live on" stat "$A/r1" "$B/r1"

cat "$B_ERR" >>"$T_DAEMON_ERR"
b_stop
t_done
