# ctl_info.sh - orphans and what shmfsctl info / clean / query make of them:
# orphaned means the creator (pid + start time) is gone AND nobody maps the
# region, decided from the kernel; a live process of another user is alive, a
# zombie is dead. clean removes exactly the orphans and fails loudly when it
# cannot; --json says the same as the human output; a second user sees and
# removes only what is theirs to.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

t_mount
D=$T_MNT/normal/node$N0
PG=$(getconf PAGESIZE)
orph() { ctl_x "$D/$1" user.shmfs.orphaned; }

# A: creator killed, nobody maps it -> orphaned
ctl_hold PA "$D/a"; truncate -s "$PG" "$D/a"
# C: creator killed, still mapped by another process -> not orphaned
ctl_hold PC "$D/c"; truncate -s "$PG" "$D/c"
ctl_map MC "$D/c"
# B: creator alive -> not orphaned
ctl_hold PB "$D/b"
# F: creator alive, another user -> not orphaned
ctl_hold PF "$D/f" as-user
# Z: creator is a zombie -> orphaned
ctl_zombie PZ "$D/z"
# K: made by shmfsctl create (no creator process) -> never orphaned
ctl create k 1 normal "node$N0" 0644 >/dev/null

t_is "a region's creator pid is the creating process" "$PB" "$(ctl_x "$D/b" user.shmfs.creator_pid)"
t_is "a region of a live creator is not orphaned" false "$(orph b)"
t_is "a mapped region is listed with its mapper" "$MC" "$(ctl_x "$D/c" user.shmfs.mapper_pids)"
ctl_kill "$PA"
ctl_kill "$PC"
t_is "creator SIGKILLed and nobody maps it: orphaned" true "$(orph a)"
t_is "creator SIGKILLed but mapped by another process: not orphaned" false "$(orph c)"
t_is "a live process of another user is never taken for dead" false "$(orph f)"
t_is "the second user's region is owned by them" "$T_UID" "$(stat -c %u "$D/f")"
t_is "the zombie creator really is a zombie" Z "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$PZ/stat")"
t_is "a zombie creator counts as dead" true "$(orph z)"
t_is "a region made by shmfsctl create is never orphaned" false "$(orph k)"

# info, human and JSON
ctl info >"$T_DIR/info.out"
ctl --json info >"$T_DIR/info.json"
t_check "info --json is valid JSON" "$PY" -m json.tool "$T_DIR/info.json"
t_is "info lists the regions (human)" "a b c f k z" "$(grep -E '^[a-z]$' "$T_DIR/info.out" | sort | xargs)"
t_is "info --json lists the same regions" "a b c f k z" \
	"$(ctl_json "$T_DIR/info.json" '" ".join(sorted(r["name"] for r in d["regions"]))')"
t_is "info shows orphaned: true for exactly the orphans" "a z" \
	"$(awk '/^[a-z]$/ { n = $1 } /orphaned: +true/ { print n }' "$T_DIR/info.out" | sort | xargs)"
t_is "info --json marks the same orphans" "a z" \
	"$(ctl_json "$T_DIR/info.json" '" ".join(sorted(r["name"] for r in d["regions"] if r["orphaned"]))')"
t_like "info shows the mapper of c" "mappers: +1 \(pids $MC\)" "$(sed -n '/^c$/,/^$/p' "$T_DIR/info.out")"
t_is "info --json gives the mapper pids as numbers" "[$MC]" \
	"$(ctl_json "$T_DIR/info.json" '[r["mapper_pids"] for r in d["regions"] if r["name"] == "c"][0]')"
t_like "info shows the creator of b as running" "creator: +$PB \(running\)" "$(sed -n '/^b$/,/^$/p' "$T_DIR/info.out")"
t_like "info shows the creator of a as gone" "creator: +$PA \(gone\)" "$(sed -n '/^a$/,/^$/p' "$T_DIR/info.out")"
t_like "info shows owner, group and mode" "user: +[^ ]+" "$(sed -n '/^f$/,/^$/p' "$T_DIR/info.out" | grep 'user:')"
t_is "info --json gives the same file size as stat" "$PG" \
	"$(ctl_json "$T_DIR/info.json" '[r["size"] for r in d["regions"] if r["name"] == "a"][0]')"
t_like "info shows the filesystem sizes first" "^  normal +size: " "$(sed -n 2,4p "$T_DIR/info.out" | grep normal)"

# query: JSON and human agree on the pools
ctl query >"$T_DIR/query.out"
ctl --json query >"$T_DIR/query.json"
t_is "query --json pool totals match the human table" \
	"$(awk '$1 == "huge" && $2 == '"$N0"' { print $4, $5 }' "$T_DIR/query.out")" \
	"$(ctl_json "$T_DIR/query.json" '" ".join(str(p[k]) for p in d["pools"] if p["type"] == "huge" and p["node"] == '"$N0"' for k in ("total", "free"))')"
t_is "query --json lists the same regions as the human table" \
	"$(awk '$1 == "normal" { print $3 }' "$T_DIR/query.out" | sort | xargs)" \
	"$(ctl_json "$T_DIR/query.json" '" ".join(sorted(r["name"] for r in d["regions"]))')"

