# ctl_cli.sh - shmfsctl's command line as admins expect it: "did you mean"
# on a mistyped command, alloc +N / -N relative to the pool (refused, and the
# pool untouched, when it would go below zero), sizes with units, nodes as N
# or nodeN, and --json on every command (init, fini, reset and unlink too)
# with a schema_version in every document.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

t_is "a mistyped command is a usage error" 2 "$(ctl qurey >/dev/null 2>"$T_DIR/e"; echo $?)"
t_like "it says what was probably meant" "unknown command 'qurey'; did you mean 'query'\?" "$(cat "$T_DIR/e")"
t_like "a transposition is found too" "did you mean 'explain'" "$(ctl explian 2>&1)"
t_like "a unique prefix is suggested" "did you mean 'explain'" "$(ctl expl 2>&1)"
t_is "nothing is suggested for a word close to nothing" "shmfsctl: unknown command 'xyzzy'" \
	"$(ctl xyzzy 2>&1 | head -n 1)"
t_like "a mistyped option of a command gets its suggestion too" "unknown option '--dryrun'; did you mean '--dry-run'\?" \
	"$(ctl clean --dryrun 2>&1)"
t_is "nothing runs when the second command is mistyped" "" "$(ctl numa-cnt qurey 2>/dev/null)"

t_mount
ctl_no_overcommit
t_pool_grow huge "$N0" 3 || echo "# could not make 3 huge pages free"
T0=$(t_hp_total huge "$N0")
t_check "alloc +2 adds two pages" ctl alloc +2 huge "$N0"
t_is "the pool grew by two" $((T0 + 2)) "$(t_hp_total huge "$N0")"
t_check "alloc -1 takes one away (node as nodeN)" ctl alloc -1 huge "node$N0"
t_is "the pool shrank by one" $((T0 + 1)) "$(t_hp_total huge "$N0")"
t_check "a size with a binary unit counts pages: -2MiB" ctl alloc "-$((HUGE_SZ / 1048576))MiB" huge "$N0"
t_is "the pool shrank by one page" "$T0" "$(t_hp_total huge "$N0")"
t_is "taking more than the pool holds is a usage error" 2 "$(ctl alloc -$((T0 + 1)) huge "$N0" >/dev/null 2>"$T_DIR/e"; echo $?)"
t_like "it says how many the pool holds" "it holds $T0" "$(cat "$T_DIR/e")"
t_is "and the pool is untouched" "$T0" "$(t_hp_total huge "$N0")"
t_is "a doubled sign is a usage error" 2 "$(ctl alloc +-1 huge "$N0" >/dev/null 2>&1; echo $?)"
t_is "a lone sign is a usage error" 2 "$(ctl alloc + huge "$N0" >/dev/null 2>&1; echo $?)"
ctl --json alloc +0 huge "$N0" >"$T_DIR/a.json"
t_is "alloc --json reports the pool" "$T0" "$(ctl_json "$T_DIR/a.json" 'd["total"]')"
t_is "cpu-idx takes nodeN as well as N" "$(ctl cpu-idx "$N0")" "$(ctl cpu-idx "node$N0")"

# --json everywhere, each document with its schema version
D=$T_MNT/normal/node$N0
ctl create j 1 normal "node$N0" 0644 >/dev/null
ctl --json unlink j >"$T_DIR/u.json"
t_is "unlink --json says what it removed" "normal/node$N0/j False" \
	"$(ctl_json "$T_DIR/u.json" 'd["removed"], d["still_mapped"]' | tr -d "(),'")"
touch "$D/r1" "$D/r2"
ctl --json reset >"$T_DIR/r.json"
t_is "reset --json counts what it removed" 2 "$(ctl_json "$T_DIR/r.json" 'd["removed"]')"
ctl create j 1 normal "node$N0" 0644 >/dev/null
for cmd in "numa-cnt" "cpu-cnt" "cpu-idx $N0" "numa-idx 0" "query" "query j" "info" "ls" "explain" \
	   "clean --dry-run" "free huge $N0" "alloc +0 huge $N0" "heap usage"; do
	# shellcheck disable=SC2086
	ctl --json $cmd >"$T_DIR/s.json" 2>/dev/null
	t_is "$cmd --json carries schema_version 1" 1 "$(ctl_json "$T_DIR/s.json" 'd["schema_version"]' 2>&1)"
done
ctl --json numa-cnt ls >"$T_DIR/c.json"
t_is "each document of a --json chain carries it" "1 1" "$(ctl_json "$T_DIR/c.json" '" ".join(str(x["schema_version"]) for x in d)')"
t_is "every command accepts --json" "" \
	"$("$SHMFSCTL_BIN" --help | awk '/^  [a-z][a-z-]* / { print $1 }' | while read -r c; do
		"$SHMFSCTL_BIN" "$c" --help | grep -q -- '--json' || echo "$c"; done)"
t_umount

# init and fini (the default backing root, removed here whatever happens)
DEF_BACKING=
cli_cleanup() {
	if [ -n "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)" ]; then
		"$SHMFSCTL_BIN" --mount "$T_MNT" -q fini -f >/dev/null 2>&1 || umount -l "$T_MNT" 2>/dev/null
	fi
	if [ -n "$DEF_BACKING" ] && [ -d "$DEF_BACKING" ]; then
		local t
		for t in .normal .huge .gigantic; do
			find "$DEF_BACKING/$t" -mindepth 1 -delete 2>/dev/null
			umount -l "$DEF_BACKING/$t" 2>/dev/null
		done
		rm -rf "$DEF_BACKING"
	fi
	t_cleanup
}
trap cli_cleanup EXIT
ctl --json init 0755 >"$T_DIR/i.json"
DEF_BACKING=$(ctl_x "$T_MNT" user.shmfs.backing)
t_is "init --json reports the mount" "init 1 $T_MNT" \
	"$(ctl_json "$T_DIR/i.json" 'd["command"], d["schema_version"], d["mount"]' | tr -d "(),'")"
ctl --json fini >"$T_DIR/f.json"
t_is "fini --json reports the mount and the backing root removed" "fini 1 $T_MNT $DEF_BACKING" \
	"$(ctl_json "$T_DIR/f.json" 'd["command"], d["schema_version"], d["mount"], d["backing"]' | tr -d "(),'")"
t_is "and it is gone" "" "$(awk -v m="$T_MNT" '$2 == m' /proc/mounts)"

t_done
