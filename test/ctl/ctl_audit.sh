# ctl_audit.sh - the daemon's audit trail: a region created, sized,
# renamed, migrated, chmod/chowned, disowned, given a lifetime or placement,
# or removed, a pool resized, reset, clean, compact and a quota rule each
# leave one line naming the mount, the user (uid), the process (pid) and its
# name; refused input and changes that change nothing leave none; the lines
# go to $SHMFS_AUDIT_LOG here (syslog otherwise), never to stderr.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

AUDIT=$T_DIR/audit.log
export SHMFS_AUDIT_LOG=$AUDIT
t_mount mode=1777
unset SHMFS_AUDIT_LOG
ctl_no_overcommit
D=$T_MNT/normal/node$N0
MNT_ABS=$(realpath "$T_MNT")

# run CMD...: run it in the background and wait, so its pid is known ($RUN_PID)
run() {
	"$@" >/dev/null 2>&1 &
	RUN_PID=$!
	wait "$RUN_PID"
}
# last: the newest audit line
last() { tail -n 1 "$AUDIT" 2>/dev/null; }

run touch "$D/a"
t_like "creating a region is audited with mount, uid, pid and process name" \
	"audit: mount=$MNT_ABS uid=0 pid=$RUN_PID comm=touch: create normal/node$N0/a mode 0644\$" "$(last)"
t_like "the line has a UTC time stamp and the daemon's pid" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z shmfs\[[0-9]+\]: ' "$(last)"
# setpriv itself (not t_as_user) so that $! is the process that creates
run setpriv --reuid="$T_UID" --regid="$T_UID" --clear-groups --inh-caps=-all -- touch "$D/u"
t_like "a region another user creates names that user" "uid=$T_UID pid=$RUN_PID comm=touch: create normal/node$N0/u " "$(last)"
run rm "$D/a"
t_like "removing a region is audited" "uid=0 pid=$RUN_PID comm=rm: unlink normal/node$N0/a\$" "$(last)"
N=$(wc -l <"$AUDIT")
run rm "$D/no-such"
t_is "a failed removal is not audited" "$N" "$(wc -l <"$AUDIT")"

T0=$(t_hp_total huge "$N0")
run "$SHMFSCTL_BIN" --mount "$T_MNT" alloc +1 huge "$N0"
t_like "a pool resize is audited with the request and the numbers" \
	"uid=0 pid=$RUN_PID comm=shmfsctl: pool huge/node$N0 '$((T0 + 1))': now $((T0 + 1)) pages: done\$" "$(last)"
# a region holds one of the pool's pages: emptying the pool is refused
touch "$T_MNT/huge/node$N0/hold"; truncate -s "$HUGE_SZ" "$T_MNT/huge/node$N0/hold"
sh -c "echo 0 >'$T_MNT/huge/node$N0/.nr_pages'" 2>/dev/null &
RUN_PID=$!; wait "$RUN_PID"
t_like "a pool change the daemon refuses is audited with why" \
	"pid=$RUN_PID comm=sh: pool huge/node$N0 '0': now [0-9]+ pages: Device or resource busy\$" "$(last)"
rm "$T_MNT/huge/node$N0/hold"
N=$(wc -l <"$AUDIT")
sh -c "echo 1.5 >'$T_MNT/huge/node$N0/.nr_pages'" 2>/dev/null
t_is "a refused pool write is not audited" "$N" "$(wc -l <"$AUDIT")"
run "$SHMFSCTL_BIN" --mount "$T_MNT" alloc "$T0" huge "$N0"
t_like "giving pages back is audited too" "pool huge/node$N0 '$T0': now $T0 pages: done\$" "$(last)"

ctl_hold P "$D/orph"
ctl_kill "$P"
run "$SHMFSCTL_BIN" --mount "$T_MNT" clean
t_check "shmfsctl clean's removals are audited as unlinks by it" \
	grep -q "pid=$RUN_PID comm=shmfsctl: unlink normal/node$N0/orph\$" "$AUDIT"
ctl_hold P "$D/orph2"
ctl_kill "$P"
run sh -c "echo clean >'$T_MNT/.control'"
t_like "clean through .control audits each region it removes" "pid=$RUN_PID comm=sh: clean removed normal/node$N0/orph2\$" "$(last)"
touch "$D/r1" "$D/r2"
run "$SHMFSCTL_BIN" --mount "$T_MNT" reset
# u, the second user's region, is persistent: clean kept it, reset takes it
t_is "reset audits each region it removes, with who asked" \
	"reset removed normal/node$N0/r1 reset removed normal/node$N0/r2 reset removed normal/node$N0/u" \
	"$(grep "pid=$RUN_PID comm=shmfsctl: reset removed" "$AUDIT" | sed 's/.*: reset/reset/' | sort | xargs)"

