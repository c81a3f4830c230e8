#!/bin/bash
# xattr.sh - extended attributes (SPEC 5, names and formats of
# lib/core/xattr_names.h): getfattr -d shows every documented attribute with
# the right value; mapper count and pids come from the kernel and follow
# processes that map and exit; user.* attributes are stored and persisted;
# the size-0 probe, ERANGE, ENODATA and ENOTSUP are exact; directories carry
# their pool's numbers.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
HP=$FS_HUGE_SZ
fs_setup 4
r=$H/x
b=$(fs_backing huge x)

# The creator stays alive (same pid after exec) until we end it.
t0=$(date +%s.%N)
t_bg bash -c 'exec 3>"$1" && exec sleep 1000' sh "$r"
creator=$!
t_wait_for 10 test -e "$b"
t1=$(date +%s.%N)
truncate -s $((2 * HP)) "$r"

names='backing backing_id created creator_pid creator_start lifetime mapper_count mapper_pids numa_nodes orphaned page_count page_size page_type policy'
t_is "getfattr -d lists every documented region attribute" \
	"$(for n in $names; do echo "user.shmfs.$n"; done | xargs)" \
	"$(getfattr -d --absolute-names "$r" | sed -n 's/^\(user\.[^=]*\).*/\1/p' | sort | xargs)"
t_is "listxattr lists the same names" \
	"$(for n in $names; do echo "user.shmfs.$n"; done | xargs)" \
	"$("$TSYS" listxattr "$r" | sed 's/^OK//' | tr ' ' '\n' | sort | xargs)"
t_errno "heap attributes are absent without a heap" ENODATA getxattr "$r" user.shmfs.heap.size

t_is "page_type" "huge" "$(fs_x "$r" user.shmfs.page_type)"
t_is "page_size" "$HP" "$(fs_x "$r" user.shmfs.page_size)"
t_is "page_count" "2" "$(fs_x "$r" user.shmfs.page_count)"
t_is "numa_nodes (asked of the kernel)" "$N" "$(fs_x "$r" user.shmfs.numa_nodes)"
t_is "policy" "bind:$N" "$(fs_x "$r" user.shmfs.policy)"
t_is "creator_pid is the process that created it" "$creator" "$(fs_x "$r" user.shmfs.creator_pid)"
t_is "creator_start is that process's start time" \
	"$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$creator/stat")" \
	"$(fs_x "$r" user.shmfs.creator_start)"
created=$(fs_x "$r" user.shmfs.created)
t_like "created is SECONDS.NANOSECONDS" '^[0-9]+\.[0-9]{9}$' "$created"
t_check "created lies between the moments before and after the create" \
	awk -v a="$t0" -v c="$created" -v z="$t1" 'BEGIN { exit !(a - 1 <= c && c <= z + 1) }'
t_is "backing" "$b" "$(fs_x "$r" user.shmfs.backing)"
t_is "backing_id is DEV:INO of the backing file" "$(stat -c '%d:%i' "$b")" \
	"$(fs_x "$r" user.shmfs.backing_id)"
t_is "mapper_count with no mapper" "0" "$(fs_x "$r" user.shmfs.mapper_count)"
t_errno "mapper_pids with no mapper is empty" "OK" getxattr "$r" user.shmfs.mapper_pids
t_is "... and empty" "" "$(fs_x "$r" user.shmfs.mapper_pids)"
t_is "a region is persistent unless its creator asks otherwise" "persistent" "$(fs_x "$r" user.shmfs.lifetime)"
t_errno "its live creator's region can be given process lifetime" OK setxattr "$r" user.shmfs.lifetime process
t_is "orphaned is false while the creator lives" "false" "$(fs_x "$r" user.shmfs.orphaned)"

# Mappers, from the kernel.
fs_map m1 "$b" r
t_is "mapper_count sees a process mapping the backing file" "1" "$(fs_x "$r" user.shmfs.mapper_count)"
t_is "mapper_pids names it" "$m1" "$(fs_x "$r" user.shmfs.mapper_pids)"
fs_map m2 "$b" w
t_is "mapper_count sees two" "2" "$(fs_x "$r" user.shmfs.mapper_count)"
t_is "mapper_pids lists both, ascending" "$(printf '%s\n' "$m1" "$m2" | sort -n | paste -sd,)" \
	"$(fs_x "$r" user.shmfs.mapper_pids)"
