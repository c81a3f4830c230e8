#!/bin/bash
# ctl_units.sh - the systemd units as shipped (packaging/*.in, filled with
# this build's programs): systemd-analyze verify accepts them with no
# warning (no ordering cycle between the boot-time pools and the mount), and
# their commands do what the units promise when run as systemd would run
# them: shmfs-pools.service's apply-config sets the pools of a config file
# all or nothing, and leaves the file's quota rules for the mount; the
# service's ExecStartPost sets them once its daemon has mounted; its daemon,
# killed, is restarted by its ExecStopPost + ExecStart over the dead mount and
# shows the same regions.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"
t_need systemd-analyze systemd-escape
# the mount apply-config gives quota rules to when none is named: this
# test's, never a real /mnt/shmfs
export SHMFS_PATH=$T_MNT

UNITS=$T_DIR/units
ETC=$T_DIR/etc
CONF=$ETC/shmfs/pools.conf
INST=$(systemd-escape --path "$T_MNT")
DEF_BACKING=/run/shmfs/$INST
mkdir -p "$UNITS" "$ETC/shmfs"

units_cleanup() {
	if [ -n "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)" ]; then
		"$SHMFSCTL_BIN" --mount "$T_MNT" -q fini -f >/dev/null 2>&1 || umount -l "$T_MNT" 2>/dev/null
	fi
	# the default backing root (its name has a backslash: /proc/mounts
	# writes it as \134, so t_backing_teardown would not find it)
	if [ -d "$DEF_BACKING" ]; then
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
trap units_cleanup EXIT

for u in mnt-shmfs.mount shmfs@.service shmfs-pools.service; do
	# this build's programs, under their installed names
	sed -e "s|@bindir@/shmfsctl|$SHMFSCTL_BIN|g" -e "s|@sbindir@/shmfs|$SHMFS_BIN|g" \
	    -e "s|@bindir@|$(dirname "$SHMFSCTL_BIN")|g" -e "s|@sbindir@|$(dirname "$SHMFS_BIN")|g" \
	    -e "s|@sysconfdir@|$ETC|g" "$SHMFS_SOURCE_ROOT/packaging/$u.in" >"$UNITS/$u"
done

# ---------------------------------------------------------------- verify
(cd "$UNITS" && systemd-analyze verify --man=no ./mnt-shmfs.mount ./shmfs-pools.service \
	./shmfs@.service) >"$T_DIR/verify.out" 2>&1
t_is "systemd-analyze verify accepts the units" 0 "$?"
t_is "... with no warning (no ordering cycle)" "" "$(cat "$T_DIR/verify.out")"

# unit KEY UNIT: the values of KEY in UNIT, one per line, with the systemd
# specifiers this test uses filled in and a leading '-' (ignore failure) cut.
unit() {
	sed -n "s/^$1=-\{0,1\}//p" "$UNITS/$2" | sed -e "s|%f|$T_MNT|g" -e "s|%i|$INST|g"
}
t_is "the daemon service restarts a daemon that fails" "on-failure" "$(unit Restart shmfs@.service)"
t_like "the mount waits for the boot-time pools" "shmfs-pools.service" "$(unit After mnt-shmfs.mount)"
t_like "so does the daemon service" "shmfs-pools.service" "$(unit After shmfs@.service)"
t_is "the mount unit no longer suggests ExecStartPost=" "" "$(grep -i ExecStartPost "$UNITS/mnt-shmfs.mount")"

# ---------------------------------------------------------------- pools at boot
ctl_no_overcommit
N=$N0
t_pool_grow huge "$N" 0
before=$(t_hp_total huge "$N")
want=$((before + 2))
# nnp UNIT: the command prefix that gives what follows the unit's
# NoNewPrivileges= (the one sandboxing setting a test reproduces without
# systemd: the others would need systemd itself, which this machine may not run)
nnp() { [ "$(unit NoNewPrivileges "$1")" = yes ] && echo "setpriv --no-new-privs"; }
t_is "the pools unit runs with no new privileges" yes "$(unit NoNewPrivileges shmfs-pools.service)"
t_is "so does the daemon service" yes "$(unit NoNewPrivileges shmfs@.service)"
read -ra POOLS_CMD <<<"$(nnp shmfs-pools.service) $(unit ExecStart shmfs-pools.service)"
# the command without its file, to give it another
POOLS_BASE=("${POOLS_CMD[@]:0:${#POOLS_CMD[@]}-1}")

printf '# test\nhuge node%s %s   # two more\n' "$N" "$want" >"$CONF"
t_check "apply-config -n checks the file" "${POOLS_BASE[@]}" -n "$CONF"
t_is "... and changes nothing" "$before" "$(t_hp_total huge "$N")"
t_check "the pools unit's command sets the pools of the file" "${POOLS_CMD[@]}"
t_is "... to exactly what it says" "$want" "$(t_hp_total huge "$N")"
t_check "running it again (a second boot) is harmless" "${POOLS_CMD[@]}"
t_is "... the pool stays" "$want" "$(t_hp_total huge "$N")"

printf 'huge %s %s\nhuge %s 1 extra\n' "$N" "$before" "$N" >"$CONF"
t_is "a bad line is refused as bad usage" 2 "$("${POOLS_CMD[@]}" >"$T_DIR/o" 2>&1; echo $?)"
t_like "... naming the file and line" "pools.conf:2:" "$(cat "$T_DIR/o")"
t_is "... and no pool changes, not even the good line's" "$want" "$(t_hp_total huge "$N")"
printf 'huge %s 1\nhuge node%s 2\n' "$N" "$N" >"$CONF"
t_is "a pool given twice is refused" 2 "$("${POOLS_CMD[@]}" >"$T_DIR/o" 2>&1; echo $?)"
t_like "... saying where it was first" "line 1 already" "$(cat "$T_DIR/o")"
printf 'normal %s 8\n' "$N" >"$CONF"
t_is "normal pages (no pool) are refused" 2 "$("${POOLS_CMD[@]}" >/dev/null 2>&1; echo $?)"

# all or nothing: a pool the machine cannot hold (more gigantic pages than
# memory, as ctl_pools.sh asks) puts the earlier lines' pools back
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
if [ -n "$(t_hp_dir gigantic "$N" 2>/dev/null)" ] && [ -d "$(t_hp_dir gigantic "$N")" ] &&
   [ "$(t_hp_dir gigantic "$N")" != "$(t_hp_dir huge "$N")" ]; then
	printf 'huge %s %s\ngigantic %s %s\n' "$N" "$((want + 1))" "$N" "$((mem_kb / 1048576 + 1))" \
		>"$ETC/shmfs/other.conf"
	t_is "a later pool out of reach fails the whole file" 1 \
		"$("${POOLS_BASE[@]}" "$ETC/shmfs/other.conf" >"$T_DIR/o" 2>&1; echo $?)"
	t_is "... and the earlier line's pool is put back" "$want" "$(t_hp_total huge "$N")"
	t_like "... saying so" "every pool is as before" "$(cat "$T_DIR/o")"
else
	t_skip "a later pool out of reach fails the whole file" "the kernel has no gigantic page size"
fi
t_is "a normal user may check a file" 0 \
	"$(chmod 644 "$ETC/shmfs/other.conf"; t_as_user "$SHMFSCTL_BIN" apply-config -n "$ETC/shmfs/other.conf" >/dev/null 2>&1; echo $?)"
t_is "... but not apply it" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" apply-config "$ETC/shmfs/other.conf" >/dev/null 2>&1; echo $?)"
t_is "... and nothing changed" "$want" "$(t_hp_total huge "$N")"

# quota lines: checked with the pools, left for the mount when none is there
rmdir "$T_MNT" 2>/dev/null
printf 'huge %s %s\nquota user.huge=1.5\n' "$N" "$before" >"$CONF"
t_is "a bad quota line is refused as bad usage" 2 "$("${POOLS_CMD[@]}" >"$T_DIR/o" 2>&1; echo $?)"
t_like "... naming the file, line and rule" "pools.conf:2: 'user.huge=1.5'" "$(cat "$T_DIR/o")"
t_is "... and the pool line before it is not applied" "$want" "$(t_hp_total huge "$N")"
printf 'quota user.huge=4\nquota user.huge=8\n' >"$CONF"
t_is "a quota given twice is refused" 2 "$("${POOLS_CMD[@]}" >"$T_DIR/o" 2>&1; echo $?)"
t_like "... saying where it was first" "the quota of user.huge is set on line 1 already" "$(cat "$T_DIR/o")"
printf 'quota\n' >"$CONF"
t_is "a quota line without a rule is refused" 2 "$("${POOLS_CMD[@]}" >/dev/null 2>&1; echo $?)"
want=$((want + 1))
printf 'huge %s %s\nquota user.huge=3\nquota user:%s.huge=0\nquota reserve.huge=%s\n' \
	"$N" "$want" "$T_UID" "$((HUGE_SZ / 1024))k" >"$CONF"
t_is "at boot (no mount yet) the pools unit's command sets the pools" 0 \
	"$("${POOLS_CMD[@]}" >"$T_DIR/o" 2>&1; echo $?)"
t_is "... to the file's" "$want" "$(t_hp_total huge "$N")"
t_like "... and says the quota rules wait for the mount" "no shmfs is mounted at $T_MNT" "$(cat "$T_DIR/o")"

# ---------------------------------------------------------------- the daemon service
# run KEY: one command of shmfs@.service for this instance, as systemd would
svc() {
	local line words
	line=$(unit "$1" shmfs@.service)
	read -ra words <<<"$(nnp shmfs@.service) $line"
	"${words[@]}"
}
svc_start() {
	local words
	svc ExecStartPre || return 1
	read -ra words <<<"$(nnp shmfs@.service) $(unit ExecStart shmfs@.service)"
	# the daemon itself in the background: $! is its pid
	"${words[@]}" 2>>"$T_DAEMON_ERR" &
	T_DAEMON_PID=$!
	t_wait_for 10 mountpoint -q "$T_MNT"
}
rmdir "$T_MNT" 2>/dev/null
t_check "the service's ExecStartPre + ExecStart mount shmfs on the instance's path" svc_start
t_is "it is a shmfs mount" "fuse.shmfs" "$(awk -v m="$T_MNT" '$2 == m { print $3 }' /proc/mounts)"
t_is "... served by a daemon with no new privileges" 1 \
	"$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$T_DAEMON_PID/status")"
