# ctl_ls.sh - shmfsctl ls: one line per region with name, type, nodes, size,
# owner, mappers, lifetime, orphaned and age; sorted by name, size, age or
# type (and reversed); human sizes by default, exact with -b; the same
# regions as JSON; a bad sort key is a usage error that prints nothing.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

t_mount
D=$T_MNT/normal/node$N0
PG=$(getconf PAGESIZE)

# made in this order (age, oldest first): delta, bravo, charlie, alpha;
# by size: bravo (4 pages), delta (3), alpha (2), charlie (1); by name a-d
ctl create delta 3 normal "node$N0" 0644 >/dev/null
ctl create bravo 4 normal "node$N0" 0644 >/dev/null
ctl_hold P "$D/charlie"; truncate -s "$PG" "$D/charlie"
ctl_kill "$P"
ctl create alpha 2 normal "node$N0" 0600 >/dev/null
chown "$T_UID" "$D/delta"
ctl_map M "$D/alpha"

ctl ls >"$T_DIR/ls.out"
t_is "ls exits 0" 0 "$(ctl ls >/dev/null 2>&1; echo $?)"
t_is "ls prints a header naming its columns" "NAME TYPE NODES SIZE OWNER MAPPERS LIFETIME ORPHANED AGE" \
	"$(head -n 1 "$T_DIR/ls.out" | xargs)"
t_is "ls prints one line per region, sorted by name" "alpha bravo charlie delta" \
	"$(tail -n +2 "$T_DIR/ls.out" | awk '{ print $1 }' | xargs)"
col() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$T_DIR/ls.out"; }
t_is "the type column names the page type" normal "$(col bravo 2)"
t_is "the nodes column is where the pages sit, as the xattr says" "$(ctl_x "$D/bravo" user.shmfs.numa_nodes)" "$(col bravo 3)"
t_is "sizes are human by default" "$(( 3 * PG / 1024 )).0K" "$(col delta 4)"
t_is "the owner column names the owner" root "$(col bravo 5)"
t_is "an owner without a passwd entry shows as the uid" "$T_UID" "$(col delta 5)"
t_is "the mappers column counts the mapping processes" 1 "$(col alpha 6)"
t_is "an unmapped region has 0 mappers" 0 "$(col bravo 6)"
LT=$(ctl_x "$D/bravo" user.shmfs.lifetime)
t_is "the lifetime column shows the daemon's lifetime, - when it has none" "${LT:--}" "$(col bravo 7)"
t_is "a region whose creator died is orphaned: yes" yes "$(col charlie 8)"
t_is "a region made by shmfsctl create is not orphaned" no "$(col bravo 8)"
t_like "the age column is a duration" '^[0-9]+[smhd]$' "$(col bravo 9)"

ctl ls -b >"$T_DIR/lsb.out"
t_is "-b gives exact sizes in bytes, as stat" "$(stat -c %s "$D/bravo")" \
	"$(awk '$1 == "bravo" { print $4 }' "$T_DIR/lsb.out")"
# (the age column may tick between the two runs: compare the others)
no_age() { sed 's/ *[^ ]*$//'; }
t_is "--bytes is -b" "$(no_age <"$T_DIR/lsb.out")" "$(ctl ls --bytes | no_age)"

names() { tail -n +2 | awk '{ print $1 }' | xargs; }
t_is "--sort size: largest first" "bravo delta alpha charlie" "$(ctl ls --sort size | names)"
t_is "--sort age: oldest first" "delta bravo charlie alpha" "$(ctl ls --sort age | names)"
t_is "-s KEY is --sort KEY" "$(ctl ls --sort age | names)" "$(ctl ls -s age | names)"
t_is "--sort=KEY is --sort KEY" "$(ctl ls --sort size | names)" "$(ctl ls --sort=size | names)"
t_is "-r reverses" "charlie alpha delta bravo" "$(ctl ls --sort size -r | names)"
t_is "--sort name: by name" "alpha bravo charlie delta" "$(ctl ls --sort age --sort name | names)"
touch "$T_MNT/huge/node$N0/zz"
t_is "--sort type: largest pages first, then by name" "zz alpha bravo charlie delta" "$(ctl ls --sort type | names)"
rm "$T_MNT/huge/node$N0/zz"

t_is "an unknown sort key is a usage error" 2 "$(ctl ls --sort colour >"$T_DIR/o" 2>"$T_DIR/e"; echo $?)"
t_is "it prints nothing on stdout" "" "$(cat "$T_DIR/o")"
t_like "it says which keys exist" "name, size, age or type" "$(cat "$T_DIR/e")"
t_is "--sort without a key is a usage error" 2 "$(ctl ls --sort >/dev/null 2>&1; echo $?)"

ctl --json ls --sort size >"$T_DIR/ls.json"
t_check "ls --json is valid JSON" "$PY" -m json.tool "$T_DIR/ls.json"
t_is "ls --json carries the schema version" "ls 1" "$(ctl_json "$T_DIR/ls.json" 'd["command"], d["schema_version"]' | tr -d "(),'")"
t_is "ls --json lists the regions in the order asked for" "bravo delta alpha charlie" \
	"$(ctl_json "$T_DIR/ls.json" '" ".join(r["name"] for r in d["regions"])')"
t_is "ls --json gives exact sizes" "$(stat -c %s "$D/bravo")" \
	"$(ctl_json "$T_DIR/ls.json" '[r["size"] for r in d["regions"] if r["name"] == "bravo"][0]')"
t_is "ls --json gives ages in whole seconds" True \
	"$(ctl_json "$T_DIR/ls.json" 'all(isinstance(r["age_seconds"], int) and r["age_seconds"] >= 0 for r in d["regions"])')"
t_is "ls --json says which regions are orphaned" "charlie" \
	"$(ctl_json "$T_DIR/ls.json" '" ".join(r["name"] for r in d["regions"] if r["orphaned"])')"
t_is "ls --json has a lifetime for every region (null when the daemon has none)" True \
	"$(ctl_json "$T_DIR/ls.json" 'all("lifetime" in r for r in d["regions"])')"

# a second user sees every region, with ? for what they may not read
t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" ls >"$T_DIR/uls.out" 2>&1
t_is "another user's ls lists every region" "alpha bravo charlie delta" \
	"$(tail -n +2 "$T_DIR/uls.out" | awk '{ print $1 }' | xargs)"
t_is "what they may not read shows ?" "? ?" "$(awk '$1 == "alpha" { print $3, $6 }' "$T_DIR/uls.out")"

ctl_kill "$M"
t_done