fs_unmap "$creator"
t_is "orphaned is false while someone maps it" "false" "$(fs_x "$r" user.shmfs.orphaned)"
fs_unmap "$m1"
t_is "mapper_count drops when a mapper exits" "1" "$(fs_x "$r" user.shmfs.mapper_count)"
t_is "mapper_pids drops it" "$m2" "$(fs_x "$r" user.shmfs.mapper_pids)"
fs_unmap "$m2"
t_is "mapper_count is 0 after the last mapper exits" "0" "$(fs_x "$r" user.shmfs.mapper_count)"
t_is "mapper_pids is empty again" "" "$(fs_x "$r" user.shmfs.mapper_pids)"
t_is "orphaned once the creator is gone and nobody maps it" "true" "$(fs_x "$r" user.shmfs.orphaned)"

# A zombie creator is gone too (its pid is not reused yet, but it runs no more).
# The child waits until its parent has become sleep (which never reaps it;
# a parent still a shell could), makes the region, opts in to process
# lifetime (exec keeps its pid) and exits.
cat >"$T_DIR/mkproc.sh" <<'EOS'
while [ "$(cat /proc/$PPID/comm)" != sleep ]; do sleep 0.05; done
exec 3>"$1" && exec "$TSYS" setxattr "$1" user.shmfs.lifetime process
EOS
t_bg bash -c 'sh "$3" "$1" >/dev/null & echo $! >"$2"; exec sleep 1000' sh "$H/zomb" "$T_DIR/zomb.pid" "$T_DIR/mkproc.sh"
zparent=$!
zombie_ready() { [ -s "$T_DIR/zomb.pid" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$(cat "$T_DIR/zomb.pid")/stat")" = Z ]; }
t_check "a creator that exited unreaped is a zombie" t_wait_for 20 zombie_ready
t_is "creator_pid names the zombie" "$(cat "$T_DIR/zomb.pid")" "$(fs_x "$H/zomb" user.shmfs.creator_pid)"
t_is "orphaned is true when the creator is a zombie" "true" "$(fs_x "$H/zomb" user.shmfs.orphaned)"
fs_unmap "$zparent"

# Disowning: creator_pid 0 means no creator process, never orphaned.
t_errno "root can disown a region by writing creator_pid 0" OK setxattr "$r" user.shmfs.creator_pid 0
t_is "creator_pid reads 0" "0" "$(fs_x "$r" user.shmfs.creator_pid)"
t_is "a disowned region is never orphaned" "false" "$(fs_x "$r" user.shmfs.orphaned)"
t_errno "creator_pid cannot be set to another pid (EOPNOTSUPP)" EOPNOTSUPP \
	setxattr "$r" user.shmfs.creator_pid 1
t_errno "creator_pid cannot be set to '00' (EOPNOTSUPP)" EOPNOTSUPP setxattr "$r" user.shmfs.creator_pid 00
t_errno "creator_pid set to its value again changes nothing" OK setxattr "$r" user.shmfs.creator_pid 0
t_is "... and stays 0" "0" "$(fs_x "$r" user.shmfs.creator_pid)"

# An empty region sits on no node yet.
touch "$H/empty"
t_is "numa_nodes of an empty region is empty" "" "$(fs_x "$H/empty" user.shmfs.numa_nodes)"
t_is "page_count of an empty region is 0" "0" "$(fs_x "$H/empty" user.shmfs.page_count)"
truncate -s 8192 "$R/n"
t_is "normal: page_type" "normal" "$(fs_x "$R/n" user.shmfs.page_type)"
t_is "normal: page_size" "$FS_NORMAL_SZ" "$(fs_x "$R/n" user.shmfs.page_size)"
t_is "normal: page_count" "$((8192 / FS_NORMAL_SZ))" "$(fs_x "$R/n" user.shmfs.page_count)"
t_is "normal: numa_nodes" "$N" "$(fs_x "$R/n" user.shmfs.numa_nodes)"
t_is "normal: backing" "$(fs_backing normal n)" "$(fs_x "$R/n" user.shmfs.backing)"