# ---------------------------------------------------------------- the other changes
# count: how many lines the log has; unchanged N: no line since N was taken
count() { wc -l <"$AUDIT"; }
P=normal/node$N0
run truncate -s 8192 "$D/s"
t_like "sizing a region is audited with the size" "pid=$RUN_PID comm=truncate: setattr $P/s size 8192\$" "$(last)"
run chmod 600 "$D/s"
t_like "chmod is audited with the mode" "pid=$RUN_PID comm=chmod: setattr $P/s mode 0600\$" "$(last)"
run chown "$T_UID" "$D/s"
t_like "chown is audited with the owner" "pid=$RUN_PID comm=chown: setattr $P/s owner $T_UID\$" "$(last)"
N=$(count)
run touch "$D/s"
t_is "touching an existing region (times only) is not audited" "$N" "$(count)"
run mv "$D/s" "$D/s2"
t_like "a rename is audited with both names" "pid=$RUN_PID comm=mv: rename $P/s -> $P/s2\$" "$(last)"
N=$(count)
run mv "$D/s2" "$T_MNT/huge/node$N0/s3"
t_is "a refused rename (EXDEV: across page types, mv copies) leaves no rename line" "" \
	"$(tail -n +$((N + 1)) "$AUDIT" | grep -e ' rename ' -e ' migrate ')"
rm -f "$T_MNT/huge/node$N0/s3"
M=$(ls -d "$T_MNT"/normal/node* | sed 's|.*/node||' | grep -vx "$N0" | head -n 1)
if [ -n "$M" ]; then
	touch "$D/m"
	run mv "$D/m" "$T_MNT/normal/node$M/m"
	t_like "a move to another node is audited as a migration" \
		"pid=$RUN_PID comm=mv: migrate $P/m -> normal/node$M/m\$" "$(last)"
	rm -f "$T_MNT/normal/node$M/m"
else
	t_skip "a move to another node is audited as a migration" "this machine has one NUMA node with memory"
fi
touch "$D/d"
run setfattr -n user.shmfs.creator_pid -v 0 "$D/d"
t_like "disowning a region is audited" "pid=$RUN_PID comm=setfattr: disown $P/d\$" "$(last)"
ctl_hold H "$D/lt"
run setfattr -n user.shmfs.lifetime -v persistent "$D/lt"
t_like "a lifetime change is audited with the lifetime" "pid=$RUN_PID comm=setfattr: lifetime $P/lt persistent\$" "$(last)"
N=$(count)
run setfattr -n user.shmfs.lifetime -v persistent "$D/lt"
t_is "writing the lifetime a region has is not audited" "$N" "$(count)"
ctl_kill "$H"
touch "$D/p"
run setfattr -n user.shmfs.policy -v "split:$N0=2" "$D/p"
t_like "a placement is audited with the policy" "pid=$RUN_PID comm=setfattr: policy $P/p split:$N0=2\$" "$(last)"
N=$(count)
setfattr -n user.shmfs.policy -v "split:bad" "$D/p" 2>/dev/null
t_is "a refused placement is not audited" "$N" "$(count)"
run fallocate -l 16384 "$D/f"
t_like "fallocate sizing a region is audited" "pid=$RUN_PID comm=fallocate: fallocate $P/f size 16384\$" "$(last)"
N=$(count)
run fallocate -n -l 8192 "$D/f"
t_is "fallocate within the size changes nothing and is not audited" "$N" "$(count)"
run sh -c "echo compact >'$T_MNT/.control'"
t_like "compact through .control is audited" "pid=$RUN_PID comm=sh: compact\$" "$(last)"
run "$SHMFSCTL_BIN" --mount "$T_MNT" quota user.normal=60%
t_like "a quota rule is audited as the daemon took it" "pid=$RUN_PID comm=shmfsctl: quota user.normal=60%\$" "$(last)"
N=$(count)
sh -c "echo user.normal=101% >'$T_MNT/.quota'" 2>/dev/null
t_is "a refused quota rule is not audited" "$N" "$(count)"
rm -f "$D/d" "$D/lt" "$D/p" "$D/f"

t_is "the audit log is the daemon's own (mode 0600)" 600 "$(stat -c %a "$AUDIT")"

t_umount
t_done
