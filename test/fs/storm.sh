#!/bin/bash
# storm.sh - the daemon under kills (issue 10): three clients create, size,
# write, append, rename, unlink and tag regions and resize the pool, while the
# daemon is SIGKILLed at random points and restarted, for about a minute
# (STORM_SECONDS; STORM_KILLS ends it after that many kills). After every
# restart stormc checks the tree against each client's journal of completed
# operations: names (nothing lost, nothing back after its unlink or rename),
# bytes, sizes, modes and tags, the pages every backing file holds (no partial
# region), the backing store holding nothing else, and the pool's used pages
# being exactly the regions'. Reads through the mount during the storm must
# give the journaled bytes.
# bench/fs/storm.sh runs the same storm for 1,000 kills.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

N=$FS_N0
SECONDS_MAX=${STORM_SECONDS:-60}
KILLS_MAX=${STORM_KILLS:-}
STORMC=$SHMFS_BUILD_ROOT/test/fs/stormc
fs_no_overcommit
# three clients, three huge names each, at most four pages a name, and the
# pool walk of .nr_pages (+1/-1)
t_check "48 free huge pages can be reserved for the storm" t_pool_grow huge "$N" 48
mkdir -p "$T_MNT"
"$STORMC" storm --mnt "$T_MNT" --backing "$T_BACKING" --bin "$SHMFS_BIN" --err "$T_DAEMON_ERR" \
	--journal "$T_DIR" --node "$N" --seconds "$SECONDS_MAX" ${KILLS_MAX:+--kills "$KILLS_MAX"} ${STORM_SEED:+--seed "$STORM_SEED"} \
	2>"$T_DIR/storm.err" | tee "$T_DIR/storm.out" | grep --line-buffered '^#'
rc=${PIPESTATUS[0]}
summary=$(grep '^storm:' "$T_DIR/storm.out")
echo "# $summary"
if [ -z "$summary" ]; then
	t_not_ok "the storm ran to its end (exit status $rc)"
	t_diag <"$T_DIR/storm.err"
	t_done
fi
fig() { echo "$summary" | sed -n "s/.* \\([0-9]*\\) $1.*/\\1/p"; }
fig2() { echo "$summary" | sed -n "s/.*$1 \\([0-9]*\\).*/\\1/p"; }
[ -s "$T_DIR/storm.err" ] && head -n 40 "$T_DIR/storm.err" | t_diag
t_check "the daemon was killed at least 10 times" test "$(fig2 kills)" -ge 10
t_is "the daemon never crashed (every death was our SIGKILL)" 0 "$(fig2 crashes)"
t_is "no region whose creation or rename completed was lost" 0 "$(fig2 lost)"
t_is "no region came back after its unlink or rename completed" 0 "$(fig2 resurrected)"
t_is "every region has the bytes, size, mode and tag its journal says" 0 "$(fig2 corrupt)"
t_is "every backing file holds exactly its pages, and nothing else is there" 0 "$(fig2 partial)"
t_is "the pool's used pages were exactly the regions' after every restart and at the end" 0 \
	"$(fig2 'pool mismatches')"
t_is "reads through the mount during the storm gave the journaled bytes" 0 "$(fig2 'bad reads')"
t_is "the storm's checker finished without error" 0 "$rc"
t_done