# Sizes and errors, exactly.
t_is "a size-0 probe returns the value's length" "OK ${#HP}" "$("$TSYS" getxattr "$r" user.shmfs.page_size 0)"
t_is "a buffer of exactly that length works" "OK $HP" "$("$TSYS" getxattr "$r" user.shmfs.page_size ${#HP})"
t_errno "a buffer one byte short is ERANGE" ERANGE getxattr "$r" user.shmfs.page_size $((${#HP} - 1))
len=$("$FS_PROBE" listxattr "$r" 0 | sed -n 's/^OK //p')
t_like "a listxattr size-0 probe returns the list's length" '^[1-9][0-9]*$' "$len"
t_is "a listxattr buffer of exactly that length works" "OK $len" "$("$FS_PROBE" listxattr "$r" "$len")"
t_is "a listxattr buffer one byte short is ERANGE" "ERANGE" "$("$FS_PROBE" listxattr "$r" $((len - 1)))"
t_errno "an unknown shmfs name is ENODATA" ENODATA getxattr "$r" user.shmfs.nope
t_errno "an unset user name is ENODATA" ENODATA getxattr "$r" user.never
t_errno "trusted.* is ENOTSUP" EOPNOTSUPP getxattr "$r" trusted.x
t_errno "setting trusted.* is ENOTSUP" EOPNOTSUPP setxattr "$r" trusted.x 1
t_errno "user.shmfs.* cannot be given another value (EOPNOTSUPP)" EOPNOTSUPP \
	setxattr "$r" user.shmfs.page_size 4096
t_errno "user.shmfs.* set to the value it has is accepted" OK setxattr "$r" user.shmfs.page_size "$HP"
t_errno "user.shmfs.* cannot be made up" EPERM setxattr "$r" user.shmfs.mine 1
t_errno "user.shmfs.* cannot be removed" EPERM removexattr "$r" user.shmfs.page_size
t_is "... and the value stays" "$HP" "$(fs_x "$r" user.shmfs.page_size)"

# user.* attributes: stored, listed, replaced, removed, persisted.
t_check "setfattr of a user attribute works" setfattr -n user.color -v blue "$r"
t_is "getfattr reads it back" "blue" "$(fs_x "$r" user.color)"
t_check "... and getfattr -d shows it" sh -c 'getfattr -d "$1" 2>/dev/null | grep -qx "user.color=\"blue\""' sh "$r"
t_check "a binary value is kept byte for byte" setfattr -n user.bin -v 0x00ff10 "$r"
t_is "... read back in hex" "0x00ff10" \
	"$(getfattr --absolute-names -e hex -n user.bin "$r" | sed -n 's/^user.bin=//p')"
t_check "an empty value can be set" setfattr -n user.empty -v '' "$r"
t_errno "... and read" OK getxattr "$r" user.empty
t_check "a value can be replaced" setfattr -n user.color -v green "$r"
t_is "... and reads the new value" "green" "$(fs_x "$r" user.color)"
t_check "user attributes can be set on another region" setfattr -n user.color -v red "$H/empty"
t_is "... independently" "green red" "$(fs_x "$r" user.color) $(fs_x "$H/empty" user.color)"
t_check "setfattr -x removes one" setfattr -x user.bin "$r"
t_errno "... then it is ENODATA" ENODATA getxattr "$r" user.bin
t_errno "removing an absent one is ENODATA" ENODATA removexattr "$r" user.bin

big=$(head -c 40000 /dev/zero | tr '\0' a)
t_errno "a 40000-byte user value can be set" OK setxattr "$H/empty" user.big1 "$big"
got=$(fs_x "$H/empty" user.big1)
t_is "... and read back whole" 40000 "${#got}"
t_like "user values beyond the region's limit are refused" '^(ENOSPC|E2BIG|EDQUOT)$' \
	"$("$TSYS" setxattr "$H/empty" user.big2 "$big" | head -n 1)"
t_errno "... and the refused one is not there" ENODATA getxattr "$H/empty" user.big2
t_errno "... and the first one is" OK getxattr "$H/empty" user.big1 0
i=0; many=OK
while [ $i -lt 200 ]; do
	got=$("$TSYS" setxattr "$R/n" "user.k$i" v | head -n 1)
	[ "$got" = OK ] || { many=$got; break; }
	i=$((i + 1))
done
t_like "setting many user attributes stops at a limit with an error" '^(ENOSPC|E2BIG|EDQUOT)$' "$many"
t_is "... and every attribute set before it is there" "$i" \
	"$("$TSYS" listxattr "$R/n" | tr ' ' '\n' | grep -c '^user\.k')"

t_umount
t_mount || exit 1
t_is "user attributes survive a remount" "green" "$(fs_x "$r" user.color)"
t_errno "... an empty one too" OK getxattr "$r" user.empty
t_errno "... a removed one stays removed" ENODATA getxattr "$r" user.bin
t_is "created survives a remount" "$created" "$(fs_x "$r" user.shmfs.created)"
t_is "a disowned creator_pid survives a remount" "0" "$(fs_x "$r" user.shmfs.creator_pid)"
t_is "creator_pid survives a remount" "$(cat "$T_DIR/zomb.pid")" "$(fs_x "$H/zomb" user.shmfs.creator_pid)"

# Directories carry their pool.
t_is "the root names the backing root" "$T_BACKING" "$(fs_x "$T_MNT" user.shmfs.backing)"
for d in "$T_MNT/huge" "$H"; do
	if [ "$d" = "$H" ]; then
		tot=$(t_hp_total huge "$N"); fr=$(t_hp_free huge "$N")
	else
		tot=0; fr=0
		for n in $FS_NODES; do
			tot=$((tot + $(t_hp_total huge "$n"))); fr=$((fr + $(t_hp_free huge "$n")))
		done
	fi
	t_is "${d#$T_MNT/}: page_size" "$HP" "$(fs_x "$d" user.shmfs.page_size)"
	t_is "${d#$T_MNT/}: page_type" "huge" "$(fs_x "$d" user.shmfs.page_type)"
	t_is "${d#$T_MNT/}: pool.total" "$tot" "$(fs_x "$d" user.shmfs.pool.total)"
	t_is "${d#$T_MNT/}: pool.free" "$fr" "$(fs_x "$d" user.shmfs.pool.free)"
	t_like "${d#$T_MNT/}: pool.reserved is a number" '^[0-9]+$' "$(fs_x "$d" user.shmfs.pool.reserved)"
	t_is "${d#$T_MNT/}: pool.surplus is 0 without overcommit" "0" "$(fs_x "$d" user.shmfs.pool.surplus)"
done


# A size probe leaves its value for the read that follows it from the same
# process (xattr_stash.c); a change made through the mount between the two
# is seen by the read, and each probe computes afresh.
probe_read() {   # PATH NAME [CMD...]: probe NAME, run CMD, read NAME; prints "LEN VALUE"
	python3 - "$@" <<'PY'
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
path, name = os.fsencode(sys.argv[1]), sys.argv[2].encode()
n = libc.getxattr(path, name, None, 0)
if n < 0:
    sys.exit("probe: " + os.strerror(ctypes.get_errno()))
if len(sys.argv) > 3:
    subprocess.run(sys.argv[3:], check=True)
buf = ctypes.create_string_buffer(4096)
m = libc.getxattr(path, name, buf, 4096)
if m < 0:
    sys.exit("read: " + os.strerror(ctypes.get_errno()))
print(n, buf.raw[:m].decode())
PY
}
touch "$H/stash"
setfattr -n user.stash -v a "$H/stash"
t_is "probe then read: the probe's length and the value" "1 a" "$(probe_read "$H/stash" user.stash)"
t_is "a setxattr between probe and read is seen by the read" "1 bbbb" \
	"$(probe_read "$H/stash" user.stash setfattr -n user.stash -v bbbb "$H/stash")"
t_is "a resize between probe and read is seen by the read" "1 2" \
	"$(probe_read "$H/stash" user.shmfs.page_count truncate -s $((2 * HP)) "$H/stash")"
t_is "the next probe computes afresh" "1 2" "$(probe_read "$H/stash" user.shmfs.page_count)"
rm -f "$H/stash"

t_done
