#!/bin/bash
# durable.sh - unlink and rename are durable the moment they return (issue 10):
# the call returns, the daemon is SIGKILLed at once (stormc: no other system
# call in between), the daemon restarts on the same backing root, and the
# region is gone, or is at its new name with its bytes (over an existing
# region too: that one is gone). DURABLE_ROUNDS rounds (200), each one unlink
# and one rename, alternating huge and normal regions.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
ROUNDS=${DURABLE_ROUNDS:-200}
STORMC=$SHMFS_BUILD_ROOT/test/fs/stormc
fs_setup 4
free0=$(t_hp_free huge "$N")

# make TYPE NAME: a region of one page holding a pattern of its name.
make() {
	local r=$T_MNT/$1/node$N/$2 pg; pg=$(fs_page_sz "$1")
	"$TSYS" open "$r" cx 0640 >/dev/null && "$TSYS" truncate "$r" "$pg" >/dev/null &&
		fs_pattern "$2" "$pg" | dd of="$r" bs=1M iflag=fullblock conv=notrunc status=none
}

restart() {
	t_kill_daemon
	t_mount || exit 1
}

setup_fail=0 op_fail=0 back=0 lost=0 bytes=0 victims=0 stray=0
for i in $(seq 1 "$ROUNDS"); do
	if [ $((i % 2)) = 0 ]; then type=huge; else type=normal; fi
	d=$T_MNT/$type/node$N
	if ! make "$type" "u$i" || ! make "$type" "m$i" ||
	   { [ $((i % 4)) -lt 2 ] && ! make "$type" "v$i"; }; then
		setup_fail=$((setup_fail + 1)); echo "round $i: could not make the regions" | t_diag
		continue
	fi
	# rounds 1, 4, 5, 8, 9...: the rename replaces v$i
	if [ $((i % 4)) -lt 2 ]; then to=v$i; else to=n$i; fi

	out=$("$STORMC" unlink-kill "$T_DAEMON_PID" "$d/u$i")
	[ "$out" = OK ] || { op_fail=$((op_fail + 1)); echo "round $i: unlink: $out" | t_diag; }
	restart
	if [ -e "$d/u$i" ] || [ -e "$(fs_backing "$type" "u$i")" ]; then
		back=$((back + 1)); echo "round $i: $type/u$i is back after its unlink" | t_diag
	fi

	out=$("$STORMC" rename-kill "$T_DAEMON_PID" "$d/m$i" "$d/$to")
	[ "$out" = OK ] || { op_fail=$((op_fail + 1)); echo "round $i: rename: $out" | t_diag; }
	restart
	if [ -e "$d/m$i" ]; then
		back=$((back + 1)); echo "round $i: $type/m$i is back after its rename" | t_diag
	fi
	if [ ! -e "$d/$to" ]; then
		lost=$((lost + 1)); echo "round $i: $type/$to is missing after the rename" | t_diag
	elif ! fs_pattern "m$i" "$(fs_page_sz "$type")" | cmp -s - "$d/$to"; then
		bytes=$((bytes + 1)); echo "round $i: $type/$to does not hold m$i's bytes" | t_diag
	fi
	# the replaced region is gone from the backing store too (one file, m$i's inode)
	if [ "$(ls "$T_BACKING/.$type" | grep -c "^[muvn]$i\$")" != 1 ]; then
		stray=$((stray + 1)); ls "$T_BACKING/.$type" | grep "^[muvn]$i\$" | t_diag
	fi
	[ "$to" = "v$i" ] && victims=$((victims + 1))
	rm -f "$d/$to"
done
echo "# $ROUNDS rounds, $((ROUNDS * 2)) kills, $victims renames over an existing region"
t_is "every round's regions could be made" 0 "$setup_fail"
t_is "every unlink and rename returned success" 0 "$op_fail"
t_is "no region came back after an unlink or rename returned and the daemon was killed" 0 "$back"
t_is "every renamed region is at its new name after the kill" 0 "$lost"
t_is "... with its bytes" 0 "$bytes"
t_is "the backing store holds exactly one file for each renamed region" 0 "$stray"
t_is "the pool has every page back" "$free0" "$(t_hp_free huge "$N")"
t_done
