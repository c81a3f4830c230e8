#!/bin/bash
# readrace.sh - a region's file released while the daemon still replies to a
# read from its mapping (issue 10, item 1): sixteen threads open a huge region,
# read 1 MiB and close it, for READRACE_SECONDS (30). Before the fix the
# release unmapped the mapping under the thread still inside writev to
# /dev/fuse, and a new libfuse worker buffer could take its place: under
# AddressSanitizer a heap-buffer-overflow (a 1 MiB read at a fresh libfuse
# buffer), which this reproduced, within seconds, in 7 of 8 runs. The daemon must serve
# every read and stay up.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

SECS=${READRACE_SECONDS:-30}
fs_setup 2
r=$H/readrace
t_check "a huge region of two pages can be made" sh -c \
	'"$1" open "$2" cx >/dev/null && "$1" truncate "$2" $(( 2 * $3 )) >/dev/null' sh "$TSYS" "$r" "$FS_HUGE_SZ"
head -c $((2 * FS_HUGE_SZ)) /dev/urandom >"$T_DIR/bytes"
t_check "... and filled" dd if="$T_DIR/bytes" of="$r" bs=1M conv=notrunc status=none
out=$("$SHMFS_BUILD_ROOT/test/fs/stormc" reads "$r" "$SECS" 16)
echo "# $out"
t_like "every open, 1 MiB read and close succeeded for $SECS s" '^[1-9][0-9]* reads, 0 failed$' "$out"
t_check "the daemon is still up" kill -0 "$T_DAEMON_PID"
t_check "the region still reads back its bytes" cmp "$T_DIR/bytes" "$r"
t_done