t_check "a region can be made" ctl create kept 1 huge "$N" 0644
printf 'survives\n' >"$T_MNT/huge/node$N/kept"

# rules: the rules in force (.quota's rule lines) of the kinds the file sets
rules() {
	sed -n 's/^rule //p' "$T_MNT/.quota" | grep -e '^user\.huge=' -e "^user:$T_UID\.huge=" -e '^reserve\.huge=' |
		sort | xargs
}
QUOTA_WANT=$(printf '%s\n' user.huge=3 "user:$T_UID.huge=0" reserve.huge=1 | sort | xargs)
t_fails "the file's quota rules are not in force before the service sets them" \
	grep -qx "rule user.huge=3" "$T_MNT/.quota"
t_check "the service's ExecStartPost sets the file's quota rules" svc ExecStartPost
t_is "... all of them, canonical (sizes as pages)" "$QUOTA_WANT" "$(rules)"
ctl create q 1 huge "$N" 0644 >/dev/null
t_like "... and in force: giving a region to a user limited to 0 pages is EDQUOT" "quota exceeded" \
	"$(chown "$T_UID" "$T_MNT/huge/node$N/q" 2>&1)"
rm -f "$T_MNT/huge/node$N/q"
cp "$CONF" "$T_DIR/good.conf"
printf 'quota user.huge=7\nquota user.huge=8 x\n' >"$CONF"
t_is "on a mount, a bad line is refused" 2 "$("$SHMFSCTL_BIN" apply-config "$CONF" >/dev/null 2>&1; echo $?)"
t_fails "... and no rule of the file is set" grep -qx "rule user.huge=7" "$T_MNT/.quota"
printf 'quota user.huge=7\n' >"$CONF"
t_like "a dry run on a mount says which rules it would set" "would set quota user.huge=7 on $T_MNT" \
	"$("$SHMFSCTL_BIN" apply-config -n "$CONF" 2>&1)"