# clean
ctl clean --dry-run >"$T_DIR/dry.out"
t_is "clean --dry-run names exactly the orphans" "a z" "$(awk '{ print $3 }' "$T_DIR/dry.out" | sed 's,.*/,,' | sort | xargs)"
t_is "clean --dry-run removes nothing" "a b c f k z" "$(ls "$D" | xargs)"
t_is "clean -f without names is refused" 2 "$(ctl clean -f >/dev/null 2>&1; echo $?)"
t_is "a second user's clean cannot remove root's orphans and fails" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" clean >"$T_DIR/uclean.out" 2>&1; echo $?)"
t_like "it says why" "cannot remove.*(Operation not permitted|Permission denied)" "$(cat "$T_DIR/uclean.out")"
t_is "so the orphans are still there" "a b c f k z" "$(ls "$D" | xargs)"
t_is "a second user's clean of a named foreign region fails" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" clean -f a >/dev/null 2>&1; echo $?)"
ctl --json clean >"$T_DIR/clean.json"
t_is "clean removes exactly the orphans" "b c f k" "$(ls "$D" | xargs)"
t_is "clean --json reports what it removed" "normal/node$N0/a normal/node$N0/z" \
	"$(ctl_json "$T_DIR/clean.json" '" ".join(sorted(r["path"] for r in d["regions"] if r["action"] == "removed"))')"
t_is "clean NAME of a region that is not orphaned fails" 1 "$(ctl clean b >"$T_DIR/cb.out" 2>&1; echo $?)"
t_like "it says why it kept it" "not orphaned \(its creator $PB is running\)" "$(cat "$T_DIR/cb.out")"
t_is "the region is kept" "b c f k" "$(ls "$D" | xargs)"
t_is "clean NAME of a missing region fails" 1 "$(ctl clean nosuch >/dev/null 2>&1; echo $?)"
t_check "clean -f NAME removes it anyway" ctl clean -f b
t_is "only that one" "c f k" "$(ls "$D" | xargs)"
ctl_kill "$MC"
t_is "once nobody maps it, the killed creator's region is orphaned" true "$(orph c)"
t_check "clean NAME removes an orphan by name" ctl clean c
t_is "the live user's and shmfsctl's regions remain" "f k" "$(ls "$D" | xargs)"

# a second user: sees only what they may read, removes only their own
touch "$D/secret" && chmod 0600 "$D/secret"
t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" info >"$T_DIR/uinfo.out" 2>&1
t_is "the second user's info leaves out regions they cannot read" "f k" "$(grep -E '^[a-z]+$' "$T_DIR/uinfo.out" | sort | xargs)"
t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" info -a >"$T_DIR/uinfoa.out" 2>&1
t_like "with -a it lists them without their details" "not readable by you" "$(sed -n '/^secret$/,/^$/p' "$T_DIR/uinfoa.out")"
t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" --json info -a >"$T_DIR/uinfoa.json" 2>&1
t_is "info -a --json marks them unreadable and hides their creator" "False None" \
	"$(ctl_json "$T_DIR/uinfoa.json" '[(r["readable"], r.get("creator_pid")) for r in d["regions"] if r["name"] == "secret"][0][0], None')"
ctl_kill "$PF"
t_is "the second user's region is orphaned once its creator is gone" true "$(orph f)"
t_check "the second user may clean their own orphan" t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" clean f
t_is "it is gone, the rest stays" "k secret" "$(ls "$D" | xargs)"

# a foreign file in the backing store shows with info -a (the daemon logs it once)
T_ALLOWED_STDERR="^shmfs: '$T_BACKING/\.normal/not a region' in the backing store: "
printf x >"$T_BACKING/.normal/not a region"
ctl info -a >"$T_DIR/infoa.out"
t_like "info -a shows foreign files of the backing store" "type: +other" "$(sed -n '/not a region$/,/^$/p' "$T_DIR/infoa.out")"
ctl --json info -a >"$T_DIR/infoa.json"
t_is "info -a --json lists them under foreign" "$T_BACKING/.normal/not a region" \
	"$(ctl_json "$T_DIR/infoa.json" 'd["foreign"][0]["path"]')"
rm -f "$T_BACKING/.normal/not a region"

# info shows regions as it reads them: its memory is per name (about 100
# bytes), not per region read (13 KB), so 3,000 regions fit in 24 MiB of
# address space (all of them held at once took 40 MiB and more)
# (a sanitizer's shadow memory takes terabytes of address space: there the
# bound is not measurable, the listing is still checked)
for i in $(seq 3000); do : >"$D/many$i" || break; done
t_is "3,000 regions made" 3000 "$(find "$D" -maxdepth 1 -name 'many*' | wc -l)"
if ldd "$SHMFSCTL_BIN" 2>/dev/null | grep -q 'libasan\|libtsan'; then
	t_skip "info within 24 MiB of address space" "a sanitizer's shadow memory takes terabytes of address space"
	bounded() { "$@"; }
	within=""
else
	bounded() { (ulimit -v 24576; "$@"); }
	within=" within 24 MiB"
fi
bounded ctl info >"$T_DIR/many.out" 2>&1
t_is "info lists 3,000 regions$within" 3000 "$(grep -cE '^many[0-9]+$' "$T_DIR/many.out")"
bounded ctl --json info >"$T_DIR/many.json" 2>&1
t_is "so does info --json$within" 3000 "$(ctl_json "$T_DIR/many.json" 'len([r for r in d["regions"] if r["name"].startswith("many")])')"
t_is "in order of name" "many1 many10 many100" "$(grep -E '^many[0-9]+$' "$T_DIR/many.out" | head -3 | xargs)"
find "$D" -maxdepth 1 -name 'many*' -delete

ctl_kill "$PB"; ctl_kill "$ZOMBIE_PARENT"
ctl reset >/dev/null
t_done