t_fails "... and sets none" grep -qx "rule user.huge=7" "$T_MNT/.quota"
t_like "a normal user may not set them" "cannot set the pools" \
	"$(chmod 644 "$CONF"; t_as_user "$SHMFSCTL_BIN" apply-config "$CONF" 2>&1)"
t_check "apply-config on a mount sets the pools and the rules" "$SHMFSCTL_BIN" -q apply-config "$CONF"
t_like "... the rule is in force" "user.huge=7" "$(rules)"
cp "$T_DIR/good.conf" "$CONF"

kill -9 "$T_DAEMON_PID"
wait "$T_DAEMON_PID" 2>/dev/null
T_DAEMON_PID=
t_fails "killed, the daemon leaves a dead mount" ls "$T_MNT"
t_check "the service's ExecStopPost drops it" sh -c "$(unit ExecStopPost shmfs@.service) || true"
t_check "the restart (ExecStartPre + ExecStart) mounts again" svc_start
t_is "the region is there again, with its bytes" "survives" \
	"$(head -n 1 "$T_MNT/huge/node$N/kept" 2>&1)"
t_check "the restart's ExecStartPost sets the rules again" svc ExecStartPost
t_is "... the file's rules are in force" "$QUOTA_WANT" "$(rules)"
t_check "the service's ExecStop (systemctl stop) unmounts" svc ExecStop
wait "$T_DAEMON_PID"
t_is "... and the daemon exits 0, so the unit stops without failing" 0 "$?"
T_DAEMON_PID=
t_is "the mount is gone" "" "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)"
t_is "the region outlives the stop, in the default backing root" "survives" \
	"$(head -n 1 "$DEF_BACKING/.huge/kept" 2>&1)"

t_done
